"""The DICOM side of the node: a Verification and Storage SCP on pynetdicom.

:class:`DoseNode` accepts Verification (C-ECHO) and C-STORE of the X-Ray Radiation Dose SR, the
Enhanced X-Ray Radiation Dose SR and the general SR classes vendors use for dose reports; every
other SOP class is refused at association negotiation (no presentation context is accepted for
it). The C-STORE handler is the durable part: pynetdicom sends the response only after the
handler returns (PS3.4 and pynetdicom's StorageServiceClass), so the handler writes the encoded
dataset to a temporary file, fsyncs it, renames it into place, fsyncs the folder and commits the
registry row before it returns 0x0000 (success). When any of that fails the status is 0xA700
(out of resources) for an I/O error or 0x0110 (processing failure) otherwise, and nothing
half-written remains. A resend of a stored SOP Instance UID is acknowledged without storing it
again. Computation happens in worker processes (:mod:`skindose.node.worker`); the handler only
wakes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import logging.handlers
import multiprocessing
import os
import signal
import ssl
import threading
import time
from pathlib import Path
from typing import Any

from skindose.errors import ConfigurationError
from skindose.node import require_pynetdicom
from skindose.node.config import NodeConfig
from skindose.node.registry import SQLiteRegistry, open_registry
from skindose.node.storage import (
    DIR_MODE,
    FILE_MODE,
    instance_relpath,
    make_dirs,
    valid_uid,
    write_durable,
)
from skindose.node.worker import ENHANCED_RDSR_SOP, GENERAL_SR_CLASSES, RDSR_SOP, worker_main

__all__ = ["ACCEPTED_SOP_CLASSES", "VERIFICATION_SOP", "DoseNode"]

VERIFICATION_SOP = "1.2.840.10008.1.1"
#: Storage SOP classes accepted: X-Ray Radiation Dose SR, Enhanced X-Ray Radiation Dose SR and the
#: general SR classes (Basic Text, Enhanced, Comprehensive, Comprehensive 3D SR).
ACCEPTED_SOP_CLASSES = (RDSR_SOP, ENHANCED_RDSR_SOP, *GENERAL_SR_CLASSES)

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_PROCESSING_FAILURE = 0x0110
STATUS_CANNOT_UNDERSTAND = 0xC000

log = logging.getLogger("skindose.node")


def _status(code: int, comment: str) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment[:64]
    return ds


class DoseNode:
    """A running dose consumer (SCP + worker processes + housekeeping threads).

    Use as a context manager in tests (``with DoseNode(cfg) as node: ...``) or through
    :meth:`serve_forever` (the ``serve`` command).

    Parameters
    ----------
    config
        The :class:`~skindose.node.config.NodeConfig`.
    """

    def __init__(self, config: NodeConfig):
        self.config = config
        self.data_dir = Path(config.data_dir)
        self.registry: SQLiteRegistry | None = None
        self._server: Any = None
        self._procs: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._halt = threading.Event()  # housekeeping threads stop
        self._stop_requested = threading.Event()
        self._exit_code = 0
        self._lock_fh: Any = None
        self._listener: logging.handlers.QueueListener | None = None
        self._assoc: dict[int, dict[str, Any]] = {}
        self._assoc_lock = threading.Lock()
        self._associations_ended = 0
        self._file_handler: logging.Handler | None = None
        self.stats = {"stored": 0, "duplicates": 0, "refused": 0}

    # --- life cycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("the node is not started")
        return int(self._server.server_address[1])

    def __enter__(self) -> DoseNode:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        """Lock the data directory, open the registry, start workers and the SCP."""
        pnd = require_pynetdicom()
        cfg = self.config
        make_dirs(self.data_dir)
        with contextlib.suppress(OSError):
            os.chmod(self.data_dir, DIR_MODE)
        self._lock_fh = os.fdopen(os.open(self.data_dir / "node.lock",
                                          os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE), "a")
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_fh.close()
            self._lock_fh = None
            raise ConfigurationError(f"{self.data_dir}: another skindose serve is using this "
                                     "data directory") from None
        self._wait_for_old_workers()
        self._setup_logging()
        self._remove_leftovers()
        self.registry = open_registry(self.data_dir)
        n = self.registry.release_claims()
        if n:
            log.info("start: %d claim(s) of an earlier run released (computed again)", n)
        self._start_workers()
        ae = pnd.AE(ae_title=cfg.aet)
        ae.add_supported_context(VERIFICATION_SOP)
        for uid in ACCEPTED_SOP_CLASSES:
            ae.add_supported_context(uid)
        ae.require_calling_aet = list(cfg.allow_aets)
        ae.require_called_aet = True
        ae.maximum_associations = cfg.max_associations
        ae.network_timeout = cfg.network_timeout_s
        ae.acse_timeout = cfg.network_timeout_s
        ae.dimse_timeout = cfg.network_timeout_s
        handlers = [
            (pnd.evt.EVT_C_STORE, self._on_store),
            (pnd.evt.EVT_C_ECHO, self._on_echo),
            (pnd.evt.EVT_ESTABLISHED, self._on_established),
            (pnd.evt.EVT_RELEASED, self._on_ended),
            (pnd.evt.EVT_ABORTED, self._on_ended),
            (pnd.evt.EVT_REJECTED, self._on_rejected),
        ]
        self._ae = ae
        try:
            self._server = ae.start_server((cfg.bind, cfg.port), block=False,
                                           evt_handlers=handlers,
                                           ssl_context=self._ssl_context())
        except OSError as exc:
            self._stop_workers(0.0)
            raise ConfigurationError(f"cannot listen on {cfg.bind}:{cfg.port}: {exc}") from None
        log.info("listening on %s:%d as %s%s; %d worker(s); data %s", cfg.bind, self.port,
                 cfg.aet, " (TLS)" if cfg.tls_cert else "", cfg.workers, self.data_dir)
        for target in (self._housekeeper, self._forwarder):
            t = threading.Thread(target=target, name=f"skindose-{target.__name__}", daemon=True)
            t.start()
            self._threads.append(t)

    def _wait_for_old_workers(self, timeout_s: float = 60.0) -> None:
        """Workers hold workers.lock shared; wait until none of an earlier run is alive."""
        path = self.data_dir / "workers.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            end = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    return
                except OSError:
                    if time.monotonic() > end:
                        raise ConfigurationError(
                            f"{self.data_dir}: worker processes of an earlier run are still "
                            "alive") from None
                    time.sleep(0.1)
        finally:
            os.close(fd)

    def _remove_leftovers(self) -> None:
        """Temporary files and folders of writes that a kill interrupted (never acknowledged,
        never committed)."""
        import shutil

        n = 0
        for pattern in ("instances/*/.tmp-*", "reports/.tmp-*", "reports/*/.tmp-*",
                        ".index-*.html"):
            for p in self.data_dir.glob(pattern):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                n += 1
        if n:
            log.info("start: %d temporary file(s) of interrupted writes removed", n)

    def _setup_logging(self) -> None:
        logger = logging.getLogger("skindose.node")
        logger.setLevel(logging.INFO)
        path = self.data_dir / "node.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        os.close(fd)
        fh = logging.FileHandler(path, encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(fh)
        self._file_handler = fh

    def _ssl_context(self) -> ssl.SSLContext | None:
        cfg = self.config
        if cfg.tls_cert is None:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(str(cfg.tls_cert), str(cfg.tls_key))
            if cfg.tls_ca is not None:
                ctx.load_verify_locations(str(cfg.tls_ca))
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"TLS certificate or key not usable: {exc}") from None
        return ctx

    def _start_workers(self) -> None:
        mp = multiprocessing.get_context("spawn")
        self._wake = mp.Event()
        self._stop_workers_evt = mp.Event()
        self._log_queue = mp.Queue()
        self._listener = logging.handlers.QueueListener(
            self._log_queue, *logging.getLogger("skindose.node").handlers,
            respect_handler_level=True)
        self._listener.start()
        for _ in range(self.config.workers):
            p = mp.Process(target=worker_main, name="skindose-worker",
                           args=(self.config.to_dict(), self._wake, self._stop_workers_evt,
                                 self._log_queue, os.getpid()), daemon=True)
            p.start()
            self._procs.append(p)

    def _stop_workers(self, timeout_s: float) -> None:
        if not self._procs:
            return
        self._stop_workers_evt.set()
        self._wake.set()
        end = time.monotonic() + timeout_s
        for p in self._procs:
            p.join(max(0.0, end - time.monotonic()))
        for p in self._procs:
            if p.is_alive():
                p.terminate()
                p.join(5.0)
            if p.is_alive():  # pragma: no cover
                p.kill()
                p.join(5.0)
        self._procs = []

    def request_stop(self, code: int = 0) -> None:
        """Ask :meth:`serve_forever` to return (thread- and signal-safe)."""
        self._exit_code = code
        self._stop_requested.set()

    def stop(self, grace_s: float = 30.0) -> None:
        """Graceful stop: no new associations; running ones may finish (up to ``grace_s``);
        workers finish their current job; the page is written one last time."""
        if self._server is not None:
            self._server.shutdown()
            end = time.monotonic() + grace_s
            while self._server.active_associations and time.monotonic() < end:
                time.sleep(0.05)
            for a in self._server.active_associations:
                a.abort()
            self._server = None
        self._stop_workers(grace_s)
        self._halt.set()
        for t in self._threads:
            t.join(grace_s)
        self._threads = []
        if self.registry is not None:
            with contextlib.suppress(Exception):
                self._deliver_alerts()
                self._write_page()
            self.registry.close()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        log.info("stopped")
        if self._file_handler is not None:
            logging.getLogger("skindose.node").removeHandler(self._file_handler)
            self._file_handler.close()
            self._file_handler = None
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def serve_forever(self) -> int:
        """Start, run until SIGTERM/SIGINT (or ``once``), stop gracefully; the exit code."""
        old = {}
        if threading.current_thread() is threading.main_thread():
            old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
            signal.signal(signal.SIGTERM, lambda *_: self.request_stop(143))
            signal.signal(signal.SIGINT, lambda *_: self.request_stop(130))
        else:  # signals can only be caught in the main thread: the caller must stop us
            log.warning("not in the main thread: SIGTERM/SIGINT are not handled here")
        try:
            self.start()
            while not self._stop_requested.wait(0.2):
                pass
        finally:
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)
        return self._exit_code

    # --- state ------------------------------------------------------------------------------
    def pending(self) -> int:
        """Work not finished: queued/computing instances, patients to recompute, alerts to
        deliver."""
        c = self._reg().counts()
        return (c.get("instances_queued", 0) + c.get("instances_computing", 0)
                + c.get("patients_dirty", 0) + c.get("alerts_undelivered", 0))

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Wait until :meth:`pending` is 0 and the page shows it; False on time-out."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.pending() == 0:
                self._write_page()
                return True
            time.sleep(0.05)
        return False

    def _reg(self) -> SQLiteRegistry:
        if self.registry is None:
            raise RuntimeError("the node is not started")
        return self.registry

    # --- handlers (network threads) ---------------------------------------------------------
    def _peer(self, event: Any) -> tuple[str, str]:
        r = event.assoc.requestor
        return str(r.ae_title).strip(), f"{r.address}:{r.port}"

    def _on_established(self, event: Any) -> None:
        aet, addr = self._peer(event)
        with self._assoc_lock:
            self._assoc[id(event.assoc)] = {"aet": aet, "addr": addr, "stored": 0,
                                            "duplicates": 0, "refused": 0, "echo": 0,
                                            "t0": time.monotonic()}

    def _on_ended(self, event: Any) -> None:
        aet, addr = self._peer(event)
        with self._assoc_lock:
            a = self._assoc.pop(id(event.assoc), None)
            self._associations_ended += 1
        how = "released" if event.event.name == "EVT_RELEASED" else "aborted"
        if a is not None:
            log.info("association %s@%s %s after %.2f s: %d stored, %d duplicate(s), "
                     "%d refused, %d echo", aet, addr, how, time.monotonic() - a["t0"],
                     a["stored"], a["duplicates"], a["refused"], a["echo"])
        if self.config.once:
            threading.Thread(target=self._once_finish, daemon=True).start()

    def _once_finish(self) -> None:
        self.wait_idle(3600.0)
        self.request_stop(0)

    def _on_rejected(self, event: Any) -> None:
        aet, addr = self._peer(event)
        log.warning("association from %s@%s rejected (calling AE title not allowed, wrong "
                    "called AE title, or no acceptable presentation context)", aet, addr)

    def _count(self, event: Any, key: str) -> None:
        with self._assoc_lock:
            a = self._assoc.get(id(event.assoc))
            if a is not None:
                a[key] += 1
            if key in self.stats:
                self.stats[key] += 1

    def _on_echo(self, event: Any) -> int:
        self._count(event, "echo")
        return STATUS_SUCCESS

    def _on_store(self, event: Any) -> Any:
        cfg = self.config
        req = event.request
        uid = str(req.AffectedSOPInstanceUID or "")
        sop_class = str(req.AffectedSOPClassUID or "")
        if not valid_uid(uid):
            self._count(event, "refused")
            return _status(STATUS_CANNOT_UNDERSTAND, "SOP Instance UID is not a valid UID")
        data = event.encoded_dataset()
        if len(data) > cfg.max_dataset_bytes:
            self._count(event, "refused")
            log.warning("store %s refused: %d bytes > limit %d", uid, len(data),
                        cfg.max_dataset_bytes)
            return _status(STATUS_OUT_OF_RESOURCES, "dataset larger than the node accepts")
        reg = self._reg()
        aet, addr = self._peer(event)
        try:
            if reg.has_instance(uid):
                self._count(event, "duplicates")
                return STATUS_SUCCESS
            rel = instance_relpath(uid)
            path = self.data_dir / rel
            sha = write_durable(path, data)
            try:
                reg.add_instance(sop_instance_uid=uid, sop_class_uid=sop_class, path=str(rel),
                                 sha256=sha, size_bytes=len(data), calling_aet=aet, peer=addr,
                                 received_at=time.time())
            except BaseException:
                if not reg.has_instance(uid):
                    path.unlink(missing_ok=True)
                raise
        except OSError as exc:
            self._count(event, "refused")
            log.error("store %s failed: %s", uid, exc)
            return _status(STATUS_OUT_OF_RESOURCES, f"cannot store: {exc}")
        except Exception as exc:
            self._count(event, "refused")
            log.error("store %s failed: %s: %s", uid, type(exc).__name__, exc)
            return _status(STATUS_PROCESSING_FAILURE, f"cannot record: {type(exc).__name__}")
        self._count(event, "stored")
        self._wake.set()
        return STATUS_SUCCESS

    # --- housekeeping (server process threads) ----------------------------------------------
    def _write_page(self) -> None:
        from skindose.node.page import write_index

        write_index(self._reg(), self.data_dir)

    def _deliver_alerts(self) -> None:
        from skindose.node.alerts import deliver

        reg = self._reg()
        for a in reg.undelivered_alerts():
            pid = None
            d = reg.instance(str(a["anchor_instance_id"])) if a["anchor_instance_id"] else None
            if d is not None:
                pid = d.get("patient_id")
            err = deliver(a, self.config, patient_id=pid)
            reg.mark_alert_delivered(a["id"], err)
            if err:
                log.error("alert %d: %s", a["id"], err)

    def _housekeeper(self) -> None:
        last = -1
        while not self._halt.is_set():
            try:
                self._deliver_alerts()
                now = self._reg().change_counter()
                if now != last:
                    self._write_page()
                    last = now
            except Exception as exc:  # keep the node running; say what went wrong
                log.error("housekeeping: %s: %s", type(exc).__name__, exc)
            self._halt.wait(0.25)
        self._reg().close()

    def _forwarder(self) -> None:
        if not self.config.forward:
            return
        from skindose.dicom_out import send_files
        from skindose.errors import SkinDoseError

        reg = self._reg()
        while not self._halt.is_set():
            try:
                for f in reg.due_forwards(time.time()):
                    if self._halt.is_set():
                        break
                    paths = [self.data_dir / p for p in f["files"]]
                    try:
                        send_files(paths, f["peer"], calling_aet=self.config.aet, retries=0,
                                   timeout_s=min(30.0, self.config.network_timeout_s))
                    except (SkinDoseError, OSError) as exc:
                        delay = min(600.0, self.config.forward_retry_s * 2 ** min(f["attempts"],
                                                                                  10))
                        reg.mark_forward(f["id"], ok=False, error=str(exc),
                                         next_attempt_at=time.time() + delay)
                        log.warning("forward of instance %d to %s failed (retry in %.0f s): %s",
                                    f["instance_id"], f["peer"], delay, exc)
                        continue
                    reg.mark_forward(f["id"], ok=True, error=None, next_attempt_at=None)
                    log.info("forward of instance %d to %s: sent %d file(s)", f["instance_id"],
                             f["peer"], len(paths))
            except Exception as exc:
                log.error("forwarding: %s: %s", type(exc).__name__, exc)
            self._halt.wait(0.5)
        reg.close()
