"""The skin dose result as a DICOM Patient Radiation Dose SR (P-RDSR, Supplement 191).

SOP Class 1.2.840.10008.5.1.4.1.1.88.73 (PS3.4 Annex B; PS3.6 Table A-1). The IOD (PS3.3
A.35.18 "Patient Radiation Dose Structured Report IOD") is built of the Patient, General
Study, Patient Study, SR Document Series, General Equipment, Enhanced General Equipment, SR
Document General, SR Document Content and SOP Common modules, like the X-Ray Radiation Dose
SR (PS3.3 A.35.8, Table A.35.8-1). Its content constraints (PS3.3 A.35.18.3.1, as implemented
in DCMTK's ``dsrprdcc.cc``): root template TID 10030, relationships by value only, no spatial or
temporal coordinates.

Content tree (PS3.16, "Patient Radiation Dose SR IOD Templates")::

    CONTAINER (128401, DCM, "Patient Radiation Dose Report")         TID 10030 row 1
      HAS CONCEPT MOD  CODE Language of Content Item and Descendants  TID 10030 row 2 → TID 1204
      HAS OBS CONTEXT  Observer Type = Device, Device Observer UID,   TID 10030 row 3 → TID 1002
                       Name, Manufacturer, Model Name, Serial Number  → TID 1004 (skindose itself)
      CONTAINS CONTAINER (128402, DCM, "Radiation Dose Estimate")     TID 10030 row 4 → TID 10031
        CONTAINS TEXT (128403, "Radiation Dose Estimate Name")
        CONTAINS CONTAINER (128415, "Radiation Dose Estimate Methodology")      TID 10033
          CONTAINS COMPOSITE (128416, "SR Instance Used") [source RDSR]           row 2, 1-n, M
            HAS PROPERTIES UIDREF (128429, "Event UID Used") 1-n   row 4, MC: IFF some events
                                                                    were not used
          CONTAINS CONTAINER (128500, "Patient Radiation Dose Model")             row 5, M
            CONTAINS CODE (128417, "Patient Model Type")   DCID 10064             row 6, M
            CONTAINS CODE (128420, "Radiation Transport Model Type") DCID 10065   row 7, M
            CONTAINS TEXT (128426, "Patient Radiation Dose Model Reference")      row 11, U
            CONTAINS TEXT (121106, "Comment")                                     row 12, U
            CONTAINS CONTAINER (128427, "Patient Model Demographics")             row 13, M
              CONTAINS NUM Model Minimum/Maximum Height (128439/128442), Weight
                           (128438/128441)                          rows 17-20, MC: IF the
                                                                    model requires them
        CONTAINS CONTAINER (128434, "Radiation Dose Estimate Parameters")
          CONTAINS CONTAINER (128476, "Radiation Dose Estimate Method")
            CONTAINS CODE (128477, "Radiation Dose Estimate Method Type")  DCID 10068
            CONTAINS TEXT (128482, "Radiation Dose Estimate Method Reference")
          CONTAINS CODE (128464, "Radiation Dose Estimate Parameter Type")  DCID 10069, 1-n
          CONTAINS NUM (128452, "Correction Factor")  [the calibration factor C_cal]
          CONTAINS CONTAINER (128457, "X-Ray Beam Attenuator")  per table / pad
            CONTAINS CODE (128458, "Attenuator Category")  DCID 10066
            CONTAINS TEXT (128468, "Attenuator Description")
        CONTAINS CONTAINER (128412, "Radiation Dose Estimate Representation")
          CONTAINS CODE (123014, DCM, "Target Region") = (39937001, SCT, "Skin")  DCID 10060
          CONTAINS NUM (128531, "Maximum Absorbed Radiation Dose") [PSD, Gy]     DCID 10061
          CONTAINS CODE (128413, "Distribution Representation") = Skin Dose Map  DCID 10063
          CONTAINS IMAGE (128414, "Radiation Dose Representation Data") [the SC image]
          CONTAINS TEXT (121106, "Comment") [1 cm² / 10 cm² averages, areas above levels]
      CONTAINS TEXT (121106, DCM, "Comment")  [every warning/critical note]  TID 10030 row 5, U

Verified against the standard's own row tables: TID 10030 (all rows) and TID 10033 rows 1-18
(PS3.16 2024d/e pages sect_PatientRadiationDoseSRIODTemplates and sect_TID_10033). **Not
verified row by row**: the layout of TID 10031 "Radiation Dose Estimate", TID 10032 "Radiation
Dose Estimate Representation" and TID 10034 "Radiation Dose Estimate Parameters"; their concept
codes and context groups (CID 10060-10070) are the standard's (pydicom's concept and CID tables,
generated from PS3.16), but which rows are mandatory and their order is our reading of the
concept names. DCMTK's ``dsrdump`` validates the IOD's relationship constraints, not template
rows. ``docs/dicom_out.md`` lists what is and is not verified.

UIDs: new Series and SOP Instance UIDs are UUID-derived ``2.25.<uuid>`` UIDs (PS3.5 B.2,
pydicom's ``generate_uid(prefix=None)``); the device observer UID of skindose is a name-based
UUID (``uuid5``) of the machine's node id, so one installation keeps one device UID.
"""

