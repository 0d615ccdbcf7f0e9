"""The one orchestrator: RDSR procedure(s) → beams → physics → kernel → :class:`SkinDoseMap`.

:func:`compute` wires the stages (docs/architecture.md §1) together; nothing else knows about all of
them. It keeps no module-level mutable state (the kernel's acceleration structure is built once
per call and passed explicitly), so several threads may call it at once.

Choices made here (each is also written into the result's provenance)
---------------------------------------------------------------------
* **Field side for the BSF** (per (sub-)beam): the equivalent square side at the skin,
  ``2 * sqrt(tan_u * tan_v) * d``, where d is the distance from the focal spot to where the
  beam's central ray first meets the skin. When the central ray misses the phantom, d is the
  source-to-isocenter distance (the field at the isocenter plane, where the skin would be for a
  patient larger than the phantom).
* **Per-beam kerma** into the kernel: ``K_RP(event) * weight * BSF * f * C_cal``; the table
  enters per ray as ``exp(ln T0 * min(path / thickness, 1 / cos(max_obliquity)))``.
* **Reference-point estimate** (always computed; the only result when no event could be
  placed): ``sum K_RP * BSF(field side at the RP) * f * C_cal`` with **T = 1**. "Conservative"
  means an upper bound; whether a beam passes the table is unknown without geometry, and
  T0 < 1 would lower the estimate, so the table is left out. The field side at the RP comes
  from the placed beam, else from the reported field at the detector scaled by srp / SID, else
  from sqrt(KAP / K_RP), else a 10 cm default (flagged).
* **Geometry-poor procedures**: events without positioner angles, or a procedure in which no
  event reports any table position, are not mapped (no fake map); they count in the
  reference-point estimate and in the "could not be mapped" warning.
* **PSD timeline**: the events (all procedures, in order) are cut into at most
  :data:`MAX_TIMELINE_POINTS` chunks; the kernel runs chunk by chunk and the PSD is recorded
  after each.
* **Per-event maximum**: the largest dose the event gave to one cell (exact also for
  rotational runs, whose sub-beams are summed before taking the maximum).
* **KAP check**: reported KAP / (K_RP × field area at the RP of the event's first beam),
  flagged outside 0.75–1.25; not formed when the field itself was derived from KAP / K_RP.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from skindose.accumulate import check_same_patient, merge_procedures
from skindose.dosemap import KAP_CHECK_RANGE, EventResult, SkinDoseMap
from skindose.notes import Note, NoteCode, Severity
from skindose.rdsr.model import Procedure, _jsonable

__all__ = ["DEFAULT_RP_FIELD_SIDE_CM", "KAP_CHECK_RANGE", "MAX_TIMELINE_POINTS", "compute"]

#: Most points of the PSD timeline (event chunks).
MAX_TIMELINE_POINTS = 64
#: Field side at the reference point assumed for the BSF when nothing gives it (cm).
DEFAULT_RP_FIELD_SIDE_CM = 10.0

_TABLE_FIELDS = ("table_longitudinal_mm", "table_lateral_mm", "table_height_mm")
_FACTOR_ARRAYS = ("kvp", "cu_mm", "al_mm", "hvl_mm_al", "bsf", "medium_factor", "table_t0",
                  "calibration")

ProgressCallback = Callable[[int, int], None]


class _Notes:
    """Collects the notes of one computation; ``append(text)`` uses the collector's code."""

    def __init__(self, sink: list[Note], code: NoteCode, severity: Severity | None = None,
                 procedure_index: int | None = None, stage: str = "compute"):
        self.sink, self.code, self.severity = sink, code, severity
        self.procedure_index, self.stage = procedure_index, stage

    def append(self, text: str, code: NoteCode | None = None,
               severity: Severity | None = None, event_index: int | None = None,
               data: dict[str, Any] | None = None, stage: str | None = None) -> None:
        self.sink.append(Note(code=code or self.code, text=text,
                              severity=severity or self.severity, event_index=event_index,
                              procedure_index=self.procedure_index, stage=stage or self.stage,
                              data=data or {}))

    def extend(self, texts: Sequence[str]) -> None:
        for t in texts:
            self.append(t)

    def at(self, procedure_index: int | None, code: NoteCode | None = None,
           severity: Severity | None = None, stage: str | None = None) -> _Notes:
        """A collector for the same sink attributed to one procedure."""
        return _Notes(self.sink, code or self.code, severity or self.severity,
                      procedure_index, stage or self.stage)


