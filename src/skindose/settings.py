"""Computation settings: one frozen dataclass, loadable from TOML.

Every field has a default that is reported in a result's provenance. Switching a correction off
makes its factor exactly 1.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skindose.errors import ConfigurationError

__all__ = ["CELL_AREA_RANGE_CM2", "CLINICAL_LEVELS", "ClinicalLevels", "Settings"]

_MEDIA = ("tissue", "water", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Settings for :func:`skindose.compute`.

    Parameters
    ----------
    inverse_square
        Scale the reference-point kerma to each skin cell by (srp / distance)².
    backscatter
        Apply the backscatter factor (Benmakhlouf et al. 2013 fit).
    medium
        ``"tissue"`` (ICRU soft tissue / air, default), ``"water"`` (water / air), or None
        (report air kerma at the skin: factor 1).
    table_attenuation
        Attenuate rays that cross the table and mattress.
    calibration_factor
        Per-device factor C_cal multiplying every dose (default 1: uncalibrated).
    calibration_by_kvp
        Optional ((kVp, factor), ...) pairs; the factor is interpolated linearly in kVp
        (clamped at the ends) and multiplies ``calibration_factor``.
    anode_angle_deg
        Anode angle used for the HVL lookup when the profile gives none.
    inherent_filtration_mm_al
        Inherent (tube + collimator) filtration in mm Al added to the reported Al filters
        for the HVL lookup.
    default_kvp
        kVp used when an event reports none (the event is marked as assumed).
    table_transmission
        Normal-incidence table + mattress transmission T0 overriding the vendor profile
        (None: use the profile's table or default).
    table_thickness_mm, mattress_thickness_mm, table_width_mm
        Table-top slab overrides (None: vendor profile).
    max_obliquity_deg
        Obliquity cap for T0^(1/cos θ).
    placement_offset_mm
        (x, y, z) override of where the phantom origin lies relative to the table reference
        when the table reads its origin, in the patient frame (None: vendor profile).
    placement
        ``"auto"`` (profile when validated, else centre on the target region), ``"profile"``
        or ``"target"``.
    vendor_profile_file
        Path to a user TOML file that overrides vendor profile keys.
    cell_area_cm2
        Maximum skin cell area for generated/remeshed phantoms.
    thresholds_gy
        Dose levels for which areas above are reported.
    rotational_step_deg
        Largest angular step when splitting rotational runs into sub-beams.
    occlusion
        Test the segment from the source to each cell for other skin triangles.
    parallel
        Run the kernel in parallel over skin cells.
    arms
        Default phantom's arms: ``"down"``, ``"up"`` (raised above the head) or ``"auto"``
        (raised when the target region or the study is cardiac or chest; see
        :func:`skindose.phantoms.default_phantom`).
    phantom_sex
        Default phantom: ``"male"``, ``"female"`` (breasts, ICRP 89 female size when the size
        is not reported) or ``"auto"`` (female when the RDSR's Patient's Sex is F).
    uncertainty
        Compute the PSD uncertainty interval (:func:`skindose.uncertainty.psd_interval`).
    uncertainty_samples
        Geometry re-runs (placement and size) of the interval; each costs about one compute.
    uncertainty_factor_samples
        Monte Carlo draws of the multiplicative inputs (cheap; they scale the maps).
    uncertainty_seed
        Seed of the interval's random generator (the interval is reproducible).
    calibration_uncertainty
        Relative 95 % half-width of the dose display after calibration (None: 0.35 when
        uncalibrated, 0.10 when ``calibration_factor`` or ``calibration_by_kvp`` is set).
    placement_uncertainty_mm
        95 % half-widths (lateral, head-foot, vertical) of the patient's position on the table
        (None: the defaults of :mod:`skindose.uncertainty`).
    """

    inverse_square: bool = True
    backscatter: bool = True
    medium: str | None = "tissue"
    table_attenuation: bool = True
    calibration_factor: float = 1.0
    calibration_by_kvp: tuple[tuple[float, float], ...] = ()
    anode_angle_deg: float = 12.0
    inherent_filtration_mm_al: float = 2.5
    default_kvp: float = 80.0
    table_transmission: float | None = None
    table_thickness_mm: float | None = None
    mattress_thickness_mm: float | None = None
    table_width_mm: float | None = None
    max_obliquity_deg: float = 70.0
    placement_offset_mm: tuple[float, float, float] | None = None
    placement: str = "auto"
    vendor_profile_file: str | None = None
    cell_area_cm2: float = 1.0
    thresholds_gy: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0)
    rotational_step_deg: float = 1.0
    occlusion: bool = True
    parallel: bool = True
    # ---- issue 17: default phantom variant and PSD uncertainty (skindose.uncertainty) -----
    arms: str = "auto"
    phantom_sex: str = "auto"
    uncertainty: bool = False
    uncertainty_samples: int = 6
    uncertainty_factor_samples: int = 4000
    uncertainty_seed: int = 0
    calibration_uncertainty: float | None = None
    placement_uncertainty_mm: tuple[float, float, float] | None = None
    # ---- end of issue 17 block -----------------------------------------------------------
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # ---- report settings (issue 13; owner: report) ----------------------------------------
    #: Remove patient identifiers and the institution from every output.
    anonymize: bool = False
    #: Top of the fixed clinical colour scale (Gy) of the figures and the 3-D view.
    dose_scale_max_gy: float = 5.0
    #: Below this PSD (Gy) the colour scale is fitted to the map and labelled so.
    low_dose_limit_gy: float = 1.0
    # ---- end of report settings ------------------------------------------------------------

    def __post_init__(self) -> None:
        _validate(self)
        if self.medium not in _MEDIA:
            raise ConfigurationError(
                f"medium must be 'tissue', 'water' or None, not {self.medium!r}"
            )
        if self.placement not in ("auto", "profile", "target"):
            raise ConfigurationError(
                f"placement must be 'auto', 'profile' or 'target', not {self.placement!r}"
            )
        if not (self.calibration_factor > 0):
            raise ConfigurationError("calibration_factor must be positive")
        if not (self.cell_area_cm2 > 0):
            raise ConfigurationError("cell_area_cm2 must be positive")
        if not (0 < self.rotational_step_deg <= 10):
            raise ConfigurationError("rotational_step_deg must be in (0, 10]")
        if not (0 <= self.max_obliquity_deg < 90):
            raise ConfigurationError("max_obliquity_deg must be in [0, 90)")
        if self.table_transmission is not None and not (0 < self.table_transmission <= 1):
            raise ConfigurationError("table_transmission must be in (0, 1]")
        _check_report_settings(self)  # report settings block (issue 13)
        for kv, factor in self.calibration_by_kvp:
            if not (kv > 0 and factor > 0):
                raise ConfigurationError("calibration_by_kvp needs positive (kVp, factor) pairs")
        _check_issue17(self)

    def calibration_at(self, kvp):
        """Total calibration factor at ``kvp`` (scalar or array)."""
        import numpy as np

        if not self.calibration_by_kvp:
            return self.calibration_factor * np.ones_like(np.asarray(kvp, dtype=float))
        pts = sorted(self.calibration_by_kvp)
        xs = np.array([p[0] for p in pts], dtype=float)
        ys = np.array([p[1] for p in pts], dtype=float)
        return self.calibration_factor * np.interp(np.asarray(kvp, dtype=float), xs, ys)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of every setting."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = [list(x) if isinstance(x, tuple) else x for x in v]
            out[f.name] = v
        return out

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Load settings from a TOML file (unknown keys are an error)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"{p}: cannot read settings: {exc}") from None
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "settings") -> Settings:
        """Build settings from a plain mapping (as read from TOML or JSON)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigurationError(f"{source}: unknown setting(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for k, v in data.items():
            if k == "medium" and v in ("none", "air", ""):
                v = None
            kwargs[k] = v
        try:
            return cls(**kwargs)
        except (TypeError, ConfigurationError) as exc:
            raise ConfigurationError(f"{source}: {exc}") from None


def _check_issue17(s: Settings) -> None:
    """Validation of the issue-17 block (phantom variant, uncertainty)."""
    if s.arms not in ("auto", "down", "up"):
        raise ConfigurationError(f"arms must be 'auto', 'down' or 'up', not {s.arms!r}")
    if s.phantom_sex not in ("auto", "male", "female"):
        raise ConfigurationError(
            f"phantom_sex must be 'auto', 'male' or 'female', not {s.phantom_sex!r}"
        )
    if not isinstance(s.uncertainty, bool):
        raise ConfigurationError("uncertainty must be true or false")
    for name in ("uncertainty_samples", "uncertainty_factor_samples", "uncertainty_seed"):
        v = getattr(s, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigurationError(f"{name} must be a non-negative integer, not {v!r}")
    if s.uncertainty_factor_samples < 100:
        raise ConfigurationError("uncertainty_factor_samples must be at least 100")
    c = s.calibration_uncertainty
    if c is not None and not (0.0 <= c < 1.0):
        raise ConfigurationError("calibration_uncertainty must be in [0, 1) (relative)")
    p = s.placement_uncertainty_mm
    if p is not None and not isinstance(p, tuple):
        try:
            p = tuple(float(x) for x in p)
        except (TypeError, ValueError):
            raise ConfigurationError(
                "placement_uncertainty_mm must be three numbers in mm") from None
        object.__setattr__(s, "placement_uncertainty_mm", p)
    if p is not None and (len(p) != 3 or not all(0.0 <= float(x) < 1000.0 for x in p)):
        raise ConfigurationError(
            "placement_uncertainty_mm must be three half-widths in mm (lateral, head-foot, "
            "vertical), each in [0, 1000)"
        )
# ---- report settings and clinical levels (issue 13; owner: report) -------------------------


def _check_report_settings(s: Settings) -> None:
    if not (0 < s.dose_scale_max_gy < 100):
        raise ConfigurationError("dose_scale_max_gy must be in (0, 100) Gy")
    if not (0 <= s.low_dose_limit_gy <= s.dose_scale_max_gy):
        raise ConfigurationError("low_dose_limit_gy must be in [0, dose_scale_max_gy]")
    if not isinstance(s.anonymize, bool):
        raise ConfigurationError(f"anonymize must be true or false, not {s.anonymize!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClinicalLevels:
    """Dose levels that call for patient follow-up, with what they mean and their source.

    The one place for these numbers: the CLI exit code, the report's alert banner and the
    figures' threshold lines read them from here.

    Parameters
    ----------
    psd_gy
        Peak skin dose at or above which a substantial radiation dose level (SRDL) is reached.
    kerma_rp_gy
        Total reference-point air kerma SRDL.
    kap_gycm2
        Total kerma-area product SRDL (Gy·cm²).
    fluoro_time_min
        Total fluoroscopy time SRDL (minutes).
    skin_levels_gy
        Skin dose levels whose areas are reported and drawn as contours (Gy).
    source
        Where the SRDL values come from.
    """

    psd_gy: float = 3.0
    kerma_rp_gy: float = 5.0
    kap_gycm2: float = 500.0
    fluoro_time_min: float = 60.0
    skin_levels_gy: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0)
    source: str = ("NCRP Report No. 168 (2010); SIR guidelines, Stecker et al., "
                   "J Vasc Interv Radiol 20 (2009) S263")
    #: Follow-up wording of the report when a level is reached (NCRP 168 and the SIR
    #: guidelines recommend patient follow-up when an SRDL is exceeded).
    follow_up: str = ("Substantial radiation dose level reached: patient follow-up is "
                      "recommended. Record the dose in the patient's file, tell the patient "
                      "and the referring physician which skin area may react, and have the "
                      "skin examined in the weeks after the procedure; a medical physicist "
                      "should review the dose estimate.")
    #: Tissue reactions expected from a single procedure at each skin level (Balter et al.,
    #: Radiology 254 (2010) 326, table of bands A1-D).
    skin_level_meaning: tuple[tuple[float, str], ...] = (
        (2.0, "band A2 (2-5 Gy): transient erythema, epilation with recovery"),
        (3.0, "SRDL (NCRP 168); temporary epilation possible"),
        (5.0, "band B (5-10 Gy): prolonged erythema, permanent partial epilation possible"),
        (10.0, "band C (10-15 Gy): desquamation, dermal atrophy, telangiectasia possible"),
    )

    def exceeded(self, *, psd_gy: float | None = None, kerma_rp_gy: float | None = None,
                 kap_gycm2: float | None = None,
                 fluoro_time_min: float | None = None) -> list[tuple[str, float, float, str]]:
        """Every level reached: (quantity, value, level, unit), in the order PSD, K_RP, KAP,
        fluoroscopy time. None values are not tested."""
        out = []
        for name, v, level, unit in (("Peak skin dose", psd_gy, self.psd_gy, "Gy"),
                                     ("Reference-point air kerma", kerma_rp_gy,
                                      self.kerma_rp_gy, "Gy"),
                                     ("Kerma-area product", kap_gycm2, self.kap_gycm2,
                                      "Gy·cm²"),
                                     ("Fluoroscopy time", fluoro_time_min,
                                      self.fluoro_time_min, "min")):
            if v is not None and v >= level:
                out.append((name, float(v), float(level), unit))
        return out


#: The clinical levels in use (NCRP Report 168).
CLINICAL_LEVELS = ClinicalLevels()
# ---- end of report settings and clinical levels -------------------------------------------
# ---------------------------------------------------------------------------------------------
# validation: every setting by type and range, the key named in the message

#: Largest skin-cell area a phantom may be built with, cm² (below 0.05 cm² the adult phantom
#: has tens of millions of cells; above 400 cm² a cell is larger than a typical field).
CELL_AREA_RANGE_CM2 = (0.05, 400.0)

_INF = math.inf

# name: (kind, low, high, low inclusive, high inclusive, why the range)
# kinds: bool | float | float? (None allowed) | floats (a list of numbers) | vec3? | pairs | path?
_RULES: dict[str, tuple[str, float, float, bool, bool, str]] = {
    "inverse_square": ("bool", 0, 0, True, True, ""),
    "backscatter": ("bool", 0, 0, True, True, ""),
    "table_attenuation": ("bool", 0, 0, True, True, ""),
    "occlusion": ("bool", 0, 0, True, True, ""),
    "parallel": ("bool", 0, 0, True, True, ""),
    "calibration_factor": ("float", 0.1, 10.0, True, True,
                           "a factor outside 0.1-10 is a unit mistake, not a calibration"),
    "calibration_by_kvp": ("pairs", 20.0, 200.0, True, True,
                           "kVp 20-200 kV, factor 0.1-10"),
    "anode_angle_deg": ("float", 5.0, 25.0, True, True, "X-ray tube anodes are 6-20 degrees"),
    "inherent_filtration_mm_al": ("float", 0.0, 10.0, True, True, "mm Al"),
    "default_kvp": ("float", 20.0, 200.0, True, True, "kV, the range of fluoroscopy tubes"),
    "table_transmission": ("float?", 0.0, 1.0, False, True, "a transmission"),
    "table_thickness_mm": ("float?", 0.0, 200.0, True, True, "mm"),
    "mattress_thickness_mm": ("float?", 0.0, 200.0, True, True, "mm"),
    "table_width_mm": ("float?", 100.0, 1500.0, True, True, "mm"),
    "max_obliquity_deg": ("float", 0.0, 90.0, True, False, "degrees"),
    "placement_offset_mm": ("vec3?", -3000.0, 3000.0, True, True, "mm, within the room"),
    "vendor_profile_file": ("path?", 0, 0, True, True, ""),
    "cell_area_cm2": ("float", *CELL_AREA_RANGE_CM2, True, True, "cm²"),
    "thresholds_gy": ("floats", 0.0, 100.0, False, True, "Gy"),
    "rotational_step_deg": ("float", 0.0, 10.0, False, True, "degrees"),
}


def _range_text(lo: float, hi: float, lo_in: bool, hi_in: bool) -> str:
    return f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"


def _number(name: str, v: Any, lo: float, hi: float, lo_in: bool, hi_in: bool, why: str,
            what: str = "a number") -> float:
    """``v`` as a float, or a ConfigurationError naming ``name``, the expected type and range."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigurationError(
            f"{name} must be {what}, not {type(v).__name__} {v!r}")
    x = float(v)
    ok = math.isfinite(x) and (x >= lo if lo_in else x > lo) and (x <= hi if hi_in else x < hi)
    if not ok:
        raise ConfigurationError(
            f"{name} = {v!r} is out of range: {what} in {_range_text(lo, hi, lo_in, hi_in)}"
            + (f" ({why})" if why else ""))
    return x


