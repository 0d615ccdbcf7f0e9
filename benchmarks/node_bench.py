"""``skindose serve`` under load: throughput, latency, and a soak with SIGKILLs.

Two modes (both start the real server as a subprocess on loopback, send synthetic RDSRs with
pynetdicom from concurrent sender threads, and stop the server at the end):

``bench``
    RDSRs received and computed per second, and the median (and 90th percentile) time from the
    start of the C-STORE to the committed result, for 1 and 4 concurrent senders.
``soak``
    N RDSRs over S concurrent associations; the server is killed with SIGKILL at random
    moments (``--kills``) and restarted; each sender resends what was not acknowledged. Checks:
    every acknowledged instance is stored once (one file, checksum as recorded) and computed
    once (one committed result), none is lost, and ``PRAGMA integrity_check`` is ok.

Run::

    python benchmarks/node_bench.py bench --n 200
    python benchmarks/node_bench.py soak --n 2000 --senders 4 --kills 5

Settings: the coarse plane phantom (25 cm² cells, ``--report summary``), so that the numbers
measure the node (network, fsync, registry, workers), not the dose kernel. ``tests/node`` runs a
bounded soak (200 RDSRs, one kill) through :func:`soak`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SETTINGS = HERE.parent / "tests" / "node" / "settings.toml"
DAY0 = datetime(2026, 1, 5, 9, 0, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_datasets(n: int, *, n_events: int = 4, patients: int | None = None) -> list[Any]:
    """``n`` synthetic RDSRs: patient ``i % patients``, one procedure per day."""
    from skindose.rdsr.synthetic import build_rdsr, example_procedure

    patients = patients or max(1, n // 4)
    base = example_procedure(n_events=n_events, seed=1)
    out = []
    for i in range(n):
        proc = example_procedure(n_events=n_events, seed=1000 + i)
        when = DAY0 + timedelta(days=i)
        proc = dataclasses.replace(
            proc, study=dataclasses.replace(base.study, date=when,
                                            uid=f"1.2.826.0.1.3680043.10.1234.77.{i}"),
            patient=dataclasses.replace(base.patient, patient_id=f"SOAK-{i % patients}"))
        out.append(build_rdsr(proc))
    return out


class Server:
    """``skindose serve`` in a subprocess (loopback, fixed port, fast settings)."""

    def __init__(self, data_dir: Path, port: int, *, workers: int = 2,
                 extra: list[str] | None = None, phantom: str = "plane",
                 report: str = "summary"):
        self.data_dir = Path(data_dir)
        self.port = port
        self.cmd = [sys.executable, "-c", "import sys; from skindose.cli import main; "
                    "sys.exit(main())", "serve", "--data-dir", str(data_dir), "--port",
                    str(port), "--workers", str(workers), "--phantom", phantom,
                    "--cell-area-cm2", "25", "--settings", str(SETTINGS), "--report", report,
                    "--quiet", "--timeout", "10", *(extra or [])]
        self.proc: subprocess.Popen | None = None

    def start(self, wait_s: float = 120.0) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: "
                                   f"{self.proc.stderr.read() if self.proc.stderr else ''}")
            if echo(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError("server did not answer C-ECHO in time")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def terminate(self, timeout_s: float = 60.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return int(self.proc.returncode)


def echo(port: int) -> bool:
    from pynetdicom import AE

    ae = AE(ae_title="BENCH")
    ae.add_requested_context("1.2.840.10008.1.1")
    ae.acse_timeout = ae.network_timeout = 2
    try:
        a = ae.associate("127.0.0.1", port, ae_title="SKINDOSE")
    except Exception:
        return False
    if not a.is_established:
        return False
    ok = a.send_c_echo().get("Status", None) == 0
    a.release()
    return ok


def _sender(port: int, datasets: list[Any], acked: dict[str, float], sent_at: dict[str, float],
            lock: threading.Lock, deadline: float, errors: list[str], per_assoc: int) -> None:
    """Send until every dataset is acknowledged (reconnecting after failures)."""
    from pynetdicom import AE

    todo = list(datasets)
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.88.67")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    while todo and time.monotonic() < deadline:
        try:
            assoc = ae.associate("127.0.0.1", port, ae_title="SKINDOSE")
        except Exception:
            time.sleep(0.2)
            continue
        if not assoc.is_established:
            time.sleep(0.2)
            continue
        try:
            n = 0
            while todo and n < per_assoc:
                ds = todo[0]
                uid = str(ds.SOPInstanceUID)
                t0 = time.time()
                with lock:
                    sent_at.setdefault(uid, t0)
                st = assoc.send_c_store(ds)
                if st.get("Status", None) == 0:
                    with lock:
                        acked[uid] = t0
                    todo.pop(0)
                    n += 1
                else:  # no response or a failure status: reconnect and resend
                    with lock:
                        errors.append(f"no success status for {uid} (resent)")
                    break
            assoc.release()
        except Exception as exc:  # the server died under us
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            assoc.abort()
            time.sleep(0.2)
    if todo:
        with lock:
            errors.append(f"{len(todo)} dataset(s) never acknowledged")


def send_all(port: int, datasets: list[Any], senders: int, *, deadline_s: float = 1800.0,
             per_assoc: int = 10) -> tuple[dict[str, float], dict[str, float], list[str],
                                           list[threading.Thread]]:
    """Start ``senders`` threads splitting ``datasets``; returns (acked, first-sent times,
    errors, threads) — join the threads to wait."""
    acked: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + deadline_s
    threads = []
    for k in range(senders):
        part = datasets[k::senders]
        t = threading.Thread(target=_sender, args=(port, part, acked, sent_at, lock, deadline,
                                                   errors, per_assoc), daemon=True)
        t.start()
        threads.append(t)
    return acked, sent_at, errors, threads


def wait_computed(data_dir: Path, n: int, timeout_s: float = 1800.0) -> dict[str, int]:
    from skindose.node.registry import open_registry

    reg = open_registry(data_dir)
    end = time.monotonic() + timeout_s
    try:
        while time.monotonic() < end:
            c = reg.counts()
            done = c.get("instances_done", 0) + c.get("instances_not_applicable", 0) + c.get(
                "instances_failed", 0)
            if done >= n and c.get("patients_dirty", 0) == 0:
                return c
            time.sleep(0.1)
        return reg.counts()
    finally:
        reg.close()


def check(data_dir: Path, acked: dict[str, float], sent: set[str]) -> dict[str, Any]:
    """The soak's invariants, as counts (``problems`` lists every violation)."""
    from skindose.node.registry import open_registry
    from skindose.node.storage import sha256_file

    reg = open_registry(data_dir)
    try:
        rows = reg.instances()
        integrity = reg.integrity_check()
        counts = reg.counts()
    finally:
        reg.close()
    problems = []
    uids = [d["sop_instance_uid"] for d in rows]
    stored = set(uids)
    if len(uids) != len(stored):
        problems.append("an instance has two registry rows")
    lost = set(acked) - stored
    if lost:
        problems.append(f"{len(lost)} acknowledged instance(s) lost")
    if stored - sent:
        problems.append("registry holds instances nobody sent")
    files = [p for p in (data_dir / "instances").rglob("*") if p.is_file()]
    if len(files) != len(stored):
        problems.append(f"{len(files)} files for {len(stored)} instances")
    not_done = [d for d in rows if d["state"] != "done"]
    if not_done:
        problems.append(f"{len(not_done)} instance(s) not computed: "
                        f"{sorted({d['state'] for d in not_done})}")
    for d in rows:
        if sha256_file(data_dir / d["path"]) != d["sha256"]:
            problems.append(f"checksum differs: {d['sop_instance_uid']}")
        if d["state"] == "done" and not (data_dir / d["report_dir"] / "summary.json").is_file():
            problems.append(f"report missing: {d['sop_instance_uid']}")
    if counts.get("results", 0) != len([d for d in rows if d["state"] == "done"]):
        problems.append("results rows differ from computed instances")
    log = (data_dir / "node.log").read_text(encoding="utf-8", errors="replace")
    committed: dict[str, int] = {}
    for line in log.splitlines():
        if " INFO result " in line and " psd " in line:
            tag = line.split(" INFO result ", 1)[1].split(":", 1)[0]
            committed[tag] = committed.get(tag, 0) + 1
    dups = 0
    for line in log.splitlines():
        if " stored, " in line and " duplicate(s)" in line:
            dups += int(line.split(" stored, ", 1)[1].split(" duplicate", 1)[0])
    twice = [k for k, v in committed.items() if v > 1]
    if twice:
        problems.append(f"{len(twice)} instance(s) logged as computed twice")
    leftovers = [p for p in data_dir.rglob(".tmp-*")]
    return {"instances": len(stored), "acknowledged": len(acked), "sent": len(sent),
            "results": counts.get("results", 0), "files": len(files),
            "integrity_check": integrity, "tmp_leftovers": len(leftovers),
            "resends_acknowledged_as_duplicates": dups,
            "problems": problems + ([] if integrity == "ok" else ["integrity_check failed"])}


