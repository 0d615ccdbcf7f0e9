"""Closed-form checks of the kernel: inverse square, field edges, facing, slab transmission."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skindose.errors import GeometryError
from skindose.kernel import accumulate_dose, first_hit_distance, prepare

NO_SLAB = {
    "slab_center": np.zeros(3),
    "slab_axes": np.eye(3),
    "slab_half": np.array([1.0, 1.0, 1.0]),
    "max_path_factor": 3.0,
}


def flat_grid(n=20, size=200.0, z=0.0, normal_sign=1.0):
    """A square of 2*n*n triangles in the plane z, normals ±z; triangles, centroids, normals."""
    xs = np.linspace(-size / 2, size / 2, n + 1)
    tris = []
    for i in range(n):
        for j in range(n):
            a = (xs[i], xs[j], z)
            b = (xs[i + 1], xs[j], z)
            c = (xs[i + 1], xs[j + 1], z)
            d = (xs[i], xs[j + 1], z)
            tris += [(a, b, c), (a, c, d)]
    tri = np.array(tris, dtype=float)
    nrm = np.zeros((len(tri), 3))
    nrm[:, 2] = normal_sign
    return tri, tri.mean(axis=1), nrm


def one_beam(source, w, u, tan_u=0.5, tan_v=0.5, kerma=2.0, srp=550.0, log_t0=0.0):
    w = np.asarray(w, float)
    u = np.asarray(u, float)
    return {
        "source": np.array([source], float),
        "u": u[None],
        "v": np.cross(w, u)[None],
        "w": w[None],
        "tan_u": np.array([tan_u]),
        "tan_v": np.array([tan_v]),
        "kerma": np.array([kerma]),
        "srp_mm": np.array([srp]),
        "slab_log_t0": np.array([log_t0]),
    }


DOWN = {"source": (0, 0, 600), "w": (0, 0, -1), "u": (1, 0, 0)}


@pytest.mark.parametrize("parallel", [True, False])
def test_inverse_square_on_flat_grid(parallel):
    tri, cen, nrm = flat_grid()
    beam = one_beam(**DOWN)
    dose = accumulate_dose(cen, nrm, tri, **beam, **NO_SLAB, parallel=parallel)
    dist = np.linalg.norm(cen - np.array([0, 0, 600.0]), axis=1)
    np.testing.assert_allclose(dose, 2.0 * (550.0 / dist) ** 2, rtol=1e-13)
    flat = accumulate_dose(cen, nrm, tri, **beam, **NO_SLAB, inverse_square=False)
    np.testing.assert_array_equal(flat, 2.0)


def test_field_edges_cut_cells_by_area():
    # Normal incidence on the plane z = 0 from 600 mm: the field is the rectangle
    # |x| <= 40.3, |y| <= 25.7 at z = 0. Cells wholly outside get exactly 0, cells wholly
    # inside exactly the full dose, cut cells the fraction of their area inside, so that the
    # dose integral is exactly the rectangle's area (inverse square off: dose = K * fraction).
    tri, cen, nrm = flat_grid()
    hx, hy = 40.3, 25.7
    beam = one_beam(**DOWN, tan_u=hx / 600.0, tan_v=hy / 600.0, kerma=2.0)
    emax = np.full(1, -1.0)
    dose = accumulate_dose(cen, nrm, tri, **beam, **NO_SLAB, event_max=emax,
                           inverse_square=False)
    x, y = tri[:, :, 0], tri[:, :, 1]
    inside = np.all((np.abs(x) <= hx) & (np.abs(y) <= hy), axis=1)
    outside = (np.all(x >= hx, 1) | np.all(x <= -hx, 1)
               | np.all(y >= hy, 1) | np.all(y <= -hy, 1))
    cut = ~inside & ~outside
    assert inside.sum() > 10 and cut.sum() > 10
    assert np.all(dose[outside] == 0.0)
    assert np.all(dose[inside] == 2.0)
    assert np.all((dose[cut] >= 0.0) & (dose[cut] < 2.0))  # a corner may miss the triangle
    assert np.count_nonzero(dose[cut]) > 10
    areas = 0.5 * np.abs(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2])
    np.testing.assert_allclose(np.sum(dose * areas), 2.0 * (2 * hx) * (2 * hy), rtol=1e-12)
    assert emax[0] == dose.max() == 2.0


def test_cut_cell_fraction_by_sampling():
    # One 10 mm right triangle cut by the field edge x = 3.7 (mm at z = 0, normal incidence):
    # the kernel's fraction against a fine point count of the triangle's part with x <= 3.7.
    tri = np.array([[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [10.0, 10.0, 0.0]]])
    cen = tri.mean(axis=1)
    nrm = np.array([[0.0, 0.0, 1.0]])
    beam = one_beam(source=(0, 0, 600), w=(0, 0, -1), u=(1, 0, 0),
                    tan_u=3.7 / 600.0, tan_v=0.5)
    dose = accumulate_dose(cen, nrm, tri, **beam, **NO_SLAB, inverse_square=False)
    g = (np.arange(2000) + 0.5) / 2000 * 10.0
    xx, yy = np.meshgrid(g, g)
    in_tri = yy <= xx
    frac = np.count_nonzero(in_tri & (xx <= 3.7)) / np.count_nonzero(in_tri)
    assert dose[0] / 2.0 == pytest.approx(frac, abs=2e-3)
    assert dose[0] / 2.0 == pytest.approx(3.7**2 / 100.0, rel=1e-12)  # (3.7² / 2) / (10² / 2)


def test_behind_the_source_is_zero():
    tri, cen, nrm = flat_grid()
    beam = one_beam(source=(0, 0, 600), w=(0, 0, 1), u=(1, 0, 0))  # pointing away
    assert np.all(accumulate_dose(cen, nrm, tri, **beam, **NO_SLAB) == 0.0)


def test_back_facing_cells_get_zero():
    tri, cen, nrm = flat_grid(normal_sign=-1.0)
    dose = accumulate_dose(cen, nrm, tri, **one_beam(**DOWN), **NO_SLAB)
    assert np.all(dose == 0.0)


def test_occluder_casts_a_shadow():
    tri, cen, nrm = flat_grid()
    # A small square plate 300 mm above the grid, centred on the axis.
    plate, pc, pn = flat_grid(n=2, size=40.0, z=300.0)
    all_tri = np.concatenate([tri, plate])
    all_cen = np.concatenate([cen, pc])
    all_nrm = np.concatenate([nrm, pn])
    dose = accumulate_dose(all_cen, all_nrm, all_tri, **one_beam(**DOWN), **NO_SLAB)[: len(cen)]
    # Shadow of the plate (half-width 20 at z=300) on z=0 from a source at z=600: 40 mm.
    shadow = np.all(np.abs(cen[:, :2]) < 39.0, axis=1)
    lit = np.any(np.abs(cen[:, :2]) > 41.0, axis=1)
    assert shadow.sum() > 0
    assert np.all(dose[shadow] == 0.0)
    assert np.all(dose[lit] > 0.0)


def single_cell(x=0.0):
    """One triangle in the plane z=0 with centroid (x, 0, 0), facing -z."""
    tri = np.array([[[x - 1, -1, 0], [x - 1, 2, 0], [x + 2, -1, 0]]], dtype=float)
    return tri, tri.mean(axis=1), np.array([[0.0, 0.0, -1.0]])


UP = {"source": (0, 0, -600), "w": (0, 0, 1), "u": (1, 0, 0)}
SLAB = {
    "slab_center": np.array([0.0, 0.0, -100.0]),
    "slab_axes": np.eye(3),
    "slab_half": np.array([2000.0, 2000.0, 10.0]),
}


@pytest.mark.parametrize(
    ("angle_deg", "cap_deg", "expected_power"),
    [
        (0.0, 70.0, 1.0),
        (30.0, 70.0, 1.0 / math.cos(math.radians(30.0))),
        (75.0, 70.0, 1.0 / math.cos(math.radians(70.0))),  # capped
    ],
)
def test_slab_transmission(angle_deg, cap_deg, expected_power):
    x = 600.0 * math.tan(math.radians(angle_deg))
    tri, cen, nrm = single_cell(x)
    t0 = 0.7
    beam = one_beam(**UP, tan_u=4.0, tan_v=4.0, kerma=1.0, srp=600.0, log_t0=math.log(t0))
    cap = 1.0 / math.cos(math.radians(cap_deg))
    dose = accumulate_dose(cen, nrm, tri, **beam, **SLAB, max_path_factor=cap)
    dist = math.hypot(600.0, x)
    np.testing.assert_allclose(dose[0], (600.0 / dist) ** 2 * t0**expected_power, rtol=1e-12)


def test_slab_missed_or_transparent_is_factor_one():
    tri, cen, nrm = single_cell()
    miss = {**SLAB, "slab_center": np.array([3000.0, 0.0, -100.0])}
    for slab, log_t0 in ((miss, math.log(0.5)), (SLAB, 0.0)):
        beam = one_beam(**UP, kerma=1.0, srp=600.0, log_t0=log_t0)
        dose = accumulate_dose(cen, nrm, tri, **beam, **slab, max_path_factor=3.0)
        assert dose[0] == 1.0


def test_first_hit_distance_on_a_plane():
    tri, _, _ = flat_grid()
    origins = np.array([[3.3, 4.4, 500.0], [3.3, 4.4, -500.0], [500.0, 0.0, 500.0]])
    dirs = np.array([[0, 0, -1.0], [0, 0, 1.0], [0, 0, -1.0]])
    t, idx = first_hit_distance(origins, dirs, tri)
    np.testing.assert_allclose(t[:2], 500.0, rtol=1e-15)
    assert t[2] == np.inf and idx[2] == -1
    assert idx[0] == idx[1] >= 0


def test_validation_errors():
    tri, cen, nrm = flat_grid(n=2)
    beam = one_beam(**DOWN)
    with pytest.raises(GeometryError, match=r"normals must have shape \(8, 3\)"):
        accumulate_dose(cen, nrm[:3], tri, **beam, **NO_SLAB)
    with pytest.raises(GeometryError, match="out must be a float64 array"):
        accumulate_dose(cen, nrm, tri, **beam, **NO_SLAB, out=np.zeros(8, np.float32))
    with pytest.raises(GeometryError, match="NaN"):
        accumulate_dose(cen, nrm, tri, **{**beam, "kerma": np.array([np.nan])}, **NO_SLAB)
    with pytest.raises(TypeError, match="real numeric"):
        accumulate_dose(cen.astype(complex), nrm, tri, **beam, **NO_SLAB)
    other, _, _ = flat_grid(n=2, z=5.0)
    with pytest.raises(GeometryError, match="different triangle array"):
        accumulate_dose(cen, nrm, tri, **beam, **NO_SLAB, accel=prepare(other))
