"""Issue 11, items 1-3: accumulation rules, completeness checks and plausibility limits.

Each case below gave a wrong number with no word on the original main (see the issue).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pydicom
import pytest

import skindose as sd
from skindose.errors import PatientMismatchError
from skindose.notes import NoteCode, Severity
from skindose.rdsr.synthetic import build_rdsr, encode_rdsr, example_procedure

COARSE = sd.Settings(cell_area_cm2=16.0)


@pytest.fixture(scope="module")
def phantom():
    return sd.phantoms.adult(cell_area_cm2=16.0)


@pytest.fixture(scope="module")
def example():
    return example_procedure(n_events=8, seed=3)


def _codes(notes):
    return {n.code for n in notes}


def _num_items(ds, concept_value):
    """Every NUM content item of the content tree with this concept code value."""
    out = []

    def walk(items):
        for it in items:
            cn = it.get("ConceptNameCodeSequence")
            if cn and cn[0].CodeValue == concept_value and "MeasuredValueSequence" in it:
                out.append(it)
            if "ContentSequence" in it:
                walk(it.ContentSequence)

    walk(ds.ContentSequence)
    return out


def _bytes(ds) -> bytes:
    import io

    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# ---- accumulation -----------------------------------------------------------------------


def test_same_file_twice_is_counted_once(example, phantom):
    data = encode_rdsr(example)
    one = sd.compute(sd.read_rdsr(data), phantom, COARSE)
    two = sd.compute([sd.read_rdsr(data), sd.read_rdsr(data)], phantom, COARSE)
    assert two.psd_gy == one.psd_gy
    np.testing.assert_array_equal(two.dose_gy, one.dose_gy)
    assert NoteCode.DUPLICATE_INSTANCE in _codes(two.notes)


def test_partial_report_is_superseded_by_the_final_one(example, phantom):
    final = sd.read_rdsr(encode_rdsr(example))
    partial = dataclasses.replace(final, events=final.events[:5], sop_instance_uid="1.2.3.4.5")
    res = sd.compute([partial, final], phantom, COARSE)
    ref = sd.compute(final, phantom, COARSE)
    np.testing.assert_array_equal(res.dose_gy, ref.dose_gy)
    assert NoteCode.REPORT_SUPERSEDED in _codes(res.notes)


def test_shared_events_of_two_reports_are_counted_once(example, phantom):
    p = sd.read_rdsr(encode_rdsr(example))
    a = dataclasses.replace(p, events=p.events[:6], sop_instance_uid="1.2.3.1")
    b = dataclasses.replace(p, events=p.events[3:], sop_instance_uid="1.2.3.2")
    res = sd.compute([a, b], phantom, COARSE)
    assert len(res.events) == p.n_events  # 6 + 5, less the 3 shared
    assert res.reference_totals["total"]["kerma_rp_gy"] == pytest.approx(
        sum(e.kerma_rp_gy for e in p.events), rel=1e-12)
    dup = [n for n in res.notes if n.code is NoteCode.DUPLICATE_EVENT]
    assert dup and dup[0].procedure_index == 1 and len(dup[0].data["event_uids"]) == 3


def test_different_patients_are_refused(example, phantom):
    p = sd.read_rdsr(encode_rdsr(example))
    q = dataclasses.replace(p, patient=dataclasses.replace(p.patient, patient_id="OTHER"),
                            sop_instance_uid="9.9",
                            events=tuple(dataclasses.replace(e, uid=e.uid + ".9")
                                         for e in p.events))
    with pytest.raises(PatientMismatchError, match="different patients"):
        sd.compute([p, q], phantom, COARSE)
    both = sd.compute([p, q], phantom, COARSE, same_patient=True)
    assert both.psd_gy > sd.compute(p, phantom, COARSE).psd_gy


def test_patients_without_ids_are_told_apart_by_name_and_birth_date(example):
    from skindose.accumulate import patient_key

    p = sd.read_rdsr(encode_rdsr(example))
    a = dataclasses.replace(p, patient=dataclasses.replace(p.patient, patient_id="",
                                                           name="DOE^JANE",
                                                           birth_date="19600101"))
    b = dataclasses.replace(a, patient=dataclasses.replace(a.patient, birth_date="19700101"))
    assert patient_key(a) != patient_key(b)
    with pytest.raises(PatientMismatchError):
        sd.accumulate.check_same_patient([a, b])


# ---- completeness -----------------------------------------------------------------------


def test_truncated_real_file_is_critical_with_numbers(rdsr_dir):
    data = (rdsr_dir / "openrem__RF-RDSR-Siemens-Zee.dcm").read_bytes()
    p = sd.read_rdsr(data[: len(data) // 2])
    crit = [n for n in p.notes if n.severity is Severity.CRITICAL]
    assert any(n.code is NoteCode.FILE_TRUNCATED for n in crit)
    assert any(str(p.n_events) in n.text for n in crit)


def test_missing_events_against_the_reported_total_are_critical(example):
    ds = build_rdsr(example)
    # drop half of the event containers; the accumulated totals stay as written
    root = ds.ContentSequence
    ev_idx = [i for i, it in enumerate(root)
              if it.ConceptNameCodeSequence[0].CodeValue == "113706"]
    for i in reversed(ev_idx[: len(ev_idx) // 2]):
        del root[i]
    p = sd.read_rdsr(_bytes(ds))
    crit = [n for n in p.notes if n.code is NoteCode.FILE_TRUNCATED]
    assert crit and crit[0].severity is Severity.CRITICAL
    frac = crit[0].data["fraction"]
    expect = sum(e.kerma_rp_gy for e in example.events[len(ev_idx) // 2:]) / sum(
        e.kerma_rp_gy for e in example.events)
    assert frac == pytest.approx(expect, rel=1e-3)
    assert f"{100 * expect:.1f} %" in crit[0].text


def test_event_with_damaged_concept_name_is_named(example):
    ds = build_rdsr(example)
    ev = next(it for it in ds.ContentSequence
              if it.ConceptNameCodeSequence[0].CodeValue == "113706")
    del ev.ConceptNameCodeSequence
    p = sd.read_rdsr(_bytes(ds))
    assert p.n_events == example.n_events - 1
    assert any(n.code is NoteCode.EVENT_DAMAGED and n.severity is Severity.CRITICAL
               for n in p.notes)


@pytest.mark.parametrize(("field", "value"), [
    ("CodingSchemeDesignator", "XX"), ("CodeMeaning", "XX"),
    ("CodeValue", "999999"), ("CodeValue", ""), ("CodeValue", "113706x")])
def test_event_with_foreign_concept_is_named(example, field, value):
    """An event container whose concept code is 113706 under another scheme (fuzz seed
    3000044) or another code (fuzz seed 11000062) is not an event to the reader; it must still
    be named, once, on the fast path as well as on pydicom's."""
    ds = build_rdsr(example)
    ev = next(it for it in ds.ContentSequence
              if it.ConceptNameCodeSequence[0].CodeValue == "113706")
    setattr(ev.ConceptNameCodeSequence[0], field, value)
    p = sd.read_rdsr(_bytes(ds))
    if field == "CodeMeaning":  # the meaning is not part of the code: still an event
        assert p.n_events == example.n_events
        return
    assert p.n_events == example.n_events - 1
    lost = [n for n in p.notes if n.code is NoteCode.EVENT_DAMAGED]
    assert len(lost) == 1 and lost[0].severity is Severity.CRITICAL  # named once, not twice
    assert lost[0].data["n_events"] == 1
    # the same mutant handed over as a Dataset (no bytes to count) is named as well
    q = sd.read_rdsr(ds)
    assert [n.data["n_events"] for n in q.notes if n.code is NoteCode.EVENT_DAMAGED] == [1]


