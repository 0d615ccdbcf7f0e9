"""The command line: exit codes, JSON output, clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skindose import cli
from skindose.rdsr import read_rdsr
from skindose.rdsr.synthetic import example_procedure, write_rdsr


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skindose.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def small_rdsr(tmp_path_factory) -> Path:
    return write_rdsr(example_procedure(n_events=8, seed=3),
                      tmp_path_factory.mktemp("cli") / "small.dcm")


def test_help_teaches():
    r = run("--help")
    assert r.returncode == 0
    for word in ("demo", "inspect", "compute", "phantoms", "exit codes"):
        assert word in r.stdout


def test_inspect_text_and_json(small_rdsr):
    r = run("inspect", str(small_rdsr))
    assert r.returncode == 0, r.stderr
    assert "Siemens AXIOM-Artis" in r.stdout and "K_RP" in r.stdout
    r = run("inspect", "--json", str(small_rdsr))
    assert r.returncode == 0
    d = json.loads(r.stdout)
    proc = read_rdsr(small_rdsr)
    assert len(d["events"]) == proc.n_events == 8
    assert d["totals"][0]["kerma_rp_events_gy"] == pytest.approx(proc.event_sum("kerma_rp_gy"))


def test_inspect_does_not_load_numba(small_rdsr):
    code = (f"import sys; from skindose import cli; cli.main(['inspect', {str(small_rdsr)!r}]); "
            "print('NUMBA' if 'numba' in sys.modules else 'NO-NUMBA')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().endswith("NO-NUMBA")


def test_compute_json_loads_neither_trimesh_nor_scipy_spatial(small_rdsr):
    """The default adult, the computation and the summary need neither (they cost ≈ 0.5 s of
    start-up); only a mesh file, the PLY export and the report use trimesh."""
    code = ("import sys, io, contextlib; from skindose import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    rc = cli.main(['compute', {str(small_rdsr)!r}, '--json'])\n"
            "print(rc, sorted(m for m in ('trimesh', 'scipy.spatial', 'matplotlib') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.stdout.strip().splitlines()[-1].endswith("[]"), r.stdout + r.stderr


def test_bad_input_is_one_clear_line_and_exit_2(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    for cmd in ("inspect", "compute"):
        r = run(cmd, str(bad))
        assert r.returncode == 2
        assert r.stderr.strip().count("\n") == 0, r.stderr
        assert "not a DICOM file" in r.stderr and str(bad) in r.stderr
        assert "Traceback" not in r.stderr


def test_bad_settings_exit_2(small_rdsr, tmp_path):
    s = tmp_path / "s.toml"
    s.write_text("no_such_key = 1\n")
    r = run("compute", str(small_rdsr), "--settings", str(s))
    assert r.returncode == 2 and "no_such_key" in r.stderr


def test_compute_json_and_exit_codes(small_rdsr, tmp_path, capsys):
    rc = cli.main(["compute", str(small_rdsr), "--json", "--phantom", "cylinder"])
    out = capsys.readouterr().out
    d = json.loads(out)
    assert rc == (3 if d["psd_gy"] >= 3.0 else 0)
    assert d["psd_gy"] > 0 and d["schema_version"]
    # a procedure scaled up so its PSD passes 3 Gy must exit with 3
    hot = example_procedure(n_events=8, seed=3)
    import dataclasses

    hot = dataclasses.replace(hot, events=tuple(
        dataclasses.replace(e, kerma_rp_gy=e.kerma_rp_gy * 400.0, kap_gym2=e.kap_gym2 * 400.0)
        for e in hot.events), accumulated=())
    p = write_rdsr(hot, tmp_path / "hot.dcm")
    rc = cli.main(["compute", str(p), "--json", "--phantom", "cylinder"])
    d = json.loads(capsys.readouterr().out)
    assert d["psd_gy"] >= 3.0 and rc == 3


def test_phantoms_list_and_export(tmp_path):
    r = run("phantoms")
    assert r.returncode == 0 and "adult" in r.stdout and "cylinder" in r.stdout
    out = tmp_path / "cyl.stl"
    r = run("phantoms", "--export", "cylinder", str(out), "--cell-area-cm2", "16")
    assert r.returncode == 0 and out.stat().st_size > 1000


def test_headline_of_a_reference_point_estimate_says_what_is_computed():
    from skindose.cli import _headline
    from tests.test_plotting import make_result

    text = _headline(make_result(reference_point=True))
    assert "Σ K_RP × BSF × f × C_cal, no table attenuation: an upper bound" in text
    assert "averaged" not in text  # no map, nothing to average
