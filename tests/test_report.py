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
    assert set(saved) >= {"summary", "ply", "npz", "report", "dose_views", "skin_map",
                          "unrolled", "psd_timeline", "beam_geometry"}
    for name, path in saved.items():
        assert path.is_file() and path.stat().st_size > 0, name
    for name in ("dose_views", "skin_map", "unrolled", "psd_timeline", "beam_geometry"):
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
    # the only scripts: the 3-D view's data and its inlined bundle; the RDSR text is escaped
    assert text.lower().count("<script") == 2
    assert "<script type='application/json' id='sd3d-data'>" in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in text
    assert "src='data:image/png;base64," in text
    for external in ("src='http", "src=\"http", "href=", "<link", "@import", "src='file:",
                     "url(http"):
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
    box = text[text.index("<div class='psd'>"):text.index("id='areas'")]
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


# --- issue 13: page one, notes, anonymisation, PDF ---------------------------------------------


def _with_notes(r, *notes):
    import dataclasses

    if "notes" in {f.name for f in dataclasses.fields(r)}:
        return dataclasses.replace(r, notes=tuple(notes))
    # before the notes field lands on the map: a subclass carrying it
    cls = dataclasses.make_dataclass("MapWithNotes", [("notes", tuple, dataclasses.field(
        default=()))], bases=(type(r),), frozen=True, kw_only=True)
    return cls(**{f.name: getattr(r, f.name) for f in dataclasses.fields(r)}, notes=notes)


def _notes():
    from skindose.notes import Note, NoteCode

    return (Note(code=NoteCode.UNCALIBRATED, text="dose display not calibrated (±35 %)"),
            Note(code=NoteCode.TABLE_ESTIMATED, text="table transmission 0.75 estimated"),
            Note(code=NoteCode.KAP_CHECK, text="KAP check 1.4", event_index=2),
            Note(code=NoteCode.KAP_CHECK, text="KAP check 1.5", event_index=5),
            Note(code=NoteCode.FILE_TRUNCATED, text="file ended early"),
            Note(code=NoteCode.METHOD, text="an info note not in the headline"))


def test_summary_2_0_lists_the_notes_and_alerts():
    r = _with_notes(make_result(peak_gy=4.2), *_notes())
    d = r.summary()
    assert d["schema_version"].startswith("2.")
    report.validate_summary(d)
    codes = [n["code"] for n in d["notes"]]
    assert codes[0] == "file-truncated" and len(codes) == 6  # most severe first, all kept
    assert d["alerts"][0]["quantity"] == "Peak skin dose" and d["alerts"][0]["level"] == 3.0
    assert make_result(peak_gy=1.5).summary()["alerts"] == []


def test_caveats_come_from_the_notes_one_line_per_code():
    r = _with_notes(make_result(), *_notes())
    cav = report.caveats(r)
    assert cav[0][0] == "critical" and "file ended early" in cav[0][1]
    texts = " ".join(c[1] for c in cav)
    assert "calibrated" in texts and "0.75" in texts
    assert [c[2] for c in cav if "KAP" in c[1]] == [2]
    assert "info note" not in texts


def test_page_one_alert_and_caveats(tmp_path):
    hot = _with_notes(make_result(peak_gy=4.2), *_notes())
    text = report.write_report(hot, tmp_path / "a", figures={}).read_text(encoding="utf-8")
    page1 = text[text.index("<section id='page1'"):text.index("</section>")]
    assert "id='alert'" in page1 and "Substantial radiation dose level" in page1
    assert "follow-up" in page1 and "NCRP Report No. 168" in page1
    assert page1.index("id='alert'") < page1.index("id='psd'") < page1.index("id='caveats'")
    assert "dose display not calibrated" in page1 and "table transmission 0.75" in page1
    calm = report.write_report(make_result(peak_gy=1.5), tmp_path / "b", figures={})
    text = calm.read_text(encoding="utf-8")
    assert "id='alert'" not in text and "id='no-alert'" in text
    # the RP estimate of a mapped result is a cross-check, not on page one
    page1 = text[text.index("<section id='page1'"):text.index("</section>")]
    assert "Reference-point estimate" not in page1
    assert "Cross-check of the reported K<sub>RP</sub>" in text


