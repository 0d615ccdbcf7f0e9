"""Soak: SIGINT / SIGTERM at random moments of `skindose compute --out` and `skindose demo`.

    python scripts/signal_soak.py --n 20 --json soak.json

Moments are uniform over [0, 0.9 T] (T: the shorter of two runs of the command, measured
first), so they
include Python's start-up; every ending is classified (see ``tests/cli/_signals.py``).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cli._signals import interrupt  # noqa: E402

RDSR = REPO.parent / "shared" / "data" / "rdsr" / "pyskindose__siemens_axiom_artis.dcm"


def _cmd(name: str, out: Path) -> list[str]:
    return ["demo", "--out", str(out)] if name == "demo" else [
        "compute", str(RDSR), "--out", str(out)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20, help="signals per command")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--fraction", type=float, default=0.9,
                    help="moments uniform over [0, fraction x the run time]")
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    report: dict = {}
    for name in ("compute", "demo"):
        runs = []
        for _ in range(2):  # the shorter of two runs: the moments must fall inside the run
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "skindose.cli",
                                *_cmd(name, Path(d) / "w")], capture_output=True, timeout=600)
                runs.append(time.perf_counter() - t0)
        t_run = a.fraction * min(runs)
        verdicts: collections.Counter = collections.Counter()
        bad = []
        for i in range(a.n):
            sig = signal.SIGINT if i % 4 != 3 else signal.SIGTERM
            delay = rng.uniform(0.0, t_run)
            with tempfile.TemporaryDirectory() as d:
                out = Path(d) / "report"
                e = interrupt(_cmd(name, out), Path(d), out, sig, delay)
            verdicts[f"{e.signal} {e.verdict}"] += 1
            if e.verdict not in ("clean", "finished-first"):
                bad.append({"signal": e.signal, "delay_s": round(delay, 3), "rc": e.rc,
                            "verdict": e.verdict, "stderr": e.stderr[-400:]})
            print(f"{name} {i + 1}/{a.n} {e.signal} at {delay:.2f}s: {e.verdict} (rc {e.rc})",
                  file=sys.stderr, flush=True)
        report[name] = {"run_s": round(t_run, 2), "signals": a.n, "verdicts": dict(verdicts),
                        "problems": bad}
    text = json.dumps(report, indent=2)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
