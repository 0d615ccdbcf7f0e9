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


def clip_half(pts, axis, sign, lim):
    """Sutherland–Hodgman: the part of polygon ``pts`` (list of (a, b)) with sign*x <= lim."""
    out = []
    n = len(pts)
    if n == 0:
        return out
    prev = pts[n - 1]
    fp = sign * prev[axis] - lim
    for cur in pts:
        fc = sign * cur[axis] - lim
        if fc <= 0.0:
            if fp > 0.0:
                t = fp / (fp - fc)
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            out.append(cur)
        elif fp <= 0.0:
            t = fp / (fp - fc)
            out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
        prev = cur
        fp = fc
    return out


def twice_area(pts):
    """Shoelace: twice the signed area of a polygon."""
    s = 0.0
    n = len(pts)
    for k in range(n):
        a = pts[k]
        b = pts[k + 1] if k + 1 < n else pts[0]
        s += a[0] * b[1] - b[0] * a[1]
    return s


def coverage(tri_ab, tu, tv):
    """(fraction, ca, cb) of a projected triangle inside |a| <= tu, |b| <= tv."""
    whole = abs(twice_area(tri_ab))
    if not whole > 0.0:
        return 0.0, 0.0, 0.0
    pts = clip_half(list(tri_ab), 0, 1.0, tu)
    pts = clip_half(pts, 0, -1.0, tu)
    pts = clip_half(pts, 1, 1.0, tv)
    pts = clip_half(pts, 1, -1.0, tv)
    if len(pts) < 3:
        return 0.0, 0.0, 0.0
    part = abs(twice_area(pts))
    ca = 0.0
    cb = 0.0
    for a, b in pts:
        ca += a
        cb += b
    return min(1.0, part / whole), ca / len(pts), cb / len(pts)


def reference_accumulate_dose(
    centroids, normals, triangles, source, u, v, w, tan_u, tan_v, kerma, srp_mm,
    slab_log_t0, slab_center, slab_axes, slab_half, max_path_factor,
    inverse_square=True, occlusion=True, stats=None,
):  # fmt: skip
    """Dose per cell (n,) and per-beam maximum (e,), brute force (see skindose.kernel).

    Every cell: faces the source (centroid), all three vertices in front of the focal spot,
    fraction of its projected triangle inside the field (1 when all vertices are inside),
    occlusion along the ray from its centroid (if the centroid is in the field) or from the
    point of its plane seen at the centre of the covered part, against every other triangle.
    ``stats`` (a dict) receives counts of partial, occluded and slab-crossing lit pairs.
    """
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
    st = {"partial": 0, "partial_centroid_out": 0, "occluded": 0, "slab": 0, "lit": 0}
    for i in range(len(source)):
        s = source[i]
        ui, vi, wi = u[i], v[i], w[i]
        tu, tv = float(tan_u[i]), float(tan_v[i])
        # vertices in the beam frame (same expressions as the kernel)
        du = np.empty((n, 3))
        dv = np.empty((n, 3))
        dw = np.empty((n, 3))
        for k in range(3):
            dx = tri[:, k, 0] - s[0]
            dy = tri[:, k, 1] - s[1]
            dz = tri[:, k, 2] - s[2]
            du[:, k] = dx * ui[0] + dy * ui[1] + dz * ui[2]
            dv[:, k] = dx * vi[0] + dy * vi[1] + dz * vi[2]
            dw[:, k] = dx * wi[0] + dy * wi[1] + dz * wi[2]
        front = np.all(dw > 0.0, axis=1)
        inside = np.all((np.abs(du) <= tu * dw) & (np.abs(dv) <= tv * dw), axis=1)
        fx = s[0] - c[:, 0]
        fy = s[1] - c[:, 1]
        fz = s[2] - c[:, 2]
        facing = nrm[:, 0] * fx + nrm[:, 1] * fy + nrm[:, 2] * fz > 0.0
        dx = c[:, 0] - s[0]
        dy = c[:, 1] - s[1]
        dz = c[:, 2] - s[2]
        dist2 = dx * dx + dy * dy + dz * dz
        dist = np.sqrt(dist2)
        dwc = dx * wi[0] + dy * wi[1] + dz * wi[2]
        duc = dx * ui[0] + dy * ui[1] + dz * ui[2]
        dvc = dx * vi[0] + dy * vi[1] + dz * vi[2]
        frac = np.zeros(n)
        origin = c.copy()
        lifted = np.zeros(n, dtype=bool)
        if not (tu > 0.0 and tv > 0.0):
            continue  # no field
        for j in np.flatnonzero(facing & front):
            if inside[j]:
                frac[j] = 1.0
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                ab = [(du[j, k] / dw[j, k], dv[j, k] / dw[j, k]) for k in range(3)]
            f, ca, cb = coverage(ab, tu, tv)
            frac[j] = f
            if not f > 0.0:
                continue
            st["partial"] += 1
            if dwc[j] > 0.0 and abs(duc[j]) <= tu * dwc[j] and abs(dvc[j]) <= tv * dwc[j]:
                continue  # occlusion ray from the centroid
            st["partial_centroid_out"] += 1
            # same order as the kernel: (w + ca u) + cb v
            r = np.array([wi[0] + ca * ui[0] + cb * vi[0], wi[1] + ca * ui[1] + cb * vi[1],
                          wi[2] + ca * ui[2] + cb * vi[2]])
            a1, a2 = e1[j], e2[j]
            nn = (a1[1] * a2[2] - a1[2] * a2[1], a1[2] * a2[0] - a1[0] * a2[2],
                  a1[0] * a2[1] - a1[1] * a2[0])
            den = nn[0] * r[0] + nn[1] * r[1] + nn[2] * r[2]
            tt = 0.0
            if den != 0.0:
                tt = (nn[0] * (v0[j, 0] - s[0]) + nn[1] * (v0[j, 1] - s[1])
                      + nn[2] * (v0[j, 2] - s[2])) / den
            if tt > 0.0:
                origin[j] = (s[0] + tt * r[0], s[1] + tt * r[1], s[2] + tt * r[2])
                lifted[j] = True
        lit = frac > 0.0
        if occlusion:
            for j in np.flatnonzero(lit):
                o = origin[j]
                f = np.array([[s[0] - o[0], s[1] - o[1], s[2] - o[2]]])
                od = float(np.sqrt(f[0, 0] * f[0, 0] + f[0, 1] * f[0, 1] + f[0, 2] * f[0, 2]))
                tmin = OCCLUSION_EPS_MM / (od if lifted[j] else dist[j])
                t = ray_triangles(o[None, :], f, v0, e1, e2)[0]
                t[j] = np.inf
                if np.any((t > tmin) & (t < 1.0)):
                    lit[j] = False
                    st["occluded"] += 1
        dose = np.where(lit, kerma[i], 0.0)
        if inverse_square:
            dose = dose * (srp_mm[i] * srp_mm[i] / dist2)
        if slab_log_t0[i] != 0.0:
            d = np.stack([dx, dy, dz], axis=1)
            length = slab_length(s, d, dist, slab_center, slab_axes, slab_half)
            factor = np.exp(slab_log_t0[i] * np.minimum(length / thickness, max_path_factor))
            dose = np.where(length > 0.0, dose * factor, dose)
            st["slab"] += int(np.count_nonzero(lit & (length > 0.0)))
        dose = dose * frac
        st["lit"] += int(np.count_nonzero(lit))
        out += dose
        emax[i] = dose.max(initial=0.0)
    if stats is not None:
        stats.update(st)
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
