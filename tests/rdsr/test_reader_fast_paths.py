"""Shortcuts of the reader's walk against the general code they stand in for.

* ``_parse_dt``'s 14-digit path against ``datetime.strptime`` (the reference, the standard
  library) on valid, out-of-range and random date-times;
* the per-object caches of the fast path (concept, code, measured value): a file whose
  identical items are all shared gives the same Procedure as the pydicom path, and editing
  one copy of a shared item in the bytes changes only that event;
* damaged copies of undefined-length files (synthetic explicit and implicit VR, the real
  Siemens file): ``read_rdsr`` gives exactly the pydicom path's Procedure or error.
"""

from __future__ import annotations

import io
import random
from datetime import datetime

import pydicom
import pytest

from skindose.rdsr import _fastparse, reader
from skindose.rdsr.synthetic import build_rdsr, encode_rdsr, example_procedure
from tests.conftest import real_rdsr_files


def _strptime_reference(main: str) -> datetime | None:
    try:
        return datetime.strptime(main, "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _cases() -> list[str]:
    rng = random.Random(12)
    out = ["20260314090000", "19991231235959", "20240229120000", "20230229120000",
           "20260230101010", "00000101000000", "09990101000000", "20261301000000",
           "20260001000000", "20260100000000", "20260132000000", "20260101240000",
           "20260101236000", "20260101235960", "20260101235961", "20260101235999",
           "2026010123595\u0661", "2026-1-1 1:1:1", "20260101 00000"]
    for _ in range(3000):
        out.append("".join(rng.choice("0123456789") for _ in range(14)))
    for _ in range(3000):  # mostly plausible values with some fields out of range
        y, mo, d = rng.randint(0, 9999), rng.randint(0, 19), rng.randint(0, 39)
        h, mi, s = rng.randint(0, 29), rng.randint(0, 69), rng.randint(0, 69)
        out.append(f"{y:04d}{mo:02d}{d:02d}{h:02d}{mi:02d}{s:02d}")
    return out


def test_parse_dt_equals_strptime():
    for main in _cases():
        assert reader._parse_dt(main) == _strptime_reference(main), main
        # with fraction and UTC offset, as DICOM DT values come
        ref = _strptime_reference(main)
        if ref is not None:
            ref = ref.replace(microsecond=123400)
        assert reader._parse_dt(main + ".1234+0100") == ref, main


def test_shared_items_are_shared_and_read_like_pydicom():
    data = encode_rdsr(example_procedure(40, seed=8))
    root = _fastparse.parse(data)
    events = [it for it in root.ContentSequence
              if reader._concept(it) == reader.C.IrradiationEventXRayData]
    # the concept-name items of the same concept in different events are one object
    firsts = {id(e.ContentSequence[0].ConceptNameCodeSequence[0]) for e in events}
    assert len(firsts) == 1
    fast = reader._parse(root, "x")
    ds = pydicom.dcmread(io.BytesIO(data))
    ref = reader._parse(ds, "x")
    assert fast.to_dict() == ref.to_dict()
    # a second walk over the same (now cached) tree gives the same again
    assert reader._parse(root, "x").to_dict() == ref.to_dict()


def _kvp_mv(event):
    items = [it for it in event.ContentSequence if reader._concept(it) == reader.C.KVP]
    return items[0].MeasuredValueSequence[0]


def test_editing_one_copy_of_a_shared_value_changes_one_event():
    """The measured-value cache is per object: bytes that differ get their own object."""
    data = encode_rdsr(example_procedure(200, seed=8))
    plain = reader.read_rdsr(data)
    root = _fastparse.parse(data)
    events = [it for it in root.ContentSequence
              if reader._concept(it) == reader.C.IrradiationEventXRayData]
    by_value: dict[float, list[int]] = {}
    for k, ev in enumerate(plain.events):
        by_value.setdefault(ev.kvp, []).append(k)
    which, other = next(ks[:2] for ks in by_value.values() if len(ks) > 1)
    mv = _kvp_mv(events[which])
    assert mv is _kvp_mv(events[other])  # one object for both events' kVp
    reader.read_rdsr(data)  # (a first read fills the caches of its own tree)
    raw = dict.__getitem__(mv, "NumericValue")
    assert raw.__class__ is tuple  # still undecoded: (VR, start, end, ctx)
    _, start, end, _ = raw
    kvp = data[start:end].strip()
    new = b"99" if kvp != b"99" else b"98"  # a plausible kVp that fits in the value
    assert len(new) <= end - start
    edited = data[:start] + new.ljust(end - start) + data[end:]
    got = reader.read_rdsr(edited)
    assert got.events[which].kvp == pytest.approx(float(new))
    assert got.events[other].kvp == plain.events[other].kvp
    for k, (a, b) in enumerate(zip(got.events, plain.events, strict=True)):
        if k != which:
            assert a.kvp == b.kvp


# ---------------------------------------------------------------------------------------------
# damaged undefined-length files (the memo's candidate ends, whole-sequence sharing)

UNDEFINED_REAL = [p for p in real_rdsr_files()
                  if p.name == "pyskindose__siemens_axiom_example_procedure.dcm"]


def _undefined_sources():
    from tests.rdsr.test_fast_reader import _to_bytes

    proc = example_procedure(12, seed=21)
    yield "synthetic-explicit-undefined", _to_bytes(build_rdsr(proc), undefined=True)
    yield "synthetic-implicit-undefined", _to_bytes(build_rdsr(proc), implicit=True,
                                                    undefined=True)
    for p in UNDEFINED_REAL:
        yield p.name, p.read_bytes()


@pytest.mark.parametrize("label,data", list(_undefined_sources()),
                         ids=[lab for lab, _ in _undefined_sources()])
def test_undefined_length_mutants_fast_equals_pydicom(label, data):
    from tests.rdsr.test_fast_reader import _comparable, _fast, _mutants, _reference

    assert _comparable(reader._parse(_fastparse.parse(data), "<bytes>")) == _comparable(
        _reference(data))  # the intact file: fast path, no fallback
    for what, m in _mutants(data, seed=len(data) + 5, n_flip=16, n_trunc=4, n_del=4):
        assert _comparable(_fast(m)) == _comparable(_reference(m)), (label, what)
