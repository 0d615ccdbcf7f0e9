"""Quick timing of the skin-dose kernel on a synthetic body (trunk + two arms).

Run ``python benchmarks/kernel_quick.py [--subdivisions 6] [--events 200]``. The kernel is
compiled (or loaded from the Numba cache) by a warm-up call first; the timed calls exclude
compile time and BVH construction (reported separately). Throughput is reported as
cell-events per second: cells × events / seconds (every cell is tested against every event),
plus the number of in-field, source-facing pairs (the ones that cast an occlusion ray).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import trimesh

from skindose.kernel import accumulate_dose, prepare


def body(subdivisions: int) -> trimesh.Trimesh:
    """An elliptic trunk (semi-axes 170 × 120 × 850 mm) and two arms beside it."""
    trunk = trimesh.creation.icosphere(subdivisions, 1.0)
    trunk.apply_scale((170.0, 120.0, 850.0))
    parts = [trunk]
    for side in (-1.0, 1.0):
        arm = trimesh.creation.icosphere(max(1, subdivisions - 2), 1.0)
        arm.apply_scale((50.0, 50.0, 350.0))
        arm.apply_translation((side * 235.0, 0.0, 100.0))
        parts.append(arm)
    return trimesh.util.concatenate(parts)


def beams(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Beams aimed at the trunk axis, mostly horizontal, 12–15 cm fields at 60 cm."""
    azim = rng.uniform(0, 2 * np.pi, n)
    elev = np.deg2rad(rng.uniform(-30, 30, n))
    w = np.stack([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)], 1)
    u = np.cross(w, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(w, u)
    iso = np.stack([np.zeros(n), np.zeros(n), rng.uniform(-500, 500, n)], 1)
    source = iso - 750.0 * w[:, :]
    return {
        "source": source,
        "u": u,
        "v": v,
        "w": w,
        "tan_u": rng.uniform(60.0, 75.0, n) / 600.0,
        "tan_v": rng.uniform(60.0, 75.0, n) / 600.0,
        "kerma": rng.uniform(1e-3, 1e-2, n),
        "srp_mm": np.full(n, 600.0),
        "slab_log_t0": np.full(n, np.log(0.8)),
    }


SLAB = {
    "slab_center": np.array([0.0, 145.0, 0.0]),
    "slab_axes": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
    "slab_half": np.array([300.0, 1200.0, 25.0]),
    "max_path_factor": 1.0 / np.cos(np.deg2rad(70.0)),
}


def timed(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` calls."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subdivisions", type=int, default=6, help="trunk icosphere level")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serial", action="store_true", help="also time the serial variant")
    parser.add_argument("--brute", type=int, default=0, help="events for a brute-force run")
    args = parser.parse_args()

    mesh = body(args.subdivisions)
    tri = np.ascontiguousarray(mesh.triangles)
    cen = tri.mean(axis=1)
    nrm = np.ascontiguousarray(mesh.face_normals)
    n = len(tri)
    ev = beams(np.random.default_rng(0), args.events)

    t0 = time.perf_counter()
    accel = prepare(tri)  # first call also loads or compiles the builder
    t_first = time.perf_counter() - t0
    t_build = timed(lambda: prepare(tri), 1)
    small = {k: a[:2] for k, a in ev.items()}
    t0 = time.perf_counter()
    for par in (True, False):
        accumulate_dose(cen, nrm, tri, **small, **SLAB, accel=accel, parallel=par)
    t_warm = time.perf_counter() - t0

    unit = {**ev, "kerma": np.ones(args.events), "slab_log_t0": np.zeros(args.events)}
    counts = accumulate_dose(
        cen, nrm, tri, **unit, **SLAB, inverse_square=False, occlusion=False, accel=accel
    )
    lit_pairs = int(counts.sum())
    occluded = accumulate_dose(
        cen, nrm, tri, **unit, **SLAB, inverse_square=False, occlusion=True, accel=accel
    )
    print(f"mesh: {n} triangles (cells); events: {args.events}")
    print(f"BVH build: {t_build * 1e3:.0f} ms (first call incl. load/compile {t_first:.2f} s)")
    print(f"warm-up (load or compile kernels): {t_warm:.2f} s")
    print(
        f"in-field source-facing pairs: {lit_pairs} ({lit_pairs / args.events:.0f} per event); "
        f"occluded: {lit_pairs - int(occluded.sum())}"
    )

    variants = [("parallel", True)] + ([("serial", False)] if args.serial else [])
    for label, par in variants:
        for occl in (False, True):
            t = timed(
                lambda par=par, occl=occl: accumulate_dose(
                    cen, nrm, tri, **ev, **SLAB, occlusion=occl, parallel=par, accel=accel
                ),
                args.repeat,
            )
            rate = n * args.events / t
            print(
                f"{label:8s} occlusion={occl!s:5s}: {t * 1e3:8.1f} ms  "
                f"{rate / 1e6:7.1f} M cell-events/s  {t / args.events * 1e3:.3f} ms/event  "
                f"{lit_pairs / t / 1e6:.2f} M lit pairs/s"
            )
    if args.brute:
        brute = prepare(tri, leaf_size=n)  # one leaf: every ray tests every triangle
        sub = {k: a[: args.brute] for k, a in ev.items()}
        t = timed(lambda: accumulate_dose(cen, nrm, tri, **sub, **SLAB, accel=brute,
                                          occlusion_structure="bvh"), 1)
        print(
            f"brute force (no BVH), occlusion=True, {args.brute} events: {t * 1e3:.0f} ms  "
            f"{n * args.brute / t / 1e6:.3f} M cell-events/s"
        )


if __name__ == "__main__":
    main()
