"""Settings.uncertainty wires the interval into the map, summary.json and the report."""

from __future__ import annotations

import skindose as sd
from skindose.rdsr.synthetic import example_procedure
from skindose.summary import summary_errors


def test_uncertainty_setting_reaches_summary_and_report(tmp_path):
    p = example_procedure(n_events=4, seed=1)
    ph = sd.phantoms.adult(cell_area_cm2=16.0)
    s = sd.Settings(uncertainty=True, uncertainty_samples=2, cell_area_cm2=16.0)
    r = sd.compute(p, ph, s)
    plain = sd.compute(p, ph, s.replace(uncertainty=False))
    assert r.psd_gy == plain.psd_gy  # the interval does not change the point PSD
    u = r.summary()["uncertainty"]
    assert u["low_gy"] <= r.psd_gy <= u["high_gy"]
    assert u["high_gy"] > u["low_gy"]  # uncalibrated display: ±35 % at least
    assert plain.summary()["uncertainty"] is None
    assert summary_errors(r.summary()) == []
    r.save(tmp_path)
    assert "id='psd-interval'" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_interval_is_written_into_the_prdsr_comment():
    from skindose.dicom_out import build_prdsr
    from skindose.rdsr.synthetic import encode_rdsr

    p = sd.read_rdsr(encode_rdsr(example_procedure(n_events=4, seed=1)))  # with its UIDs
    s = sd.Settings(uncertainty=True, uncertainty_samples=2, cell_area_cm2=16.0)
    r = sd.compute(p, sd.phantoms.adult(cell_area_cm2=16.0), s)
    ds = build_prdsr(r, [p])
    texts = []

    def walk(items):
        for it in items:
            if it.get("ValueType") == "TEXT":
                texts.append(str(it.TextValue))
            if "ContentSequence" in it:
                walk(it.ContentSequence)

    walk(ds.ContentSequence)
    assert any("95 % interval" in t for t in texts)
