"""One UCUM unit table: every unit code skindose accepts, with its factor to the house unit.

House units (docs/architecture.md §3): Gy for dose, Gy·m² for KAP, mm length, deg angles, kV, mA,
s for durations (ms for exposure time and pulse width, converted by the caller), µA·s for
exposure, s⁻¹ for pulse rate, m² for areas, 1 for counts.

Non-standard spellings seen in real files (docs/rdsr.md §2.4 items 1, 18, 21): ``Gym2`` (Siemens),
``uAs`` (Siemens, GE), ``pulse/s`` (GE), ``dGy.cm2`` and ``mGy`` (Canon Ultimaxi).
"""

from __future__ import annotations

__all__ = ["NONSTANDARD", "UNITS", "convert"]

# unit code -> (dimension, factor to house unit)
UNITS: dict[str, tuple[str, float]] = {
    # absorbed dose / air kerma -> Gy
    "Gy": ("dose", 1.0),
    "dGy": ("dose", 1e-1),
    "cGy": ("dose", 1e-2),
    "mGy": ("dose", 1e-3),
    "uGy": ("dose", 1e-6),
    "µGy": ("dose", 1e-6),
    # dose area product -> Gy.m2
    "Gy.m2": ("kap", 1.0),
    "Gym2": ("kap", 1.0),
    "Gy*m2": ("kap", 1.0),
    "Gy.m^2": ("kap", 1.0),
    "Gy.cm2": ("kap", 1e-4),
    "dGy.cm2": ("kap", 1e-5),
    "cGy.cm2": ("kap", 1e-6),
    "mGy.cm2": ("kap", 1e-7),
    "uGy.cm2": ("kap", 1e-10),
    "uGy.m2": ("kap", 1e-6),
    "mGy.m2": ("kap", 1e-3),
    "dGy.m2": ("kap", 1e-1),
    # length -> mm
    "mm": ("length", 1.0),
    "cm": ("length", 10.0),
    "dm": ("length", 100.0),
    "m": ("length", 1000.0),
    "um": ("length", 1e-3),
    # angle -> deg
    "deg": ("angle", 1.0),
    "rad": ("angle", 57.29577951308232),
    # voltage -> kV
    "kV": ("voltage", 1.0),
    "V": ("voltage", 1e-3),
    # current -> mA
    "mA": ("current", 1.0),
    "A": ("current", 1000.0),
    "uA": ("current", 1e-3),
    # time -> s
    "s": ("time", 1.0),
    "ms": ("time", 1e-3),
    "us": ("time", 1e-6),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    # exposure -> uA.s
    "uA.s": ("exposure", 1.0),
    "uAs": ("exposure", 1.0),
    "mA.s": ("exposure", 1000.0),
    "mAs": ("exposure", 1000.0),
    # pulse rate -> 1/s
    "{pulse}/s": ("rate", 1.0),
    "pulse/s": ("rate", 1.0),
    "/s": ("rate", 1.0),
    "1/s": ("rate", 1.0),
    "Hz": ("rate", 1.0),
    "{pulse}/min": ("rate", 1.0 / 60.0),
    # area -> m2
    "m2": ("area", 1.0),
    "cm2": ("area", 1e-4),
    "mm2": ("area", 1e-6),
    # dimensionless
    "1": ("count", 1.0),
    "{pulses}": ("count", 1.0),
    "{pulse}": ("count", 1.0),
    "{frames}": ("count", 1.0),
    "{ratio}": ("count", 1.0),
    "%": ("percent", 1.0),
}

# Units that are not the standard UCUM code for their concept (reported as quirks).
NONSTANDARD = {"Gym2", "Gy*m2", "Gy.m^2", "uAs", "mAs", "pulse/s", "µGy"}


def convert(value: float, unit: str | None, dimension: str) -> float:
    """Convert ``value`` in ``unit`` to the house unit of ``dimension``.

    Raises
    ------
    KeyError
        When the unit is unknown or belongs to another dimension (the caller turns this into
        a warning naming the file and the concept).
    """
    if unit is None:
        raise KeyError("no unit")
    if dimension == "time_ms":  # exposure time and pulse width are kept in ms, exactly
        entry = UNITS.get(unit.strip())
        if entry is None or entry[0] != "time":
            raise KeyError(unit)
        return value if unit.strip() == "ms" else value * entry[1] * 1000.0
    entry = UNITS.get(unit.strip())
    if entry is None or entry[0] != dimension:
        raise KeyError(unit)
    return value * entry[1]
