"""Where ``skindose.compute`` spends its time, and what the parallel kernel buys.

Usage::

    .venv/bin/python benchmarks/profile_compute.py profile [--events 10000 --cells 100000]
    .venv/bin/python benchmarks/profile_compute.py parallel [--events 1000 --area 1.0]

``profile``: cProfile of one warm ``compute`` on ``example_procedure(events)`` on the adult
with about ``cells`` cells; writes ``profile_compute.txt`` (the top functions by own time and
by cumulative time, a few KB) to ``--out``. ``parallel``: the same ``compute`` with
``Settings(parallel=False)`` and ``Settings(parallel=True)``, best of ``--repeat``, with the time
spent inside ``kernel.accumulate_dose`` measured separately (a timing wrapper); appends a row to
``parallel.csv`` and prints it. Both warm the Numba kernel first (serial and parallel variants).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import area_for_cells, load, write_csv  # noqa: E402


def _setup(events: int, area: float):
    import skindose
    from skindose import phantoms
    from skindose.rdsr.synthetic import example_procedure
    from skindose.settings import Settings

    ph = phantoms.adult(cell_area_cm2=area)
    for par in (False, True):  # load (or compile) both kernel variants
        skindose.compute(example_procedure(3, seed=1), ph, settings=Settings(parallel=par))
    return skindose, ph, example_procedure(events)


def profile(events: int, cells: int, out: Path, top: int = 25) -> str:
    """cProfile one warm ``compute``; returns the report (also written to ``out``)."""
    area = area_for_cells(cells)
    skindose, ph, proc = _setup(events, area)
    l0 = load()
    t0 = time.perf_counter()
    skindose.compute(proc, ph)
    plain = time.perf_counter() - t0
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    skindose.compute(proc, ph)
    prof.disable()
    profiled = time.perf_counter() - t0
    buf = io.StringIO()
    buf.write(f"compute: example_procedure({events}), adult {area:.4g} cm2 = {ph.n_cells} cells; "
              f"{plain:.2f} s without the profiler, {profiled:.2f} s under cProfile; "
              f"load {max(l0, load()):.2f}; {os.cpu_count()} cores\n\n")
    st = pstats.Stats(prof, stream=buf)
    st.strip_dirs()
    buf.write("=== by own time (tottime) ===\n")
    st.sort_stats("tottime").print_stats(top)
    buf.write("=== by cumulative time ===\n")
    st.sort_stats("cumulative").print_stats(top)
    text = buf.getvalue()
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile_compute.txt").write_text(text)
    return text


def parallel(events: int, area: float, repeat: int, out: Path) -> dict:
    """Serial vs parallel kernel: whole ``compute`` and the time inside ``accumulate_dose``."""
    import numba

    from skindose import kernel
    from skindose.settings import Settings

    skindose, ph, proc = _setup(events, area)
    inner = kernel.accumulate_dose
    spent = [0.0]

    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            spent[0] += time.perf_counter() - t

    kernel.accumulate_dose = timed
    row: dict = {"events": proc.n_events, "cells": ph.n_cells, "cell_area_cm2": area,
                 "numba_threads": numba.config.NUMBA_NUM_THREADS, "repeat": repeat}
    l0 = load()
    try:
        for par in (False, True):
            best, best_k = float("inf"), float("inf")
            for _ in range(repeat):
                spent[0] = 0.0
                t0 = time.perf_counter()
                skindose.compute(proc, ph, settings=Settings(parallel=par))
                dt = time.perf_counter() - t0
                if dt < best:
                    best, best_k = dt, spent[0]
            tag = "parallel" if par else "serial"
            row[f"{tag}_compute_s"], row[f"{tag}_kernel_s"] = best, best_k
    finally:
        kernel.accumulate_dose = inner
    row["speedup_compute"] = row["serial_compute_s"] / row["parallel_compute_s"]
    row["speedup_kernel"] = row["serial_kernel_s"] / row["parallel_kernel_s"]
    row["load"] = round(max(l0, load()), 2)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "parallel.csv", [row])
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("profile", "parallel"))
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--cells", type=int, default=100_000, help="profile: target cell count")
    ap.add_argument("--area", type=float, default=1.0, help="parallel: cell area (cm²)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    if args.what == "profile":
        print(profile(args.events or 10_000, args.cells, args.out))
    else:
        print(parallel(args.events or 1_000, args.area, args.repeat, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
