"""Ctrl-C and SIGTERM at random moments of `skindose compute` and `skindose demo`: exit 130 /
143 with one line, no traceback, no partial output folder (the soak with 20+ signals per
command is ``scripts/signal_soak.py``). The command runs as its console script does, through
the launcher ``_skindose_launch``, whose handlers cover the start-up (Python importing
skindose, numpy and the rest before ``skindose.cli`` runs)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.cli._signals import LAUNCHER, interrupt

RNG = random.Random(11)
# a moment in the start-up: after the interpreter's own first ~50 ms (before any skindose code
# can run, see docs/trust.md), well before `import skindose` (about 0.5 s) is done
STARTUP_S = 0.15


@pytest.mark.parametrize("sig, delay", [
    (signal.SIGINT, STARTUP_S),
    (signal.SIGINT, RNG.uniform(1.0, 2.5)),
    (signal.SIGINT, RNG.uniform(2.5, 5.0)),
    (signal.SIGTERM, RNG.uniform(1.0, 5.0)),
])
def test_compute_interrupted(rdsr_dir, tmp_path, sig, delay):
    out = tmp_path / "report"
    e = interrupt(["compute", str(rdsr_dir / "pyskindose__siemens_axiom_artis.dcm"), "--out",
                   str(out)], tmp_path, out, sig, delay)
    assert e.verdict in ("clean", "finished-first"), e
    if e.verdict == "clean":
        assert e.out_state == "absent"
    if delay == STARTUP_S:
        assert e.verdict == "clean", e  # it cannot have finished in 0.15 s


@pytest.mark.parametrize("sig, delay", [
    (signal.SIGTERM, STARTUP_S),
    (signal.SIGINT, RNG.uniform(1.0, 6.0)),
    (signal.SIGTERM, RNG.uniform(1.0, 6.0)),
])
def test_demo_interrupted(tmp_path, sig, delay):
    out = tmp_path / "skindose-demo"
    e = interrupt(["demo"], tmp_path, out, sig, delay)
    assert e.verdict in ("clean", "finished-first"), e
    if e.verdict == "clean":
        assert e.out_state == "absent"
    if delay == STARTUP_S:
        assert e.verdict == "clean", e


def _child(code: str, *, ignore_int: bool = False) -> subprocess.CompletedProcess:
    def dispositions() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN if ignore_int else signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, preexec_fn=dispositions)


@pytest.mark.parametrize("sig, rc", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_launcher_handles_a_signal_before_skindose_is_imported(sig, rc):
    """The launcher's handlers are in place before its first import of skindose: a signal then
    (sent by the process to itself, so the moment is certain) gives the exit code and one
    line, and skindose was never imported."""
    r = _child("import os, signal, sys, time; import _skindose_launch as L; L._install(); "
               f"os.kill(os.getpid(), {int(sig)}); time.sleep(0.5); "
               "print('skindose' in sys.modules); time.sleep(30)")
    assert r.returncode == rc, r
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted by" in lines[0] and "while starting" in lines[0], r


def test_launcher_keeps_an_ignored_sigint_ignored():
    """nohup / a background job: SIGINT ignored by the parent stays ignored."""
    r = _child("import os, signal, time; import _skindose_launch as L; L._install(); "
               "os.kill(os.getpid(), signal.SIGINT); time.sleep(0.3); print('alive')",
               ignore_int=True)
    assert r.returncode == 0 and r.stdout.strip() == "alive", r


@pytest.mark.parametrize("module", [LAUNCHER, "skindose"])
def test_python_m_runs_the_command(module):
    r = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("skindose "), r


def test_batch_interrupt_says_what_is_on_disk(tmp_path):
    """``batch`` writes one row per finished file as it goes: its interrupt line must not claim
    "no partial output"; it names results.csv and --resume, and the rows on disk are whole."""
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    from skindose.rdsr.synthetic import example_procedure, write_rdsr

    d = tmp_path / "in"
    d.mkdir()
    for i in range(8):
        write_rdsr(example_procedure(12, seed=i), d / f"f{i}.dcm")
    settings = tmp_path / "coarse.toml"
    settings.write_text("cell_area_cm2 = 4.0\n")
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", LAUNCHER, "batch", str(d), "--out", str(out),
                          "--workers", "1", "--settings", str(settings), "--phantom",
                          "cylinder", "--no-progress"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    csv = out / "results.csv"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if csv.exists() and len(csv.read_text().splitlines()) >= 2:  # header + one row
                break
            time.sleep(0.05)
        assert p.poll() is None, "finished before it could be interrupted"
        os.killpg(p.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole group
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "no partial output" not in lines[0]
    assert "results.csv" in lines[0] and "--resume" in lines[0]
    rows = csv.read_text().splitlines()[1:]
    assert 1 <= len(rows) < 8 and all(r.split(",")[4] == "ok" for r in rows)
    assert not (out / "results.parquet").exists()  # as the line says: not written
