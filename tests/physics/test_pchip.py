"""physics._pchip against scipy's PchipInterpolator (an independent implementation of the same
Fritsch–Carlson rule) and against properties the rule guarantees."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from skindose.physics._pchip import pchip_at, pchip_slopes


def _data(rng, m, n):
    x = np.cumsum(rng.uniform(0.2, 2.0, m))
    y = rng.normal(size=(m, n))
    y[:, 0] = np.sort(y[:, 0])  # monotone column
    y[3:5, 1] = y[2, 1]  # flat stretch
    return x, y


def test_slopes_and_values_equal_scipy():
    rng = np.random.default_rng(5)
    x, y = _data(rng, 9, 6)
    ref = PchipInterpolator(x, y, axis=0)
    np.testing.assert_allclose(pchip_slopes(x, y), ref.derivative()(x), rtol=1e-12, atol=1e-12)
    q = np.concatenate([x, rng.uniform(x[0], x[-1], 40)])
    # every column at every query (shared) and block i at query i
    np.testing.assert_allclose(pchip_at(x, y, q, shared=True), ref(q), rtol=1e-12, atol=1e-13)
    qi = rng.uniform(x[0], x[-1], 6)
    got = pchip_at(x, y, qi)
    want = np.array([ref(qi[i])[i] for i in range(6)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_monotone_data_give_a_monotone_interpolant_without_overshoot():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 10.0])
    y = np.array([0.0, 0.0, 0.1, 5.0, 5.0, 5.1])[:, None]
    q = np.linspace(0, 10, 2001)
    v = pchip_at(x, y, q, shared=True)[:, 0]
    assert np.all(np.diff(v) >= -1e-15)
    assert v.min() >= 0.0 and v.max() <= 5.1 + 1e-15
    np.testing.assert_array_equal(v[(q >= 0) & (q <= 1)], 0.0)  # flat data stay flat


def test_trailing_shape_is_kept():
    rng = np.random.default_rng(1)
    x = np.arange(5.0)
    y = rng.normal(size=(5, 3, 4, 2))
    out = pchip_at(x, y, np.array([0.5, 1.5, 3.99]))
    assert out.shape == (3, 4, 2)
    ref = PchipInterpolator(x, y, axis=0)
    np.testing.assert_allclose(out[1], ref(1.5)[1], rtol=1e-12, atol=1e-13)
