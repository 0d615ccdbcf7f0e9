"""skindose batch: one row per file, the right status each, PSDs equal to compute, the same
table on an in-process Dask cluster, worker deaths, resume, duplicates, per-patient windows."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import shutil
import warnings
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import pyarrow.parquet as pq
from distributed import Client, LocalCluster

import skindose
from skindose.batch import (
    FileKind,
    classify_dataset,
    expand_paths,
    iter_rows,
    maximal_windows,
    pseudonym,
    run_batch,
)
from skindose.batch._table import area_column, columns_for
from skindose.rdsr.synthetic import build_rdsr, example_procedure, write_rdsr
from skindose.settings import Settings
from tests.conftest import real_rdsr_files

COARSE = Settings(cell_area_cm2=4.0)  # plumbing tests: coarse cylinder phantom


def _ct_dose_sr(path: Path) -> Path:
    """A CT Radiation Dose SR (TID 10011 in the X-Ray Radiation Dose SR class)."""
    ds = build_rdsr(example_procedure(2, seed=3))
    ds.ContentTemplateSequence[0].TemplateIdentifier = "10011"
    ds.save_as(path, enforce_file_format=True)
    return path


def _synthetic(path: Path, n_events: int = 6, seed: int = 1, patient: str = "",
               date: dt.datetime | None = None) -> Path:
    proc = example_procedure(n_events, seed=seed)
    if patient:
        proc = dataclasses.replace(proc, patient=dataclasses.replace(proc.patient,
                                                                      patient_id=patient))
    if date is not None:
        proc = dataclasses.replace(proc, study=dataclasses.replace(proc.study, date=date))
    return write_rdsr(proc, path)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, rdsr_dir):
    """Real files (read in place) plus a folder of oddities."""
    d = tmp_path_factory.mktemp("archive")
    real = real_rdsr_files()
    good = _synthetic(d / "synthetic.dcm", 8, seed=5)
    data = good.read_bytes()
    # header intact (an RDSR by its class), content tree overwritten: cannot be parsed
    at = data.find(b"\x40\x00\x30\xa7")  # (0040,A730) Content Sequence
    assert at > 0
    (d / "corrupt.dcm").write_bytes(data[: at + 8] + b"\xff" * 3000)
    # cut in the middle: the same instance (UID) with other bytes; read with a critical note
    (d / "truncated.dcm").write_bytes(data[: len(data) // 2])
    _ct_dose_sr(d / "ct_dose.dcm")
    (d / "readme.txt").write_text("not DICOM at all\n" * 10)
    shutil.copy(real[2], d / "copy_of_real.dcm")
    (d / ".hidden").write_text("left out")
    return {"real": real, "dir": d, "original_of_copy": real[2]}


def _rows(out: Path) -> dict[str, dict]:
    rows = list(iter_rows(out / "results.csv", columns_for(Settings().thresholds_gy)))
    by_path = {r["path"]: r for r in rows}
    assert len(by_path) == len(rows), "one row per file"
    return by_path


def _expected_status(archive, path: str) -> tuple[str, str]:
    name = Path(path).name
    return {
        "corrupt.dcm": ("unreadable", "skipped"),
        "ct_dose.dcm": ("other-dose-sr", "skipped"),
        "readme.txt": ("not-rdsr", "skipped"),
        "copy_of_real.dcm": ("rdsr", "duplicate"),
        "truncated.dcm": ("rdsr", "ok"),
    }.get(name, ("rdsr", "ok"))


@pytest.fixture(scope="module")
def embedded_run(archive, tmp_path_factory):
    """The embedded default: a local cluster of 2 worker processes, default phantom."""
    out = tmp_path_factory.mktemp("out_embedded")
    summary = run_batch([*archive["real"], archive["dir"]], out, workers=2, progress=False)
    return out, summary


def test_one_row_per_file_with_the_right_status(archive, embedded_run):
    out, summary = embedded_run
    rows = _rows(out)
    expected_files = [*map(str, archive["real"]), *(
        str(archive["dir"] / n) for n in ("copy_of_real.dcm", "corrupt.dcm", "ct_dose.dcm",
                                           "readme.txt", "synthetic.dcm", "truncated.dcm"))]
    assert sorted(rows) == sorted(expected_files)
    assert summary.n_files == len(expected_files) and not summary.interrupted
    for path, row in rows.items():
        assert (row["kind"], row["status"]) == _expected_status(archive, path), (path, row)
        assert row["checksum"] and len(row["checksum"]) == 64
        if row["status"] == "skipped":
            assert row["error"], path  # says why
    dup = rows[str(archive["dir"] / "copy_of_real.dcm")]
    assert dup["duplicate_of"] == str(archive["original_of_copy"])
    assert dup["sop_instance_uid"] == rows[str(archive["original_of_copy"])]["sop_instance_uid"]
    assert dup["psd_gy"] is None  # computed once: on the original only
    assert "CT Radiation Dose SR" in rows[str(archive["dir"] / "ct_dose.dcm")]["error"]
    # the truncated copy of synthetic.dcm: not a duplicate (other bytes), computed, flagged
    cut = rows[str(archive["dir"] / "truncated.dcm")]
    assert cut["sop_instance_uid"] == rows[str(archive["dir"] / "synthetic.dcm")][
        "sop_instance_uid"]
    assert cut["highest_severity"] == "critical"
    assert {"file-truncated", "duplicate-instance"} <= set(cut["note_codes"].split(";"))
    # corrupt.dcm (first in the scan) carries the same UID too: both later versions say so
    first = str(archive["dir"] / "corrupt.dcm")
    assert f"same SOP Instance UID as {first} but different bytes" in cut["error"]
    assert first in rows[str(archive["dir"] / "synthetic.dcm")]["error"]
    assert summary.n_critical >= 1
    # the Parquet copy holds the same rows
    table = pq.read_table(out / "results.parquet")
    assert table.num_rows == len(rows)
    assert sorted(table.column("path").to_pylist()) == sorted(rows)


def test_psd_equals_compute_per_file(archive, embedded_run):
    out, _ = embedded_run
    rows = _rows(out)
    s = Settings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in [*archive["real"], archive["dir"] / "synthetic.dcm"]:
            proc = skindose.read_rdsr(f)
            r = skindose.compute(proc)
            row = rows[str(f)]
            assert row["psd_gy"] == pytest.approx(r.psd_gy, rel=1e-12, abs=0), f.name
            assert row["psd_1cm2_gy"] == pytest.approx(r.psd_averaged_gy(1.0), rel=1e-12)
            assert row["psd_10cm2_gy"] == pytest.approx(r.psd_averaged_gy(10.0), rel=1e-12)
            for t in s.thresholds_gy:
                assert row[area_column(t)] == pytest.approx(r.area_above_m2(t) * 1e4, abs=1e-9)
            assert row["reference_point_estimate"] is r.is_reference_point_estimate
            assert row["events"] == proc.n_events
            assert row["kerma_rp_gy"] == pytest.approx(
                sum(e.kerma_rp_gy or 0.0 for e in proc.events), rel=1e-12)
            assert row["kap_gycm2"] == pytest.approx(
                sum(e.kap_gym2 or 0.0 for e in proc.events) * 1e4, rel=1e-12)
            assert row["patient"] == proc.patient.patient_id
            assert row["alert_srdl"] is (r.psd_gy >= 3.0)
            loc = r.psd_location
            assert row["psd_location"] == (loc["label"] if loc else None)


def test_in_process_local_cluster_gives_the_same_table(archive, embedded_run, tmp_path):
    out, _ = embedded_run
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        summary = run_batch([*archive["real"], archive["dir"]], tmp_path, client=client,
                            progress=False)
        # the phantom of a reference-size patient was built once and reused
        info = client.run(lambda: __import__("skindose.batch", fromlist=["x"]).cache_info())
    assert not summary.interrupted
    a, b = _rows(out), _rows(tmp_path)
    assert sorted(a) == sorted(b)
    for path in a:
        ra, rb = dict(a[path]), dict(b[path])
        ra.pop("seconds")
        rb.pop("seconds")
        assert ra == rb, path
    (stats,) = info.values()
    assert stats["builds"] == 0  # the default adult is compute's own choice, per patient


def test_worker_killed_mid_run_loses_nothing(tmp_path):
    import cloudpickle

    from tests.batch import _killer

    cloudpickle.register_pickle_by_value(_killer)
    d = tmp_path / "files"
    d.mkdir()
    for i in range(6):
        _synthetic(d / f"f{i}.dcm", 4, seed=i + 10)
    _synthetic(d / "victim_once.dcm", 4, seed=30)
    _synthetic(d / "victim_always.dcm", 4, seed=31)
    fn = functools.partial(_killer.kill_on, victim_once="victim_once.dcm",
                           victim_always="victim_always.dcm", marker=str(tmp_path / "killed"))
    out = tmp_path / "out"
    summary = run_batch([d], out, settings=COARSE, phantom="cylinder", workers=2,
                        process=fn, progress=False)
    rows = _rows(out)
    assert len(rows) == 8
    assert (tmp_path / "killed").exists()  # the worker really was killed once
    assert rows[str(d / "victim_once.dcm")]["status"] == "ok"  # retried on another worker
    bad = rows[str(d / "victim_always.dcm")]
    assert bad["status"] == "failed" and "died twice" in bad["error"]
    assert all(r["status"] == "ok" for p, r in rows.items() if "victim" not in p)
    assert summary.counts == {"ok": 7, "failed": 1}


class _InterruptAfter:
    """A progress stream that raises KeyboardInterrupt (as Ctrl-C would) after n rows."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.lines = 0

    def write(self, text: str) -> None:
        if text.startswith("\r"):
            self.lines += 1
            if self.lines >= self.n:
                raise KeyboardInterrupt

    def flush(self) -> None:
        pass


