"""Beam quality: first HVL and mu_en/rho ratios from the shipped SpekPy grid.

The grid ``skindose/data/hvl_grid.csv`` was generated once with SpekPy 2.5.4 by
``scripts/make_hvl_grid.py`` (SpekPy is a development-only dependency). It spans kVp 40-150 kV
(5 kV steps), anode angle 8-16° (2°), total Al 2.5-6.0 mm (0.5 mm) and added Cu 0-1.2 mm
(0.1 mm). Values are interpolated with a tensor-product PCHIP (monotone, C¹) interpolant;
inputs outside the grid are clamped to its edge with an
:class:`~skindose.errors.ExtrapolationWarning`, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.errors import ConfigurationError
from skindose.physics._common import clamp, emit, load_csv
from skindose.physics._pchip import pchip_at, pchip_slopes

__all__ = ["GRID_FILE", "grid_range", "hvl_mm_al", "muen_ratio"]

GRID_FILE = "hvl_grid.csv"
_AXES = ("kvp_kv", "anode_deg", "al_mm", "cu_mm")
_AXIS_WORDS = (("kVp", "kV"), ("anode angle", "deg"), ("total Al", "mm"), ("added Cu", "mm"))
_COLUMN_OF_MEDIUM = {"water": "muen_water_air", "tissue": "muen_tissue_air"}


@cache
def _grid() -> tuple[tuple[NDArray[np.float64], ...], dict[str, NDArray[np.float64]]]:
    names, data = load_csv(GRID_FILE)
    col = {n: data[:, i] for i, n in enumerate(names)}
    axes = tuple(np.unique(col[a]) for a in _AXES)
    shape = tuple(len(a) for a in axes)
    if data.shape[0] != int(np.prod(shape)):
        raise ConfigurationError(f"{GRID_FILE}: not a full factorial grid")
    order = np.lexsort(tuple(col[a] for a in reversed(_AXES)))
    values = {
        n: col[n][order].reshape(shape)
        for n in ("hvl_mm_al", "muen_water_air", "muen_tissue_air")
    }
    return axes, values


def grid_range() -> dict[str, tuple[float, float]]:
    """The (min, max) of each grid axis: kvp_kv, anode_deg, al_mm, cu_mm."""
    axes, _ = _grid()
    return {name: (float(a[0]), float(a[-1])) for name, a in zip(_AXES, axes, strict=True)}


def _lookup(
    column: str,
    kvp: ArrayLike,
    cu_mm: ArrayLike,
    al_mm: ArrayLike,
    anode_deg: ArrayLike,
    labels: Sequence[str] | None = None,
) -> tuple[NDArray[np.float64], list[str]]:
    """Interpolate one grid column; returns values (broadcast shape) and clamp messages."""
    axes, _ = _grid()
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (kvp, anode_deg, al_mm, cu_mm))
    )
    shape = arrays[0].shape
    clipped, msgs = [], []
    for arr, ax, (what, unit) in zip(arrays, axes, _AXIS_WORDS, strict=True):
        c, m = clamp(arr, ax[0], ax[-1], what, unit, "HVL grid", labels)
        clipped.append(c.ravel())
        msgs.extend(m)
    pts = np.column_stack(clipped)
    out = np.full(pts.shape[0], np.nan)
    ok = np.all(np.isfinite(pts), axis=1)
    if np.any(ok):
        # A procedure repeats a handful of beam qualities thousands of times: interpolate
        # each distinct quality once.
        uniq, inverse = np.unique(pts[ok], axis=0, return_inverse=True)
        out[ok] = _interpolate(column, uniq)[inverse.reshape(-1)]
    return out.reshape(shape), msgs


_COLUMNS = ("hvl_mm_al", "muen_water_air", "muen_tissue_air")
_MEMO: dict[bytes, NDArray[np.float64]] = {}
_MEMO_SIZE = 64


def _interpolate(column: str, pts: NDArray[np.float64]) -> NDArray[np.float64]:
    """One column of :func:`_interpolate_all`, remembered per distinct-points call.

    The HVL and the μen ratio of a procedure are looked up at the same points, and a dashboard
    computes the same procedure (the same few beam qualities) again and again; the folds cost
    ≈ 0.5 ms per call for all three columns, the look-up a few µs. The result for an identical
    call is the stored copy of the identical computation, so it is bit-identical.
    """
    key = np.ascontiguousarray(pts, dtype=np.float64).tobytes()
    hit = _MEMO.get(key)
    if hit is None:
        hit = _interpolate_all(pts)
        hit.setflags(write=False)
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = hit
    return hit[:, _COLUMNS.index(column)].copy()


def _interpolate_uncached(column: str, pts: NDArray[np.float64]) -> NDArray[np.float64]:
    """One column of :func:`_interpolate_all` at ``pts``, computed afresh."""
    return _interpolate_all(pts)[:, _COLUMNS.index(column)]


def _interpolate_all(pts: NDArray[np.float64]) -> NDArray[np.float64]:
    """The tensor-product PCHIP of every grid column at ``pts`` (columns kVp, anode, Al, Cu).

    Returns (n, 3): HVL, μen water/air, μen tissue/air (the order of ``_COLUMNS``). The grid is
    folded one axis at a time, last axis first, as a tensor-product interpolant is (and as
    scipy's ``RegularGridInterpolator(method="pchip")`` does): Cu for every distinct filtration
    at once, then Al and the anode angle for each filtration (all filtrations, all columns in
    one array operation), and last kVp for each point over its own filtration's kVp column. The
    1-D rule is :mod:`skindose.physics._pchip`; the result equals scipy's N-D PCHIP to rounding
    (``tests/physics/test_hvl_folds.py``).
    """
    kv, anode, al, cu = _grid()[0]
    combos, which = np.unique(pts[:, 1:], axis=0, return_inverse=True)
    which = which.reshape(-1)
    v, d = _by_cu()  # (Cu, Al, anode, kVp, column), with its Cu slopes
    f = pchip_at(cu, v, combos[:, 2], slopes=d, shared=True)  # (n, Al, anode, kVp, column)
    f = pchip_at(al, f.transpose(1, 0, 2, 3, 4), combos[:, 1])  # (n, anode, kVp, column)
    f = pchip_at(anode, f.transpose(1, 0, 2, 3), combos[:, 0])  # (n, kVp, column)
    return pchip_at(kv, f.transpose(1, 0, 2)[:, which], pts[:, 0])  # (points, column)


@cache
def _by_cu() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The grid's columns stacked on a last axis with Cu first (the first fold), and their
    PCHIP slopes over Cu."""
    axes, values = _grid()
    v = np.ascontiguousarray(np.stack([values[c] for c in _COLUMNS], axis=-1)
                             .transpose(3, 2, 1, 0, 4))
    d = pchip_slopes(axes[3], v)
    v.setflags(write=False)
    d.setflags(write=False)
    return v, d


def _scalar_or_array(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return x[()] if x.ndim == 0 else x


def hvl_mm_al(
    kvp: ArrayLike, cu_mm: ArrayLike = 0.0, al_mm: ArrayLike = 3.5, anode_deg: ArrayLike = 12.0
) -> NDArray[np.float64]:
    """First half-value layer (mm Al) of a tungsten-anode beam.

    Parameters
    ----------
    kvp
        Tube voltage in kV (scalar or array).
    cu_mm
        Added copper filtration in mm.
    al_mm
        **Total** aluminium filtration in mm (inherent + added).
    anode_deg
        Anode angle in degrees.

    Returns
    -------
    numpy.ndarray
        HVL in mm Al, float64, with the broadcast shape of the inputs (0-d for scalars).
        NaN inputs give NaN.

    Notes
    -----
    Tensor-product PCHIP interpolation in the SpekPy 2.5.4 grid ``hvl_grid.csv``; inputs
    outside kVp 40-150 kV, anode 8-16°, Al 2.5-6 mm, Cu 0-1.2 mm are clamped to the grid edge
    with an :class:`~skindose.errors.ExtrapolationWarning`.

    References
    ----------
    Poludniowski G, Omar A, Bujila R, Andreo P (2021), SpekPy v2.0 — a software toolkit for
    modeling x-ray tube spectra, Med Phys 48:3630.

    Examples
    --------
    >>> round(float(hvl_mm_al(80, cu_mm=0.3, al_mm=3.5)), 2)
    6.46
    """
    out, msgs = _lookup("hvl_mm_al", kvp, cu_mm, al_mm, anode_deg)
    emit(msgs)
    return _scalar_or_array(out)


def muen_ratio(
    kvp: ArrayLike,
    cu_mm: ArrayLike = 0.0,
    al_mm: ArrayLike = 3.5,
    anode_deg: ArrayLike = 12.0,
    medium: str | None = "tissue",
) -> NDArray[np.float64]:
    """Spectrum-weighted (mu_en/rho) medium/air ratio of the primary beam.

    Parameters
    ----------
    kvp, cu_mm, al_mm, anode_deg
        Beam quality as in :func:`hvl_mm_al` (``al_mm`` is the total Al).
    medium
        ``"tissue"`` (ICRU-44 soft tissue, default), ``"water"``, or None (factor 1).

    Returns
    -------
    numpy.ndarray
        Ratio (dimensionless), float64, broadcast shape of the inputs.

    Notes
    -----
    Air-kerma-weighted mean of (mu_en/rho)_medium / (mu_en/rho)_air over the SpekPy primary
    spectrum. Water and air: NIST SRD 126 (Hubbell & Seltzer) as bundled in SpekPy. Soft tissue:
    ICRU Report 44 composition, tissue/water ratio from elemental cross sections (see
    ``scripts/make_hvl_grid.py``). Typical values: water 1.02-1.07, tissue 1.05-1.08.
    """
    if medium is None:
        shape = np.broadcast_shapes(*(np.shape(v) for v in (kvp, cu_mm, al_mm, anode_deg)))
        return _scalar_or_array(np.ones(shape))
    if medium not in _COLUMN_OF_MEDIUM:
        raise ConfigurationError(f"medium must be 'tissue', 'water' or None, not {medium!r}")
    out, msgs = _lookup(_COLUMN_OF_MEDIUM[medium], kvp, cu_mm, al_mm, anode_deg)
    emit(msgs)
    return _scalar_or_array(out)