# ---- plausibility -----------------------------------------------------------------------


@pytest.mark.parametrize(("concept", "value"), [
    ("113738", -1.0),      # Dose (RP) = -1 Gy
    ("113738", 1e308),     # Dose (RP) absurd
    ("113737", 1e308),     # DSRP absurd
    ("113754", 1e20),      # table height absurd
    ("112011", 1e308),     # primary angle absurd
])
def test_absurd_values_never_reach_the_map(example, phantom, concept, value):
    ds = build_rdsr(example)
    items = _num_items(ds, concept)
    assert items, concept
    items[0].MeasuredValueSequence[0].NumericValue = f"{value:.6g}"
    p = sd.read_rdsr(_bytes(ds))
    assert any(n.code in (NoteCode.VALUE_IMPLAUSIBLE, NoteCode.EVENT_UNUSABLE)
               and n.event_index == 0 for n in p.notes)
    res = sd.compute(p, phantom, COARSE)
    assert math.isfinite(res.psd_gy) and res.psd_gy >= 0
    assert np.isfinite(res.dose_gy).all() and (res.dose_gy >= 0).all()
    s = res.summary()
    assert s["psd_gy"] is not None and s["psd_gy"] >= 0
    ref = sd.compute(sd.read_rdsr(encode_rdsr(example)), phantom, COARSE)
    assert res.psd_gy <= ref.psd_gy * 1.5  # the absurd value did not inflate the PSD


def test_end_angle_without_its_partner_costs_nothing(example):
    ds = build_rdsr(example)
    ev = next(it for it in ds.ContentSequence
              if it.ConceptNameCodeSequence[0].CodeValue == "113706")
    # a primary end angle of 190 deg and no secondary end angle (wrapped, not an error)
    src = _num_items(ds, "112011")[0]
    item = pydicom.Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "NUM"
    item.ConceptNameCodeSequence = [pydicom.Dataset()]
    cn = item.ConceptNameCodeSequence[0]
    cn.CodeValue, cn.CodingSchemeDesignator, cn.CodeMeaning = (
        "113739", "DCM", "Positioner Primary End Angle")
    item.MeasuredValueSequence = [pydicom.Dataset()]
    mv = item.MeasuredValueSequence[0]
    mv.NumericValue = "190"
    mv.MeasurementUnitsCodeSequence = src.MeasuredValueSequence[0].MeasurementUnitsCodeSequence
    ev.ContentSequence.append(item)
    p = sd.read_rdsr(_bytes(ds))
    assert p.n_events == example.n_events
    assert p.events[0].primary_end_angle_deg == pytest.approx(-170.0)


def test_damaged_file_meta_vr_is_an_rdsr_error(example):
    data = bytearray(encode_rdsr(example))
    i = data.index(b"UL", 132)  # the first file meta element's VR
    data[i:i + 2] = b"\x00\x01"
    with pytest.raises(sd.errors.RDSRError):
        sd.read_rdsr(bytes(data))
