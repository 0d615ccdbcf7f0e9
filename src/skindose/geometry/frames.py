"""Frames, rotations and rigid transforms (docs/architecture.md §6).

Frames
------
Equipment frame **E** (room-fixed, mm): origin at the isocenter; +x toward the patient's left
for a head-first supine patient (i.e. toward the left of a viewer standing at the foot end and
looking at the gantry), +y toward the head end of the table (the gantry side), +z up.

Table-top frame **T** (moves with the table): same axes as E when the table is level and not
rotated; origin at the table reference point on the table-top surface, which coincides with the
isocenter when the table reads its origin (after the vendor profile's axis map).

Patient frame **P** (the kernel's world, DICOM patient coordinates, mm): +x patient left,
+y posterior, +z head; origin on the midline at the back surface at the top of the head.

Transforms are (4, 4) float64 arrays named ``a_to_b``: ``x_b = a_to_b @ x_a`` for homogeneous
column vectors. Rotation matrices are (3, 3) float64 and act on column vectors. Angles are in
radians in this module; the boundary (:mod:`skindose.geometry.beams`) converts from degrees.

C-arm convention
----------------
For equipment-frame angles alpha (primary, rotation about the table's long axis, + toward the
patient's left for HFS) and beta (secondary, + toward the head end), the beam axes in E are the
columns of ``carm_rotation(alpha, beta) = Ry(alpha) @ Rx(-beta)`` applied to the 0/0 axes
u = +x, v = +y, w = +z (source under the table, beam going up). Hence

    w_E = (sin a cos b, sin b, cos a cos b),

which for a head-first supine patient is exactly the beam of docs/architecture.md §6,
w_P = (sin a cos b, -cos a cos b, sin b).

>>> import numpy as np
>>> r = patient_axes_in_equipment("HFS")
>>> np.allclose(r.T @ carm_rotation(0.0, 0.0)[:, 2], [0, -1, 0])   # PA beam
True
"""

from __future__ import annotations

import functools
import math

import numpy as np

from skindose.errors import GeometryError
from skindose.rdsr.model import PatientOrientation, wrap_angles

__all__ = [
    "beam_axes_equipment",
    "carm_rotation",
    "equipment_angles_from_direction",
    "invert_rigid",
    "patient_axes_in_equipment",
    "patient_to_equipment",
    "rigid",
    "rot_x",
    "rot_y",
    "rot_z",
    "table_rotation",
    "wrap_angles",
]

# Patient axes (x = left, z = head) expressed in E for each orientation; y = z × x.
_AXES: dict[PatientOrientation, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    PatientOrientation.HFS: ((1, 0, 0), (0, 1, 0)),
    PatientOrientation.HFP: ((-1, 0, 0), (0, 1, 0)),
    PatientOrientation.FFS: ((-1, 0, 0), (0, -1, 0)),
    PatientOrientation.FFP: ((1, 0, 0), (0, -1, 0)),
    # decubitus right: lying on the right side, so the patient's left points up
    PatientOrientation.HFDR: ((0, 0, 1), (0, 1, 0)),
    PatientOrientation.HFDL: ((0, 0, -1), (0, 1, 0)),
    PatientOrientation.FFDR: ((0, 0, 1), (0, -1, 0)),
    PatientOrientation.FFDL: ((0, 0, -1), (0, -1, 0)),
}


