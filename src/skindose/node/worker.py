"""Worker processes: dose computation, per-patient cumulative dose and alert raising.

Each worker is a separate process (``multiprocessing`` spawn context) that claims work from the
registry, so the network threads never wait for a computation. Two kinds of work:

1. **An instance** (``queued``): read the stored file, compute its skin dose map, write its
   report folder (to a temporary folder renamed into place), optionally its P-RDSR and image for
   forwarding, then commit the result row, the forward-queue rows and the patient's "dirty" mark
   in one transaction. An instance that holds no projection X-ray dose content (a CT dose SR,
   an SR of another kind) is kept and committed as ``not_applicable`` with the reason.
2. **A patient** whose procedures changed: for every computed procedure P of the patient, the
   **cumulative window** is P and every earlier-or-same-day procedure of the patient no more
   than ``window_days`` before it (default 60 days, NCRP Report 168; see ``docs/node.md``).
   When a window holds more than one procedure, its procedures are merged with the
   accumulation rules (:func:`skindose.accumulate.merge_procedures`: duplicate events counted
   once, a later complete report supersedes a partial one) and computed together on one phantom
   with ``compute(..., same_patient=True)``; the cumulative PSD is the maximum of that summed map.
   Alerts (once per patient and level) are inserted in the same transaction.

A claim that outlives its process (``kill -9``) is released by the next start; an uncommitted
computation is simply done again, so each instance ends with exactly one committed result.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import time
import traceback
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from skindose.node.config import NodeConfig
from skindose.node.registry import Registry, open_registry
from skindose.node.storage import make_dirs, sha256_file

__all__ = ["GENERAL_SR_CLASSES", "NodeWorker", "patient_hash", "worker_main"]

RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.67"
ENHANCED_RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.76"
#: General SR classes some vendors send dose reports in (Basic Text, Enhanced, Comprehensive,
#: Comprehensive 3D SR); their content is read as an RDSR when the root concept is
#: (113701, DCM, "X-Ray Radiation Dose Report").
GENERAL_SR_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.88.11",
    "1.2.840.10008.5.1.4.1.1.88.22",
    "1.2.840.10008.5.1.4.1.1.88.33",
    "1.2.840.10008.5.1.4.1.1.88.34",
)

log = logging.getLogger("skindose.node")


def patient_hash(key: str | None) -> str:
    """A short, non-identifying tag of a patient key for logs."""
    if not key:
        return "-"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def _patient_key(proc: Any) -> str | None:
    from skindose.accumulate import patient_key

    return patient_key(proc)


def _merge(procs: list[Any]) -> tuple[list[Any], list[Any]]:
    from skindose.accumulate import merge_procedures

    merged, notes = merge_procedures(procs)
    return list(merged), list(notes)


def _compute(procs: Any, phantom: Any, settings: Any, *, same_patient: bool) -> Any:
    from skindose import compute

    return compute(procs, phantom, settings, same_patient=same_patient)


def _notes(result: Any) -> list[dict[str, Any]]:
    notes = getattr(result, "notes", None)
    if notes:
        return [n.to_dict() for n in notes]
    return [{"code": "other", "severity": "warning", "text": w} for w in result.warnings]


def _severity(result: Any) -> str | None:
    sev = getattr(result, "highest_severity", None)
    if sev is None:
        return "warning" if result.warnings else None
    return str(getattr(sev, "value", sev))


def _procedure_date(proc: Any, received_at: float) -> tuple[str, bool]:
    d = proc.study.date
    if d is None:
        starts = [e.started for e in proc.events if e.started is not None]
        d = min(starts) if starts else None
    if d is None:
        return datetime.fromtimestamp(received_at).replace(microsecond=0).isoformat(), True
    if d.tzinfo is not None:
        d = d.astimezone().replace(tzinfo=None)
    return d.replace(microsecond=0).isoformat(), False


def _set_parent_death_signal() -> None:
    """Linux: die with the parent (a ``kill -9`` of the server must not leave workers)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class NodeWorker:
    """One worker's state: configuration, registry connection, phantom and settings caches.

    Also used in-process by tests (:meth:`run_once`).
    """

    def __init__(self, config: NodeConfig, worker_id: int | None = None,
                 registry: Registry | None = None):
        from skindose.settings import Settings

        self.config = config
        self.id = worker_id if worker_id is not None else os.getpid()
        self.registry = registry or open_registry(config.data_dir)
        self.settings = (Settings.from_toml(config.settings_file) if config.settings_file
                         else Settings())
        self._phantom: Any = None

    # --- resources --------------------------------------------------------------------------
    def phantom(self) -> Any:
        """The configured phantom (built once per worker), or None for the default adult."""
        if self.config.phantom is None:
            return None
        if self._phantom is None:
            from skindose import phantoms

            cell = self.config.cell_area_cm2 or self.settings.cell_area_cm2
            name = self.config.phantom
            if name in ("adult", "cylinder", "plane"):
                self._phantom = phantoms.by_name(name, cell_area_cm2=cell)
            else:
                self._phantom = phantoms.load(name, cell_area_cm2=cell)
        return self._phantom

    def warm_up(self) -> None:
        """Compile the kernel before the first RDSR arrives (tiny synthetic procedure)."""
        from skindose import phantoms
        from skindose.rdsr.synthetic import example_procedure

        ph = self.phantom() or phantoms.plane(cell_area_cm2=100.0)
        with contextlib.suppress(Exception):
            _compute(example_procedure(n_events=2, seed=1), ph, self.settings,
                     same_patient=False)

    # --- the loop ---------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Do one piece of work; False when there was nothing to do."""
        job = self.registry.claim_instance(self.id)
        if job is not None:
            self.process_instance(job)
            return True
        claim = self.registry.claim_patient(self.id)
        if claim is not None:
            self.process_patient(*claim)
            return True
        return False

    def drain(self, timeout_s: float = 60.0) -> None:
        """Run until there is no work left (tests)."""
        end = time.monotonic() + timeout_s
        while self.run_once():
            if time.monotonic() > end:
                raise TimeoutError("work left after the drain time-out")

    # --- instances --------------------------------------------------------------------------
    def process_instance(self, job: dict[str, Any]) -> None:
        """Compute one claimed instance and commit its outcome."""
        t0 = time.perf_counter()
        try:
            state, identity, result, error, forwards = self._compute_instance(job)
        except Exception as exc:  # an unexpected failure: retried, then kept as failed
            err = f"{type(exc).__name__}: {exc}"
            state = self.registry.retry_or_fail(job["id"], self.id, err)
            log.error("result %s: error (%s): %s", _short(job["sop_instance_uid"]), state, err)
            log.debug("%s", traceback.format_exc())
            return
        ok = self.registry.finish_instance(job["id"], self.id, state=state, identity=identity,
                                           result=result, error=error, forwards=forwards)
        if not ok:
            log.warning("result %s: claim lost (released by a restart); not committed",
                        _short(job["sop_instance_uid"]))
            return
        who = (identity or {}).get("patient_key")
        pid = (identity or {}).get("patient_id") if self.config.log_patient_ids else None
        if result is not None:
            log.info("result %s: patient %s%s psd %.4g Gy%s in %.2f s",
                     _short(job["sop_instance_uid"]), patient_hash(who),
                     f" ({pid})" if pid else "", result["psd_gy"],
                     " (reference-point estimate)" if result["is_reference_point_estimate"]
                     else "", time.perf_counter() - t0)
        else:
            log.info("result %s: %s: %s", _short(job["sop_instance_uid"]), state, error)

    def _read(self, path: Path) -> tuple[Any, Any, str | None]:
        """(dataset, procedure or None, reason not applicable or None)."""
        import copy

        import pydicom

        from skindose.errors import RDSRError
        from skindose.rdsr import read_rdsr

        ds = pydicom.dcmread(path)
        src = ds
        sop = str(ds.get("SOPClassUID", ""))
        if sop in GENERAL_SR_CLASSES:
            concept = ds.get("ConceptNameCodeSequence")
            code = (str(concept[0].get("CodeValue", "")), str(
                concept[0].get("CodingSchemeDesignator", ""))) if concept else ("", "")
            if code != ("113701", "DCM"):
                return ds, None, ("an SR of class " + sop + " whose root concept is not "
                                  "(113701, DCM, X-Ray Radiation Dose Report)")
            src = copy.deepcopy(ds)
            src.SOPClassUID = RDSR_SOP
        try:
            proc = read_rdsr(src)
        except RDSRError as exc:
            return ds, None, str(exc)
        return ds, proc, None

    def _compute_instance(self, job: dict[str, Any]):
        cfg = self.config
        path = cfg.data_dir / job["path"]
        if sha256_file(path) != job["sha256"]:
            raise OSError(f"{job['path']}: checksum differs from the one recorded at receipt")
        ds, proc, why = self._read(path)
        if proc is None:
            pid = str(ds.get("PatientID", "") or "").strip()
            identity = {"patient_key": f"id:{pid}" if pid else None, "patient_id": pid or None,
                        "patient_name": str(ds.get("PatientName", "") or "") or None,
                        "study_uid": str(ds.get("StudyInstanceUID", "") or "") or None,
                        "procedure_date": None, "device": None}
            return "not_applicable", identity, None, why, []
        key = _patient_key(proc) or f"unidentified:{job['sop_instance_uid']}"
        date, assumed = _procedure_date(proc, job["received_at"])
        identity = {
            "patient_key": key, "patient_id": proc.patient.patient_id,
            "patient_name": str(ds.get("PatientName", "") or "") or None,
            "study_uid": proc.study.uid, "procedure_date": date,
            "device": " ".join(x for x in (proc.device.manufacturer, proc.device.model) if x)
            or None,
        }
        t0 = time.perf_counter()
        result = _compute(proc, self.phantom(), self.settings, same_patient=False)
        compute_s = time.perf_counter() - t0
        rel = Path("reports") / str(job["id"])
        self._write_folder(rel, result, sources=[proc], forward=bool(cfg.forward))
        notes = _notes(result)
        if assumed:
            notes.append({"code": "other", "severity": "warning",
                          "text": "no study date or event time in the RDSR: the receive time "
                          "was used as the procedure date for the cumulative window"})
        summary_areas = {f"{t:g}": result.area_above_m2(t)
                         for t in tuple(self.settings.thresholds_gy)}
        res = {
            "psd_gy": result.psd_gy, "psd_1cm2_gy": result.psd_averaged_gy(1.0),
            "psd_location": result.psd_location, "areas_above_m2": summary_areas,
            "is_reference_point_estimate": result.is_reference_point_estimate,
            "n_events": len(result.events), "highest_severity": _severity(result),
            "notes": notes, "report_dir": str(rel), "compute_s": compute_s,
        }
        forwards = []
        if cfg.forward:
            dicom = sorted(str(p.relative_to(cfg.data_dir))
                           for p in (cfg.data_dir / rel / "dicom").glob("*.dcm"))
            # image first: the SR references it (dicom_out writes SC_ then SR_)
            dicom.sort(key=lambda s: (not Path(s).name.startswith("SC_"), s))
            forwards = [(peer, dicom) for peer in cfg.forward]
        return "done", identity, res, None, forwards

    def _write_folder(self, rel: Path, result: Any, *, sources: list[Any] | None,
                      forward: bool) -> None:
        """Write a report folder to a temporary folder, then rename it into place."""
        from skindose.report import export_npz, write_summary

        final = self.config.data_dir / rel
        make_dirs(final.parent)
        tmp = final.parent / f".tmp-{final.name}-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            if self.config.report == "full":
                result.save(tmp)
            else:
                make_dirs(tmp)
                write_summary(result, tmp / "summary.json")
                if not result.is_reference_point_estimate:
                    export_npz(result, tmp / "dose_map.npz")
            if forward:
                from skindose.dicom_out import write_dicom_outputs

                write_dicom_outputs(result, tmp / "dicom", sources)
            if final.exists():  # left by an attempt killed before its commit
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    # --- patients ---------------------------------------------------------------------------
    def process_patient(self, patient_key: str, gen: int) -> None:
        """Recompute the patient's changed cumulative windows; raise alerts."""
        cfg = self.config
        procs = self.registry.patient_procedures(patient_key)
        stored = {c["anchor_instance_id"]: c for c in self.registry.cumulative_for(patient_key)}
        span = timedelta(days=cfg.window_days)
        dates = {p["id"]: datetime.fromisoformat(p["procedure_date"]) for p in procs}
        windows: list[dict[str, Any]] = []
        all_windows: list[dict[str, Any]] = []
        for anchor in procs:
            end = dates[anchor["id"]]
            members = [p for p in procs if end - span <= dates[p["id"]] <= end
                       and (dates[p["id"]] < end or p["id"] <= anchor["id"])]
            ids = [p["id"] for p in members]
            old = stored.get(anchor["id"])
            if old is not None and old["contributing"]["ids"] == ids:
                all_windows.append(old | {"anchor": anchor, "members": members})
                continue
            w = self._window(anchor, members, end - span, end)
            windows.append(w)
            all_windows.append(w | {"anchor": anchor, "members": members})
        alerts = []
        for w in all_windows:
            for level in sorted(cfg.alert_levels_gy):
                if w["psd_gy"] is not None and w["psd_gy"] >= level:
                    anchor = w["anchor"]
                    single = anchor["psd_gy"] is not None and anchor["psd_gy"] >= level
                    alerts.append({
                        "type": "skindose-alert", "level_gy": level, "psd_gy": w["psd_gy"],
                        "kind": "procedure" if single else "cumulative",
                        "patient_key": patient_key,
                        "anchor_instance_id": anchor["id"],
                        "sop_instance_uid": anchor["sop_instance_uid"],
                        "window_days": cfg.window_days, "window_start": w["window_start"],
                        "window_end": w["window_end"],
                        "contributing": [p["sop_instance_uid"] for p in w["members"]],
                        "report": w.get("report_dir") or anchor["report_dir"],
                    })
        new = self.registry.finish_patient(patient_key, self.id, gen, windows, alerts)
        for a in new:
            log.warning("alert: patient %s reached %.4g Gy (%s, psd %.4g Gy)",
                        patient_hash(patient_key), a["level_gy"], a["kind"], a["psd_gy"])

    def _window(self, anchor: dict[str, Any], members: list[dict[str, Any]], start: datetime,
                end: datetime) -> dict[str, Any]:
        base = {"anchor_instance_id": anchor["id"], "window_start": start.isoformat(),
                "window_end": end.isoformat(),
                "contributing": {"ids": [p["id"] for p in members],
                                 "sop_instance_uids": [p["sop_instance_uid"] for p in members]}}
        if len(members) == 1:
            return base | {"psd_gy": anchor["psd_gy"], "psd_location": None, "notes": [],
                           "report_dir": None}
        procs = []
        for p in members:
            _, proc, why = self._read(self.config.data_dir / p["path"])
            if proc is None:  # pragma: no cover - it was computed before
                raise OSError(f"instance {p['id']} no longer reads as an RDSR: {why}")
            procs.append(proc)
        merged, merge_notes = _merge(procs)
        result = _compute(merged, self.phantom(), self.settings, same_patient=True)
        rel = Path("reports") / str(anchor["id"]) / "cumulative"
        self._write_folder(rel, result, sources=None, forward=False)
        notes = [n.to_dict() if hasattr(n, "to_dict") else n for n in merge_notes]
        notes += _notes(result)
        return base | {"psd_gy": result.psd_gy, "psd_location": result.psd_location,
                       "notes": notes, "report_dir": str(rel)}


