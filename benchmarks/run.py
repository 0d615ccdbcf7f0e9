"""skindose benchmark suite: kernel throughput, whole ``compute``, scaling, cold start.

Run ``.venv/bin/python benchmarks/run.py`` (full sizes, about 10 minutes on the 2-core
reference machine) or ``--quick`` (smoke sizes, seconds). Results go to ``--out``
(default ``benchmarks/results``): ``results.json`` (everything, with the machine and the load
average around each measurement), one CSV per table and ``scaling.png``.

Every ``compute`` case runs in a fresh subprocess (``run.py --case JSON``), so its peak RSS
(``VmHWM``) belongs to that case alone; inside it the kernel is first loaded from the
Numba cache (or compiled) by a small warm-up ``compute``, then the timed call runs, then,
optionally, a second call under ``tracemalloc`` gives the peak of Python-level allocations
(NumPy arrays included). Cold start runs the ``skindose`` console script with
``NUMBA_CACHE_DIR`` pointed at an empty directory (compile everything) and again at the same
directory (load from the cache).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RDSR_DIR = ROOT.parent / "shared" / "data" / "rdsr"
SKINDOSE_CLI = Path(sys.executable).with_name("skindose")

_AREA_CACHE: dict[tuple[str, int], float] = {}


def area_for_cells(target: int, kind: str = "adult") -> float:
    """The cell area (cm²) giving the fewest cells >= ``target`` (within 10 %), by bisection.

    The phantom builders refine to "at most this area" with a floor set by the curvature, so
    the count is not proportional to 1/area and may not go below a minimum (the adult of
    2026-03 has about 33,000 cells at any area above 2 cm²); then the largest tried area is
    returned and the caller reports the real count.
    """
    from skindose import phantoms

    key = (kind, target)
    if key in _AREA_CACHE:
        return _AREA_CACHE[key]
    build = getattr(phantoms, kind)
    lo, hi = 0.02, 50.0  # small area: many cells; large area: few
    best = lo
    for _ in range(14):
        mid = float(np.sqrt(lo * hi))
        n = build(cell_area_cm2=mid).n_cells
        if n >= target:
            best, lo = mid, mid
            if n <= 1.1 * target:
                break
        else:
            hi = mid
    if build(cell_area_cm2=hi).n_cells >= target:
        best = hi
    _AREA_CACHE[key] = best
    return best


FULL = {
    "kernel_cells": (10_000, 50_000, 200_000),  # 10k: cylinder (the adult has >= 33k)
    "kernel_events": 200,
    "kernel_repeat": 3,
    "threads_case": (100_000, 10_000, 3),  # cells, events, repeat
    "coverage": True,
    "layers_cells": (50_000, 200_000),
    "layers_repeat": 5,
    "compute_events": (100, 1_000, 10_000),
    "target_events": (1_000, 10_000),
    "scaling_events": (100, 300, 1_000, 3_000, 10_000),
    "scaling_cells": (35_000, 50_000, 100_000, 150_000, 200_000),
    "scaling_cells_events": 1_000,
    "real_files": None,  # all
    "cold": True,
}
QUICK = {
    "kernel_cells": (2_000,),
    "kernel_events": 10,
    "kernel_repeat": 1,
    "threads_case": None,
    "coverage": False,
    "layers_cells": (2_000,),
    "layers_repeat": 1,
    "compute_events": (10,),
    "target_events": (),
    "scaling_events": (5, 10),
    "scaling_cells": (2_000,),
    "scaling_cells_events": 10,
    "real_files": 1,
    "cold": False,
}
QUICK_AREA = 25.0


def load() -> float:
    """One-minute load average."""
    return os.getloadavg()[0]


def machine() -> dict:
    """What the numbers were measured on."""
    import numba

    import skindose

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "skindose": skindose.__version__,
        "load_at_start": list(os.getloadavg()),
        "git": _git(),
    }


def _git() -> str:
    """Commit of the working tree measured, with "+dirty" when src/ has local changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, text=True,
                               capture_output=True, check=False).stdout.strip()
    except OSError:
        return "?"
    return head + ("+dirty" if dirty else "")


# ----------------------------------------------------------------------------------------------
# kernel throughput (in-process, warm)