@dataclasses.dataclass(slots=True)
class _Prepared:
    """One procedure after geometry and physics (internal)."""

    index: int
    procedure: Procedure
    offset: int  # global index of its first event
    beams: Any  # BeamSet or None
    kerma: np.ndarray  # (k,) per-beam kerma into the kernel
    log_t0: np.ndarray  # (k,)
    beam_global_event: np.ndarray  # (k,) global event index
    events: list[dict[str, Any]]  # per event: partial EventResult fields
    rp_estimate: np.ndarray  # (n_events,) per-event reference-point estimate (Gy)
    hit_t: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))  # (k,) mm
    hit_tri: np.ndarray = dataclasses.field(  # (k,) entrance triangle or -1
        default_factory=lambda: np.zeros(0, dtype=np.int64))
    small_fields: list[int] = dataclasses.field(default_factory=lambda: [0])  # beams rescued


def compute(
    procedures: Procedure | Sequence[Procedure],
    phantom: Any = None,
    settings: Any = None,
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
        A :class:`~skindose.phantoms.Phantom`. Default: :func:`skindose.phantoms.adult`
        scaled to the height and mass of the first procedure that reports either, with cells
        of at most ``settings.cell_area_cm2``.
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
    Accumulation rules (:mod:`skindose.accumulate`): the same RDSR (SOP Instance UID) given
    twice is counted once, an Irradiation Event UID seen in an earlier input is dropped from
    the later one, and a partial report whose events are all in a larger report of the same
    study is superseded; each with a note.
    """
    from skindose import __version__, kernel
    from skindose.settings import Settings

    procs = [procedures] if isinstance(procedures, Procedure) else list(procedures)
    if not procs:
        msg = "compute needs at least one procedure"
        raise ValueError(msg)
    s = settings if settings is not None else Settings()
    all_notes: list[Note] = []
    prov = _Notes(all_notes, NoteCode.METHOD, Severity.INFO)
    warns = _Notes(all_notes, NoteCode.OTHER, Severity.WARNING)

    all_notes.extend(check_same_patient(procs, same_patient=same_patient))
    procs, merge_notes = merge_procedures(procs)
    all_notes.extend(merge_notes)
    if len(procs) > 1:
        prov.append(f"{len(procs)} procedures accumulated on one phantom, in the given order",
                    code=NoteCode.PROCEDURES_ACCUMULATED)

    if phantom is None:
        phantom = _default_phantom(procs, s, prov, warns)
    else:
        prov.append(f"phantom given by the caller: {phantom!r}")

    accel = phantom.accel  # built once per phantom (skindose.phantoms.Phantom.accel)
    tri = phantom.triangles

    prepared: list[_Prepared] = []
    offset = 0
    for pi, proc in enumerate(procs):
        prep = _prepare_procedure(pi, proc, offset, phantom, s, accel, len(procs) > 1,
                                  prov, warns)
        prepared.append(prep)
        offset += proc.n_events
    n_total = offset

    # ---- kernel, chunk by chunk (PSD timeline)
    dose = np.zeros(phantom.n_cells)
    ev_max = np.zeros(n_total)
    n_chunks = min(MAX_TIMELINE_POINTS, n_total)
    bounds = (np.unique(np.round(np.linspace(0, n_total, n_chunks + 1)).astype(np.int64))
              if n_total else np.zeros(1, dtype=np.int64))
    timeline_gy: list[float] = []
    timeline_ev: list[int] = []
    report = _progress_function(progress)
    any_beams = any(p.beams is not None and p.beams.n_beams > 0 for p in prepared)
    rp_cum = np.concatenate([p.rp_estimate for p in prepared]) if n_total else np.zeros(0)
    mpf = 1.0 / math.cos(math.radians(s.max_obliquity_deg))
    for lo, hi in itertools.pairwise(bounds):
        for prep in prepared:
            bs = prep.beams
            if bs is None or bs.n_beams == 0:
                continue
            sel = np.flatnonzero((prep.beam_global_event >= lo) & (prep.beam_global_event < hi))
            if sel.size == 0:
                continue
            gev = prep.beam_global_event[sel]
            uniq, counts = np.unique(gev, return_counts=True)
            multi = set(uniq[counts > 1].tolist())
            single = sel[~np.isin(gev, list(multi))] if multi else sel
            if single.size:
                emax = np.zeros(single.size)
                _run_kernel(kernel, phantom, tri, bs, single, prep, s, mpf, dose, emax, accel)
                np.maximum.at(ev_max, prep.beam_global_event[single], emax)
            for g in sorted(multi):
                sub = sel[gev == g]
                scratch = np.zeros(phantom.n_cells)
                emax = np.zeros(sub.size)
                _run_kernel(kernel, phantom, tri, bs, sub, prep, s, mpf, scratch, emax, accel)
                ev_max[g] = float(scratch.max())
                dose += scratch
        if any_beams:
            timeline_gy.append(float(dose.max()))
        else:
            timeline_gy.append(float(rp_cum[:hi].sum()))
        timeline_ev.append(int(hi))
        report(int(hi), n_total)

    n_small = sum(p.small_fields[0] for p in prepared)
    if n_small:
        prov.append(
            f"{n_small} beam(s) had a field at the skin too small to contain any skin-cell "
            "centroid; each deposited its central-ray dose on its entrance cell, scaled by "
            "min(1, field area at the skin / cell area) so that no dose is lost and the cell "
            "holds its area-averaged dose"
        )

    # ---- per-event results, totals, warnings
    events: list[EventResult] = []
    for prep in prepared:
        for e in prep.events:
            g = prep.offset + e["index"]
            events.append(EventResult(
                index=e["index"], procedure_index=prep.index, uid=e["uid"],
                kerma_rp_gy=e["kerma_rp_gy"], kap_gym2=e["kap_gym2"],
                entrance_point_mm=e["entrance_point_mm"], entrance_label=e["entrance_label"],
                max_dose_gy=float(ev_max[g]) if e["skipped"] is None else 0.0,
                skin_factor=e["skin_factor"], field_side_skin_cm=e["field_side_skin_cm"],
                kap_check=e["kap_check"], skipped=e["skipped"],
            ))
    _skipped_warning(events, procs, warns)

    rp_total = float(rp_cum.sum()) if n_total else 0.0
    is_rp = not any_beams
    if is_rp:
        warns.append(
            "no event could be placed on the phantom: the result is the conservative "
            f"reference-point estimate ({rp_total:.4g} Gy), not a skin dose map",
            code=NoteCode.REFERENCE_POINT_ESTIMATE,
        )
    elif any(e.skipped is None and (e.kerma_rp_gy or 0) > 0 for e in events) and not (
            float(dose.max()) > 0):
        warns.append("events were placed but no beam reached the skin of the phantom: the map "
                     "is empty; the geometry (table position, placement) is probably wrong",
                     code=NoteCode.BEAM_MISSES_PHANTOM, severity=Severity.CRITICAL)
    totals = _reference_totals(procs, float(dose.max()) if any_beams else None, rp_total)
    result = SkinDoseMap(
        phantom=phantom,
        dose_gy=dose,
        events=tuple(events),
        psd_timeline_gy=np.asarray(timeline_gy, dtype=np.float64),
        psd_timeline_event=np.asarray(timeline_ev, dtype=np.int64),
        procedures=tuple(_procedure_summary(p) for p in procs),
        reference_totals=totals,
        settings=s.to_dict(),
        notes=tuple(_dedupe_notes(all_notes)),
        provenance=tuple(dict.fromkeys(str(n) for n in all_notes
                                       if n.severity is Severity.INFO)),
        warnings=tuple(dict.fromkeys(str(n) for n in all_notes
                                     if n.severity is not Severity.INFO)),
        is_reference_point_estimate=is_rp,
        reference_point_estimate_gy=rp_total,
        version=__version__,
        beams=tuple(p.beams if p.beams is not None and p.beams.n_beams else None
                    for p in prepared),
    )
    return result


# ----------------------------------------------------------------------------------------------
# helpers


def _dedupe_notes(notes: list[Note]) -> list[Note]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for n in notes:
        key = (n.code, n.text, n.event_index, n.procedure_index)
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


def _default_phantom(procs: list[Procedure], s: Any, prov: _Notes, warns: _Notes) -> Any:
    """The phantom :func:`skindose.phantoms.default_phantom` picks (variant, size), noted."""
    from skindose import phantoms

    ph, notes = phantoms.default_phantom(procs, s)
    prov.sink.extend(notes)
    prov.append(f"default phantom: {ph.name}, {ph.height_m:g} m, {ph.mass_kg:g} kg, cells of at "
                f"most {s.cell_area_cm2:g} cm² ({ph.n_cells} cells)", code=NoteCode.PHANTOM)
    return ph


def _profile_notes(profile: Any, why: str, factors: Any, s: Any, prov: _Notes,
                   warns: _Notes) -> None:
    """The caveats every result carries: vendor validation, calibration, table transmission."""
    prov.append(f"vendor profile {profile.name} ({why})", code=NoteCode.VENDOR_PROFILE,
                stage="geometry")
    if profile.name == "generic":
        warns.append("no vendor profile matches this device: the generic DICOM profile is used",
                     code=NoteCode.GENERIC_PROFILE, stage="geometry")
    elif not profile.validated:
        warns.append(f"the {profile.family} profile is not validated against measurements on "
                     "the system: table conventions come from the DICOM definitions and public "
                     "files, placement centres the beams on the target region",
                     code=NoteCode.VENDOR_NOT_VALIDATED, stage="geometry")
    if s.calibration_factor == 1.0 and not s.calibration_by_kvp:
        warns.append("dose display not calibrated (C_cal = 1): the displayed K_RP and KAP may "
                     "be off by up to ±35 % (IEC 60601-2-43 tolerance)",
                     code=NoteCode.UNCALIBRATED, stage="physics")
    if s.table_attenuation and factors.n_events:
        t0 = float(np.median(factors.table_t0))
        if factors.table_is_estimate:
            warns.append(f"table + mattress transmission not measured for this device: the "
                         f"estimate T0 = {t0:.3g} is used (uncertainty about ±15 %)",
                         code=NoteCode.TABLE_ESTIMATED, stage="physics", data={"t0": t0})
        else:
            src = "Settings.table_transmission" if s.table_transmission is not None else (
                f"measured table '{profile.table_transmission}'")
            prov.append(f"table + mattress transmission from {src} (median T0 {t0:.3g})",
                        code=NoteCode.TABLE_MEASURED, stage="physics", data={"t0": t0})


def _has_table(proc: Procedure) -> bool:
    return any(
        getattr(ev, f) is not None for ev in proc.events if ev.has_geometry for f in _TABLE_FIELDS
    )


def _prepare_procedure(
    pi: int,
    proc: Procedure,
    offset: int,
    phantom: Any,
    s: Any,
    accel: Any,
    tag: bool,
    prov_all: _Notes,
    warns_all: _Notes,
) -> _Prepared:
    from skindose import kernel
    from skindose.geometry import beams_for
    from skindose.physics import per_event_factors
    from skindose.vendors import profile_for

    pre = ""  # the procedure is named by each note's procedure_index
    pidx = pi if tag else None
    prov = prov_all.at(pidx, stage="compute")
    warns = warns_all.at(pidx, stage="compute")
    evs = proc.events
    n = len(evs)
    prov_all.sink.extend(note.with_procedure(pidx) for note in proc.notes)
    profile, why = profile_for(proc, s)
    factors = per_event_factors(evs, s, table=profile.table_transmission)
    _profile_notes(profile, why, factors, s, prov, warns)
    skip: dict[int, str] = {}
    bs = None
    if profile.has_geometry and any(ev.has_geometry for ev in evs) and not _has_table(proc):
        for i in range(n):
            skip[i] = "geometry-poor: no table position reported in the file"
        warns.append("no event reports a table position: not mapped (geometry-poor)",
                     code=NoteCode.GEOMETRY_POOR)
    else:
        bs = beams_for(proc, phantom, s, profile)
        for x in bs.provenance:
            prov.append(x, code=NoteCode.PLACEMENT)
        for x in bs.warnings:
            warns.append(x, code=NoteCode.PLACEMENT)
        for i, why in bs.skipped:
            skip[i] = why
    for i, ev in enumerate(evs):
        if i not in skip and ev.unusable is not None:
            skip[i] = f"unusable: {ev.unusable}"
        elif i not in skip and (ev.kerma_rp_gy is None or not ev.kerma_rp_gy >= 0):
            skip[i] = "no reference air kerma (K_RP) reported"

    # ---- beams: entrance, field side at the skin, BSF, kerma
    kerma = np.zeros(0)
    log_t0 = np.zeros(0)
    glob = np.zeros(0, dtype=np.int64)
    first_beam: dict[int, int] = {}
    beam_bsf = np.zeros(0)
    side_skin = np.zeros(0)
    hit_t = np.zeros(0)
    hit_tri = np.zeros(0, dtype=np.int64)
    if bs is not None and bs.n_beams:
        keep = np.array([int(i) not in skip for i in bs.event_index], dtype=bool)
        if not keep.all():
            bs = _subset_beams(bs, keep)
    if bs is not None and bs.n_beams:
        ei = bs.event_index
        hit_t, hit_tri = kernel.first_hit_distance(bs.source, bs.w, phantom.triangles,
                                                   accel=accel)
        d = np.where(np.isfinite(hit_t), hit_t, bs.sod_mm)
        n_miss = int((~np.isfinite(hit_t)).sum())
        if n_miss:
            prov.append(pre + f"{n_miss} beam(s) whose central ray misses the phantom: BSF "
                        "field side taken at the isocenter distance")
        side_skin = 2.0 * np.sqrt(bs.tan_u * bs.tan_v) * d / 10.0
        beam_f = dataclasses.replace(
            factors,
            **{a: getattr(factors, a)[ei] for a in _FACTOR_ARRAYS},
            event_labels=tuple(factors.event_labels[i] for i in ei) if factors.event_labels
            else (),
        ).with_field_side(side_skin)
        for x in beam_f.warnings:
            warns.append(x, code=NoteCode.PHYSICS_DEFAULT, stage="physics")
        beam_bsf = beam_f.bsf
        kr = np.array([evs[i].kerma_rp_gy for i in ei], dtype=float)
        kerma = kr * bs.weight * beam_f.bsf * beam_f.medium_factor * beam_f.calibration
        t0 = beam_f.table_t0
        thick = 2.0 * float(bs.slab_half[2])
        if s.table_attenuation and not thick > 0 and np.any(t0 < 1):
            warns.append("table slab has no thickness: table attenuation not applied",
                         code=NoteCode.TABLE_NO_THICKNESS)
            t0 = np.ones_like(t0)
        log_t0 = np.log(t0)
        glob = offset + ei
        for b, i in enumerate(ei.tolist()):
            first_beam.setdefault(i, b)
        prov.append(pre + "BSF field side: equivalent square 2·sqrt(tan_u·tan_v)·d at the skin "
                    "entrance of each beam's central ray")
    else:
        for x in factors.warnings:
            warns.append(x, code=NoteCode.PHYSICS_DEFAULT, stage="physics")

    # ---- reference-point estimate per event (T = 1: an upper bound)
    rp_side = np.full(n, DEFAULT_RP_FIELD_SIDE_CM)
    n_default = 0
    for i, ev in enumerate(evs):
        if i in first_beam:
            b = first_beam[i]
            rp_side[i] = 2.0 * math.sqrt(bs.tan_u[b] * bs.tan_v[b]) * bs.srp_mm[b] / 10.0
            continue
        fd = ev.field_at_detector_mm
        if fd is not None and ev.sid_mm and ev.srp_mm:
            rp_side[i] = math.sqrt(fd[0] * fd[1]) * ev.srp_mm / ev.sid_mm / 10.0
        elif ev.kap_gym2 and ev.kerma_rp_gy and ev.kap_gym2 > 0 and ev.kerma_rp_gy > 0:
            rp_side[i] = math.sqrt(ev.kap_gym2 / ev.kerma_rp_gy) * 100.0
        else:
            n_default += 1
    rp_f = factors.with_field_side(rp_side) if n else factors
    kr_all = np.array([ev.kerma_rp_gy or 0.0 for ev in evs], dtype=float)
    rp_est = kr_all * rp_f.bsf * rp_f.medium_factor * rp_f.calibration
    if n_default:
        prov.append(f"reference-point estimate: field size unknown for {n_default} "
                     f"event(s), {DEFAULT_RP_FIELD_SIDE_CM:g} cm assumed for the BSF")
    prov.append(pre + "reference-point estimate: sum of K_RP × BSF(field at the RP) × f × C_cal "
                "with table transmission 1 (an upper bound: the table is left out)")

    # ---- per-event records
    events: list[dict[str, Any]] = []
    n_kap_trivial = 0
    for i, ev in enumerate(evs):
        rec: dict[str, Any] = dict(index=i, uid=ev.uid, kerma_rp_gy=ev.kerma_rp_gy,
                                   kap_gym2=ev.kap_gym2, entrance_point_mm=None,
                                   entrance_label=None, skin_factor=None,
                                   field_side_skin_cm=None, kap_check=None,
                                   skipped=skip.get(i))
        if i in first_beam:
            b = first_beam[i]
            mask = bs.event_index == i
            wsum = float(bs.weight[mask].sum())
            f_ev = float(rp_f.medium_factor[i] * rp_f.calibration[i])
            rec["skin_factor"] = float((bs.weight[mask] * beam_bsf[mask]).sum() / wsum) * f_ev
            rec["field_side_skin_cm"] = float(side_skin[b])
            if np.isfinite(hit_t[b]):
                p = bs.source[b] + hit_t[b] * bs.w[b]
                rec["entrance_point_mm"] = (float(p[0]), float(p[1]), float(p[2]))
                rec["entrance_label"] = phantom.label(int(hit_tri[b]))
            if bs.field_source[b] == "kap/kerma":
                n_kap_trivial += 1
            elif ev.kap_gym2 is not None and ev.kerma_rp_gy:
                area_m2 = (2 * bs.tan_u[b] * bs.srp_mm[b]) * (2 * bs.tan_v[b] * bs.srp_mm[b]) * 1e-6
                ratio = ev.kap_gym2 / (ev.kerma_rp_gy * area_m2)
                rec["kap_check"] = float(ratio)
                if not KAP_CHECK_RANGE[0] <= ratio <= KAP_CHECK_RANGE[1]:
                    warns.append(code=NoteCode.KAP_CHECK, event_index=i, text=
                        pre + f"event {i} (UID {ev.uid}): reported KAP is {ratio:.2f} × K_RP × "
                        "field area at the RP (outside 0.75–1.25): field size, reference point "
                        "or dose display inconsistent"
                    )
        events.append(rec)
    if n_kap_trivial:
        prov.append(pre + f"KAP check not formed for {n_kap_trivial} event(s): their field size "
                    "was derived from KAP / K_RP, so the ratio is 1 by construction")

    return _Prepared(index=pi, procedure=proc, offset=offset, beams=bs, kerma=kerma,
                     log_t0=log_t0, beam_global_event=glob, events=events, rp_estimate=rp_est,
                     hit_t=np.asarray(hit_t, dtype=float),
                     hit_tri=np.asarray(hit_tri, dtype=np.int64))


def _subset_beams(bs: Any, keep: np.ndarray) -> Any:
    per_beam = ("event_index", "weight", "source", "u", "v", "w", "tan_u", "tan_v", "srp_mm",
                "sod_mm", "isocenter", "equipment_to_patient")
    ch: dict[str, Any] = {k: np.asarray(getattr(bs, k))[keep] for k in per_beam}
    ch["field_source"] = tuple(f for f, k in zip(bs.field_source, keep, strict=True) if k)
    return dataclasses.replace(bs, **ch)


def _run_kernel(kernel: Any, phantom: Any, tri: np.ndarray, bs: Any, sel: np.ndarray,
                prep: _Prepared, s: Any, mpf: float, out: np.ndarray,
                emax: np.ndarray | None, accel: Any) -> None:
    kernel.accumulate_dose(
        phantom.centroids, phantom.normals, tri,
        bs.source[sel], bs.u[sel], bs.v[sel], bs.w[sel], bs.tan_u[sel], bs.tan_v[sel],
        prep.kerma[sel], bs.srp_mm[sel], prep.log_t0[sel],
        bs.slab_center, bs.slab_axes, bs.slab_half, mpf,
        inverse_square=s.inverse_square, occlusion=s.occlusion, parallel=s.parallel,
        out=out, event_max=emax, accel=accel,
    )  # fmt: skip


def _progress_function(progress: bool | ProgressCallback) -> ProgressCallback:
    if callable(progress):
        return progress
    if progress:
        def _print(done: int, total: int) -> None:
            end = "\n" if done >= total else ""
            print(f"\rskindose: {done}/{total} events", end=end, file=sys.stderr, flush=True)

        return _print
    return lambda done, total: None


def _skipped_warning(events: list[EventResult], procs: list[Procedure],
                     warns: list[str]) -> None:
    skipped = [e for e in events if e.skipped]
    if not skipped:
        return
    k_all = sum(e.kerma_rp_gy or 0.0 for e in events)
    k_skip = sum(e.kerma_rp_gy or 0.0 for e in skipped)
    pct = 100.0 * k_skip / k_all if k_all > 0 else 0.0
    reasons: dict[str, int] = {}
    for e in skipped:
        reasons[e.skipped] = reasons.get(e.skipped, 0) + 1
    why = "; ".join(f"{r} ({c})" for r, c in sorted(reasons.items(), key=lambda x: -x[1]))
    sev = Severity.CRITICAL if pct >= 50.0 and k_skip < k_all else Severity.WARNING
    warns.append(code=NoteCode.EVENTS_NOT_MAPPED, severity=sev, data={"percent_k_rp": pct},
                 text=f"{len(skipped)} of {len(events)} events, {pct:.1f}% of K_RP, could not be "
                 f"mapped: {why}")


def _reference_totals(procs: list[Procedure], psd: float | None,
                      rp_estimate: float) -> dict[str, Any]:
    planes: dict[str, dict[str, Any]] = {}
    for p in procs:  # per-plane sums are the rdsr model's (Procedure.totals_by_plane)
        for plane, t in p.totals_by_plane().items():
            d = planes.setdefault(plane, {"kerma_rp_gy": 0.0, "kap_gym2": 0.0, "n_events": 0})
            for key in ("kerma_rp_gy", "kap_gym2", "n_events"):
                d[key] += t[key]
            for key in ("reported_kerma_rp_gy", "reported_kap_gym2"):
                if t[key] is not None:
                    d[key] = d.get(key, 0.0) + t[key]
    k = sum(d["kerma_rp_gy"] for d in planes.values())
    kap = sum(d["kap_gym2"] for d in planes.values())
    total: dict[str, Any] = {"kerma_rp_gy": k, "kap_gym2": kap,
                             "n_events": sum(d["n_events"] for d in planes.values())}
    rep_k = [d["reported_kerma_rp_gy"] for d in planes.values() if "reported_kerma_rp_gy" in d]
    rep_kap = [d["reported_kap_gym2"] for d in planes.values() if "reported_kap_gym2" in d]
    total["reported_kerma_rp_gy"] = sum(rep_k) if rep_k else None
    total["reported_kap_gym2"] = sum(rep_kap) if rep_kap else None
    # fluoroscopy time: per procedure the longest plane (biplane planes run at the same time)
    ft = [max(t) for p in procs
          if (t := [a.fluoro_time_s for a in p.accumulated if a.fluoro_time_s is not None])]
    total["fluoro_time_s"] = sum(ft) if ft else None
    skin = {"psd_gy": psd, "reference_point_estimate_gy": rp_estimate,
            "psd_over_kerma_rp": (psd / k) if (psd is not None and k > 0) else None}
    return {"planes": planes, "total": total, "skin": skin}


def _procedure_summary(p: Procedure) -> dict[str, Any]:
    return {
        "source": p.source,
        "device": p.device.to_dict(),
        "patient": p.patient.to_dict(),
        "study": p.study.to_dict(),
        "n_events": p.n_events,
        "events": [_event_summary(ev) for ev in p.events],
    }


_EVENT_FIELDS = (
    "index", "uid", "started", "event_type", "plane", "protocol", "target_region", "kvp",
    "cu_mm", "al_mm", "primary_angle_deg", "secondary_angle_deg", "primary_end_angle_deg",
    "secondary_end_angle_deg", "sod_mm", "sid_mm", "srp_mm", "table_longitudinal_mm",
    "table_lateral_mm", "table_height_mm", "kerma_rp_gy", "kap_gym2", "patient_orientation",
)


def _event_summary(ev) -> dict[str, Any]:
    """The RDSR facts of one event that a report shows next to its skin dose (JSON-safe)."""
    out: dict[str, Any] = {k: _jsonable(getattr(ev, k, None)) for k in _EVENT_FIELDS}
    out["cu_mm"], out["al_mm"] = ev.cu_mm, ev.al_mm
    fld = ev.field_at_detector_mm
    out["field_at_detector_mm"] = None if fld is None else [float(fld[0]), float(fld[1])]
    out["assumed"] = sorted(ev.assumed)
    out["unusable"] = ev.unusable
    return out
