"""points_inside with its per-phantom prefilter gives exactly the answers of the plain test.

Reference: the brute-force ray-parity test over every triangle (the implementation before the
prefilter), on points near the skin (cell centroids pushed 0.01-5 mm in and out along the
normals, where parity decisions are delicate) and random points in the bounding box.
"""

from __future__ import annotations

import numpy as np
import pytest

from skindose import phantoms
from skindose.geometry import placement
from skindose.geometry.placement import _ray_crossings, points_inside


def _brute(phantom, points):
    tri = np.asarray(phantom.triangles, dtype=float)
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    lo, hi = tri.reshape(-1, 3).min(axis=0), tri.reshape(-1, 3).max(axis=0)
    direction = np.array([0.5773502691896258, 0.5773502691896258, 0.5773502691896258])
    direction += np.array([1e-3, -2e-3, 3e-3])
    direction /= np.linalg.norm(direction)
    out = np.zeros(len(pts), dtype=bool)
    for i, p in enumerate(pts):
        if np.any(p < lo) or np.any(p > hi):
            continue
        out[i] = _ray_crossings(p, direction, tri) % 2 == 1
    return out


@pytest.fixture(scope="module")
def adult():
    return phantoms.adult()


def test_same_answers_as_brute_force(adult):
    rng = np.random.default_rng(4)
    k = rng.choice(adult.n_cells, 60, replace=False)
    off = rng.choice([0.01, 0.5, 5.0], 60) * rng.choice([-1.0, 1.0], 60)
    near = adult.centroids[k] + off[:, None] * adult.normals[k]
    lo, hi = adult.bounds
    box = rng.uniform(lo, hi, size=(60, 3))
    pts = np.vstack([near, box, adult.centroids[k[:10]]])
    got = points_inside(adult, pts)
    want = _brute(adult, pts)
    np.testing.assert_array_equal(got, want)
    # outward offsets are outside, inward ones inside (the test is right, not only equal)
    assert not got[:60][off > 0.4].any()
    assert got[:60][off < -0.4].all()


def test_prepared_once_per_phantom(adult):
    placement._PREPARED.clear()
    points_inside(adult, np.zeros((1, 3)))
    first = placement._PREPARED[id(adult.triangles)][1]
    points_inside(adult, np.ones((2, 3)))
    assert placement._PREPARED[id(adult.triangles)][1] is first


def test_writable_arrays_are_not_cached():
    class Mesh:
        triangles = np.array([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])

    placement._PREPARED.clear()
    points_inside(Mesh(), np.zeros((1, 3)))
    assert not placement._PREPARED
