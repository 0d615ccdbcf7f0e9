"""How sure is the PSD? A Monte-Carlo uncertainty interval for the peak skin dose.

:func:`psd_interval` propagates the uncertainty of every input of :func:`skindose.compute`
that has one, each stated as data (:data:`BUDGET`: value, unit, source), by Monte Carlo with a
fixed seed:

* **Multiplicative inputs** (dose display K_RP/KAP, backscatter factor, μen ratio) scale the
  whole map: they cost nothing (``uncertainty_factor_samples`` draws, default 4000).
* **Table and mattress transmission** scales only the dose that crossed the table. One extra
  compute with the table switched off gives, per cell, the share of the dose that crossed it
  (with the procedure's K_RP-weighted mean T0; exact at normal incidence, first order in the
  obliquity exponent), and a draw u of the relative transmission scales the PSD by
  1 + share · (u − 1).
* **Patient placement** on the table (lateral, head-foot, vertical) and, when the RDSR gave no
  height or mass and the phantom is the default one, **patient size** re-run the geometry and
  the kernel: ``uncertainty_samples`` computes (default 6, stratified: Latin hypercube). With
  profile placement the sampled shift is added to ``placement_offset_mm``; with target
  placement the phantom is moved under beams that stay aimed at the target landmark.
* The multiplicative draws are paired with the geometry samples in turn.

Distributions: every stated uncertainty is a 95 % half-width (the tolerance of a standard is
read as the 95 % interval); the inputs are independent normals (relative inputs as factors
1 + U/1.96 · z, floored at 0.05; placement in mm; size as relative factors). Draws use
stratified normal quantiles (Latin hypercube), so quantiles converge fast. The result is the
PSD median and 95 % interval, the spread of the PSD location (body coordinates, cm) and each
input's share of the variance of ln PSD (multiplicative inputs exactly; the geometry inputs by
a linear regression of ln PSD on the sampled shifts when there are enough samples, else as one
"geometry" share).

Cost: 1 + 1 + N computes (nominal, table off, N geometry samples), i.e. 8 computes with the
defaults (7 when the nominal map is passed in); see ``benchmarks/README.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from skindose.notes import Note, NoteCode, Severity

__all__ = ["BUDGET", "InputUncertainty", "PSDInterval", "budget", "psd_interval"]

#: Every input with a stated uncertainty: (key, 95 % half-width, unit, source). Keys with a
#: ``:`` hold the variant used under a condition (calibrated, measured, placement mode).
BUDGET: dict[str, tuple[Any, str, str]] = {
    "kerma_display:uncalibrated": (
        0.35, "relative",
        "IEC 60601-2-43 and US 21 CFR 1020.32(k): the displayed air kerma at the reference "
        "point (and KAP) may differ from the true value by up to ±35 %; read as the 95 % "
        "interval (a rectangular reading would give ±33 %)",
    ),
    "kerma_display:calibrated": (
        0.10, "relative",
        "site calibration against a reference dosimeter typically brings the display to "
        "±5–10 %; the KAP-meter response depends on beam quality (Borrego et al. 2017, "
        "Med Phys 44:4928), so ±10 % is taken as the 95 % interval; "
        "Settings.calibration_uncertainty overrides it",
    ),
    "bsf": (
        0.05, "relative",
        "the Benmakhlouf et al. 2013 (Phys Med Biol 58:247) fit reproduces the Monte-Carlo "
        "BSF table of Benmakhlouf et al. 2011 (Phys Med Biol 56:7179) within 0.4 %; the patient "
        "differs from the data's semi-infinite water phantom (material, thickness, curvature) "
        "by a few per cent: ±5 %",
    ),
    "mu_en": (
        0.03, "relative",
        "(μen/ρ) soft tissue/air varies 1.05–1.08 over fluoroscopic beam qualities and water "
        "differs from ICRU soft tissue by 3–5 % (Benmakhlouf et al. 2011 surface μen ratios; "
        "NIST SRD 126): ±3 % for the medium's composition; 0 when air kerma is reported",
    ),
    "table:measured": (
        0.05, "relative",
        "a measured table + mattress transmission (a measured vendor-profile table or "
        "Settings.table_transmission) keeps the measurement's and the pad's ageing uncertainty "
        "(Alresheedi et al. 2021, Radiography 27:215: attenuation rises with mattress age): "
        "±5 %",
    ),
    "table:estimated": (
        0.15, "relative",
        "no measurement: real tables + pads transmit 0.6–0.9 at normal incidence (PySkinDose's "
        "Siemens AXIOM-Artis and openSkin's Artis Zeego measurements; Imalogix default 0.75): "
        "±15 % about the estimate",
    ),
    "placement:profile": (
        (20.0, 50.0, 20.0), "mm",
        "chosen by skindose: where the patient lies relative to the table's reference point "
        "when the vendor profile places the phantom: lateral centring on a ~45 cm table top "
        "(±2 cm), head position relative to the table's head end (±5 cm), mattress "
        "compression and body sag (±2 cm); lateral, head-foot, vertical",
    ),
    "placement:target": (
        (30.0, 40.0, 30.0), "mm",
        "chosen by skindose: target placement puts the KAP-weighted isocenter on the "
        "phantom's landmark (e.g. the heart centre); the operator isocentres on the patient's "
        "anatomy, whose position within the body outline varies between patients by ~±3 cm "
        "across and vertically and ~±4 cm head-foot; lateral, head-foot, vertical",
    ),
    "height": (
        0.08, "relative",
        "only when the RDSR gives no height: adult height SD ≈ 7 cm (≈ 4 %) in adult "
        "anthropometric surveys, ±8 % as the 95 % interval about the reference height",
    ),
    "mass": (
        0.35, "relative",
        "only when the RDSR gives no mass: adult mass SD ≈ 15 kg (≈ 20 %) in adult "
        "anthropometric surveys, ±35 % as the 95 % interval about the reference mass "
        "(truncated to 35–160 kg)",
    ),
}

_Z95 = NormalDist().inv_cdf(0.975)  # 1.95996...
_FACTOR_KEYS = ("kerma_display", "bsf", "mu_en")
_GEOMETRY_KEYS = ("placement_lateral", "placement_head_foot", "placement_vertical", "height",
                  "mass")


@dataclass(frozen=True, slots=True, kw_only=True)
class InputUncertainty:
    """One input of the PSD with its stated uncertainty.

    Parameters
    ----------
    name
        ``kerma_display``, ``bsf``, ``mu_en``, ``table``, ``placement_lateral``,
        ``placement_head_foot``, ``placement_vertical``, ``height`` or ``mass``.
    half_width
        95 % half-width: relative (factors, size) or mm (placement). 0 = exact.
    unit
        ``"relative"`` or ``"mm"``.
    source
        Where the value comes from (or why it is 0 here).
    """

    name: str
    half_width: float
    unit: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"name": self.name, "half_width": float(self.half_width), "unit": self.unit,
                "source": self.source}


@dataclass(frozen=True, slots=True, kw_only=True)
class PSDInterval:
    """The PSD with its Monte-Carlo uncertainty interval.

    Parameters
    ----------
    psd_gy
        The point PSD (the nominal :func:`skindose.compute`).
    median_gy, low_gy, high_gy
        Median and the 2.5 % / 97.5 % quantiles of the sampled PSD (Gy).
    location_spread_cm
        RMS distance of the sampled PSD location from the nominal one, in body coordinates
        (cm; 0 when the geometry was not sampled); ``location_p95_cm`` its 95th percentile.
    variance_share
        Share of the variance of ln PSD per input (sums to 1 when any input is uncertain).
    inputs
        The inputs and the uncertainty used for each.
    n_geometry, n_factor, seed
        Geometry re-runs, multiplicative draws, random seed.
    n_computes, elapsed_s
        How many :func:`skindose.compute` calls the interval cost and how long it took.
    widened
        True when the sampled 95 % interval did not contain the point PSD and was widened
        to it (a note says so).
    notes
        Typed notes (``NoteCode.METHOD``, and warnings about what was not sampled).
    """

    psd_gy: float
    median_gy: float
    low_gy: float
    high_gy: float
    location_spread_cm: float
    location_p95_cm: float
    variance_share: dict[str, float]
    inputs: tuple[InputUncertainty, ...]
    n_geometry: int
    n_factor: int
    seed: int
    n_computes: int
    elapsed_s: float
    widened: bool = False
    coverage: float = 0.95
    notes: tuple[Note, ...] = ()
    samples_gy: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False,
                                   compare=False)

    @property
    def relative_half_width(self) -> float:
        """(high − low) / (2 · median); 0 for a zero PSD."""
        return 0.0 if self.median_gy <= 0 else (self.high_gy - self.low_gy) / (
            2.0 * self.median_gy)

    @property
    def dominant_input(self) -> str | None:
        """The input with the largest share of the variance (None when nothing varies)."""
        if not self.variance_share:
            return None
        return max(self.variance_share, key=lambda k: self.variance_share[k])

    def headline(self) -> str:
        """One line for reports, e.g. ``"PSD 2.7 Gy, 95 % interval 1.9–3.8 Gy"``."""
        from skindose.jsonsafe import format_dose

        return (f"PSD {format_dose(self.psd_gy)}, 95 % interval {format_dose(self.low_gy)}"
                f"–{format_dose(self.high_gy)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (no samples)."""
        return {
            "psd_gy": float(self.psd_gy),
            "median_gy": float(self.median_gy),
            "low_gy": float(self.low_gy),
            "high_gy": float(self.high_gy),
            "coverage": self.coverage,
            "relative_half_width": float(self.relative_half_width),
            "location_spread_cm": float(self.location_spread_cm),
            "location_p95_cm": float(self.location_p95_cm),
            "variance_share": {k: float(v) for k, v in self.variance_share.items()},
            "dominant_input": self.dominant_input,
            "inputs": [i.to_dict() for i in self.inputs],
            "n_geometry": self.n_geometry,
            "n_factor": self.n_factor,
            "seed": self.seed,
            "n_computes": self.n_computes,
            "elapsed_s": float(self.elapsed_s),
            "widened": self.widened,
            "headline": self.headline(),
            "notes": [n.to_dict() for n in self.notes],
        }