def soak(n: int = 200, senders: int = 4, kills: int = 1, *, workers: int = 2,
         data_dir: Path | None = None, seed: int = 0, kill_window_s: tuple[float, float] = (
             0.5, 3.0)) -> dict[str, Any]:
    """Soak with SIGKILLs; returns counts, times and ``problems`` (empty when all is well)."""
    rng = random.Random(seed)
    data_dir = Path(data_dir or tempfile.mkdtemp(prefix="skindose-soak-")) / "node"
    datasets = make_datasets(n)
    port = free_port()
    server = Server(data_dir, port, workers=workers)
    server.start()
    t0 = time.monotonic()
    kill_times = []
    try:
        acked, sent_at, errors, threads = send_all(port, datasets, senders)
        for _ in range(kills):
            time.sleep(rng.uniform(*kill_window_s))
            kill_times.append(round(time.monotonic() - t0, 2))
            server.kill()
            server.start()
        for t in threads:
            t.join()
        sent_s = time.monotonic() - t0
        counts = wait_computed(data_dir, n)
        total_s = time.monotonic() - t0
    finally:
        rc = server.terminate()
    res = check(data_dir, acked, set(sent_at))
    res.update({"n": n, "senders": senders, "kills": kills, "kill_times_s": kill_times,
                "send_s": round(sent_s, 2), "total_s": round(total_s, 2),
                "sender_faults": len(errors), "exit_code_sigterm": rc,
                "registry_counts": counts, "data_dir": str(data_dir)})
    return res


