"""The one orchestrator: RDSR procedure(s) → beams → physics → kernel → :class:`SkinDoseMap`.

:func:`compute` only wires the stages together (docs/architecture.md §1); every rule lives in
its stage (docs/architecture.md §9): accumulation in :mod:`skindose.accumulate`, the vendor
profile in :mod:`skindose.vendors`, beams in :mod:`skindose.geometry`, factors, the BSF field
side, the reference-point estimate and the KAP check in :mod:`skindose.physics`, the dose
loop in :mod:`skindose.kernel`. It keeps no module-level mutable state, so several threads may
call it at once.

Per-beam kerma into the kernel: ``K_RP(event) * weight * BSF * f * C_cal``; the table enters
per ray as ``exp(ln T0 * min(path / thickness, 1 / cos(max_obliquity)))``. Events that cannot
be placed count in the reference-point estimate and in the "could not be mapped" note.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from skindose import kernel
from skindose.accumulate import check_same_patient, merge_procedures, reference_totals
from skindose.dosemap import EventResult, SkinDoseMap, outcome_notes, skin_totals
from skindose.geometry import BeamSet, beams_for, geometry_poor
from skindose.kernel.timeline import (
    BeamGroup,
    ProgressCallback,
    accumulate_groups,
    progress_function,
)
from skindose.notes import Note, NoteCode, Severity, dedupe_notes
from skindose.phantoms import PhantomLike, default_phantom
from skindose.physics import calibration_notes, per_event_factors
from skindose.physics.reference import equivalent_field_side_cm, kap_checks
from skindose.physics.reference import reference_point_estimate as rp_estimate
from skindose.rdsr.model import Procedure
from skindose.settings import Settings
from skindose.vendors import profile_for, profile_notes

__all__ = ["MAX_TIMELINE_POINTS", "compute"]

#: Most points of the PSD timeline (event chunks).
MAX_TIMELINE_POINTS = 64


@dataclasses.dataclass(slots=True)
class _Plan:
    """One procedure after geometry and physics: its beams in kernel terms and its events."""

    beams: BeamSet | None
    group: BeamGroup | None
    events: list[EventResult]  # max_dose_gy still 0: filled from the kernel's event maxima
    rp_estimate: NDArray[np.float64]  # (n_events,) reference-point estimate (Gy)


def compute(
    procedures: Procedure | Sequence[Procedure],
    phantom: PhantomLike | None = None,
    settings: Settings | None = None,
    progress: bool | ProgressCallback = False,
    *,
    same_patient: bool = False,
) -> SkinDoseMap:
    """Skin dose map of one or several procedures of the same patient.

    Parameters
    ----------
    procedures
        A :class:`~skindose.rdsr.model.Procedure` (from :func:`skindose.read_rdsr`) or a
        sequence of them; their doses are added on one phantom.
    phantom
        A :class:`~skindose.phantoms.Phantom`. Default: :func:`skindose.phantoms.default_phantom`
        (adult, arms and sex from the procedures, scaled to the patient's reported size, cells
        of at most ``settings.cell_area_cm2``).
    settings
        A :class:`~skindose.settings.Settings` (default ``Settings()``).
    progress
        True prints a one-line progress indicator to stderr; a callable is called as
        ``progress(events_done, events_total)`` after each chunk of events.
    same_patient
        Add procedures whose patient identities differ (the caller vouches that they are one
        patient). Without it, different patients raise
        :class:`~skindose.errors.PatientMismatchError`.

    Returns
    -------
    SkinDoseMap
        The dose per cell and everything needed to trust it. When no event could be placed
        (geometry-poor RDSRs), ``is_reference_point_estimate`` is True, the dose array is all
        zeros and ``psd_gy`` is the conservative reference-point estimate.

    Raises
    ------
    ValueError
        When no procedure is given.
    PatientMismatchError
        When the procedures belong to different patients and ``same_patient`` is False.

    Notes
    -----
    Accumulation rules (duplicate RDSRs and events counted once, partial reports superseded,
    each with a note): :mod:`skindose.accumulate`.
    """
    from skindose import __version__

    procs = [procedures] if isinstance(procedures, Procedure) else list(procedures)
    if not procs:
        msg = "compute needs at least one procedure"
        raise ValueError(msg)
    s = settings if settings is not None else Settings()
    notes = check_same_patient(procs, same_patient=same_patient)
    procs, merged = merge_procedures(procs)
    notes += merged
    if len(procs) > 1:
        notes.append(_info(NoteCode.PROCEDURES_ACCUMULATED, f"{len(procs)} procedures "
                           "accumulated on one phantom, in the given order"))
    if phantom is None:
        phantom, phantom_notes = default_phantom(procs, s)
        notes += phantom_notes
    else:
        notes.append(_info(NoteCode.PHANTOM, f"phantom given by the caller: {phantom!r}"))
    notes += calibration_notes(s)

    plans, offset = [], 0
    for pi, proc in enumerate(procs):
        sink: list[Note] = []
        plans.append(_plan(proc, offset, phantom, s, sink))
        notes += [n.with_procedure(pi if len(procs) > 1 else None) for n in sink]
        offset += proc.n_events
    rp_per_event = np.concatenate([p.rp_estimate for p in plans])
    loop = accumulate_groups(
        phantom.centroids, phantom.normals, phantom.triangles,
        [p.group for p in plans if p.group is not None], offset, accel=phantom.accel,
        max_obliquity_factor=1.0 / math.cos(math.radians(s.max_obliquity_deg)),
        inverse_square=s.inverse_square, occlusion=s.occlusion, parallel=s.parallel,
        max_points=MAX_TIMELINE_POINTS, empty_timeline=rp_per_event,
        progress=progress_function(progress))

    events, g = [], 0
    for pi, plan in enumerate(plans):
        for e in plan.events:
            events.append(dataclasses.replace(e, procedure_index=pi, max_dose_gy=float(
                loop.event_max_gy[g]) if e.skipped is None else 0.0))
            g += 1
    rp_total = float(rp_per_event.sum())
    is_rp = not any(p.group is not None for p in plans)
    psd = float(loop.dose_gy.max()) if phantom.n_cells else 0.0
    notes = dedupe_notes(notes + outcome_notes(events, is_rp, psd, rp_total))
    totals = reference_totals(procs)
    totals["skin"] = skin_totals(None if is_rp else psd, rp_total, totals["total"]["kerma_rp_gy"])
    return SkinDoseMap(
        phantom=phantom, dose_gy=loop.dose_gy, events=tuple(events),
        psd_timeline_gy=loop.timeline_gy, psd_timeline_event=loop.timeline_event,
        procedures=tuple(p.summary_dict() for p in procs), reference_totals=totals,
        settings=s.to_dict(), notes=tuple(notes), is_reference_point_estimate=is_rp,
        reference_point_estimate_gy=rp_total, version=__version__,
        beams=tuple(p.beams for p in plans),
    )


def _info(code: NoteCode, text: str) -> Note:
    return Note(code=code, text=text, severity=Severity.INFO, stage="compute")


def _plan(proc: Procedure, offset: int, phantom: PhantomLike, s: Settings,
          notes: list[Note]) -> _Plan:
    """Profile, factors, beams, per-beam kerma and the per-event records of one procedure."""
    evs = proc.events
    notes += proc.notes
    profile, why = profile_for(proc, s)
    factors = per_event_factors(evs, s, table=profile.table_transmission,
                                table_measured=profile.table_measured)
    notes += profile_notes(profile)
    skip: dict[int, str] = {}
    bs: BeamSet | None = None
    if (poor := geometry_poor(proc, profile)) is not None:
        skip = dict.fromkeys(range(len(evs)), poor)
        notes.append(Note(code=NoteCode.GEOMETRY_POOR, stage="geometry",
                          text="no event reports a table position: not mapped (geometry-poor)"))
    else:
        bs = beams_for(proc, phantom, s, profile, profile_reason=why)
        notes += bs.notes
        skip.update(bs.skipped)
    skip.update({i: why for i, ev in enumerate(evs)
                 if i not in skip and (why := ev.unmappable) is not None})
    if bs is not None and bs.n_beams:
        keep = np.array([int(i) not in skip for i in bs.event_index], dtype=bool)
        bs = bs.subset(keep) if not keep.all() else bs
    events = [EventResult(index=i, procedure_index=0, uid=ev.uid, kerma_rp_gy=ev.kerma_rp_gy,
                          kap_gym2=ev.kap_gym2, entrance_point_mm=None, entrance_label=None,
                          max_dose_gy=0.0, skin_factor=None, field_side_skin_cm=None,
                          kap_check=None, skipped=skip.get(i)) for i, ev in enumerate(evs)]
    if bs is None or not bs.n_beams:
        notes += factors.notes
        est, est_notes = rp_estimate(evs, factors, {})
        notes += est_notes
        return _Plan(None, None, events, est)

    # ---- beams: entrance, field side at the skin, BSF, kerma
    ei = bs.event_index
    hit_t, hit_tri = kernel.first_hit_distance(bs.source, bs.w, phantom.triangles,
                                               accel=phantom.accel)
    n_miss = int((~np.isfinite(hit_t)).sum())
    if n_miss:
        notes.append(_info(NoteCode.METHOD, f"{n_miss} beam(s) whose central ray misses the "
                           "phantom: BSF field side taken at the isocenter distance"))
    side = equivalent_field_side_cm(bs.tan_u, bs.tan_v,
                                    np.where(np.isfinite(hit_t), hit_t, bs.sod_mm))
    beam_f = factors.for_beams(ei).with_field_side(side)
    notes += beam_f.notes
    notes.append(_info(NoteCode.METHOD, "BSF field side: equivalent square 2·sqrt(tan_u·tan_v)·d "
                       "at the skin entrance of each beam's central ray"))
    kr = np.array([evs[i].kerma_rp_gy for i in ei], dtype=float)
    kerma = kr * bs.weight * beam_f.bsf * beam_f.medium_factor * beam_f.calibration
    t0 = beam_f.table_t0
    if s.table_attenuation and not 2.0 * float(bs.slab_half[2]) > 0 and np.any(t0 < 1):
        notes.append(Note(code=NoteCode.TABLE_NO_THICKNESS, stage="compute",
                          text="table slab has no thickness: table attenuation not applied"))
        t0 = np.ones_like(t0)
    group = BeamGroup(event=offset + ei, source=bs.source, u=bs.u, v=bs.v, w=bs.w,
                      tan_u=bs.tan_u, tan_v=bs.tan_v, kerma=kerma, srp_mm=bs.srp_mm,
                      log_t0=np.log(t0), slab_center=bs.slab_center, slab_axes=bs.slab_axes,
                      slab_half=bs.slab_half)

    # ---- per event: first beam's entrance and field, skin factor, KAP check, RP estimate
    first: dict[int, int] = {}
    for b, i in enumerate(ei.tolist()):
        first.setdefault(i, b)
    fields = {i: (float(bs.tan_u[b]), float(bs.tan_v[b]), float(bs.srp_mm[b]),
                  bs.field_source[b]) for i, b in first.items()}
    est, est_notes = rp_estimate(evs, factors, {i: f[:3] for i, f in fields.items()})
    ratios, kap_notes = kap_checks(evs, fields)
    notes += est_notes + kap_notes
    for i, b in first.items():
        mask = ei == i
        entrance = bs.source[b] + hit_t[b] * bs.w[b] if np.isfinite(hit_t[b]) else None
        events[i] = dataclasses.replace(
            events[i], kap_check=ratios.get(i), field_side_skin_cm=float(side[b]),
            entrance_point_mm=None if entrance is None else tuple(float(x) for x in entrance),
            entrance_label=phantom.label(int(hit_tri[b])) if entrance is not None else None,
            skin_factor=float((bs.weight[mask] * beam_f.bsf[mask]).sum()
                              / float(bs.weight[mask].sum()))
            * float(factors.medium_factor[i] * factors.calibration[i]))
    return _Plan(bs, group, events, est)
