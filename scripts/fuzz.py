"""The long fuzz campaign over the real RDSRs (see ``tests/fuzz/mutate.py`` for the mutators and
the invariants; ``tests/fuzz/test_fuzz.py`` runs a bounded version).

Usage::

    python scripts/fuzz.py --n 10000 --workers 2 --json fuzz.json
    python scripts/fuzz.py --replay FILE.dcm KIND SEED       # one mutant, verbose

Mutant ``i`` of a campaign with base seed ``S`` is (file ``i mod 9``, kind
``(i // 9) mod 11``, seed ``S * 1_000_003 + i``): the mix is uniform over files and classes and
every mutant can be replayed. A mutant that uses more than its limit of CPU time
(``--timeout``) is a hang; a worker that gives no answer within ten times that of wall-clock
time (stuck in native code, or waiting) is recorded as a hang too and the pool is restarted.
CPU time, not wall time: a worker starved by a loaded machine is not hanging.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fuzz import mutate  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "rdsr"

_STATE: dict = {}


def _init() -> None:
    import warnings

    warnings.simplefilter("ignore")
    _STATE["files"] = {p.name: p.read_bytes() for p in sorted(DATA.glob("*.dcm"))}
    _STATE["phantom"] = mutate.coarse_phantom()
    _STATE["settings"] = mutate.fuzz_settings()


def _one(job: tuple[str, str, int, float]) -> dict:
    name, kind, seed, timeout = job
    o = mutate.run_mutant(DATA / name, _STATE["files"][name], kind, seed, _STATE["phantom"],
                          _STATE["settings"], timeout_s=timeout)
    return o.__dict__


def jobs(n: int, base: int, timeout: float) -> list[tuple[str, str, int, float]]:
    files = sorted(p.name for p in DATA.glob("*.dcm"))
    return [(files[i % len(files)], mutate.CLASSES[(i // len(files)) % len(mutate.CLASSES)],
             base * 1_000_003 + i, timeout) for i in range(n)]


def campaign(n: int, workers: int, base: int, timeout: float, progress: bool = True,
             log: Path | None = None) -> dict:
    todo = jobs(n, base, timeout)
    results: list[dict] = []
    logf = log.open("w", encoding="utf-8") if log else None
    t0 = time.perf_counter()
    ctx = mp.get_context("fork")
    pos = 0
    while pos < len(todo):
        with ctx.Pool(workers, initializer=_init, maxtasksperchild=500) as pool:
            it = pool.imap(_one, todo[pos:], chunksize=1)
            try:
                while pos < len(todo):
                    results.append(it.next(timeout=10 * timeout + 60))
                    pos += 1
                    if logf:
                        logf.write(json.dumps(results[-1]) + "\n")
                        logf.flush()
                    if progress and pos % 200 == 0:
                        dt = time.perf_counter() - t0
                        print(f"  {pos}/{n}  {pos / dt:.1f} mutants/s", file=sys.stderr,
                              flush=True)
            except mp.TimeoutError:
                name, kind, seed, _ = todo[pos]
                results.append({"file": name, "seed": seed, "kind": kind, "detail": "",
                                "failures": ["hang"], "messages": ["worker stuck"],
                                "read_ok": False, "computed": False, "rejected": "",
                                "seconds": 10 * timeout})
                pos += 1
                pool.terminate()
    wall = time.perf_counter() - t0
    return summarise(results, wall, workers)


def summarise(results: list[dict], wall: float, workers: int) -> dict:
    per_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: dict[str, list[dict]] = collections.defaultdict(list)
    for r in results:
        c = per_kind[r["kind"]]
        c["mutants"] += 1
        c["rejected (SkinDoseError)"] += bool(r["rejected"])
        c["read"] += r["read_ok"]
        c["computed"] += r["computed"]
        for f in r["failures"]:
            c[f] += 1
            failures[f].append(r)
    return {
        "mutants": len(results),
        "wall_s": round(wall, 1),
        "workers": workers,
        "per_kind": {k: dict(v) for k, v in sorted(per_kind.items())},
        "failure_counts": {k: len(v) for k, v in sorted(failures.items())},
        "failure_examples": {k: [{x: r[x] for x in ("file", "kind", "seed", "detail",
                                                    "messages")} for r in v[:5]]
                             for k, v in sorted(failures.items())},
        "max_mutant_s": round(max((r["seconds"] for r in results), default=0.0), 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="per mutant, seconds")
    ap.add_argument("--json", type=Path, help="write the summary here")
    ap.add_argument("--log", type=Path, help="write every outcome here as it comes (JSON lines)")
    ap.add_argument("--summarise", type=Path, metavar="LOG",
                    help="summarise a (partial) log instead of running")
    ap.add_argument("--replay", nargs=3, metavar=("FILE", "KIND", "SEED"))
    a = ap.parse_args(argv)
    if a.replay:
        _init()
        name, kind, seed = a.replay
        print(json.dumps(_one((name, kind, int(seed), a.timeout)), indent=2))
        return 0
    if a.summarise:
        rows = [json.loads(x) for x in a.summarise.read_text(encoding="utf-8").splitlines()
                if x.strip()]
        s = summarise(rows, float("nan"), a.workers)
    else:
        s = campaign(a.n, a.workers, a.seed, a.timeout, log=a.log)
    text = json.dumps(s, indent=2)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    bad = sum(s["failure_counts"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