def bench(n: int = 200, senders: int = 1, *, workers: int = 2,
          data_dir: Path | None = None, report: str = "summary") -> dict[str, Any]:
    """Throughput and C-STORE→result latency."""
    from skindose.node.registry import open_registry

    data_dir = Path(data_dir or tempfile.mkdtemp(prefix="skindose-bench-")) / "node"
    datasets = make_datasets(n)
    port = free_port()
    server = Server(data_dir, port, workers=workers, report=report)
    server.start()
    try:
        t0 = time.time()
        acked, _, errors, threads = send_all(port, datasets, senders)
        for t in threads:
            t.join()
        t_recv = time.time() - t0
        wait_computed(data_dir, n)
        reg = open_registry(data_dir)
        rows = reg.instances()
        reg.close()
    finally:
        server.terminate()
    done = [d for d in rows if d["computed_at"] is not None]
    t_all = max(d["computed_at"] for d in done) - t0
    lat = sorted(d["computed_at"] - acked[d["sop_instance_uid"]] for d in done
                 if d["sop_instance_uid"] in acked)
    return {"n": n, "senders": senders, "workers": workers, "report": report,
            "received_per_s": n / t_recv,
            "received_and_computed_per_s": len(done) / t_all,
            "median_store_to_result_s": statistics.median(lat),
            "p90_store_to_result_s": lat[int(0.9 * (len(lat) - 1))],
            "errors": len(errors)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--n", type=int, default=200)
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--senders", type=int, nargs="+", default=[1, 4])
    b.add_argument("--report", choices=("summary", "full"), default="summary")
    s = sub.add_parser("soak")
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--senders", type=int, default=4)
    s.add_argument("--kills", type=int, default=5)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--kill-window", type=float, nargs=2, default=(1.0, 8.0))
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if args.mode == "bench":
        res: Any = [bench(args.n, k, workers=args.workers, report=args.report)
                    for k in args.senders]
        for r in res:
            print(f"{r['senders']} sender(s), {r['workers']} workers, {r['n']} RDSRs, "
                  f"report {r['report']}: "
                  f"received {r['received_per_s']:.1f}/s, received+computed "
                  f"{r['received_and_computed_per_s']:.1f}/s, median C-STORE->result "
                  f"{r['median_store_to_result_s'] * 1e3:.0f} ms (p90 "
                  f"{r['p90_store_to_result_s'] * 1e3:.0f} ms)")
    else:
        res = soak(args.n, args.senders, args.kills, workers=args.workers, seed=args.seed,
                   kill_window_s=tuple(args.kill_window))
        print(json.dumps({k: v for k, v in res.items()}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    if args.mode == "soak" and res["problems"]:
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
