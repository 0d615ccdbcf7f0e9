"""Smoke run of the benchmark suite (benchmarks/run.py --quick): it runs and its numbers are
positive. Speed is measured by the suite, never asserted here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def _load_run():
    spec = importlib.util.spec_from_file_location("skindose_bench_run", RUN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not RUN.exists(), reason="benchmarks/ not present")
def test_quick_suite_runs_and_numbers_are_positive(tmp_path):
    run = _load_run()
    res = run.main(["--quick", "--out", str(tmp_path), "--only", "kernel", "compute",
                    "real", "scaling"])
    for row in res["kernel"]:
        assert row["cells"] > 0
        assert row["cell_events_per_s"] > 0
        assert row["ms_per_event"] > 0
    layers = res["kernel_layers"]
    assert sum(r["events"] for r in layers) == 10  # every event in exactly one group
    for row in layers:
        assert row["group"] in ("no_shadow", "shadow")
        assert row["cpu_ms_per_event_off"] > 0 and row["cpu_ms_per_event_on"] > 0
    cases = res["compute"] + res["real"] + res["scaling_events"] + res["scaling_cells"]
    assert cases
    for row in cases:
        assert "error" not in row, row
        assert row["compute_s"] > 0
        assert row["peak_rss_mb"] > 0
        assert row["psd_gy"] > 0
    assert all(r["tracemalloc_peak_mb"] > 0 for r in res["compute"])
    for name in ("results.json", "kernel.csv", "kernel_layers.csv", "compute.csv", "scaling.png"):
        assert (tmp_path / name).stat().st_size > 0
