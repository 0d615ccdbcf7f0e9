"""``read_rdsr(..., progress=...)``: what is reported, when, and that it changes nothing else.

Independent checks: the calls are compared with the rules of the contract (increasing
multiples of 5 up to 100, at most 20 calls, the byte scan before the walk) and the Procedure
with the one read without ``progress``; the CLI line is read from the captured stderr.
"""

from __future__ import annotations

import io
import warnings

import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian

from skindose.rdsr import reader
from skindose.rdsr.synthetic import encode_rdsr, example_procedure
from tests.conftest import real_rdsr_files
from tests.rdsr._lengths import mark_undefined_lengths

REAL = real_rdsr_files()


def _undefined(data: bytes) -> bytes:
    """The same file with undefined-length sequences and items (pydicom writes it)."""
    ds = pydicom.dcmread(io.BytesIO(data))
    mark_undefined_lengths(ds)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _check_calls(calls: list[tuple[int, int]]) -> None:
    assert calls, "progress was never called"
    assert len(calls) <= 20
    assert all(t == 100 for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(set(done)), done  # strictly increasing
    assert all(d % 5 == 0 and 0 < d <= 100 for d in done), done
    assert done[-1] == 100


SOURCES = [
    pytest.param(lambda: encode_rdsr(example_procedure(60, seed=5)), id="synthetic-defined"),
    pytest.param(lambda: _undefined(encode_rdsr(example_procedure(60, seed=5))),
                 id="synthetic-undefined"),
    *[pytest.param(lambda p=p: p.read_bytes(), id=p.name) for p in REAL],
]


@pytest.mark.parametrize("make", SOURCES)
def test_progress_contract_and_same_procedure(make, monkeypatch):
    data = make()
    plain = reader.read_rdsr(data)
    events: list = []
    real_parse = reader._parse

    def parse_marked(*a, **kw):  # the walk starts: everything before is the byte scan
        events.append("walk")
        return real_parse(*a, **kw)

    monkeypatch.setattr(reader, "_parse", parse_marked)
    got = reader.read_rdsr(data, progress=lambda d, t: events.append((d, t)))
    monkeypatch.undo()
    assert got.to_dict() == plain.to_dict()
    calls = [e for e in events if e != "walk"]
    _check_calls(calls)
    walk_at = events.index("walk")
    assert all(d <= 50 for d, _ in events[:walk_at])
    assert all(d > 50 for d, _ in events[walk_at + 1:])
    if plain.n_events >= 20:  # long enough for every step of both halves
        assert [d for d, _ in calls] == list(range(5, 101, 5))


def test_progress_on_the_pydicom_path():
    data = encode_rdsr(example_procedure(30, seed=2))
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pydicom.dcmwrite(buf, ds, implicit_vr=False, little_endian=False,
                         enforce_file_format=True)
    big = buf.getvalue()
    calls: list = []
    got = reader.read_rdsr(big, progress=lambda d, t: calls.append((d, t)))
    assert any(n.code.value == "reader-fallback-pydicom" for n in got.notes)
    assert got.to_dict() == reader.read_rdsr(big).to_dict()
    _check_calls(calls)
    assert calls[0] == (50, 100)  # dcmread has no progress of its own


def test_progress_from_a_dataset_source():
    ds = pydicom.dcmread(io.BytesIO(encode_rdsr(example_procedure(25, seed=4))))
    calls: list = []
    reader.read_rdsr(ds, progress=lambda d, t: calls.append((d, t)))
    _check_calls(calls)


def test_an_exception_in_progress_reaches_the_caller_unchanged():
    class Stop(Exception):
        pass

    def stop(done, total):
        if done > 60:  # inside the walk, whose errors would become RDSRError
            raise Stop("caller's own")

    with pytest.raises(Stop, match="caller's own"):
        reader.read_rdsr(encode_rdsr(example_procedure(40, seed=1)), progress=stop)


def test_progress_line_for_long_files_only(tmp_path, monkeypatch, capsys):
    path = tmp_path / "long.dcm"
    path.write_bytes(encode_rdsr(example_procedure(40, seed=3)))
    assert reader.progress_line(path) is None  # under the threshold
    assert reader.progress_line(b"bytes") is None
    assert reader.progress_line(tmp_path / "missing.dcm") is None
    monkeypatch.setattr(reader, "PROGRESS_MIN_BYTES", path.stat().st_size)
    show = reader.progress_line(path)
    assert show is not None
    reader.read_rdsr(path, progress=show)
    err = capsys.readouterr().err
    assert err.count("\r") == 20
    assert err.endswith("\rskindose: reading long.dcm: 100%\n")
    assert "\rskindose: reading long.dcm: 50%" in err


def test_cli_compute_shows_the_reading_line(tmp_path, monkeypatch, capsys):
    from skindose import cli

    path = tmp_path / "exam.dcm"
    path.write_bytes(encode_rdsr(example_procedure(30, seed=3)))
    monkeypatch.setattr(reader, "PROGRESS_MIN_BYTES", 1)

    class Read(BaseException):
        pass

    def stop(procs, *a, **kw):
        raise Read(procs)

    monkeypatch.setattr(cli, "_preload_for_compute", lambda *a, **kw: None)
    monkeypatch.setattr(cli, "_run_compute", stop)
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: True)
    with pytest.raises(Read) as got:
        cli.main(["compute", str(path)])
    assert got.value.args[0][0].n_events == 30
    assert "\rskindose: reading exam.dcm: 100%\n" in capsys.readouterr().err
    # --json: no line
    with pytest.raises(Read):
        cli.main(["compute", str(path), "--json"])
    assert "reading" not in capsys.readouterr().err
