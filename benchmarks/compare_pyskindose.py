"""Race skindose against PySkinDose on the same RDSR files.

Installs nothing: run it where ``pyskindose`` is importable (the optional ``bench`` extra,
``pip install pyskindose``); otherwise it says so and exits 0. Usage::

    .venv/bin/python benchmarks/compare_pyskindose.py [--out benchmarks/results] [--quick]

Every run of either tool happens in its own subprocess with a timeout, so a hang or a crash
becomes a row of the table, never a stuck benchmark. Inputs:

* the four PySkinDose example RDSRs in ``../shared/data/rdsr/pyskindose__*.dcm`` (read in
  place);
* the example procedure's 24 events repeated to 480 and 984 events (the geometry
  PySkinDose is known to handle, measured with PySkinDose 25.1.1, benchmarks/README.md),
  written the same way;
* synthetic long procedures (500 and 1,000 events) written by
  :func:`skindose.rdsr.synthetic.write_rdsr` as a Siemens AXIOM-Artis (one of PySkinDose's two
  accepted models), with legacy SRT codes. Two adaptations make them readable by PySkinDose,
  which matches concepts by *CodeMeaning* text and needs *Collimated Field Area* in its CFA
  mode: every code meaning (our writer puts the code value there) is filled from the meanings
  used by the real RDSRs in ``../shared/data/rdsr/``, and a Collimated Field Area item
  (height × width) is added to each event. skindose reads the same adapted file.

Phantoms of matching cell count: PySkinDose's default human mesh ``hudfrid`` (41,022 cells)
against skindose's default adult refined to at least as many cells (about 42k); and on the
example procedure also PySkinDose's ``adult_male`` (80,268 cells) against the adult with at
least 80,268 cells (about 82k).

Times: *calc* is PySkinDose's ``calculate_dose`` (phantom build and positioning, HVL, k_bs/k_tab
set-up and the per-event loop; no plotting or export) against skindose's ``compute`` after a
warm-up call (the Numba kernel loaded from its cache); *parse* is reading the RDSR
(``read_and_normalise_rdsr_data`` against ``read_rdsr``). Per-event time = calc / events.
PySkinDose reports mGy; the PSDs below are converted to Gy. *read+calc* per event adds both
tools' parse times.

The reader race (``--reader``, also part of a full run) reads, in this one process and side by
side, the longest real file, the four PySkinDose example files and a 10,000-event synthetic
file with: ``pydicom.dcmread`` as pydicom does it by default (lazy: defined-length sequences
stay undecoded bytes until touched), ``dcmread`` plus decoding every element (``iterall``,
what any reader of the content tree must pay in pydicom), skindose's ``read_rdsr`` (fast path)
and the reader's pydicom path (the reader before the fast path). Best of 3 (one run for files
over 10 MB); ``uptime`` load before and after.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import area_for_cells, write_csv  # noqa: E402

RDSR_DIR = HERE.parent.parent / "shared" / "data" / "rdsr"
PYSKINDOSE_MESH_CELLS = {"hudfrid": 41_022, "adult_male": 80_268}
#: PySkinDose human mesh → the fewest skindose adult cells >= its cell count (see
#: ``run.area_for_cells``; the adult's cell count is not proportional to 1 / cell area).
SYNTHETIC_EVENTS = (500, 1_000)
#: The example procedure's events repeated (PySkinDose's recursion fails at >= 984 events).
REPLICATED_EVENTS = (480, 984)
TIMEOUT_S = 240.0

PYSKINDOSE_SETTINGS_NOTE = (
    "PySkinDose 25.1.1 settings_example.json with mode=calculate_dose, notebook_mode=false, "
    "phantom model=human (mesh as given), patient_offset 0/0/0, head_first_supine, "
    "estimate_k_tab=true, k_tab_val=0.8, inherent_filtration=3.1 mm Al, table 281.5×45×5 cm, "
    "pad 4 cm; corrections.db in a temporary directory"
)
SKINDOSE_SETTINGS_NOTE = (
    "skindose Settings() defaults: occlusion on, parallel, inverse square, backscatter, "
    "medium=tissue, table attenuation (vendor profile), placement=auto, phantom adult "
    "(reference size unless the RDSR gives height/mass) at the cell area given"
)


# ----------------------------------------------------------------------------------------------
# workers (each runs in its own subprocess)


def worker_pyskindose(file: str, mesh: str) -> dict:
    """Run PySkinDose's parse + calculate_dose on one file."""
    import pyskindose
    from pyskindose import constants as c
    from pyskindose.calculate_dose.calculate_dose import calculate_dose
    from pyskindose.helpers.calculate_rotation_matrices import calculate_rotation_matrices
    from pyskindose.helpers.read_and_normalize_rdsr_data import read_and_normalise_rdsr_data
    from pyskindose.phantom_class import Phantom
    from pyskindose.settings import PyskindoseSettings

    d = json.loads((Path(pyskindose.__file__).parent / "settings_example.json").read_text())
    d["mode"] = "calculate_dose"
    d["plot"]["notebook_mode"] = False
    d["phantom"]["model"] = "human"
    d["phantom"]["human_mesh"] = mesh
    d["corrections_db_path"] = str(Path.cwd() / "corrections.db")
    s = PyskindoseSettings(d)
    row: dict = {"tool": "PySkinDose", "phantom": mesh}
    t0 = time.perf_counter()
    try:
        data = read_and_normalise_rdsr_data(file, s)
        row["parse_s"] = time.perf_counter() - t0
        row["n_events"] = len(data)
        table = Phantom(phantom_model=c.PHANTOM_MODEL_TABLE, phantom_dim=s.phantom.dimension)
        pad = Phantom(phantom_model=c.PHANTOM_MODEL_PAD, phantom_dim=s.phantom.dimension)
        data = calculate_rotation_matrices(data)
        t0 = time.perf_counter()
        patient, out = calculate_dose(normalized_data=data, settings=s, table=table, pad=pad)
        row["calc_s"] = time.perf_counter() - t0
    except BaseException as exc:  # every failure becomes a row
        row["error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
        row["failed_after_s"] = time.perf_counter() - t0
        return row
    row["cells"] = len(patient.r)
    row["psd_gy"] = float(out[c.OUTPUT_KEY_DOSE_MAP].max()) / 1000.0  # mGy → Gy
    return row


def worker_skindose(file: str, area: float) -> dict:  # area: cm² per cell
    """Run skindose's read_rdsr + compute (after a warm-up) on one file."""
    import skindose
    from skindose import phantoms
    from skindose.rdsr.synthetic import example_procedure

    ph = phantoms.adult(cell_area_cm2=area)
    skindose.compute(example_procedure(3, seed=1), ph)  # load the kernel from the Numba cache
    read_rdsr = skindose.read_rdsr  # its modules imported before the clock starts, as
    import pydicom  # noqa: F401  PySkinDose's are
    row: dict = {"tool": "skindose", "phantom": f"adult {area:g} cm²", "cells": ph.n_cells}
    t0 = time.perf_counter()
    try:
        proc = read_rdsr(file)
        row["parse_s"] = time.perf_counter() - t0
        row["n_events"] = proc.n_events
        t0 = time.perf_counter()
        res = skindose.compute(proc, ph)
        row["calc_s"] = time.perf_counter() - t0
        # the same procedure again (best of 3): what a dashboard that recomputes pays; the
        # beam-quality lookups of this file are remembered by then (physics.hvl memo)
        reps = []
        for _ in range(3):
            t0 = time.perf_counter()
            skindose.compute(proc, ph)
            reps.append(time.perf_counter() - t0)
        row["calc_repeat_s"] = min(reps)
    except Exception as exc:  # every failure becomes a row
        row["error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
        return row
    row["psd_gy"] = float(res.psd_gy)
    row["rp_estimate"] = bool(res.is_reference_point_estimate)
    return row


#: The interpreter that runs PySkinDose (``--pyskindose-python``; default this one): PySkinDose
#: pins its own numpy/pandas, so it may live in a virtual environment of its own.
PYSKINDOSE_PYTHON = [sys.executable]


def run_worker(tool: str, file: Path, arg: str, timeout: float) -> dict:
    """One worker in a subprocess (cwd: a temporary directory) with a timeout."""
    python = PYSKINDOSE_PYTHON[0] if tool == "pyskindose" else sys.executable
    cmd = [python, str(Path(__file__).resolve()), "--worker", tool, str(file), arg]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp,
                               check=False)
        except subprocess.TimeoutExpired:
            return {"tool": tool, "error": f"timeout after {timeout:.0f} s"}
        wall = time.perf_counter() - t0
    lines = [ln for ln in p.stdout.strip().splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"tool": tool, "error": f"exit {p.returncode}: {tail[:160]}", "process_s": wall}
    row = json.loads(lines[-1])
    row["process_s"] = wall
    return row


# ----------------------------------------------------------------------------------------------
# synthetic long procedures, adapted for PySkinDose


def _walk(seq, fn) -> None:
    for item in seq:
        fn(item)
        if "ContentSequence" in item:
            _walk(item.ContentSequence, fn)


def code_meanings() -> dict[str, str]:
    """Code value → meaning, as the real RDSRs in ``../shared/data/rdsr`` spell them."""
    import pydicom

    meanings: dict[str, str] = {
        "113788": "Collimated Field Height", "113789": "Collimated Field Width",
    }  # fmt: skip

    def collect(item) -> None:
        for key in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            if key in item and len(item[key].value):
                code = item[key].value[0]
                if "CodeValue" in code and "CodeMeaning" in code:
                    meanings.setdefault(str(code.CodeValue), str(code.CodeMeaning))

    for f in sorted(RDSR_DIR.glob("*.dcm")):
        _walk(pydicom.dcmread(f).ContentSequence, collect)
    return meanings


def replicated_example(n_events: int):
    """The PySkinDose example procedure's 24 events repeated to ``n_events`` (new UIDs)."""
    import dataclasses
    import itertools

    import skindose

    src = RDSR_DIR / "pyskindose__siemens_axiom_example_procedure.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proc = skindose.read_rdsr(src)
    cyc = itertools.islice(itertools.cycle(proc.events), n_events)
    return [dataclasses.replace(e, index=i, uid=f"1.2.826.0.1.3680043.10.9.{i + 1}")
            for i, e in enumerate(cyc)]


def write_synthetic(n_events: int, path: Path, meanings: dict[str, str],
                    replicate: bool = False) -> Path:
    """A synthetic Siemens AXIOM-Artis procedure both tools can read.

    ``replicate``: the example procedure's events repeated (PySkinDose's own geometry; its
    limits are in benchmarks/README.md) instead of
    :func:`~skindose.rdsr.synthetic.example_procedure`.
    """
    import pydicom

    from skindose.rdsr.synthetic import Quirks, example_procedure, write_rdsr

    src = replicated_example(n_events) if replicate else example_procedure(n_events)
    write_rdsr(src, path, Quirks(legacy_codes=True))
    ds = pydicom.dcmread(path)

    def fix(item) -> None:
        for key in ("ConceptNameCodeSequence", "ConceptCodeSequence"):
            if key in item and len(item[key].value):
                code = item[key].value[0]
                if str(code.CodeValue) in meanings:
                    code.CodeMeaning = meanings[str(code.CodeValue)]

    _walk(ds.ContentSequence, fix)
    for ev in ds.ContentSequence:
        if str(ev.ConceptNameCodeSequence[0].CodeValue) != "113706":
            continue
        items = {str(i.ConceptNameCodeSequence[0].CodeValue): i for i in ev.ContentSequence}
        if "113790" in items or "113788" not in items or "113789" not in items:
            continue
        h = float(items["113788"].MeasuredValueSequence[0].NumericValue)
        w = float(items["113789"].MeasuredValueSequence[0].NumericValue)
        area = copy.deepcopy(items["113788"])
        area.ConceptNameCodeSequence[0].CodeValue = "113790"
        area.ConceptNameCodeSequence[0].CodeMeaning = "Collimated Field Area"
        mv = area.MeasuredValueSequence[0]
        mv.NumericValue = f"{h * w / 1e6:.6g}"
        mv.MeasurementUnitsCodeSequence[0].CodeValue = "m2"
        mv.MeasurementUnitsCodeSequence[0].CodeMeaning = "m2"
        ev.ContentSequence.append(area)
    ds.save_as(path)
    return path


# ----------------------------------------------------------------------------------------------


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5,
                              check=False).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def reader_race(synthetic_events: int = 10_000, tmp: Path | None = None,
                files: list[Path] | None = None) -> list[dict]:
    """``read_rdsr`` against ``pydicom.dcmread`` on the same files, side by side (see above).

    ``files``: the real files to race (default: the longest real file and PySkinDose's four).
    """
    import pydicom

    from skindose.rdsr import reader
    from skindose.rdsr.synthetic import example_procedure, write_rdsr

    if files is None:
        files = sorted(RDSR_DIR.glob("pyskindose__*.dcm"))
        longest = max(RDSR_DIR.glob("*.dcm"), key=lambda f: f.stat().st_size, default=None)
        if longest is not None and longest not in files:
            files.insert(0, longest)
    files = list(files)
    tmpdir = Path(tmp or tempfile.mkdtemp(prefix="bench-reader-"))
    if synthetic_events:
        t0 = time.perf_counter()
        syn = write_rdsr(example_procedure(synthetic_events, seed=3),
                         tmpdir / f"synthetic_{synthetic_events}.dcm")
        print(f"    wrote {syn.name} in {time.perf_counter() - t0:.2f} s", flush=True)
        files.append(syn)

    def best(fn, repeat: int) -> float:
        out = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            out = min(out, time.perf_counter() - t0)
        return out

    def full(f):
        ds = pydicom.dcmread(f)
        for _ in ds.iterall():
            pass

    def old(f):
        ds, name = reader._load(f)
        return reader._parse(ds, name)

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in files:
            repeat = 1 if f.stat().st_size > 10_000_000 else 3
            l0 = os.getloadavg()[0]
            fast_s = best(lambda f=f: reader.read_rdsr(f), repeat)
            lazy_s = best(lambda f=f: pydicom.dcmread(f), repeat)
            full_s = best(lambda f=f: full(f), repeat)
            old_s = best(lambda f=f: old(f), repeat)
            proc = reader.read_rdsr(f)
            fell_back = any(getattr(n, "code", None) == "reader-fallback-pydicom"
                            for n in getattr(proc, "notes", ()))
            rows.append({
                "file": f.name, "bytes": f.stat().st_size, "events": proc.n_events,
                "read_rdsr_s": fast_s, "dcmread_s": lazy_s, "dcmread_full_decode_s": full_s,
                "read_rdsr_pydicom_path_s": old_s,
                "read_rdsr_over_dcmread": fast_s / lazy_s,
                "read_rdsr_over_dcmread_full": fast_s / full_s,
                "speedup_vs_pydicom_path": old_s / fast_s,
                "fast_path_fell_back": fell_back, "repeat": repeat,
                "load": round(max(l0, os.getloadavg()[0]), 2),
            })  # fmt: skip
            r = rows[-1]
            print(f"    {f.name[:44]:44s} {r['events']:6d} ev  read_rdsr {fast_s * 1e3:9.1f} ms  "
                  f"dcmread {lazy_s * 1e3:8.1f} ms  dcmread+decode {full_s * 1e3:9.1f} ms  "
                  f"old reader {old_s * 1e3:9.1f} ms  (load {r['load']})", flush=True)
    return rows


