"""Faults: SIGKILL at a random moment during a 200-RDSR load, SIGTERM, ``--once``, the registry
command. The server runs as a subprocess (``skindose serve``), always stopped."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import SETTINGS, store_scu, synthetic_rdsr

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "node_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("skindose_node_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_soak_200_rdsrs_4_associations_sigkill_restart(tmp_path):
    nb = _bench()
    seed = random.SystemRandom().randrange(1 << 30)
    res = nb.soak(200, senders=4, kills=1, workers=2, data_dir=tmp_path, seed=seed,
                  kill_window_s=(0.3, 4.0))
    print(json.dumps({k: v for k, v in res.items() if k != "data_dir"}))
    assert res["problems"] == [], (seed, res["problems"])
    assert res["acknowledged"] == res["sent"] == res["instances"] == 200
    assert res["results"] == res["files"] == 200
    assert res["integrity_check"] == "ok"
    assert res["tmp_leftovers"] == 0
    assert res["exit_code_sigterm"] == 143
    assert len(res["kill_times_s"]) == 1


def _serve(data_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from skindose.cli import main; sys.exit(main())",
         "serve", "--data-dir", str(data_dir), "--port", str(port), "--workers", "1",
         "--phantom", "plane", "--cell-area-cm2", "25", "--settings", str(SETTINGS),
         "--report", "summary", "--timeout", "10", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_echo(nb, port: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        if nb.echo(port):
            return
        time.sleep(0.1)
    pytest.fail("server did not start")


def test_sigterm_is_graceful_and_once_stops_by_itself(tmp_path):
    nb = _bench()
    port = nb.free_port()
    d = tmp_path / "node"
    p = _serve(d, port)
    try:
        _wait_echo(nb, port, p)
        assert store_scu(port, [synthetic_rdsr(51), synthetic_rdsr(52)]) == [0, 0]
        p.send_signal(15)
        _out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 143, err
    assert "stopped" in err
    # the stored instances survive and are computed at the next start; --once then exits 0
    port = nb.free_port()
    p = _serve(d, port, "--once")
    try:
        _wait_echo(nb, port, p)  # the echo association is "the first association"
        _out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    r = subprocess.run([sys.executable, "-c", "import sys; from skindose.cli import main; "
                        "sys.exit(main())", "registry", "--data-dir", str(d), "list", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (pat,) = json.loads(r.stdout)
    assert pat["patient_id"] == "PAT-1" and pat["n_procedures"] == 2
    assert pat["states"] == ["done"]
    r = subprocess.run([sys.executable, "-c", "import sys; from skindose.cli import main; "
                        "sys.exit(main())", "registry", "--data-dir", str(d), "check"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "integrity_check: ok" in r.stdout
    r = subprocess.run([sys.executable, "-c", "import sys; from skindose.cli import main; "
                        "sys.exit(main())", "registry", "--data-dir", str(d), "show", "1",
                        "--json"], capture_output=True, text=True, timeout=120)
    shown = json.loads(r.stdout)
    assert shown["state"] == "done" and shown["psd_gy"] > 0
    r = subprocess.run([sys.executable, "-c", "import sys; from skindose.cli import main; "
                        "sys.exit(main())", "registry", "--data-dir", str(tmp_path / "none"),
                        "list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_second_server_on_same_data_dir_refused(start_node):
    nb = _bench()
    node = start_node()
    port = nb.free_port()
    p = _serve(node.data_dir, port)
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 2
    assert "another skindose serve" in err
    assert "Traceback" not in err
    assert os.path.exists(node.data_dir / "registry.sqlite")
