"""Time of the PSD uncertainty interval on a synthetic 316-event cardiac procedure.

Usage: python benchmarks/uncertainty_bench.py [--events 316] [--cell 1.0] [--n 8]

Prints the time of one compute (after a warm-up that compiles the kernel), the time of
psd_interval with the nominal map passed in (n geometry re-runs + 1 table-off compute), the
ratio, and the interval.
"""

from __future__ import annotations

import argparse
import json
import time

from skindose import phantoms, uncertainty
from skindose.compute import compute
from skindose.rdsr.synthetic import example_procedure
from skindose.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=316)
    ap.add_argument("--cell", type=float, default=1.0)
    ap.add_argument("--n", type=int, default=6)
    args = ap.parse_args()
    s = Settings(cell_area_cm2=args.cell)
    p = example_procedure(n_events=args.events, seed=17)
    ph, _ = phantoms.default_phantom(p, s)
    compute(example_procedure(n_events=3), ph, s)  # warm-up (JIT)
    t = time.perf_counter()
    nominal = compute(p, ph, s)
    t_one = time.perf_counter() - t
    t = time.perf_counter()
    iv = uncertainty.psd_interval(p, ph, s, n=args.n, nominal=nominal)
    t_iv = time.perf_counter() - t
    out = {
        "events": args.events, "cells": ph.n_cells, "phantom": ph.name, "n_geometry": args.n,
        "compute_s": round(t_one, 2), "interval_s": round(t_iv, 2),
        "ratio": round(t_iv / t_one, 2), "n_computes": iv.n_computes,
        "headline": iv.headline(), "relative_half_width": round(iv.relative_half_width, 3),
        "location_spread_cm": round(iv.location_spread_cm, 1),
        "variance_share": {k: round(v, 3) for k, v in iv.variance_share.items()},
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
