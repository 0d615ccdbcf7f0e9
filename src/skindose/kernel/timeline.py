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

__all__ = ["BeamGroup", "DoseLoopResult", "ProgressCallback", "accumulate_groups",
           "progress_function"]

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

    One kernel call per group, whatever the timeline resolution; with ``progress``, a long
    group is cut at event boundaries into at most :data:`PROGRESS_STEPS` calls of at least
    :data:`MIN_EVENTS_PER_CALL` events (same sums in the same order: the same bits).
    ``empty_timeline``: when no group has a beam, the timeline is the cumulative sum of this
    (n_events,) array at the chunk ends (the reference-point estimate) instead of the PSD.
    """
    n_cells = centroids.shape[0]
    dose = np.zeros(n_cells)
    ev_max = np.zeros(n_events)
    n_chunks = min(max_points, n_events)
    bounds = (np.unique(np.round(np.linspace(0, n_events, n_chunks + 1)).astype(np.int64))
              if n_events else np.zeros(1, dtype=np.int64))
    ends = bounds[1:].astype(np.int64)
    calls = [part for g in groups if g.event.size for part in _split(g, progress is not None)]
    if not calls:
        timeline = np.array([float(empty_timeline[:e].sum()) if empty_timeline is not None
                             else 0.0 for e in ends])
        if progress is not None and n_events:
            progress(n_events, n_events)
        return DoseLoopResult(dose, ev_max, timeline, ends)
    # per call: the PSD after each chunk once the call's beams are in (earlier calls are
    # complete in `dose` by then); chunk k takes the last call with an event before its end
    per_call = np.zeros((len(calls), ends.size))
    for ci, (g, sel) in enumerate(calls):
        accumulate_dose(
            centroids, normals, triangles, g.source[sel], g.u[sel], g.v[sel], g.w[sel],
            g.tan_u[sel], g.tan_v[sel], g.kerma[sel], g.srp_mm[sel], g.log_t0[sel],
            g.slab_center, g.slab_axes, g.slab_half, max_obliquity_factor,
            inverse_square=inverse_square, occlusion=occlusion, parallel=parallel, out=dose,
            accel=accel, beam_event=g.event[sel], event_max_dose=ev_max,
            beam_chunk=np.searchsorted(ends, g.event[sel], side="right"),
            chunk_psd=per_call[ci],
        )  # fmt: skip
        if progress is not None:
            progress(int(g.event[sel][-1]) + 1 if ci < len(calls) - 1 else n_events, n_events)
    first = np.array([int(g.event[sel][0]) for g, sel in calls])
    last = np.searchsorted(first, ends, side="left") - 1  # the last call starting before
    timeline = np.where(last >= 0, per_call[np.clip(last, 0, None), np.arange(ends.size)], 0.0)
    return DoseLoopResult(dose, ev_max, timeline, ends)


#: Most kernel calls per group when a progress indicator is shown.
PROGRESS_STEPS = 20
#: Fewest events per kernel call when a group is cut for the progress indicator.
MIN_EVENTS_PER_CALL = 200


def _split(g: BeamGroup, for_progress: bool) -> list[tuple[BeamGroup, slice]]:
    """The group's beams as consecutive slices cut at event boundaries."""
    k = g.event.size
    n_ev = int(g.event[-1] - g.event[0]) + 1
    parts = min(PROGRESS_STEPS, n_ev // MIN_EVENTS_PER_CALL) if for_progress else 1
    if parts <= 1:
        return [(g, slice(0, k))]
    targets = g.event[0] + np.arange(1, parts) * n_ev // parts
    cuts = [0, *np.searchsorted(g.event, targets, side="left").tolist(), k]
    return [(g, slice(a, b)) for a, b in itertools.pairwise(cuts) if b > a]
