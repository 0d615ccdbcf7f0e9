"""Beams in the patient frame from a parsed procedure: :func:`beams_for` and :class:`BeamSet`.

Conventions (docs/architecture.md §6; frames in :mod:`skindose.geometry.frames`)
--------------------------------------------------------------------
* **Angles.** With a ``basis = "patient"`` profile (the DICOM definition, every shipped
  fixed C-arm profile) the reported primary/secondary angles already describe the beam relative
  to the patient: w_P = (sin a cos b, -cos a cos b, sin b) for every orientation (LAO is LAO also
  for a feet-first or prone patient). They are converted to C-arm angles in the room with the
  patient orientation, so that the field axes u, v follow the real detector. With
  ``basis = "equipment"`` the angles are the C-arm's own rotation in the room (LAO meaning the
  patient's left only for HFS), and the orientation maps the room beam into the patient.
  Either way the same physical projection lands on the same skin region. Table tilts and
  rotation are applied after that: they rotate the patient relative to the room.
* **Beam axes.** w is the central axis (source to detector), u the field-width direction,
  v the field-height direction, (u, v, w) right-handed and orthonormal. For an HFS patient at
  0/0: w = -y (posterior to anterior), u = +x (patient left), v = +z (head).
* **Field.** ``tan_u = (width / 2) / SID`` and ``tan_v = (height / 2) / SID`` at the detector,
  in the fallback order collimated field width/height, Philips shutters at 1 m
  (``tan = (left + right) / 2 / 1000``), collimated field area (square), then KAP / K_RP at the
  reference point (square of side s, ``tan = (s / 2) / srp``), and last the detector size.
* **Rotational runs** are split into n = ceil(hypot(Δprimary, Δsecondary) / step) sub-beams at
  the centres of n equal sub-arcs between the start and end angles, each with weight 1/n; the
  angle between neighbouring sub-beams is then at most ``Settings.rotational_step_deg``.
* **Table → isocenter.** The profile maps the reported table fields to the table-top
  translation t in E (see :mod:`skindose.vendors`). A phantom point p (patient frame) is in the
  room at ``t + R_table R_orient (p + o)``, where ``o`` is the phantom origin relative to the
  table reference point in patient-frame components: the resting position (origin at the
  mattress top for a supine patient, lowest body point on the mattress otherwise, body centred
  across the table, head top at the table reference) plus the profile's (or Settings')
  ``placement_offset_mm``. The isocenter in P is the image of the room origin.
* **Placement.** ``"profile"`` uses the above. ``"target"`` then shifts every beam so that the
  KAP-weighted mean isocenter lands on the phantom landmark of the target region. ``"auto"``
  uses the profile placement only when the profile is validated and puts the isocenter inside
  the body for at least half the KAP, else the target placement. Every choice is recorded.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from skindose.errors import GeometryError
from skindose.geometry.frames import (
    beam_axes_equipment,
    invert_rigid,
    patient_axes_in_equipment,
    patient_to_equipment,
    rigid,
    table_rotation,
    wrap_angles,
)
from skindose.geometry.placement import points_inside, target_landmark
from skindose.notes import Note, NoteCode, Severity
from skindose.rdsr.model import FieldSource, PatientOrientation, source_to_reference_point_mm
from skindose.settings import Settings
from skindose.vendors import VendorProfile, profile_for

__all__ = ["FIELD_SOURCES", "BeamSet", "beams_for", "geometry_poor"]

#: Codes of :attr:`BeamSet.field_source`, in fallback order (the rdsr model owns the chain:
#: :meth:`~skindose.rdsr.model.IrradiationEvent.field_tangents`).
FIELD_SOURCES = tuple(f.value for f in FieldSource)

_K3 = ("source", "u", "v", "w", "isocenter")
_K1 = ("weight", "tan_u", "tan_v", "srp_mm", "sod_mm")


@dataclass(frozen=True, slots=True, kw_only=True)
class BeamSet:
    """Every placed (sub-)beam of a procedure, in the patient frame P (mm).

    One row per beam; ``k`` beams. Arrays are read-only.

    Parameters
    ----------
    event_index
        (k,) int64: index into ``procedure.events``.
    weight
        (k,) float64: fraction of the event's kerma carried by the beam (1, or 1/n for the n
        sub-beams of a rotational run).
    source, u, v, w
        (k, 3) float64: focal spot, field-width axis, field-height axis, central axis.
    tan_u, tan_v
        (k,) float64: field half-tangents along u and v.
    srp_mm, sod_mm
        (k,) float64: source to reference point and source to isocenter distances.
    isocenter
        (k, 3) float64.
    field_source
        (k,) tuple of str, one of :data:`FIELD_SOURCES`.
    slab_center, slab_axes, slab_half
        The table + mattress box: centre (3,), unit axes as rows (3, 3) (row 0 across the
        table, row 1 along it toward the table's head end, row 2 the slab normal pointing toward
        the patient), half extents (3,) along those axes.
    mattress_thickness_mm, table_thickness_mm
        The two layers of the slab (the mattress is the upper one).
    table_transmission
        Normal-incidence transmission T0 (float) or a measured table name, from Settings or the
        profile.
    equipment_to_patient
        (k, 4, 4) float64: the transform from E to P for each beam's event.
    skipped
        (event_index, reason) for each event that could not be placed.
    notes
        Typed notes (stage "geometry") of every choice and fallback.
    provenance, warnings
        Plain-words views of ``notes`` (info, and warning or worse).
    profile_name, placement, target_landmark
        The vendor profile, the placement used ("profile" or "target") and the landmark the
        target placement centred on (None for profile placement).
    """

    event_index: np.ndarray
    weight: np.ndarray
    source: np.ndarray
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    tan_u: np.ndarray
    tan_v: np.ndarray
    srp_mm: np.ndarray
    sod_mm: np.ndarray
    isocenter: np.ndarray
    field_source: tuple[str, ...]
    slab_center: np.ndarray
    slab_axes: np.ndarray
    slab_half: np.ndarray
    mattress_thickness_mm: float
    table_thickness_mm: float
    table_transmission: float | str
    equipment_to_patient: np.ndarray
    skipped: tuple[tuple[int, str], ...] = ()
    provenance: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()
    profile_name: str = ""
    placement: str = "profile"
    target_landmark: str | None = None

    def __post_init__(self) -> None:
        k = int(np.asarray(self.event_index).shape[0])
        conv = {"event_index": np.asarray(self.event_index, dtype=np.int64).reshape(k)}
        for name in _K3:
            conv[name] = np.asarray(getattr(self, name), dtype=float).reshape(k, 3)
        for name in _K1:
            conv[name] = np.asarray(getattr(self, name), dtype=float).reshape(k)
        conv["slab_center"] = np.asarray(self.slab_center, dtype=float).reshape(3)
        conv["slab_axes"] = np.asarray(self.slab_axes, dtype=float).reshape(3, 3)
        conv["slab_half"] = np.asarray(self.slab_half, dtype=float).reshape(3)
        conv["equipment_to_patient"] = np.asarray(
            self.equipment_to_patient, dtype=float
        ).reshape(k, 4, 4)
        if len(self.field_source) != k:
            raise GeometryError("field_source needs one entry per beam")
        for name, arr in conv.items():
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise GeometryError(f"BeamSet.{name} has non-finite values")
            arr = np.ascontiguousarray(arr)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if np.any(self.tan_u <= 0) or np.any(self.tan_v <= 0):
            raise GeometryError("field half-tangents must be positive")

    @property
    def n_beams(self) -> int:
        """Number of (sub-)beams."""
        return int(self.event_index.shape[0])

    def subset(self, keep: np.ndarray) -> BeamSet:
        """The beams where the boolean mask ``keep`` (k,) is True (slab and notes kept)."""
        ch: dict[str, Any] = {k: np.asarray(getattr(self, k))[keep] for k in _PER_BEAM}
        ch["field_source"] = tuple(f for f, k in zip(self.field_source, keep, strict=True) if k)
        return dataclasses.replace(self, **ch)

    @property
    def reference_point(self) -> np.ndarray:
        """(k, 3) float64: the reference point of each beam, ``source + srp_mm * w``."""
        return self.source + self.srp_mm[:, None] * self.w

    def detector_corners(self, sid_mm: np.ndarray | float) -> np.ndarray:
        """(k, 4, 3) float64 field corners in the plane at ``sid_mm`` from the source."""
        sid = np.broadcast_to(np.asarray(sid_mm, dtype=float), (self.n_beams,))
        out = np.empty((self.n_beams, 4, 3))
        for j, (su, sv) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):
            d = self.w + su * self.tan_u[:, None] * self.u + sv * self.tan_v[:, None] * self.v
            out[:, j] = self.source + sid[:, None] * d
        return out


# ----------------------------------------------------------------------------------------------
# helpers


#: Per-beam fields of :class:`BeamSet` (what :meth:`BeamSet.subset` selects).
_PER_BEAM = ("event_index", "weight", "source", "u", "v", "w", "tan_u", "tan_v", "srp_mm",
             "sod_mm", "isocenter", "equipment_to_patient")
_TABLE_FIELDS = ("table_longitudinal_mm", "table_lateral_mm", "table_height_mm")


def geometry_poor(procedure: Any, profile: VendorProfile) -> str | None:
    """Why a procedure cannot be mapped at all although its events have beam directions (no
    event reports any table position), or None. A map placed from nothing would be fake."""
    evs = [ev for ev in procedure.events if ev.has_geometry]
    if not profile.has_geometry or not evs:
        return None
    if any(getattr(ev, f) is not None for ev in evs for f in _TABLE_FIELDS):
        return None
    return "geometry-poor: no table position reported in the file"


def _orientation(procedure: Any, ev: Any) -> PatientOrientation:
    o = getattr(ev, "patient_orientation", None) or procedure.patient.orientation
    if o is None:
        return PatientOrientation.HFS
    return PatientOrientation(o)


def _table_value(ev: Any, field: str | None) -> float | None:
    return None if field is None else getattr(ev, field, None)


def _table_translation(
    ev: Any, profile: VendorProfile, height_of_system: float | None
) -> list[float | None]:
    lat = _table_value(ev, profile.lateral_field)
    hf = _table_value(ev, profile.head_foot_field)
    tx = None if lat is None else profile.lateral_sign * lat
    ty = None if hf is None else profile.head_foot_sign * hf
    vert = _table_value(ev, profile.vertical_field)
    if profile.vertical_reference == "unknown":
        tz: float | None = profile.fixed_table_top_mm
    elif vert is None:
        tz = None
    elif profile.vertical_reference == "isocenter":
        tz = profile.vertical_sign * vert + profile.vertical_offset_mm
    else:  # floor_minus_height_of_system
        tz = profile.vertical_sign * vert - (height_of_system or 0.0) + profile.vertical_offset_mm
    return [tx, ty, tz]


def _sub_angles(ev: Any, step: float) -> list[tuple[float, float]]:
    a0, b0 = float(ev.primary_angle_deg), float(ev.secondary_angle_deg)
    if not ev.is_rotational:
        return [(a0, b0)]
    a1 = float(ev.primary_end_angle_deg) if ev.primary_end_angle_deg is not None else a0
    b1 = float(ev.secondary_end_angle_deg) if ev.secondary_end_angle_deg is not None else b0
    span = math.hypot(a1 - a0, b1 - b0)  # bounds the angle between neighbouring beams
    n = max(1, math.ceil(span / step - 1e-9))
    return [(a0 + (a1 - a0) * (j + 0.5) / n, b0 + (b1 - b0) * (j + 0.5) / n) for j in range(n)]


def _weighted_fill(values: list[list[float | None]], weights: np.ndarray,
                   defaults: tuple[float, float, float]) -> tuple[np.ndarray, list[int]]:
    """Fill missing table components with the weighted mean of the present ones."""
    arr = np.array([[np.nan if x is None else x for x in row] for row in values], dtype=float)
    filled: list[int] = []
    for j in range(3):
        col = arr[:, j]
        miss = np.isnan(col)
        if miss.any():
            filled.append(j)
            if (~miss).any():
                wts = weights[~miss]
                fill = (
                    float(np.average(col[~miss], weights=wts))
                    if wts.sum() > 0
                    else float(col[~miss].mean())
                )
            else:
                fill = defaults[j]
            col[miss] = fill
    return arr, filled


def _slab(phantom: Any, r_pe: np.ndarray, mattress: float, table: float, width: float,
          length: float, lateral_shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = np.asarray(phantom.bounds, dtype=float)
    corners = np.array([[b[i, 0], b[j, 1], b[k, 2]] for i in (0, 1) for j in (0, 1)
                        for k in (0, 1)])
    lat, long_, up = r_pe[0], r_pe[1], r_pe[2]  # rows of R: the E axes in P
    support = float(np.max(corners @ -up))  # lowest body point, measured downward
    centre_box = 0.5 * (b[0] + b[1])
    c = (centre_box @ lat - lateral_shift) * lat + (centre_box @ long_) * long_
    c = c - (support + 0.5 * (mattress + table)) * up
    axes = np.vstack([lat, long_, up])
    half = np.array([0.5 * width, 0.5 * length, 0.5 * (mattress + table)])
    return c, axes, half


def _resting_offset(phantom: Any, r_pe: np.ndarray, mattress: float) -> np.ndarray:
    """Phantom origin relative to the table reference in P components (body on the mattress)."""
    b = np.asarray(phantom.bounds, dtype=float)
    corners = np.array([[b[i, 0], b[j, 1], b[k, 2]] for i in (0, 1) for j in (0, 1)
                        for k in (0, 1)])
    lat, up = r_pe[0], r_pe[2]
    support = float(np.max(corners @ -up))
    centre = 0.5 * (b[0] + b[1])
    return (mattress + support) * up - (centre @ lat) * lat


# ----------------------------------------------------------------------------------------------


class _Log:
    """Typed notes of one placement; ``append(text)`` files a note of the log's severity."""

    def __init__(self, sink: list[Note], severity: Severity):
        self.sink, self.severity = sink, severity

    def append(self, text: str, code: NoteCode = NoteCode.PLACEMENT,
               event_index: int | None = None) -> None:
        self.sink.append(Note(code=code, text=text, severity=self.severity,
                              event_index=event_index, stage="geometry"))


