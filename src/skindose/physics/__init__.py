"""Physics corrections from reference air kerma to skin dose: :mod:`skindose.physics`.

Skin dose of cell j from event i (docs/architecture.md §8)::

    D_ij = K_i · (srp_i / |c_j − S_i|)² · BSF_i · f_i · T_ij · C_cal

This package provides, vectorised over NumPy arrays: the beam quality (first HVL) from kVp and
filtration, the backscatter factor BSF, the mass energy-absorption coefficient ratio f, the
table + mattress transmission T (normal incidence and oblique), the calibration factor, and
:func:`per_event_factors`, which assembles them per RDSR event for the kernel. Lookups outside
their data never raise: inputs are clamped to the data range with an
:class:`~skindose.errors.ExtrapolationWarning`, and the same text is recorded in
``PhysicsFactors.warnings`` for the result's provenance.

Defaults and their sources
--------------------------

====================  ==========================  ============================================
quantity              default                     source
====================  ==========================  ============================================
HVL (mm Al)           SpekPy grid                 SpekPy 2.5.4 (Poludniowski et al. 2021,
                      ``hvl_grid.csv``: kVp       MIT), W anode, spekpy-v2-casim, via
                      40-150, anode 8-16°, Al     ``scripts/make_hvl_grid.py``; matches
                      2.5-6 mm, Cu 0-1.2 mm       docs/physics.md §5 to ±0.01 mm
reported HVL          used when present           RDSR event (rarely reported)
inherent filtration   2.5 mm Al (Settings)        IEC 60601-1-3 minimum total filtration;
                                                  lowest Benmakhlouf beam quality
anode angle           12° (Settings)              docs/physics.md §5 reference beams
missing kVp           80 kV (Settings)            Settings.default_kvp; recorded per event
missing filters       0 mm Cu, inherent Al        recorded per event
BSF (water)           Benmakhlouf 2013 eq. (8)    Phys Med Biol 58:247 (coefficients via
                      at 5/10/20/25/35 cm,        PySkinDose, MIT); fits the Benmakhlouf,
                      PCHIP in field side         Bjerke & Kramer 2011 MC table to 0.37 %
BSF range             50-150 kV, HVL 1.78-12.5    same; clamped outside, with a warning
                      mm Al, side 5-35 cm
BSF when off          1.0                         Settings.backscatter = False
medium "tissue"       (mu_en/rho) ICRU-44 soft    NIST SRD 126 water/air (bundled in SpekPy)
(default)             tissue/air, 1.05-1.08       × tissue/water from elemental cross
                                                  sections (xraylib); SpekPy primary spectrum
medium "water"        (mu_en/rho) water/air,      NIST SRD 126 via SpekPy; docs/physics.md §3
                      1.02-1.07                   SpekPy table within ±0.001
medium None           1.0                         air kerma at the skin
table None/"generic"  T0 = 0.75 (table + pad),    docs/physics.md §9; Imalogix default 0.75 (OHSU
                      flagged as estimate         thesis 2021); measured tables 0.60-0.86
"generic_table_only"  T0 = 0.85, estimate         docs/physics.md §9 (carbon-fibre top 0.80-0.90)
"siemens_axiom_artis" measured T0(kVp, Cu),       PySkinDose lab U106 2018-04 (MIT); in
                      50-125 kV, 0.597-0.775      (kVp, HVL), HVL at 2.5 mm Al + Cu, 12°
table override        Settings.table_transmission site measurement
obliquity             T0^(1/cos θ), θ ≤ 70°       exponential slab (openSkin; docs/physics.md
                                                  §4.2); Settings.max_obliquity_deg
calibration           C_cal = 1.0; optional       Settings.calibration_factor and
                      piecewise-linear in kVp     calibration_by_kvp (display ±35 % allowed)
====================  ==========================  ============================================

Public names (scripts rely on these): :func:`hvl_mm_al`, :func:`backscatter_factor`,
:func:`muen_ratio`, :func:`table_transmission`, :func:`oblique_transmission`,
:func:`per_event_factors`, :func:`bsf_for`, :class:`PhysicsFactors`.
"""

from __future__ import annotations

from skindose.physics.backscatter import BSF_COEFFICIENTS, BSF_FIELD_SIDES_CM, backscatter_factor
from skindose.physics.factors import PhysicsFactors, bsf_for, calibration_notes, per_event_factors
from skindose.physics.hvl import grid_range, hvl_mm_al, muen_ratio
from skindose.physics.table import (
    DEFAULT_T0,
    GENERIC_ESTIMATES,
    MEASURED_TABLES,
    oblique_transmission,
    table_transmission,
)

__all__ = [
    "BSF_COEFFICIENTS",
    "BSF_FIELD_SIDES_CM",
    "DEFAULT_T0",
    "GENERIC_ESTIMATES",
    "MEASURED_TABLES",
    "PhysicsFactors",
    "backscatter_factor",
    "bsf_for",
    "calibration_notes",
    "grid_range",
    "hvl_mm_al",
    "muen_ratio",
    "oblique_transmission",
    "per_event_factors",
    "table_transmission",
]
