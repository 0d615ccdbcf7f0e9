"""Computation settings: one frozen dataclass, loadable from TOML.

Every field has a default that is reported in a result's provenance. Switching a correction off
makes its factor exactly 1.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skindose.errors import ConfigurationError

__all__ = ["CLINICAL_LEVELS", "ClinicalLevels", "Settings"]

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
            if k in ("placement_offset_mm", "thresholds_gy", "placement_uncertainty_mm") and (
                v is not None
            ):
                v = tuple(float(x) for x in v)
            elif k == "calibration_by_kvp":
                v = tuple((float(a), float(b)) for a, b in v)
            elif k == "medium" and v in ("none", "air", ""):
                v = None
            kwargs[k] = v
        try:
            return cls(**kwargs)
        except TypeError as exc:
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
