"""The ``skindose batch`` command: exit codes, messages, Ctrl-C on a real process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import pyarrow.parquet as pq

from skindose.cli import main
from skindose.rdsr.synthetic import example_procedure, write_rdsr


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        write_rdsr(example_procedure(4, seed=i), d / f"f{i}.dcm")
    (d / "notes.txt").write_text("not DICOM\n")
    settings = tmp_path / "coarse.toml"
    settings.write_text("cell_area_cm2 = 4.0\n")
    return d, settings


def test_batch_command_end_to_end(files, tmp_path, capsys):
    d, settings = files
    out = tmp_path / "out"
    rc = main(["batch", str(d), "--out", str(out), "--workers", "1", "--settings",
               str(settings), "--phantom", "cylinder", "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "4 file(s): 3 ok, 1 skipped" in text
    assert (out / "results.csv").is_file() and pq.read_table(out / "results.parquet").num_rows == 4
    # an existing table is never overwritten silently
    rc = main(["batch", str(d), "--out", str(out), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "--resume" in err and "Traceback" not in err
    rc = main(["batch", str(d), "--out", str(out), "--workers", "1", "--settings",
               str(settings), "--phantom", "cylinder", "--resume", "--no-progress"])
    assert rc == 0 and "4 kept from the earlier run" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "words"), [
    (["--workers", "0"], "--workers must be at least 1"),
    (["--window-days", "-3"], "--window-days must be positive"),
])
def test_bad_arguments_exit_2(files, tmp_path, capsys, args, words):
    d, _ = files
    rc = main(["batch", str(d), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert rc == 2 and words in err


def test_missing_path_exit_2(tmp_path, capsys):
    rc = main(["batch", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "no such file or folder" in capsys.readouterr().err


def test_ctrl_c_stops_cleanly_with_finished_rows_on_disk(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    from pydicom.uid import generate_uid

    from skindose.rdsr.synthetic import build_rdsr

    ds = build_rdsr(example_procedure(20, seed=1))
    for i in range(16):  # one procedure, 16 instances (not duplicates: own SOP Instance UIDs)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(d / f"f{i:02d}.dcm", enforce_file_format=True)
    settings = tmp_path / "coarse.toml"
    settings.write_text("cell_area_cm2 = 4.0\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "import sys; from skindose.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "batch", str(d), "--out", str(out), "--workers", "2",
           "--settings", str(settings), "--phantom", "cylinder"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        csv = out / "results.csv"
        while time.monotonic() < deadline:  # wait for the first finished rows
            if csv.exists() and len(csv.read_text().splitlines()) >= 3:
                break
            if p.poll() is not None:
                break
            time.sleep(0.1)
        assert p.poll() is None, "finished before it could be interrupted"
        os.killpg(p.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        t_int = time.monotonic()
        _, err = p.communicate(timeout=90)
        print(f"stopped {time.monotonic() - t_int:.1f} s after SIGINT")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 130, err
    assert "Traceback" not in err
    lines = csv.read_text().splitlines()
    n = len(lines) - 1
    assert 2 <= n < 16
    assert all(line.split(",")[4] == "ok" for line in lines[1:])  # whole rows only
    # the run was cut short: --resume keeps the finished rows, computes the rest, and writes
    # the Parquet copy
    rc = main(["batch", str(d), "--out", str(out), "--workers", "1", "--settings", str(settings),
               "--phantom", "cylinder", "--resume", "--no-progress"])
    assert rc == 0
    rows = csv.read_text().splitlines()[1:]
    assert len(rows) == 16 and all(r.split(",")[4] == "ok" for r in rows)
    assert pq.read_table(out / "results.parquet").num_rows == 16
