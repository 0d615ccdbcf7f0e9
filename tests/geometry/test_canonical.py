"""Canonical beams (docs/architecture.md §6) and orientation equivalence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skindose.geometry import beams_for, patient_axes_in_equipment
from skindose.geometry.frames import equipment_angles_from_direction
from skindose.rdsr.model import PatientOrientation as PO
from skindose.settings import Settings
from skindose.vendors import load_profiles, profile_from_dict

from .helpers import event, procedure
from .standin import first_hit

PROFILE = Settings(placement="profile")
TARGET = Settings(placement="target")


def _w(a_deg, b_deg):
    a, b = math.radians(a_deg), math.radians(b_deg)
    return np.array([math.sin(a) * math.cos(b), -math.cos(a) * math.cos(b), math.sin(b)])


@pytest.mark.parametrize(
    ("name", "a", "b", "expected"),
    [
        ("PA 0/0", 0, 0, (0, -1, 0)),
        ("LAO 90", 90, 0, (1, 0, 0)),
        ("RAO 90", -90, 0, (-1, 0, 0)),
        ("CRA 30", 0, 30, (0, -math.cos(math.pi / 6), 0.5)),
        ("CAU 30", 0, -30, (0, -math.cos(math.pi / 6), -0.5)),
        ("LAO 45/CRA 20", 45, 20, tuple(_w(45, 20))),
    ],
)
def test_canonical_beam_directions(phantom, name, a, b, expected):
    bs = beams_for(procedure([event(a, b)]), phantom, PROFILE)
    assert bs.n_beams == 1
    np.testing.assert_allclose(bs.w[0], expected, atol=1e-12)
    np.testing.assert_allclose(bs.source[0], bs.isocenter[0] - 785.0 * bs.w[0], atol=1e-9)
    np.testing.assert_allclose(np.cross(bs.u[0], bs.v[0]), bs.w[0], atol=1e-12)


def test_pa_axes_and_entrance_on_the_back(phantom):
    bs = beams_for(procedure([event(0, 0)]), phantom, TARGET)
    np.testing.assert_allclose(bs.u[0], [1, 0, 0], atol=1e-12)  # field width along patient left
    np.testing.assert_allclose(bs.v[0], [0, 0, 1], atol=1e-12)  # field height along the head
    assert bs.source[0][1] > 0  # tube under the table, behind the back
    hit, face = first_hit(phantom, bs.source[0], bs.w[0])
    assert hit is not None and phantom.normals[face][1] > 0.9  # enters the posterior skin


@pytest.mark.parametrize(("a", "side"), [(90, -1), (-90, 1)])
def test_lao_rao_enter_on_the_opposite_side(phantom, a, side):
    # LAO 90: detector at the patient's left, so the beam enters on the right (x < 0)
    bs = beams_for(procedure([event(a, 0)]), phantom, TARGET)
    hit, face = first_hit(phantom, bs.source[0], bs.w[0])
    assert hit is not None and np.sign(phantom.normals[face][0]) == side


def test_cranial_source_toward_the_feet(phantom):
    bs = beams_for(procedure([event(0, 30)]), phantom, TARGET)
    assert bs.source[0][2] < bs.isocenter[0][2]  # CRA: detector toward the head, tube to the feet


ORIENTS = [PO.HFS, PO.FFS, PO.HFP, PO.FFP, PO.HFDR, PO.HFDL, PO.FFDR, PO.FFDL]
PROJECTIONS = [(0, 0), (90, 0), (-90, 0), (0, 30), (0, -30), (45, 20), (-30, -25)]


@pytest.mark.parametrize("orient", ORIENTS)
@pytest.mark.parametrize(("a", "b"), PROJECTIONS)
def test_patient_based_angles_same_skin_region(phantom, orient, a, b):
    ref = beams_for(procedure([event(a, b)], orientation=PO.HFS), phantom, TARGET)
    bs = beams_for(procedure([event(a, b)], orientation=orient), phantom, TARGET)
    np.testing.assert_allclose(bs.w[0], ref.w[0], atol=1e-9)
    np.testing.assert_allclose(bs.isocenter[0], ref.isocenter[0], atol=1e-9)
    h_ref, _ = first_hit(phantom, ref.source[0], ref.w[0])
    h, _ = first_hit(phantom, bs.source[0], bs.w[0])
    np.testing.assert_allclose(h, h_ref, atol=1e-6)
    # the field spans the same pyramid (u, v may flip with the detector's room axes)
    assert abs(abs(bs.u[0] @ ref.u[0]) - 1) < 1e-9 or abs(abs(bs.u[0] @ ref.v[0]) - 1) < 1e-9


@pytest.mark.parametrize("orient", ORIENTS)
@pytest.mark.parametrize(("a", "b"), PROJECTIONS)
def test_equipment_based_angles_same_physical_projection(phantom, orient, a, b):
    """The C-arm angles that realise a patient projection give the same beam in P."""
    raw = load_profiles()["siemens_axiom_artis"].to_dict()
    equipment = profile_from_dict(
        {"name": "eq", "angles": {"basis": "equipment"},
         "table": {"head_foot": "table_lateral_mm", "lateral": "table_longitudinal_mm",
                   "vertical": "table_height_mm", "vertical_sign": -1,
                   "transmission": raw["table_transmission"]}}
    )
    w_e = patient_axes_in_equipment(orient) @ _w(a, b)
    alpha, beta = (math.degrees(x) for x in equipment_angles_from_direction(w_e))
    ref = beams_for(procedure([event(a, b)], orientation=PO.HFS), phantom, TARGET)
    bs = beams_for(procedure([event(alpha, beta)], orientation=orient), phantom, TARGET,
                   profile=equipment)
    np.testing.assert_allclose(bs.w[0], ref.w[0], atol=1e-9)
    h_ref, _ = first_hit(phantom, ref.source[0], ref.w[0])
    h, _ = first_hit(phantom, bs.source[0], bs.w[0])
    np.testing.assert_allclose(h, h_ref, atol=1e-6)


def test_equipment_angles_for_ffs_flip_sign(phantom):
    # FFS: the room's LAO 30 / CRA 20 is the patient's RAO 30 / CAU 20
    equipment = profile_from_dict({"name": "eq", "angles": {"basis": "equipment"}})
    bs = beams_for(procedure([event(30, 20)], orientation=PO.FFS), phantom, PROFILE,
                   profile=equipment)
    np.testing.assert_allclose(bs.w[0], _w(-30, -20), atol=1e-12)


@pytest.mark.parametrize(("orient", "dz"), [(PO.HFS, -1), (PO.FFS, 1), (PO.HFP, -1), (PO.FFP, 1)])
def test_table_toward_gantry_moves_isocenter(phantom, orient, dz):
    # head-foot (113752) +100 mm moves the table toward the gantry: for a head-first patient the
    # isocenter moves toward the feet, for a feet-first patient toward the head
    p = procedure([event(table_lateral_mm=0.0), event(index=1, table_lateral_mm=100.0)],
                  orientation=orient)
    bs = beams_for(p, phantom, PROFILE)
    np.testing.assert_allclose(bs.isocenter[1] - bs.isocenter[0], [0, 0, 100 * dz], atol=1e-9)


def test_table_lateral_and_height(phantom):
    p = procedure([event(), event(index=1, table_longitudinal_mm=50.0, table_height_mm=200.0)])
    bs = beams_for(p, phantom, PROFILE)
    # table toward the patient's left -> isocenter toward the right; table down -> iso anterior
    np.testing.assert_allclose(bs.isocenter[1] - bs.isocenter[0], [-50, -50, 0], atol=1e-9)


def test_profile_placement_supine_isocenter_height(phantom):
    # Siemens height 150 mm: table-top 150 mm below the isocenter, mattress 40 mm on it, so the
    # isocenter is 110 mm anterior of the back; head top at the table reference (z = 0)
    bs = beams_for(procedure([event()]), phantom, PROFILE)
    np.testing.assert_allclose(bs.isocenter[0], [0, -110, 0], atol=1e-9)
    np.testing.assert_allclose(bs.equipment_to_patient[0][:3, 3], bs.isocenter[0])


def test_head_tilt_gives_cranial_component(phantom):
    bs = beams_for(procedure([event(0, 0, table_head_tilt_deg=10.0)]), phantom, PROFILE)
    np.testing.assert_allclose(bs.w[0], [0, -math.cos(math.radians(10)),
                                         math.sin(math.radians(10))], atol=1e-12)


def test_cradle_tilt_raises_patient_left(phantom):
    bs = beams_for(procedure([event(0, 0, table_cradle_tilt_deg=10.0)]), phantom, PROFILE)
    # patient's left side up: a vertical beam gains a component toward the patient's left
    assert bs.w[0][0] > 0.1


@pytest.mark.parametrize("orient", [PO.HFS, PO.FFS])
def test_slab_supine_under_the_back(phantom, orient):
    bs = beams_for(procedure([event()], orientation=orient), phantom, TARGET)
    np.testing.assert_allclose(bs.slab_axes[2], [0, -1, 0], atol=1e-12)  # normal toward patient
    # mattress from y=0 to y=40, table from 40 to 90
    np.testing.assert_allclose(bs.slab_center[1], 45.0)
    np.testing.assert_allclose(bs.slab_half[2], 45.0)
    assert np.allclose(np.abs(np.linalg.det(bs.slab_axes)), 1)


@pytest.mark.parametrize("orient", [PO.HFP, PO.FFP])
def test_slab_prone_under_the_front(phantom, orient):
    bs = beams_for(procedure([event()], orientation=orient), phantom, TARGET)
    ymin = phantom.bounds[0][1]
    np.testing.assert_allclose(bs.slab_axes[2], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(bs.slab_center[1], ymin - 45.0)


def test_slab_decubitus_under_the_side(phantom):
    bs = beams_for(procedure([event()], orientation=PO.HFDR), phantom, TARGET)
    xmin = phantom.bounds[0][0]  # lying on the right side
    np.testing.assert_allclose(bs.slab_axes[2], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(bs.slab_center[0], xmin - 45.0)
