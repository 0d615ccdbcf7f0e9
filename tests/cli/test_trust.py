"""The CLI never lies by omission: exit codes, notes on screen, checks before the long work,
robust output streams and whole-or-nothing output folders (issue 11, items 4-6)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skindose import cli
from skindose.notes import Note, NoteCode, Severity
from skindose.rdsr.synthetic import example_procedure, write_rdsr

PY = sys.executable


def run(*args: str, cwd: Path | None = None, env: dict | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([PY, "-m", "skindose.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=e, timeout=timeout)


def one_clean_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def small_rdsr(tmp_path_factory) -> Path:
    return write_rdsr(example_procedure(n_events=8, seed=3),
                      tmp_path_factory.mktemp("trust") / "small.dcm")


# --- checked before the long work ----------------------------------------------------------------


def test_out_pointing_at_a_file_is_refused_before_reading_anything(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("not a folder")
    # the input does not even exist: the --out check comes first, before any reading
    r = run("compute", str(tmp_path / "missing.dcm"), "--out", str(f))
    assert r.returncode == 2
    line = one_clean_line(r)
    assert "--out" in line and "not a folder" in line and str(f) in line
    assert f.read_text() == "not a folder"


def test_out_below_a_file_is_refused(small_rdsr, tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    r = run("compute", str(small_rdsr), "--out", str(f / "report"), "--phantom", "cylinder")
    assert r.returncode == 2 and "--out" in one_clean_line(r)


def test_out_in_an_unwritable_folder_is_refused_before_reading(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere on disk: use a file system nobody can write
        target = Path("/proc/skindose-report")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "report"
    r = run("compute", str(tmp_path / "missing.dcm"), "--out", str(target))
    assert r.returncode == 2
    line = one_clean_line(r)
    assert "--out" in line and "cannot write" in line


def test_export_to_an_unknown_extension_or_a_missing_folder(tmp_path):
    r = run("phantoms", "--export", "cylinder", str(tmp_path / "x.abc"))
    assert r.returncode == 2
    line = one_clean_line(r)
    assert "'.abc'" in line and ".stl" in line
    r = run("phantoms", "--export", "cylinder", str(tmp_path / "nodir" / "x.stl"))
    assert r.returncode == 2
    assert "does not exist" in one_clean_line(r)
    r = run("phantoms", "--export", "child", str(tmp_path / "x.stl"))
    assert r.returncode == 2 and "adult" in one_clean_line(r)
    assert list(tmp_path.iterdir()) == []  # nothing half written


def test_export_writes_a_whole_file_and_nothing_else(tmp_path):
    out = tmp_path / "cyl.stl"
    r = run("phantoms", "--export", "cylinder", str(out), "--cell-area-cm2", "16")
    assert r.returncode == 0, r.stderr
    import trimesh

    m = trimesh.load(out)
    assert m.is_watertight and len(m.faces) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cyl.stl"]


@pytest.mark.parametrize("toml, key, expected", [
    ("thresholds_gy = 3", "thresholds_gy", "list of numbers"),
    ('calibration_factor = "2"', "calibration_factor", "a number"),
    ('inverse_square = "yes"', "inverse_square", "true or false"),
    ("cell_area_cm2 = 0", "cell_area_cm2", "out of range"),
    ("default_kvp = nan", "default_kvp", "out of range"),
    ("placement_offset_mm = [1, 2]", "placement_offset_mm", "three numbers"),
    ("calibration_by_kvp = [[70, 1.0, 3]]", "calibration_by_kvp[0]", "pair"),
])
def test_wrong_settings_name_the_key_and_the_expected_type(small_rdsr, tmp_path, toml, key,
                                                           expected):
    s = tmp_path / "s.toml"
    s.write_text(toml + "\n")
    r = run("compute", str(small_rdsr), "--settings", str(s))
    assert r.returncode == 2
    line = one_clean_line(r)
    assert key in line and expected in line and str(s) in line


@pytest.mark.parametrize("args, option", [
    (["--height-m", "0"], "--height-m"),
    (["--height-m", "nan"], "--height-m"),
    (["--height-m", "170"], "--height-m"),  # cm given for m
    (["--mass-kg", "0"], "--mass-kg"),
    (["--mass-kg", "-70"], "--mass-kg"),
])
def test_absurd_patient_sizes_are_rejected_not_ignored(small_rdsr, args, option):
    r = run("compute", str(small_rdsr), *args)
    assert r.returncode == 2
    line = one_clean_line(r)
    assert option in line and "plausible" in line


def test_demo_events_must_be_positive(tmp_path):
    r = run("demo", "--events", "0", cwd=tmp_path)
    assert r.returncode == 2 and "--events" in one_clean_line(r)
    assert list(tmp_path.iterdir()) == []


def test_unknown_phantom_lists_the_names(small_rdsr):
    r = run("compute", str(small_rdsr), "--phantom", "child")
    assert r.returncode == 2
    line = one_clean_line(r)
    for name in ("adult", "cylinder", "plane"):
        assert name in line
    r = run("compute", str(small_rdsr), "--phantom", "child.stl")
    assert r.returncode == 2 and "not found" in one_clean_line(r)


def test_usage_errors_are_one_line(small_rdsr):
    r = run("compute")
    assert r.returncode == 2 and "FILE" in one_clean_line(r)


# --- streams -------------------------------------------------------------------------------------


def test_piping_into_head_is_quiet(tmp_path):
    big = write_rdsr(example_procedure(n_events=1500, seed=1), tmp_path / "big.dcm")
    p = subprocess.Popen([PY, "-m", "skindose.cli", "inspect", str(big)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # what `| head -1` does
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert first.startswith(b"== ")
    assert "Traceback" not in err and "BrokenPipe" not in err and err == "", err
    assert p.returncode == 0


@pytest.mark.parametrize("env", [
    {"PYTHONIOENCODING": "ascii"},
    {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
     "PYTHONIOENCODING": ""},
])
def test_a_terminal_that_cannot_print_unicode_still_gets_the_text(small_rdsr, env):
    r = run("compute", str(small_rdsr), "--phantom", "cylinder", env=env)
    assert r.returncode in (0, 3, 4), r.stderr
    assert "Traceback" not in r.stderr
    assert "PSD " in r.stdout and "area >= 2 Gy" in r.stdout and "cm2" in r.stdout
    r = run("inspect", str(small_rdsr), env=env)
    assert r.returncode in (0, 4) and "Traceback" not in r.stderr
    assert "sum events" in r.stdout  # "Σ events" spelled in ASCII


# --- notes and exit codes ------------------------------------------------------------------------


class _WithNotes:
    """A real SkinDoseMap seen through extra typed notes (as compute gives them)."""

    def __init__(self, result, notes):
        self._r = result
        self.notes = tuple(notes)

    def __getattr__(self, name):
        return getattr(self._r, name)


def _fake_compute(monkeypatch, notes, scale: float = 1.0):
    import skindose

    real = skindose.compute

    def fake(procs, phantom=None, settings=None, progress=False, **kw):
        if scale != 1.0:
            procs = [dataclasses.replace(p, events=tuple(
                dataclasses.replace(e, kerma_rp_gy=e.kerma_rp_gy * scale,
                                    kap_gym2=e.kap_gym2 * scale) for e in p.events),
                accumulated=()) for p in procs]
        return _WithNotes(real(procs, phantom, settings=settings, progress=progress), notes)

    monkeypatch.setattr(skindose, "compute", fake)


CRIT = Note(code=NoteCode.FILE_TRUNCATED, severity=Severity.CRITICAL,
            text="events carry 35 % of the K_RP this file reports; the file looks truncated")
WARN = Note(code=NoteCode.TABLE_ESTIMATED, text="table transmission estimated (0.75)")
INFO = Note(code=NoteCode.PHANTOM, text="phantom: cylinder")


def test_a_critical_note_exits_4_and_is_printed_first(small_rdsr, monkeypatch, capsys):
    _fake_compute(monkeypatch, [INFO, WARN, CRIT])
    rc = cli.main(["compute", str(small_rdsr), "--phantom", "cylinder"])
    out = capsys.readouterr().out
    assert rc == 4
    assert CRIT.text in out and WARN.text in out and INFO.text not in out
    assert out.index(CRIT.text) < out.index(WARN.text)
    assert "exit 4" in out and "incomplete" in out


def test_srdl_wins_over_critical_and_both_are_explained(small_rdsr, monkeypatch, capsys):
    _fake_compute(monkeypatch, [WARN, CRIT], scale=400.0)
    rc = cli.main(["compute", str(small_rdsr), "--phantom", "cylinder"])
    out = capsys.readouterr().out
    assert rc == 3
    assert "exit 3" in out and "critical" in out and CRIT.text in out
    rc = cli.main(["compute", str(small_rdsr), "--phantom", "cylinder", "--json"])
    cap = capsys.readouterr()
    assert rc == 3 and json.loads(cap.out)["psd_gy"] >= 3.0
    assert "exit 3" in cap.err and "critical" in cap.err


def test_warnings_are_printed_in_words_not_counted(rdsr_dir, capsys):
    from skindose import compute, phantoms, read_rdsr
    from skindose.settings import Settings

    f = rdsr_dir / "openrem__RF-RDSR-Philips_Allura.dcm"
    res = compute(read_rdsr(f), phantoms.cylinder(), settings=Settings())
    rc = cli.main(["compute", str(f), "--phantom", "cylinder"])
    out = capsys.readouterr().out
    assert rc in (0, 3, 4)
    texts = [n.text for n in cli._notes_of(res) if n.severity is not Severity.INFO]
    assert texts, "the example has warnings"
    for t in texts:
        assert t in out
    assert "warning(s); see the report" not in out


# --- whole-or-nothing output folders ------------------------------------------------------------


def test_out_folder_is_replaced_whole_and_stale_outputs_go(small_rdsr, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "dose_old.png").write_bytes(b"stale")
    (out / "dose_map.ply").write_text("stale")
    (out / "mine.txt").write_text("the user's own file")
    inp = out / "input.dcm"  # the input may live in the report folder: it stays
    inp.write_bytes(small_rdsr.read_bytes())
    r = run("compute", str(inp), "--phantom", "cylinder", "--out", str(out))
    assert r.returncode in (0, 3, 4), r.stderr
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "report.html", "dose_map.ply"} <= names
    assert "dose_old.png" not in names and {"mine.txt", "input.dcm"} <= names
    assert (out / "dose_map.ply").read_bytes() != b"stale"
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary folder left


def test_a_failed_run_leaves_no_folder(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_text("hello")
    r = run("compute", str(bad), "--out", str(tmp_path / "new" / "rep"))
    assert r.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.dcm"]