from __future__ import annotations

import math
import platform
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from skindose.dicom_out.sr import (
    Code,
    code_item,
    composite_item,
    container,
    num_item,
    set_character_set,
    text_item,
    uidref_item,
)
from skindose.errors import DicomOutputError
from skindose.notes import Severity, sort_notes

__all__ = [
    "PRDSR_SOP_CLASS_UID",
    "build_prdsr",
    "device_observer_uid",
    "source_identity",
]

PRDSR_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.73"
RDSR_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.67"
SC_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.7"

#: Manufacturer written into General / Enhanced General Equipment and the device observer.
MANUFACTURER = "skindose developers"
MODEL_NAME = "skindose"

# --- codes (value, scheme, meaning), PS3.16 Annex D (DCM) and SNOMED CT ---------------------
ROOT = ("128401", "DCM", "Patient Radiation Dose Report")
LANGUAGE = ("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH_US = ("en-US", "RFC5646", "English (United States)")
OBSERVER_TYPE = ("121005", "DCM", "Observer Type")
DEVICE = ("121007", "DCM", "Device")
DEVICE_OBSERVER_UID = ("121012", "DCM", "Device Observer UID")
DEVICE_OBSERVER_NAME = ("121013", "DCM", "Device Observer Name")
DEVICE_OBSERVER_MANUFACTURER = ("121014", "DCM", "Device Observer Manufacturer")
DEVICE_OBSERVER_MODEL = ("121015", "DCM", "Device Observer Model Name")
DEVICE_OBSERVER_SERIAL = ("121016", "DCM", "Device Observer Serial Number")
COMMENT = ("121106", "DCM", "Comment")
ESTIMATE = ("128402", "DCM", "Radiation Dose Estimate")
ESTIMATE_NAME = ("128403", "DCM", "Radiation Dose Estimate Name")
METHODOLOGY = ("128415", "DCM", "Radiation Dose Estimate Methodology")
SR_INSTANCE_USED = ("128416", "DCM", "SR Instance Used")
EVENT_UID_USED = ("128429", "DCM", "Event UID Used")
DOSE_MODEL = ("128500", "DCM", "Patient Radiation Dose Model")
PATIENT_MODEL_TYPE = ("128417", "DCM", "Patient Model Type")
ANTHROPOMORPHIC = ("128404", "DCM", "Anthropomorphic Model")
SIMPLE_OBJECT = ("128418", "DCM", "Simple Object Model")
PATIENT_SEGMENTED = ("128494", "DCM", "Patient Segmented Model")
TRANSPORT_MODEL_TYPE = ("128420", "DCM", "Radiation Transport Model Type")
MESH_TRANSPORT = ("128423", "DCM", "Mesh Radiation Transport Model")
MODEL_REFERENCE = ("128426", "DCM", "Patient Radiation Dose Model Reference")
DEMOGRAPHICS = ("128427", "DCM", "Patient Model Demographics")
MODEL_MIN_WEIGHT = ("128438", "DCM", "Model Minimum Weight")
MODEL_MAX_WEIGHT = ("128441", "DCM", "Model Maximum Weight")
MODEL_MIN_HEIGHT = ("128439", "DCM", "Model Minimum Height")
MODEL_MAX_HEIGHT = ("128442", "DCM", "Model Maximum Height")
PARAMETERS = ("128434", "DCM", "Radiation Dose Estimate Parameters")
METHOD = ("128476", "DCM", "Radiation Dose Estimate Method")
METHOD_TYPE = ("128477", "DCM", "Radiation Dose Estimate Method Type")
ANALYTICAL = ("128480", "DCM", "Analytical Algorithm")
METHOD_REFERENCE = ("128482", "DCM", "Radiation Dose Estimate Method Reference")
PARAMETER_TYPE = ("128464", "DCM", "Radiation Dose Estimate Parameter Type")
BACKSCATTER = ("128411", "DCM", "Backscatter")
DISTANCE_CORRECTION = ("128527", "DCM", "Distance Correction")
CORRECTION_FACTOR = ("128452", "DCM", "Correction Factor")
HALF_VALUE_LAYER = ("111634", "DCM", "Half Value Layer")
ATTENUATOR = ("128457", "DCM", "X-Ray Beam Attenuator")
ATTENUATOR_CATEGORY = ("128458", "DCM", "Attenuator Category")
ATTENUATOR_DESCRIPTION = ("128468", "DCM", "Attenuator Description")
TABLE = ("128459", "DCM", "Table")
TABLE_PAD = ("128462", "DCM", "Table Pad")
REPRESENTATION = ("128412", "DCM", "Radiation Dose Estimate Representation")
TARGET_REGION = ("123014", "DCM", "Target Region")
SKIN = ("39937001", "SCT", "Skin")
MAX_ABSORBED_DOSE = ("128531", "DCM", "Maximum Absorbed Radiation Dose")
DISTRIBUTION = ("128413", "DCM", "Distribution Representation")
SKIN_DOSE_MAP = ("128485", "DCM", "Skin Dose Map")
REPRESENTATION_DATA = ("128414", "DCM", "Radiation Dose Representation Data")
GY: Code = ("Gy", "UCUM", "Gy")
KG: Code = ("kg", "UCUM", "kg")
METRE: Code = ("m", "UCUM", "m")
NO_UNITS: Code = ("1", "UCUM", "no units")

#: Patient and study attributes copied from the source RDSR header (PS3.3 C.7.1.1 Patient,
#: C.7.2.1 General Study, C.7.2.2 Patient Study).
_PATIENT_KEYWORDS = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate",
                     "PatientSex")
