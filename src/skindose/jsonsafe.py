"""The one JSON conversion and the one dose formatting of skindose.

:func:`jsonable` turns anything skindose builds (dataclasses, enums, numpy arrays and scalars,
datetimes, tuples, frozensets, dicts) into plain JSON types; non-finite floats become None so
that no ``NaN`` or ``Infinity`` ever reaches a JSON file. :func:`format_dose` is how every
human-facing output (CLI, report, figures) writes a dose.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

import numpy as np

__all__ = ["finite_or_none", "format_dose", "jsonable", "sig3"]


def finite_or_none(x: Any) -> float | None:
    """``float(x)`` when finite, else None (also for None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def jsonable(v: Any) -> Any:
    """A JSON-safe copy of ``v`` (see the module docstring)."""
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, int | np.integer) and not isinstance(v, np.bool_):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, float | np.floating):
        return finite_or_none(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(jsonable(k)) if not isinstance(k, str) else k: jsonable(x)
                for k, x in v.items()}
    if isinstance(v, frozenset | set):
        return sorted(jsonable(x) for x in v)
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()]
    if hasattr(v, "to_dict") and callable(v.to_dict):
        return jsonable(v.to_dict())
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: jsonable(getattr(v, f.name)) for f in fields(v)}
    return str(v)


def sig3(x: float) -> str:
    """Three significant digits, without a trailing exponent for ordinary magnitudes."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return f"{x:g}"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{digits}f}"


def format_dose(gy: float | None, *, none: str = "–") -> str:
    """A dose for people: ``60.4 mGy`` below 1 Gy, else ``1.23 Gy`` (3 significant digits).

    None and non-finite values give ``none``; 0 gives ``0 mGy``.
    """
    if gy is None:
        return none
    gy = float(gy)
    if not math.isfinite(gy):
        return none
    if gy == 0.0:
        return "0 mGy"
    if abs(gy) >= 0.9995:
        return f"{sig3(gy)} Gy"
    return f"{sig3(gy * 1e3)} mGy"