def kernel_beams(bounds: np.ndarray, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Beams aimed at the trunk of the adult phantom: mostly horizontal, 12–15 cm at 60 cm.

    The phantom frame is DICOM patient (+x left, +y posterior, +z head); the isocentres lie
    on the trunk axis (25–45 % of the height below the top of the head).
    """
    lo, hi = bounds
    h = hi[2] - lo[2]
    azim = rng.uniform(0, 2 * np.pi, n)
    elev = np.deg2rad(rng.uniform(-30, 30, n))
    w = np.stack([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)], 1)
    u = np.cross(w, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(w, u)
    iso = np.stack([
        np.full(n, 0.5 * (lo[0] + hi[0])),
        np.full(n, 0.5 * (lo[1] + hi[1])),
        hi[2] - rng.uniform(0.25, 0.45, n) * h,
    ], 1)  # fmt: skip
    return {
        "source": iso - 750.0 * w,
        "u": u, "v": v, "w": w,
        "tan_u": rng.uniform(60.0, 75.0, n) / 600.0,
        "tan_v": rng.uniform(60.0, 75.0, n) / 600.0,
        "kerma": rng.uniform(1e-3, 1e-2, n),
        "srp_mm": np.full(n, 600.0),
        "slab_log_t0": np.full(n, np.log(0.8)),
    }  # fmt: skip


def _kernel_scene(target_cells: int, n_events: int, area: float | None = None):
    """Phantom (adult, else cylinder below the adult's minimum), beams and slab."""
    from skindose import phantoms

    kind = "adult"
    if area is None:
        area = area_for_cells(target_cells)
        if phantoms.adult(cell_area_cm2=area).n_cells > 1.5 * target_cells:
            kind = "cylinder"
            area = area_for_cells(target_cells, kind)
    ph = getattr(phantoms, kind)(cell_area_cm2=area)
    ev = kernel_beams(np.asarray(ph.mesh.bounds), np.random.default_rng(0), n_events)
    lo, hi = np.asarray(ph.mesh.bounds)
    slab = {
        "slab_center": np.array([0.5 * (lo[0] + hi[0]), hi[1] + 40.0, 0.5 * (lo[2] + hi[2])]),
        "slab_axes": np.eye(3)[[0, 2, 1]],
        "slab_half": np.array([250.0, 1500.0, 40.0]),
        "max_path_factor": 1.0 / np.cos(np.deg2rad(70.0)),
    }
    return kind, area, ph, ev, slab


def kernel_case(target_cells: int, n_events: int, repeat: int, area: float | None = None) -> list:
    """Throughput of :func:`skindose.kernel.accumulate_dose`: occlusion off, grid, BVH.

    Side by side in one process, interleaved, best of ``repeat`` (wall time) and the CPU time
    of the same call (``time.process_time``; less sensitive to other jobs on a shared machine,
    one thread only). ``same_as_bvh``: the grid's dose map is bit-identical to the BVH's (the
    same lit-cell decisions on this scene).
    """
    from skindose import kernel

    kind, area, ph, ev, slab = _kernel_scene(target_cells, n_events, area)
    cen, nrm, tri = ph.centroids, ph.normals, ph.triangles
    n = ph.n_cells
    t0 = time.perf_counter()
    accel = ph.accel
    t_prepare = time.perf_counter() - t0
    one = {k: a[:1] for k, a in ev.items()}
    t0 = time.perf_counter()
    kernel.accumulate_dose(cen, nrm, tri, **one, **slab, accel=accel)
    t_first = time.perf_counter() - t0
    unit = {**ev, "kerma": np.ones(n_events), "slab_log_t0": np.zeros(n_events)}
    lit = kernel.accumulate_dose(cen, nrm, tri, **unit, **slab, inverse_square=False,
                                 occlusion=False, accel=accel).sum()
    variants = {"off": {"occlusion": False}, "grid": {}, "bvh": {"occlusion_structure": "bvh"}}
    for kw in variants.values():  # load (or compile) every variant
        kernel.accumulate_dose(cen, nrm, tri, **one, **slab, accel=accel, parallel=False, **kw)
    wall = {k: np.inf for k in variants}
    cpu = {k: np.inf for k in variants}
    maps = {}
    l0 = load()
    for _ in range(repeat):
        for name, kw in variants.items():
            t0, c0 = time.perf_counter(), time.process_time()
            maps[name] = kernel.accumulate_dose(cen, nrm, tri, **ev, **slab, accel=accel,
                                                parallel=False, **kw)
            wall[name] = min(wall[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    same = bool(np.array_equal(maps["grid"], maps["bvh"]))
    rows = []
    for name in variants:
        rows.append({
            "phantom": kind, "cell_area_cm2": area, "cells": n, "events": n_events,
            "occlusion": name, "threads": 1, "seconds": wall[name], "cpu_seconds": cpu[name],
            "cell_events_per_s": n * n_events / wall[name],
            "ms_per_event": wall[name] / n_events * 1e3,
            "cpu_ms_per_event": cpu[name] / n_events * 1e3,
            "on_over_off_cpu": cpu[name] / cpu["off"], "same_as_bvh": same,
            "lit_pairs_per_event": float(lit) / n_events, "prepare_s": t_prepare,
            "first_call_s": t_first, "load": round(max(l0, load()), 2),
        })  # fmt: skip
    return rows


def threads_case(target_cells: int, n_events: int, repeat: int) -> list[dict]:
    """1 vs all Numba threads on one kernel workload (occlusion on), interleaved, best of.

    The workload of a ``compute`` of ``n_events`` single-beam events with a 64-point PSD
    timeline, run two ways: ``chunked`` (one call per chunk of ``n_events / 64`` events, the
    previous ``compute`` loop, ``out.max()`` after each) and ``one_call`` (one call with
    ``beam_chunk`` / ``chunk_psd``). ``cpu_seconds_1``: CPU time of the 1-thread run.
    ``identical``: all four dose maps are bit-identical and both timelines equal.
    """
    import numba

    from skindose import kernel

    kind, _area, ph, ev, slab = _kernel_scene(target_cells, n_events)
    cen, nrm, tri, accel = ph.centroids, ph.normals, ph.triangles, ph.accel
    bounds = np.unique(np.round(np.linspace(0, n_events, 65)).astype(int))
    beam_chunk = np.searchsorted(bounds, np.arange(n_events), side="right") - 1
    top = numba.config.NUMBA_NUM_THREADS
    kernel.accumulate_dose(cen, nrm, tri, **{k: a[:2] for k, a in ev.items()}, **slab,
                           accel=accel)

    def chunked() -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros(ph.n_cells)
        psd = []
        for lo, hi in itertools.pairwise(bounds):
            kernel.accumulate_dose(cen, nrm, tri, **{k: a[lo:hi] for k, a in ev.items()},
                                   **slab, accel=accel, out=out)
            psd.append(out.max())
        return out, np.array(psd)

    def one_call() -> tuple[np.ndarray, np.ndarray]:
        psd = np.zeros(len(bounds) - 1)
        out = kernel.accumulate_dose(cen, nrm, tri, **ev, **slab, accel=accel,
                                     beam_chunk=beam_chunk, chunk_psd=psd)
        return out, psd

    ways = {"chunked": chunked, "one_call": one_call}
    best = {(w, th): np.inf for w in ways for th in (1, top)}
    cpu1 = {w: np.inf for w in ways}
    maps = {}
    l0 = load()
    try:
        for _ in range(repeat):
            for w, fn in ways.items():
                for th in (1, top):
                    numba.set_num_threads(th)
                    t0, c0 = time.perf_counter(), time.process_time()
                    maps[(w, th)] = fn()
                    best[(w, th)] = min(best[(w, th)], time.perf_counter() - t0)
                    if th == 1:
                        cpu1[w] = min(cpu1[w], time.process_time() - c0)
    finally:
        numba.set_num_threads(top)
    ref = maps[("chunked", 1)]
    same = all(np.array_equal(m[0], ref[0]) and np.array_equal(m[1], ref[1])
               for m in maps.values())
    l1 = load()
    return [{
        "phantom": kind, "cells": ph.n_cells, "events": n_events, "chunks": len(bounds) - 1,
        "way": w, "threads": top, "seconds_1": best[(w, 1)], f"seconds_{top}": best[(w, top)],
        "cpu_seconds_1": cpu1[w], "speedup": best[(w, 1)] / best[(w, top)],
        "identical": same, "load": round(max(l0, l1), 2),
    } for w in ways]  # fmt: skip


def reuse_case(target_cells: int, n_events: int, run: int, repeat: int) -> dict:
    """Events in runs of ``run`` with the same geometry (a fluoroscopy run: same focal spot,
    axes and field; other kerma) against as many events of distinct geometry; occlusion on,
    one thread, best of ``repeat`` CPU time. The kernel reuses the first event of each run
    (within an event block) for the rest."""
    from skindose import kernel

    kind, _area, ph, ev, slab = _kernel_scene(target_cells, n_events)
    cen, nrm, tri, accel = ph.centroids, ph.normals, ph.triangles, ph.accel
    rep = np.repeat(np.arange(n_events // run), run)
    runs = {k: a[rep] for k, a in ev.items()}
    runs["kerma"] = ev["kerma"][: rep.size]
    cases = {"distinct": {k: a[: rep.size] for k, a in ev.items()}, "runs": runs}
    kernel.accumulate_dose(cen, nrm, tri, **{k: a[:2] for k, a in ev.items()}, **slab,
                           accel=accel, parallel=False)
    cpu = {k: np.inf for k in cases}
    l0 = load()
    for _ in range(repeat):
        for name, c in cases.items():
            c0 = time.process_time()
            kernel.accumulate_dose(cen, nrm, tri, **c, **slab, accel=accel, parallel=False)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return {
        "phantom": kind, "cells": ph.n_cells, "events": int(rep.size), "run": run,
        "cpu_ms_per_event_distinct": cpu["distinct"] / rep.size * 1e3,
        "cpu_ms_per_event_runs": cpu["runs"] / rep.size * 1e3,
        "speedup": cpu["distinct"] / cpu["runs"], "load": round(max(l0, load()), 2),
    }


def layers_case(target_cells: int, n_events: int, repeat: int) -> list[dict]:
    """Occlusion on/off CPU time of the kernel scene's events split by what occlusion does.

    ``shadow``: events where occlusion changes the dose of at least one cell (some in-field
    cell that faces the source lies behind other skin: an arm in front of the trunk, the far
    arm behind it); ``no_shadow``: the others (one layer of skin in the field). Each event is
    classified by two single-event calls (off and on); then each group runs as one call per
    mode, interleaved, best of ``repeat``, one thread.
    """
    from skindose import kernel

    kind, _area, ph, ev, slab = _kernel_scene(target_cells, n_events)
    cen, nrm, tri, accel = ph.centroids, ph.normals, ph.triangles, ph.accel
    modes = {"off": {"occlusion": False}, "on": {}}
    shadow = np.zeros(n_events, dtype=bool)
    for e in range(n_events):
        one = {k: a[e : e + 1] for k, a in ev.items()}
        off, on = (kernel.accumulate_dose(cen, nrm, tri, **one, **slab, accel=accel,
                                          parallel=False, **kw) for kw in modes.values())
        shadow[e] = not np.array_equal(off, on)
    rows = []
    for group, sel in (("no_shadow", ~shadow), ("shadow", shadow)):
        n = int(sel.sum())
        if n == 0:
            continue
        sub = {k: a[sel] for k, a in ev.items()}
        cpu = dict.fromkeys(modes, np.inf)
        l0 = load()
        for _ in range(repeat):
            for name, kw in modes.items():
                c0 = time.process_time()
                kernel.accumulate_dose(cen, nrm, tri, **sub, **slab, accel=accel,
                                       parallel=False, **kw)
                cpu[name] = min(cpu[name], time.process_time() - c0)
        rows.append({
            "phantom": kind, "cells": ph.n_cells, "group": group, "events": n,
            "cpu_ms_per_event_off": cpu["off"] / n * 1e3,
            "cpu_ms_per_event_on": cpu["on"] / n * 1e3,
            "on_over_off_cpu": cpu["on"] / cpu["off"], "load": round(max(l0, load()), 2),
        })  # fmt: skip
    return rows


def _in_pyramid(p: np.ndarray, u, v, w, t: float) -> np.ndarray:
    """Points p (relative to the focal spot) inside the square pyramid of half-tangent t."""
    dw, du, dv = p @ w, p @ u, p @ v
    return (dw > 0) & (np.abs(du) <= t * dw) & (np.abs(dv) <= t * dw)


def coverage_table(fields=(20.0, 50.0, 100.0, 200.0, 300.0), areas=(4.0, 1.0, 0.25)) -> list:
    """Σ dose × area / (K × field area at the RP) on the plane, and the fluence invariant.

    One AP beam (corrections off, inverse square on), SID 1000 mm, source 600 mm from the
    skin, srp 700 mm. Three rules side by side: the kernel (exact clipping), the centroid rule
    of the previous kernel (a cell gets its centroid dose when its centroid is in the field),
    and a fixed 16-point sub-cell sampling pattern (fraction of 16 barycentric points inside
    the field) evaluated in NumPy. At normal incidence on the plane the ratio should be within
    1 % of 1 (the integral of 1/cos θ over the field), the invariant exactly 1.
    """
    from skindose import kernel, phantoms

    sid, ssd, srp = 1000.0, 600.0, 700.0
    # 16 barycentric points: centres of the 16 sub-triangles of a 4 x 4 subdivision
    bary = []
    for i in range(4):
        for j in range(4 - i):
            bary.append(((i + 1 / 3) / 4, (j + 1 / 3) / 4))
            if i + j < 3:
                bary.append(((i + 2 / 3) / 4, (j + 2 / 3) / 4))
    bary = np.array(bary)
    rows = []
    for area in areas:
        ph = phantoms.plane(cell_area_cm2=area)
        tri = ph.triangles
        for field in fields:
            for angle in (0.0, 30.0, 60.0):
                a = np.radians(angle)
                w = np.array([0.0, np.cos(a), np.sin(a)])
                u = np.array([1.0, 0.0, 0.0])
                v = np.cross(w, u)
                s = np.array([0.0, -10.0, -600.0]) - ssd * w
                t = field / 2.0 / sid
                b = {"source": s[None], "u": u[None], "v": v[None], "w": w[None],
                     "tan_u": np.array([t]), "tan_v": np.array([t]), "kerma": np.ones(1),
                     "srp_mm": np.array([srp]), "slab_log_t0": np.zeros(1)}
                dose = kernel.accumulate_dose(
                    ph.centroids, ph.normals, tri, **b, slab_center=np.zeros(3),
                    slab_axes=np.eye(3), slab_half=np.ones(3), max_path_factor=3.0,
                    accel=ph.accel)
                d = ph.centroids - s
                dist2 = np.sum(d * d, 1)
                facing = np.einsum("ij,ij->i", ph.normals, -d) > 0
                full = np.where(facing, srp**2 / dist2, 0.0)

                centroid = full * _in_pyramid(d, u, v, w, t)
                pts = (tri[:, 0][:, None] + bary[:, 0][None, :, None] * (tri[:, 1] - tri[:, 0])
                       [:, None] + bary[:, 1][None, :, None] * (tri[:, 2] - tri[:, 0])[:, None])
                sampled = full * _in_pyramid((pts - s).reshape(-1, 3), u, v, w, t).reshape(
                    len(tri), -1).mean(1)
                cos_phi = np.einsum("ij,ij->i", ph.normals, -d) / np.sqrt(dist2)
                omega = 4.0 * np.arcsin(t * t / (1.0 + t * t))
                f_rp = (2 * t * srp) ** 2
                row = {"cell_area_cm2": area, "cells": ph.n_cells, "field_mm": field,
                       "angle_deg": angle}
                for name, m in (("kernel", dose), ("centroid", centroid), ("sampled16", sampled)):
                    row[f"{name}_kap_ratio"] = float(np.sum(m * ph.areas_mm2)) / f_rp
                    row[f"{name}_invariant"] = float(
                        np.sum(m * ph.areas_mm2 * cos_phi)) / (srp**2 * omega)
                rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------
# compute cases (one subprocess each)


def _procedure(case: dict):
    from skindose import read_rdsr
    from skindose.rdsr.synthetic import example_procedure

    if case["kind"] == "synthetic":
        return example_procedure(case["events"])
    return read_rdsr(case["file"])


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM), MiB.

    ``ru_maxrss`` is not used: Linux keeps it across ``execve``, so a child started by a big
    parent reports the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: dict) -> dict:
    """One ``compute`` measurement (runs inside the subprocess)."""
    import skindose
    from skindose import phantoms
    from skindose.rdsr.synthetic import example_procedure

    t0 = time.perf_counter()
    ph = getattr(phantoms, case.get("phantom", "adult"))(cell_area_cm2=case["area"])
    t_phantom = time.perf_counter() - t0
    t0 = time.perf_counter()
    skindose.compute(example_procedure(3, seed=1), ph)  # warm-up: load (or compile) the kernel
    t_warm = time.perf_counter() - t0
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    proc = _procedure(case)
    t_input = time.perf_counter() - t0
    l0 = load()
    t0 = time.perf_counter()
    res = skindose.compute(proc, ph)
    t_compute = time.perf_counter() - t0
    l1 = load()
    rss = peak_rss_mb()
    out = {
        **case, "cells": ph.n_cells, "n_events": proc.n_events, "phantom_s": t_phantom,
        "warmup_s": t_warm, "input_s": t_input, "compute_s": t_compute,
        "ms_per_event": t_compute / max(proc.n_events, 1) * 1e3,
        "psd_gy": float(res.psd_gy), "rp_estimate": bool(res.is_reference_point_estimate),
        "rss_before_mb": rss_before, "peak_rss_mb": rss, "load": round(max(l0, l1), 2),
    }  # fmt: skip
    if case.get("tracemalloc"):
        del res
        tracemalloc.start()
        skindose.compute(proc, ph)
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def subprocess_case(case: dict, timeout: float = 900.0) -> dict:
    """Run :func:`run_case` in a fresh interpreter; returns its JSON (or an error row)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", json.dumps(case)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**case, "error": f"timeout after {timeout:.0f} s"}
    if p.returncode != 0:
        return {**case, "error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# cold start (console script, empty vs warm Numba cache)


def cold_start(file: Path) -> list[dict]:
    """``skindose compute FILE --json`` with an empty, then a warm ``NUMBA_CACHE_DIR``."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="skindose-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("empty cache (compile)", "warm cache", "warm cache (again)"):
            l0 = load()
            t0 = time.perf_counter()
            p = subprocess.run([str(SKINDOSE_CLI), "compute", str(file), "--json"], env=env,
                               capture_output=True, text=True, timeout=900, check=False)
            wall = time.perf_counter() - t0
            psd = None
            if p.returncode == 0:
                summary = json.loads(p.stdout)
                psd = _find_psd(summary)
            rows.append({"file": file.name, "numba_cache": label, "wall_s": wall,
                         "rc": p.returncode, "psd_gy": psd, "load": round(max(l0, load()), 2)})
    l0 = load()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import skindose"], check=True)
    rows.append({"file": "-", "numba_cache": "python -c 'import skindose'",
                 "wall_s": time.perf_counter() - t0, "rc": 0, "psd_gy": None,
                 "load": round(max(l0, load()), 2)})
    return rows


def _find_psd(summary) -> float | None:
    """The PSD (Gy) from the CLI's JSON (a summary or a list of them)."""
    if isinstance(summary, list):
        summary = summary[0] if summary else {}
    if not isinstance(summary, dict):
        return None
    for key in ("psd_gy", "peak_skin_dose_gy"):
        if key in summary and isinstance(summary[key], int | float):
            return float(summary[key])
    for v in summary.values():
        if isinstance(v, dict | list):
            found = _find_psd(v)
            if found is not None:
                return found
    return None


# ----------------------------------------------------------------------------------------------
# output


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows (dicts) as CSV, the union of their keys as columns."""
    if not rows:
        return
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)


def plot_scaling(path: Path, by_events: list[dict], by_cells: list[dict]) -> None:
    """Two log-log panels: compute time vs events and vs cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=90)
    for ax, rows, key, label in ((axes[0], by_events, "n_events", "events"),
                                 (axes[1], by_cells, "cells", "skin cells")):
        ok = [r for r in rows if "error" not in r]
        if not ok:
            continue
        x = np.array([r[key] for r in ok], dtype=float)
        y = np.array([r["compute_s"] for r in ok])
        ax.loglog(x, y, "o-", label="compute (s)")
        ax.loglog(x, y[-1] * x / x[-1], ":", color="grey", label="∝ " + label)
        ax.set_xlabel(label)
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if by_events:
        axes[0].set_title(f"adult phantom, {by_events[0].get('cells', '?')} cells", fontsize=9)
    if by_cells:
        axes[1].set_title(f"{by_cells[0].get('n_events', '?')} synthetic events", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    """Run the suite; returns the results dictionary (also written to ``--out``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes (seconds)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--only", nargs="+", default=None,
                    choices=("kernel", "compute", "target", "real", "scaling", "cold"))
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return {}
    cfg = QUICK if args.quick else FULL
    want = set(args.only or ("kernel", "compute", "target", "real", "scaling", "cold"))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    area = QUICK_AREA if args.quick else 1.0
    res: dict = {"machine": machine(), "quick": args.quick}
    # --quick runs every case in this process (seconds instead of one interpreter per case;
    # its peak RSS is then the whole run's, not the case's).
    measure = run_case if args.quick else subprocess_case

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')} load {load():.2f}] {msg}", flush=True)

    if "kernel" in want:
        res["kernel"] = []
        for cells in cfg["kernel_cells"]:
            say(f"kernel: ~{cells} cells × {cfg['kernel_events']} events")
            res["kernel"] += kernel_case(cells, cfg["kernel_events"], cfg["kernel_repeat"],
                                         area=QUICK_AREA if args.quick else None)
        write_csv(out / "kernel.csv", res["kernel"])
        if cfg["threads_case"]:
            cells, n_ev, rep = cfg["threads_case"]
            say(f"kernel threads: ~{cells} cells × {n_ev} events, 1 vs all threads")
            res["kernel_threads"] = threads_case(cells, n_ev, rep)
            write_csv(out / "kernel_threads.csv", res["kernel_threads"])
        if cfg["threads_case"]:
            say("kernel reuse: runs of 10 events with the same geometry vs distinct")
            res["kernel_reuse"] = [reuse_case(50_000, 1_000, 10, cfg["kernel_repeat"])]
            write_csv(out / "kernel_reuse.csv", res["kernel_reuse"])
        if cfg["layers_cells"]:
            res["kernel_layers"] = []
            for cells in cfg["layers_cells"]:
                say(f"kernel layers: ~{cells} cells, events with and without shadow")
                res["kernel_layers"] += layers_case(cells, cfg["kernel_events"],
                                                    cfg["layers_repeat"])
            write_csv(out / "kernel_layers.csv", res["kernel_layers"])
        if cfg["coverage"]:
            say("kernel coverage: plane, fields 20–300 mm, cells 4 / 1 / 0.25 cm²")
            res["kernel_coverage"] = coverage_table()
            write_csv(out / "kernel_coverage.csv", res["kernel_coverage"])
    if "compute" in want:
        res["compute"] = []
        for n in cfg["compute_events"]:
            say(f"compute: {n} synthetic events, adult {area} cm²")
            res["compute"].append(measure(
                {"kind": "synthetic", "events": n, "area": area,
                 # tracemalloc slows the Python-level parts ~3x: only up to 1,000 events
                 "tracemalloc": n <= 1_000}))
        write_csv(out / "compute.csv", res["compute"])
    if "target" in want and cfg["target_events"]:
        res["target"] = []
        for n in cfg["target_events"]:
            say(f"target: {n} synthetic events, adult ~100k cells")
            res["target"].append(measure(
                {"kind": "synthetic", "events": n, "area": area_for_cells(100_000)}))
        write_csv(out / "target.csv", res["target"])
    if "real" in want:
        files = sorted(RDSR_DIR.glob("*.dcm"))[: cfg["real_files"]]
        res["real"] = []
        for f in files:
            say(f"real: {f.name}")
            res["real"].append(measure(
                {"kind": "file", "file": str(f), "area": area, "tracemalloc": True}))
        write_csv(out / "real.csv", res["real"])
    if "scaling" in want:
        by_ev, by_cells = [], []
        for n in cfg["scaling_events"]:
            say(f"scaling: {n} events")
            by_ev.append(measure({"kind": "synthetic", "events": n, "area": area}))
        for cells in cfg["scaling_cells"]:
            a = QUICK_AREA if args.quick else area_for_cells(cells)
            say(f"scaling: ~{cells} cells")
            by_cells.append(measure(
                {"kind": "synthetic", "events": cfg["scaling_cells_events"], "area": a}))
        res["scaling_events"], res["scaling_cells"] = by_ev, by_cells
        write_csv(out / "scaling_events.csv", by_ev)
        write_csv(out / "scaling_cells.csv", by_cells)
        plot_scaling(out / "scaling.png", by_ev, by_cells)
    if "cold" in want and cfg["cold"]:
        f = RDSR_DIR / "pyskindose__siemens_axiom_example_procedure.dcm"
        say(f"cold start: {f.name}")
        res["cold"] = cold_start(f)
        write_csv(out / "cold.csv", res["cold"])
    res["machine"]["load_at_end"] = list(os.getloadavg())
    path = out / "results.json"
    if args.only and path.exists():  # a partial run updates the sections it measured
        old = json.loads(path.read_text())
        old.setdefault("machine_by_section", {})
        for key in res:
            if key not in ("machine", "quick"):
                old["machine_by_section"][key] = res["machine"]
        res = {**old, **{k: v for k, v in res.items() if k != "machine"}}
    path.write_text(json.dumps(res, indent=1, default=str))
    say(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