_PATIENT_STUDY_KEYWORDS = ("PatientAge", "PatientSize", "PatientWeight")
_STUDY_KEYWORDS = ("StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
                   "ReferringPhysicianName", "StudyDescription")


def device_observer_uid() -> str:
    """The Device Observer UID of this skindose installation (stable per machine).

    ``2.25.`` + the integer of ``uuid5(NAMESPACE_OID, "skindose device " + node id)`` (PS3.5
    B.2: a UUID-derived UID needs no registered root).
    """
    u = uuid.uuid5(uuid.NAMESPACE_OID, f"skindose device {uuid.getnode():012x}")
    return f"2.25.{u.int}"


def device_serial() -> str:
    """Device Serial Number written for skindose: the host name (at most 64 characters)."""
    return (platform.node() or "unknown")[:64]


# --- source identity -----------------------------------------------------------------------


def source_identity(proc: Any) -> dict[str, str]:
    """Header identity of one source RDSR: DICOM keyword → string value.

    From :attr:`Procedure.header` (filled by the reader); for a procedure without it (built in
    code or by an older reader), from the model's fields (patient ID, sex, study UID and date)
    and, when ``proc.source`` is a readable DICOM file, its header. Keys that are unknown are
    absent.
    """
    out: dict[str, str] = {}
    header = getattr(proc, "header", ()) or ()
    if not header and isinstance(getattr(proc, "source", None), str):
        header = _header_from_file(proc.source)
    out.update(dict(header))
    uid = getattr(proc, "sop_instance_uid", "") or ""
    if uid:
        out["SOPInstanceUID"] = str(uid)
    out.setdefault("SOPClassUID", getattr(proc, "sop_class_uid", "") or RDSR_SOP_CLASS_UID)
    pat, study = proc.patient, proc.study
    if pat.patient_id:
        out.setdefault("PatientID", pat.patient_id)
    if pat.sex:
        out.setdefault("PatientSex", pat.sex)
    if study.uid:
        out.setdefault("StudyInstanceUID", study.uid)
    if study.date is not None:
        out.setdefault("StudyDate", study.date.strftime("%Y%m%d"))
        out.setdefault("StudyTime", study.date.strftime("%H%M%S"))
    if study.description:
        out.setdefault("StudyDescription", study.description)
    if proc.device.institution:
        out.setdefault("InstitutionName", proc.device.institution)
    return out


def _header_from_file(path: str) -> tuple[tuple[str, str], ...]:
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        return ()
    try:
        import pydicom

        from skindose.rdsr.reader import header_identity

        ds = pydicom.dcmread(p, stop_before_pixels=True)
        return header_identity(ds)
    except Exception:
        return ()


