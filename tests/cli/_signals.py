"""Send a signal to a running ``skindose`` command at a chosen moment and judge the ending.

Used by ``tests/cli/test_signals.py`` (a few signals) and ``scripts/signal_soak.py`` (many).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

EXPECTED_RC = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: what the ``skindose`` console script runs (pyproject.toml [project.scripts])
LAUNCHER = "_skindose_launch"


@dataclass
class Ending:
    command: str
    signal: str
    delay_s: float
    rc: int
    stderr: str
    leftovers: list[str]
    out_state: str  # "absent", "complete" or "partial"
    verdict: str  # "clean", "finished-first", or what was wrong


def _default_dispositions() -> None:
    """In the child: SIGINT and SIGTERM as a terminal gives them, even when this process was
    started in the background (where a non-interactive shell ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _out_state(out: Path) -> str:
    if not out.exists():
        return "absent"
    names = {p.name for p in out.iterdir()}
    need = {"summary.json", "report.html"}
    return "complete" if need <= names else "partial"


def interrupt(args: list[str], cwd: Path, out: Path, sig: int, delay_s: float,
              timeout_s: float = 300.0) -> Ending:
    """Run ``skindose ARGS`` in ``cwd``, send ``sig`` after ``delay_s`` and judge the ending."""
    env = dict(os.environ)
    p = subprocess.Popen([sys.executable, "-m", LAUNCHER, *args], cwd=cwd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_default_dispositions)
    time.sleep(delay_s)
    sent = p.poll() is None
    if sent:
        p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return Ending(args[0], signal.Signals(sig).name, delay_s, -9, err, [], "?", "hang")
    parent = out.absolute().parent
    leftovers = sorted(x.name for x in parent.iterdir() if ".partial-" in x.name)
    state = _out_state(out)
    lines = err.strip().splitlines()
    if "Traceback" in err:
        verdict = "traceback"
    elif p.returncode < 0:
        verdict = f"killed by {signal.Signals(-p.returncode).name}"
    elif leftovers:
        verdict = "temporary folder left"
    elif state == "partial":
        verdict = "partial output"
    elif p.returncode == EXPECTED_RC[sig]:
        verdict = "clean" if len(lines) == 1 and "interrupted" in lines[0] else "not one line"
    elif p.returncode in (0, 3, 4):
        # not sent: the run had ended before the moment came; sent: ignored, or it came while
        # the interpreter was already shutting down after the run
        verdict = "ignored or after the end" if sent else "finished-first"
    else:
        verdict = f"exit {p.returncode}"
    return Ending(args[0], signal.Signals(sig).name, delay_s, p.returncode, err[-2000:],
                  leftovers, state, verdict)
