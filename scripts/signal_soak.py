"""Soak: SIGINT / SIGTERM at random moments of `skindose compute --out` and `skindose demo`.

    python scripts/signal_soak.py --n 20 --json soak.json

The command runs as the ``skindose`` console script does (``python -m _skindose_launch``).
Each command first runs twice to completion (the first run fills Numba's cache; T is the
shorter run). Then, per command and signal kind, three series counted apart:

* ``random``: ``--n`` moments uniform over [0, fraction x T] (the whole run);
* ``start-up``: ``--startup`` moments uniform over [50 ms, 500 ms], while Python imports
  skindose, numpy and the rest (before ``skindose.cli`` installs its handlers; the launcher's
  handlers cover it);
* ``interpreter start``: ``--pre`` moments uniform over [0, 50 ms], the interpreter's own
  start-up before any skindose code runs (see docs/trust.md, "Interrupts").

Every ending is classified by
``tests/cli/_signals.py``: ``clean`` (exit 130 / 143, one line, no traceback, no partial or
temporary folder) or ``finished-first`` (the run ended before the moment came) are good.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cli._signals import LAUNCHER, interrupt  # noqa: E402

RDSR = REPO.parent / "shared" / "data" / "rdsr" / "pyskindose__siemens_axiom_artis.dcm"
GOOD = ("clean", "finished-first")
STARTUP_S = (0.05, 0.5)
PRE_S = (0.0, 0.05)


def _cmd(name: str, out: Path) -> list[str]:
    return ["demo", "--out", str(out)] if name == "demo" else [
        "compute", str(RDSR), "--out", str(out)]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _series(name: str, sig: int, moments: list[float], group: str) -> dict:
    rcs: collections.Counter = collections.Counter()
    verdicts: collections.Counter = collections.Counter()
    lines: collections.Counter = collections.Counter()
    bad = []
    n_tb = n_left = n_partial = 0
    t0 = time.perf_counter()
    for i, delay in enumerate(moments):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "report"
            e = interrupt(_cmd(name, out), Path(d), out, sig, delay)
        rcs[e.rc] += 1
        verdicts[e.verdict] += 1
        n_tb += "Traceback" in e.stderr
        n_left += bool(e.leftovers)
        n_partial += e.out_state == "partial"
        if e.verdict == "clean":
            lines["while starting" if "while starting" in e.stderr else "during the run"] += 1
        if e.verdict not in GOOD:
            bad.append({"delay_s": round(delay, 3), "rc": e.rc, "verdict": e.verdict,
                        "stderr": e.stderr[-600:]})
        print(f"{name} {group} {signal.Signals(sig).name} {i + 1}/{len(moments)} at "
              f"{delay:.3f}s: {e.verdict} (rc {e.rc})", file=sys.stderr, flush=True)
    return {"signal": signal.Signals(sig).name, "moments": group, "n": len(moments),
            "delays_s": [round(x, 3) for x in sorted(moments)],
            "exit_codes": {str(k): v for k, v in sorted(rcs.items())},
            "verdicts": dict(verdicts), "clean_lines": dict(lines), "tracebacks": n_tb,
            "temporary_folders_left": n_left, "partial_outputs": n_partial,
            "bad": len(bad), "problems": bad, "seconds": round(time.perf_counter() - t0, 1),
            "load_after": _load()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20,
                    help="signals at random moments of the run, per command and signal kind")
    ap.add_argument("--startup", type=int, default=6,
                    help="signals in the start-up, {:g}-{:g} s".format(*STARTUP_S))
    ap.add_argument("--pre", type=int, default=0,
                    help="signals in the interpreter's own start, {:g}-{:g} s".format(*PRE_S))
    ap.add_argument("--signals", default="SIGINT,SIGTERM")
    ap.add_argument("--commands", default="compute,demo")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--fraction", type=float, default=0.9,
                    help="moments uniform over [0, fraction x the run time]")
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    report: dict = {"launcher": LAUNCHER, "python": sys.version.split()[0],
                    "load_before": _load(), "commands": {}}
    for name in a.commands.split(","):
        runs = []
        for _ in range(2):  # the first also fills Numba's cache; the shorter one is T
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", LAUNCHER, *_cmd(name, Path(d) / "w")],
                               capture_output=True, timeout=600, check=True, cwd=d)
                runs.append(time.perf_counter() - t0)
        t_run = min(runs)
        series = []
        for sig_name in a.signals.split(","):
            sig = getattr(signal, sig_name)
            for group, n, (lo, hi) in (("random", a.n, (0.0, a.fraction * t_run)),
                                       ("start-up", a.startup, STARTUP_S),
                                       ("interpreter start", a.pre, PRE_S)):
                if n:
                    moments = [rng.uniform(lo, hi) for _ in range(n)]
                    series.append(_series(name, sig, moments, group))
        report["commands"][name] = {"run_s": [round(r, 2) for r in runs], "series": series}
    report["load_after"] = _load()
    text = json.dumps(report, indent=2)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
