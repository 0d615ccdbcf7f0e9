"""`skindose demo` end to end in a temporary directory, checked as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from skindose import compute, phantoms, read_rdsr
from skindose.plotting import format_gy
from skindose.report import summary_errors
from tests.test_plotting import assert_nontrivial_png
from tests.test_report import _browser, _chromium


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    r = subprocess.run([sys.executable, "-m", "skindose.cli", "demo"], cwd=cwd,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "report folder" in r.stdout
    (cwd / "skindose-demo" / "stdout.txt").write_text(r.stdout, encoding="utf-8")
    return cwd / "skindose-demo"


def test_demo_report_folder(demo_dir):
    for name in ("summary.json", "report.html", "dose_map.ply", "dose_map.npz",
                 "dose_views.png", "psd_timeline.png", "beam_geometry.png", "demo_rdsr.dcm"):
        assert (demo_dir / name).is_file(), name
    summary = json.loads((demo_dir / "summary.json").read_text())
    assert summary_errors(summary) == []
    for png in demo_dir.glob("*.png"):
        assert_nontrivial_png(png)


def test_demo_psd_equals_the_api(demo_dir):
    summary = json.loads((demo_dir / "summary.json").read_text())
    proc = read_rdsr(demo_dir / "demo_rdsr.dcm")
    ph = phantoms.adult(height_m=proc.patient.height_m, mass_kg=proc.patient.mass_kg)
    api = compute(proc, ph)
    assert summary["psd_gy"] == pytest.approx(api.psd_gy, rel=1e-12)
    assert summary["psd_location"]["label"] == api.psd_location["label"]


def test_demo_html_in_headless_chromium(demo_dir, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser installed (.ci/run installs Debian's chromium)")
    summary = json.loads((demo_dir / "summary.json").read_text())
    dom = _chromium(browser, tmp_path, "--dump-dom", (demo_dir / "report.html").as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert format_gy(summary["psd_gy"]) in dom.stdout


def test_demo_headline_gives_the_area_averaged_psd(demo_dir):
    summary = json.loads((demo_dir / "summary.json").read_text())
    out = (demo_dir / "stdout.txt").read_text(encoding="utf-8")
    psd, a1, a10 = summary["psd_gy"], summary["psd_1cm2_gy"], summary["psd_10cm2_gy"]
    assert 0 < a10 <= a1 <= psd
    line = next(x for x in out.splitlines() if x.startswith("PSD "))
    assert line == (f"PSD {psd:.3g} Gy (max cell); {a1:.3g} Gy averaged over 1 cm², "
                    f"{a10:.3g} Gy over 10 cm²")


def test_demo_report_draws_the_beams(demo_dir):
    text = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert "alt='beam_geometry'" in text
    assert "C<sub>cal</sub>, no table attenuation: an upper bound" in text
    assert "PSD / Σ K<sub>RP</sub> = " in text
