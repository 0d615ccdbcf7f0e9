"""Backscatter factor (water) from the Benmakhlouf et al. fit, monotone in field side.

BSF(kVp, HVL) at five square field sides (5, 10, 20, 25, 35 cm at the phantom surface) is the
polynomial of Benmakhlouf et al. (2013) eq. (8):

    BSF = (c0 + c1·kV + c2·kV²) + (c3 + c4·kV + c5·kV²)·HVL + (c6 + c7·kV + c8·kV²)·HVL²

with the coefficients below. Between field sides it is interpolated with a monotone piecewise
cubic (PCHIP, Fritsch–Carlson) in side length. Valid range: 50-150 kV, HVL 1.78-12.5 mm Al,
side 5-35 cm; inputs outside are clamped with an
:class:`~skindose.errors.ExtrapolationWarning`.

The fit reproduces the 715 Monte-Carlo values tabulated by Benmakhlouf, Bjerke & Kramer (2011)
within 0.37 % (docs/physics.md §2.1). Within the range, BSF rises with field side everywhere, and
with HVL up to a maximum at HVL ≈ 7.4-11.9 mm Al (7.4 at 5 cm, 11.9 at 35 cm): harder beams
backscatter less.

References
----------
Benmakhlouf H, Bjerke H, Kramer R (2011), Phys Med Biol 56:7179,
doi:10.1088/0031-9155/56/22/012 (tabulated BSF and mu_en ratios).
Benmakhlouf H et al. (2013), Phys Med Biol 58:247, doi:10.1088/0031-9155/58/2/247, eq. (8)
(fit); coefficients as embedded in PySkinDose ``corrections.calculate_k_bs`` (MIT,
© 2020 Max Hellström; notice in ``skindose/data/LICENSES.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.physics._common import clamp, emit
from skindose.physics._pchip import pchip_at

__all__ = [
    "BSF_COEFFICIENTS",
    "BSF_FIELD_SIDES_CM",
    "HVL_RANGE_MM_AL",
    "KVP_RANGE_KV",
    "SIDE_RANGE_CM",
    "backscatter_factor",
    "pchip_columns",
]

BSF_FIELD_SIDES_CM = np.array([5.0, 10.0, 20.0, 25.0, 35.0])
BSF_FIELD_SIDES_CM.setflags(write=False)

# Rows c0..c8, columns 5/10/20/25/35 cm. Benmakhlouf et al. 2013 eq. (8), via PySkinDose.
BSF_COEFFICIENTS = np.array(
    [
        [1.00870, 0.929969, 0.865442, 0.858665, 0.857065],
        [2.35816e-3, 4.08549e-3, 5.36739e-3, 5.51579e-3, 5.55933e-3],
        [-9.48937e-6, -1.66271e-5, -2.21494e-5, -2.27532e-5, -2.28004e-5],
        [1.03143e-1, 1.53605e-1, 1.72418e-1, 1.70826e-1, 1.66418e-1],
        [-1.04881e-3, -1.45187e-3, -1.46088e-3, -1.38540e-3, -1.28180e-3],
        [3.59731e-6, 5.05312e-6, 5.17430e-6, 4.91192e-6, 4.53036e-6],
        [-7.31303e-3, -9.32427e-3, -8.30138e-3, -7.64330e-3, -6.81574e-3],
        [7.93272e-5, 9.40568e-5, 7.13576e-5, 6.13126e-5, 4.94197e-5],
        [-2.74296e-7, -3.28449e-7, -2.54885e-7, -2.21399e-7, -1.79074e-7],
    ]
)
BSF_COEFFICIENTS.setflags(write=False)

KVP_RANGE_KV = (50.0, 150.0)
HVL_RANGE_MM_AL = (1.78, 12.5)  # tabulated 1.78-12.48 mm Al (docs/physics.md §2.1)
SIDE_RANGE_CM = (5.0, 35.0)


def _fit_at_sides(kvp: NDArray[np.float64], hvl: NDArray[np.float64]) -> NDArray[np.float64]:
    """(5, n) BSF of the eq. (8) polynomial at the five tabulated field sides."""
    c = BSF_COEFFICIENTS
    kv = kvp[None, :]
    h = hvl[None, :]
    a0 = c[0][:, None] + c[1][:, None] * kv + c[2][:, None] * kv**2
    a1 = c[3][:, None] + c[4][:, None] * kv + c[5][:, None] * kv**2
    a2 = c[6][:, None] + c[7][:, None] * kv + c[8][:, None] * kv**2
    return a0 + a1 * h + a2 * h**2


def pchip_columns(
    x: NDArray[np.float64], y: NDArray[np.float64], xq: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Evaluate, for each column j, the PCHIP interpolant of (x, y[:, j]) at xq[j].

    The rule of :mod:`skindose.physics._pchip` (Fritsch–Carlson weighted harmonic mean inside,
    the three-point shape-preserving formula at the ends).

    Parameters
    ----------
    x
        (m,) strictly increasing knots, m >= 3.
    y
        (m, n) values.
    xq
        (n,) query points inside [x[0], x[-1]].
    """
    return pchip_at(x, y, xq)


def bsf_with_messages(
    kvp: ArrayLike,
    hvl_mm_al: ArrayLike,
    field_side_cm: ArrayLike,
    labels: Sequence[str] | None = None,
) -> tuple[NDArray[np.float64], list[str]]:
    """:func:`backscatter_factor` without warnings: values and clamp messages."""
    kv, h, s = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (kvp, hvl_mm_al, field_side_cm))
    )
    shape = kv.shape
    kv, m1 = clamp(kv, *KVP_RANGE_KV, "kVp", "kV", "backscatter-factor fit", labels)
    h, m2 = clamp(h, *HVL_RANGE_MM_AL, "HVL", "mm Al", "backscatter-factor fit", labels)
    s, m3 = clamp(s, *SIDE_RANGE_CM, "field side", "cm", "backscatter-factor fit", labels)
    kv, h, s = kv.ravel(), h.ravel(), s.ravel()
    out = np.full(kv.shape, np.nan)
    ok = np.isfinite(kv) & np.isfinite(h) & np.isfinite(s)
    if np.any(ok):
        out[ok] = pchip_columns(BSF_FIELD_SIDES_CM, _fit_at_sides(kv[ok], h[ok]), s[ok])
    return out.reshape(shape), m1 + m2 + m3


def backscatter_factor(
    kvp: ArrayLike, hvl_mm_al: ArrayLike, field_side_cm: ArrayLike
) -> NDArray[np.float64]:
    """Backscatter factor (water phantom) for a square field at the skin.

    Parameters
    ----------
    kvp
        Tube voltage in kV.
    hvl_mm_al
        First HVL in mm Al.
    field_side_cm
        Side of the square field at the skin (entrance surface) in cm; for a rectangular
        field use the square root of its area.

    Returns
    -------
    numpy.ndarray
        BSF, float64, broadcast shape of the inputs (0-d for scalars). NaN inputs give NaN.

    Notes
    -----
    Benmakhlouf et al. (2013) eq. (8) at 5/10/20/25/35 cm, PCHIP in field side; clamped with
    an :class:`~skindose.errors.ExtrapolationWarning` outside 50-150 kV, HVL 1.78-12.5 mm Al,
    side 5-35 cm.

    Examples
    --------
    >>> round(float(backscatter_factor(80, 3.3, 20)), 3)
    1.4
    """
    out, msgs = bsf_with_messages(kvp, hvl_mm_al, field_side_cm)
    emit(msgs)
    return out[()] if out.ndim == 0 else out
