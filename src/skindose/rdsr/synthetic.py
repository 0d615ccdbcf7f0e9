"""Build standard-conformant X-Ray Radiation Dose SRs from event specifications.

The writer is the reader's mirror: :func:`build_rdsr` turns a :class:`Procedure` (or a list of
:class:`IrradiationEvent`) into a pydicom ``Dataset`` (SOP class 1.2.840.10008.5.1.4.1.1.88.67,
TID 10001), and ``read_rdsr(build_rdsr(p))`` gives back the same events. :class:`Quirks`
switches reproduce, one by one, the vendor deviations listed in ``docs/rdsr.md`` §2.4, so the
reader's repairs can be tested without third-party files.

Examples
--------
>>> from skindose.rdsr.synthetic import example_procedure, build_rdsr
>>> from skindose.rdsr import read_rdsr
>>> proc = example_procedure(n_events=5, seed=1)
>>> back = read_rdsr(build_rdsr(proc))
>>> len(back.events)
5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from skindose.rdsr._fastwrite import LightDataset, encode
from skindose.rdsr.codes import FILTER_MATERIALS, PHILIPS, SRT_TO_SCT, TARGET_REGIONS, C, Code, P
from skindose.rdsr.model import (
    AccumulatedDose,
    Device,
    EventType,
    Filter,
    IrradiationEvent,
    Patient,
    PatientOrientation,
    Plane,
    Procedure,
    ReferencePoint,
    ReferencePointKind,
    Study,
)

__all__ = ["Quirks", "build_rdsr", "encode_rdsr", "example_procedure", "write_rdsr"]

RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.67"


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirks:
    """Switches that reproduce real vendor deviations (docs/rdsr.md §2.4 item numbers in brackets).

    Parameters
    ----------
    legacy_codes
        Write legacy SNOMED-RT codes (SRT P5-06000, F-10470, C-127F9, ...) as every real vendor
        does [25], instead of SNOMED CT.
    kap_unit, dose_unit
        Units written for KAP and Dose (RP): ``"Gy.m2"``/``"Gym2"`` (Siemens [1])/``"dGy.cm2"``
        and ``"Gy"``/``"mGy"`` (Canon Ultimaxi [21]).
    rp_text
        Write the Reference Point Definition as this free TEXT (Philips [8]) instead of a code.
    philips_private
        Philips private 99PHI-IXR-XPER items: table height as private 021 only [9], height of
        system and focal spot–isocenter at the accumulated level [10], shutters at 1 m instead of
        collimated field height/width [13], SID only as private Final SID [14].
    siemens_xml_position
        No patient orientation codes; the position only in the root Comment XML [2], and the
        detector size in a per-event Comment XML ``iiDiameter`` [3, 35].
    canon_modifier_sibling
        Patient Orientation Modifier as a sibling of Patient Orientation [20].
    empty_relationship
        Items after Dose (RP) without RelationshipType (Eurocolumbus [23]).
    multivalued_kvp
        kVp as one value per pulse with a leading 0 (Eurocolumbus [23, 34]).
    empty_angles
        Positioner angles present with an empty MeasuredValueSequence (GE Super-C [18]).
    retired_codes
        Retired Exposure Time (113735) and Irradiation Event UID (113853) codes [4].
    no_template
        No ContentTemplateSequence (GE OEC [19]).
    zeros_for_unknown
        Write 0 for unknown source distances (Philips Azurion [15]).
    exponent_numbers
        Numbers in exponent form such as ``6.8e+02`` (Philips Veradius [17]).
    """

    legacy_codes: bool = False
    kap_unit: str = "Gy.m2"
    dose_unit: str = "Gy"
    rp_text: str | None = None
    philips_private: bool = False
    siemens_xml_position: bool = False
    canon_modifier_sibling: bool = False
    empty_relationship: bool = False
    multivalued_kvp: bool = False
    empty_angles: bool = False
    retired_codes: bool = False
    no_template: bool = False
    zeros_for_unknown: bool = False
    exponent_numbers: bool = False


_SCT_TO_SRT = {}
for _srt, _sct in SRT_TO_SCT.items():
    # keep the first (element code) SRT spelling, except prefer the "compound" filter codes
    # every vendor writes
    if _sct not in _SCT_TO_SRT or _srt.endswith("F9"):
        _SCT_TO_SRT[_sct] = _srt

_KAP_FACTORS = {"Gy.m2": 1.0, "Gym2": 1.0, "dGy.cm2": 1e-5, "cGy.cm2": 1e-6}
_DOSE_FACTORS = {"Gy": 1.0, "mGy": 1e-3}


def _ds(value: float, exponent: bool = False) -> str:
    """Shortest DS string (at most 16 characters) that reads back as ``value`` where possible."""
    v = float(value)
    if exponent:
        s = f"{v:.6e}"
        if float(s) == v and len(s) <= 16:
            return s
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    for digits in range(17, 5, -1):
        s = f"{v:.{digits}g}"
        if len(s) <= 16:
            return s
    return f"{v:.6g}"  # pragma: no cover


class _Writer:
    def __init__(self, quirks: Quirks):
        self.q = quirks

    # content items ---------------------------------------------------------------------------
    def code_ds(self, code: Code, meaning: str = "") -> Dataset:
        d = LightDataset()
        scheme, value = code.scheme, code.value
        if scheme == "SCT" and self.q.legacy_codes and value in _SCT_TO_SRT:
            scheme, value = "SRT", _SCT_TO_SRT[value]
        d.CodeValue = value
        d.CodingSchemeDesignator = scheme
        d.CodeMeaning = meaning or value
        return d

    def _item(self, rel: str, vt: str, concept: Code, meaning: str = "") -> Dataset:
        it = LightDataset()
        if rel:
            it.RelationshipType = rel
        it.ValueType = vt
        it.ConceptNameCodeSequence = list([self.code_ds(concept, meaning)])
        return it

    def container(self, concept: Code, children: list[Dataset], rel: str = "CONTAINS") -> Dataset:
        it = self._item(rel, "CONTAINER", concept)
        it.ContinuityOfContent = "SEPARATE"
        it.ContentSequence = list(children)
        return it

    def num(self, concept: Code, value, unit: str, rel: str = "CONTAINS") -> Dataset:
        it = self._item(rel, "NUM", concept)
        mv = LightDataset()
        if isinstance(value, list | tuple):
            mv.NumericValue = [_ds(v, self.q.exponent_numbers) for v in value]
        else:
            mv.NumericValue = _ds(value, self.q.exponent_numbers)
        u = LightDataset()
        u.CodeValue = unit
        u.CodingSchemeDesignator = "UCUM"
        u.CodeMeaning = unit
        mv.MeasurementUnitsCodeSequence = list([u])
        it.MeasuredValueSequence = list([mv])
        return it

    def empty_num(self, concept: Code) -> Dataset:
        it = self._item("CONTAINS", "NUM", concept)
        it.MeasuredValueSequence = list([])
        return it

    def code(self, concept: Code, value: Code, meaning: str = "", rel: str = "CONTAINS"):
        it = self._item(rel, "CODE", concept)
        it.ConceptCodeSequence = list([self.code_ds(value, meaning)])
        return it

    def text(self, concept: Code, value: str, rel: str = "CONTAINS") -> Dataset:
        it = self._item(rel, "TEXT", concept)
        it.TextValue = value
        return it

    def uid(self, concept: Code, value: str, rel: str = "CONTAINS") -> Dataset:
        it = self._item(rel, "UIDREF", concept)
        it.UID = value
        return it

    def dt(self, concept: Code, value: datetime, rel: str = "CONTAINS") -> Dataset:
        it = self._item(rel, "DATETIME", concept)
        it.DateTime = value.strftime("%Y%m%d%H%M%S") + (
            f".{value.microsecond:06d}" if value.microsecond else ""
        )
        return it

    # reference point -------------------------------------------------------------------------
    def reference_point(self, rp: ReferencePoint | None) -> Dataset | None:
        if self.q.rp_text is not None:
            return self.text(C.ReferencePointDefinition, self.q.rp_text)
        if rp is None:
            return None
        if rp.code and rp.code.startswith("DCM:"):
            return self.code(C.ReferencePointDefinition, Code("DCM", rp.code[4:]), rp.text)
        return self.text(C.ReferencePointDefinition, rp.text)


_PLANE_CODES = {
    Plane.A: C.PlaneA,
    Plane.B: C.PlaneB,
    Plane.SINGLE: C.SinglePlane,
    Plane.ALL: C.AllPlanes,
}
_EVENT_CODES = {
    EventType.FLUOROSCOPY: C.Fluoroscopy,
    EventType.STATIONARY: C.StationaryAcquisition,
    EventType.STEPPING: C.SteppingAcquisition,
    EventType.ROTATIONAL: C.RotationalAcquisition,
}
_FILTER_TYPES = {
    "Strip filter": Code("DCM", "113650"),
    "Wedge filter": Code("DCM", "113651"),
    "Butterfly filter": Code("DCM", "113652"),
    "Flat filter": Code("DCM", "113653"),
}
_MATERIAL_CODES = {sym: code for code, sym in FILTER_MATERIALS.items()}
_REGION_CODES: dict[str, Code] = {}
for _code, _name in TARGET_REGIONS.items():
    if _code.scheme == "SCT":
        _REGION_CODES.setdefault(_name, _code)
_ORIENTATION = {
    PatientOrientation.HFS: (C.Headfirst, C.Supine),
    PatientOrientation.FFS: (C.FeetFirst, C.Supine),
    PatientOrientation.HFP: (C.Headfirst, C.Prone),
    PatientOrientation.FFP: (C.FeetFirst, C.Prone),
    PatientOrientation.HFDR: (C.Headfirst, C.RightLateralDecubitus),
    PatientOrientation.HFDL: (C.Headfirst, C.LeftLateralDecubitus),
    PatientOrientation.FFDR: (C.FeetFirst, C.RightLateralDecubitus),
    PatientOrientation.FFDL: (C.FeetFirst, C.LeftLateralDecubitus),
}


def _event_items(w: _Writer, ev: IrradiationEvent, first: bool) -> list[Dataset]:
    q = w.q
    items: list[Dataset] = [
        w.code(C.AcquisitionPlane, _PLANE_CODES[ev.plane], rel="HAS CONCEPT MOD")
    ]
    if ev.started is not None:
        items.append(w.dt(C.DateTimeStarted, ev.started))
    if ev.event_type in _EVENT_CODES:
        items.append(w.code(C.IrradiationEventType, _EVENT_CODES[ev.event_type]))
    if ev.protocol:
        items.append(w.text(C.AcquisitionProtocol, ev.protocol))
    rp = w.reference_point(ev.reference_point)
    if rp is not None:
        items.append(rp)
    items.append(w.uid(C.IrradiationEventUIDRetired if q.retired_codes else C.IrradiationEventUID,
                       ev.uid))
    if ev.kap_gym2 is not None:
        items.append(w.num(C.DoseAreaProduct, ev.kap_gym2 / _KAP_FACTORS[q.kap_unit], q.kap_unit))
    if ev.kerma_rp_gy is not None:
        items.append(w.num(C.DoseRP, ev.kerma_rp_gy / _DOSE_FACTORS[q.dose_unit], q.dose_unit))
    after_dose = len(items)
    if ev.hvl_mm_al is not None:
        items.append(w.num(C.HalfValueLayer, ev.hvl_mm_al, "mm"))
    for name, code in (("primary_angle_deg", C.PositionerPrimaryAngle),
                       ("secondary_angle_deg", C.PositionerSecondaryAngle),
                       ("primary_end_angle_deg", C.PositionerPrimaryEndAngle),
                       ("secondary_end_angle_deg", C.PositionerSecondaryEndAngle)):
        v = getattr(ev, name)
        if v is not None:
            items.append(w.num(code, v, "deg"))
        elif q.empty_angles and name in ("primary_angle_deg", "secondary_angle_deg"):
            items.append(w.empty_num(code))
    if ev.field_area_m2 is not None:
        items.append(w.num(C.CollimatedFieldArea, ev.field_area_m2, "m2"))
    if not q.philips_private:
        if ev.field_height_mm is not None:
            items.append(w.num(C.CollimatedFieldHeight, ev.field_height_mm, "mm"))
        if ev.field_width_mm is not None:
            items.append(w.num(C.CollimatedFieldWidth, ev.field_width_mm, "mm"))
    for f in ev.filters:
        fk = []
        if f.filter_type in _FILTER_TYPES:
            fk.append(w.code(C.XRayFilterType, _FILTER_TYPES[f.filter_type], f.filter_type))
        if f.material in _MATERIAL_CODES:
            fk.append(w.code(C.XRayFilterMaterial, _MATERIAL_CODES[f.material], f.material))
        if f.thickness_min_mm is not None:
            fk.append(w.num(C.XRayFilterThicknessMinimum, f.thickness_min_mm, "mm"))
        if f.thickness_max_mm is not None:
            fk.append(w.num(C.XRayFilterThicknessMaximum, f.thickness_max_mm, "mm"))
        items.append(w.container(C.XRayFilters, fk))
    if ev.pulse_rate_hz is not None:
        items.append(w.num(C.PulseRate, ev.pulse_rate_hz, "{pulse}/s"))
    if ev.number_of_pulses is not None:
        items.append(w.num(C.NumberOfPulses, ev.number_of_pulses, "1"))
    if ev.kvp is not None:
        kv = [0.0, ev.kvp, ev.kvp] if q.multivalued_kvp else ev.kvp
        items.append(w.num(C.KVP, kv, "kV"))
    if ev.tube_current_ma is not None:
        items.append(w.num(C.XRayTubeCurrent, ev.tube_current_ma, "mA"))
    if ev.exposure_time_ms is not None:
        code = C.ExposureTimeRetired if q.retired_codes else C.ExposureTime
        items.append(w.num(code, ev.exposure_time_ms, "ms"))
    if ev.pulse_width_ms is not None:
        items.append(w.num(C.PulseWidth, ev.pulse_width_ms, "ms"))
    if ev.exposure_uas is not None:
        items.append(w.num(C.Exposure, ev.exposure_uas, "uAs" if q.kap_unit == "Gym2" else "uA.s"))
    if ev.focal_spot_mm is not None:
        items.append(w.num(C.FocalSpotSize, ev.focal_spot_mm, "mm"))
    if ev.duration_s is not None:
        items.append(w.num(C.IrradiationDuration, ev.duration_s, "s"))
    if ev.sid_mm is not None and (not q.philips_private or first):
        items.append(w.num(C.DistanceSourceToDetector, ev.sid_mm, "mm"))
    elif ev.sid_mm is None and q.zeros_for_unknown:
        items.append(w.num(C.DistanceSourceToDetector, 0.0, "mm"))
    if ev.sod_mm is not None:
        items.append(w.num(C.DistanceSourceToIsocenter, ev.sod_mm, "mm"))
    elif q.zeros_for_unknown:
        items.append(w.num(C.DistanceSourceToIsocenter, 0.0, "mm"))
    if ev.srp_mm is not None:
        items.append(w.num(C.DistanceSourceToReferencePoint, ev.srp_mm, "mm"))
    for name, code in (("table_longitudinal_mm", C.TableLongitudinalPosition),
                       ("table_lateral_mm", C.TableLateralPosition)):
        v = getattr(ev, name)
        if v is not None:
            items.append(w.num(code, v, "mm"))
    if ev.table_height_mm is not None and not q.philips_private:
        items.append(w.num(C.TableHeightPosition, ev.table_height_mm, "mm"))
    for name, code in (("table_head_tilt_deg", C.TableHeadTiltAngle),
                       ("table_horizontal_rotation_deg", C.TableHorizontalRotationAngle),
                       ("table_cradle_tilt_deg", C.TableCradleTiltAngle)):
        v = getattr(ev, name)
        if v is not None:
            items.append(w.num(code, v, "deg"))
    for axis in ("x", "y", "z"):
        v = getattr(ev, f"table_{axis}_to_isocenter_mm")
        if v is not None:
            items.append(w.num(getattr(C, f"Table{axis.upper()}PositionToIsocenter"), v, "mm"))
    if ev.patient_orientation is not None and not q.siemens_xml_position:
        rel, mod = _ORIENTATION[ev.patient_orientation]
        items.append(w.code(C.PatientTableRelationship, rel))
        orient = w.code(C.PatientOrientation, C.Recumbent)
        mod_item = w.code(C.PatientOrientationModifier, mod, rel="HAS CONCEPT MOD")
        if q.canon_modifier_sibling:
            items += [orient, mod_item]
        else:
            orient.ContentSequence = list([mod_item])
            items.append(orient)
    if ev.target_region_code:
        scheme, _, value = ev.target_region_code.partition(":")
        items.append(w.code(C.TargetRegion, Code(scheme, value), ev.target_region or ""))
    elif ev.target_region is not None and ev.target_region in _REGION_CODES:
        items.append(w.code(C.TargetRegion, _REGION_CODES[ev.target_region], ev.target_region))
    if q.philips_private:
        if ev.shutters_mm is not None:
            left, right, top, bottom = ev.shutters_mm
            sh = [w.num(P.BottomShutter, bottom, "mm"), w.num(P.LeftShutter, left, "mm"),
                  w.num(P.RightShutter, right, "mm"), w.num(P.TopShutter, top, "mm")]
            items.append(w.container(P.WedgesAndShutters, sh))
        if ev.sid_mm is not None:
            items.append(w.num(P.FinalDistanceSourceToDetector, ev.sid_mm, "mm"))
        if ev.table_height_mm is not None:
            items.append(w.num(P.TableHeightPosition, ev.table_height_mm, "mm"))
        if ev.detector_size_mm is not None:
            items.append(w.container(P.DetectorFieldSize,
                                     [w.num(P.DetectorXSide, ev.detector_size_mm, "mm")]))
    if q.siemens_xml_position and ev.detector_size_mm is not None:
        items.append(w.text(C.Comment, f'<FluoroData><iiDiameter SRData="'
                                       f'{_ds(ev.detector_size_mm)}"/></FluoroData>'))
    if q.empty_relationship:
        for it in items[after_dose:]:
            if "RelationshipType" in it:
                del it.RelationshipType
    return items


def build_rdsr(
    procedure: Procedure | Sequence[IrradiationEvent],
    quirks: Quirks | None = None,
) -> Dataset:
    """Build an X-Ray Radiation Dose SR dataset.

    Parameters
    ----------
    procedure
        A :class:`Procedure` (device, patient, study, events, totals) or just a sequence of
        events (device and patient then come from :func:`example_procedure`'s defaults).
    quirks
        Vendor deviations to reproduce (default: a clean, conformant file).

    Returns
    -------
    pydicom.dataset.Dataset
        With file meta, ready for ``dcmwrite`` or for :func:`skindose.read_rdsr` (read by
        pydicom from the encoded bytes of :func:`encode_rdsr`).
    """
    import io

    import pydicom

    return pydicom.dcmread(io.BytesIO(encode_rdsr(procedure, quirks)))


def encode_rdsr(
    procedure: Procedure | Sequence[IrradiationEvent],
    quirks: Quirks | None = None,
) -> bytes:
    """The DICOM Part 10 bytes of the RDSR that :func:`build_rdsr` describes."""
    return encode(_build_light(procedure, quirks))


def _build_light(
    procedure: Procedure | Sequence[IrradiationEvent],
    quirks: Quirks | None = None,
) -> LightDataset:
    """The content tree of :func:`build_rdsr` as light nodes (see skindose.rdsr._fastwrite)."""
    if not isinstance(procedure, Procedure):
        procedure = _procedure_from_events(tuple(procedure))
    q = quirks or Quirks()
    w = _Writer(q)
    proc = procedure

    ds = LightDataset()
    sop_uid = generate_uid()
    meta = LightDataset()
    meta.MediaStorageSOPClassUID = RDSR_SOP
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RDSR_SOP
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "SR"
    when = proc.study.date or datetime(2026, 1, 1, 8, 0, 0)
    ds.StudyDate = when.strftime("%Y%m%d")
    ds.StudyTime = when.strftime("%H%M%S")
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    ds.StudyInstanceUID = proc.study.uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.StudyDescription = proc.study.description
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.PatientName = "SYNTHETIC^PATIENT"
    ds.PatientID = proc.patient.patient_id or "SKINDOSE-SYNTHETIC"
    ds.PatientBirthDate = ""
    ds.PatientSex = proc.patient.sex or ""
    if proc.patient.age_years is not None:
        ds.PatientAge = f"{round(proc.patient.age_years):03d}Y"
    if proc.patient.height_m is not None:
        ds.PatientSize = _ds(proc.patient.height_m)
    if proc.patient.mass_kg is not None:
        ds.PatientWeight = _ds(proc.patient.mass_kg)
    ds.Manufacturer = proc.device.manufacturer
    if proc.device.model:
        ds.ManufacturerModelName = proc.device.model
    if proc.device.serial:
        ds.DeviceSerialNumber = proc.device.serial
    if proc.device.software:
        ds.SoftwareVersions = proc.device.software
    if proc.device.station:
        ds.StationName = proc.device.station
    if proc.device.institution:
        ds.InstitutionName = proc.device.institution
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = list([w.code_ds(C.XRayRadiationDoseReport,
                                                      "X-Ray Radiation Dose Report")])
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    if not q.no_template:
        t = LightDataset()
        t.MappingResource = "DCMR"
        t.TemplateIdentifier = "10001"
        ds.ContentTemplateSequence = list([t])

    root: list[Dataset] = [
        w.code(C.ProcedureReported, C.ProjectionXRay, "Projection X-Ray", rel="HAS CONCEPT MOD"),
        w.code(C.ObserverType, Code("DCM", "121007"), "Device", rel="HAS OBS CONTEXT"),
        w.uid(C.DeviceObserverUID, generate_uid(), rel="HAS OBS CONTEXT"),
        w.text(C.DeviceObserverManufacturer, proc.device.manufacturer or "unknown",
               rel="HAS OBS CONTEXT"),
        w.text(C.DeviceObserverModelName, proc.device.model or "unknown", rel="HAS OBS CONTEXT"),
        w.text(C.DeviceObserverSerialNumber, proc.device.serial or "0", rel="HAS OBS CONTEXT"),
    ]
    scope = w.code(C.ScopeOfAccumulation, Code("DCM", "113014"), "Study", rel="HAS OBS CONTEXT")
    scope.ContentSequence = list([w.uid(C.StudyInstanceUID, ds.StudyInstanceUID,
                                             rel="HAS PROPERTIES")])
    root.append(scope)

    accumulated = proc.accumulated or _totals(proc)
    for i, acc in enumerate(accumulated):
        kids = [w.code(C.AcquisitionPlane, _PLANE_CODES[acc.plane], rel="HAS CONCEPT MOD")]
        for value, code, unit_kind in (
            (acc.kap_total_gym2, C.DoseAreaProductTotal, "kap"),
            (acc.kerma_rp_total_gy, C.DoseRPTotal, "dose"),
            (acc.fluoro_kap_total_gym2, C.FluoroDoseAreaProductTotal, "kap"),
            (acc.fluoro_kerma_rp_total_gy, C.FluoroDoseRPTotal, "dose"),
            (acc.acquisition_kap_total_gym2, C.AcquisitionDoseAreaProductTotal, "kap"),
            (acc.acquisition_kerma_rp_total_gy, C.AcquisitionDoseRPTotal, "dose"),
        ):
            if value is None:
                continue
            if unit_kind == "kap":
                kids.append(w.num(code, value / _KAP_FACTORS[q.kap_unit], q.kap_unit))
            else:
                kids.append(w.num(code, value / _DOSE_FACTORS[q.dose_unit], q.dose_unit))
        if acc.fluoro_time_s is not None:
            kids.append(w.num(C.TotalFluoroTime, acc.fluoro_time_s, "s"))
        if acc.acquisition_time_s is not None:
            kids.append(w.num(C.TotalAcquisitionTime, acc.acquisition_time_s, "s"))
        rp = w.reference_point(acc.reference_point or proc.reference_point)
        if rp is not None:
            kids.append(rp)
        if acc.srp_mm is not None:
            kids.append(w.num(C.DistanceSourceToReferencePoint, acc.srp_mm, "mm"))
        if q.philips_private:
            hos = proc.private_value("height_of_system_mm")
            fsi = proc.private_value("focal_spot_to_isocenter_mm")
            if hos is not None:
                kids.append(w.num(P.HeightOfSystem, hos, "mm"))
            if fsi is not None:
                kids.append(w.num(P.FocalSpotToIsocenter, fsi, "mm"))
        root.append(w.container(C.AccumulatedXRayDoseData, kids))
        del i

    for k, ev in enumerate(proc.events):
        root.append(w.container(C.IrradiationEventXRayData, _event_items(w, ev, k == 0)))

    orient = proc.patient.orientation
    if q.siemens_xml_position and orient is not None:
        root.append(w.text(C.Comment, f'<Root><PatientPosition><Position SRData="{orient.value} "'
                                      '/></PatientPosition></Root>'))
    root.append(w.code(C.SourceOfDoseInformation, Code("DCM", "113856"),
                       "Automated Data Collection"))
    ds.ContentSequence = list(root)
    return ds


def write_rdsr(procedure: Procedure | Sequence[IrradiationEvent], path: str | Path,
               quirks: Quirks | None = None) -> Path:
    """Build an RDSR with :func:`build_rdsr` and write it as a DICOM file; returns the path."""
    out = Path(path)
    out.write_bytes(encode_rdsr(procedure, quirks))
    return out


def _totals(proc: Procedure) -> tuple[AccumulatedDose, ...]:
    planes = sorted({ev.plane for ev in proc.events}, key=lambda p: p.value)
    out = []
    for plane in planes:
        kerma = proc.event_sum("kerma_rp_gy", plane)
        kap = proc.event_sum("kap_gym2", plane)
        out.append(AccumulatedDose(plane=plane, kerma_rp_total_gy=kerma, kap_total_gym2=kap,
                                   reference_point=proc.reference_point))
    return tuple(out)


def _procedure_from_events(events: tuple[IrradiationEvent, ...]) -> Procedure:
    base = example_procedure(n_events=1, seed=0)
    return replace(base, events=events, accumulated=())


# Working projections of a complex PCI: LAO cranial dominates, as it often does in practice.
_PROJECTION_WEIGHTS = (0.10, 0.10, 0.40, 0.10, 0.08, 0.08, 0.06, 0.08)


def _region_code(name: str | None) -> str | None:
    code = _REGION_CODES.get(name) if name else None
    return f"{code.scheme}:{code.value}" if code else None


def example_procedure(
    n_events: int = 200,
    seed: int = 7,
    *,
    orientation: PatientOrientation = PatientOrientation.HFS,
    target_region: str = "heart",
    manufacturer: str = "Siemens",
    model: str = "AXIOM-Artis",
) -> Procedure:
    """A plausible synthetic cardiac procedure (for the demo, tests and benchmarks).

    Fluoroscopy runs and cine acquisitions from a handful of standard cardiac projections
    (RAO/LAO with cranial/caudal tilt), 785 mm source–isocenter distance, the IEC reference
    point 15 cm before the isocenter, table positions around a fixed working position.

    Parameters
    ----------
    n_events
        Number of irradiation events.
    seed
        Seed of the random generator (the result is deterministic).
    orientation
        Patient orientation written into every event.
    target_region
        Target region written into every event.
    manufacturer, model
        Device identity (the default matches the Siemens AXIOM-Artis vendor profile).
    """
    rng = np.random.default_rng(seed)
    projections = [(-30.0, 0.0), (-30.0, 25.0), (40.0, 25.0), (40.0, -20.0), (0.0, 30.0),
                   (0.0, 0.0), (90.0, 0.0), (-10.0, -25.0)]
    start = datetime(2026, 3, 14, 9, 0, 0)
    rp = ReferencePoint(kind=ReferencePointKind.ISOCENTER_OFFSET, distance_mm=150.0,
                        text="15cm from Isocenter toward Source", code="DCM:113860")
    events = []
    t = start
    for i in range(n_events):
        a, b = projections[int(rng.choice(len(projections), p=_PROJECTION_WEIGHTS))]
        a += float(np.round(rng.normal(0, 3), 1))
        b += float(np.round(rng.normal(0, 2), 1))
        acq = rng.random() < 0.2
        kvp = float(np.round(rng.uniform(70, 95), 1)) if not acq else float(
            np.round(rng.uniform(75, 90), 1))
        cu = 0.0 if acq else float(rng.choice([0.1, 0.2, 0.3, 0.6, 0.9]))
        field = float(np.round(rng.uniform(150, 250), 0))
        sid = float(np.round(rng.uniform(1000, 1200), 0))
        srp = 635.0
        # K_RP: cine runs deliver more; numbers rounded to 4 significant digits as vendors do
        kerma = float(f"{(rng.uniform(3e-2, 1e-1) if acq else rng.uniform(2e-3, 2e-2)):.4g}")
        area_rp_m2 = (field * srp / sid) ** 2 * 1e-6
        kap = float(f"{kerma * area_rp_m2:.4g}")
        dur = float(np.round(rng.uniform(3, 8) if acq else rng.uniform(2, 40), 1))
        filters = (Filter(material="Cu", thickness_min_mm=cu, thickness_max_mm=cu,
                          filter_type="Strip filter"),) if cu else ()
        events.append(IrradiationEvent(
            index=i,
            uid=f"1.2.826.0.1.3680043.10.1234.{seed}.{i + 1}",
            started=t,
            event_type=EventType.STATIONARY if acq else EventType.FLUOROSCOPY,
            plane=Plane.SINGLE,
            protocol="Coro cine 15 fps" if acq else "Fluoro 15 p/s",
            target_region=target_region,
            target_region_code=_region_code(target_region),
            kerma_rp_gy=kerma,
            kap_gym2=kap,
            reference_point=rp,
            kvp=kvp,
            tube_current_ma=float(np.round(rng.uniform(10, 600 if acq else 80), 1)),
            pulse_rate_hz=15.0,
            pulse_width_ms=float(np.round(rng.uniform(4, 8), 1)),
            duration_s=dur,
            filters=filters,
            primary_angle_deg=a,
            secondary_angle_deg=b,
            sod_mm=785.0,
            sid_mm=sid,
            srp_mm=srp,
            field_height_mm=field,
            field_width_mm=field,
            table_longitudinal_mm=float(np.round(rng.normal(0, 10), 1)),
            table_lateral_mm=float(np.round(rng.normal(0, 15), 1)),
            table_height_mm=float(np.round(rng.normal(0, 5), 1)),
            table_head_tilt_deg=0.0,
            table_horizontal_rotation_deg=0.0,
            table_cradle_tilt_deg=0.0,
            patient_orientation=orientation,
        ))
        t = t + timedelta(seconds=dur + float(rng.uniform(5, 60)))
    totals = AccumulatedDose(
        plane=Plane.SINGLE,
        kerma_rp_total_gy=math.fsum(e.kerma_rp_gy for e in events),
        kap_total_gym2=math.fsum(e.kap_gym2 for e in events),
        reference_point=rp,
    )
    return Procedure(
        source=None,
        sop_class_uid=RDSR_SOP,
        device=Device(manufacturer=manufacturer, model=model, serial="SYN-0001",
                      software="skindose synthetic", station="SYNTHETIC-LAB"),
        patient=Patient(patient_id="SKINDOSE-DEMO", sex="M", age_years=64.0, height_m=1.76,
                        mass_kg=82.0, orientation=orientation,
                        orientation_source="RDSR patient orientation codes (DCM "
                                           "113745/113743/113744)"),
        study=Study(uid="1.2.826.0.1.3680043.10.1234.1", date=start,
                    description="Synthetic PCI (skindose demo)"),
        events=tuple(events),
        accumulated=(totals,),
        reference_point=rp,
    )


# Keep the private scheme name importable for tests that build files by hand.
PHILIPS_SCHEME = PHILIPS
