"""The fast RDSR reader (skindose.rdsr._fastparse) against pydicom, the reference.

Independent reference: pydicom's own reader. Every shared real file, synthetic files in both
VR encodings and with defined and undefined lengths, and damaged copies (truncations, byte
flips, deleted items) must give the same Procedure (or the same error) whether the bytes go
through the fast path or through ``pydicom.dcmread``.
"""

from __future__ import annotations

import io
import random
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from skindose.errors import RDSRError
from skindose.rdsr import _fastparse, reader
from skindose.rdsr.synthetic import Quirks, build_rdsr, example_procedure
from tests.conftest import real_rdsr_files
from tests.rdsr._lengths import mark_undefined_lengths

REAL = real_rdsr_files()
FALLBACK = "reader-fallback-pydicom"


def _reference(data: bytes, name: str = "<bytes>"):
    """The pydicom path of the reader, exactly as before the fast path (reference)."""
    try:
        ds, name = reader._load(io.BytesIO(data), name)
        try:
            return reader._parse(ds, name)
        except RDSRError:
            raise
        except Exception as exc:
            raise reader._unexpected(exc, name) from exc
    except RDSRError as exc:
        return ("error", str(exc))


def _fast(data: bytes):
    try:
        return reader.read_rdsr(data)
    except RDSRError as exc:
        return ("error", str(exc))


def _comparable(result):
    if isinstance(result, tuple):
        return result
    d = result.to_dict()
    if "notes" in d:  # allowed differences: the fallback note, and the truncation that only
        # the byte scan can see (pydicom reads a cut file silently)
        # and the byte-level count of event containers, which needs the bytes
        d["notes"] = [n for n in d["notes"] if n.get("code") not in (FALLBACK, "file-truncated")
                      and "n_in_file" not in (n.get("data") or {})]
    return d


def _fast_only(data: bytes, name: str = "<bytes>"):
    """The fast path alone (raises Fallback when it would hand the file to pydicom)."""
    return reader._parse(_fastparse.parse(data), name)


def _to_bytes(ds, *, implicit: bool = False, undefined: bool = False) -> bytes:
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    if undefined:
        mark_undefined_lengths(ds)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# real files


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_file_fast_path_equals_pydicom(path: Path):
    data = path.read_bytes()
    fast = _fast_only(data, str(path))  # must not fall back on any shared real file
    ref = _reference(data, str(path))
    assert not isinstance(ref, tuple), ref
    assert _comparable(fast) == _comparable(ref)
    # the public entry point gives the same
    assert _comparable(reader.read_rdsr(path)) == _comparable(ref)


def _same_value(fast, ref) -> bool:
    if isinstance(ref, Sequence):
        return len(fast) == len(ref)
    if isinstance(ref, MultiValue | list | tuple):
        return list(map(str, fast)) == list(map(str, ref))
    if isinstance(ref, float):
        return float(fast) == float(ref) and str(fast) == str(ref)
    return str(fast) == str(ref)


