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
    delta = (y[1:] - y[:-1]) / h
    d = np.zeros_like(y, dtype=np.float64)
    h0, h1 = h[:-1], h[1:]
    m0, m1 = delta[:-1], delta[1:]
    same = (m0 * m1) > 0  # same sign, neither 0 (secants below ~1e-154 would underflow the
    # product and count as flat; the physics tables' secants are many orders above that)
    w1 = 2.0 * h1 + h0
    w2 = h1 + 2.0 * h0
    inner = d[1:-1]
    np.divide(w1, m0, out=inner, where=same)
    inner += np.divide(w2, m1, where=same, out=np.zeros_like(inner))
    np.divide(w1 + w2, inner, out=inner, where=same)
    # the two ends at once: (h_end, h_next, secant_end, secant_next)
    he, hn = h[[0, -1]], h[[1, -2]]
    me, mn = delta[[0, -1]], delta[[1, -2]]
    e = ((2.0 * he + hn) * me - he * mn) / (he + hn)
    e[np.sign(e) != np.sign(me)] = 0.0
    big = (np.sign(me) != np.sign(mn)) & (np.abs(e) > 3.0 * np.abs(me))
    e[big] = 3.0 * me[big]
    d[0], d[-1] = e[0], e[1]
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
    tail = (-1,) + (1,) * (y0.ndim - 1)
    c0 = (2.0 * t3 - 3.0 * t2 + 1.0).reshape(tail)
    c1 = ((t3 - 2.0 * t2 + t) * hk).reshape(tail)
    c2 = (-2.0 * t3 + 3.0 * t2).reshape(tail)
    c3 = ((t3 - t2) * hk).reshape(tail)
    return c0 * y0 + c1 * d0 + c2 * y1 + c3 * d1
