"""Data model of a parsed RDSR: :class:`Procedure` and :class:`IrradiationEvent`.

Quantities are unit-normalized (``docs/architecture.md`` §3): lengths in mm, dose and kerma in
Gy, KAP in Gy·m², angles in degrees, tube voltage in kV, times in s or ms as the name says.
A value that the file did not give is ``None``, never 0 or NaN. Every field that was filled by
a default or a fallback is named in the event's ``assumed`` set, and explained in the
procedure's ``warnings``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum

from skindose.jsonsafe import finite_or_none
from skindose.jsonsafe import jsonable as _jsonable
from skindose.notes import Note

__all__ = [
    "IEC_REFERENCE_POINT",
    "MIN_FIELD_MM",
    "AccumulatedDose",
    "BeamField",
    "Device",
    "EventType",
    "FieldSource",
    "Filter",
    "IrradiationEvent",
    "Patient",
    "PatientOrientation",
    "Plane",
    "Procedure",
    "ReferencePoint",
    "ReferencePointKind",
    "SrpSource",
    "Study",
    "source_to_reference_point_mm",
    "wrap_angles",
]

#: Collimated field height or width under this (mm) is not a real field (docs/rdsr.md §2.4):
#: the reader drops such values with a note and the field chain never uses them.
MIN_FIELD_MM = 10.0


class EventType(StrEnum):
    """Irradiation Event Type (DICOM CID 10002)."""

    FLUOROSCOPY = "fluoroscopy"
    STATIONARY = "stationary acquisition"
    STEPPING = "stepping acquisition"
    ROTATIONAL = "rotational acquisition"
    UNKNOWN = "unknown"


class Plane(StrEnum):
    """Acquisition Plane (DICOM CID 10003)."""

    SINGLE = "single"
    A = "A"
    B = "B"
    ALL = "all"


class PatientOrientation(StrEnum):
    """Patient position on the table: head/feet first and supine/prone/decubitus."""

    HFS = "HFS"
    FFS = "FFS"
    HFP = "HFP"
    FFP = "FFP"
    HFDR = "HFDR"
    HFDL = "HFDL"
    FFDR = "FFDR"
    FFDL = "FFDL"

    @property
    def head_first(self) -> bool:
        """True when the patient lies head first toward the gantry."""
        return self.value.startswith("HF")


class ReferencePointKind(StrEnum):
    """How the reference point (where ``kerma_rp_gy`` is stated) is located on the beam axis.

    ``ISOCENTER_OFFSET``: ``distance_mm`` from the isocenter toward the source.
    ``FROM_SOURCE``: ``distance_mm`` from the focal spot.
    ``DETECTOR_OFFSET``: ``distance_mm`` in front of the image receptor input surface.
    ``ABOVE_TABLETOP``: ``distance_mm`` above the tabletop (needs the table geometry).
    ``TABLE_CENTERLINE``: ``distance_mm`` from the table centreline toward the source.
    ``DETECTOR_PLANE``: in the detector plane (distance 0 from the detector).
    ``PATIENT_SURFACE``: at the surface of the patient (position unknown beforehand).
    ``UNKNOWN``: the file gave no usable definition.
    """

    ISOCENTER_OFFSET = "isocenter offset"
    FROM_SOURCE = "from source"
    DETECTOR_OFFSET = "detector offset"
    ABOVE_TABLETOP = "above tabletop"
    TABLE_CENTERLINE = "table centerline"
    DETECTOR_PLANE = "detector plane"
    PATIENT_SURFACE = "patient surface"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferencePoint:
    """The parsed Reference Point Definition (DCM 113780) as a source-distance rule.

    Parameters
    ----------
    kind
        How the point is located (see :class:`ReferencePointKind`).
    distance_mm
        The distance that goes with ``kind`` (e.g. 150 for "15 cm from isocenter toward
        source"); None for kinds that need none or when unknown.
    text
        The definition as the file gave it (code meaning or free text), for reports.
    code
        ``"scheme:value"`` when the definition was coded, else None.
    """

    kind: ReferencePointKind
    distance_mm: float | None = None
    text: str = ""
    code: str | None = None

    def source_distance_mm(self, sod_mm: float | None, sid_mm: float | None) -> float | None:
        """Source-to-reference-point distance in mm, or None when it cannot be known.

        Parameters
        ----------
        sod_mm
            Source to isocenter distance (mm), if known.
        sid_mm
            Source to detector distance (mm), if known.
        """
        d = self.distance_mm
        kind = self.kind
        if kind is ReferencePointKind.FROM_SOURCE:
            return d
        if kind is ReferencePointKind.ISOCENTER_OFFSET and sod_mm is not None and d is not None:
            return sod_mm - d
        if kind is ReferencePointKind.DETECTOR_OFFSET and sid_mm is not None and d is not None:
            return sid_mm - d
        if self.kind is ReferencePointKind.DETECTOR_PLANE and sid_mm is not None:
            return sid_mm
        return None


#: The IEC 60601-2-43 reference point: 15 cm from the isocenter toward the source
#: (docs/physics.md §6); the reader's last resort when the file defines none.
IEC_REFERENCE_POINT = ReferencePoint(kind=ReferencePointKind.ISOCENTER_OFFSET, distance_mm=150.0,
                                     text="IEC 60601-2-43: 15 cm from the isocenter toward the "
                                     "source")


class SrpSource(StrEnum):
    """Which step of :func:`source_to_reference_point_mm` gave the distance."""

    DSRP = "distance source to reference point (DCM 113737)"
    ACCUMULATED = "accumulated-level DSRP"
    DEFINITION = "reference point definition"
    RULE = "fallback rule"


def source_to_reference_point_mm(
    *,
    dsrp_mm: float | None,
    sod_mm: float | None,
    sid_mm: float | None,
    definitions: tuple[ReferencePoint | None, ...] = (),
    accumulated_mm: float | None = None,
    rules: tuple[ReferencePoint, ...] = (),
) -> tuple[float | None, SrpSource | None, ReferencePoint | None]:
    """The source-to-reference-point distance by the one fallback chain (docs/rdsr.md §2.3).

    Order: the event's DSRP; the accumulated-level DSRP; each reference point definition
    (event, then procedure) that yields a distance; each fallback rule (a vendor profile's rule,
    the IEC point). The reader and the geometry both call this; each passes what it knows.

    Returns
    -------
    tuple
        (distance in mm or None, the step that gave it, the definition or rule used).
    """
    if dsrp_mm:
        return float(dsrp_mm), SrpSource.DSRP, None
    if accumulated_mm:
        return float(accumulated_mm), SrpSource.ACCUMULATED, None
    for rp in definitions:
        if rp is not None and rp.kind is not ReferencePointKind.UNKNOWN:
            d = rp.source_distance_mm(sod_mm, sid_mm)
            if d:
                return float(d), SrpSource.DEFINITION, rp
    for rule in rules:
        d = rule.source_distance_mm(sod_mm, sid_mm)
        if d:
            return float(d), SrpSource.RULE, rule
    return None, None, None


def wrap_angles(primary_deg: float, secondary_deg: float) -> tuple[float, float, bool]:
    """The one angle wrapping rule (docs/rdsr.md §2.1): the same beam direction with the
    primary angle in (-180, 180] and the secondary angle in [-90, 90] degrees.

    A secondary angle beyond ±90° (Eurocolumbus reports 183°) points the detector the same way
    as (primary + 180°, ±180° − secondary). Defined here, with the data it normalises, so
    that the reader (which may not import the geometry) and the geometry share it: the
    reader wraps out-of-range angles as it reads them (note ``angle-wrapped``), the geometry
    (:mod:`skindose.geometry.frames` re-exports it) wraps again after the vendor profile's
    sign flips.

    Returns
    -------
    tuple
        (primary, secondary, changed) with ``changed`` True when either angle moved.

    >>> wrap_angles(10.0, 183.0)
    (-170.0, -3.0, True)
    """
    a, b = primary_deg, secondary_deg
    b = (b + 180.0) % 360.0 - 180.0
    if b > 90.0:
        b, a = 180.0 - b, a + 180.0
    elif b < -90.0:
        b, a = -180.0 - b, a + 180.0
    a = (a + 180.0) % 360.0 - 180.0
    if a == -180.0:
        a = 180.0
    changed = not (math.isclose(a, primary_deg, abs_tol=1e-9)
                   and math.isclose(b, secondary_deg, abs_tol=1e-9))
    return a, b, changed


class FieldSource(StrEnum):
    """Where a beam's field size came from, in the order of the fallback chain."""

    COLLIMATED = "collimated field"
    SHUTTERS = "shutters"
    AREA = "field area"
    KAP_KERMA = "kap/kerma"
    DETECTOR = "detector size"


@dataclass(frozen=True, slots=True)
class BeamField:
    """Half-angle tangents of a field (width along u, height along v) and their source."""

    tan_u: float
    tan_v: float
    source: FieldSource


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """One X-Ray Filters (DCM 113771) container.

    ``material`` is a chemical symbol ("Cu", "Al", "Mo", "Sn", "Pb", "Ta", "Rh", "Ag", "Nb",
    "Eu") or "unknown"; thicknesses in mm.
    """

    material: str
    thickness_min_mm: float | None = None
    thickness_max_mm: float | None = None
    filter_type: str | None = None

    @property
    def thickness_mm(self) -> float | None:
        """Thickness used for the beam quality: the mean of min and max when both are given."""
        lo, hi = self.thickness_min_mm, self.thickness_max_mm
        if lo is not None and hi is not None:
            return 0.5 * (lo + hi)
        return lo if lo is not None else hi


@dataclass(frozen=True, slots=True, kw_only=True)
class IrradiationEvent:
    """One Irradiation Event X-Ray Data container (DCM 113706), unit-normalized.

    Lengths in mm, dose in Gy, KAP in Gy·m², angles in degrees. ``None`` means "not in the
    file" (after every fallback). ``assumed`` names every field that was filled by a default
    or fallback; ``unusable`` gives the reason when the event cannot be used for a skin dose
    map at all (it is kept so that nothing is dropped silently).
    """

    index: int
    uid: str
    started: datetime | None = None
    event_type: EventType = EventType.UNKNOWN
    plane: Plane = Plane.SINGLE
    protocol: str | None = None
    target_region: str | None = None
    target_region_code: str | None = None
    # dose
    kerma_rp_gy: float | None = None
    kap_gym2: float | None = None
    reference_point: ReferencePoint | None = None
    hvl_mm_al: float | None = None
    # source
    kvp: float | None = None
    tube_current_ma: float | None = None
    exposure_uas: float | None = None
    pulse_rate_hz: float | None = None
    pulse_width_ms: float | None = None
    number_of_pulses: float | None = None
    duration_s: float | None = None
    exposure_time_ms: float | None = None
    focal_spot_mm: float | None = None
    filters: tuple[Filter, ...] = ()
    # geometry
    primary_angle_deg: float | None = None
    secondary_angle_deg: float | None = None
    primary_end_angle_deg: float | None = None
    secondary_end_angle_deg: float | None = None
    sod_mm: float | None = None
    sid_mm: float | None = None
    srp_mm: float | None = None
    field_height_mm: float | None = None
    field_width_mm: float | None = None
    field_area_m2: float | None = None
    shutters_mm: tuple[float, float, float, float] | None = None
    detector_size_mm: float | None = None
    table_longitudinal_mm: float | None = None
    table_lateral_mm: float | None = None
    table_height_mm: float | None = None
    table_head_tilt_deg: float | None = None
    table_horizontal_rotation_deg: float | None = None
    table_cradle_tilt_deg: float | None = None
    # newer isocenter-referenced table position (DCM 128766–128768), as reported; not yet used
    # by the geometry (no sample file carries them)
    table_x_to_isocenter_mm: float | None = None
    table_y_to_isocenter_mm: float | None = None
    table_z_to_isocenter_mm: float | None = None
    patient_orientation: PatientOrientation | None = None
    # bookkeeping
    assumed: frozenset[str] = field(default_factory=frozenset)
    unusable: str | None = None

    def filter_mm(self, material: str) -> float:
        """Total thickness (mm) of all filters of ``material`` ("Cu", "Al", ...); 0 if none."""
        return float(
            sum(f.thickness_mm or 0.0 for f in self.filters if f.material == material)
        )

    @property
    def cu_mm(self) -> float:
        """Added copper filtration in mm (0 when no copper filter is reported)."""
        return self.filter_mm("Cu")

    @property
    def al_mm(self) -> float:
        """Added aluminium filtration in mm reported in the RDSR (0 when none)."""
        return self.filter_mm("Al")

    @property
    def has_geometry(self) -> bool:
        """True when the beam direction is known (both positioner angles present)."""
        return self.primary_angle_deg is not None and self.secondary_angle_deg is not None

    @property
    def is_rotational(self) -> bool:
        """True for a rotational run with a known end angle."""
        return self.event_type is EventType.ROTATIONAL and (
            self.primary_end_angle_deg is not None or self.secondary_end_angle_deg is not None
        )

    @property
    def unmappable(self) -> str | None:
        """Why the event can give no dose at all (unusable, or no K_RP), or None."""
        if self.unusable is not None:
            return f"unusable: {self.unusable}"
        if self.kerma_rp_gy is None or not self.kerma_rp_gy >= 0:
            return "no reference air kerma (K_RP) reported"
        return None

    @property
    def field_at_detector_mm(self) -> tuple[float, float] | None:
        """Field (width, height) at the detector plane in mm: the steps of
        :meth:`field_tangents` that need no dose value, expressed at the detector.

        Collimated field width/height (each at least :data:`MIN_FIELD_MM`); else Philips
        shutters at 1 m scaled to the SID; else the square root of the collimated field area.
        None when none is known.
        """
        w, h = self.field_width_mm, self.field_height_mm
        if w and h and w >= MIN_FIELD_MM and h >= MIN_FIELD_MM:
            return (w, h)
        if self.shutters_mm is not None and self.sid_mm:
            left, right, top, bottom = self.shutters_mm
            scale = self.sid_mm / 1000.0
            w, h = (left + right) * scale, (top + bottom) * scale
            if w > 0 and h > 0:
                return (w, h)
        if self.field_area_m2 and self.field_area_m2 > 0:
            side = math.sqrt(self.field_area_m2) * 1000.0
            return (side, side)
        return None

    def field_tangents(self, srp_mm: float | None,
                       detector_size_mm: float | None = None) -> BeamField | None:
        """The field as half-angle tangents, by the one fallback chain (docs/rdsr.md §1.8).

        ``tan_u = (width / 2) / SID`` from the collimated field width/height (each at least
        :data:`MIN_FIELD_MM`); else the Philips shutters at 1 m (``(left + right) / 2000``);
        else the collimated field area (a square); else KAP / K_RP at the reference point (a
        square of side s, ``tan = (s / 2) / srp``); else the detector size (the event's, else
        ``detector_size_mm``). None when nothing gives a field.

        Parameters
        ----------
        srp_mm
            Source to reference point distance (mm) for the KAP / K_RP step.
        detector_size_mm
            Detector side (mm) when the event reports none (a vendor profile's default).
        """
        sid = self.sid_mm
        w, h = self.field_width_mm, self.field_height_mm
        if w and h and w >= MIN_FIELD_MM and h >= MIN_FIELD_MM and sid:
            return BeamField((w / 2) / sid, (h / 2) / sid, FieldSource.COLLIMATED)
        if self.shutters_mm is not None:
            left, right, top, bottom = self.shutters_mm
            if left + right > 0 and top + bottom > 0:
                return BeamField((left + right) / 2000.0, (top + bottom) / 2000.0,
                                 FieldSource.SHUTTERS)
        if self.field_area_m2 and self.field_area_m2 > 0 and sid:
            side = math.sqrt(self.field_area_m2) * 1000.0
            return BeamField(side / 2 / sid, side / 2 / sid, FieldSource.AREA)
        kap, k = self.kap_gym2, self.kerma_rp_gy
        if kap and k and kap > 0 and k > 0 and srp_mm:
            side = math.sqrt(kap / k) * 1000.0
            return BeamField(side / 2 / srp_mm, side / 2 / srp_mm, FieldSource.KAP_KERMA)
        det = self.detector_size_mm or detector_size_mm
        if det and sid:
            return BeamField(det / 2 / sid, det / 2 / sid, FieldSource.DETECTOR)
        return None

    def to_dict(self) -> dict:
        """JSON-safe dictionary of every field (datetimes as ISO strings, enums as values)."""
        out: dict = {}
        for f in fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class AccumulatedDose:
    """Accumulated X-Ray Dose (DCM 113702) of one plane, as the file reports it."""

    plane: Plane
    kerma_rp_total_gy: float | None = None
    kap_total_gym2: float | None = None
    fluoro_kerma_rp_total_gy: float | None = None
    fluoro_kap_total_gym2: float | None = None
    acquisition_kerma_rp_total_gy: float | None = None
    acquisition_kap_total_gym2: float | None = None
    fluoro_time_s: float | None = None
    acquisition_time_s: float | None = None
    reference_point: ReferencePoint | None = None
    srp_mm: float | None = None

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """The irradiating device as identified by the header and the observer context."""

    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    software: str = ""
    station: str = ""
    institution: str = ""

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    """Patient facts from the RDSR (height in m, mass in kg, age in years).

    ``name`` and ``birth_date`` are kept only to tell patients apart when IDs are missing
    (:mod:`skindose.accumulate`); they are not part of :meth:`to_dict`.
    """

    patient_id: str = ""
    name: str = ""
    birth_date: str = ""
    sex: str | None = None
    age_years: float | None = None
    height_m: float | None = None
    mass_kg: float | None = None
    orientation: PatientOrientation | None = None
    orientation_source: str = "not reported"

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)
                if f.name not in ("name", "birth_date")}


