"""Accumulation rules: which procedures may be added on one phantom, and what is counted once.

* **One patient.** Procedures are the same patient when their Patient IDs agree; where an ID is
  missing, name + birth date decide. Different patients are refused
  (:class:`~skindose.errors.PatientMismatchError`) unless the caller says they are the same
  (``same_patient=True``); procedures with no identity at all are accepted with a warning note.
* **Once per file.** A second RDSR with the same SOP Instance UID is dropped (note).
* **Once per event.** An Irradiation Event UID already seen in an earlier input is dropped from
  the later one (note): a partial and a final report of one study carry the same events.
* **Later complete reports supersede partial ones.** When every event UID of an input is also
  in a larger input of the same study, the smaller input is dropped as a partial report (note).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from skindose.errors import PatientMismatchError
from skindose.notes import Note, NoteCode, Severity
from skindose.rdsr.model import Procedure

__all__ = ["check_same_patient", "merge_procedures", "patient_key", "reference_totals"]


def patient_key(proc: Procedure) -> str | None:
    """Identity used to tell patients apart: ``"id:<ID>"``, else ``"name:<name>|<birth>"``.

    None when the file carries neither an ID nor a name.
    """
    pid = (proc.patient.patient_id or "").strip()
    if pid:
        return f"id:{pid}"
    name = (proc.patient.name or "").strip().upper()
    if name:
        return f"name:{name}|{(proc.patient.birth_date or '').strip()}"
    return None


def _label(proc: Procedure, i: int) -> str:
    return f"input {i} ({proc.source or 'procedure'})"


def check_same_patient(procs: Sequence[Procedure], *, same_patient: bool = False) -> list[Note]:
    """Refuse procedures of different patients unless ``same_patient`` is True.

    Returns notes (accepted mismatches, missing identities). Raises
    :class:`~skindose.errors.PatientMismatchError` naming the inputs otherwise.
    """
    notes: list[Note] = []
    if len(procs) < 2:
        return notes
    keys = [patient_key(p) for p in procs]
    known = {k for k in keys if k is not None}
    if len(known) > 1:
        listing = "; ".join(f"{_label(p, i)}: {k or 'no identity'}"
                            for i, (p, k) in enumerate(zip(procs, keys, strict=True)))
        if not same_patient:
            raise PatientMismatchError(
                f"the {len(procs)} inputs belong to {len(known)} different patients ({listing}); "
                "skin doses of different patients are never added. Compute each file on its own "
                "(e.g. `skindose batch`), or pass same_patient=True / --same-patient if they "
                "really are one patient"
            )
        notes.append(Note(code=NoteCode.DIFFERENT_PATIENTS_ACCEPTED, stage="accumulate",
                          text=f"inputs with different patient identities were added because "
                          f"the caller said they are the same patient ({listing})"))
    missing = [i for i, k in enumerate(keys) if k is None]
    if missing and known:
        notes.append(Note(code=NoteCode.DIFFERENT_PATIENTS_ACCEPTED, stage="accumulate",
                          severity=Severity.WARNING,
                          text=f"input(s) {', '.join(map(str, missing))} carry no patient ID or "
                          "name; assumed to be the same patient as the others"))
    return notes


def merge_procedures(procs: Sequence[Procedure]) -> tuple[list[Procedure], list[Note]]:
    """Apply the once-per-file, once-per-event and supersede rules.

    Returns the procedures to add (in input order, events possibly removed) and the notes
    saying what was dropped. ``procedure_index`` in the notes is the input position.
    """
    notes: list[Note] = []
    items = list(procs)
    keep = [True] * len(items)
    # once per file
    seen_sop: dict[str, int] = {}
    for i, p in enumerate(items):
        uid = p.sop_instance_uid
        if uid and uid in seen_sop:
            keep[i] = False
            notes.append(Note(code=NoteCode.DUPLICATE_INSTANCE, stage="accumulate",
                              procedure_index=i,
                              text=f"{_label(p, i)} is the same RDSR (SOP Instance UID {uid}) as "
                              f"input {seen_sop[uid]}; counted once"))
        elif uid:
            seen_sop[uid] = i
    # supersede: a smaller report whose events are all in a larger one of the same study
    uids = [frozenset(e.uid for e in p.events if not e.uid.startswith("skindose-"))
            for p in items]
    for i, p in enumerate(items):
        if not keep[i] or not uids[i]:
            continue
        for j, q in enumerate(items):
            if j == i or not keep[j] or len(uids[j]) <= len(uids[i]):
                continue
            if uids[i] <= uids[j] and (p.study.uid == q.study.uid or not p.study.uid):
                keep[i] = False
                notes.append(Note(code=NoteCode.REPORT_SUPERSEDED, stage="accumulate",
                                  procedure_index=i,
                                  text=f"{_label(p, i)} ({len(uids[i])} events) is a partial "
                                  f"report of the same study as input {j} ({len(uids[j])} "
                                  f"events), which contains all its events; input {j} is used"))
                break
    # once per event
    out: list[Procedure] = []
    seen_ev: dict[str, int] = {}
    for i, p in enumerate(items):
        if not keep[i]:
            continue
        dropped = []
        kept = []
        for ev in p.events:
            if ev.uid in seen_ev and not ev.uid.startswith("skindose-"):
                dropped.append(ev)
            else:
                kept.append(ev)
        for ev in kept:
            seen_ev.setdefault(ev.uid, i)
        if dropped:
            notes.append(Note(code=NoteCode.DUPLICATE_EVENT, stage="accumulate",
                              procedure_index=i,
                              text=f"{len(dropped)} event(s) of {_label(p, i)} were already in "
                              f"an earlier input (same Irradiation Event UID; events "
                              f"{', '.join(str(e.index) for e in dropped[:10])}"
                              f"{' …' if len(dropped) > 10 else ''}); counted once",
                              data={"event_uids": [e.uid for e in dropped]}))
            if not kept:
                continue
            kept = [dataclasses.replace(ev, index=k) for k, ev in enumerate(kept)]
            p = dataclasses.replace(p, events=tuple(kept))
        out.append(p)
    return out, notes


def reference_totals(procs: Sequence[Procedure]) -> dict[str, dict]:
    """Per plane and overall: Σ K_RP (Gy), Σ KAP (Gy·m²), event counts, the files' reported
    totals (summed over procedures where given) and the fluoroscopy time.

    The per-plane sums are the rdsr model's (:meth:`Procedure.totals_by_plane`). Fluoroscopy
    time: per procedure its longest plane (biplane planes run at the same time), summed.
    """
    planes: dict[str, dict] = {}
    for p in procs:
        for plane, t in p.totals_by_plane().items():
            d = planes.setdefault(plane, {"kerma_rp_gy": 0.0, "kap_gym2": 0.0, "n_events": 0})
            for key in ("kerma_rp_gy", "kap_gym2", "n_events"):
                d[key] += t[key]
            for key in ("reported_kerma_rp_gy", "reported_kap_gym2"):
                if t[key] is not None:
                    d[key] = d.get(key, 0.0) + t[key]
    total: dict = {key: sum(d[key] for d in planes.values())
                   for key in ("kerma_rp_gy", "kap_gym2", "n_events")}
    for key in ("reported_kerma_rp_gy", "reported_kap_gym2"):
        rep = [d[key] for d in planes.values() if key in d]
        total[key] = sum(rep) if rep else None
    ft = [max(t) for p in procs
          if (t := [a.fluoro_time_s for a in p.accumulated if a.fluoro_time_s is not None])]
    total["fluoro_time_s"] = sum(ft) if ft else None
    return {"planes": planes, "total": total}
