"""dosemap.pairs_within (the neighbour search of the area-averaged PSD) finds exactly the pairs
scipy's cKDTree finds (an independent implementation), on random points and on a phantom."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from skindose import phantoms
from skindose.dosemap import pairs_within


def _as_set(i, j):
    return {(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist(), strict=True)}


@pytest.mark.parametrize(("n", "r", "scale"), [(0, 1.0, 1.0), (1, 1.0, 1.0), (500, 0.08, 1.0),
                                               (3000, 25.0, 400.0)])
def test_same_pairs_as_ckdtree(n, r, scale):
    rng = np.random.default_rng(n)
    pts = rng.uniform(-scale, scale, (n, 3))
    if n > 10:
        pts[:5] = pts[5]  # duplicates: pairs at distance 0
    i, j = pairs_within(pts, r)
    assert len(_as_set(i, j)) == len(i)  # each pair once
    assert np.all(i != j)
    want = cKDTree(pts).query_pairs(r) if n else set()
    assert _as_set(i, j) == want


def test_same_pairs_on_the_adult_centroids():
    ph = phantoms.adult(cell_area_cm2=4.0)
    r = float(np.sqrt(1000.0 / np.pi))  # the 10 cm² averaging radius, mm
    i, j = pairs_within(ph.centroids, r)
    assert _as_set(i, j) == cKDTree(ph.centroids).query_pairs(r)