def rot_x(theta: float) -> np.ndarray:
    """Right-handed rotation by ``theta`` (rad) about +x, (3, 3) float64."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(theta: float) -> np.ndarray:
    """Right-handed rotation by ``theta`` (rad) about +y, (3, 3) float64."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(theta: float) -> np.ndarray:
    """Right-handed rotation by ``theta`` (rad) about +z, (3, 3) float64."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rigid(rotation: np.ndarray, translation: np.ndarray | None = None) -> np.ndarray:
    """(4, 4) transform ``x -> rotation @ x + translation``."""
    m = np.eye(4)
    m[:3, :3] = rotation
    if translation is not None:
        m[:3, 3] = translation
    return m


def invert_rigid(m: np.ndarray) -> np.ndarray:
    """Inverse of a rigid (4, 4) transform."""
    r = m[:3, :3]
    out = np.eye(4)
    out[:3, :3] = r.T
    out[:3, 3] = -r.T @ m[:3, 3]
    return out


def patient_axes_in_equipment(orientation: PatientOrientation | str) -> np.ndarray:
    """Rotation whose columns are the patient axes (left, posterior, head) in E.

    Parameters
    ----------
    orientation
        HFS, FFS, HFP, FFP, HFDR, HFDL, FFDR or FFDL (table level, not rotated).

    Returns
    -------
    (3, 3) float64
        ``R`` with ``v_E = R @ v_P`` for directions.
    """
    try:
        o = PatientOrientation(orientation)
    except ValueError:
        raise GeometryError(f"unknown patient orientation {orientation!r}") from None
    return _patient_axes(o).copy()


@functools.cache
def _patient_axes(o: PatientOrientation) -> np.ndarray:
    # eight constant matrices, called once per event by beams_for: build each once
    x, z = (np.array(a, dtype=float) for a in _AXES[o])
    y = np.cross(z, x)
    m = np.column_stack([x, y, z])
    m.setflags(write=False)
    return m


def table_rotation(head_tilt: float, cradle_tilt: float, horizontal_rotation: float) -> np.ndarray:
    """Rotation of the table top in E (radians).

    Head tilt: about the E x axis, positive raises the head end (+y) of the table.
    Cradle tilt: about the table's long axis, positive raises the side at E +x (the patient's
    left for HFS). Horizontal rotation: about the vertical axis, positive counter-clockwise seen
    from above (the DICOM direction convention is unverified; see docs/rdsr.md §2.2).
    The order is horizontal rotation, then head tilt, then cradle tilt (in the table's own frame).
    """
    # cradle: raising +x side means rotating about +y by a negative angle (x -> -z)
    return rot_z(horizontal_rotation) @ rot_x(head_tilt) @ rot_y(-cradle_tilt)


def carm_rotation(alpha: float, beta: float) -> np.ndarray:
    """C-arm rotation in E for equipment angles (rad); columns are u, v, w of the beam.

    ``Ry(alpha) @ Rx(-beta)``: the secondary (cranial/caudal) rotation is applied in the
    C-arm's own frame, then the primary rotation about the table's long axis.
    """
    return rot_y(alpha) @ rot_x(-beta)


def beam_axes_equipment(alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beam axes (u, v, w) in E for equipment angles (rad), each (3,) float64."""
    r = carm_rotation(alpha, beta)
    return r[:, 0], r[:, 1], r[:, 2]


def equipment_angles_from_direction(w_e: np.ndarray) -> tuple[float, float]:
    """Equipment angles (alpha, beta) in rad whose central axis is ``w_e`` (unit, in E)."""
    w = np.asarray(w_e, dtype=float)
    beta = math.asin(max(-1.0, min(1.0, float(w[1]))))
    if abs(math.cos(beta)) < 1e-12:
        return 0.0, beta
    return math.atan2(float(w[0]), float(w[2])), beta


def patient_to_equipment(
    a: float, b: float, orientation: PatientOrientation | str
) -> tuple[float, float]:
    """Equipment angles (rad) that realise patient-based angles (a, b) for an orientation.

    Patient-based angles (DICOM PS3.3 C.8.7.5) give the beam as
    w_P = (sin a cos b, -cos a cos b, sin b) whatever the patient's position; this returns the
    C-arm angles in E that produce that beam for the patient lying as ``orientation``.
    """
    w_p = np.array([math.sin(a) * math.cos(b), -math.cos(a) * math.cos(b), math.sin(b)])
    return equipment_angles_from_direction(patient_axes_in_equipment(orientation) @ w_p)