# ----------------------------------------------------------------------------------------------
def _table_measured(procs: Sequence[Any], s: Any) -> bool:
    if s.table_transmission is not None:
        return True
    from skindose.vendors import profile_for

    return all(isinstance(profile_for(p, s)[0].table_transmission, str) for p in procs)


def budget(
    procedures: Sequence[Any], settings: Any = None, *, placement: str = "target",
    size_defaulted: Sequence[str] = (),
) -> tuple[InputUncertainty, ...]:
    """The inputs of the PSD and their uncertainty for these procedures and settings.

    Parameters
    ----------
    procedures
        The procedures (the vendor profile tells a measured table from an estimate).
    settings
        :class:`~skindose.settings.Settings`: calibration (``calibration_factor`` /
        ``calibration_by_kvp`` set → calibrated), corrections switched off → exact (0),
        ``calibration_uncertainty`` and ``placement_uncertainty_mm`` overrides.
    placement
        ``"profile"`` or ``"target"``: the placement the nominal compute used.
    size_defaulted
        ``"height"`` and/or ``"mass"`` when the default phantom took a reference value.

    Returns
    -------
    tuple of InputUncertainty
        In the order kerma_display, bsf, mu_en, table, placement (3), height, mass.
    """
    from skindose.settings import Settings

    s = settings if settings is not None else Settings()
    out = []
    calibrated = s.calibration_factor != 1.0 or bool(s.calibration_by_kvp)
    if s.calibration_uncertainty is not None:
        out.append(InputUncertainty(
            name="kerma_display", half_width=s.calibration_uncertainty, unit="relative",
            source="Settings.calibration_uncertainty (the user's calibration)"))
    else:
        key = "kerma_display:calibrated" if calibrated else "kerma_display:uncalibrated"
        v, unit, src = BUDGET[key]
        out.append(InputUncertainty(name="kerma_display", half_width=v, unit=unit, source=src))
    v, unit, src = BUDGET["bsf"]
    out.append(InputUncertainty(name="bsf", half_width=v if s.backscatter else 0.0, unit=unit,
                                source=src if s.backscatter else "backscatter off: factor 1"))
    v, unit, src = BUDGET["mu_en"]
    on = s.medium is not None
    out.append(InputUncertainty(name="mu_en", half_width=v if on else 0.0, unit=unit,
                                source=src if on else "air kerma reported: factor 1"))
    if s.table_attenuation:
        key = "table:measured" if _table_measured(procedures, s) else "table:estimated"
        v, unit, src = BUDGET[key]
        out.append(InputUncertainty(name="table", half_width=v, unit=unit, source=src))
    else:
        out.append(InputUncertainty(name="table", half_width=0.0, unit="relative",
                                    source="table attenuation off: no table"))
    key = "placement:profile" if placement == "profile" else "placement:target"
    v, unit, src = BUDGET[key]
    if s.placement_uncertainty_mm is not None:
        v, src = tuple(s.placement_uncertainty_mm), "Settings.placement_uncertainty_mm"
    for axis, hw in zip(("lateral", "head_foot", "vertical"), v, strict=True):
        out.append(InputUncertainty(name=f"placement_{axis}", half_width=float(hw), unit="mm",
                                    source=src))
    for what in ("height", "mass"):
        v, unit, src = BUDGET[what]
        if what in size_defaulted:
            out.append(InputUncertainty(name=what, half_width=v, unit=unit, source=src))
        else:
            out.append(InputUncertainty(
                name=what, half_width=0.0, unit=unit,
                source="reported in the RDSR or the phantom was given: taken as exact"))
    return tuple(out)