# --- the builder ---------------------------------------------------------------------------


def build_prdsr(result: Any, sources: Sequence[Any] | None = None, *,
                image: Dataset | None = None, series_uid: str | None = None,
                series_number: int = 901, instance_number: int = 1,
                now: datetime | None = None) -> Dataset:
    """Build a Patient Radiation Dose SR for a skin dose result.

    Parameters
    ----------
    result
        The :class:`~skindose.dosemap.SkinDoseMap`.
    sources
        The :class:`~skindose.rdsr.Procedure` objects the result was computed from, in the
        same order as ``compute`` received them (``result.events[i].procedure_index`` indexes
        them). Default: identity from ``result.procedures`` (their SOP Instance UID when the
        summaries carry it, else the header of the file each summary's ``source`` names).
    image
        The Secondary Capture of the map (from :func:`build_dose_image`), referenced as the
        "Radiation Dose Representation Data" IMAGE item and listed as evidence.
    series_uid, series_number, instance_number
        Series of the SR (new UID by default). The SR goes in its own SR Document Series
        (Modality SR, PS3.3 C.17.1); the image has its own series in the same study.
    now
        Content/instance date and time (default: now, local time).

    Returns
    -------
    pydicom.dataset.Dataset
        With file meta (Explicit VR Little Endian), ready for ``save_as``.

    Raises
    ------
    DicomOutputError
        A source's SOP Instance UID is unknown (SR Instance Used, TID 10033 row 2, is
        mandatory), or the numbers are not finite.
    """
    procs = list(sources) if sources is not None else None
    idents = _identities(result, procs)
    now = now or datetime.now()
    primary = idents[-1]  # the latest procedure's study holds the result

    ds = new_instance(PRDSR_SOP_CLASS_UID, now)
    _patient_study_modules(ds, primary)
    # SR Document Series (C.17.1)
    ds.Modality = "SR"
    ds.SeriesInstanceUID = series_uid or generate_uid(prefix=None)
    ds.SeriesNumber = series_number
    ds.SeriesDescription = "skindose patient radiation dose (skin)"
    ds.ReferencedPerformedProcedureStepSequence = DSequence()
    # General Equipment (C.7.5.1) and Enhanced General Equipment (C.7.5.2): the SR's creator
    _equipment_modules(ds, primary, result)
    # SR Document General (C.17.2)
    ds.InstanceNumber = instance_number
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.PerformedProcedureCodeSequence = DSequence()
    _evidence(ds, idents, primary, image)
    # SR Document Content (C.17.3): the root content item
    ds.ValueType = "CONTAINER"
    root = container(ROOT, _root_children(result, idents, image), rel=None, template="10030")
    for kw in ("ValueType", "ConceptNameCodeSequence", "ContinuityOfContent",
               "ContentTemplateSequence", "ContentSequence"):
        setattr(ds, kw, getattr(root, kw))
    set_character_set(ds)
    return ds


def _identities(result: Any, procs: list[Any] | None) -> list[dict[str, str]]:
    if procs is not None:
        if not procs:
            raise DicomOutputError("build_prdsr: no source procedures given")
        procs = _align(result, procs)
        idents = [source_identity(p) for p in procs]
    else:
        idents = []
        for d in getattr(result, "procedures", ()) or ():
            ident: dict[str, str] = {}
            for k in ("sop_instance_uid", "sop_class_uid"):
                if d.get(k):
                    ident["SOPInstanceUID" if k == "sop_instance_uid" else "SOPClassUID"] = \
                        str(d[k])
            ident.update({str(k): str(v) for k, v in (d.get("header") or {}).items()})
            pat, study = d.get("patient") or {}, d.get("study") or {}
            if pat.get("patient_id"):
                ident.setdefault("PatientID", str(pat["patient_id"]))
            if study.get("uid"):
                ident.setdefault("StudyInstanceUID", str(study["uid"]))
            src = str(d.get("source") or "")
            if not ident.get("SOPInstanceUID") and src:
                # the summary names the file it was read from: take the header from there
                for k, v in _header_from_file(src):
                    ident.setdefault(k, v)
            ident.setdefault("SOPClassUID", RDSR_SOP_CLASS_UID)
            ident["_source"] = src
            idents.append(ident)
        if not idents:
            raise DicomOutputError("build_prdsr: the result names no source procedure; pass "
                                   "sources=[the Procedure objects]")
    for i, ident in enumerate(idents):
        src = ident.get("_source") or (getattr(procs[i], "source", "") if procs else "")
        if not ident.get("SOPInstanceUID"):
            raise DicomOutputError(
                f"source {i} ({src or 'unnamed'}): its SOP Instance UID is unknown, and a "
                "Patient Radiation Dose SR must reference the RDSR it was computed from (SR "
                "Instance Used, PS3.16 TID 10033 row 2); pass sources=[Procedure, ...] read "
                "from the files")
        if not ident.get("StudyInstanceUID"):
            raise DicomOutputError(f"source {i} ({src or 'unnamed'}): no Study Instance UID")
    return idents


