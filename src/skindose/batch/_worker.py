"""What a worker does with one file: classify, read, compute, one row.

:func:`process_file` never raises for a bad file: the row says what happened. A named phantom
(``--phantom cylinder|plane|FILE``) is built once per worker process and cell size (an LRU
cache); the default adult is left to :func:`skindose.compute`, which picks its variant (arms,
sex) and size per patient and notes how, so that each row equals compute's result exactly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import io
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from skindose.batch._scan import FileKind, classify_dataset
from skindose.batch._table import area_column

__all__ = ["FileTask", "WorkerConfig", "cache_info", "process_file", "pseudonym"]

SRDL_GY = 3.0  # NCRP Report 168 substantial radiation dose level for peak skin dose
PHANTOM_CACHE_SIZE = 8


@dataclasses.dataclass(frozen=True, slots=True)
class FileTask:
    """One file to compute (sent to a worker)."""

    path: str
    checksum: str = ""
    sop_instance_uid: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything a worker needs besides the file (small, sent with every task)."""

    settings: Mapping[str, Any]
    phantom: str = "adult"
    reports_dir: str | None = None
    pseudonym_key: str | None = None


# ---- per-process phantom cache ----------------------------------------------------------------

_LOCK = threading.RLock()
_PHANTOMS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_STATS = {"builds": 0, "hits": 0}


def cache_info() -> dict[str, int]:
    """Phantom builds and cache hits in this process (for tests and benchmarks)."""
    with _LOCK:
        return {"builds": _STATS["builds"], "hits": _STATS["hits"], "size": len(_PHANTOMS)}


def _phantom_for(proc: Any, name: str, settings: Any) -> Any:
    """The phantom ``compute`` would build for ``proc`` (cached); None when compute's own
    fallback (patient size unusable) must run, so that its warning is kept."""
    from skindose import phantoms
    from skindose.errors import GeometryError

    area = float(settings.cell_area_cm2)
    if name == "adult":
        h, m = proc.patient.height_m, proc.patient.mass_kg
        key: tuple[Any, ...] = ("adult", h, m, area)
    else:
        key = (name, area)
    with _LOCK:  # held while building too: two threads never build the same phantom
        ph = _PHANTOMS.get(key)
        if ph is not None:
            _PHANTOMS.move_to_end(key)
            _STATS["hits"] += 1
            return ph
        try:
            if name == "adult":
                ph = phantoms.adult(height_m=key[1], mass_kg=key[2], cell_area_cm2=area)
            else:
                ph = phantoms.by_name(name, cell_area_cm2=area)
        except GeometryError:
            if name == "adult":
                return None
            raise
        _STATS["builds"] += 1
        _PHANTOMS[key] = ph
        while len(_PHANTOMS) > PHANTOM_CACHE_SIZE:
            _PHANTOMS.popitem(last=False)
    return ph


# ---- pseudonyms -------------------------------------------------------------------------------


def pseudonym(key: str, identity: str) -> str:
    """A stable pseudonym of ``identity`` under ``key`` (HMAC-SHA-256, 12 hex digits), or ""
    for an empty identity."""
    if not identity:
        return ""
    digest = hmac.new(key.encode(), identity.encode("utf-8"), hashlib.sha256).hexdigest()
    return "P-" + digest[:12]


def patient_identity(proc: Any) -> str:
    """Who the patient is, for the table and the per-patient grouping: the Patient ID, or,
    where it is missing, ``skindose.accumulate.patient_key`` (name + birth date)."""
    if proc.patient.patient_id:
        return str(proc.patient.patient_id)
    try:
        from skindose.accumulate import patient_key
    except ImportError:  # the accumulation module (issue 11) is not merged yet
        return ""
    return str(patient_key(proc) or "")


# ---- one file ----------------------------------------------------------------------------------


def _empty_row(task: FileTask) -> dict[str, Any]:
    return {"path": task.path, "checksum": task.checksum,
            "sop_instance_uid": task.sop_instance_uid}


def process_file(task: FileTask, cfg: WorkerConfig) -> dict[str, Any]:
    """Classify and compute one file; one row of the results table (never raises for a bad
    file).

    Parameters
    ----------
    task
        The file, with the checksum and SOP Instance UID the driver read.
    cfg
        Settings (as a dict), phantom name, report folder and pseudonym key.
    """
    import warnings

    from skindose.errors import SkinDoseWarning

    t0 = time.perf_counter()
    row = _empty_row(task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkinDoseWarning)
        try:
            _fill(row, task, cfg)
        except Exception as exc:  # a bug or an unforeseen file: the row says so
            row.update(status="error",
                       error=f"internal error ({type(exc).__name__}: {exc})")
            row.setdefault("kind", FileKind.RDSR.value)
    row["seconds"] = time.perf_counter() - t0
    return row


