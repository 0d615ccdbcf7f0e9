"""physics.hvl folds the grid one axis at a time with the NumPy PCHIP of physics._pchip: the same
numbers, to rounding, as scipy's N-D PCHIP (an independent implementation), on and between the
grid's nodes, for few and for many points per filtration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from skindose.physics import hvl as H


@pytest.mark.parametrize("column", ["hvl_mm_al", "muen_tissue_air", "muen_water_air"])
@pytest.mark.parametrize("n_points", [5, 80])
def test_folds_equal_scipy_to_rounding(column, n_points):
    axes, values = H._grid()
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
    ref = RegularGridInterpolator(axes, values[column], method="pchip")(pts)
    got = H._interpolate_uncached(column, pts)
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=0)


def test_grid_nodes_are_reproduced_exactly_enough():
    """At a grid node the interpolant is the tabulated value (to rounding)."""
    axes, values = H._grid()
    idx = [(0, 0, 0, 0), (len(axes[0]) - 1, 2, 3, 5), (7, 1, 4, len(axes[3]) - 1)]
    pts = np.array([[axes[a][i] for a, i in enumerate(ix)] for ix in idx])
    want = np.array([values["hvl_mm_al"][ix] for ix in idx])
    np.testing.assert_allclose(H._interpolate_uncached("hvl_mm_al", pts), want, rtol=1e-14)