def _stratified_normal(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    """(n, dims) standard normals from a Latin hypercube (one stratum per row and column)."""
    nd = NormalDist()
    out = np.empty((n, dims))
    for d in range(dims):
        u = (rng.permutation(n) + rng.random(n)) / n
        out[:, d] = [nd.inv_cdf(min(max(x, 1e-12), 1 - 1e-12)) for x in u]
    return out


def _placement_used(res: Any) -> str:
    for bs in getattr(res, "beams", ()) or ():
        if bs is not None:
            return str(getattr(bs, "placement", "target"))
    return "target"


def _mean_t0(procs: Sequence[Any], s: Any) -> float:
    """K_RP-weighted mean normal-incidence table transmission of the procedures' events."""
    from skindose.physics import per_event_factors
    from skindose.vendors import profile_for

    num = den = 0.0
    for p in procs:
        if not p.events:
            continue
        prof = profile_for(p, s)[0]
        f = per_event_factors(list(p.events), s, table=prof.table_transmission)
        t0 = np.asarray(f.table_t0, dtype=float)
        k = np.array([e.kerma_rp_gy or 0.0 for e in p.events], dtype=float)
        num += float((t0 * k).sum())
        den += float(k.sum())
    return num / den if den > 0 else 1.0


def _translated(phantom: Any, shift: np.ndarray) -> Any:
    """The phantom moved by ``shift`` (mm), its landmarks left where they were."""
    from skindose.phantoms import Phantom

    return Phantom.from_arrays(np.asarray(phantom.vertices) + shift,
                               np.asarray(phantom.faces), name=phantom.name,
                               landmarks={k: np.asarray(v)
                                          for k, v in phantom.landmarks.items()},
                               spec=dict(phantom.spec), height_m=phantom.height_m,
                               mass_kg=phantom.mass_kg, check=False)


def _scale_of(phantom: Any) -> np.ndarray:
    sc = (phantom.spec or {}).get("scale")
    if isinstance(sc, dict):
        return np.array([sc["x"], sc["y"], sc["z"]], dtype=float)
    return np.ones(3)


def psd_interval(
    procedures: Any,
    phantom: Any = None,
    settings: Any = None,
    *,
    n: int | None = None,
    seed: int | None = None,
    nominal: Any = None,
    factor_samples: int | None = None,
    compute_kwargs: dict[str, Any] | None = None,
) -> PSDInterval:
    """The PSD's median and 95 % interval from the stated uncertainty of every input.

    Parameters
    ----------
    procedures
        A :class:`~skindose.rdsr.model.Procedure` or a sequence (as for
        :func:`skindose.compute`).
    phantom
        The phantom; None builds the default one (:func:`skindose.phantoms.default_phantom`:
        the patient's size is then sampled when the RDSR did not report it).
    settings
        :class:`~skindose.settings.Settings`.
    n
        Geometry re-runs (placement and size); default ``settings.uncertainty_samples`` (6).
        0 samples no geometry.
    seed
        Random seed; default ``settings.uncertainty_seed`` (0). Same inputs and seed → same
        interval.
    nominal
        The nominal :class:`~skindose.dosemap.SkinDoseMap` of the same procedures, phantom
        and settings, if already computed (saves one compute).
    factor_samples
        Multiplicative draws; default ``settings.uncertainty_factor_samples`` (4000).
    compute_kwargs
        Extra keyword arguments of every :func:`skindose.compute` call (e.g.
        ``{"same_patient": True}``).

    Returns
    -------
    PSDInterval
    """
    from skindose.compute import compute
    from skindose.phantoms import adult, default_phantom
    from skindose.rdsr.model import Procedure
    from skindose.settings import Settings

    t_start = time.perf_counter()
    s = settings if settings is not None else Settings()
    s = s.replace(uncertainty=False)  # the samples are plain computes (no recursion)
    procs = [procedures] if isinstance(procedures, Procedure) else list(procedures)
    n_geo = s.uncertainty_samples if n is None else int(n)
    if n_geo < 0:
        from skindose.errors import ConfigurationError

        raise ConfigurationError(f"n (geometry samples) must be >= 0, not {n_geo}")
    seed = s.uncertainty_seed if seed is None else int(seed)
    n_fac = s.uncertainty_factor_samples if factor_samples is None else int(factor_samples)
    n_fac = max(100, n_fac)
    rng = np.random.default_rng(seed)
    ckw = dict(compute_kwargs or {})
    notes: list[Note] = []
    n_computes = 0

    size_defaulted: list[str] = []
    default_used = False
    if nominal is not None:
        phantom = nominal.phantom
    if phantom is None:
        phantom, _ = default_phantom(procs, s)
        default_used = True
    choice = (phantom.spec or {}).get("choice") or {}
    if choice:  # a default phantom (here or in the caller's compute)
        size_defaulted = list(choice.get("size_defaulted", []))
        default_used = True
    if nominal is None:
        nominal = compute(procs, phantom, s, **ckw)
        n_computes += 1
    psd0 = float(nominal.psd_gy)
    is_rp = bool(nominal.is_reference_point_estimate)
    mode = _placement_used(nominal)
    inputs = budget(procs, s, placement=mode, size_defaulted=size_defaulted)
    hw = {i.name: float(i.half_width) for i in inputs}
    if is_rp:  # no map: only the multiplicative inputs act (the RP estimate has no table)
        hw.update({k: 0.0 for k in ("table", *_GEOMETRY_KEYS)})
        notes.append(Note(code=NoteCode.METHOD, stage="uncertainty",
                          text="reference-point estimate: only the dose display, BSF and μen "
                               "uncertainties apply (no geometry, no table)"))

    # ---- table: share of the dose at each cell that crossed the table
    share = np.zeros(phantom.n_cells)
    if hw["table"] > 0 and psd0 > 0:
        off = compute(procs, phantom, s.replace(table_attenuation=False), **ckw)
        n_computes += 1
        t_eff = _mean_t0(procs, s)
        if t_eff < 0.999:
            d_on, d_off = nominal.dose_gy, off.dose_gy
            d_tab = np.clip((d_off - d_on) * t_eff / (1.0 - t_eff), 0.0, d_on)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(d_on > 0, d_tab / np.where(d_on > 0, d_on, 1.0), 0.0)
        else:
            hw["table"] = 0.0

    # ---- geometry samples
    geo_keys = [k for k in _GEOMETRY_KEYS if hw[k] > 0]
    if geo_keys and not default_used and ("height" in geo_keys or "mass" in geo_keys):
        geo_keys = [k for k in geo_keys if k not in ("height", "mass")]
    if psd0 <= 0:
        geo_keys = []
    n_used = n_geo if geo_keys else 0
    psd_cell0 = nominal.psd_cell
    loc0 = (np.asarray(phantom.centroids[psd_cell0]) if psd_cell0 is not None
            else np.zeros(3))
    scale0 = _scale_of(phantom)
    geo_psd = np.array([psd0])
    geo_share = np.array([float(share[psd_cell0]) if psd_cell0 is not None else 0.0])
    geo_dist = np.zeros(1)
    z_geo = np.zeros((0, len(geo_keys)))
    if n_used:
        z_geo = _stratified_normal(rng, n_used, len(geo_keys))
        geo_psd = np.empty(n_used)
        geo_share = np.empty(n_used)
        geo_dist = np.empty(n_used)
        ref_off = None
        if mode == "profile":
            from skindose.vendors import profile_for

            ref_off = np.asarray(s.placement_offset_mm if s.placement_offset_mm is not None
                                 else profile_for(procs[0], s)[0].placement_offset_mm,
                                 dtype=float)
        base_h = phantom.height_m
        base_m = phantom.mass_kg
        for g in range(n_used):
            vals = dict(zip(geo_keys, z_geo[g], strict=True))
            delta = np.array([hw[f"placement_{a}"] / _Z95 * vals.get(f"placement_{a}", 0.0)
                              for a in ("lateral", "head_foot", "vertical")])
            # patient frame: +x left, +y posterior, +z head; lateral → x, head-foot → z,
            # vertical → y
            shift = np.array([delta[0], delta[2], delta[1]])
            ph_g = phantom
            if "height" in vals or "mass" in vals:
                h = base_h * (1.0 + hw["height"] / _Z95 * vals.get("height", 0.0))
                m = base_m * (1.0 + hw["mass"] / _Z95 * vals.get("mass", 0.0))
                h, m = float(np.clip(h, 1.3, 2.1)), float(np.clip(m, 35.0, 160.0))
                ph_g = adult(height_m=h, mass_kg=m, cell_area_cm2=s.cell_area_cm2,
                             arms=choice.get("arms", "down"), sex=choice.get("sex", "male"))
            s_g = s.replace(placement=mode)
            if mode == "profile":
                s_g = s_g.replace(placement_offset_mm=tuple((ref_off + shift).tolist()))
                moved = np.zeros(3)
            else:
                moved = shift
                if np.any(shift != 0):
                    ph_g = _translated(ph_g, shift)
            res = compute(procs, ph_g, s_g, **ckw)
            n_computes += 1
            geo_psd[g] = float(res.psd_gy)
            cell = res.psd_cell
            if cell is None:
                geo_share[g], geo_dist[g] = 0.0, 0.0
                continue
            loc = (np.asarray(ph_g.centroids[cell]) - moved) / _scale_of(ph_g) * scale0
            geo_dist[g] = float(np.linalg.norm(loc - loc0)) / 10.0
            geo_share[g] = float(share[phantom.nearest_cell(loc)])

    # ---- multiplicative draws, paired with the geometry samples in turn
    z = _stratified_normal(rng, n_fac, 4)
    logs: dict[str, np.ndarray] = {}
    total = np.ones(n_fac)
    for j, key in enumerate(_FACTOR_KEYS):
        f = np.maximum(0.05, 1.0 + hw[key] / _Z95 * z[:, j]) if hw[key] > 0 else np.ones(n_fac)
        logs[key] = np.log(f)
        total *= f
    g_idx = np.arange(n_fac) % len(geo_psd)
    u = np.maximum(0.05, 1.0 + hw["table"] / _Z95 * z[:, 3]) if hw["table"] > 0 else np.ones(
        n_fac)
    table_f = np.maximum(1e-6, 1.0 + geo_share[g_idx] * (u - 1.0))
    logs["table"] = np.log(table_f)
    samples = total * table_f * geo_psd[g_idx]
    if psd0 <= 0:
        samples = np.zeros(n_fac)

    lo, med, hi = (float(x) for x in np.quantile(samples, [0.025, 0.5, 0.975]))
    widened = False
    if not (lo <= psd0 <= hi):
        widened = True
        notes.append(Note(
            code=NoteCode.METHOD, severity=Severity.WARNING, stage="uncertainty",
            text=f"the sampled 95 % interval {lo:.4g}–{hi:.4g} Gy did not contain the point "
                 f"PSD {psd0:.4g} Gy (too few geometry samples, or the nominal geometry is an "
                 "extreme); widened to contain it",
        ))
        lo, hi = min(lo, psd0), max(hi, psd0)

    # ---- shares of the variance of ln PSD
    var: dict[str, float] = {}
    for key in (*_FACTOR_KEYS, "table"):
        var[key] = float(np.var(logs[key]))
    if n_used:
        lg = np.log(np.maximum(geo_psd, 1e-300))
        v_geo = float(np.var(lg))
        k = len(geo_keys)
        if n_used >= k + 3 and v_geo > 0:
            x = np.column_stack([np.ones(n_used), z_geo])
            beta, *_ = np.linalg.lstsq(x, lg, rcond=None)
            parts = {key: float(beta[1 + i] ** 2 * np.var(z_geo[:, i]))
                     for i, key in enumerate(geo_keys)}
            explained = sum(parts.values())
            if explained > v_geo:  # a few samples: regression noise; rescale to the total
                parts = {kk: vv * v_geo / explained for kk, vv in parts.items()}
                explained = v_geo
            var.update(parts)
            var["geometry_residual"] = max(0.0, v_geo - explained)
        else:
            var["geometry"] = v_geo
    tot = sum(var.values())
    shares = {k: v / tot for k, v in var.items() if v > 0} if tot > 0 else {}

    if not n_used and any(hw[k] > 0 for k in _GEOMETRY_KEYS) and psd0 > 0:
        notes.append(Note(
            code=NoteCode.METHOD, severity=Severity.WARNING, stage="uncertainty",
            text="placement and size uncertainty not sampled (n = 0): the interval covers the "
                 "multiplicative inputs only",
        ))
    notes.append(Note(
        code=NoteCode.METHOD, stage="uncertainty",
        text=f"PSD interval: Monte Carlo, seed {seed}, {n_used} geometry re-runs "
             f"({', '.join(geo_keys) or 'none'}), {n_fac} draws of the multiplicative inputs; "
             f"95 % interval {lo:.4g}–{hi:.4g} Gy about the point PSD {psd0:.4g} Gy",
        data={"seed": seed, "n_geometry": n_used, "n_factor": n_fac},
    ))
    spread = float(np.sqrt(np.mean(geo_dist ** 2))) if n_used else 0.0
    p95 = float(np.percentile(geo_dist, 95)) if n_used else 0.0
    return PSDInterval(
        psd_gy=psd0, median_gy=med, low_gy=lo, high_gy=hi, location_spread_cm=spread,
        location_p95_cm=p95, variance_share=shares,
        inputs=tuple(InputUncertainty(name=i.name, half_width=hw[i.name], unit=i.unit,
                                      source=i.source) for i in inputs),
        n_geometry=n_used, n_factor=n_fac, seed=seed, n_computes=n_computes,
        elapsed_s=time.perf_counter() - t_start, widened=widened, notes=tuple(notes),
        samples_gy=samples,
    )


def compute_with_uncertainty(
    procedures: Any,
    phantom: Any = None,
    settings: Any = None,
    progress: Any = False,
    *,
    same_patient: bool = False,
) -> Any:
    """:func:`skindose.compute.compute`, plus the PSD interval when ``settings.uncertainty``.

    This is what ``skindose.compute`` is bound to: the interval sits above the computation (it
    runs it several times), so the computation itself never imports this module. With the
    switch on, ``result.uncertainty`` holds :meth:`PSDInterval.to_dict` and the interval's
    notes are added to ``result.notes``.
    """
    import dataclasses

    from skindose.compute import compute
    from skindose.settings import Settings

    s = settings if settings is not None else Settings()
    result = compute(procedures, phantom, s, progress, same_patient=same_patient)
    if not s.uncertainty:
        return result
    procs = [procedures] if hasattr(procedures, "events") else list(procedures)
    iv = psd_interval(procs, phantom, s, nominal=result,
                      compute_kwargs={"same_patient": True})
    return dataclasses.replace(result, uncertainty=iv.to_dict(),
                               notes=(*result.notes, *iv.notes))

