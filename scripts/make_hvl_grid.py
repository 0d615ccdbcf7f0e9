"""Generate ``src/skindose/data/hvl_grid.csv`` (beam-quality grid) with SpekPy.

Development-only: SpekPy (MIT, © Bujila & Poludniowski) and xraylib (BSD-3) are needed here and
nowhere else; the runtime reads only the CSV written by this script.

For every (kVp, anode angle) one unfiltered tungsten spectrum is generated with SpekPy 2.5.4
(default physics model ``spekpy-v2-casim``, PENELOPE attenuation data, 0.5 keV bins). Aluminium
and copper filtration are applied analytically with SpekPy's own attenuation data
(``Spek.mu_data.get_mu_t``), exactly as ``Spek.filter`` does. For each filtered spectrum the
script computes

* the first HVL in mm Al (air-kerma based, like ``Spek.get_hvl1``, but solved with a root finder
  instead of SpekPy's minimiser, so the grid is fast to build; ``--check`` compares both);
* the air-kerma-weighted mass energy-absorption coefficient ratios (mu_en/rho)water/air and
  (mu_en/rho)ICRU-44 soft tissue/air of the primary beam.

mu_en/rho of water and air for the ratios: the NIST tables bundled with SpekPy (Hubbell & Seltzer,
NIST SRD 126; ``mu_data_source='nist'``). The HVL uses SpekPy's default (PENELOPE) air data, as
``Spek.get_hvl1`` does.
ICRU-44 soft tissue (mass fractions H 10.2, C 14.3, N 3.4, O 70.8, Na 0.2, P 0.3, S 0.3,
Cl 0.2, K 0.3 %; ICRU Report 44 (1989), as tabulated in NIST SRD 126 Table 2) is not in SpekPy.
Its ratio to water is computed from elemental cross sections (xraylib: photoelectric with K-shell
fluorescence escape, incoherent scattering times the Klein-Nishina mean energy-transfer fraction;
radiative losses are negligible below 150 keV) and multiplied by the NIST water/air ratio:

    (mu_en/rho)_tissue/air = [(mu_en/rho)_tissue / (mu_en/rho)_water]_model
                             * (mu_en/rho)_water/air,NIST

The same elemental model reproduces the NIST water/air ratio within 0.2 % at 20-150 keV
(printed by ``--check``), so the model error largely cancels in the tissue/water ratio.

Usage::

    python scripts/make_hvl_grid.py                 # writes the grid (about 2 min on 2 cores)
    python scripts/make_hvl_grid.py --check 40      # also compares 40 off-grid points with SpekPy
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

OUT = Path(__file__).resolve().parents[1] / "src" / "skindose" / "data" / "hvl_grid.csv"

KVP = np.arange(40.0, 150.0 + 1e-9, 5.0)
ANODE = np.array([8.0, 10.0, 12.0, 14.0, 16.0])
AL = np.arange(2.5, 6.0 + 1e-9, 0.5)
CU = np.round(np.arange(0.0, 1.2 + 1e-9, 0.1), 10)

# ICRU Report 44 soft tissue, mass fractions (NIST SRD 126, Table 2 "Tissue, Soft (ICRU-44)").
TISSUE_ICRU44 = ((1, 0.102), (6, 0.143), (7, 0.034), (8, 0.708), (11, 0.002), (15, 0.003),
                 (16, 0.003), (17, 0.002), (19, 0.003))
# Water (NIST SRD 126 Table 2) and dry air near sea level (NIST SRD 126 Table 2).
WATER = ((1, 0.111894), (8, 0.888106))
AIR = ((6, 0.000124), (7, 0.755268), (8, 0.231781), (18, 0.012827))


def _kn_transfer_fraction(e_kev: np.ndarray) -> np.ndarray:
    """Klein-Nishina mean fraction of photon energy given to the Compton electron."""
    th = np.linspace(0.0, np.pi, 4001)
    out = np.empty_like(e_kev)
    for i, e in enumerate(e_kev):
        r = 1.0 / (1.0 + (e / 510.99895) * (1.0 - np.cos(th)))
        ds = r**2 * (r + 1.0 / r - np.sin(th) ** 2) * np.sin(th)
        out[i] = np.trapezoid(ds * (1.0 - r), th) / np.trapezoid(ds, th)
    return out


def _muen_model(comp, e_kev: np.ndarray) -> np.ndarray:
    """Elemental-model mu_en/rho (cm²/g) of a mixture (see module docstring)."""
    import xraylib as xl

    fkn = _kn_transfer_fraction(e_kev)
    total = np.zeros_like(e_kev)
    for z, w in comp:
        for i, e in enumerate(e_kev):
            tau = xl.CS_Photo(z, e)
            delta = 0.0
            ek = xl.EdgeEnergy(z, xl.K_SHELL)
            if z > 2 and e > ek:  # no K fluorescence data (and none needed) for H, He
                jump = xl.JumpFactor(z, xl.K_SHELL)
                omega = xl.FluorYield(z, xl.K_SHELL)
                delta = (jump - 1.0) / jump * omega * xl.LineEnergy(z, xl.KA_LINE) / e
            total[i] += w * (tau * (1.0 - delta) + xl.CS_Compt(z, e) * fkn[i])
    return total


_NIST = None


def _nist_spek():
    """A SpekPy object whose mu_en/rho tables are the NIST ones (``mu_data_source='nist'``)."""
    global _NIST
    if _NIST is None:
        import spekpy as sp

        _NIST = sp.Spek(kvp=100.0, th=12.0, mu_data_source="nist")
    return _NIST


def _one_anode_kvp(args):
    """All (Al, Cu) cells for one (kVp, anode angle)."""
    kvp, anode = args
    import spekpy as sp

    s = sp.Spek(kvp=float(kvp), th=float(anode))
    k, phi0 = s.get_spectrum()
    mu_al = s.mu_data.get_mu_t("Al", k, 1.0)  # per mm
    mu_cu = s.mu_data.get_mu_t("Cu", k, 1.0)
    muen_air = s.muen_air_data.get_muen_over_rho_air(k)  # SpekPy default (PENELOPE), for HVL
    nist = _nist_spek()
    nist_air = nist.muen_air_data.get_muen_over_rho_air(k)  # NIST SRD 126, for the ratios
    nist_water = nist.muen_water_data.get_muen_over_rho_water(k)
    sel = k >= 3.0  # the tissue model is only needed where photons survive 2.5 mm Al
    ratio_tw = np.ones_like(k)
    ratio_tw[sel] = _muen_model(TISSUE_ICRU44, k[sel]) / _muen_model(WATER, k[sel])
    muen_tissue = nist_water * ratio_tw
    rows = []
    for al, cu in itertools.product(AL, CU):
        phi = phi0 * np.exp(-mu_al * al - mu_cu * cu)
        w = phi * k * muen_air  # air-kerma weights
        k0 = w.sum()

        def f(x, w=w, k0=k0):
            return np.sum(w * np.exp(-mu_al * x)) / k0 - 0.5

        hvl = brentq(f, 1e-4, 60.0, xtol=1e-7)
        wn = phi * k * nist_air  # air-kerma weights with NIST data
        water_air = np.sum(wn * nist_water / nist_air) / wn.sum()
        tissue_air = np.sum(wn * muen_tissue / nist_air) / wn.sum()
        rows.append((kvp, anode, al, cu, hvl, water_air, tissue_air))
    return rows


def _check(n: int, seed: int = 1) -> None:
    """Compare the grid interpolation (skindose.physics) with SpekPy at off-grid points."""
    import spekpy as sp

    sys.path.insert(0, str(OUT.parents[2] / "src"))
    from skindose.physics import hvl_mm_al

    rng = np.random.default_rng(seed)
    errs, errs_direct = [], []
    for _ in range(n):
        kv = rng.uniform(40, 150)
        cu = rng.uniform(0, 1.2)
        al = rng.uniform(2.5, 6.0)
        th = rng.uniform(8, 16)
        s = sp.Spek(kvp=kv, th=th).multi_filter((("Al", al), ("Cu", cu)))
        ref = s.get_hvl1()
        got = float(hvl_mm_al(kv, cu_mm=cu, al_mm=al, anode_deg=th))
        rel = got / ref - 1.0
        errs.append(rel)
        # the same point computed with this script's root finder (no interpolation)
        s2 = sp.Spek(kvp=kv, th=th)
        k, phi0 = s2.get_spectrum()
        mu_al = s2.mu_data.get_mu_t("Al", k, 1.0)
        mu_cu = s2.mu_data.get_mu_t("Cu", k, 1.0)
        w = phi0 * np.exp(-mu_al * al - mu_cu * cu) * k * s2.muen_air_data.get_muen_over_rho_air(k)
        hvl = brentq(
            lambda x, w=w, mu=mu_al: np.sum(w * np.exp(-mu * x)) / w.sum() - 0.5, 1e-4, 60.0
        )
        errs_direct.append(hvl / ref - 1.0)
        print(f"kVp {kv:6.1f} Cu {cu:.3f} Al {al:.2f} anode {th:5.2f}: SpekPy {ref:6.3f} "
              f"grid {got:6.3f} ({100 * rel:+.3f} %) root-finder {hvl:6.3f}")
    e = np.abs(errs)
    print(f"grid interpolation vs SpekPy get_hvl1 over {n} random off-grid points: "
          f"max |err| {100 * e.max():.3f} %, RMS {100 * np.sqrt(np.mean(e**2)):.3f} %")
    d = np.abs(errs_direct)
    print(f"root finder vs SpekPy get_hvl1 (same points): max |err| {100 * d.max():.3f} %")
    # the elemental mu_en model against NIST water/air (validation of the tissue method)
    s = _nist_spek()
    e_kev = np.array([20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0])
    nist = s.muen_water_data.get_muen_over_rho_water(e_kev) / s.muen_air_data.get_muen_over_rho_air(
        e_kev
    )
    model = _muen_model(WATER, e_kev) / _muen_model(AIR, e_kev)
    for e, a, b in zip(e_kev, nist, model, strict=True):
        print(f"{e:5.0f} keV water/air NIST {a:.4f} elemental model {b:.4f} "
              f"({100 * (b / a - 1):+.2f} %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", type=int, default=0, help="off-grid points to check (0: none)")
    ap.add_argument("--no-write", action="store_true", help="only run the check")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    if not a.no_write:
        import spekpy

        t0 = time.time()
        tasks = list(itertools.product(KVP, ANODE))
        with Pool(a.jobs) as pool:
            parts = pool.map(_one_anode_kvp, tasks, chunksize=1)
        rows = sorted(r for part in parts for r in part)
        header = f"""\