def _fill(row: dict[str, Any], task: FileTask, cfg: WorkerConfig) -> None:
    from skindose import compute
    from skindose.errors import SkinDoseError
    from skindose.rdsr import read_rdsr
    from skindose.settings import Settings

    path = Path(task.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        row.update(kind=FileKind.UNREADABLE.value, status="skipped",
                   error=f"cannot read the file ({exc.strerror})")
        return
    checksum = hashlib.sha256(data).hexdigest()
    row["checksum"] = checksum  # what was computed, even if the file changed since the scan
    fh = io.BytesIO(data)
    fh.name = str(path)  # the reader names the file in its messages
    try:
        with _quiet_pydicom():
            proc = read_rdsr(fh)
    except SkinDoseError as exc:
        # the reader said no: find out what the file is (only now: the parse costs time)
        kind, why = classify_bytes(data)
        row["kind"] = kind.value
        if kind is FileKind.RDSR:
            row.update(status="error", error=str(exc))
        else:
            row.update(status="skipped", error=why)
        return
    row["kind"] = FileKind.RDSR.value
    row["sop_instance_uid"] = (getattr(proc, "sop_instance_uid", "") or task.sop_instance_uid
                               or None)
    settings = Settings.from_dict(dict(cfg.settings))
    ident = patient_identity(proc)
    if cfg.pseudonym_key is not None:
        pid = pseudonym(cfg.pseudonym_key, ident)
        proc = dataclasses.replace(proc, patient=dataclasses.replace(proc.patient,
                                                                      patient_id=pid))
        row["patient"] = pid
    else:
        row["patient"] = ident
    row["study_date"] = proc.study.date.date().isoformat() if proc.study.date else None
    dev = proc.device
    row["device"] = " ".join(x for x in (dev.manufacturer, dev.model) if x) or None
    row["events"] = proc.n_events
    try:
        # the default adult is chosen by compute itself (variant from the target region and
        # sex, scaled to the patient) so that every row equals compute's, notes included; a
        # named phantom is built once per worker (cache)
        phantom = None if cfg.phantom == "adult" else _phantom_for(proc, cfg.phantom, settings)
        result = compute(proc, phantom, settings=settings)
    except SkinDoseError as exc:
        row.update(status="error", error=str(exc))
        return
    _fill_result(row, result, settings, [proc])
    if cfg.reports_dir:
        folder = Path(cfg.reports_dir) / report_folder_name(path, checksum)
        result.save(folder)
        row["report"] = str(folder)
    row["status"] = "ok"


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """pydicom logs a traceback for a truncated sequence before raising; the row has the
    message, so its logger is silenced while a file is parsed."""
    log = logging.getLogger("pydicom")
    old = log.disabled
    log.disabled = True
    try:
        yield
    finally:
        log.disabled = old


def classify_bytes(data: bytes) -> tuple[FileKind, str]:
    """Kind of a file from its bytes, with every sequence parsed (truncation shows here)."""
    import warnings

    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings(), _quiet_pydicom():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data))
            ds.walk(lambda _ds, _elem: None)
    except InvalidDicomError:
        return FileKind.NOT_RDSR, "not a DICOM file (no 'DICM' preamble)"
    except Exception as exc:
        return FileKind.UNREADABLE, (f"truncated or corrupt DICOM file ({type(exc).__name__}: "
                                     f"{exc})")
    return classify_dataset(ds)


def report_folder_name(path: Path, checksum: str) -> str:
    """``<file stem>-<first 12 hex digits of the checksum>`` (safe characters only)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem)[:80] or "file"
    return f"{stem}-{checksum[:12]}"


def _fill_result(row: dict[str, Any], result: Any, settings: Any,
                 procs: Sequence[Any] = ()) -> None:
    tot = result.reference_totals.get("total", {})
    k = tot.get("kerma_rp_gy")
    kap = tot.get("kap_gym2")
    row["kerma_rp_gy"] = k
    row["kap_gycm2"] = kap * 1e4 if kap is not None else None
    psd = result.psd_gy
    row["psd_gy"] = psd
    loc = result.psd_location
    row["psd_location"] = loc["label"] if loc else None
    row["psd_1cm2_gy"] = result.psd_averaged_gy(1.0)
    row["psd_10cm2_gy"] = result.psd_averaged_gy(10.0)
    for t in settings.thresholds_gy:
        row[area_column(t)] = result.area_above_m2(t) * 1e4
    row["reference_point_estimate"] = bool(result.is_reference_point_estimate)
    row["alert_srdl"] = psd >= SRDL_GY
    sev, codes = note_summary(result, procs)
    row["highest_severity"] = sev
    row["note_codes"] = ";".join(codes) if codes else None


def note_summary(result: Any, procs: Sequence[Any] = ()) -> tuple[str | None, list[str]]:
    """(highest severity, sorted distinct note codes) of a result.

    Uses the result's typed notes (``result.notes``) when it has them; otherwise the typed
    notes of its procedures (``Procedure.notes``), and compute's own warning texts count as
    severity "warning" (a result from before ``SkinDoseMap.notes``).
    """
    from skindose.notes import Severity, highest_severity

    notes = getattr(result, "notes", None)
    text_only = False
    if notes is None:
        notes = [n for p in procs for n in (getattr(p, "notes", None) or ())]
        text_only = bool(result.warnings)
    sev = highest_severity(notes)
    if text_only and (sev is None or sev < Severity.WARNING):
        sev = Severity.WARNING
    codes = sorted({n.code.value for n in notes})
    return (sev.value if sev is not None else None), codes
