"""compute(): acceptance tests (analytic, KAP invariant, occlusion, orientation, real files,
threads, accumulation, reference-point estimate) and the SkinDoseMap summary."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import threading

import numpy as np
import pytest

import skindose as sd
from skindose import phantoms
from skindose.compute import compute
from skindose.dosemap import SkinDoseMap
from skindose.errors import PatientMismatchError
from skindose.notes import NoteCode
from skindose.rdsr import read_rdsr
from skindose.rdsr.model import EventType, IrradiationEvent, Patient
from skindose.rdsr.model import PatientOrientation as PO
from skindose.rdsr.synthetic import example_procedure
from skindose.settings import Settings

from .conftest import real_rdsr_files

#: Every correction off; target placement puts the (single) isocenter on the landmark.
BARE = Settings(backscatter=False, medium=None, table_attenuation=False, placement="target")


def event(index: int = 0, a: float = 0.0, b: float = 0.0, **kw) -> IrradiationEvent:
    base = dict(
        index=index, uid=f"1.2.3.{index + 1}", event_type=EventType.FLUOROSCOPY,
        target_region="chest", kerma_rp_gy=0.01, kap_gym2=None, kvp=80.0,
        primary_angle_deg=a, secondary_angle_deg=b, sod_mm=785.0, sid_mm=1100.0,
        srp_mm=635.0, field_width_mm=183.3, field_height_mm=141.7,
        table_longitudinal_mm=0.0, table_lateral_mm=0.0, table_height_mm=0.0,
        patient_orientation=PO.HFS,
    )
    base.update(kw)
    if base["kap_gym2"] is None and base["kerma_rp_gy"] and base["field_width_mm"]:
        s = base["srp_mm"] / base["sid_mm"]
        area = base["field_width_mm"] * s * base["field_height_mm"] * s * 1e-6
        base["kap_gym2"] = base["kerma_rp_gy"] * area
    return IrradiationEvent(**base)


def procedure(events, orientation=PO.HFS, patient_id="P1", **patient):
    base = example_procedure(n_events=1, seed=0, orientation=orientation)
    pat = dataclasses.replace(base.patient, patient_id=patient_id, **patient)
    return dataclasses.replace(base, events=tuple(events), accumulated=(), patient=pat)


@pytest.fixture(scope="module")
def plane():
    return phantoms.plane(cell_area_cm2=1.0)


@pytest.fixture(scope="module")
def adult4():
    return phantoms.adult(cell_area_cm2=4.0)


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


# ---------------------------------------------------------------------------- analytic


@pytest.mark.parametrize(("a", "b"), [(0.0, 0.0), (0.0, 20.0)])
def test_analytic_single_beam_on_plane(plane, a, b):
    ev = event(a=a, b=b, kerma_rp_gy=0.0123)
    res = compute(procedure([ev]), plane, BARE)
    # docs/architecture.md §6, independently of compute: HFS, patient-based angles
    ar, br = math.radians(a), math.radians(b)
    w = np.array([math.sin(ar) * math.cos(br), -math.cos(ar) * math.cos(br), math.sin(br)])
    u = np.array([1.0, 0.0, 0.0])  # field width along the patient's left (a = 0)
    v = np.cross(w, u)  # (u, v, w) right-handed
    iso = plane.landmarks["chest"]  # target placement of a single event
    src = iso - ev.sod_mm * w
    d = plane.centroids - src
    dist = np.linalg.norm(d, axis=1)
    dw, du, dv = d @ w, d @ u, d @ v
    tu = ev.field_width_mm / 2 / ev.sid_mm
    tv = ev.field_height_mm / 2 / ev.sid_mm
    inside = (dw > 0) & (np.abs(du) <= tu * dw) & (np.abs(dv) <= tv * dw)
    facing = np.einsum("ij,ij->i", plane.normals, -d) > 0
    expected = np.where(inside & facing, ev.kerma_rp_gy * (ev.srp_mm / dist) ** 2, 0.0)
    # cells cut by the field edge get the covered fraction of that (tests/kernel): leave out
    # every cell with a vertex within 0.5 mm of the field edge or on both sides of it
    dv3 = plane.triangles - src
    vw, vu, vv = dv3 @ w, dv3 @ u, dv3 @ v
    vin = (np.abs(vu) <= tu * vw - 0.5) & (np.abs(vv) <= tv * vw - 0.5)
    vout = (np.abs(vu) >= tu * vw + 0.5) | (np.abs(vv) >= tv * vw + 0.5)
    edge = ~(np.all(vin, axis=1) | np.all(vout, axis=1))
    got = res.dose_gy
    assert (inside & facing & ~edge).sum() > 100
    dosed = expected > 0
    rel = np.abs(got[dosed & ~edge] - expected[dosed & ~edge]) / expected[dosed & ~edge]
    assert rel.max() < 1e-9
    assert np.all(got[~dosed & ~edge] == 0.0)
    assert res.psd_gy == pytest.approx(got.max())
    assert not res.is_reference_point_estimate


# ---------------------------------------------------------------------------- KAP invariant


def _sheet(shift_u: float, shift_v: float, template) -> phantoms.Phantom:
    """A flat sheet at y = 0 facing +y, cut into right triangles of exactly 1 cm², with the
    cell grid shifted by a fraction of a cell (landmarks and labels of ``template``)."""
    import trimesh

    h = math.sqrt(2.0) * 10.0
    xs = np.arange(-200.0, 200.0 + 1e-9, h) + shift_u * h
    zs = np.arange(-1200.0, 1e-9, h) + shift_v * h
    gx, gz = np.meshgrid(xs, zs, indexing="ij")
    verts = np.stack([gx.ravel(), np.zeros(gx.size), gz.ravel()], axis=1)
    nz = len(zs)
    i, j = np.meshgrid(np.arange(len(xs) - 1), np.arange(nz - 1), indexing="ij")
    a = (i * nz + j).ravel()
    b, c, d = a + nz, a + nz + 1, a + 1
    faces = np.concatenate([np.stack([a, d, b], 1), np.stack([b, d, c], 1)])
    return phantoms.Phantom.from_mesh(
        trimesh.Trimesh(verts, faces, process=False), name="sheet",
        landmarks=template.landmarks, spec=template.spec, check=False,
    )


@pytest.fixture(scope="module")
def sheets():
    template = phantoms.plane(cell_area_cm2=16.0)
    return [_sheet(k / 4, m / 4, template) for k in range(4) for m in range(4)]


@pytest.mark.parametrize("inverse_square", [False, True])
def test_kap_invariant(sheets, inverse_square):
    """Σ dose × area = K_RP × field area at the RP, with the plane (1 cm² cells) at the RP.

    A single field edge cuts cells at one phase, so one grid gives up to ~1 % either way for a
    15 cm field; the invariant is checked on the mean over 16 sub-cell shifts of the grid, with
    the field turned 17° against it (table rotation), where the cut-cell errors average out.
    With the inverse square on, the flat plane receives K (srp/d)² off axis: the expectation
    carries the mean of 1 / (1 + x² + y²) over the field (x, y: tangents), computed here.
    """
    # the RP on the sheet (iso at y = -5, sod 785); with the inverse square, the RP 145 mm
    # in front of it and a wider field, so that both the axis and off-axis terms matter
    if inverse_square:
        ev = event(kerma_rp_gy=0.02, srp_mm=635.0, field_width_mm=301.3,
                   field_height_mm=243.9, table_horizontal_rotation_deg=17.0)
    else:
        ev = event(kerma_rp_gy=0.02, srp_mm=780.0, field_width_mm=203.7,
                   field_height_mm=161.9, table_horizontal_rotation_deg=17.0)
    s = BARE.replace(inverse_square=inverse_square)
    area_rp = (ev.field_width_mm * ev.srp_mm / ev.sid_mm) * (
        ev.field_height_mm * ev.srp_mm / ev.sid_mm)
    expected = ev.kerma_rp_gy * area_rp
    if inverse_square:
        ta = ev.field_width_mm / 2 / ev.sid_mm
        tb = ev.field_height_mm / 2 / ev.sid_mm
        x = (np.arange(2000) + 0.5) / 1000 - 1
        gx, gy = np.meshgrid(x * ta, x * tb)
        mean = float(np.mean(1.0 / (1.0 + gx**2 + gy**2)))
        assert 0.98 < mean < 0.992  # not trivially 1
        expected *= mean
    ratios = []
    for sh in sheets:
        res = compute(procedure([ev]), sh, s)
        ratios.append(float((res.dose_gy * sh.areas_mm2).sum()) / expected)
        assert res.events[0].kap_check == pytest.approx(1.0, rel=1e-3)
    assert np.mean(ratios) == pytest.approx(1.0, abs=5e-3)
    assert max(abs(r - 1) for r in ratios) < 0.03


# ---------------------------------------------------------------------------- occlusion


def test_lateral_beam_doses_the_arm_not_the_trunk_behind_it(adult4):
    # LAO 90: source at the patient's right, beam toward the left, centred on the chest
    ev = event(a=90.0, b=0.0, field_width_mm=300.0, field_height_mm=300.0, sid_mm=1200.0)
    p = procedure([ev])
    res = compute(p, adult4, BARE)
    arm = adult4.cells_in_region("right_arm")
    trunk = adult4.cells_in_region("chest") | adult4.cells_in_region("abdomen")
    c, n = adult4.centroids, adult4.normals
    arm_c = c[arm & (c[:, 2] < -300) & (c[:, 2] > -500)]
    ylo, yhi = arm_c[:, 1].min() + 15.0, arm_c[:, 1].max() - 15.0
    # within ±50 mm of the isocenter height: inside the field (±80 mm or more at the trunk)
    iso_z = float(res.beams[0].isocenter[0, 2])
    behind = trunk & (n[:, 0] < -0.5) & (c[:, 1] > ylo) & (c[:, 1] < yhi) & (
        np.abs(c[:, 2] - iso_z) < 50.0)
    # without occlusion these cells are dosed (those in the field): the test can fail
    res_no = compute(p, adult4, BARE.replace(occlusion=False))
    shadow = behind & (res_no.dose_gy > 0.0)
    assert shadow.sum() >= 5 and shadow.sum() >= 0.8 * behind.sum()
    assert res.dose_gy[arm].max() > 0.005
    assert np.all(res.dose_gy[shadow] == 0.0)
    assert "arm" in res.events[0].entrance_label


def test_pa_beam_doses_the_back_not_the_chest(adult4):
    res = compute(procedure([event()]), adult4, BARE)
    d, n = res.dose_gy, adult4.normals
    assert d[n[:, 1] > 0.5].max() > 0.005  # posterior skin
    assert np.all(d[n[:, 1] < -0.2] == 0.0)  # anterior skin
    assert "back" in res.psd_location["label"]
    ep = res.events[0].entrance_point_mm
    assert ep is not None and abs(ep[1]) < 1.0  # enters on the back (y = 0)


# ---------------------------------------------------------------------------- orientation


def _mirror_ffs(p):
    """The same irradiation of a feet-first patient as the system would report it.

    Patient-based angles stay as they are (LAO is LAO); the table head-foot travel (Siemens
    113752) and the lateral travel (113751) change sign, because the patient's head and left
    side now point the other way in the room; the height stays.
    """
    evs = [dataclasses.replace(e, patient_orientation=PO.FFS,
                               table_lateral_mm=-e.table_lateral_mm,
                               table_longitudinal_mm=-e.table_longitudinal_mm)
           for e in p.events]
    pat = dataclasses.replace(p.patient, orientation=PO.FFS)
    return dataclasses.replace(p, events=tuple(evs), patient=pat)


def test_hfs_and_ffs_give_the_same_psd(adult4):
    base = example_procedure(n_events=30, seed=3, orientation=PO.HFS)
    # put the isocenter on the heart with the profile placement: head-foot +420 mm, left 30 mm
    evs = [dataclasses.replace(e, table_lateral_mm=e.table_lateral_mm + 420.0,
                               table_longitudinal_mm=e.table_longitudinal_mm - 30.0)
           for e in base.events]
    hfs = dataclasses.replace(base, events=tuple(evs))
    ffs = _mirror_ffs(hfs)
    s = Settings(placement="profile")
    r1 = compute(hfs, adult4, s)
    r2 = compute(ffs, adult4, s)
    assert r1.psd_gy > 0
    assert r2.psd_gy == pytest.approx(r1.psd_gy, rel=0.01)
    p1 = np.array(r1.psd_location["point_mm"])
    p2 = np.array(r2.psd_location["point_mm"])
    assert (r1.psd_location["label"] == r2.psd_location["label"]
            or np.linalg.norm(p1 - p2) < 20.0)
    # the table mirror matters: an unmirrored FFS file puts the beams elsewhere
    wrong = dataclasses.replace(hfs, events=tuple(
        dataclasses.replace(e, patient_orientation=PO.FFS) for e in hfs.events),
        patient=dataclasses.replace(hfs.patient, orientation=PO.FFS))
    r3 = compute(wrong, adult4, s)
    p3 = np.array(r3.psd_location["point_mm"]) if r3.psd_location else p1 + 1e3
    assert np.linalg.norm(p3 - p1) > 100.0


# ---------------------------------------------------------------------------- corner cases


def test_reference_point_estimate_without_angles(plane):
    evs = [event(i, a=None, b=None, kerma_rp_gy=0.01 * (i + 1)) for i in range(3)]
    res = compute(procedure(evs), plane, BARE)
    assert res.is_reference_point_estimate
    assert np.all(res.dose_gy == 0.0)
    assert res.psd_gy == pytest.approx(0.06, rel=1e-12)  # corrections off: sum of K_RP
    assert all(e.skipped for e in res.events)
    assert any("3 of 3 events, 100.0% of K_RP, could not be mapped" in w for w in res.warnings)
    assert any("reference-point estimate" in w for w in res.warnings)
    assert res.summary()["psd_gy"] == pytest.approx(0.06)
    assert res.beams == (None,)  # nothing placed
    assert res.psd_averaged_gy(1.0) == res.psd_gy  # the estimate, not a map average
    # with corrections on, the estimate is larger (BSF, f > 1; table left out: T = 1)
    on = compute(procedure(evs), plane, Settings())
    assert on.psd_gy > 1.2 * 0.06


def test_no_table_position_is_geometry_poor(plane):
    evs = [event(i, table_longitudinal_mm=None, table_lateral_mm=None, table_height_mm=None)
           for i in range(2)]
    res = compute(procedure(evs), plane, BARE)
    assert res.is_reference_point_estimate
    assert "table" in res.events[0].skipped


def test_skipped_events_are_reported_not_dropped(plane):
    evs = [event(0, kerma_rp_gy=0.03), event(1, kerma_rp_gy=0.01, unusable="broken"),
           event(2, a=None, kerma_rp_gy=0.01)]
    res = compute(procedure(evs), plane, BARE)
    assert not res.is_reference_point_estimate
    assert len(res.events) == 3
    assert res.events[0].skipped is None and res.events[0].max_dose_gy > 0
    assert "unusable" in res.events[1].skipped
    assert res.events[2].skipped == "no positioner angles"
    assert any("2 of 3 events, 40.0% of K_RP, could not be mapped" in w for w in res.warnings)
    # the kept beams are those of the mapped events only
    assert len(res.beams) == 1 and res.beams[0].event_index.tolist() == [0]


def test_kap_check_flags_inconsistent_event(plane):
    good = event(0)
    bad = event(1, kap_gym2=2.0 * good.kap_gym2)
    res = compute(procedure([good, bad]), plane, BARE)
    assert res.events[0].kap_check == pytest.approx(1.0, rel=1e-9)
    assert res.events[1].kap_check == pytest.approx(2.0, rel=1e-9)
    flagged = [w for w in res.warnings if "reported KAP is" in w]
    assert len(flagged) == 1 and "event 1" in flagged[0]


def test_rotational_run_max_and_timeline(plane):
    rot = event(1, a=-20.0, b=0.0, event_type=EventType.ROTATIONAL, primary_end_angle_deg=20.0)
    res = compute(procedure([event(0), rot]), plane, BARE)
    assert res.events[1].max_dose_gy > 0
    assert res.events[1].max_dose_gy <= res.psd_gy + 1e-15
    assert list(res.psd_timeline_event) == [1, 2]
    assert res.psd_timeline_gy[-1] == pytest.approx(res.psd_gy)
    assert np.all(np.diff(res.psd_timeline_gy) >= 0)


# ---------------------------------------------------------------------------- accumulation


def test_accumulation_adds_maps_and_warns_on_patient_id(plane):
    p1 = procedure([event(0, a=10.0)], patient_id="A")
    p2 = procedure([dataclasses.replace(event(0, b=15.0, kerma_rp_gy=0.02), uid="1.2.3.99")],
                   patient_id="B")  # own event UID: equal UIDs are now counted once (issue 11)
    r1, r2 = compute(p1, plane, BARE), compute(p2, plane, BARE)
    with pytest.raises(PatientMismatchError, match="different patients"):
        compute([p1, p2], plane, BARE)  # issue 11: different patients are refused
    both = compute([p1, p2], plane, BARE, same_patient=True)
    np.testing.assert_allclose(both.dose_gy, r1.dose_gy + r2.dose_gy, rtol=1e-12, atol=0)
    assert [e.procedure_index for e in both.events] == [0, 1]
    assert any(n.code is NoteCode.DIFFERENT_PATIENTS_ACCEPTED for n in both.notes)
    # one BeamSet per procedure, indexed like EventResult.procedure_index / index
    assert len(both.beams) == 2
    for e in both.events:
        bs = both.beams[e.procedure_index]
        assert e.index in bs.event_index.tolist()
    np.testing.assert_allclose(both.beams[1].source, r2.beams[0].source)
    assert both.reference_totals["total"]["kerma_rp_gy"] == pytest.approx(0.03)


def test_default_phantom_scaled_to_patient():
    p = procedure([event()], height_m=1.60, mass_kg=60.0)
    res = compute(p, settings=BARE.replace(cell_area_cm2=16.0))
    assert res.phantom.name in ("adult", "adult_arms_up")  # chest target: arms auto-raised
    assert res.phantom.height_m == pytest.approx(1.60)
    assert res.psd_gy > 0


def test_package_level_alias(plane):
    p = procedure([event()])
    assert sd.compute(p, plane, BARE).psd_gy == compute(p, plane, BARE).psd_gy


# ---------------------------------------------------------------------------- summary, threads


def test_summary_is_json_safe(plane):
    evs = [event(0), event(1, a=None), event(2, kap_gym2=0.5 * event(2).kap_gym2)]
    res = compute(procedure(evs), plane, Settings(cell_area_cm2=4.0))
    text = json.dumps(res.summary(), allow_nan=False)
    back = json.loads(text)
    assert back["psd_gy"] == pytest.approx(res.psd_gy)
    assert set(back["areas_above_m2"]) == {"2", "3", "5", "10"}
    assert back["reference_totals"]["total"]["n_events"] == 3
    assert back["n_events_skipped"] == 1
    assert back["kap_check_flagged"] == [[0, 2]]
    hist = back["dose_area_histogram"]
    assert hist["area_m2"][0] == pytest.approx(float(plane.areas_mm2.sum()) * 1e-6)
    assert hist["dose_gy"][-1] == pytest.approx(res.psd_gy)
    assert res.area_above_m2(0.0) >= res.area_above_m2(1e-3) > 0


def test_threads_give_identical_results(adult4):
    p = example_procedure(n_events=12, seed=5)
    ref = compute(p, adult4, Settings(placement="target"))
    out: list = [None] * 4
    errors: list = []

    def work(k):
        try:
            out[k] = compute(p, adult4, Settings(placement="target"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in out:
        np.testing.assert_array_equal(r.dose_gy, ref.dose_gy)
        assert r.summary()["events"] == ref.summary()["events"]


def test_progress_callback(plane):
    calls = []
    compute(procedure([event(i) for i in range(3)]), plane, BARE,
            progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3)


# ---------------------------------------------------------------------------- real files


@pytest.mark.parametrize("path", real_rdsr_files(), ids=lambda p: p.stem)
def test_real_file_end_to_end(path, adult4):
    proc = read_rdsr(path)
    res = compute(proc, adult4, Settings())
    assert math.isfinite(res.psd_gy) and res.psd_gy > 0
    if res.is_reference_point_estimate:
        assert any("reference-point estimate" in w for w in res.warnings)
        assert np.all(res.dose_gy == 0)
    else:
        assert res.psd_location is not None
    json.dumps(res.summary(), allow_nan=False)
    assert len(res.events) == proc.n_events


def test_real_files_present():
    from .conftest import shared_data_dir

    assert len(list((shared_data_dir() / "rdsr").glob("*.dcm"))) == len(real_rdsr_files()) > 0


def test_patient_unused_fields_roundtrip():
    # Patient() has no required fields: a procedure without size still gets a phantom
    assert Patient().height_m is None


# ---------------------------------------------------------------------------- stored beams


def test_compute_keeps_the_placed_beams_out_of_the_summary(plane):
    res = compute(procedure([event(0), event(1, a=30.0)]), plane, BARE)
    (bs,) = res.beams
    assert bs.n_beams == 2 and bs.event_index.tolist() == [0, 1]
    # the stored central ray meets the skin where the event's entrance point says
    for e in res.events:
        r = int(np.flatnonzero(bs.event_index == e.index)[0])
        p = np.asarray(e.entrance_point_mm) - bs.source[r]
        assert np.linalg.norm(np.cross(p, bs.w[r])) < 1e-6 * np.linalg.norm(p)
    assert "beams" not in res.summary()
    json.dumps(res.summary(), allow_nan=False)
    # a map built directly has none, and still works
    direct = SkinDoseMap(phantom=plane, dose_gy=res.dose_gy, events=res.events,
                            psd_timeline_gy=[], psd_timeline_event=[])
    assert direct.beams == ()


# ---------------------------------------------------------------------------- area-averaged PSD


def _map(phantom, dose):
    return SkinDoseMap(phantom=phantom, dose_gy=dose, events=(), psd_timeline_gy=[],
                          psd_timeline_event=[])


def test_psd_averaged_uniform_field_equals_psd(adult4):
    res = _map(adult4, np.full(adult4.n_cells, 2.5))
    for area in (0.5, 1.0, 10.0, 100.0):
        assert res.psd_averaged_gy(area) == pytest.approx(res.psd_gy, rel=1e-12)
    s = res.summary()
    assert s["psd_1cm2_gy"] == pytest.approx(2.5) and s["psd_10cm2_gy"] == pytest.approx(2.5)
    assert _map(adult4, np.zeros(adult4.n_cells)).psd_averaged_gy(1.0) == 0.0
    with pytest.raises(ValueError, match="positive"):
        res.psd_averaged_gy(0.0)


def test_psd_averaged_single_hot_cell():
    """One hot cell of area a_h and dose D in zeros: the only centre is that cell, and its mean
    is D a_h / A(r), A(r) the area of the same-side cells whose centroids lie within r.

    Tolerance: every point of a cell lies within the cell's diameter δ of its centroid, so all
    cells counted lie inside the disc of radius r + δ, and every point of the face within r - δ
    of the hot centroid belongs to a counted cell. On a flat face, π(r - δ)² <= A(r) <=
    π(r + δ)². The back face, 10 mm behind, lies within r but faces the other way (180°) and
    must not count.
    """
    ph = phantoms.plane(width_mm=80.0, length_mm=80.0, thickness_mm=10.0, cell_area_cm2=0.02)
    c = ph.centroids
    back = np.flatnonzero(ph.normals[:, 1] > 0.99)  # posterior face, y = 0
    hot = int(back[np.argmin(np.hypot(c[back, 0], c[back, 2] + 40.0))])
    D = 3.0
    dose = np.zeros(ph.n_cells)
    dose[hot] = D
    res = _map(ph, dose)
    tri = ph.triangles
    delta = float(np.linalg.norm(tri[:, [0, 1, 2]] - tri[:, [1, 2, 0]], axis=2).max())
    a_h = float(ph.areas_mm2[hot])
    for area_cm2 in (1.0, 10.0):
        r = math.sqrt(area_cm2 * 100.0 / math.pi)
        got = res.psd_averaged_gy(area_cm2)
        lo = D * a_h / (math.pi * (r + delta) ** 2)
        hi = D * a_h / (math.pi * max(r - delta, 0.0) ** 2) if r > delta else D
        assert lo <= got <= hi, (area_cm2, lo, got, hi)
        # and exactly the brute-force definition
        near = np.linalg.norm(c - c[hot], axis=1) <= r
        same = ph.normals @ ph.normals[hot] >= 0.5
        assert got == pytest.approx(D * a_h / ph.areas_mm2[near & same].sum(), rel=1e-12)
        assert (near & ~same).any() or area_cm2 < 5  # the back face was in reach at 10 cm²
    # the mean over 1 cm² of a cell smaller than 1 cm² is below its dose
    assert res.psd_averaged_gy(1.0) < res.psd_gy


def test_psd_averaged_falls_with_area_for_one_hot_spot(adult4):
    c = adult4.centroids
    spot = c[np.argmax(c[:, 1] - 0.2 * np.abs(c[:, 2] + 450.0))]  # on the back
    dose = 4.0 * np.exp(-((c - spot) ** 2).sum(axis=1) / (2 * 40.0**2))
    dose[dose < 0.01] = 0.0
    res = _map(adult4, dose)
    areas = [0.25, 1.0, 4.0, 10.0, 25.0, 100.0]
    vals = [res.psd_averaged_gy(a) for a in areas]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(vals)), vals
    assert vals[0] <= res.psd_gy and vals[-1] < 0.9 * res.psd_gy
    s = res.summary()
    assert s["psd_1cm2_gy"] == pytest.approx(vals[1]) and s["psd_10cm2_gy"] == pytest.approx(
        vals[3])


# ---------------------------------------------------------------------------- small fields


def test_field_smaller_than_the_cell_spacing_is_not_lost(plane):
    """A 3 mm field at the skin falls between cell centroids; its dose must land on the
    entrance cell as an area average: Σ dose × area = K (srp/d)² × field area at the skin."""
    tiny = 4.0  # mm at the detector (SID 1100): ~2.9 mm at the back, well below the 1 cm cells
    ev = event(kerma_rp_gy=0.05, field_width_mm=tiny, field_height_mm=tiny)
    res = compute(procedure([ev]), plane, BARE)
    dosed = np.flatnonzero(res.dose_gy > 0)
    assert 1 <= dosed.size <= 4  # the cells the field covers, by the covered fraction
    # independent expectation: PA beam, entrance on the posterior face (y = 0) at the iso x, z
    iso = plane.landmarks["chest"]
    d = ev.sod_mm + iso[1]  # source at iso + sod·(+y); the back surface is the plane y = 0
    point_dose = ev.kerma_rp_gy * (ev.srp_mm / d) ** 2
    field_mm2 = (tiny * d / ev.sid_mm) ** 2
    got = float(np.sum(res.dose_gy[dosed] * plane.areas_mm2[dosed]))
    assert got == pytest.approx(point_dose * field_mm2, rel=1e-3)  # centroid distances differ
    assert res.events[0].max_dose_gy == pytest.approx(res.dose_gy.max())