@dataclass(frozen=True, slots=True, kw_only=True)
class Study:
    """Study identity."""

    uid: str = ""
    date: datetime | None = None
    description: str = ""

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Procedure:
    """One parsed RDSR: device, patient, study, events and reported totals.

    ``notes`` lists every repair, default and doubt of the reader as typed
    :class:`~skindose.notes.Note` objects; ``warnings`` is their plain-text view.
    ``private`` holds vendor private values read at the accumulated level (e.g. the Philips
    height of system, in mm) keyed by a short name.
    """

    source: str | None
    sop_class_uid: str
    device: Device
    patient: Patient
    study: Study
    events: tuple[IrradiationEvent, ...]
    accumulated: tuple[AccumulatedDose, ...] = ()
    reference_point: ReferencePoint | None = None
    mechanical_data_available: bool | None = None
    private: tuple[tuple[str, float], ...] = ()
    notes: tuple[Note, ...] = ()
    sop_instance_uid: str = ""

    @property
    def warnings(self) -> tuple[str, ...]:
        """Plain-text view of :attr:`notes` (every repair and default, in file order)."""
        return tuple(str(n) for n in self.notes)

    def totals_by_plane(self) -> dict[str, dict[str, float | int | None]]:
        """Σ events and the file's own accumulated totals, per plane (the one owner of this).

        Keys are plane values; each entry has ``kerma_rp_gy``, ``kap_gym2``, ``n_events``
        (sums over the events of that plane, None counting 0) and ``reported_kerma_rp_gy``,
        ``reported_kap_gym2`` (the accumulated totals of that plane, or None).
        """
        out: dict[str, dict[str, float | int | None]] = {}

        def entry(plane: Plane) -> dict[str, float | int | None]:
            return out.setdefault(plane.value, {"kerma_rp_gy": 0.0, "kap_gym2": 0.0,
                                                "n_events": 0, "reported_kerma_rp_gy": None,
                                                "reported_kap_gym2": None})

        for ev in self.events:
            d = entry(ev.plane)
            d["kerma_rp_gy"] += ev.kerma_rp_gy or 0.0  # type: ignore[operator]
            d["kap_gym2"] += ev.kap_gym2 or 0.0  # type: ignore[operator]
            d["n_events"] += 1  # type: ignore[operator]
        for acc in self.accumulated:
            d = entry(acc.plane)
            for key, val in (("reported_kerma_rp_gy", acc.kerma_rp_total_gy),
                             ("reported_kap_gym2", acc.kap_total_gym2)):
                if val is not None:
                    d[key] = (d[key] or 0.0) + val  # type: ignore[operator]
        return out
    # --- dicom_out (issue 15): identity attributes of the file header, verbatim, as
    # (DICOM keyword, value) pairs (patient name, birth date, accession number, ...), used to
    # write results back into DICOM; kept out of to_dict() so that JSON stays free of names.
    header: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    def header_value(self, keyword: str) -> str:
        """A header identity attribute by DICOM keyword ("" when absent); see ``header``."""
        for key, value in self.header:
            if key == keyword:
                return value
        return ""
    # --- end dicom_out

    @property
    def n_events(self) -> int:
        """Number of irradiation events in the file."""
        return len(self.events)

    def private_value(self, name: str) -> float | None:
        """A private accumulated-level value by name, or None."""
        for key, value in self.private:
            if key == name:
                return value
        return None

    def summary_dict(self) -> dict:
        """What a result and its report show of this procedure (JSON-safe): source, device,
        patient, study and, per event, the RDSR facts next to its skin dose."""
        return {"source": self.source, "device": self.device.to_dict(),
                "patient": self.patient.to_dict(), "study": self.study.to_dict(),
                "n_events": self.n_events, "events": [_event_summary(e) for e in self.events]}

    def event_sum(self, attribute: str, plane: Plane | None = None) -> float:
        """Sum of an event attribute over all events (optionally of one plane); None counts 0."""
        total = 0.0
        for ev in self.events:
            if plane is not None and ev.plane is not plane:
                continue
            v = getattr(ev, attribute)
            if v is not None:
                total += v
        return total

    def to_dict(self) -> dict:
        """JSON-safe dictionary of the whole procedure."""
        return {
            "source": self.source,
            "sop_class_uid": self.sop_class_uid,
            "device": self.device.to_dict(),
            "patient": self.patient.to_dict(),
            "study": self.study.to_dict(),
            "reference_point": _jsonable(self.reference_point),
            "mechanical_data_available": self.mechanical_data_available,
            "private": {k: v for k, v in self.private},
            "accumulated": [a.to_dict() for a in self.accumulated],
            "events": [e.to_dict() for e in self.events],
            "sop_instance_uid": self.sop_instance_uid,
            "notes": [n.to_dict() for n in self.notes],
        }


