"""Issue 10: one owner per rule (docs/architecture.md §9, §10).

Each rule is written once and the stages call it; these tests fail if a second copy comes
back, if a rule's owner and its callers disagree, or if a note code has no emitter.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skindose as sd
from skindose.errors import ConfigurationError
from skindose.notes import NoteCode
from skindose.physics import per_event_factors
from skindose.rdsr.model import (
    IEC_REFERENCE_POINT,
    MIN_FIELD_MM,
    FieldSource,
    IrradiationEvent,
    ReferencePoint,
    ReferencePointKind,
    SrpSource,
    source_to_reference_point_mm,
    wrap_angles,
)
from skindose.vendors import load_profiles, profile_from_dict

SRC = Path(__file__).resolve().parents[1] / "src" / "skindose"


def _src_text(exclude: tuple[str, ...] = ()) -> dict[str, str]:
    return {str(p.relative_to(SRC)): p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")
            if str(p.relative_to(SRC)) not in exclude}


def test_every_note_code_has_an_emitter():
    text = "\n".join(_src_text(exclude=("notes.py",)).values())
    silent = [c.name for c in NoteCode if not re.search(rf"NoteCode\.{c.name}\b", text)]
    assert not silent, f"note codes defined but never emitted: {silent}"


def test_compute_is_wiring_only():
    src = (SRC / "compute.py").read_text(encoding="utf-8")
    assert len(src.splitlines()) <= 250
    assert "Any" not in re.findall(r"\bAny\b", src)
    # the rules compute used to carry are gone from it
    for gone in ("DEFAULT_RP_FIELD_SIDE_CM", "KAP_CHECK_RANGE", "small_fields", "_normalise"):
        assert gone not in src


def test_angle_wrapping_is_written_once():
    texts = _src_text()
    holders = [name for name, t in texts.items() if re.search(r"% 360\.0", t)]
    assert holders == ["rdsr/model.py"], holders
    from skindose.geometry import frames

    assert frames.wrap_angles is wrap_angles


def _direction(a_deg: float, b_deg: float) -> np.ndarray:
    a, b = math.radians(a_deg), math.radians(b_deg)
    return np.array([math.sin(a) * math.cos(b), -math.cos(a) * math.cos(b), math.sin(b)])


@settings(max_examples=200, deadline=None)
@given(st.floats(-720, 720), st.floats(-270, 270))
def test_wrapped_angles_are_in_range_and_keep_the_beam(a, b):
    wa, wb, changed = wrap_angles(a, b)
    assert -180.0 < wa <= 180.0 and -90.0 <= wb <= 90.0
    np.testing.assert_allclose(_direction(wa, wb), _direction(a, b), atol=1e-9)
    if -180.0 < a <= 180.0 and -90.0 <= b <= 90.0:
        assert not changed


def test_reader_and_geometry_wrap_the_same_way(tmp_path):
    """A 183° secondary angle (Eurocolumbus): the reader's model and the beams agree."""
    from skindose.geometry import beams_for
    from skindose.rdsr.synthetic import build_rdsr, example_procedure

    proc = example_procedure(n_events=1, seed=4)
    ev = dataclasses.replace(proc.events[0], primary_angle_deg=10.0, secondary_angle_deg=183.0)
    read = sd.read_rdsr(build_rdsr(dataclasses.replace(proc, events=(ev,))))
    ph = sd.phantoms.adult(cell_area_cm2=16.0)
    raw = beams_for(dataclasses.replace(proc, events=(ev,)), ph)
    wrapped = beams_for(read, ph)
    np.testing.assert_allclose(raw.w, wrapped.w, atol=1e-9)
    assert any(n.code is NoteCode.ANGLE_WRAPPED for n in raw.notes)
    assert any(n.code is NoteCode.ANGLE_WRAPPED for n in read.notes)


# ---- field-size chain ------------------------------------------------------------------------

def _ev(**kw) -> IrradiationEvent:
    base = dict(index=0, uid="1.2.3", kerma_rp_gy=0.01, kap_gym2=1e-4, sid_mm=1000.0)
    base.update(kw)
    return IrradiationEvent(**base)


def test_field_chain_order_and_cut_off():
    srp = 600.0
    f = _ev(field_width_mm=MIN_FIELD_MM, field_height_mm=200.0).field_tangents(srp)
    assert f.source is FieldSource.COLLIMATED and f.tan_u == pytest.approx(0.005)
    # just under the cut-off: not a field; the chain goes on (shutters at 1 m)
    f = _ev(field_width_mm=MIN_FIELD_MM - 0.01, field_height_mm=200.0,
            shutters_mm=(50.0, 50.0, 40.0, 40.0)).field_tangents(srp)
    assert f.source is FieldSource.SHUTTERS and f.tan_u == pytest.approx(0.05)
    f = _ev(field_area_m2=0.04).field_tangents(srp)
    assert f.source is FieldSource.AREA and f.tan_u == pytest.approx(0.1)
    f = _ev().field_tangents(srp)  # KAP / K_RP = 0.01 m² at the RP: 100 mm square
    assert f.source is FieldSource.KAP_KERMA and f.tan_u == pytest.approx(50.0 / srp)
    f = _ev(kap_gym2=None).field_tangents(srp, detector_size_mm=400.0)
    assert f.source is FieldSource.DETECTOR and f.tan_u == pytest.approx(0.2)
    assert _ev(kap_gym2=None, sid_mm=None).field_tangents(srp) is None