def _align(result: Any, procs: list[Any]) -> list[Any]:
    """The sources in the order of ``result.procedures`` (``events[i].procedure_index``).

    ``compute`` may count a duplicate report once or let a later, larger report supersede a
    partial one, so the result can have fewer procedures than were given. They are matched by
    SOP Instance UID when the summaries carry it, else by source name.
    """
    summaries = list(getattr(result, "procedures", ()) or ())
    if not summaries or len(summaries) == len(procs):
        return procs

    use_uid = bool(summaries[0].get("sop_instance_uid"))

    def key_of_summary(d: dict[str, Any]) -> str:
        return str((d.get("sop_instance_uid") if use_uid else d.get("source")) or "")

    def key_of_proc(p: Any) -> str:
        if use_uid:
            return source_identity(p).get("SOPInstanceUID", "")
        return str(getattr(p, "source", "") or "")

    by_key = {key_of_proc(p): p for p in procs}
    out = [by_key.get(key_of_summary(d)) for d in summaries]
    if any(p is None for p in out):
        raise DicomOutputError(
            f"the result was computed from {len(summaries)} procedure(s) but "
            f"{len(procs)} sources were given and they cannot be matched; pass the "
            "procedures the result was computed from, in the same order")
    return out  # type: ignore[return-value]


def new_instance(sop_class_uid: str, now: datetime) -> Dataset:
    """A new instance of ``sop_class_uid``: file meta (explicit VR little endian), a fresh
    SOP Instance UID under the 2.25 root, and the SOP Common module (PS3.3 C.12.1)."""
    ds = Dataset()
    sop_uid = generate_uid(prefix=None)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    return ds


def _patient_study_modules(ds: Dataset, ident: dict[str, str]) -> None:
    # Patient (C.7.1.1): Patient Name, ID, Birth Date, Sex are type 2
    for kw in _PATIENT_KEYWORDS:
        if kw in ident:
            setattr(ds, kw, ident[kw])
        elif kw != "IssuerOfPatientID":
            setattr(ds, kw, "")
    # Patient Study (C.7.2.2, U)
    for kw in _PATIENT_STUDY_KEYWORDS:
        if ident.get(kw):
            if kw != "PatientAge" and not _positive_number(ident[kw]):
                continue  # a size or weight of 0 means "not known": leave it out
            setattr(ds, kw, ident[kw])
    # General Study (C.7.2.1): Study Date/Time, Referring Physician, Study ID, Accession are 2
    for kw in _STUDY_KEYWORDS:
        if kw in ident:
            setattr(ds, kw, ident[kw])
        elif kw != "StudyDescription":
            setattr(ds, kw, "")


def _equipment_modules(ds: Dataset, ident: dict[str, str], result: Any) -> None:
    from skindose import __version__

    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL_NAME
    ds.DeviceSerialNumber = device_serial()
    ds.SoftwareVersions = str(getattr(result, "version", "") or __version__)
    if ident.get("InstitutionName"):
        ds.InstitutionName = ident["InstitutionName"]
    if ident.get("InstitutionalDepartmentName"):
        ds.InstitutionalDepartmentName = ident["InstitutionalDepartmentName"]


def _evidence(ds: Dataset, idents: list[dict[str, str]], primary: dict[str, str],
              image: Dataset | None) -> None:
    """Current Requested Procedure Evidence (same study) and Pertinent Other Evidence (other
    studies) Sequences (PS3.3 C.17.2, Table C.17-2; Hierarchical SOP Instance Reference Macro
    Table C.17-3): every instance the content references."""
    refs: list[tuple[str, str, str, str]] = []  # study, series, class, instance
    for ident in idents:
        refs.append((ident["StudyInstanceUID"], ident.get("SeriesInstanceUID", ""),
                     ident.get("SOPClassUID", RDSR_SOP_CLASS_UID), ident["SOPInstanceUID"]))
    if image is not None:
        refs.append((str(image.StudyInstanceUID), str(image.SeriesInstanceUID),
                     str(image.SOPClassUID), str(image.SOPInstanceUID)))
    current = [r for r in refs if r[0] == primary["StudyInstanceUID"]]
    other = [r for r in refs if r[0] != primary["StudyInstanceUID"]]
    if current:
        ds.CurrentRequestedProcedureEvidenceSequence = _hierarchical(current)
    if other:
        ds.PertinentOtherEvidenceSequence = _hierarchical(other)