def test_interrupt_keeps_finished_rows_and_resume_computes_only_the_missing(tmp_path,
                                                                           monkeypatch):
    from skindose.batch import _run

    monkeypatch.setattr(_run, "PROGRESS_INTERVAL_S", 0.0)  # a line per row
    d = tmp_path / "files"
    d.mkdir()
    for i in range(8):
        _synthetic(d / f"f{i}.dcm", 3, seed=i + 40)
    out = tmp_path / "out"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        first = run_batch([d], out, settings=COARSE, phantom="cylinder", client=client,
                          progress=_InterruptAfter(3))
        assert first.interrupted
        done = _rows(out)
        assert len(done) == 3 and all(r["status"] == "ok" for r in done.values())
        assert pq.read_table(out / "results.parquet").num_rows == 3
        # without --resume an existing table is not overwritten
        with pytest.raises(skindose.SkinDoseError, match="--resume"):
            run_batch([d], out, settings=COARSE, phantom="cylinder", client=client)
        # a file changed since: computed again, its old row dropped
        changed = Path(next(iter(done)))
        _synthetic(changed, 3, seed=99)
        second = run_batch([d], out, settings=COARSE, phantom="cylinder", client=client,
                           resume=True, progress=False)
    assert not second.interrupted
    assert second.n_resumed == 2
    assert second.counts == {"ok": 6}  # 5 never done + the changed one
    rows = _rows(out)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows.values())
    for p, r in done.items():
        if Path(p) != changed:
            assert rows[p] == r  # kept as it was
    assert rows[str(changed)]["checksum"] != done[str(changed)]["checksum"]
    assert pq.read_table(out / "results.parquet").num_rows == 8


