"""Plausibility limits of RDSR values, as data (house units: Gy, Gy·m², mm, deg, kV).

A value outside its limits is not a number skindose will put in a map: the reader sets the field
to None (as if the file had not given it), names the value in a ``value-implausible`` note, and
the usual fallback for a missing value applies. A Dose (RP) outside its limits makes the event
unusable (kept, named, no dose). Each limit states why it is where it is; they are wide on
purpose: they catch corrupt and absurd values (−1 Gy, 1e308, 1e20 mm), not unusual practice.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["LIMITS", "Limit", "check"]


class Limit(NamedTuple):
    """Closed interval [lo, hi] of a plausible value and the reason for it."""

    lo: float
    hi: float
    unit: str
    reason: str


_ROOM = ("an interventional room is a few metres across; tables move at most about 2 m "
         "(IEC 60601-2-43 C-arm geometries)")

#: Field name of :class:`~skindose.rdsr.model.IrradiationEvent` -> limit.
LIMITS: dict[str, Limit] = {
    "kerma_rp_gy": Limit(0.0, 50.0, "Gy", "a dose can not be negative; the largest procedure "
                         "totals published are about 15-20 Gy (NCRP Report 168 §2), so 50 Gy in "
                         "one event is not a real reading"),
    "kap_gym2": Limit(0.0, 0.1, "Gy·m²", "KAP can not be negative; 1000 Gy·cm² in one event is "
                      "several times the highest procedure totals published (NCRP 168 §2)"),
    "kvp": Limit(20.0, 200.0, "kV", "projection X-ray tubes run at 40-150 kV; 20-200 kV "
                 "covers every tube made (IEC 60601-2-43 / IEC 60613)"),
    "sod_mm": Limit(200.0, 2000.0, "mm", "C-arm source-isocenter distances are 600-900 mm; "
                    "mobile C-arms down to about 300 mm"),
    "sid_mm": Limit(300.0, 2500.0, "mm", "C-arm source-detector distances are 700-1300 mm"),
    "srp_mm": Limit(100.0, 2000.0, "mm", "the reference point lies between source and "
                    "detector"),
    "table_longitudinal_mm": Limit(-5000.0, 5000.0, "mm", _ROOM),
    "table_lateral_mm": Limit(-5000.0, 5000.0, "mm", _ROOM),
    "table_height_mm": Limit(-3000.0, 3000.0, "mm", _ROOM),
    "table_x_to_isocenter_mm": Limit(-5000.0, 5000.0, "mm", _ROOM),
    "table_y_to_isocenter_mm": Limit(-5000.0, 5000.0, "mm", _ROOM),
    "table_z_to_isocenter_mm": Limit(-5000.0, 5000.0, "mm", _ROOM),
    "primary_angle_deg": Limit(-360.0, 360.0, "deg", "an angle is within one turn"),
    "secondary_angle_deg": Limit(-360.0, 360.0, "deg", "an angle is within one turn"),
    "primary_end_angle_deg": Limit(-360.0, 360.0, "deg", "an angle is within one turn"),
    "secondary_end_angle_deg": Limit(-360.0, 360.0, "deg", "an angle is within one turn"),
    "table_head_tilt_deg": Limit(-90.0, 90.0, "deg", "a table tilts less than 90°"),
    "table_horizontal_rotation_deg": Limit(-360.0, 360.0, "deg", "an angle is within one turn"),
    "table_cradle_tilt_deg": Limit(-90.0, 90.0, "deg", "a table tilts less than 90°"),
    "field_height_mm": Limit(0.0, 1000.0, "mm", "detectors are at most about 50 cm across"),
    "field_width_mm": Limit(0.0, 1000.0, "mm", "detectors are at most about 50 cm across"),
    "field_area_m2": Limit(0.0, 1.0, "m²", "detectors are at most about 50 cm across"),
    "detector_size_mm": Limit(0.0, 1000.0, "mm", "detectors are at most about 50 cm across"),
    "hvl_mm_al": Limit(0.5, 20.0, "mm Al", "diagnostic beams have HVLs of about 1.5-12 mm Al"),
    "focal_spot_mm": Limit(0.0, 5.0, "mm", "focal spots are 0.1-2 mm"),
    "tube_current_ma": Limit(0.0, 2000.0, "mA", "tube currents are below about 1250 mA"),
    "exposure_uas": Limit(0.0, 1e9, "µA·s", "finite and not negative"),
    "pulse_rate_hz": Limit(0.0, 1000.0, "pulses/s", "pulse rates are at most 30-60 /s"),
    "pulse_width_ms": Limit(0.0, 10000.0, "ms", "finite and not negative"),
    "number_of_pulses": Limit(0.0, 1e7, "", "finite and not negative"),
    "duration_s": Limit(0.0, 86400.0, "s", "an event lasts less than a day"),
    "exposure_time_ms": Limit(0.0, 86400000.0, "ms", "an event lasts less than a day"),
}

#: Filter thickness (any material), mm: spectral filters of angiography systems are at most
#: about 1 mm Cu plus a few mm Al; 20 mm is far beyond any shipped filter.
FILTER_THICKNESS = Limit(0.0, 20.0, "mm", "spectral filters are at most ~1 mm Cu + a few mm Al")
#: Accumulated totals (Dose (RP) Total in Gy, KAP total in Gy·m²).
TOTAL_LIMITS: dict[str, Limit] = {
    "kerma_rp_total_gy": Limit(0.0, 500.0, "Gy", "a procedure total of 500 Gy is not real"),
    "kap_total_gym2": Limit(0.0, 10.0, "Gy·m²", "10^5 Gy·cm² in one procedure is not real"),
}


def check(value: float | None, limit: Limit) -> bool:
    """True when ``value`` is None or a finite number within ``limit``."""
    if value is None:
        return True
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    return limit.lo <= v <= limit.hi  # False for NaN; inf is outside every limit