# First half-value layer and primary-beam mass energy-absorption coefficient ratios of
#   tungsten-anode X-ray beams, for the skindose physics lookup (skindose.physics).
# Generated by scripts/make_hvl_grid.py on {_dt.date.today().isoformat()}
#   with SpekPy {spekpy.__version__}
#   (MIT licence, (c) 2019 Robert Bujila and Gavin Poludniowski; physics model
#   spekpy-v2-casim, PENELOPE attenuation data, 0.5 keV bins). Do not edit by hand.
# Grid (full factorial): kVp 40-150 kV step 5 ({len(KVP)}); anode angle 8-16 deg step 2
#   ({len(ANODE)}); total Al 2.5-6.0 mm step 0.5 ({len(AL)}); added Cu 0-1.2 mm step 0.1
#   ({len(CU)}); {len(rows)} rows. Outside the grid the runtime clamps and warns.
# Columns:
#   kvp_kv           tube voltage, kV
#   anode_deg        anode (target) angle, degrees
#   al_mm            total aluminium filtration (inherent + added), mm Al
#   cu_mm            added copper filtration, mm Cu
#   hvl_mm_al        first half-value layer, mm Al (air kerma, narrow beam)
#   muen_water_air   (mu_en/rho) water / air, air-kerma-weighted over the primary spectrum
#   muen_tissue_air  (mu_en/rho) ICRU-44 soft tissue / air, same weighting
# mu_en/rho water and air: NIST SRD 126 (Hubbell & Seltzer) tables bundled with SpekPy.
# Soft tissue: ICRU Report 44 composition; tissue/water ratio from an elemental cross-section
#   model (xraylib photoelectric + Klein-Nishina energy transfer), times NIST water/air;
#   see the script's docstring. Primary beam only: the surface spectrum including backscatter
#   (Benmakhlouf et al. 2011) gives water/air values up to ~0.5 % lower.
"""
        OUT.parent.mkdir(parents=True, exist_ok=True)
        with OUT.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(header)
            fh.write("kvp_kv,anode_deg,al_mm,cu_mm,hvl_mm_al,muen_water_air,muen_tissue_air\n")
            for r in rows:
                fh.write(f"{r[0]:g},{r[1]:g},{r[2]:g},{r[3]:g},{r[4]:.4f},{r[5]:.5f},{r[6]:.5f}\n")
        print(f"wrote {OUT} ({len(rows)} rows, {OUT.stat().st_size / 1e6:.2f} MB) "
              f"in {time.time() - t0:.0f} s")
    if a.check:
        _check(a.check)


if __name__ == "__main__":
    main()
