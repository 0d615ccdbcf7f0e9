"""Shared helpers of :mod:`skindose.physics`: clamping with recorded warnings, data loading."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.errors import ExtrapolationWarning

__all__ = ["clamp", "emit", "load_csv"]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def clamp(
    values: ArrayLike,
    lo: float,
    hi: float,
    what: str,
    unit: str,
    table: str,
    labels: Sequence[str] | None = None,
) -> tuple[NDArray[np.float64], list[str]]:
    """Clip ``values`` to ``[lo, hi]`` and describe, in plain words, what was clipped.

    Parameters
    ----------
    values
        Input values (any shape); NaN passes through unchanged.
    lo, hi
        The data range.
    what, unit
        Name and unit of the quantity, for the message ("kVp", "kV").
    table
        The data the range belongs to ("HVL grid").
    labels
        Optional label per element (e.g. "event 3"), named in the message.

    Returns
    -------
    clipped
        float64 array of the same shape.
    messages
        Zero, one or two messages (below / above the range).
    """
    x = np.asarray(values, dtype=np.float64)
    out = np.clip(x, lo, hi)
    msgs: list[str] = []
    with np.errstate(invalid="ignore"):
        below, above = x < lo, x > hi
    for mask, side, edge in ((below, "below", lo), (above, "above", hi)):
        if not np.any(mask):
            continue
        bad = x[mask]
        rng = _fmt(bad.min()) if bad.min() == bad.max() else f"{_fmt(bad.min())}-{_fmt(bad.max())}"
        msg = (
            f"{what} {rng} {unit} {side} the {table} range "
            f"({_fmt(lo)}-{_fmt(hi)} {unit}): {_fmt(edge)} {unit} used"
        )
        if labels is not None:
            idx = np.flatnonzero(np.broadcast_to(mask, x.shape).ravel())
            names = [labels[i] for i in idx[:10]]
            more = f" and {idx.size - 10} more" if idx.size > 10 else ""
            msg += f" ({', '.join(names)}{more})"
        msgs.append(msg)
    return out, msgs


def emit(messages: Sequence[str], stacklevel: int = 3) -> None:
    """Issue each message as an :class:`~skindose.errors.ExtrapolationWarning`."""
    for m in messages:
        warnings.warn(m, ExtrapolationWarning, stacklevel=stacklevel)


@cache
def load_csv(name: str) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    """Read a packaged CSV from ``skindose/data`` (``#`` comment header, one header row).

    Returns the column names and a read-only (n_rows, n_columns) float64 array.
    """
    text = (resources.files("skindose") / "data" / name).read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    names = tuple(c.strip() for c in lines[0].split(","))
    data = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]], dtype=np.float64)
    data.setflags(write=False)
    return names, data