def _sequence(name: str, v: Any, what: str) -> list[Any]:
    if isinstance(v, str | bytes) or not isinstance(v, list | tuple):
        raise ConfigurationError(f"{name} must be {what}, not {type(v).__name__} {v!r}")
    return list(v)


def _validate(s: Settings) -> None:
    """Check every field of ``s`` by type and range; normalise numbers to float, lists to
    tuples. Raises :class:`ConfigurationError` naming the key."""
    for name, (kind, lo, hi, lo_in, hi_in, why) in _RULES.items():
        v = getattr(s, name)
        if kind == "bool":
            if not isinstance(v, bool):
                raise ConfigurationError(
                    f"{name} must be true or false, not {type(v).__name__} {v!r}")
            continue
        if kind.endswith("?") and v is None:
            continue
        if kind in ("float", "float?"):
            new: Any = _number(name, v, lo, hi, lo_in, hi_in, why)
        elif kind == "path?":
            if not isinstance(v, str | os.PathLike):
                raise ConfigurationError(
                    f"{name} must be a file path (text), not {type(v).__name__} {v!r}")
            new = str(v)
        elif kind == "floats":
            what = "a list of numbers in Gy, e.g. [2.0, 3.0, 5.0]"
            items = _sequence(name, v, what)
            new = tuple(_number(f"{name}[{i}]", x, lo, hi, lo_in, hi_in, why, "a dose")
                        for i, x in enumerate(items))
        elif kind == "vec3?":
            what = "three numbers [x, y, z] in mm"
            items = _sequence(name, v, what)
            if len(items) != 3:
                raise ConfigurationError(f"{name} must be {what}, not {len(items)} value(s)")
            new = tuple(_number(f"{name}[{i}]", x, lo, hi, lo_in, hi_in, why, "a distance")
                        for i, x in enumerate(items))
        else:  # pairs
            what = "a list of [kVp, factor] pairs, e.g. [[70, 1.02], [100, 0.98]]"
            pairs = []
            for i, pair in enumerate(_sequence(name, v, what)):
                pv = _sequence(f"{name}[{i}]", pair, "a [kVp, factor] pair")
                if len(pv) != 2:
                    raise ConfigurationError(
                        f"{name}[{i}] must be a [kVp, factor] pair, not {len(pv)} value(s)")
                pairs.append((_number(f"{name}[{i}] kVp", pv[0], 20.0, 200.0, True, True, "kV"),
                              _number(f"{name}[{i}] factor", pv[1], 0.1, 10.0, True, True,
                                      "a calibration factor")))
            new = tuple(pairs)
        object.__setattr__(s, name, new)
    if not isinstance(s.extra, dict):
        raise ConfigurationError(f"extra must be a table (dict), not {type(s.extra).__name__}")