def test_anonymize_and_by_patient(tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    t0 = dt.datetime(2025, 1, 10, 9)
    a1 = _synthetic(d / "a1.dcm", 5, seed=1, patient="PAT-A", date=t0)
    a2 = _synthetic(d / "a2.dcm", 5, seed=2, patient="PAT-A", date=t0 + dt.timedelta(days=20))
    _synthetic(d / "a3.dcm", 5, seed=3, patient="PAT-A", date=t0 + dt.timedelta(days=400))
    _synthetic(d / "b1.dcm", 5, seed=4, patient="PAT-B", date=t0)
    out = tmp_path / "out"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        summary = run_batch([d], out, settings=COARSE, phantom="cylinder", client=client,
                            anonymize=True, by_patient=True, window_days=365, progress=False,
                            reports=True)
    assert summary.n_patients == 2
    reports = [f for f in (out / "reports").rglob("*") if f.is_file()]
    assert any(f.name == "summary.json" for f in reports)
    for f in reports:
        if f.suffix in (".json", ".html"):
            assert "PAT-A" not in f.read_text(encoding="utf-8"), f
    rows = _rows(out)
    key = (out / "pseudonym.key").read_text().strip()
    pa_, pb = pseudonym(key, "PAT-A"), pseudonym(key, "PAT-B")
    assert {r["patient"] for r in rows.values()} == {pa_, pb}
    assert "PAT-A" not in (out / "results.csv").read_text()
    with (out / "patients.csv").open() as fh:
        pats = {r["patient"]: r for r in csv.DictReader(fh)}
    assert "PAT-A" not in (out / "patients.csv").read_text()
    # PAT-A: a1 and a2 are 20 days apart (one window), a3 is 400 days later (alone)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from skindose import phantoms

        ph = phantoms.cylinder(cell_area_cm2=COARSE.cell_area_cm2)
        both = skindose.compute([skindose.read_rdsr(a1), skindose.read_rdsr(a2)], ph,
                                settings=COARSE)
    ra = pats[pa_]
    assert int(ra["n_procedures"]) == 3
    assert float(ra["cumulative_psd_gy"]) == pytest.approx(both.psd_gy, rel=1e-12)
    assert int(ra["n_in_window"]) == 2
    assert ra["window_start"] == "2025-01-10" and ra["window_end"] == "2025-01-30"
    single = max(rows[str(d / n)]["psd_gy"] for n in ("a1.dcm", "a2.dcm", "a3.dcm"))
    assert float(ra["max_single_psd_gy"]) == pytest.approx(single)
    assert float(ra["cumulative_psd_gy"]) > single  # the two doses overlap on the skin
    rb = pats[pb]
    assert float(rb["cumulative_psd_gy"]) == pytest.approx(rows[str(d / "b1.dcm")]["psd_gy"])
    assert pq.read_table(out / "patients.parquet").num_rows == 2


def test_reports_folder_per_file(tmp_path):
    f = _synthetic(tmp_path / "one.dcm", 4, seed=8)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_batch([f], tmp_path / "out", settings=COARSE, phantom="cylinder", client=client,
                  reports=True, progress=False)
    (row,) = _rows(tmp_path / "out").values()
    rep = Path(row["report"])
    assert rep.parent == tmp_path / "out" / "reports"
    assert (rep / "summary.json").is_file() and (rep / "report.html").is_file()


# ---- units ----------------------------------------------------------------------------------


def test_classify_dose_srs():
    ds = build_rdsr(example_procedure(2, seed=1))
    assert classify_dataset(ds) == (FileKind.RDSR, "")
    ds.ContentTemplateSequence[0].TemplateIdentifier = "10011"
    assert classify_dataset(ds)[0] is FileKind.OTHER_DOSE_SR
    ds = build_rdsr(example_procedure(2, seed=1))
    del ds.ContentTemplateSequence
    item = ds.ContentSequence[0]  # Procedure reported
    item.ConceptCodeSequence[0].CodeValue = "77477000"
    item.ConceptCodeSequence[0].CodingSchemeDesignator = "SCT"
    assert classify_dataset(ds)[0] is FileKind.OTHER_DOSE_SR
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.73"
    kind, why = classify_dataset(ds)
    assert kind is FileKind.OTHER_DOSE_SR and "Patient Radiation Dose SR" in why
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    assert classify_dataset(ds)[0] is FileKind.NOT_RDSR


def _brute_windows(dates, w):
    sets = []
    for j, d in enumerate(dates):
        sets.append({i for i in range(j + 1) if (d - dates[i]).days <= w})
    maximal = [s for s in sets if not any(s < t for t in sets)]
    return sorted({(min(s), max(s)) for s in maximal})


@pytest.mark.parametrize("seed", range(20))
def test_maximal_windows_match_brute_force(seed):
    import random

    rnd = random.Random(seed)
    base = dt.date(2024, 1, 1)
    dates = sorted(base + dt.timedelta(days=rnd.randrange(0, 900)) for _ in range(rnd
                                                                              .randrange(1, 12)))
    w = rnd.choice([0, 30, 60, 365])
    assert maximal_windows(dates, w) == _brute_windows(dates, w)


def test_pseudonym_is_stable_and_keyed():
    assert pseudonym("k", "123") == pseudonym("k", "123")
    assert pseudonym("k", "123") != pseudonym("k2", "123")
    assert pseudonym("k", "123") != pseudonym("k", "124")
    assert pseudonym("k", "") == ""
    assert "123" not in pseudonym("k", "123")


def test_expand_paths(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.dcm").write_text("x")
    (tmp_path / "a" / ".git").mkdir()
    (tmp_path / "a" / ".git" / "y.dcm").write_text("y")
    (tmp_path / "b.dcm").write_text("b")
    got = expand_paths([tmp_path / "a", str(tmp_path / "*.dcm"), tmp_path / "b.dcm"])
    assert got == [tmp_path / "a" / "x.dcm", tmp_path / "b.dcm"]
    with pytest.raises(skindose.SkinDoseError, match="no such file"):
        expand_paths([tmp_path / "missing"])
    with pytest.raises(skindose.SkinDoseError, match="matches no file"):
        expand_paths([str(tmp_path / "*.nothing")])


def test_missing_extra_is_a_clear_error(monkeypatch):
    import builtins

    from skindose.batch import require_extra

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] in ("distributed", "pyarrow"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(skindose.SkinDoseError, match=r"pip install 'skindose\[batch\]'"):
        require_extra()


def test_progress_line_counts_errors_alerts_and_eta():
    import io

    from skindose.batch._run import Progress

    buf = io.StringIO()
    bar = Progress(4, buf, min_interval_s=0.0)
    bar.update({"status": "ok", "alert_srdl": True})
    bar.update({"status": "error"})
    bar.update({"status": "ok", "highest_severity": "critical"})
    line = buf.getvalue().rsplit("\r", 1)[-1]
    assert "3/4 files" in line and "errors 1" in line and "alerts 2" in line
    assert "ETA " in line and "ETA ?" not in line
    bar.update(None)  # a resumed file counts as done
    assert "4/4 files" in buf.getvalue().rsplit("\r", 1)[-1]


def test_benchmark_files_are_distinct_readable_rdsrs(tmp_path):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "batch_bench.py"
    spec = importlib.util.spec_from_file_location("skindose_batch_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = mod.make_files(tmp_path, 5, 3, n_distinct=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        procs = [skindose.read_rdsr(f) for f in files]
    import pydicom

    uids = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    assert len(uids) == 5
    assert all(p.n_events == 3 for p in procs)


def test_scheduler_address_sends_the_work_to_an_existing_cluster(tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    for i in range(3):
        _synthetic(d / f"f{i}.dcm", 3, seed=60 + i)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        summary = run_batch([d], tmp_path / "out", settings=COARSE, phantom="cylinder",
                            scheduler=cluster.scheduler_address, progress=False)
        with Client(cluster) as client:
            (stats,) = client.run(
                lambda: __import__("skindose.batch", fromlist=["x"]).cache_info()).values()
        # the named phantom was built once in the worker and reused for the other files
        assert stats["builds"] <= 1 and stats["hits"] >= 2
        # the run closed its own client, not the cluster
        with Client(cluster) as client:
            assert len(client.nthreads()) == 1
    assert summary.counts == {"ok": 3}


def test_window_fallback_merge_never_counts_an_event_twice():
    from skindose.batch._patients import _merge_fallback

    full = example_procedure(6, seed=1)
    partial = dataclasses.replace(full, events=full.events[:3], source="partial")
    other = example_procedure(4, seed=2)
    assert _merge_fallback([partial, full, other]) == [full, other]
    assert _merge_fallback([full, full]) == [full]
    crossing = dataclasses.replace(full, events=(*full.events[3:], *other.events[:1]),
                                   source="crossing")
    with pytest.raises(skindose.SkinDoseError, match="share some Irradiation Event UIDs"):
        _merge_fallback([partial, crossing, other])