_EVENT_SUMMARY_FIELDS = (
    "index", "uid", "started", "event_type", "plane", "protocol", "target_region", "kvp",
    "cu_mm", "al_mm", "primary_angle_deg", "secondary_angle_deg", "primary_end_angle_deg",
    "secondary_end_angle_deg", "sod_mm", "sid_mm", "srp_mm", "table_longitudinal_mm",
    "table_lateral_mm", "table_height_mm", "kerma_rp_gy", "kap_gym2", "patient_orientation",
)


def _same(v: object) -> object:
    return v


#: JSON-safe conversion of the plain types most summary fields hold, by exact type (the
#: general ``jsonable`` walks a chain of isinstance tests: 1.5 ms per 24-event procedure)
_PLAIN = {type(None): _same, str: _same, bool: _same, int: _same, float: finite_or_none}


def _event_summary(ev: IrradiationEvent) -> dict:
    out: dict = {}
    for k in _EVENT_SUMMARY_FIELDS:
        v = getattr(ev, k, None)
        f = _PLAIN.get(type(v))
        out[k] = f(v) if f is not None else _jsonable(v)
    out["cu_mm"], out["al_mm"] = ev.cu_mm, ev.al_mm
    fld = ev.field_at_detector_mm
    out["field_at_detector_mm"] = None if fld is None else [float(fld[0]), float(fld[1])]
    out["assumed"] = sorted(ev.assumed)
    out["unusable"] = ev.unusable
    return out