def _short(uid: str) -> str:
    return uid if len(uid) <= 24 else "…" + uid[-20:]


def worker_main(config: dict[str, Any], wake: Any, stop: Any, log_queue: Any = None,
                parent_pid: int | None = None) -> None:
    """Entry point of a worker process.

    Parameters
    ----------
    config
        :meth:`NodeConfig.to_dict`.
    wake, stop
        ``multiprocessing.Event`` objects: new work was stored / finish the current job and
        exit.
    log_queue
        A ``multiprocessing.Queue`` to send log records to the server process.
    parent_pid
        The server's process id: a worker whose server died while it was starting exits.
    """
    _set_parent_death_signal()
    parent = parent_pid if parent_pid is not None else os.getppid()
    if os.getppid() != parent:  # the server died before the death signal was armed
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if log_queue is not None:
        from logging.handlers import QueueHandler

        root = logging.getLogger("skindose.node")
        root.handlers[:] = [QueueHandler(log_queue)]
        root.setLevel(logging.INFO)
        root.propagate = False
    import warnings

    from skindose.errors import SkinDoseWarning

    warnings.simplefilter("ignore", SkinDoseWarning)
    os.umask(0o077)
    cfg = NodeConfig.from_dict(config)
    # a shared lock on workers.lock: the next server start waits until no worker of this run
    # is alive (see DoseNode.start)
    lock = os.open(cfg.data_dir / "workers.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_SH)
    w = NodeWorker(cfg)
    w.warm_up()
    while not stop.is_set():
        if os.getppid() != parent:
            break
        try:
            busy = w.run_once()
        except Exception as exc:  # registry trouble: log, wait, carry on
            log.error("worker %d: %s: %s", os.getpid(), type(exc).__name__, exc)
            busy = False
            time.sleep(0.5)
        if not busy:
            wake.wait(0.25)
            wake.clear()
    w.registry.close()