def test_reader_cut_off_is_the_chains():
    """A 5 mm collimated field in a file is dropped by the reader with a note, and the
    event's beam then uses the same next step as an event built without it."""
    from skindose.rdsr.synthetic import build_rdsr, example_procedure

    proc = example_procedure(n_events=1, seed=2)
    ev = dataclasses.replace(proc.events[0], field_width_mm=5.0, field_height_mm=5.0)
    read = sd.read_rdsr(build_rdsr(dataclasses.replace(proc, events=(ev,)))).events[0]
    assert read.field_width_mm is None and read.field_height_mm is None
    direct = ev.field_tangents(ev.srp_mm)
    via_file = read.field_tangents(read.srp_mm)
    assert direct.source is via_file.source is not FieldSource.COLLIMATED
    assert direct.tan_u == pytest.approx(via_file.tan_u, rel=1e-6)


# ---- SRP chain -------------------------------------------------------------------------------

def test_srp_chain_order():
    definition = ReferencePoint(kind=ReferencePointKind.FROM_SOURCE, distance_mm=620.0)
    rule = ReferencePoint(kind=ReferencePointKind.DETECTOR_OFFSET, distance_mm=300.0)
    kw = dict(sod_mm=800.0, sid_mm=1100.0)
    assert source_to_reference_point_mm(dsrp_mm=640.0, accumulated_mm=630.0, **kw)[:2] == (
        640.0, SrpSource.DSRP)
    assert source_to_reference_point_mm(dsrp_mm=None, accumulated_mm=630.0,
                                        definitions=(definition,), **kw)[:2] == (
        630.0, SrpSource.ACCUMULATED)
    assert source_to_reference_point_mm(dsrp_mm=None, definitions=(None, definition),
                                        rules=(rule,), **kw)[:2] == (620.0, SrpSource.DEFINITION)
    assert source_to_reference_point_mm(dsrp_mm=None, rules=(rule, IEC_REFERENCE_POINT),
                                        **kw)[:2] == (800.0, SrpSource.RULE)
    assert source_to_reference_point_mm(dsrp_mm=None, rules=(IEC_REFERENCE_POINT,),
                                        sod_mm=800.0, sid_mm=None)[:2] == (650.0, SrpSource.RULE)
    assert source_to_reference_point_mm(dsrp_mm=None, sod_mm=None, sid_mm=None,
                                        rules=(IEC_REFERENCE_POINT,))[:2] == (None, None)


def test_geometry_uses_the_profile_rule_as_the_chains_last_step():
    """An event with no DSRP and no sod in the file: the reader cannot place the RP; the
    geometry takes the profile's default sod and the profile's rule through the same chain."""
    from skindose.geometry import beams_for
    from skindose.rdsr.synthetic import example_procedure

    proc = example_procedure(n_events=1, seed=5)
    ev = dataclasses.replace(proc.events[0], srp_mm=None, sod_mm=None, reference_point=None)
    proc = dataclasses.replace(proc, events=(ev,), reference_point=None)
    prof = profile_from_dict({"name": "t", "geometry": {"default_sod_mm": 810.0},
                              "reference_point": {"kind": "isocenter offset",
                                                  "distance_mm": 150.0}})
    bs = beams_for(proc, sd.phantoms.adult(cell_area_cm2=16.0), sd.Settings(), prof)
    assert bs.srp_mm[0] == pytest.approx(660.0)
    assert any(n.code is NoteCode.SRP_DEFAULTED for n in bs.notes)


# ---- vendor defaults and the table spec ------------------------------------------------------

def test_every_default_is_in_generic_toml():
    generic = load_profiles()["generic"]
    bare = profile_from_dict({"name": "bare"})
    identity = {"name", "family", "manufacturer_pattern", "model_pattern", "priority",
                "validated", "validation_note", "source", "reference_point"}
    for f in dataclasses.fields(generic):
        if f.name not in identity:
            assert getattr(bare, f.name) == getattr(generic, f.name), f.name
    assert generic.table_measured is False and generic.table_transmission == "generic"
    assert load_profiles()["siemens_axiom_artis"].table_measured is True


def test_unmeasured_number_is_flagged_as_an_estimate_with_its_value():
    ev = [_ev(kvp=80.0)]
    est = per_event_factors(ev, sd.Settings(), table=0.8, table_measured=False)
    assert est.table_is_estimate and est.table_t0[0] == 0.8
    note = next(n for n in est.notes if n.code is NoteCode.TABLE_ESTIMATED)
    assert note.data["t0"] == pytest.approx(0.8) and "0.8" in note.text
    meas = per_event_factors(ev, sd.Settings(), table=0.8, table_measured=True)
    assert not meas.table_is_estimate
    assert any(n.code is NoteCode.TABLE_MEASURED for n in meas.notes)
    with pytest.raises(ConfigurationError, match="measured"):
        per_event_factors(ev, sd.Settings(), table="generic", table_measured=True)
    with pytest.raises(ConfigurationError, match="measured"):
        profile_from_dict({"name": "x", "table": {"measured": "yes"}})


def test_philips_result_and_report_say_the_table_is_an_estimate(rdsr_dir, tmp_path):
    proc = sd.read_rdsr(rdsr_dir / "openrem__RF-RDSR-Philips_Allura.dcm")
    res = sd.compute(proc, settings=sd.Settings(cell_area_cm2=16.0))
    note = next(n for n in res.notes if n.code is NoteCode.TABLE_ESTIMATED)
    assert note.data["t0"] == pytest.approx(0.75) and "T0 = 0.75" in note.text
    assert note.severity.value == "warning"
    from skindose.report import write_report

    page = write_report(res, tmp_path / "r")
    html = Path(page).read_text(encoding="utf-8") if Path(page).is_file() else (
        tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "T0 = 0.75" in html