def _hierarchical(refs: list[tuple[str, str, str, str]]) -> DSequence:
    studies: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for study, series, cls, inst in refs:
        # the macro requires a Series Instance UID; for a source whose series UID is unknown
        # (a Procedure built without a header) a stable UID derived from its instance UID is
        # used (documented in docs/dicom_out.md)
        series = series or f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, 'series of ' + inst).int}"
        studies.setdefault(study, {}).setdefault(series, []).append((cls, inst))
    seq = DSequence()
    for study, series_map in studies.items():
        st = Dataset()
        st.StudyInstanceUID = study
        st.ReferencedSeriesSequence = DSequence()
        for series, insts in series_map.items():
            se = Dataset()
            se.SeriesInstanceUID = series
            se.ReferencedSOPSequence = DSequence()
            for cls, inst in insts:
                r = Dataset()
                r.ReferencedSOPClassUID = cls
                r.ReferencedSOPInstanceUID = inst
                se.ReferencedSOPSequence.append(r)
            st.ReferencedSeriesSequence.append(se)
        seq.append(st)
    return seq


# --- content -------------------------------------------------------------------------------


def _root_children(result: Any, idents: list[dict[str, str]],
                   image: Dataset | None) -> list[Dataset]:
    from skindose import __version__

    version = str(getattr(result, "version", "") or __version__)
    kids = [
        # TID 1204 "Language of Content Item and Descendants" (TID 10030 row 2)
        code_item(LANGUAGE, ENGLISH_US, rel="HAS CONCEPT MOD"),
        # TID 1002 Observer Context (row 3): the device that made the estimate, TID 1004
        code_item(OBSERVER_TYPE, DEVICE, rel="HAS OBS CONTEXT"),
        uidref_item(DEVICE_OBSERVER_UID, device_observer_uid(), rel="HAS OBS CONTEXT"),
        text_item(DEVICE_OBSERVER_NAME, "skindose", rel="HAS OBS CONTEXT"),
        text_item(DEVICE_OBSERVER_MANUFACTURER, MANUFACTURER, rel="HAS OBS CONTEXT"),
        text_item(DEVICE_OBSERVER_MODEL, f"{MODEL_NAME} {version}", rel="HAS OBS CONTEXT"),
        text_item(DEVICE_OBSERVER_SERIAL, device_serial(), rel="HAS OBS CONTEXT"),
        # TID 10031 (row 4)
        container(ESTIMATE, [
            text_item(ESTIMATE_NAME, "Peak skin dose" + (
                " (reference-point estimate, no map)" if result.is_reference_point_estimate
                else " and skin dose map")),
            _methodology(result, idents),
            _parameters(result),
            _representation(result, image),
        ]),
    ]
    comment = caveat_text(result)
    if comment:
        kids.append(text_item(COMMENT, comment))  # TID 10030 row 5 (VM 1)
    return kids


def _methodology(result: Any, idents: list[dict[str, str]]) -> Dataset:
    """TID 10033 (PS3.16 sect_TID_10033)."""
    kids = []
    for pi, ident in enumerate(idents):
        used, some_unused, _unlisted = used_event_uids(result, pi)
        props = []
        if some_unused:  # row 4: MC, IFF some events were not used
            props = [uidref_item(EVENT_UID_USED, u, rel="HAS PROPERTIES") for u in used]
        kids.append(composite_item(SR_INSTANCE_USED,
                                   ident.get("SOPClassUID", RDSR_SOP_CLASS_UID),
                                   ident["SOPInstanceUID"], children=props))
    kids.append(_dose_model(result))
    return container(METHODOLOGY, kids)


def used_event_uids(result: Any, procedure_index: int) -> tuple[list[str], bool, int]:
    """The Irradiation Event UIDs of one source that the estimate used.

    Returns
    -------
    (uids, some_not_used, n_unlisted)
        The distinct UIDs of the mapped (not skipped) events of that procedure, in RDSR order;
        whether any event of the procedure was left out; how many used events carry no real
        UID (the reader synthesised one because the file gave none) and so cannot be listed.
    """
    events = [e for e in result.events if e.procedure_index == procedure_index]
    some_unused = any(e.skipped for e in events)
    seen: dict[str, None] = {}
    unlisted = 0
    for e in events:
        if e.skipped:
            continue
        if not _is_uid(e.uid):
            unlisted += 1
            continue
        seen.setdefault(e.uid, None)
    # a UID that is also carried by a skipped event (a duplicate counted once) stays listed:
    # the event it names was used
    return list(seen), some_unused, unlisted