def test_unmapped_events_show_a_dash(result):
    rows = report._event_rows(result)
    skipped = [r for r in rows.split("<tr") if "class='skip'" in r]
    assert len(skipped) == 1
    cells = re.findall(r"<td[^>]*>(.*?)</td>", skipped[0])
    assert cells[8] == "–"


def test_report_and_dosemap_do_not_import_each_other():
    import ast

    import skindose

    root = Path(skindose.__file__).parent

    def imports(name):
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        out = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        return out | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}

    assert "skindose.dosemap" not in imports("report")
    assert "skindose.report" not in imports("summary") | imports("plotting")
    assert "skindose.dosemap" not in imports("summary") | imports("plotting")
    assert not any("kernel" in m for m in imports("plotting"))


def test_anonymised_outputs_hold_no_identifier(tmp_path, rdsr_dir):
    """Every byte of every output file, for a real Siemens RDSR given identifying values."""
    import dataclasses

    from skindose import compute, phantoms
    from skindose.rdsr import read_rdsr
    src = rdsr_dir / "pyskindose__siemens_axiom_example_procedure.dcm"
    named = tmp_path / "DOE_JOHN_0042.dcm"
    shutil.copy(src, named)
    proc = read_rdsr(named)
    proc = dataclasses.replace(
        proc, patient=dataclasses.replace(proc.patient, patient_id="PAT-ZQX-9174"),
        device=dataclasses.replace(proc.device, institution="St Zebedee Hospital",
                                   station="ANGIO-ZQX-1"))
    r = compute([proc], phantoms.cylinder(cell_area_cm2=9.0))
    ids = report.identifiers(r)
    for must in ("PAT-ZQX-9174", "St Zebedee Hospital", "ANGIO-ZQX-1", "DOE_JOHN_0042",
                 proc.study.uid, proc.events[0].uid, proc.device.serial):
        assert must in ids
    paths = report.save(r, tmp_path / "out", anonymize=True)
    assert {"summary", "ply", "npz", "report"} <= set(paths)
    needles = [s.encode() for s in ids] + [b"2017-12-12", b"20171212"]
    for f in (tmp_path / "out").iterdir():
        blob = f.read_bytes()
        if f.suffix == ".npz":  # compressed members: scan the unpacked bytes too
            import zipfile

            with zipfile.ZipFile(f) as z:
                blob += b"".join(z.read(n) for n in z.namelist())
        for needle in needles:
            assert needle not in blob, (f.name, needle)
    d = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert d["anonymized"] is True
    assert "Anonymised" in paths["report"].read_text(encoding="utf-8")
    # and the plain save still carries them (the scan can fail)
    plain = report.save(r, tmp_path / "plain")
    assert b"PAT-ZQX-9174" in plain["summary"].read_bytes()


def test_pdf_without_chromium_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SKINDOSE_CHROMIUM", raising=False)
    (tmp_path / "report.html").write_text("<p>x</p>", encoding="utf-8")
    with pytest.raises(report.PdfError, match="needs headless Chromium"):
        report.write_pdf(tmp_path / "report.html")
    assert report.pdf_for_cli(tmp_path, True) == 2
    assert "apt-get install chromium" in capsys.readouterr().err


def test_pdf_with_chromium(saved, tmp_path):
    if report.find_chromium() is None:
        pytest.skip("no headless Chromium on PATH")
    html_copy = tmp_path / "report.html"
    shutil.copy(saved["report"], html_copy)
    pdf = report.write_pdf(html_copy)
    assert pdf.read_bytes().startswith(b"%PDF")