def beams_for(
    procedure: Any,
    phantom: Any,
    settings: Settings | None = None,
    profile: VendorProfile | None = None,
    *,
    profile_reason: str | None = None,
) -> BeamSet:
    """Place every irradiation event of ``procedure`` as beams in the phantom's patient frame.

    Parameters
    ----------
    procedure
        A parsed :class:`~skindose.rdsr.model.Procedure`.
    phantom
        The phantom (``bounds``, ``landmarks``, ``triangles``, ``centroids`` in P).
    settings
        Placement, table and rotational-step settings (default :class:`Settings`).
    profile
        The vendor profile; default :func:`skindose.vendors.profile_for` (the one owner of
        that choice; the computation passes the profile it chose).
    profile_reason
        Why the caller chose ``profile`` (for the provenance note).

    Returns
    -------
    BeamSet
        Every placed (sub-)beam; events that cannot be placed are listed in ``skipped``.

    Raises
    ------
    GeometryError
        When the phantom lacks what placement needs.
    """
    settings = settings or Settings()
    notes: list[Note] = []
    prov, warns = _Log(notes, Severity.INFO), _Log(notes, Severity.WARNING)
    if profile is None:
        profile, reason = profile_for(procedure, settings)
    else:
        reason = profile_reason or "profile given by the caller"
    prov.append(f"vendor profile {profile.name!r}: {reason}", code=NoteCode.VENDOR_PROFILE)
    prov.append(
        f"profile validated = {str(profile.validated).lower()}: {profile.validation_note}"
    )
    if profile.angle_basis == "patient":
        prov.append("positioner angles read as patient-based (DICOM definition)")
    else:
        prov.append("positioner angles read as equipment-based (C-arm rotation in the room)")
    if procedure.patient.orientation is None:
        orient_note = (
            "patient orientation not reported: assumed HFS (head first, supine)"
            if not any(getattr(e, "patient_orientation", None) for e in procedure.events)
            else "patient orientation taken from the events"
        )
        (warns if "assumed" in orient_note else prov).append(
            orient_note, code=NoteCode.ORIENTATION_DEFAULTED if "assumed" in orient_note
            else NoteCode.PLACEMENT)
    else:
        prov.append(
            f"patient orientation {procedure.patient.orientation.value} "
            f"({procedure.patient.orientation_source})"
        )

    mattress = settings.mattress_thickness_mm
    mattress = profile.mattress_thickness_mm if mattress is None else mattress
    table_t = settings.table_thickness_mm
    table_t = profile.table_thickness_mm if table_t is None else table_t
    width = settings.table_width_mm or profile.table_width_mm
    transmission: float | str = (
        settings.table_transmission
        if settings.table_transmission is not None
        else profile.table_transmission
    )
    if settings.placement_offset_mm is not None:
        offset = np.asarray(settings.placement_offset_mm, dtype=float)
        prov.append(f"placement offset {tuple(offset.tolist())} mm from Settings")
    else:
        offset = np.asarray(profile.placement_offset_mm, dtype=float)

    hos = procedure.private_value("height_of_system_mm")
    if profile.vertical_reference == "floor_minus_height_of_system":
        if hos is None:
            hos = profile.default_height_of_system_mm
            warns.append(
                f"height of system not in the file: assumed {hos} mm for the floor-referenced "
                "table height"
            )
        else:
            prov.append(f"table height is floor-referenced; height of system {hos} mm")

    skipped: list[tuple[int, str]] = []
    rows: list[dict[str, Any]] = []
    field_counts: dict[str, int] = {}
    srp_notes: dict[tuple[str, NoteCode], int] = {}
    table_raw: list[list[float | None]] = []
    ev_weight: list[float] = []
    if not profile.has_geometry:
        for i, _ev in enumerate(procedure.events):
            skipped.append((i, f"profile {profile.name!r} has no beam geometry (mobile C-arm)"))
    for i, ev in enumerate(procedure.events if profile.has_geometry else ()):
        if ev.unusable:
            skipped.append((i, f"unusable: {ev.unusable}"))
            continue
        if ev.primary_angle_deg is None or ev.secondary_angle_deg is None:
            skipped.append((i, "no positioner angles"))
            continue
        sod = ev.sod_mm if ev.sod_mm else None
        if sod is None:
            sod = procedure.private_value("focal_spot_to_isocenter_mm") or profile.default_sod_mm
            if sod is None:
                skipped.append((i, "no source to isocenter distance"))
                continue
            warns.append(f"source to isocenter distance {sod} mm assumed", event_index=i)
        sid = ev.sid_mm if ev.sid_mm else None
        srp, _, rule = source_to_reference_point_mm(
            dsrp_mm=ev.srp_mm, sod_mm=sod, sid_mm=sid,
            definitions=(ev.reference_point, procedure.reference_point),
            rules=(profile.reference_point,) if profile.reference_point is not None else ())
        if srp is None or srp <= 0:
            skipped.append((i, "reference point distance unknown"))
            continue
        if rule is not None:
            srp_note = ((f"profile rule ({profile.reference_point_kind} "
                         f"{profile.reference_point_distance_mm} mm)", NoteCode.SRP_DEFAULTED)
                        if rule is profile.reference_point
                        else (f"from the reference point definition {rule.text!r}",
                              NoteCode.PLACEMENT))
            srp_notes[srp_note] = srp_notes.get(srp_note, 0) + 1
        fld = ev.field_tangents(srp, profile.detector_size_mm)
        if fld is None:
            skipped.append((i, "no field size (no collimation, shutters, area, KAP/K_RP or SID)"))
            continue
        tan_u, tan_v, fsrc = fld.tan_u, fld.tan_v, fld.source
        field_counts[fsrc] = field_counts.get(fsrc, 0) + 1
        if fsrc is FieldSource.DETECTOR:
            warns.append("field size unknown, the full detector was assumed", event_index=i,
                         code=NoteCode.FIELD_SIZE_UNKNOWN)
        a = profile.primary_sign * float(ev.primary_angle_deg)
        b = profile.secondary_sign * float(ev.secondary_angle_deg)
        a, b, changed = wrap_angles(a, b)
        if changed:
            warns.append(
                f"positioner angles ({ev.primary_angle_deg}, {ev.secondary_angle_deg}) deg "
                f"normalised to ({a:.1f}, {b:.1f})", event_index=i, code=NoteCode.ANGLE_WRAPPED)
        if ev.event_type.value == "rotational acquisition" and not ev.is_rotational:
            warns.append("rotational run without end angles placed at its start angle",
                         event_index=i, code=NoteCode.ROTATION_NO_END_ANGLE)
        orient = _orientation(procedure, ev)
        subs = [
            wrap_angles(profile.primary_sign * sa, profile.secondary_sign * sb)[:2]
            for sa, sb in _sub_angles(ev, settings.rotational_step_deg)
        ]
        tilts = [
            math.radians(x or 0.0)
            for x in (
                ev.table_head_tilt_deg,
                ev.table_cradle_tilt_deg,
                ev.table_horizontal_rotation_deg,
            )
        ]
        table_raw.append(_table_translation(ev, profile, hos))
        ev_weight.append(float(ev.kap_gym2 or 0.0) or float(ev.kerma_rp_gy or 0.0))
        rows.append(dict(index=i, sod=sod, srp=srp, tan_u=tan_u, tan_v=tan_v, fsrc=fsrc,
                         orient=orient, subs=subs, tilts=tilts))

    for src, n in field_counts.items():
        prov.append(f"field size from {src.value}: {n} event(s)",
                    code=NoteCode.PLACEMENT if src is FieldSource.COLLIMATED
                    else NoteCode.FIELD_SIZE_FALLBACK)
    for note, n in srp_notes.items():
        prov.append(f"reference point distance {note[0]}: {n} event(s)", code=note[1])

    weights = np.asarray(ev_weight, dtype=float)
    if rows:
        table, filled = _weighted_fill(table_raw, weights, (0.0, 0.0, profile.fixed_table_top_mm))
        for j in filled:
            warns.append(
                f"table {('lateral', 'head-foot', 'vertical')[j]} position missing on some or "
                "all events: filled with the KAP-weighted mean of the others (or the profile "
                "default)"
            )
    else:
        table = np.zeros((0, 3))

    # ---- per-beam geometry with the profile placement
    ev_idx, wt, src_, uu, vv, ww, tu, tv, srp_a, sod_a, iso_a, fs, e2p = (
        [] for _ in range(13)
    )
    ev_iso: list[np.ndarray] = []
    pose: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # events share a handful of poses
    for row, t_e in zip(rows, table, strict=True):
        key = (row["orient"], *row["tilts"])
        if key not in pose:
            r_pe = patient_axes_in_equipment(row["orient"])
            pose[key] = (table_rotation(*row["tilts"]) @ r_pe,
                         _resting_offset(phantom, r_pe, mattress) + offset)
        r_eff, o_p = pose[key]
        p_to_e = rigid(r_eff, t_e + r_eff @ o_p)
        e_to_p = invert_rigid(p_to_e)
        iso = e_to_p[:3, 3].copy()
        ev_iso.append(iso)
        rot_p = e_to_p[:3, :3]
        n = len(row["subs"])
        for a_deg, b_deg in row["subs"]:
            a, b = math.radians(a_deg), math.radians(b_deg)
            if profile.angle_basis == "patient":
                a, b = patient_to_equipment(a, b, row["orient"])
            u_e, v_e, w_e = beam_axes_equipment(a, b)
            w_p = rot_p @ w_e
            ev_idx.append(row["index"])
            wt.append(1.0 / n)
            uu.append(rot_p @ u_e)
            vv.append(rot_p @ v_e)
            ww.append(w_p)
            src_.append(iso - row["sod"] * w_p)
            tu.append(row["tan_u"])
            tv.append(row["tan_v"])
            srp_a.append(row["srp"])
            sod_a.append(row["sod"])
            iso_a.append(iso)
            fs.append(row["fsrc"])
            e2p.append(e_to_p)

    # ---- placement
    mode = settings.placement
    landmark: str | None = None
    placement_used = "profile"
    if rows:
        wsum = weights if weights.sum() > 0 else np.ones(len(rows))
        isos = np.array(ev_iso)
        mean_iso = np.average(isos, axis=0, weights=wsum)
        use_target = mode == "target"
        if mode == "auto":
            inside = points_inside(phantom, isos)
            frac_in = float(wsum[inside].sum() / wsum.sum())
            if not profile.validated:
                use_target = True
                prov.append(
                    f"placement: profile {profile.name!r} is not validated, so the KAP-weighted "
                    "mean isocenter is centred on the target region"
                )
            elif frac_in < 0.5:
                use_target = True
                prov.append(
                    f"placement: the profile placement puts the isocenter inside the body for "
                    f"only {100 * frac_in:.0f}% of the KAP, so the target region is used"
                )
            else:
                prov.append(
                    f"placement: validated profile; isocenter inside the body for "
                    f"{100 * frac_in:.0f}% of the KAP"
                )
        elif mode == "profile":
            prov.append("placement: profile placement (Settings.placement = 'profile')")
            inside = points_inside(phantom, isos)
            frac_in = float(wsum[inside].sum() / wsum.sum())
            if frac_in < 0.5:
                warns.append(
                    f"profile placement puts the isocenter inside the body for only "
                    f"{100 * frac_in:.0f}% of the KAP"
                )
        else:
            prov.append("placement: target region (Settings.placement = 'target')")
        if use_target:
            placement_used = "target"
            regions = [(procedure.events[r["index"]].target_region, float(wt_))
                       for r, wt_ in zip(rows, wsum, strict=True)]
            texts = tuple(
                t for t in (
                    getattr(procedure.study, "description", ""),
                    *(procedure.events[r["index"]].protocol or "" for r in rows),
                ) if t
            )
            landmark, why = target_landmark(regions, texts)
            lms = getattr(phantom, "landmarks", {}) or {}
            if landmark not in lms:
                fallback = "trunk" if "trunk" in lms else None
                why += f"; the phantom has no {landmark!r} landmark"
                landmark = fallback
            if landmark is not None:
                goal = np.asarray(lms[landmark], dtype=float)
            else:
                b = np.asarray(phantom.bounds, dtype=float)
                goal = 0.5 * (b[0] + b[1])
                why += "; centred on the phantom's bounding box"
            shift = goal - mean_iso
            prov.append(
                f"target placement: {why}; beams shifted by "
                f"({shift[0]:.0f}, {shift[1]:.0f}, {shift[2]:.0f}) mm in the patient frame"
            )
            src_ = [s + shift for s in src_]
            iso_a = [s + shift for s in iso_a]
            tr = rigid(np.eye(3), shift)
            e2p = [tr @ m for m in e2p]
    lateral_shift = 0.0
    if placement_used == "profile" and rows:
        r0 = patient_axes_in_equipment(rows[0]["orient"])
        lateral_shift = float(offset @ r0[0])
    orient0 = rows[0]["orient"] if rows else (procedure.patient.orientation or "HFS")
    length = profile.table_length_mm
    slab_c, slab_ax, slab_h = _slab(
        phantom, patient_axes_in_equipment(orient0), mattress, table_t, width, length,
        lateral_shift,
    )
    prov.append(
        f"table slab: mattress {mattress} mm + table {table_t} mm, width {width} mm, "
        f"transmission {transmission}"
    )
    for i, why in skipped:
        warns.append(f"not placed: {why}", event_index=i, code=NoteCode.EVENT_NOT_PLACED)

    k = len(ev_idx)
    return BeamSet(
        event_index=np.asarray(ev_idx, dtype=np.int64),
        weight=np.asarray(wt, dtype=float),
        source=np.asarray(src_, dtype=float).reshape(k, 3),
        u=np.asarray(uu, dtype=float).reshape(k, 3),
        v=np.asarray(vv, dtype=float).reshape(k, 3),
        w=np.asarray(ww, dtype=float).reshape(k, 3),
        tan_u=np.asarray(tu, dtype=float),
        tan_v=np.asarray(tv, dtype=float),
        srp_mm=np.asarray(srp_a, dtype=float),
        sod_mm=np.asarray(sod_a, dtype=float),
        isocenter=np.asarray(iso_a, dtype=float).reshape(k, 3),
        field_source=tuple(fs),
        slab_center=slab_c,
        slab_axes=slab_ax,
        slab_half=slab_h,
        mattress_thickness_mm=float(mattress),
        table_thickness_mm=float(table_t),
        table_transmission=transmission,
        equipment_to_patient=np.asarray(e2p, dtype=float).reshape(k, 4, 4),
        skipped=tuple(skipped),
        provenance=tuple(str(n) for n in notes if n.severity is Severity.INFO),
        warnings=tuple(str(n) for n in notes if n.severity is not Severity.INFO),
        notes=tuple(notes),
        profile_name=profile.name,
        placement=placement_used,
        target_landmark=landmark,
    )
