"""Validation table of docs/validation.md: our PSD and 95 % interval per phantom on public files.

Usage: python scripts/validation_table.py [--cell 1.0] [--n 8] [DIR]

DIR (default ../shared/data/rdsr) holds the public RDSRs: OpenREM's RF-RDSR-Siemens-Zee.dcm
(Monte-Carlo PSD 1.54 mGy, per OpenREM's commit of 2022-08-14) and PySkinDose's four example
files (PySkinDose 25.1.1 PSDs on its default hudfrid phantom). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from skindose import phantoms, uncertainty
from skindose.compute import compute
from skindose.rdsr import read_rdsr
from skindose.settings import Settings

#: file -> (reference PSD in mGy, what the reference is)
REFERENCES = {
    "openrem__RF-RDSR-Siemens-Zee.dcm": (1.54, "Monte Carlo (OpenREM)"),
    "pyskindose__siemens_axiom_example_procedure.dcm": (14.99, "PySkinDose 25.1.1, hudfrid"),
    "pyskindose__siemens_axiom_artis.dcm": (1.187, "PySkinDose 25.1.1, hudfrid"),
    "pyskindose__philips_allura_clarity_u601.dcm": (1.145, "PySkinDose 25.1.1, hudfrid"),
    "pyskindose__philips_allura_clarity_u104.dcm": (0.0, "PySkinDose 25.1.1 (no event hits)"),
}
VARIANTS = (("adult", {}), ("adult_arms_up", {"arms": "up"}),
            ("adult_female", {"sex": "female"}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=str(Path(__file__).resolve().parents[1].parent
                                                  / "shared" / "data" / "rdsr"))
    ap.add_argument("--cell", type=float, default=1.0)
    ap.add_argument("--n", type=int, default=6)
    args = ap.parse_args()
    s = Settings(cell_area_cm2=args.cell)
    rows = []
    for name, (ref, what) in REFERENCES.items():
        path = Path(args.dir) / name
        proc = read_rdsr(path)
        h, m = proc.patient.height_m, proc.patient.mass_kg
        for vname, kw in VARIANTS:
            ph = phantoms.adult(height_m=h, mass_kg=m, cell_area_cm2=args.cell, **kw)
            if h is None or m is None:  # let the interval sample the defaulted size
                ph.spec["choice"] = {
                    "arms": kw.get("arms", "down"), "sex": kw.get("sex", "male"),
                    "size_defaulted": [k for k, v in (("height", h), ("mass", m)) if v is None],
                }
            t = time.perf_counter()
            res = compute(proc, ph, s)
            iv = uncertainty.psd_interval(proc, ph, s, n=args.n, nominal=res)
            loc = res.psd_location["label"] if res.psd_location else "-"
            covers = iv.low_gy * 1e3 <= ref <= iv.high_gy * 1e3
            rows.append({
                "file": name, "reference_mgy": ref, "reference": what, "phantom": vname,
                "psd_mgy": res.psd_gy * 1e3, "low_mgy": iv.low_gy * 1e3,
                "high_mgy": iv.high_gy * 1e3, "covers": covers, "location": loc,
                "rp_estimate": res.is_reference_point_estimate,
                "dominant": iv.dominant_input, "spread_cm": iv.location_spread_cm,
                "seconds": time.perf_counter() - t,
            })
            print(json.dumps(rows[-1]), flush=True)
    print()
    print("| file | reference (mGy) | phantom | our PSD (mGy) | 95 % interval (mGy) | covers? "
          "| PSD location | dominant input |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['file'].split('__')[1]} | {r['reference_mgy']:g} ({r['reference']}) | "
              f"{r['phantom']} | {r['psd_mgy']:.3g}{' (RP est.)' if r['rp_estimate'] else ''} "
              f"| {r['low_mgy']:.3g}–{r['high_mgy']:.3g} | {'yes' if r['covers'] else 'NO'} | "
              f"{r['location']} | {r['dominant']} |")


if __name__ == "__main__":
    main()