def _walk_compare(fds, pds, counts):
    for el in pds:
        if el.tag.is_private or not el.keyword:
            continue
        try:
            fv = fds.get(el.keyword)
            fvr = fds[el.tag].VR
        except _fastparse.Fallback as exc:
            counts["fallback"] += 1
            counts.setdefault("reasons", set()).add(str(exc))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pv = el.value
        assert el.keyword in fds
        assert _same_value(fv, pv), (el.keyword, fv, pv)
        assert fvr == el.VR, (el.keyword, fvr, el.VR)
        counts["compared"] += 1
        if el.VR == "SQ":
            for fi, pi in zip(fv, pv, strict=True):
                _walk_compare(fi, pi, counts)


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_every_element_decodes_as_pydicom(path: Path):
    """Element by element, the whole tree of each real file (not only what the walk reads)."""
    data = path.read_bytes()
    fds = _fastparse.parse(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pds = pydicom.dcmread(io.BytesIO(data))
    counts = {"compared": 0, "fallback": 0}
    _walk_compare(fds, pds, counts)
    assert counts["compared"] > 200
    # a Fallback on an element is allowed only where the fast path refuses on purpose: text in
    # ISO 2022 code extensions (escape sequences) and UIDs that pydicom warns about
    allowed = {"ISO 2022 escape sequences in text", "a UID that is not a valid DICOM UID",
               "non-ASCII text in a character set the fast path does not decode"}
    assert counts.get("reasons", set()) <= allowed


# ---------------------------------------------------------------------------------------------
# synthetic files: both VR encodings, defined and undefined lengths, every quirk


QUIRKS = [
    Quirks(),
    Quirks(legacy_codes=True, kap_unit="dGy.cm2", dose_unit="mGy", multivalued_kvp=True),
    Quirks(philips_private=True, rp_text="15cm below BeamIsocenter", zeros_for_unknown=True),
    Quirks(siemens_xml_position=True, canon_modifier_sibling=True, empty_relationship=True,
           empty_angles=True, retired_codes=True, no_template=True, exponent_numbers=True),
]


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("undefined", [False, True], ids=["defined", "undefined"])
@pytest.mark.parametrize("qi", range(len(QUIRKS)))
def test_synthetic_fast_equals_pydicom(qi, implicit, undefined):
    proc = example_procedure(n_events=6, seed=qi)
    data = _to_bytes(build_rdsr(proc, QUIRKS[qi]), implicit=implicit, undefined=undefined)
    fast = _fast_only(data)
    assert _comparable(fast) == _comparable(_reference(data))
    assert len(fast.events) == 6


def test_non_ascii_text_utf8_and_latin1():
    proc = example_procedure(n_events=2, seed=3)
    ds = build_rdsr(proc)
    ds.StudyDescription = "Koronarangiographie – Größe µ"
    ds.InstitutionName = "Hôpital Européen"
    data = _to_bytes(ds)  # ISO_IR 192 (UTF-8)
    fast = _fast_only(data)
    assert fast.study.description == "Koronarangiographie – Größe µ"
    assert _comparable(fast) == _comparable(_reference(data))
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.StudyDescription = "Größe µ"
    data = _to_bytes(ds)
    assert _fast_only(data).study.description == "Größe µ"
    assert _comparable(_fast_only(data)) == _comparable(_reference(data))


# ---------------------------------------------------------------------------------------------
# fallback to pydicom


def test_big_endian_falls_back_and_gives_the_same_procedure():
    ds = build_rdsr(example_procedure(n_events=3, seed=2))
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pydicom.dcmwrite(buf, ds, implicit_vr=False, little_endian=False,
                         enforce_file_format=True)
    data = buf.getvalue()
    with pytest.raises(_fastparse.Fallback, match="transfer syntax"):
        _fastparse.parse(data)
    proc = reader.read_rdsr(data)
    assert _comparable(proc) == _comparable(_reference(data))
    if hasattr(proc, "notes"):
        assert any(n.code.value == FALLBACK for n in proc.notes)


def test_value_pydicom_would_not_convert_falls_back():
    ds = build_rdsr(example_procedure(n_events=2, seed=5))
    ds.PatientWeight = "1_0"  # float() accepts it, DICOM (and so the fast path) does not
    data = _to_bytes(ds)
    with pytest.raises(_fastparse.Fallback):
        _fast_only(data)
    assert _comparable(reader.read_rdsr(data)) == _comparable(_reference(data))


def test_fallback_is_not_swallowed_by_the_walk():
    # Fallback is a BaseException: a broad ``except Exception`` cannot hide it
    assert not issubclass(_fastparse.Fallback, Exception)


def test_sources_all_read_alike(tmp_path):
    data = _to_bytes(build_rdsr(example_procedure(n_events=3, seed=9)))
    p = tmp_path / "x.dcm"
    p.write_bytes(data)
    want = _comparable(reader.read_rdsr(p))
    with p.open("rb") as fh:
        got_fh = reader.read_rdsr(fh)
    for got in (reader.read_rdsr(str(p)), got_fh, reader.read_rdsr(bytearray(data)),
                reader.read_rdsr(memoryview(data))):
        g = _comparable(got)
        g["source"] = want["source"]
        assert g == want
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(p)
    assert _comparable(reader.read_rdsr(ds)) == want


def test_not_dicom_and_missing_file_errors_unchanged(tmp_path):
    with pytest.raises(RDSRError, match="not a DICOM file"):
        reader.read_rdsr(b"hello world" * 20)
    with pytest.raises(RDSRError, match="file not found"):
        reader.read_rdsr(tmp_path / "nope.dcm")
    with pytest.raises(RDSRError, match="directory"):
        reader.read_rdsr(tmp_path)
    with pytest.raises(RDSRError, match="cannot read an RDSR"):
        reader.read_rdsr(12345)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# damaged files: fast path + fallback must equal pydicom, mutant by mutant

MUTANT_FILES = [p for p in REAL if p.name in (
    "openrem__RF-RDSR-Philips_Allura.dcm",  # explicit VR, ISO 2022 character set
    "openrem__RF-No-kVp-and-others.dcm",  # implicit VR, ISO_IR 100
    "openrem__RF-RDSR-Siemens-Zee.dcm",  # explicit VR, UTF-8
)]


def _item_offsets(data: bytes) -> list[int]:
    out = []
    i = data.find(b"\xfe\xff\x00\xe0", 132)
    while i != -1:
        out.append(i)
        i = data.find(b"\xfe\xff\x00\xe0", i + 4)
    return out


def _mutants(data: bytes, seed: int, n_flip: int = 14, n_trunc: int = 6, n_del: int = 4):
    rng = random.Random(seed)
    size = len(data)
    for k in range(n_trunc):
        cut = rng.randrange(140, size) if k else size - 3
        yield f"truncate@{cut}", data[:cut]
    for _ in range(n_flip):
        at = rng.randrange(132, size)
        b = bytearray(data)
        b[at] ^= 1 << rng.randrange(8)
        yield f"flip@{at}", bytes(b)
    items = _item_offsets(data)
    for _ in range(n_del):  # cut one item header + 8 bytes: lengths no longer add up
        at = rng.choice(items)
        yield f"del-item-header@{at}", data[:at] + data[at + 16:]


def _deleted_content_items(path: Path, seed: int):
    """Well-formed files with content items deleted (via pydicom, lengths rewritten)."""
    rng = random.Random(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            ds = pydicom.dcmread(path)
            root = ds.ContentSequence
            k = rng.randrange(len(root))
            kids = root[k].get("ContentSequence")
            if kids and rng.random() < 0.7:
                del kids[rng.randrange(len(kids))]
            else:
                del root[k]
            buf = io.BytesIO()
            ds.save_as(buf)
            yield f"del-content-item@{k}", buf.getvalue()


@pytest.mark.parametrize("path", MUTANT_FILES, ids=[p.name for p in MUTANT_FILES])
def test_mutants_fast_equals_pydicom(path: Path):
    data = path.read_bytes()
    mutants = [*_mutants(data, seed=len(data)), *_deleted_content_items(path, seed=7)]
    fell_back = 0
    for label, m in mutants:
        try:
            _fastparse.parse(m)
        except _fastparse.Fallback:
            fell_back += 1
        assert _comparable(_fast(m)) == _comparable(_reference(m)), label
    assert fell_back >= 1  # the damage was seen (truncations at least)


# ---------------------------------------------------------------------------------------------
# the synthetic writer's direct encoder (skindose.rdsr._fastwrite)


def test_encoded_synthetic_file_reads_back_through_pydicom(tmp_path):
    from skindose.rdsr.synthetic import encode_rdsr, write_rdsr

    proc = example_procedure(n_events=20, seed=11)
    data = encode_rdsr(proc, Quirks(philips_private=True, multivalued_kvp=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom must not have to repair anything
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.walk(lambda d, el: el.value)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.67"
    back = reader.read_rdsr(data)
    assert [e.kerma_rp_gy for e in back.events] == [e.kerma_rp_gy for e in proc.events]
    p = write_rdsr(proc, tmp_path / "x.dcm")
    assert p.read_bytes()[128:132] == b"DICM"


def test_demo_sized_file_is_written_fast(tmp_path):
    import time

    from skindose.rdsr.synthetic import write_rdsr

    proc = example_procedure(n_events=200)
    t0 = time.perf_counter()
    write_rdsr(proc, tmp_path / "demo.dcm")
    elapsed = time.perf_counter() - t0
    assert elapsed < 3.0, elapsed  # ~0.1-0.2 s; generous for a loaded machine


@pytest.mark.skipif(__import__("shutil").which("dcmdump") is None, reason="DCMTK not installed")
def test_encoded_file_parses_in_dcmtk(tmp_path):
    import subprocess

    from skindose.rdsr.synthetic import write_rdsr

    p = write_rdsr(example_procedure(n_events=4, seed=2), tmp_path / "x.dcm")
    r = subprocess.run(["dcmdump", "+E", str(p)], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert "E:" not in r.stderr and "W:" not in r.stderr
    assert "(0040,a730) SQ" in r.stdout  # ContentSequence


def test_import_and_inspect_stay_numba_free():
    import subprocess
    import sys

    from tests.conftest import RDSR_DIR

    f = sorted(RDSR_DIR.glob("*.dcm"))[0] if RDSR_DIR.is_dir() else None
    if f is None:
        pytest.skip("no shared data")
    code = (
        "import sys, contextlib, io\n"
        "import skindose\n"
        "assert 'numba' not in sys.modules, 'import skindose imported numba'\n"
        "from skindose.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['inspect', {str(f)!r}])\n"
        "assert rc in (0, 3, 4), rc\n"
        "assert 'numba' not in sys.modules, 'skindose inspect imported numba'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]


def test_reader_race_smoke(tmp_path):
    """benchmarks/compare_pyskindose.py's reader race runs; numbers positive, no fallback."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_pyskindose.py"
    if not path.exists() or not REAL:
        pytest.skip("benchmarks or shared data not present")
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location("skindose_bench_compare", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        small = min(REAL, key=lambda f: f.stat().st_size)
        rows = mod.reader_race(synthetic_events=20, tmp=tmp_path, files=[small])
    finally:
        sys.path.remove(str(path.parent))
    assert len(rows) == 2
    for r in rows:
        assert r["read_rdsr_s"] > 0 and r["dcmread_full_decode_s"] > 0
        assert r["events"] > 0
        assert not r["fast_path_fell_back"]


def test_first_compilation_is_announced_once():
    import numba

    from skindose import _startup

    out = io.StringIO()
    prefix = __name__
    assert _startup.announce_compilation(out, prefix=prefix, force=True)
    assert not _startup.announce_compilation(out, prefix=prefix, force=True)  # once

    @numba.njit(cache=False)
    def f(x):
        return x + 1

    @numba.njit(cache=False)
    def g(x):
        return x * 2

    assert f(1) == 2 and g(2) == 4 and f(1.5) == 2.5
    assert out.getvalue().count(_startup.MESSAGE) == 1
    # not a terminal and not forced: nothing installed
    assert not _startup.announce_compilation(io.StringIO(), prefix="other")
