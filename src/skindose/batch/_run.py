"""The driver: scan the files, send RDSRs to the workers, stream the rows to disk.

One code path for every kind of execution: a :class:`distributed.Client`. The embedded default
is a :class:`distributed.LocalCluster` of single-threaded worker processes on this machine
(started and closed by the run, loopback only, no dashboard); ``scheduler="tcp://HOST:PORT"``
connects to an existing cluster instead; a caller (a test) may pass its own ``client``.
``docs/batch.md`` says why a Dask cluster rather than a process pool (measured in
``benchmarks/batch_bench.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from skindose.batch._scan import FileKind, expand_paths, peek_header
from skindose.batch._table import (
    Journal,
    columns_for,
    csv_to_parquet,
    iter_rows,
    read_header,
)
from skindose.batch._worker import FileTask, WorkerConfig, process_file

__all__ = ["BatchSummary", "run_batch"]

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
PATIENTS_CSV = "patients.csv"
PATIENTS_PARQUET = "patients.parquet"
KEY_FILE = "pseudonym.key"
#: statuses that a ``--resume`` computes again (the worker died twice: not the file's fault
#: for sure)
RETRY_ON_RESUME = frozenset({"failed"})
ERROR_STATUSES = frozenset({"error", "failed"})
#: least time between two redraws of the progress line (s)
PROGRESS_INTERVAL_S = 0.2

_MISSING_EXTRA = ("skindose batch needs the optional packages dask[distributed] and pyarrow: "
                  "pip install 'skindose[batch]'")


def require_extra() -> None:
    """Raise :class:`~skindose.errors.ConfigurationError` when the ``batch`` extra is missing."""
    from skindose.errors import ConfigurationError

    try:
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(f"{_MISSING_EXTRA} ({exc})") from None


@dataclasses.dataclass
class BatchSummary:
    """What a run did.

    Attributes
    ----------
    out_dir
        The output folder.
    n_files
        Files given (after expanding folders and globs).
    counts
        Rows written in this run, by status (ok, duplicate, skipped, error, failed).
    n_resumed
        Files skipped because the results already held them with the same checksum.
    n_alerts
        Rows of this run with PSD >= 3 Gy (NCRP 168 SRDL).
    n_critical
        Rows of this run whose highest note severity is critical.
    interrupted
        True when Ctrl-C (or SIGTERM) stopped the run; every finished row is on disk.
    seconds
        Wall time of the run.
    n_patients
        Rows of the per-patient table (``by_patient``), else None.
    """

    out_dir: Path
    n_files: int = 0
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    n_resumed: int = 0
    n_alerts: int = 0
    n_critical: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    n_patients: int | None = None

    @property
    def results_csv(self) -> Path:
        return self.out_dir / RESULTS_CSV

    @property
    def results_parquet(self) -> Path:
        return self.out_dir / RESULTS_PARQUET

    @property
    def n_written(self) -> int:
        return sum(self.counts.values())


# ---- progress ------------------------------------------------------------------------------------


class Progress:
    """One status line on a terminal: files done, errors, alerts, rate and ETA."""

    def __init__(self, total: int, stream: TextIO | None,
                 min_interval_s: float | None = None) -> None:
        self.total = total
        self.stream = stream
        self.done = self.errors = self.alerts = 0
        self.t0 = time.monotonic()
        self._last = 0.0
        self._min = PROGRESS_INTERVAL_S if min_interval_s is None else min_interval_s

    def update(self, row: dict[str, Any] | None) -> None:
        self.done += 1
        if row is not None:
            if row.get("status") in ERROR_STATUSES:
                self.errors += 1
            if row.get("alert_srdl") or row.get("highest_severity") == "critical":
                self.alerts += 1
        now = time.monotonic()
        if self.stream is not None and (now - self._last >= self._min or self.done == self.total):
            self._last = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        el = max(now - self.t0, 1e-9)
        rate = self.done / el
        width = 24
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(frac * width)
        left = self.total - self.done
        eta = _hms(left / rate) if rate > 0 and left else ("0s" if not left else "?")
        return (f"[{bar:<{width}}] {self.done}/{self.total} files  errors {self.errors}  "
                f"alerts {self.alerts}  {rate:.2f} files/s  ETA {eta}")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = round(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


# ---- the cluster ---------------------------------------------------------------------------------


def open_client(workers: int | None = None, scheduler: str | None = None,
                memory_limit: str | None = "4GiB") -> tuple[Any, Callable[[], None]]:
    """A Dask client and the function that closes what was opened for it.

    Parameters
    ----------
    workers
        Worker processes of the embedded cluster (default: the number of CPU cores).
    scheduler
        Address of an existing scheduler (``tcp://HOST:PORT``); ``workers`` is then ignored.
    memory_limit
        Per worker of the embedded cluster: a worker above it is restarted by its nanny and its
        file counts as a worker death (retried once).
    """
    import dask
    from distributed import Client, LocalCluster

    from skindose.errors import ConfigurationError

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigurationError(f"cannot reach the Dask scheduler at {scheduler}: {exc}"
                                     ) from None
        return client, client.close
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise ConfigurationError(f"--workers must be at least 1, not {n}")
    numba_threads = max(1, (os.cpu_count() or 1) // n)
    # allowed-failures 1: a file whose worker dies is retried once, then its row says
    # "failed". worker-saturation 1.0: a worker holds only the task it runs, so a worker's
    # death puts only that one file under suspicion (Dask counts every task assigned to the
    # dead worker).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, memory_limit=memory_limit, silence_logs=logging.ERROR,
            preload=["skindose.batch._preload"],
            env={"NUMBA_NUM_THREADS": str(numba_threads), "OMP_NUM_THREADS": "1"},
        )
        client = Client(cluster)

    def close() -> None:
        client.close()
        cluster.close()

    return client, close


# ---- the run -------------------------------------------------------------------------------------


def _pseudonym_key(out_dir: Path) -> str:
    p = out_dir / KEY_FILE
    if p.exists():
        return p.read_text(encoding="utf-8").strip()
    key = secrets.token_hex(32)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key


def _flag_conflict(row: dict[str, Any], first: str) -> None:
    """Mark a row whose SOP Instance UID was seen before with other bytes (not a duplicate:
    which version is right is unknown, so both are computed)."""
    from skindose.notes import DEFAULT_SEVERITY, NoteCode, Severity

    code = NoteCode.DUPLICATE_INSTANCE
    codes = set(filter(None, (row.get("note_codes") or "").split(";")))
    codes.add(code.value)
    row["note_codes"] = ";".join(sorted(codes))
    sev = row.get("highest_severity")
    if sev is None or Severity(sev) < DEFAULT_SEVERITY[code]:
        row["highest_severity"] = DEFAULT_SEVERITY[code].value
    msg = f"same SOP Instance UID as {first} but different bytes: computed on its own"
    row["error"] = f"{row['error']}; {msg}" if row.get("error") else msg


def _row_for(task: FileTask, **fields: Any) -> dict[str, Any]:
    row = {"path": task.path, "checksum": task.checksum,
           "sop_instance_uid": task.sop_instance_uid or None, "seconds": 0.0}
    row.update(fields)
    return row


def run_batch(
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    settings: Any = None,
    phantom: str = "adult",
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    reports: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    anonymize: bool = False,
    by_patient: bool = False,
    window_days: float = 365.0,
    memory_limit: str | None = "4GiB",
    progress: bool | TextIO | None = None,
    process: Callable[[FileTask, WorkerConfig], dict[str, Any]] = process_file,
) -> BatchSummary:
    """Compute every RDSR under ``paths`` on its own; one row per file in ``out_dir``.

    Parameters
    ----------
    paths
        Files, folders (recursive) or glob patterns.
    out_dir
        Output folder: ``results.csv`` (the journal, one flushed line per finished file),
        ``results.parquet``, ``reports/`` (with ``reports``), ``patients.csv`` /
        ``patients.parquet`` (with ``by_patient``), ``pseudonym.key`` (with ``anonymize``).
    settings
        A :class:`~skindose.settings.Settings` (default ``Settings()``).
    phantom
        "adult" (default: scaled to each patient as :func:`skindose.compute` does), "cylinder",
        "plane" or a mesh path.
    workers, scheduler, client
        Where to compute: an embedded cluster of ``workers`` processes (default: one per core),
        the Dask scheduler at ``scheduler``, or an existing ``distributed.Client``.
    reports
        Also write a report folder per computed file (``reports/<stem>-<checksum>``).
    resume
        Keep the rows of an earlier run in ``out_dir`` whose file has the same checksum now;
        compute only the others.
    overwrite
        Replace earlier results in ``out_dir`` (otherwise refused, so that nothing is lost).
    anonymize
        Patients as pseudonyms (HMAC-SHA-256 under a random key kept in
        ``out_dir/pseudonym.key``, so a resumed run uses the same pseudonyms); reports carry
        the pseudonym as Patient ID.
    by_patient
        Also write the per-patient table (cumulative PSD over ``window_days``).
    memory_limit
        Per worker of the embedded cluster (Dask's notation, e.g. "4GiB"; None: no limit).
    progress
        True / a text stream: a status line; None: only when stderr is a terminal.
    process
        The per-file function (tests replace it to kill workers); must be picklable.

    Returns
    -------
    BatchSummary
    """
    require_extra()
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    from skindose.errors import ConfigurationError
    from skindose.settings import Settings

    t_start = time.monotonic()
    s = settings if settings is not None else Settings()
    out = Path(out_dir)
    files = expand_paths(paths)
    out.mkdir(parents=True, exist_ok=True)
    columns = columns_for(s.thresholds_gy)
    names = [c for c, _ in columns]
    csv_path = out / RESULTS_CSV

    # ---- earlier results
    done: dict[str, str] = {}  # path -> checksum of a kept row
    # (SOP Instance UID, checksum) -> (path, checksum, kind) of the file computed for it
    uid_owner: dict[tuple[str, str], tuple[str, str, str | None]] = {}
    uid_first: dict[str, str] = {}  # SOP Instance UID -> first path seen with it
    keep: Iterable[dict[str, Any]] = ()
    if csv_path.exists():
        if resume:
            header = read_header(csv_path)
            if header != names:
                raise ConfigurationError(
                    f"{csv_path}: its columns differ from this run's (other thresholds_gy?); "
                    "resume with the same settings or use another --out")
            # two streaming passes (the old table is never held in memory): index, then keep
            for r in iter_rows(csv_path, columns):
                if r.get("status") in RETRY_ON_RESUME:
                    continue
                done[r["path"]] = r["checksum"] or ""
                uid = r.get("sop_instance_uid")
                if uid and r.get("status") != "duplicate" and r.get("checksum"):
                    uid_owner.setdefault((uid, r["checksum"]),
                                         (r["path"], r["checksum"], r.get("kind")))
                    uid_first.setdefault(uid, r["path"])
            keep = (r for r in iter_rows(csv_path, columns)
                    if r.get("status") not in RETRY_ON_RESUME)
        elif not overwrite:
            raise ConfigurationError(
                f"{csv_path} exists: give --resume to continue it or --overwrite to replace it")
    elif resume:
        pass  # nothing to resume: a fresh run
    stale: set[str] = set()

    cfg = WorkerConfig(
        settings=s.to_dict(), phantom=phantom,
        reports_dir=str(out / "reports") if reports else None,
        pseudonym_key=_pseudonym_key(out) if anonymize else None,
    )
    if reports:
        (out / "reports").mkdir(exist_ok=True)

    summary = BatchSummary(out_dir=out, n_files=len(files))
    stream: TextIO | None
    if progress is None:
        stream = sys.stderr if sys.stderr.isatty() else None
    elif progress is True:
        stream = sys.stderr
    elif progress is False:
        stream = None
    else:
        stream = progress  # type: ignore[assignment]
    bar = Progress(len(files), stream)

    journal = Journal(csv_path, columns, keep)
    del keep
    pending_dups: dict[tuple[str, str], list[FileTask]] = {}
    conflicts: dict[str, str] = {}  # path -> first path with its SOP Instance UID, other bytes

    def emit(row: dict[str, Any]) -> None:
        journal.write(row)
        st = row.get("status") or "?"
        summary.counts[st] = summary.counts.get(st, 0) + 1
        if row.get("alert_srdl"):
            summary.n_alerts += 1
        if row.get("highest_severity") == "critical":
            summary.n_critical += 1
        bar.update(row)

    def dup_row(task: FileTask, owner: tuple[str, str, str | None]) -> dict[str, Any]:
        opath, _chk, okind = owner
        return _row_for(task, kind=okind or FileKind.RDSR.value, status="duplicate",
                        duplicate_of=opath)

    def finished(task: FileTask, row: dict[str, Any]) -> None:
        first = conflicts.pop(task.path, None)
        if first is not None:  # same instance UID, other bytes: computed, and said so
            _flag_conflict(row, first)
        emit(row)
        if not task.sop_instance_uid:
            return
        key = (task.sop_instance_uid, task.checksum)
        owner = (task.path, task.checksum, row.get("kind"))
        uid_owner[key] = owner
        for d in pending_dups.pop(key, ()):  # byte-identical copies share its result
            emit(dup_row(d, owner))

    own_client = client is None
    close: Callable[[], None] = lambda: None  # noqa: E731
    futures: dict[Any, FileTask] = {}
    try:
        if own_client:
            client, close = open_client(workers, scheduler, memory_limit)
        n_threads = sum(client.nthreads().values()) or 1
        window = 2 * n_threads + 4
        ac = as_completed()

        def submit(task: FileTask) -> None:
            fut = client.submit(process, task, cfg, pure=False,
                                key=f"skindose-batch-{secrets.token_hex(8)}")
            futures[fut] = task
            ac.add(fut)

        def collect(fut: Any) -> None:
            task = futures.pop(fut)
            try:
                row = fut.result()
            except KilledWorker:
                row = _row_for(task, kind=FileKind.RDSR.value, status="failed",
                               error="the worker computing this file died twice (killed, out "
                               "of memory or crashed); --resume tries it again")
            except FutureCancelledError:
                return
            except Exception as exc:
                row = _row_for(task, kind=FileKind.RDSR.value, status="error",
                               error=f"internal error ({type(exc).__name__}: {exc})")
            finished(task, row)

        for path in files:
            spath = str(path)
            hdr = peek_header(path)
            task = FileTask(spath, hdr.checksum, hdr.sop_instance_uid)
            if spath in done:
                if done[spath] == hdr.checksum:
                    summary.n_resumed += 1
                    bar.update(None)
                    continue
                stale.add(spath)  # the file changed since: computed again
            if hdr.kind is not None:
                emit(_row_for(task, kind=hdr.kind.value, status="skipped", error=hdr.error))
                continue
            uid = hdr.sop_instance_uid
            key = (uid, hdr.checksum)
            if uid and key in uid_owner:
                emit(dup_row(task, uid_owner[key]))
                continue
            if uid and key in pending_dups:
                pending_dups[key].append(task)
                continue
            if uid:
                pending_dups[key] = []
                first = uid_first.setdefault(uid, spath)
                if first != spath:
                    conflicts[spath] = first
            submit(task)
            while len(futures) >= window:
                collect(next(ac))
        for fut in ac:
            collect(fut)
        if by_patient:
            from skindose.batch._patients import patients_table

            summary.n_patients = patients_table(csv_path, columns, out, settings=s,
                                                phantom=phantom, window_days=window_days,
                                                client=client)
    except KeyboardInterrupt:
        summary.interrupted = True
        if futures and client is not None:
            try:
                client.cancel(list(futures))
            except Exception:  # the cluster may be gone already
                pass
    finally:
        bar.close()
        journal.close()
        try:
            close()
        except Exception:  # closing a cluster that is going away anyway
            pass
    if stale:
        _drop_stale(csv_path, columns, stale)
    csv_to_parquet(csv_path, out / RESULTS_PARQUET, columns)
    summary.seconds = time.monotonic() - t_start
    return summary


def _drop_stale(csv_path: Path, columns: Sequence[tuple[str, str]], stale: set[str]) -> None:
    """Drop the first (older) row of each path in ``stale`` (its file changed and was computed
    again in this run)."""
    rows = iter_rows(csv_path, columns)
    seen: set[str] = set()

    def kept() -> Iterable[dict[str, Any]]:
        for r in rows:
            p = r["path"]
            if p in stale and p not in seen:
                seen.add(p)
                continue
            yield r

    tmp = csv_path.with_name(csv_path.name + ".compact")
    j = Journal(tmp, columns, kept())
    j.close()
    os.replace(tmp, csv_path)
