"""Frames and beams in the patient frame (docs/architecture.md §6).

:func:`beams_for` turns a parsed :class:`~skindose.rdsr.model.Procedure` into a
:class:`BeamSet` (source, field axes and half-tangents, reference-point distances, the table
slab) in the phantom's patient frame, using a vendor profile (:mod:`skindose.vendors`) and the
placement settings. The frame conventions are documented in :mod:`skindose.geometry.frames`,
the beam and placement conventions in :mod:`skindose.geometry.beams`.
"""

from __future__ import annotations

from skindose.geometry.beams import FIELD_SOURCES, BeamSet, beams_for, geometry_poor
from skindose.geometry.frames import (
    beam_axes_equipment,
    carm_rotation,
    equipment_angles_from_direction,
    invert_rigid,
    patient_axes_in_equipment,
    patient_to_equipment,
    rigid,
    rot_x,
    rot_y,
    rot_z,
    table_rotation,
    wrap_angles,
)
from skindose.geometry.placement import (
    beams_hitting,
    kap_fraction_hitting,
    points_inside,
    target_landmark,
)

__all__ = [
    "FIELD_SOURCES",
    "BeamSet",
    "beam_axes_equipment",
    "beams_for",
    "beams_hitting",
    "carm_rotation",
    "equipment_angles_from_direction",
    "geometry_poor",
    "invert_rigid",
    "kap_fraction_hitting",
    "patient_axes_in_equipment",
    "patient_to_equipment",
    "points_inside",
    "rigid",
    "rot_x",
    "rot_y",
    "rot_z",
    "table_rotation",
    "target_landmark",
    "wrap_angles",
]
