"""One kernel call for a whole computation: per-event maxima and the PSD after each chunk.

The reference is the loop ``skindose.compute`` ran before (one call per chunk of events, and a
scratch map per event of several beams), written out here with the per-beam API.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from kernel_scenes import needs_jit
from test_kernel_twin import make_case

from skindose.errors import GeometryError
from skindose.kernel import accumulate_dose, prepare

PER_BEAM = ("source", "u", "v", "w", "tan_u", "tan_v", "kerma", "srp_mm", "slab_log_t0")


def sub(case: dict, sel) -> dict:
    return {k: (val[sel] if k in PER_BEAM else val) for k, val in case.items()}


def chunk_bounds(n_events: int, n_chunks: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, n_events, n_chunks + 1)).astype(np.int64))


def compute_loop(case, beam_event, n_events, n_chunks, accel, *, event_order=False, **kw):
    """The previous ``compute`` loop: per chunk, single-beam events in one call into the map,
    then each event of several beams into a zeroed scratch map that is added to the map.

    With ``event_order`` the same calls run event by event instead (singles not first)."""
    n = len(case["centroids"])
    dose = np.zeros(n)
    ev_max = np.zeros(n_events)
    psd = []
    for lo, hi in itertools.pairwise(chunk_bounds(n_events, n_chunks)):
        sel = np.flatnonzero((beam_event >= lo) & (beam_event < hi))
        gev = beam_event[sel]
        uniq, counts = np.unique(gev, return_counts=True)
        multi = set(uniq[counts > 1].tolist())
        groups = []
        if event_order:
            groups = [(g in multi, sel[gev == g]) for g in uniq.tolist()]
        else:
            single = sel[~np.isin(gev, list(multi))]
            if single.size:
                groups.append((False, single))
            groups += [(True, sel[gev == g]) for g in sorted(multi)]
        for is_multi, beams in groups:
            emax = np.zeros(beams.size)
            if not is_multi:
                accumulate_dose(**sub(case, beams), out=dose, event_max=emax, accel=accel, **kw)
                np.maximum.at(ev_max, beam_event[beams], emax)
            else:
                scratch = np.zeros(n)
                accumulate_dose(**sub(case, beams), out=scratch, event_max=emax, accel=accel,
                                **kw)
                ev_max[beam_event[beams[0]]] = float(scratch.max())
                dose += scratch
        psd.append(float(dose.max()))
    return dose, ev_max, np.array(psd)


def one_call(case, beam_event, n_events, n_chunks, accel, **kw):
    bounds = chunk_bounds(n_events, n_chunks)
    beam_chunk = np.searchsorted(bounds, beam_event, side="right") - 1
    dose = np.zeros(len(case["centroids"]))
    ev_max = np.zeros(n_events)
    psd = np.full(len(bounds) - 1, np.nan)
    accumulate_dose(**case, out=dose, accel=accel, beam_event=beam_event,
                    event_max_dose=ev_max, beam_chunk=beam_chunk, chunk_psd=psd, **kw)
    return dose, ev_max, psd


def random_events(rng, n_beams: int, p_multi: float = 0.3) -> np.ndarray:
    """Non-decreasing event index per beam: runs of 1 beam, or 2–6 beams with probability
    ``p_multi``; some event numbers have no beam at all (skipped events)."""
    ev = []
    g = 0
    while len(ev) < n_beams:
        k = int(rng.integers(2, 7)) if rng.random() < p_multi else 1
        ev += [g] * k
        g += 1 + int(rng.random() < 0.1)
    return np.array(ev[:n_beams], dtype=np.int64)


def singles_first(rng, n_groups: int) -> np.ndarray:
    """Groups of 3 single-beam events then one of 2–4 beams; with one chunk per group the
    single-beam events of every chunk come first, so there the old loop's order is event
    order and the results must be bit-identical."""
    ev = []
    for grp in range(n_groups):
        ev += [4 * grp, 4 * grp + 1, 4 * grp + 2] + [4 * grp + 3] * int(rng.integers(2, 5))
    return np.array(ev, dtype=np.int64)


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize(("name", "seed"), [("two_spheres", 21), ("box_shadow", 22)])
def test_one_call_equals_the_event_ordered_loop_bit_for_bit(name, seed, parallel):
    case = make_case(name, seed, n_beams=24)
    rng = np.random.default_rng(seed)
    beam_event = random_events(rng, 24)
    n_events = int(beam_event[-1]) + 2  # the last event has no beams
    accel = prepare(case["triangles"])
    want = compute_loop(case, beam_event, n_events, 5, accel, event_order=True,
                        parallel=parallel)
    got = one_call(case, beam_event, n_events, 5, accel, parallel=parallel)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)
    assert np.count_nonzero(got[1]) > 5 and got[2][-1] > 0.0
    assert np.all(np.diff(got[2]) >= 0.0) and got[2][-1] == got[0].max()
    # Occlusion off as well (another code path for the pairs).
    want = compute_loop(case, beam_event, n_events, 7, accel, event_order=True,
                        occlusion=False)
    got = one_call(case, beam_event, n_events, 7, accel, occlusion=False)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)


def test_one_call_equals_the_compute_loop():
    rng = np.random.default_rng(23)
    beam_event = singles_first(rng, 6)
    case = make_case("torus", 23, n_beams=len(beam_event))
    accel = prepare(case["triangles"])
    # Singles first in each chunk: the previous compute loop, bit for bit.
    want = compute_loop(case, beam_event, 24, 6, accel)
    got = one_call(case, beam_event, 24, 6, accel)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)
    case = make_case("torus", 23, n_beams=30)
    # Any layout: the event maxima are equal; the map and the PSD only differ by the order
    # of the additions (the old loop added a chunk's single-beam events before the others).
    beam_event = random_events(rng, 30, p_multi=0.5)
    n_events = int(beam_event[-1]) + 1
    want = compute_loop(case, beam_event, n_events, 3, accel)
    got = one_call(case, beam_event, n_events, 3, accel)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-14, atol=0.0)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-14, atol=0.0)


@needs_jit
def test_events_across_event_blocks_and_many_chunks():
    # 400 beams: events of several beams straddle the 128-beam blocks; 64 chunks.
    case = make_case("two_spheres", 24, n_beams=400)
    rng = np.random.default_rng(24)
    beam_event = random_events(rng, 400, p_multi=0.4)
    n_events = int(beam_event[-1]) + 1
    accel = prepare(case["triangles"])
    want = compute_loop(case, beam_event, n_events, 64, accel, event_order=True)
    for parallel in (True, False):
        got = one_call(case, beam_event, n_events, 64, accel, parallel=parallel)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g, w)


def test_defaults_and_initial_map():
    case = make_case("two_spheres", 25, n_beams=6)
    accel = prepare(case["triangles"])
    n = len(case["centroids"])
    # Without beam_event every beam is its own event: the same map as before.
    plain = accumulate_dose(**case, accel=accel)
    emax = np.zeros(6)
    ev = np.full(6, -1.0)
    got = accumulate_dose(**case, accel=accel, event_max=emax, event_max_dose=ev)
    np.testing.assert_array_equal(got, plain)
    np.testing.assert_array_equal(ev, emax)
    # The PSD timeline starts from the map passed in; chunks without beams repeat it.
    start = np.zeros(n)
    start[3] = 0.5 * plain.max()
    half = start.copy()
    accumulate_dose(**sub(case, slice(0, 3)), accel=accel, out=half)
    psd = np.full(4, np.nan)
    accumulate_dose(**case, accel=accel, out=start, beam_chunk=np.array([1, 1, 1, 3, 3, 3]),
                    chunk_psd=psd)
    assert psd[0] == 0.5 * plain.max()
    assert psd[1] == psd[2] == half.max()
    assert psd[3] == start.max()
    # No beams at all: the timeline is the initial maximum.
    none = {k: (v[:0] if k in PER_BEAM else v) for k, v in case.items()}
    psd = np.full(2, np.nan)
    accumulate_dose(**none, accel=accel, out=start.copy(), beam_chunk=np.zeros(0, int),
                    chunk_psd=psd)
    np.testing.assert_array_equal(psd, float(start.max()))


def test_event_and_chunk_validation():
    case = make_case("two_spheres", 26, n_beams=4)
    with pytest.raises(ValueError, match="non-decreasing"):
        accumulate_dose(**case, beam_event=np.array([0, 2, 1, 3]))
    with pytest.raises(GeometryError, match="integer"):
        accumulate_dose(**case, beam_event=np.array([0.0, 1, 2, 3]))
    with pytest.raises(GeometryError, match="at least 4"):
        accumulate_dose(**case, beam_event=np.array([0, 1, 2, 3]), event_max_dose=np.zeros(3))
    with pytest.raises(ValueError, match="go together"):
        accumulate_dose(**case, beam_chunk=np.zeros(4, int))
    with pytest.raises(ValueError, match="< len"):
        accumulate_dose(**case, beam_chunk=np.array([0, 0, 1, 2]), chunk_psd=np.zeros(2))
    with pytest.raises(ValueError, match="one chunk"):
        accumulate_dose(**case, beam_event=np.array([0, 1, 1, 2]),
                        beam_chunk=np.array([0, 0, 1, 1]), chunk_psd=np.zeros(2))


@pytest.mark.parametrize("occlusion", [True, False])
def test_events_of_the_same_geometry_reuse_the_first(occlusion):
    # Runs of events with the same focal spot, axes and field but other kerma, srp and ln T0
    # (a fluoroscopy run): the kernel reuses the first event's lit cells; the dose of each
    # event must be bit for bit that of the event computed alone.
    case = make_case("box_shadow", 27, n_beams=6)
    rep = np.array([0, 0, 0, 1, 2, 2, 2, 2, 3, 4, 4, 5])
    rng = np.random.default_rng(27)
    case = sub(case, rep)
    case["kerma"] = case["kerma"] * rng.uniform(0.5, 2.0, rep.size)
    case["srp_mm"] = case["srp_mm"] * rng.uniform(0.9, 1.1, rep.size)
    case["slab_log_t0"] = np.where(rng.random(rep.size) < 0.3, 0.0, np.log(0.7))
    accel = prepare(case["triangles"])
    n = len(case["centroids"])
    want = np.zeros(n)
    want_emax = np.zeros(rep.size)
    for b in range(rep.size):
        accumulate_dose(**sub(case, slice(b, b + 1)), out=want, event_max=want_emax[b:b + 1],
                        accel=accel, occlusion=occlusion)
        assert want_emax[b] > 0.0
    for parallel in (True, False):
        emax = np.zeros(rep.size)
        got = accumulate_dose(**case, event_max=emax, accel=accel, occlusion=occlusion,
                              parallel=parallel)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(emax, want_emax)
