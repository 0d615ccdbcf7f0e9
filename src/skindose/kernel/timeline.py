"""The dose loop over a whole computation: dose per cell, per-event maximum and PSD timeline.

:func:`accumulate_groups` runs :func:`skindose.kernel.accumulate_dose` over every beam of every
group (a group is one procedure's beams, with its own table slab) and records

* the dose per cell (each cell owns its sum; beams in fixed order, so results do not depend on
  the number of threads);
* the maximum dose one event gave to one cell (the event's beams, e.g. the sub-beams of a
  rotational run, are summed on each cell before taking the maximum);
* the PSD (maximum over cells of the cumulative dose) after each chunk of events: the events
  (all groups, in order) are cut into at most ``max_points`` chunks.

Nothing here knows DICOM or geometry: the caller passes arrays.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skindose.kernel import Accel, accumulate_dose

__all__ = ["BeamGroup", "ProgressCallback", "accumulate_groups", "progress_function"]

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class BeamGroup:
    """Beams that share one table slab (one procedure), in the kernel's terms.

    ``event`` is each beam's global event index (non-decreasing); the other per-beam arrays
    are as for :func:`skindose.kernel.accumulate_dose`.
    """

    event: NDArray[np.int64]
    source: NDArray[np.float64]
    u: NDArray[np.float64]
    v: NDArray[np.float64]
    w: NDArray[np.float64]
    tan_u: NDArray[np.float64]
    tan_v: NDArray[np.float64]
    kerma: NDArray[np.float64]
    srp_mm: NDArray[np.float64]
    log_t0: NDArray[np.float64]
    slab_center: NDArray[np.float64]
    slab_axes: NDArray[np.float64]
    slab_half: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DoseLoopResult:
    """Dose per cell, per-event maximum and the PSD after each chunk."""

    dose_gy: NDArray[np.float64]
    event_max_gy: NDArray[np.float64]
    timeline_gy: NDArray[np.float64]
    timeline_event: NDArray[np.int64]


def progress_function(progress: bool | ProgressCallback) -> ProgressCallback:
    """A callable ``(events_done, events_total)``: the caller's, a stderr line, or nothing."""
    if callable(progress):
        return progress
    if progress:
        def _print(done: int, total: int) -> None:
            end = "\n" if done >= total else ""
            print(f"\rskindose: {done}/{total} events", end=end, file=sys.stderr, flush=True)

        return _print
    return lambda done, total: None


def accumulate_groups(
    centroids: NDArray[np.float64], normals: NDArray[np.float64],
    triangles: NDArray[np.float64], groups: Sequence[BeamGroup], n_events: int, *,
    accel: Accel, max_obliquity_factor: float, inverse_square: bool, occlusion: bool,
    parallel: bool, max_points: int = 64, empty_timeline: NDArray[np.float64] | None = None,
    progress: ProgressCallback | None = None,
) -> DoseLoopResult:
    """Run the kernel over every group; see the module docstring.

    ``empty_timeline``: when no group has a beam, the timeline is the cumulative sum of this
    (n_events,) array at the chunk ends (the reference-point estimate) instead of the PSD.
    """
    n_cells = centroids.shape[0]
    dose = np.zeros(n_cells)
    ev_max = np.zeros(n_events)
    n_chunks = min(max_points, n_events)
    bounds = (np.unique(np.round(np.linspace(0, n_events, n_chunks + 1)).astype(np.int64))
              if n_events else np.zeros(1, dtype=np.int64))
    any_beams = any(g.event.size for g in groups)
    timeline: list[float] = []
    ends: list[int] = []
    for lo, hi in itertools.pairwise(bounds):
        for g in groups:
            sel = np.flatnonzero((g.event >= lo) & (g.event < hi))
            if sel.size == 0:
                continue
            gev = g.event[sel]
            uniq, counts = np.unique(gev, return_counts=True)
            multi = set(uniq[counts > 1].tolist())
            single = sel[~np.isin(gev, list(multi))] if multi else sel
            if single.size:
                emax = np.zeros(single.size)
                _run(g, single, centroids, normals, triangles, accel, max_obliquity_factor,
                     inverse_square, occlusion, parallel, dose, emax)
                np.maximum.at(ev_max, g.event[single], emax)
            for e in sorted(multi):
                sub = sel[gev == e]
                scratch = np.zeros(n_cells)
                _run(g, sub, centroids, normals, triangles, accel, max_obliquity_factor,
                     inverse_square, occlusion, parallel, scratch, np.zeros(sub.size))
                ev_max[e] = float(scratch.max())
                dose += scratch
        if any_beams or empty_timeline is None:
            timeline.append(float(dose.max()) if n_cells else 0.0)
        else:
            timeline.append(float(empty_timeline[:hi].sum()))
        ends.append(int(hi))
        if progress is not None:
            progress(int(hi), n_events)
    return DoseLoopResult(dose, ev_max, np.asarray(timeline, dtype=np.float64),
                          np.asarray(ends, dtype=np.int64))


def _run(g: BeamGroup, sel: NDArray[np.int64], centroids: NDArray[np.float64],
         normals: NDArray[np.float64], triangles: NDArray[np.float64], accel: Accel,
         mpf: float, inverse_square: bool, occlusion: bool, parallel: bool,
         out: NDArray[np.float64], emax: NDArray[np.float64]) -> None:
    accumulate_dose(
        centroids, normals, triangles,
        g.source[sel], g.u[sel], g.v[sel], g.w[sel], g.tan_u[sel], g.tan_v[sel],
        g.kerma[sel], g.srp_mm[sel], g.log_t0[sel],
        g.slab_center, g.slab_axes, g.slab_half, mpf,
        inverse_square=inverse_square, occlusion=occlusion, parallel=parallel,
        out=out, event_max=emax, accel=accel,
    )  # fmt: skip
