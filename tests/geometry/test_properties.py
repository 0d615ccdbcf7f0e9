"""Property tests: orthonormal axes, field corners, reference point, rotational splitting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skindose.errors import GeometryError
from skindose.geometry import beams_for, invert_rigid, patient_to_equipment, rigid, rot_z
from skindose.rdsr.model import EventType, Plane
from skindose.rdsr.model import PatientOrientation as PO
from skindose.settings import Settings

from .helpers import event, procedure

angles = st.floats(-180, 180)
sec = st.floats(-89.5, 89.5)
tilt = st.floats(-20, 20)
orients = st.sampled_from(list(PO))
sizes = st.floats(10, 400)


@settings(max_examples=60, deadline=None)
@given(a=angles, b=sec, o=orients, ht=tilt, ct=tilt, hr=tilt, w=sizes, h=sizes,
       sid=st.floats(900, 1300), sod=st.floats(600, 850))
def test_axes_field_and_reference_point(phantom, a, b, o, ht, ct, hr, w, h, sid, sod):
    ev = event(a, b, field_width_mm=w, field_height_mm=h, sid_mm=sid, sod_mm=sod,
               srp_mm=sod - 150.0, table_head_tilt_deg=ht, table_cradle_tilt_deg=ct,
               table_horizontal_rotation_deg=hr)
    bs = beams_for(procedure([ev], orientation=o), phantom, Settings(placement="profile"))
    u, v, wv = bs.u[0], bs.v[0], bs.w[0]
    for x in (u, v, wv):
        assert abs(np.linalg.norm(x) - 1) < 1e-12
    assert abs(u @ v) < 1e-12 and abs(u @ wv) < 1e-12 and abs(v @ wv) < 1e-12
    np.testing.assert_allclose(np.cross(u, v), wv, atol=1e-12)
    c = bs.detector_corners(sid)[0]
    assert math.isclose(np.linalg.norm(c[0] - c[1]), w, rel_tol=1e-9)
    assert math.isclose(np.linalg.norm(c[1] - c[2]), h, rel_tol=1e-9)
    rp = bs.reference_point[0]
    assert math.isclose(np.linalg.norm(rp - bs.source[0]), sod - 150.0, rel_tol=1e-12)
    np.testing.assert_allclose(np.cross(rp - bs.source[0], wv), 0, atol=1e-8)  # on the axis
    np.testing.assert_allclose(bs.isocenter[0] - bs.source[0], sod * wv, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(a=angles, b=sec, o=orients)
def test_patient_angles_roundtrip(a, b, o):
    alpha, beta = patient_to_equipment(math.radians(a), math.radians(b), o)
    from skindose.geometry import beam_axes_equipment, patient_axes_in_equipment

    w_p = patient_axes_in_equipment(o).T @ beam_axes_equipment(alpha, beta)[2]
    ar, br = math.radians(a), math.radians(b)
    np.testing.assert_allclose(
        w_p, [math.sin(ar) * math.cos(br), -math.cos(ar) * math.cos(br), math.sin(br)],
        atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(t=st.lists(st.floats(-500, 500), min_size=3, max_size=3), th=st.floats(-3.2, 3.2))
def test_rigid_roundtrip(t, th):
    m = rigid(rot_z(th), np.array(t))
    np.testing.assert_allclose(invert_rigid(m) @ m, np.eye(4), atol=1e-9)


def test_shutter_field_reproduces_field_at_detector(phantom):
    ev = event(field_width_mm=None, field_height_mm=None, shutters_mm=(40.0, 60.0, 30.0, 20.0),
               sid_mm=1100.0)
    bs = beams_for(procedure([ev]), phantom)
    assert bs.field_source == ("shutters",)
    c = bs.detector_corners(1100.0)[0]
    w, h = ev.field_at_detector_mm
    assert math.isclose(np.linalg.norm(c[0] - c[1]), w)
    assert math.isclose(np.linalg.norm(c[1] - c[2]), h)


def test_area_field(phantom):
    ev = event(field_width_mm=None, field_height_mm=None, field_area_m2=0.04)
    bs = beams_for(procedure([ev]), phantom)
    assert bs.field_source == ("field area",)
    assert math.isclose(bs.tan_u[0], 100.0 / 1200.0)


def test_kap_kerma_field_at_reference_point(phantom):
    ev = event(field_width_mm=None, field_height_mm=None, kap_gym2=2e-4, kerma_rp_gy=0.02)
    bs = beams_for(procedure([ev]), phantom)
    assert bs.field_source == ("kap/kerma",)
    side_u, side_v = 2 * bs.tan_u[0] * bs.srp_mm[0], 2 * bs.tan_v[0] * bs.srp_mm[0]
    assert math.isclose(side_u * side_v * 1e-6, 2e-4 / 0.02, rel_tol=1e-12)  # m²


def test_detector_size_last_resort(phantom):
    ev = event(field_width_mm=None, field_height_mm=None, kap_gym2=None)
    bs = beams_for(procedure([ev]), phantom)
    assert bs.field_source == ("detector size",)
    assert any("detector was assumed" in w for w in bs.warnings)


@pytest.mark.parametrize("step", [1.0, 0.5, 2.5])
def test_rotational_split(phantom, step):
    ev = event(-100.0, 0.0, event_type=EventType.ROTATIONAL, primary_end_angle_deg=100.0,
               secondary_end_angle_deg=10.0)
    bs = beams_for(procedure([ev, event(index=1)]), phantom,
                   Settings(rotational_step_deg=step, placement="profile"))
    rot = bs.event_index == 0
    n = int(rot.sum())
    assert n == math.ceil(math.hypot(200, 10) / step)
    np.testing.assert_allclose(bs.weight[rot].sum(), 1.0)
    np.testing.assert_allclose(bs.weight[~rot], 1.0)
    ws = bs.w[rot]
    steps = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", ws[1:], ws[:-1]), -1, 1)))
    assert steps.max() <= step + 1e-9
    assert np.all(bs.isocenter[rot] == bs.isocenter[rot][0])


def test_biplane_events_keep_their_angles(phantom):
    a = event(0.0, 0.0, plane=Plane.A)
    b = event(90.0, 0.0, index=1, plane=Plane.B)
    bs = beams_for(procedure([a, b]), phantom)
    np.testing.assert_allclose(bs.w[0], [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(bs.w[1], [1, 0, 0], atol=1e-12)


def test_skipped_events_are_reported(phantom):
    evs = [event(), event(index=1, primary_angle_deg=None),
           event(index=2, unusable="zero geometry")]
    bs = beams_for(procedure(evs), phantom)
    assert bs.n_beams == 1
    assert dict(bs.skipped) == {1: "no positioner angles", 2: "unusable: zero geometry"}
    assert sum("not placed" in w for w in bs.warnings) == 2


def test_arrays_are_read_only(phantom):
    bs = beams_for(procedure([event()]), phantom)
    with pytest.raises(ValueError, match="read-only"):
        bs.source[0, 0] = 1.0
    assert bs.event_index.dtype == np.int64


def test_out_of_range_secondary_angle_normalised(phantom):
    bs = beams_for(procedure([event(0.0, 183.0)]), phantom)  # Eurocolumbus
    w = bs.w[0]
    np.testing.assert_allclose(w, [0, math.cos(math.radians(3)), -math.sin(math.radians(3))],
                               atol=1e-12)
    assert any("normalised" in x for x in bs.warnings)


def test_missing_table_filled_and_warned(phantom):
    evs = [event(), event(index=1, table_height_mm=None)]
    bs = beams_for(procedure(evs), phantom, Settings(placement="profile"))
    np.testing.assert_allclose(bs.isocenter[0], bs.isocenter[1])
    assert any("vertical position missing" in w for w in bs.warnings)


def test_invalid_beamset_rejected(phantom):
    bs = beams_for(procedure([event()]), phantom)
    from dataclasses import replace

    with pytest.raises(GeometryError):
        replace(bs, tan_u=np.array([0.0]))
