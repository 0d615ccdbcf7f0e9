"""Slow, obvious NumPy twin of :mod:`skindose.kernel` (brute-force ray casts).

Every floating-point expression that decides a yes/no question (pyramid, facing, ray–triangle,
slab) is written component by component in the same order as the Numba kernel, so that both
make identical decisions bit for bit; no BVH, no blocking, no packing.
"""

from __future__ import annotations

import numpy as np

from skindose.kernel import OCCLUSION_EPS_MM


def ray_triangles(o, d, v0, e1, e2):
    """Möller–Trumbore of rays (m, 3) against triangles (k, 3): t (m, k), inf for misses.

    ``o`` and ``d`` are (m, 3); ``v0``, ``e1``, ``e2`` are (k, 3).
    """
    ox, oy, oz = (o[:, a][:, None] for a in range(3))
    dx, dy, dz = (d[:, a][:, None] for a in range(3))
    e1x, e1y, e1z = (e1[:, a][None, :] for a in range(3))
    e2x, e2y, e2z = (e2[:, a][None, :] for a in range(3))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        px = dy * e2z - dz * e2y
        py = dz * e2x - dx * e2z
        pz = dx * e2y - dy * e2x
        det = e1x * px + e1y * py + e1z * pz
        inv = 1.0 / det
        sx = ox - v0[:, 0][None, :]
        sy = oy - v0[:, 1][None, :]
        sz = oz - v0[:, 2][None, :]
        uu = (sx * px + sy * py + sz * pz) * inv
        qx = sy * e1z - sz * e1y
        qy = sz * e1x - sx * e1z
        qz = sx * e1y - sy * e1x
        vv = (dx * qx + dy * qy + dz * qz) * inv
        t = (e2x * qx + e2y * qy + e2z * qz) * inv
    ok = (det != 0.0) & (uu >= 0.0) & (uu <= 1.0) & (vv >= 0.0) & (uu + vv <= 1.0)
    return np.where(ok, t, np.inf)


def slab_length(s, d, dist, center, axes, half):
    """Length inside the slab box of segments s + t*d, t in [0, 1]; s (3,), d (m, 3)."""
    px = s[0] - center[0]
    py = s[1] - center[1]
    pz = s[2] - center[2]
    m = d.shape[0]
    tn = np.zeros(m)
    tf = np.ones(m)
    miss = np.zeros(m, dtype=bool)
    for a in range(3):
        ax, ay, az = axes[a]
        o = px * ax + py * ay + pz * az
        dd = d[:, 0] * ax + d[:, 1] * ay + d[:, 2] * az
        h = half[a]
        zero = dd == 0.0
        miss |= zero & ((o < -h) | (o > h))
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-h - o) / dd
            t2 = (h - o) / dd
        lo = np.where(zero, -np.inf, np.minimum(t1, t2))
        hi = np.where(zero, np.inf, np.maximum(t1, t2))
        tn = np.maximum(tn, lo)
        tf = np.minimum(tf, hi)
    return np.where(~miss & (tf > tn), (tf - tn) * dist, 0.0)


def reference_accumulate_dose(
    centroids, normals, triangles, source, u, v, w, tan_u, tan_v, kerma, srp_mm,
    slab_log_t0, slab_center, slab_axes, slab_half, max_path_factor,
    inverse_square=True, occlusion=True,
):  # fmt: skip
    """Dose per cell (n,) and per-beam maximum (e,), brute force (see skindose.kernel)."""
    c = np.asarray(centroids, dtype=float)
    nrm = np.asarray(normals, dtype=float)
    tri = np.asarray(triangles, dtype=float)
    v0 = tri[:, 0]
    e1 = tri[:, 1] - tri[:, 0]
    e2 = tri[:, 2] - tri[:, 0]
    thickness = 2.0 * slab_half[2]
    n = c.shape[0]
    out = np.zeros(n)
    emax = np.zeros(len(source))
    for i in range(len(source)):
        s = source[i]
        dx = c[:, 0] - s[0]
        dy = c[:, 1] - s[1]
        dz = c[:, 2] - s[2]
        dw = dx * w[i, 0] + dy * w[i, 1] + dz * w[i, 2]
        du = dx * u[i, 0] + dy * u[i, 1] + dz * u[i, 2]
        dv = dx * v[i, 0] + dy * v[i, 1] + dz * v[i, 2]
        in_field = (dw > 0.0) & (np.abs(du) <= tan_u[i] * dw) & (np.abs(dv) <= tan_v[i] * dw)
        fx = s[0] - c[:, 0]
        fy = s[1] - c[:, 1]
        fz = s[2] - c[:, 2]
        facing = nrm[:, 0] * fx + nrm[:, 1] * fy + nrm[:, 2] * fz > 0.0
        dist2 = dx * dx + dy * dy + dz * dz
        dist = np.sqrt(dist2)
        lit = in_field & facing
        if occlusion:
            for j in np.flatnonzero(lit):
                f = np.array([[fx[j], fy[j], fz[j]]])
                t = ray_triangles(c[j : j + 1], f, v0, e1, e2)[0]
                t[j] = np.inf
                if np.any((t > OCCLUSION_EPS_MM / dist[j]) & (t < 1.0)):
                    lit[j] = False
        dose = np.where(lit, kerma[i], 0.0)
        if inverse_square:
            dose = dose * (srp_mm[i] * srp_mm[i] / dist2)
        if slab_log_t0[i] != 0.0:
            d = np.stack([dx, dy, dz], axis=1)
            length = slab_length(s, d, dist, slab_center, slab_axes, slab_half)
            factor = np.exp(slab_log_t0[i] * np.minimum(length / thickness, max_path_factor))
            dose = np.where(length > 0.0, dose * factor, dose)
        out += dose
        emax[i] = dose.max(initial=0.0)
    return out, emax


def reference_first_hit(origins, directions, triangles):
    """Closest hit t > 0 per ray (inf, -1 on a miss), lowest index on ties."""
    tri = np.asarray(triangles, dtype=float)
    t = ray_triangles(
        np.asarray(origins, float), np.asarray(directions, float),
        tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0],
    )  # fmt: skip
    t = np.where(t > 0.0, t, np.inf)
    idx = np.argmin(t, axis=1)
    best = t[np.arange(len(t)), idx]
    return best, np.where(np.isfinite(best), idx, -1)
