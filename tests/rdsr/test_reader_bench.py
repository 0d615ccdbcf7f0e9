"""benchmarks/reader_bench.py runs, and its undefined-length encoding is a faithful file.

The undefined-length copy is checked against pydicom (it reads the same elements) and both
encodings must give the same Procedure through ``read_rdsr`` without a fallback.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pydicom
import pytest

from skindose.rdsr import _fastparse, reader

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "reader_bench.py"


@pytest.fixture(scope="module")
def bench():
    if not BENCH.exists():
        pytest.skip("benchmarks not present")
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec = importlib.util.spec_from_file_location("skindose_reader_bench", BENCH)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(BENCH.parent))


def _undefined_everywhere(ds) -> bool:
    for el in ds:
        if el.VR == "SQ":
            if not el.is_undefined_length:
                return False
            for item in el.value:
                if not item.is_undefined_length_sequence_item or not _undefined_everywhere(item):
                    return False
    return True


def test_undefined_encoding_is_the_same_file(bench):
    files = bench.synthetic_files(30)
    (name_d, defined), (name_u, undefined) = files.items()
    assert name_d.endswith("_defined") and name_u.endswith("_undefined")
    assert len(undefined) > len(defined)
    pd = pydicom.dcmread(io.BytesIO(defined))
    pu = pydicom.dcmread(io.BytesIO(undefined))
    assert _undefined_everywhere(pu)
    assert [e.tag for e in pd.iterall()] == [e.tag for e in pu.iterall()]
    assert [e.value for e in pd.iterall() if e.VR != "SQ"] == [
        e.value for e in pu.iterall() if e.VR != "SQ"]
    a = reader._parse(_fastparse.parse(defined), "x")  # no fallback on either
    b = reader._parse(_fastparse.parse(undefined), "x")
    assert a.to_dict() == b.to_dict()


def test_race_smoke(bench, tmp_path):
    files = bench.synthetic_files(20)
    rows = bench.race(files, repeat=2, big_repeat=1, full_repeat=1)
    assert len(rows) == 2
    for r in rows:
        assert r["events"] == 20 and not r["fast_path_fell_back"]
        for k in ("read_rdsr", "dcmread", "dcmread_walk"):
            assert r[f"{k}_min_s"] > 0 and r[f"{k}_min_s"] <= r[f"{k}_median_s"]
        assert r["dcmread_over_read_rdsr_min"] > 0
