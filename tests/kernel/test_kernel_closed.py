"""Closed-mesh occlusion (detectors, then the exact pass) makes the BVH's lit decisions.

On a closed phantom the grid first looks for non-facing *detectors* in front of each origin
and runs the exact pass only for the suspects (``skindose.kernel`` module docstring). Its
maps must equal the BVH's (which tests every triangle) bit for bit, on scenes where every
part of that path runs: frontal fields (one layer, no suspects), lateral fields (the arm in
front of the trunk, the far arm behind it), and oblique fields whose focal spot plane cuts
the body (every origin a suspect).
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_scenes import needs_jit

from skindose import phantoms
from skindose.kernel import accumulate_dose


def _beams(bounds, azim_deg, elev_deg, dist, half=70.0):
    lo, hi = np.asarray(bounds)
    azim = np.deg2rad(np.asarray(azim_deg, dtype=float))
    elev = np.deg2rad(np.asarray(elev_deg, dtype=float))
    n = azim.size
    w = np.stack([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)], 1)
    u = np.cross(w, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(w, u)
    iso = np.stack([np.full(n, 0.5 * (lo[0] + hi[0])), np.full(n, 0.5 * (lo[1] + hi[1])),
                    np.linspace(hi[2] - 0.25 * (hi[2] - lo[2]), hi[2] - 0.45 * (hi[2] - lo[2]),
                                n)], 1)
    dist = np.broadcast_to(np.asarray(dist, dtype=float), (n,))
    return {
        "source": iso - dist[:, None] * w, "u": u, "v": v, "w": w,
        "tan_u": np.full(n, half / 600.0), "tan_v": np.full(n, half / 600.0),
        "kerma": np.ones(n), "srp_mm": np.full(n, 600.0), "slab_log_t0": np.zeros(n),
    }  # fmt: skip


SLAB = {
    "slab_center": np.array([0.0, 500.0, 0.0]),
    "slab_axes": np.eye(3),
    "slab_half": np.array([10.0, 10.0, 10.0]),
    "max_path_factor": 2.9,
}


@needs_jit
@pytest.mark.parametrize("parallel", [False, True])
def test_closed_phantom_grid_equals_bvh(parallel):
    ph = phantoms.adult(cell_area_cm2=4.0)
    assert ph.accel.closed
    rng = np.random.default_rng(7)
    azim = np.concatenate([[90.0, 270.0, 0.0, 180.0, 45.0, 135.0], rng.uniform(0, 360, 18),
                           [90.0, 0.0]])
    elev = np.concatenate([np.zeros(6), rng.uniform(-30, 30, 18), [70.0, -75.0]])
    # the last two: focal spot 350 mm away, steep: its plane cuts the body (legs, head)
    dist = np.concatenate([np.full(24, 750.0), [350.0, 350.0]])
    beams = _beams(ph.mesh.bounds, azim, elev, dist)
    args = (ph.centroids, ph.normals, ph.triangles)
    kw = {**beams, **SLAB, "accel": ph.accel, "inverse_square": False, "parallel": parallel}
    grid = np.zeros(ph.n_cells)
    bvh = np.zeros(ph.n_cells)
    off = np.zeros(ph.n_cells)
    per_beam_shadowed = []
    for i in range(len(azim)):
        one = {k: (a[i:i + 1] if isinstance(a, np.ndarray) and a.ndim and a.shape[0] == len(azim)
                   else a) for k, a in kw.items()}
        g = accumulate_dose(*args, **one)
        b = accumulate_dose(*args, **one, occlusion_structure="bvh")
        o = accumulate_dose(*args, **one, occlusion=False)
        np.testing.assert_array_equal(g, b)  # the same lit cells, the same bits
        per_beam_shadowed.append(int(np.count_nonzero(o > g)))
        grid += g
        bvh += b
        off += o
    np.testing.assert_array_equal(grid, bvh)
    # lateral fields shadow many cells (arm in front of the trunk, far arm behind it)
    assert per_beam_shadowed[2] > 50 and per_beam_shadowed[3] > 50, per_beam_shadowed
    # and the whole run in one call gives the same map
    np.testing.assert_array_equal(accumulate_dose(*args, **kw), grid)
    assert np.count_nonzero(off > grid) > 100