def _fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


#: Fresh processes per tool and file (``--runs``); each time is the minimum over them.
RUNS = [3]
_TIMES = ("parse_s", "calc_s", "calc_repeat_s", "process_s")


def _best(runs: list[dict]) -> dict:
    """One row from several runs of one tool: the first run's values, every time the minimum
    over the runs that finished (a run that failed makes the row fail: no cherry-picking)."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    row = dict(runs[0])
    for key in _TIMES:
        vals = [r[key] for r in runs if r.get(key) is not None]
        if vals:
            row[key] = min(vals)
            row[key + "_runs"] = vals
    both = [r["parse_s"] + r["calc_s"] for r in runs
            if r.get("parse_s") is not None and r.get("calc_s") is not None]
    if both:
        row["read_calc_s"] = min(both)  # per run, then the best run
    row["runs"] = len(runs)
    return row


def compare(file: Path, mesh: str, timeout: float) -> dict:
    """Both tools on one file; a combined row."""
    l0 = os.getloadavg()[0]
    area = str(area_for_cells(PYSKINDOSE_MESH_CELLS[mesh]))
    p_runs, s_runs = [], []
    for _ in range(RUNS[0]):  # interleaved, so a change of load hits both tools alike
        p_runs.append(run_worker("pyskindose", file, mesh, timeout))
        s_runs.append(run_worker("skindose", file, area, timeout))
        if "error" in p_runs[-1] or "error" in s_runs[-1]:
            break  # a failure is the row's result: no point repeating it
    p, s = _best(p_runs), _best(s_runs)
    n = s.get("n_events") or p.get("n_events")
    row = {
        "file": file.name, "events": n,
        "pyskindose_phantom": mesh, "pyskindose_cells": p.get("cells",
                                                              PYSKINDOSE_MESH_CELLS[mesh]),
        "skindose_cells": s.get("cells"),
        "pyskindose_calc_s": p.get("calc_s"), "skindose_calc_s": s.get("calc_s"),
        "pyskindose_parse_s": p.get("parse_s"), "skindose_parse_s": s.get("parse_s"),
        "pyskindose_ms_per_event": p["calc_s"] / n * 1e3 if "calc_s" in p and n else None,
        "skindose_ms_per_event": s["calc_s"] / n * 1e3 if "calc_s" in s and n else None,
        "pyskindose_psd_gy": p.get("psd_gy"), "skindose_psd_gy": s.get("psd_gy"),
        "skindose_rp_estimate": s.get("rp_estimate"),
        "pyskindose_error": p.get("error"), "skindose_error": s.get("error"),
        "pyskindose_failed_after_s": p.get("failed_after_s"),
        "load": round(max(l0, os.getloadavg()[0]), 2),
    }  # fmt: skip
    for tool, r in (("pyskindose", p), ("skindose", s)):
        row[f"{tool}_read_calc_ms_per_event"] = (
            r["read_calc_s"] / n * 1e3 if r.get("read_calc_s") is not None and n else None)
        row[f"{tool}_runs"] = r.get("runs")
        for key in ("calc_s", "parse_s", "calc_repeat_s"):
            if key + "_runs" in r:
                row[f"{tool}_{key}_runs"] = " ".join(f"{v:.4f}" for v in r[key + "_runs"])
    row["ratio_read_calc"] = (
        row["pyskindose_read_calc_ms_per_event"] / row["skindose_read_calc_ms_per_event"]
        if row["pyskindose_read_calc_ms_per_event"] and row["skindose_read_calc_ms_per_event"]
        else None)
    if row["pyskindose_ms_per_event"] and row["skindose_ms_per_event"]:
        row["ratio"] = row["pyskindose_ms_per_event"] / row["skindose_ms_per_event"]
    else:
        row["ratio"] = None
    rep = s.get("calc_repeat_s")
    row["skindose_repeat_ms_per_event"] = rep / n * 1e3 if rep and n else None
    row["ratio_repeat"] = (row["pyskindose_ms_per_event"] / row["skindose_repeat_ms_per_event"]
                           if row["pyskindose_ms_per_event"]
                           and row["skindose_repeat_ms_per_event"] else None)
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; prints a table and writes compare_pyskindose.{json,csv}."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--quick", action="store_true", help="one file, no synthetic procedures")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per tool run")
    ap.add_argument("--runs", type=int, default=3,
                    help="fresh processes per tool and file, interleaved; times are the "
                    "minimum over them (default 3)")
    ap.add_argument("--reader", action="store_true",
                    help="only the reader race (read_rdsr against pydicom.dcmread)")
    ap.add_argument("--reader-events", type=int, default=10_000,
                    help="events of the reader race's synthetic file (0: none)")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--no-reader", action="store_true",
                    help="skip the reader race (benchmarks/reader_bench.py is its interleaved "
                    "form)")
    ap.add_argument("--pyskindose-python", default=sys.executable,
                    help="Python interpreter with pyskindose installed (default: this one)")
    args = ap.parse_args(argv)
    if args.worker:
        tool, file, arg = args.worker
        row = (worker_pyskindose(file, arg) if tool == "pyskindose"
               else worker_skindose(file, float(arg)))
        print(json.dumps(row))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"uptime: {_uptime()}", flush=True)
    if not args.no_reader:
        print("reader race: read_rdsr against pydicom.dcmread, side by side", flush=True)
        reader_rows = reader_race(args.reader_events)
        write_csv(args.out / "reader_race.csv", reader_rows)
        (args.out / "reader_race.json").write_text(json.dumps(
            {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "uptime_after": _uptime(),
             "rows": reader_rows}, indent=1))
    if args.reader:
        return 0
    PYSKINDOSE_PYTHON[0] = args.pyskindose_python
    RUNS[0] = max(1, args.runs)
    has_peer = subprocess.run([args.pyskindose_python, "-c", "import pyskindose"],
                              capture_output=True, timeout=120, check=False).returncode == 0
    if not has_peer:
        print("pyskindose is not importable: install the optional 'bench' extra "
              "(pip install pyskindose) to run the comparison. Nothing was run.")
        return 0

    jobs: list[tuple[Path, str]] = []
    files = sorted(RDSR_DIR.glob("pyskindose__*.dcm"))
    if args.quick:
        files = [f for f in files if "example_procedure" in f.name]
    jobs += [(f, "hudfrid") for f in files]
    if not args.quick:
        jobs += [(f, "adult_male") for f in files if "example_procedure" in f.name]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-synthetic-") as tmp:
        if not args.quick:
            meanings = code_meanings()
            for n in SYNTHETIC_EVENTS:
                jobs.append((write_synthetic(n, Path(tmp) / f"synthetic_{n}.dcm", meanings),
                             "hudfrid"))
            for n in REPLICATED_EVENTS:
                jobs.append((write_synthetic(n, Path(tmp) / f"example_x{n}.dcm", meanings,
                                             replicate=True), "hudfrid"))
        for f, mesh in jobs:
            print(f"... {f.name} ({mesh})", flush=True)
            rows.append(compare(f, mesh, args.timeout))

    head = (f"{'file':44s} {'events':>6s} {'cells P/s':>13s} {'ms/event P':>10s} "
            f"{'ms/event s':>10s} {'ratio':>7s} {'repeat':>7s} {'r+c ratio':>9s} "
            f"{'PSD P (Gy)':>10s} "
            f"{'PSD s (Gy)':>10s}  notes")
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        notes = []
        if r["pyskindose_error"]:
            fa = r["pyskindose_failed_after_s"]
            notes.append(f"PySkinDose FAILED: {r['pyskindose_error']}"
                         + (f" (after {fa:.0f} s)" if fa else ""))
        if r["skindose_error"]:
            notes.append(f"skindose FAILED: {r['skindose_error']}")
        if r["skindose_rp_estimate"]:
            notes.append("skindose: reference-point estimate")
        print(f"{r['file'][:44]:44s} {r['events'] or 0:6d} "
              f"{r['pyskindose_cells']:>6}/{r['skindose_cells'] or 0:<6} "
              f"{_fmt(r['pyskindose_ms_per_event'], '10.2f')} "
              f"{_fmt(r['skindose_ms_per_event'], '10.2f')} {_fmt(r['ratio'], '7.1f')} "
              f"{_fmt(r['ratio_repeat'], '7.1f')} {_fmt(r['ratio_read_calc'], '9.1f')} "
              f"{_fmt(r['pyskindose_psd_gy'], '10.4g')} {_fmt(r['skindose_psd_gy'], '10.4g')}  "
              + "; ".join(notes))
    print(f"\nPySkinDose settings: {PYSKINDOSE_SETTINGS_NOTE}.\nskindose settings: "
          f"{SKINDOSE_SETTINGS_NOTE}.")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"uptime: {_uptime()}")
    meta = {"pyskindose_settings": PYSKINDOSE_SETTINGS_NOTE, "uptime_after": _uptime(),
            "skindose_settings": SKINDOSE_SETTINGS_NOTE,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "rows": rows}
    (args.out / "compare_pyskindose.json").write_text(json.dumps(meta, indent=1))
    write_csv(args.out / "compare_pyskindose.csv", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
