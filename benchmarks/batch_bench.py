"""Benchmark of ``skindose batch``: files per second for 1, 2 and N workers, peak memory.

Writes ``--files`` synthetic RDSRs (``skindose.rdsr.synthetic``; a few distinct procedures,
each file with its own SOP Instance UID so that none is a duplicate), then runs every
configuration in a fresh Python process (so that the driver's peak RSS is its own):

* ``dask W``: :func:`skindose.batch.run_batch` on the embedded cluster of W worker processes
  (the default code path of ``skindose batch --workers W``);
* ``pool W`` (with ``--pool``): the same per-file function on a
  ``concurrent.futures.ProcessPoolExecutor`` of W spawned processes, the alternative that
  ``docs/batch.md`` weighs against Dask.

Reported per configuration: wall time including start-up and shut-down, start-up alone, files/s
over the whole run and over the steady part (after start-up), peak RSS of the driver process
(it also hosts the scheduler and the nannies) and the largest peak RSS of a worker.

Usage::

    python benchmarks/batch_bench.py --files 400 --workers 1,2,4 --pool
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PLACEHOLDER = "1.2.826.0.1.3680043.10.999." + "0" * 20  # 47 characters, even length


def make_files(folder: Path, n_files: int, n_events: int, n_distinct: int = 8) -> list[Path]:
    """``n_files`` RDSRs: ``n_distinct`` procedures written once, copied with a fresh SOP
    Instance UID each (byte replacement of a fixed-length placeholder UID: fast)."""
    import warnings

    from skindose.rdsr.synthetic import build_rdsr, example_procedure

    warnings.simplefilter("ignore")
    folder.mkdir(parents=True, exist_ok=True)
    bases = []
    for k in range(n_distinct):
        ds = build_rdsr(example_procedure(n_events, seed=100 + k))
        ds.SOPInstanceUID = PLACEHOLDER
        ds.file_meta.MediaStorageSOPInstanceUID = PLACEHOLDER
        p = folder / f"base{k}.tmp"
        ds.save_as(p, enforce_file_format=True)
        data = p.read_bytes()
        p.unlink()
        assert data.count(PLACEHOLDER.encode()) == 2
        bases.append(data)
    out = []
    old = PLACEHOLDER.encode()
    for i in range(n_files):
        new = (PLACEHOLDER[:-20] + f"{i + 1:020d}").encode()
        f = folder / f"f{i:06d}.dcm"
        f.write_bytes(bases[i % n_distinct].replace(old, new))
        out.append(f)
    return out


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def run_one(mode: str, workers: int, folder: Path, phantom: str, cell_area: float) -> dict:
    """One configuration, in this process."""
    import warnings

    from skindose.settings import Settings

    warnings.simplefilter("ignore")
    s = Settings(cell_area_cm2=cell_area)
    files = sorted(folder.glob("*.dcm"))
    t0 = time.perf_counter()
    if mode == "dask":
        from skindose.batch import run_batch
        from skindose.batch._run import open_client

        client, close = open_client(workers=workers)
        # the first file of each worker loads Numba's cache; count it as start-up
        client.run(_warm)
        t_ready = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            summary = run_batch([folder], out, settings=s, phantom=phantom, client=client,
                                progress=False)
        t_done = time.perf_counter()
        worker_rss = max(client.run(_peak_rss_mb).values())
        close()
        ok = summary.counts.get("ok", 0)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from skindose.batch import FileTask, WorkerConfig, process_file

        cfg = WorkerConfig(settings=s.to_dict(), phantom=phantom)
        # the same Numba thread cap as the embedded cluster's workers (inherited by spawn)
        os.environ["NUMBA_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            list(pool.map(_warm_arg, range(workers)))
            t_ready = time.perf_counter()
            rows = list(pool.map(process_file, [FileTask(str(f)) for f in files],
                                 [cfg] * len(files), chunksize=1))
            t_done = time.perf_counter()
            worker_rss = max(pool.map(_peak_rss_arg, range(workers * 4)))
        ok = sum(r["status"] == "ok" for r in rows)
    t_end = time.perf_counter()
    n = len(files)
    return {
        "mode": mode, "workers": workers, "files": n, "ok": ok, "phantom": phantom,
        "cell_area_cm2": cell_area,
        "wall_s": round(t_end - t0, 2), "startup_s": round(t_ready - t0, 2),
        "files_per_s": round(n / (t_end - t0), 3),
        "steady_files_per_s": round(n / (t_done - t_ready), 3),
        "driver_peak_rss_mb": round(_peak_rss_mb(), 1),
        "worker_peak_rss_mb": round(worker_rss, 1),
    }


def _warm() -> None:
    """Import and JIT-load the kernel (Numba's on-disk cache) in a worker."""
    import numpy as np

    from skindose import kernel, phantoms

    ph = phantoms.plane(cell_area_cm2=100.0)
    kernel.prepare(ph.triangles)
    np.zeros(1)


def _warm_arg(_: int) -> None:
    _warm()


def _peak_rss_arg(_: int) -> float:
    time.sleep(0.05)  # spread the calls over the pool's processes
    return _peak_rss_mb()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--events", type=int, default=10)
    ap.add_argument("--workers", default=f"1,2,{os.cpu_count()}",
                    help="comma-separated worker counts (default 1,2,N cores)")
    ap.add_argument("--phantom", default="adult")
    ap.add_argument("--cell-area-cm2", type=float, default=1.0)
    ap.add_argument("--pool", action="store_true",
                    help="also time a ProcessPoolExecutor at the largest worker count")
    ap.add_argument("--configs", help="explicit MODE:W list, e.g. dask:2,pool:2,dask:2 (an "
                    "A/B/A comparison under the same load); overrides --workers/--pool")
    ap.add_argument("--csv", default="batch.csv", help="file name under benchmarks/results/")
    ap.add_argument("--one", nargs=3, metavar=("MODE", "W", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        mode, w, folder = args.one
        print(json.dumps(run_one(mode, int(w), Path(folder), args.phantom,
                                 args.cell_area_cm2)))
        return
    counts = sorted({int(x) for x in args.workers.split(",")})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "rdsr"
        t = time.perf_counter()
        make_files(folder, args.files, args.events)
        print(f"{args.files} files of {args.events} events written in "
              f"{time.perf_counter() - t:.1f} s")
        configs = [("dask", w) for w in counts]
        if args.pool:
            configs.append(("pool", max(counts)))
        if args.configs:
            configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
        results = []
        load_before = os.getloadavg()
        for mode, w in configs:
            cmd = [sys.executable, __file__, "--phantom", args.phantom, "--cell-area-cm2",
                   str(args.cell_area_cm2), "--one", mode, str(w), str(folder)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            r["load_1min"] = round(os.getloadavg()[0], 2)
            results.append(r)
            print(json.dumps(r))
    print(f"load average before: {load_before}; cores: {os.cpu_count()}")
    print()
    print("| mode | workers | files | wall s | start-up s | files/s | steady files/s | "
          "driver peak RSS MB | worker peak RSS MB | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['workers']} | {r['files']} | {r['wall_s']} | "
              f"{r['startup_s']} | {r['files_per_s']} | {r['steady_files_per_s']} | "
              f"{r['driver_peak_rss_mb']} | {r['worker_peak_rss_mb']} | {r['load_1min']} |")
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / args.csv).open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(results[0]))
        w.writeheader()
        w.writerows(results)


if __name__ == "__main__":
    main()
