"""physics.hvl folds each filtration once: the same numbers, bit for bit, as scipy's N-D PCHIP
point by point (and as the tabulated path that was there before)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator

from skindose.physics import hvl as H


def _previous(column, pts):
    """The implementation before the folds: scipy's RegularGridInterpolator at the points, or
    at the kVp nodes of each filtration followed by a 1-D PCHIP over kVp."""
    axes, _ = H._grid()
    rgi = H._interpolator(column)
    combos, which = np.unique(pts[:, 1:], axis=0, return_inverse=True)
    which = which.reshape(-1)
    kv = axes[0]
    if combos.shape[0] * kv.size >= pts.shape[0]:
        return rgi(pts)
    nodes = np.column_stack([np.tile(kv, combos.shape[0]), np.repeat(combos, kv.size, axis=0)])
    table = rgi(nodes).reshape(combos.shape[0], kv.size)
    out = np.empty(pts.shape[0])
    for j in range(combos.shape[0]):
        mask = which == j
        out[mask] = PchipInterpolator(kv, table[j])(pts[mask, 0])
    return out


@pytest.mark.parametrize("column", ["hvl_mm_al", "muen_tissue_air", "muen_water_air"])
@pytest.mark.parametrize("n_points", [5, 80])  # the direct path and the tabulated path
def test_folds_equal_scipy_bit_for_bit(column, n_points):
    axes, _ = H._grid()
    rng = np.random.default_rng(n_points)
    # filtrations on and between grid nodes; kVp on nodes (incl. the last) and between them
    combos = np.array([[axes[1][0], axes[2][0], axes[3][0]],
                       [axes[1][-1], axes[2][-1], axes[3][-1]],
                       [rng.uniform(axes[1][0], axes[1][-1]), rng.uniform(axes[2][0], axes[2][-1]),
                        rng.uniform(axes[3][0], axes[3][-1])]])
    pick = rng.integers(0, len(combos), n_points)
    kvs = rng.uniform(axes[0][0], axes[0][-1], n_points)
    kvs[:2] = axes[0][0], axes[0][-1]
    pts = np.column_stack([kvs, combos[pick]])
    np.testing.assert_array_equal(H._interpolate_uncached(column, pts), _previous(column, pts))
