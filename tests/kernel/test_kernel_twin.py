"""The Numba kernel against its brute-force NumPy twin on random small scenes."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from kernel_reference import reference_accumulate_dose, reference_first_hit
from kernel_scenes import cells, needs_jit, random_beams, random_slab, scene_mesh

from skindose.kernel import accumulate_dose, first_hit_distance, prepare

SCENES = ["two_spheres", "box_shadow", "torus", "soup"]


def make_case(name: str, seed: int, n_beams: int = 8):
    rng = np.random.default_rng(seed)
    tri, cen, nrm = cells(scene_mesh(name, rng))
    beams = random_beams(rng, n_beams)
    slab = random_slab(rng, n_beams)
    return {"centroids": cen, "normals": nrm, "triangles": tri, **beams, **slab}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", SCENES)
def test_kernel_equals_twin(name, seed):
    case = make_case(name, seed)
    emax = np.zeros(len(case["source"]))
    got = accumulate_dose(**case, event_max=emax)
    stats = {}
    want, want_emax = reference_accumulate_dose(**case, stats=stats)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0.0)
    np.testing.assert_allclose(emax, want_emax, rtol=1e-9, atol=0.0)
    # The same decisions with the BVH as the occlusion structure: bit-identical.
    np.testing.assert_array_equal(accumulate_dose(**case, occlusion_structure="bvh"), got)
    # The scene must exercise every branch: lit cells, occluded cells, partially covered cells
    # (some with the centroid outside the field: occlusion ray from the covered part), slab.
    assert stats["lit"] > 200
    assert stats["occluded"] > 5
    assert stats["partial"] > 20
    assert stats["partial_centroid_out"] > 10
    assert stats["slab"] > 50


@pytest.mark.parametrize("name", ["two_spheres", "box_shadow", "torus"])
def test_closed_mesh_grid_of_facing_triangles_equals_twin(name):
    # Closed scenes: with ``closed=True`` only source-facing triangles enter the visibility
    # grid; the decisions stay those of every triangle (twin, BVH).
    case = make_case(name, 3)
    accel = prepare(case["triangles"], case["centroids"], case["normals"], closed=True)
    got = accumulate_dose(**case, accel=accel)
    want, _ = reference_accumulate_dose(**case)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0.0)
    np.testing.assert_array_equal(accumulate_dose(**case, occlusion_structure="bvh"), got)
    unoccluded, _ = reference_accumulate_dose(**case, occlusion=False)
    assert np.count_nonzero(unoccluded > want) > 5


def test_partial_cells_shadowed_at_the_covered_part():
    # A partially covered cell whose centroid lies outside the field is tested for occlusion
    # from the covered part: some such cells are occluded in the twin's scenes, and the kernel
    # agrees (part of test_kernel_equals_twin); here, the count must be non-trivial.
    case = make_case("box_shadow", 1, n_beams=16)
    stats = {}
    want, _ = reference_accumulate_dose(**case, stats=stats)
    got = accumulate_dose(**case)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0.0)
    assert stats["partial_centroid_out"] > 20


@pytest.mark.parametrize("name", ["two_spheres", "soup"])
def test_kernel_equals_twin_without_occlusion_or_inverse_square(name):
    case = make_case(name, 7)
    got = accumulate_dose(**case, occlusion=False, inverse_square=False, parallel=False)
    want, _ = reference_accumulate_dose(**case, occlusion=False, inverse_square=False)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0.0)


def test_parallel_equals_serial():
    case = make_case("two_spheres", 11, n_beams=40)
    emax_p = np.zeros(40)
    emax_s = np.zeros(40)
    par = accumulate_dose(**case, parallel=True, event_max=emax_p)
    ser = accumulate_dose(**case, parallel=False, event_max=emax_s)
    np.testing.assert_array_equal(par, ser)
    np.testing.assert_array_equal(emax_p, emax_s)
    assert np.count_nonzero(par) > 0


@needs_jit
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_one_and_two_threads_are_bit_identical():
    case = make_case("torus", 4, n_beams=300)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = accumulate_dose(**case)
        numba.set_num_threads(2)
        two = accumulate_dose(**case)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
    assert np.count_nonzero(one) > 100


def test_out_accumulates_in_chunks():
    case = make_case("torus", 5, n_beams=12)
    whole = accumulate_dose(**case)
    per_beam = ("source", "u", "v", "w", "tan_u", "tan_v", "kerma", "srp_mm", "slab_log_t0")
    out = np.full(len(case["centroids"]), 1.5)
    accel = prepare(case["triangles"])
    for part in (slice(0, 5), slice(5, 12)):
        chunk = {k: (val[part] if k in per_beam else val) for k, val in case.items()}
        accumulate_dose(**chunk, out=out, accel=accel)
    np.testing.assert_allclose(out - 1.5, whole, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["two_spheres", "torus"])
def test_first_hit_distance_equals_brute_force(name):
    rng = np.random.default_rng(3)
    tri, _, _ = cells(scene_mesh(name, rng))
    beams = random_beams(rng, 200, aim_jitter=60.0)
    t, idx = first_hit_distance(beams["source"], beams["w"], tri)
    want_t, want_idx = reference_first_hit(beams["source"], beams["w"], tri)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(t, want_t, rtol=1e-12)
    assert 20 < np.count_nonzero(idx >= 0) < 200  # some hits, some misses
    assert idx.dtype == np.int64 and t.dtype == np.float64


@needs_jit
def test_many_events_span_several_blocks():
    # More events than one event block (EVENT_BLOCK = 128), both variants, against the twin.
    case = make_case("two_spheres", 13, n_beams=300)
    emax = np.zeros(300)
    par = accumulate_dose(**case, occlusion=False, event_max=emax)
    ser = accumulate_dose(**case, occlusion=False, parallel=False)
    want, want_emax = reference_accumulate_dose(**case, occlusion=False)
    np.testing.assert_array_equal(par, ser)
    np.testing.assert_allclose(par, want, rtol=1e-9, atol=0.0)
    np.testing.assert_allclose(emax, want_emax, rtol=1e-9, atol=0.0)