def _is_uid(s: str) -> bool:
    if not s or len(s) > 64:
        return False
    parts = s.split(".")
    return all(p.isdigit() and (p == "0" or not p.startswith("0")) for p in parts)


def _dose_model(result: Any) -> Dataset:
    ph = result.phantom
    spec = getattr(ph, "spec", {}) or {}
    gen = str(spec.get("generator", ""))
    params = spec.get("parameters", {}) or {}
    if gen.endswith(".adult"):
        model_type = ANTHROPOMORPHIC
    elif gen.endswith((".cylinder", ".plane")):
        model_type = SIMPLE_OBJECT
    else:  # a user mesh: we cannot tell whether it was segmented from the patient
        model_type = ANTHROPOMORPHIC
    desc = str(spec.get("description", "")) or f"phantom {ph.name!r}"
    dims = ", ".join(f"{k} {_g(v)}" for k, v in params.items() if isinstance(v, int | float))
    b = ph.bounds
    ext = (b[1] - b[0])
    ref = (f"skindose phantom {ph.name!r}: {desc}; {dims}; extent "
           f"{ext[0]:.0f} x {ext[1]:.0f} x {ext[2]:.0f} mm (x lateral, y AP, z long); "
           f"{int(ph.n_cells)} skin cells, {float(ph.areas_mm2.sum()) * 1e-6:.3f} m² of skin")
    demo = []
    if gen.endswith(".adult"):
        # the stylised adult is scaled to the patient's height and mass (or the ICRP 89
        # reference adult when the RDSR gives none): the model is that size
        h, m = params.get("height_m"), params.get("mass_kg")
        if _finite(h):
            demo += [num_item(MODEL_MIN_HEIGHT, float(h), METRE),
                     num_item(MODEL_MAX_HEIGHT, float(h), METRE)]
        if _finite(m):
            demo += [num_item(MODEL_MIN_WEIGHT, float(m), KG),
                     num_item(MODEL_MAX_WEIGHT, float(m), KG)]
    kids = [
        code_item(PATIENT_MODEL_TYPE, model_type),
        # every skindose phantom is a closed triangle mesh onto which the beams are ray-cast
        code_item(TRANSPORT_MODEL_TYPE, MESH_TRANSPORT),
        text_item(MODEL_REFERENCE, ref),
        text_item(COMMENT, "Dose is computed on the skin cells of the mesh: air kerma at the "
                  "reference point scaled by the inverse square of the focus-to-skin distance, "
                  "backscatter, the air-to-tissue energy-absorption ratio, table and pad "
                  "transmission and the calibration factor (see the skindose documentation)."),
        container(DEMOGRAPHICS, demo),
    ]
    return container(DOSE_MODEL, kids)


def _parameters(result: Any) -> Dataset:
    from skindose import __version__

    s = getattr(result, "settings", {}) or {}
    version = str(getattr(result, "version", "") or __version__)
    kids = [container(METHOD, [
        code_item(METHOD_TYPE, ANALYTICAL),
        text_item(METHOD_REFERENCE, f"skindose {version}: D = K_RP x (d_RP/d)^2 x BSF x f x "
                  "T x C_cal per skin cell in each beam (ray casting on the phantom mesh); "
                  "BSF and f interpolated from published tables by HVL and field size."),
    ])]
    if s.get("inverse_square", True):
        kids.append(code_item(PARAMETER_TYPE, DISTANCE_CORRECTION))
    if s.get("backscatter", True):
        kids.append(code_item(PARAMETER_TYPE, BACKSCATTER))
        kids.append(code_item(PARAMETER_TYPE, HALF_VALUE_LAYER))
    cal = s.get("calibration_factor")
    if _finite(cal):
        kids.append(num_item(CORRECTION_FACTOR, float(cal), NO_UNITS))
    if s.get("table_attenuation", True):
        t = s.get("table_transmission")
        how = (f"site transmission {t}" if t is not None
               else "vendor profile transmission (generic estimate 0.75 when unknown)")
        for cat, what in ((TABLE, "patient table"), (TABLE_PAD, "table pad (mattress)")):
            kids.append(container(ATTENUATOR, [
                code_item(ATTENUATOR_CATEGORY, cat),
                text_item(ATTENUATOR_DESCRIPTION,
                          f"{what}; table and pad attenuation applied together as one "
                          f"transmission factor: {how}, with an oblique-incidence correction"),
            ]))
    return container(PARAMETERS, kids)


