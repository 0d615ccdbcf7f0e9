"""Reports and exports: summary.json schema, PLY, npz, self-contained HTML, headless Chromium."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from skindose import report
from skindose.plotting import format_gy
from tests.test_plotting import assert_nontrivial_png, make_result


@pytest.fixture(scope="module")
def result():
    return make_result(device="<script>alert('x')</script> & Co")


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory) -> dict[str, Path]:
    return result.save(tmp_path_factory.mktemp("out"))


def test_save_writes_everything(saved):
    assert set(saved) >= {"summary", "ply", "npz", "report", "dose_views", "unrolled",
                          "psd_timeline", "beam_geometry"}
    for name, path in saved.items():
        assert path.is_file() and path.stat().st_size > 0, name
    for name in ("dose_views", "unrolled", "psd_timeline", "beam_geometry"):
        assert_nontrivial_png(saved[name])


# --- summary.json ------------------------------------------------------------------------------


def test_summary_validates(saved, result):
    d = json.loads(saved["summary"].read_text(encoding="utf-8"))
    assert report.summary_errors(d) == []
    report.validate_summary(d)
    assert d["schema_version"] == report.SUMMARY_SCHEMA["properties"]["schema_version"]["enum"][0]
    assert d["psd_gy"] == pytest.approx(result.psd_gy)


@pytest.mark.parametrize("breakage", ["missing", "wrong_type", "bad_version", "bad_event",
                                      "bool_as_number"])
def test_broken_summary_fails(result, breakage):
    d = copy.deepcopy(result.summary())
    if breakage == "missing":
        del d["psd_gy"]
    elif breakage == "wrong_type":
        d["warnings"] = "none"
    elif breakage == "bad_version":
        d["schema_version"] = "0.9"
    elif breakage == "bad_event":
        d["events"][0]["index"] = "first"
    else:
        d["psd_gy"] = True
    assert report.summary_errors(d)
    with pytest.raises(ValueError, match="does not match its schema"):
        report.validate_summary(d)


def test_schema_is_json():
    text = json.dumps(report.SUMMARY_SCHEMA)
    assert json.loads(text)["title"] == "skindose summary"


# --- PLY and npz -------------------------------------------------------------------------------


def test_ply_round_trip(saved, result):
    import trimesh

    face, vertex = report.read_ply_dose(saved["ply"])
    np.testing.assert_array_equal(face, result.dose_gy)
    np.testing.assert_allclose(vertex, report.vertex_dose(result))
    mesh = trimesh.load(str(saved["ply"]), process=False)
    assert len(mesh.faces) == result.phantom.n_cells
    np.testing.assert_allclose(mesh.vertices, result.phantom.mesh.vertices, atol=1e-3)
    assert saved["ply"].read_bytes().startswith(b"ply\nformat binary_little_endian")


def test_vertex_dose_is_area_weighted_mean(result):
    v = report.vertex_dose(result)
    faces = np.asarray(result.phantom.mesh.faces)
    k = int(faces[int(np.argmax(result.dose_gy)), 0])
    around = np.flatnonzero((faces == k).any(axis=1))
    a = result.phantom.areas_mm2[around]
    assert v[k] == pytest.approx((a * result.dose_gy[around]).sum() / a.sum())
    assert v.max() <= result.dose_gy.max()


def test_npz_contents(saved, result):
    with np.load(saved["npz"], allow_pickle=False) as z:
        np.testing.assert_array_equal(z["dose_gy"], result.dose_gy)
        np.testing.assert_array_equal(z["centroids"], result.phantom.centroids)
        assert z["faces"].shape == (result.phantom.n_cells, 3)
        assert z["vertex_dose_gy"].shape == (len(z["vertices"]),)
        np.testing.assert_array_equal(z["psd_timeline_gy"], result.psd_timeline_gy)
        assert np.isnan(z["event_entrance_point_mm"][3]).all()
        assert float(z["psd_gy"]) == result.psd_gy
        assert json.loads(str(z["summary_json"]))["psd_gy"] == pytest.approx(result.psd_gy)


# --- HTML --------------------------------------------------------------------------------------


def test_html_is_self_contained_and_escaped(saved, result):
    text = saved["report"].read_text(encoding="utf-8")
    assert format_gy(result.psd_gy) in text
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in text
    assert "src='data:image/png;base64," in text
    for external in ("http://", "https://", "<link", "@import", "src='file:"):
        assert external not in text
    assert "upper back, 4 cm left of midline" in text  # entrance labels in the event table
    assert "central ray missed the phantom" in text  # skipped reason
    assert "placement: vendor profile" in text and "missed the phantom" in text
    assert "Gy·cm²" in text


def test_html_reference_point_estimate(tmp_path):
    r = make_result(reference_point=True)
    paths = report.save(r, tmp_path)
    assert "ply" not in paths
    text = paths["report"].read_text(encoding="utf-8")
    assert "No skin dose map" in text and format_gy(1.9) in text
    # says what is computed: no table factor (T = 1), an upper bound
    assert text.count(report.RP_ESTIMATE_FORMULA) >= 2
    assert "× T)" not in text and "table transmission," not in text
    assert "PSD / Σ" not in text  # no map, no ratio


def test_rp_estimate_wording_in_the_schema():
    d = report.SUMMARY_SCHEMA["properties"]["reference_point_estimate_gy"]["description"]
    assert "C_cal" in d and "no table attenuation" in d and "upper bound" in d


_TOTALS = {
    "planes": {
        "A": {"kerma_rp_gy": 0.84, "kap_gym2": 0.0101, "n_events": 5,
              "reported_kerma_rp_gy": 1.0, "reported_kap_gym2": 0.0100},
        "B": {"kerma_rp_gy": 1.234, "kap_gym2": 0.005, "n_events": 3},
    },
    "total": {"kerma_rp_gy": 2.074, "kap_gym2": 0.0151, "n_events": 8,
              "reported_kerma_rp_gy": 1.0, "reported_kap_gym2": 0.0100},
    "skin": {"psd_gy": 4.2, "reference_point_estimate_gy": 1.9, "psd_over_kerma_rp": 2.03},
}


def test_totals_table_is_one_plain_table(tmp_path):
    import dataclasses

    r = dataclasses.replace(make_result(), reference_totals=_TOTALS)
    html = report._totals(r)
    assert html.count("<table") == 1  # not nested
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    assert len(rows) == 1 + 3  # header, A, B, total
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in rows]
    head = [re.sub("<[^>]+>", " ", c) for c in cells[0]]
    assert "Events" in head[1] and "over events" in head[2] and "reported" in head[3]
    assert "KAP" in head[4] and "Gy·cm²" in head[5] and head[6] == "Note"
    a, b, total = cells[1:]
    assert a[:6] == ["Plane A", "5", "840 mGy", "1.00 Gy", "101", "100"]
    assert a[6] == "K<sub>RP</sub>: Σ events is 84 % of the reported total"  # KAP: 1 %, no note
    assert b[:6] == ["Plane B", "3", "1.23 Gy", "–", "50", "–"] and b[6] == ""
    assert total[0] == "Total" and total[2] == "2.07 Gy"
    assert "207 % of the reported total" in total[6] and "KAP: Σ events is 151 %" in total[6]
    assert f"PSD / Σ K<sub>RP</sub> = {r.psd_gy / 2.074:.2f}" in html
    # no raw summary keys
    for raw in ("Psd over kerma rp", "Reported kerma rp", "kerma_rp_gy", "Planes"):
        assert raw not in html
    text = report.write_report(r, tmp_path, figures={}).read_text(encoding="utf-8")
    assert html in text


def test_totals_without_reference_totals_use_the_events():
    import dataclasses

    r = dataclasses.replace(make_result(), reference_totals={})
    html = report._totals(r)
    k = sum(e.kerma_rp_gy for e in r.events)
    assert "<th>Total</th>" in html and report._kerma_text(k) in html


def test_psd_box_shows_the_area_averaged_psd(saved, result):
    text = saved["report"].read_text(encoding="utf-8")
    box = text[text.index("<div class='psd'>"):text.index("<h2>")]
    a1, a10 = result.psd_averaged_gy(1.0), result.psd_averaged_gy(10.0)
    assert a10 <= a1 <= result.psd_gy
    assert f"Averaged over 1 cm²: <strong>{format_gy(a1)}</strong>" in box
    assert f"over 10 cm²: <strong>{format_gy(a10)}</strong>" in box
    d = json.loads(saved["summary"].read_text(encoding="utf-8"))
    assert d["psd_1cm2_gy"] == pytest.approx(a1) and d["psd_10cm2_gy"] == pytest.approx(a10)


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _chromium(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_report_in_headless_chromium(saved, result, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser installed: chromium / chromium-browser / google-chrome "
                    "not on PATH (.ci/run installs Debian's chromium)")
    url = saved["report"].resolve().as_uri()
    dom = _chromium(browser, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert format_gy(result.psd_gy) in dom.stdout
    assert "<script>alert" not in dom.stdout
    shot = tmp_path / "shot.png"
    run = _chromium(browser, tmp_path, f"--screenshot={shot}", "--window-size=1200,2400",
                    "--hide-scrollbars", url)
    assert run.returncode == 0, run.stderr[-2000:]
    assert_nontrivial_png(shot)


def test_every_summary_field_is_documented(result):
    props = report.SUMMARY_SCHEMA["properties"]
    assert set(result.summary()) <= set(props), set(result.summary()) - set(props)
    for key, sub in props.items():
        assert "type" in sub, key
