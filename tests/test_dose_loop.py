"""skindose.kernel.timeline: one kernel call per procedure gives what a call per timeline chunk
gave (the loop compute used to run): the same dose bits, event maxima and PSD timeline,
for several procedures with their own table slabs, rotational events (several beams) and
the progress split."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import skindose as sd
from skindose.kernel import accumulate_dose
from skindose.kernel.timeline import BeamGroup, accumulate_groups


@pytest.fixture(scope="module")
def phantom():
    return sd.phantoms.cylinder(cell_area_cm2=9.0)


def _group(rng, phantom, first_event: int, n_events: int, slab_z: float) -> BeamGroup:
    per_event = rng.integers(1, 4, n_events)  # 1-3 beams per event (rotational runs)
    event = np.repeat(np.arange(first_event, first_event + n_events), per_event)
    k = event.size
    lo, hi = np.asarray(phantom.bounds)
    centre = 0.5 * (lo + hi)
    ang = rng.uniform(0, 2 * np.pi, k)
    w = np.stack([np.cos(ang), np.sin(ang), rng.uniform(-0.2, 0.2, k)], axis=1)
    w /= np.linalg.norm(w, axis=1)[:, None]
    u = np.cross(w, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u, axis=1)[:, None]
    v = np.cross(w, u)
    source = centre - 700.0 * w + rng.normal(0, 20, (k, 3))
    return BeamGroup(event=event, source=source, u=u, v=v, w=w,
                     tan_u=rng.uniform(0.03, 0.12, k), tan_v=rng.uniform(0.03, 0.12, k),
                     kerma=rng.uniform(1e-4, 1e-2, k), srp_mm=np.full(k, 600.0),
                     log_t0=np.log(np.full(k, 0.8)),
                     slab_center=np.array([0.0, slab_z, centre[2]]), slab_axes=np.eye(3),
                     slab_half=np.array([250.0, 25.0, 2000.0]))


def _reference(phantom, groups, n_events, max_points, mpf):
    """The previous loop: per chunk, per group; multi-beam events into a scratch map."""
    dose = np.zeros(phantom.n_cells)
    ev_max = np.zeros(n_events)
    n_chunks = min(max_points, n_events)
    bounds = np.unique(np.round(np.linspace(0, n_events, n_chunks + 1)).astype(np.int64))
    timeline = []
    args = (phantom.centroids, phantom.normals, phantom.triangles)

    def run(g, sel, out, emax):
        accumulate_dose(*args, g.source[sel], g.u[sel], g.v[sel], g.w[sel], g.tan_u[sel],
                        g.tan_v[sel], g.kerma[sel], g.srp_mm[sel], g.log_t0[sel],
                        g.slab_center, g.slab_axes, g.slab_half, mpf, out=out,
                        event_max=emax, accel=phantom.accel)

    for lo, hi in itertools.pairwise(bounds):
        for g in groups:
            sel = np.flatnonzero((g.event >= lo) & (g.event < hi))
            if not sel.size:
                continue
            uniq, counts = np.unique(g.event[sel], return_counts=True)
            for e, c in zip(uniq, counts, strict=True):
                sub = sel[g.event[sel] == e]
                if c == 1:
                    emax = np.zeros(1)
                    run(g, sub, dose, emax)
                    ev_max[e] = max(ev_max[e], emax[0])
                else:
                    scratch = np.zeros(phantom.n_cells)
                    run(g, sub, scratch, np.zeros(sub.size))
                    ev_max[e] = scratch.max()
                    dose += scratch
        timeline.append(dose.max())
    return dose, ev_max, np.array(timeline)


@pytest.mark.parametrize(("sizes", "max_points", "progress"), [
    ((7,), 64, False), ((40, 25), 16, False), ((450,), 9, True), ((3, 0, 12), 5, False)])
def test_one_call_per_group_equals_the_chunk_loop(phantom, sizes, max_points, progress):
    rng = np.random.default_rng(sum(sizes) + max_points)
    groups, first = [], 0
    for i, n in enumerate(sizes):
        if n:
            groups.append(_group(rng, phantom, first, n, slab_z=300.0 + 10 * i))
        first += n
    mpf = 1.0 / np.cos(np.radians(70.0))
    calls = []
    res = accumulate_groups(phantom.centroids, phantom.normals, phantom.triangles, groups,
                            first, accel=phantom.accel, max_obliquity_factor=mpf,
                            inverse_square=True, occlusion=True, parallel=True,
                            max_points=max_points,
                            progress=(lambda d, t: calls.append((d, t))) if progress else None)
    dose, ev_max, timeline = _reference(phantom, groups, first, max_points, mpf)
    assert res.dose_gy.max() > 0
    np.testing.assert_array_equal(res.dose_gy, dose)  # bit for bit: same sums, same order
    np.testing.assert_allclose(res.event_max_gy, ev_max, rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.timeline_gy, timeline, rtol=1e-12, atol=0)
    assert res.timeline_event[-1] == first and np.all(np.diff(res.timeline_gy) >= 0)
    if progress:  # 450 events: cut into 2 calls of >= 200 events, the last says "done"
        assert len(calls) == 2 and calls[-1] == (first, first)
        assert calls[0][0] < first


def test_no_beams_gives_the_cumulative_estimate(phantom):
    est = np.array([0.1, 0.2, 0.3, 0.4])
    res = accumulate_groups(phantom.centroids, phantom.normals, phantom.triangles, [], 4,
                            accel=phantom.accel, max_obliquity_factor=2.9,
                            inverse_square=True, occlusion=True, parallel=True,
                            max_points=2, empty_timeline=est)
    assert not res.dose_gy.any()
    np.testing.assert_allclose(res.timeline_gy, [0.3, 1.0])
    assert res.timeline_event.tolist() == [2, 4]