def _representation(result: Any, image: Dataset | None) -> Dataset:
    psd = float(result.psd_gy)
    if not math.isfinite(psd) or psd < 0:
        raise DicomOutputError(f"the peak skin dose is {psd!r}; refusing to write it")
    kids = [code_item(TARGET_REGION, SKIN), num_item(MAX_ABSORBED_DOSE, psd, GY)]
    if not result.is_reference_point_estimate:
        kids.append(code_item(DISTRIBUTION, SKIN_DOSE_MAP))
    if image is not None:
        kids.append(composite_item(REPRESENTATION_DATA, str(image.SOPClassUID),
                                   str(image.SOPInstanceUID), value_type="IMAGE"))
    kids.append(text_item(COMMENT, summary_text(result)))
    return container(REPRESENTATION, kids)


def summary_text(result: Any) -> str:
    """The headline numbers in words (written as the representation's Comment)."""
    lines = []
    if result.is_reference_point_estimate:
        lines.append(f"Reference-point estimate (no skin dose map could be made): "
                     f"{_g(result.psd_gy)} Gy = sum of K_RP x BSF x f x C_cal with no table "
                     "attenuation, an upper bound.")
    else:
        lines.append(f"Peak skin dose (largest cell dose) {_g(result.psd_gy)} Gy.")
        loc = result.psd_location
        if loc:
            x, y, z = loc["point_mm"]
            lines.append(f"Location: {loc['label']} (phantom x {x:.0f}, y {y:.0f}, z {z:.0f} mm).")
        lines.append(f"Averaged over 1 cm²: {_g(result.psd_averaged_gy(1.0))} Gy; over 10 cm²: "
                     f"{_g(result.psd_averaged_gy(10.0))} Gy.")
        th = tuple((getattr(result, "settings", {}) or {}).get("thresholds_gy",
                                                              (2.0, 3.0, 5.0, 10.0)))
        areas = "; ".join(f">= {t:g} Gy: {result.area_above_m2(t) * 1e4:.1f} cm²" for t in th)
        lines.append(f"Skin area {areas}.")
    n = len(result.events)
    n_skip = sum(1 for e in result.events if e.skipped)
    lines.append(f"Events: {n} in the source RDSR(s), {n - n_skip} mapped, {n_skip} not used.")
    return "\n".join(lines)


def caveat_text(result: Any) -> str:
    """Every warning and critical note of the result, one per line (the root Comment).

    Uses :attr:`SkinDoseMap.notes` (typed notes) when present and falls back to the plain
    ``warnings`` of older results.
    """
    lines = []
    if result.notes:
        for n in sort_notes(result.notes):
            if n.severity is not Severity.INFO:
                lines.append(f"[{n.severity.value}] {n}")
    else:  # a map built directly, without notes
        lines.extend(f"[warning] {w}" for w in result.warnings)
    u = result.uncertainty
    if u:  # skindose.uncertainty: the interval belongs with the PSD it qualifies
        lines.append(f"[info] PSD 95 % interval {u['low_gy']:.4g}-{u['high_gy']:.4g} Gy "
                     f"(median {u['median_gy']:.4g} Gy) from the stated uncertainty of the inputs")
    skipped = [e for e in result.events if e.skipped]
    if skipped and not result.notes:  # typed notes already name every skipped event
        lines.append(f"[warning] {len(skipped)} event(s) not used in the estimate: " + "; ".join(
            f"procedure {e.procedure_index} event {e.index + 1}: {e.skipped}"
            for e in skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    for pi in sorted({e.procedure_index for e in result.events}):
        _, _, unlisted = used_event_uids(result, pi)
        if unlisted:
            lines.append(f"[warning] procedure {pi}: {unlisted} used event(s) have no "
                         "Irradiation Event UID in the source RDSR and cannot be listed as "
                         "Event UID Used")
    return "\n".join(lines)


def _positive_number(text: str) -> bool:
    try:
        v = float(text)
    except ValueError:
        return False
    return math.isfinite(v) and v > 0


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _g(v: Any) -> str:
    return f"{float(v):.4g}" if _finite(v) else "unknown"
