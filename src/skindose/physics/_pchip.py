"""Monotone piecewise-cubic Hermite interpolation (PCHIP) over the first axis, in NumPy.

One owner of the PCHIP rule for the physics tables (the HVL/μen grid of
:mod:`skindose.physics.hvl`, the BSF field-side fold of :mod:`skindose.physics.backscatter`).

Slopes (Fritsch & Carlson 1980, SIAM J Numer Anal 17:238; weights of Fritsch & Butland 1984,
SIAM J Sci Stat Comput 5:300): at an interior knot the weighted harmonic mean of the two
adjacent secant slopes, ``(w1 + w2) / (w1 / δ_{k-1} + w2 / δ_k)`` with ``w1 = 2 h_k + h_{k-1}``
and ``w2 = h_k + 2 h_{k-1}``, or 0 where the secants differ in sign or one is 0 (a local
extremum stays flat, so the interpolant is monotone wherever the data are); at the two ends the
one-sided three-point estimate, set to 0 when its sign differs from the end secant's and
limited to 3 × the end secant when the first two secants differ in sign (C. Moler, *Numerical
Computing with MATLAB*, §3.4). This is the rule of :class:`scipy.interpolate.PchipInterpolator`
too; the results agree with it to rounding (``tests/physics/test_pchip.py``), not bit for bit,
because the cubic is evaluated here in the Hermite basis rather than as power-series
coefficients.

Why not scipy: building a ``PchipInterpolator`` costs ≈ 0.5 ms of Python per call, and the
tensor-product grid needs three per distinct filtration; these functions work on whole stacks
of columns at once, with no objects, in tens of microseconds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["pchip_at", "pchip_slopes"]


def _end_slope(h0, h1, m0, m1):
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    d = np.where(np.sign(d) != np.sign(m0), 0.0, d)
    return np.where((np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0)), 3.0 * m0, d)


def pchip_slopes(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """The PCHIP slopes dy/dx at the knots, for every column of ``y`` at once.

    Parameters
    ----------
    x
        (m,) strictly increasing knots, m >= 3.
    y
        (m, ...) values; the interpolation runs along axis 0.

    Returns
    -------
    numpy.ndarray
        Slopes, the shape of ``y``.
    """
    h = np.diff(x).reshape((-1,) + (1,) * (y.ndim - 1))
    delta = np.diff(y, axis=0) / h
    d = np.zeros_like(y, dtype=np.float64)
    w1 = 2.0 * h[1:] + h[:-1]
    w2 = h[1:] + 2.0 * h[:-1]
    same = (np.sign(delta[:-1]) * np.sign(delta[1:])) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
    d[1:-1] = np.where(same, mean, 0.0)
    d[0] = _end_slope(h[0], h[1], delta[0], delta[1])
    d[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    return d


def pchip_at(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    xq: NDArray[np.float64],
    slopes: NDArray[np.float64] | None = None,
    shared: bool = False,
) -> NDArray[np.float64]:
    """PCHIP interpolants over axis 0 of ``y``, evaluated at the queries ``xq``.

    Parameters
    ----------
    x
        (m,) strictly increasing knots, m >= 3.
    y
        (m, n, *R) values: block i (``y[:, i]``) is interpolated at ``xq[i]``; or, with
        ``shared``, (m, *R) values interpolated at every query.
    xq
        (n,) queries inside [x[0], x[-1]].
    slopes
        :func:`pchip_slopes` of (x, y), when already known.
    shared
        Whether all queries use the same ``y``.

    Returns
    -------
    numpy.ndarray
        (n, *R) values.
    """
    d = pchip_slopes(x, y) if slopes is None else slopes
    xq = np.asarray(xq, dtype=np.float64).reshape(-1)
    k = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.size - 2)
    if shared:
        y0, y1, d0, d1 = y[k], y[k + 1], d[k], d[k + 1]
    else:
        i = np.arange(xq.size)
        y0, y1, d0, d1 = y[k, i], y[k + 1, i], d[k, i], d[k + 1, i]
    hk = x[k + 1] - x[k]
    t = (xq - x[k]) / hk
    t2 = t * t
    t3 = t2 * t
    c = np.stack([2.0 * t3 - 3.0 * t2 + 1.0, (t3 - 2.0 * t2 + t) * hk,
                  -2.0 * t3 + 3.0 * t2, (t3 - t2) * hk])
    c = c.reshape(c.shape + (1,) * (y0.ndim - 1))
    return c[0] * y0 + c[1] * d0 + c[2] * y1 + c[3] * d1
