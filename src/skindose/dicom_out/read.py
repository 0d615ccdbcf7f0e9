"""Read a Patient Radiation Dose SR back: what it says, for ``skindose inspect``.

A P-RDSR holds an *estimate already made* (here: a skin dose); it is not an X-Ray Radiation
Dose SR and there is nothing in it to compute a skin dose from. :func:`read_prdsr` walks the
content tree by concept code (PS3.16 TID 10030 / 10031 / 10033, see
:mod:`skindose.dicom_out.prdsr`) and :func:`format_prdsr` prints it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from skindose.dicom_out.sr import concept_of, num_value

__all__ = ["PRDSR_SOP_CLASS_UID", "PatientDoseReport", "format_prdsr", "is_prdsr",
           "read_prdsr"]

PRDSR_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.73"


@dataclass(frozen=True, kw_only=True)
class PatientDoseReport:
    """What a Patient Radiation Dose SR says.

    ``doses`` lists every NUM found under a Radiation Dose Estimate Representation as
    (concept meaning, value, unit, target region); ``sources`` the referenced SR instances as
    (SOP Class UID, SOP Instance UID, Event UIDs Used or () when all were used).
    """

    source: str
    sop_instance_uid: str
    patient_id: str
    patient_name: str
    study_uid: str
    content_datetime: str
    creator: str
    estimate_name: str = ""
    doses: tuple[tuple[str, float | None, str, str], ...] = ()
    sources: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    patient_model: str = ""
    transport_model: str = ""
    model_reference: str = ""
    images: tuple[str, ...] = ()
    comments: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        from skindose.jsonsafe import jsonable

        return jsonable({
            "kind": "Patient Radiation Dose SR",
            "computable": False,
            "source": self.source, "sop_instance_uid": self.sop_instance_uid,
            "patient_id": self.patient_id, "patient_name": self.patient_name,
            "study_uid": self.study_uid, "content_datetime": self.content_datetime,
            "creator": self.creator, "estimate_name": self.estimate_name,
            "doses": [{"concept": c, "value": v, "unit": u, "target": t}
                      for c, v, u, t in self.doses],
            "sources": [{"sop_class_uid": c, "sop_instance_uid": i, "event_uids_used": list(e)}
                        for c, i, e in self.sources],
            "patient_model": self.patient_model, "transport_model": self.transport_model,
            "model_reference": self.model_reference, "images": list(self.images),
            "comments": list(self.comments),
        })


def is_prdsr(ds: Dataset) -> bool:
    """True when ``ds`` is a Patient Radiation Dose SR (by SOP Class UID)."""
    return str(ds.get("SOPClassUID", "")) == PRDSR_SOP_CLASS_UID


def read_prdsr(source: str | os.PathLike[str] | Dataset) -> PatientDoseReport:
    """Read a Patient Radiation Dose SR.

    Raises
    ------
    skindose.errors.RDSRError
        Not DICOM, or not a Patient Radiation Dose SR.
    """
    import pydicom

    from skindose.errors import RDSRError

    if isinstance(source, Dataset):
        ds, name = source, str(getattr(source, "filename", "") or "<dataset>")
    else:
        name = str(source)
        try:
            ds = pydicom.dcmread(source)
        except Exception as exc:
            raise RDSRError(f"not a readable DICOM file ({exc})", source=name) from None
    if not is_prdsr(ds):
        raise RDSRError(f"not a Patient Radiation Dose SR (SOP class {ds.get('SOPClassUID')})",
                        source=name, field="SOPClassUID")
    acc: dict[str, Any] = {"doses": [], "sources": [], "images": [], "comments": [],
                           "creator": [], "estimate_name": "", "patient_model": "",
                           "transport_model": "", "model_reference": ""}
    _walk(ds, acc, target="", parent="root")
    date, time_ = str(ds.get("ContentDate", "")), str(ds.get("ContentTime", ""))
    return PatientDoseReport(
        source=name,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        patient_id=str(ds.get("PatientID", "")),
        patient_name=str(ds.get("PatientName", "")),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        content_datetime=f"{date} {time_}".strip(),
        creator=" ".join(acc["creator"]) or str(ds.get("Manufacturer", "")),
        estimate_name=acc["estimate_name"],
        doses=tuple(acc["doses"]),
        sources=tuple(acc["sources"]),
        patient_model=acc["patient_model"],
        transport_model=acc["transport_model"],
        model_reference=acc["model_reference"],
        images=tuple(acc["images"]),
        comments=tuple(acc["comments"]),
    )


def _meaning(item: Dataset, seq: str = "ConceptCodeSequence") -> str:
    s = item.get(seq)
    return str(s[0].get("CodeMeaning", "")) if s else ""


def _walk(node: Dataset, acc: dict[str, Any], *, target: str, parent: str) -> None:
    items = list(node.get("ContentSequence", []) or [])
    # the target region of a representation applies to its sibling NUMs
    for it in items:
        c = concept_of(it)
        if c and c[:2] == ("123014", "DCM"):
            target = _meaning(it)
    for it in items:
        c = concept_of(it)
        if c is None:
            continue
        code = c[:2]
        vt = str(it.get("ValueType", ""))
        if vt == "NUM" and parent == "128412":
            mv = it.MeasuredValueSequence[0] if it.get("MeasuredValueSequence") else None
            unit = _meaning(mv, "MeasurementUnitsCodeSequence") if mv is not None else ""
            acc["doses"].append((c[2], num_value(it), unit, target))
        elif code == ("128416", "DCM") and it.get("ReferencedSOPSequence"):
            r = it.ReferencedSOPSequence[0]
            used = tuple(str(k.UID) for k in it.get("ContentSequence", []) or []
                         if (concept_of(k) or ("",))[0] == "128429")
            acc["sources"].append((str(r.ReferencedSOPClassUID),
                                   str(r.ReferencedSOPInstanceUID), used))
        elif vt == "IMAGE" and it.get("ReferencedSOPSequence"):
            acc["images"].append(str(it.ReferencedSOPSequence[0].ReferencedSOPInstanceUID))
        elif code == ("128417", "DCM"):
            acc["patient_model"] = _meaning(it)
        elif code == ("128420", "DCM"):
            acc["transport_model"] = _meaning(it)
        elif code == ("128426", "DCM"):
            acc["model_reference"] = str(it.get("TextValue", ""))
        elif code == ("128403", "DCM"):
            acc["estimate_name"] = str(it.get("TextValue", ""))
        elif code in (("121013", "DCM"), ("121015", "DCM")) and parent == "root":
            acc["creator"].append(str(it.get("TextValue", "")))
        elif code == ("121106", "DCM") and parent in ("root", "128412"):
            acc["comments"].append(str(it.get("TextValue", "")))
        if vt == "CONTAINER":
            _walk(it, acc, target=target, parent=c[0])


def format_prdsr(rep: PatientDoseReport) -> str:
    """Plain-text account of a P-RDSR for ``skindose inspect``."""
    lines = [
        f"== {rep.source}",
        "Patient Radiation Dose SR (P-RDSR): a dose ESTIMATE already made by "
        f"{rep.creator or 'another system'}; it is NOT an X-Ray Radiation Dose SR and skindose "
        "cannot compute a skin dose from it (give the source RDSR instead).",
        f"patient  : {rep.patient_name or '?'} (ID {rep.patient_id or '?'})",
        f"study    : {rep.study_uid or '?'}",
        f"written  : {rep.content_datetime or '?'}",
    ]
    if rep.estimate_name:
        lines.append(f"estimate : {rep.estimate_name}")
    for concept, value, unit, target in rep.doses:
        v = "?" if value is None else f"{value:.4g}"
        lines.append(f"dose     : {concept}{' to ' + target if target else ''}: {v} {unit}")
    if rep.patient_model or rep.transport_model:
        lines.append(f"model    : {rep.patient_model or '?'}; {rep.transport_model or '?'}")
    if rep.model_reference:
        lines.append(f"           {rep.model_reference}")
    for _cls, inst, used in rep.sources:
        what = (f"{len(used)} event(s) used (the others were not)" if used
                else "all events used")
        lines.append(f"from     : SR {inst} ({what})")
    for inst in rep.images:
        lines.append(f"image    : {inst}")
    for c in rep.comments:
        lines.append("comment  : " + c.replace("\n", "\n           "))
    return "\n".join(lines)
