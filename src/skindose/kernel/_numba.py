"""Numba kernels of :mod:`skindose.kernel`: BVH build, ray casts and the dose accumulation.

Every jitted function of the kernel lives in this one file (Numba's ``cache=True`` only
notices edits to the file that holds the cached function), reads no global state, and is
compiled with ``fastmath`` off. Constants (leaf size, paddings, occlusion epsilon, grid
density, event block size) arrive as arguments. The Python wrapper in ``skindose.kernel``
validates inputs and chooses between :func:`accumulate_serial` and
:func:`accumulate_parallel`; both drivers call the same per-event routine
:func:`_event_pairs`, so the two variants share one source of truth and produce bit-identical
results.

Event rows
----------
The wrapper packs the per-beam arrays into one ``(e, 17)`` float64 array:

====== =====================================================
column meaning
====== =====================================================
0:3    focal spot S (mm, patient frame)
3:6    unit u (field width direction)
6:9    unit v (field height direction)
9:12   unit w (central axis, source to detector)
12     tan_u (field half-tangent along u)
13     tan_v (field half-tangent along v)
14     kerma (Gy at the reference point, all per-beam factors applied)
15     srp (source to reference point, mm)
16     ln T0 of the table+mattress slab at normal incidence (0: no attenuation)
====== =====================================================

Mesh layout
-----------
Cells (= triangles) are stored in *cluster order* (spatially compact runs of at most 32
cells; position ``q`` is original cell ``cell_order[q]``): ``verts`` (k, 9) holds the three
vertices, ``mt`` (k, 9) holds ``v0, e1 = v1 - v0, e2 = v2 - v0`` exactly as the BVH's
``tri_geom`` does (same values, other order), so that the grid and the BVH run the same
Möller–Trumbore arithmetic. :func:`build_bvh` returns separate arrays; the wrapper packs them
as ``node_box`` (m, 6) float64 (padded min xyz, max xyz), ``node_link`` (m, 3) int64 (first
child, -1 for a leaf; the second child is always first + 1; leaf start; leaf count),
``tri_geom`` (k, 9) and ``tri_id`` (k,) int64 (original index of each BVH-ordered triangle).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# ---------------------------------------------------------------------------------------
# BVH construction
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def build_bvh(v0, v1, v2, leaf_size, pad):
    """Build a median-split BVH over triangles (A Numba JIT-compiled builder).

    Parameters
    ----------
    v0, v1, v2
        (k, 3) float64 triangle vertices.
    leaf_size
        Largest number of triangles in a leaf (a leaf may be larger only when all its
        centroids coincide).
    pad
        Absolute padding (mm) added to every box so that box tests are conservative.

    Returns
    -------
    node_min, node_max, node_left, node_right, node_start, node_count, order
        The flattened tree (see the module docstring) and ``order`` (k,) int64, the
        original index of each triangle in BVH order.
    """
    k = v0.shape[0]
    max_nodes = max(1, 2 * k)
    node_min = np.empty((max_nodes, 3))
    node_max = np.empty((max_nodes, 3))
    node_left = np.full(max_nodes, -1, dtype=np.int64)
    node_right = np.full(max_nodes, -1, dtype=np.int64)
    node_start = np.zeros(max_nodes, dtype=np.int64)
    node_count = np.zeros(max_nodes, dtype=np.int64)
    order = np.arange(k)
    ctr = np.empty((k, 3))
    for t in range(k):
        for a in range(3):
            ctr[t, a] = (v0[t, a] + v1[t, a] + v2[t, a]) / 3.0

    stack = np.empty(max_nodes + 1, dtype=np.int64)
    node_start[0] = 0
    node_count[0] = k
    n_nodes = 1
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        s = node_start[node]
        e = s + node_count[node]
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        clo = np.full(3, np.inf)
        chi = np.full(3, -np.inf)
        for q in range(s, e):
            t = order[q]
            for a in range(3):
                lo[a] = min(lo[a], v0[t, a], v1[t, a], v2[t, a])
                hi[a] = max(hi[a], v0[t, a], v1[t, a], v2[t, a])
                clo[a] = min(clo[a], ctr[t, a])
                chi[a] = max(chi[a], ctr[t, a])
        for a in range(3):
            node_min[node, a] = lo[a] - pad
            node_max[node, a] = hi[a] + pad
        if e - s <= leaf_size:
            continue
        axis = 0
        ext = chi[0] - clo[0]
        for a in range(1, 3):
            if chi[a] - clo[a] > ext:
                ext = chi[a] - clo[a]
                axis = a
        if not ext > 0.0:
            continue  # all centroids coincide: keep a (large) leaf
        keys = np.empty(e - s)
        for q in range(s, e):
            keys[q - s] = ctr[order[q], axis]
        perm = np.argsort(keys, kind="mergesort")
        seg = order[s:e].copy()
        for q in range(e - s):
            order[s + q] = seg[perm[q]]
        mid = s + (e - s) // 2
        left = n_nodes
        right = n_nodes + 1
        n_nodes += 2
        node_start[left] = s
        node_count[left] = mid - s
        node_start[right] = mid
        node_count[right] = e - mid
        node_left[node] = left
        node_right[node] = right
        node_count[node] = 0
        stack[sp] = left
        stack[sp + 1] = right
        sp += 2
    return (
        node_min[:n_nodes].copy(),
        node_max[:n_nodes].copy(),
        node_left[:n_nodes].copy(),
        node_right[:n_nodes].copy(),
        node_start[:n_nodes].copy(),
        node_count[:n_nodes].copy(),
        order,
    )


# ---------------------------------------------------------------------------------------
# Ray primitives
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _slab_1d(o, d, inv, lo, hi, tn, tf):
    """Clip the parameter interval (tn, tf) of o + t*d to lo <= x <= hi."""
    if d == 0.0:
        if o < lo or o > hi:
            return 1.0, 0.0
        return tn, tf
    a = (lo - o) * inv
    b = (hi - o) * inv
    if a > b:
        a, b = b, a
    return max(tn, a), min(tf, b)


@njit(cache=True)
def _ray_box(ox, oy, oz, dx, dy, dz, ix, iy, iz, node_box, node, t0, t1):
    """True when the segment o + t*d, t in [t0, t1], meets box ``node``."""
    tn, tf = _slab_1d(ox, dx, ix, node_box[node, 0], node_box[node, 3], t0, t1)
    if tn > tf:
        return False
    tn, tf = _slab_1d(oy, dy, iy, node_box[node, 1], node_box[node, 4], tn, tf)
    if tn > tf:
        return False
    tn, tf = _slab_1d(oz, dz, iz, node_box[node, 2], node_box[node, 5], tn, tf)
    return tn <= tf


@njit(cache=True)
def _ray_triangle(ox, oy, oz, dx, dy, dz, tri_geom, q):
    """Möller–Trumbore: ray parameter t of o + t*d on triangle ``q``, inf when it misses.

    ``tri_geom[q]`` = (v0, e1 = v1 - v0, e2 = v2 - v0). Two-sided (no back-face culling),
    bounds inclusive (u >= 0, v >= 0, u + v <= 1), and a ray parallel to the plane (det
    exactly 0) misses. The tests' NumPy twin repeats these operations in the same order so
    both make the same decisions bit for bit.
    """
    e1x = tri_geom[q, 3]
    e1y = tri_geom[q, 4]
    e1z = tri_geom[q, 5]
    e2x = tri_geom[q, 6]
    e2y = tri_geom[q, 7]
    e2z = tri_geom[q, 8]
    px = dy * e2z - dz * e2y
    py = dz * e2x - dx * e2z
    pz = dx * e2y - dy * e2x
    det = e1x * px + e1y * py + e1z * pz
    if det == 0.0:
        return np.inf
    inv = 1.0 / det
    sx = ox - tri_geom[q, 0]
    sy = oy - tri_geom[q, 1]
    sz = oz - tri_geom[q, 2]
    uu = (sx * px + sy * py + sz * pz) * inv
    if uu < 0.0 or uu > 1.0:
        return np.inf
    qx = sy * e1z - sz * e1y
    qy = sz * e1x - sx * e1z
    qz = sx * e1y - sy * e1x
    vv = (dx * qx + dy * qy + dz * qz) * inv
    if vv < 0.0 or uu + vv > 1.0:
        return np.inf
    return (e2x * qx + e2y * qy + e2z * qz) * inv


@njit(cache=True)
def _inv(d):
    return 1.0 / d if d != 0.0 else 0.0


@njit(cache=True)
def _occluded(ox, oy, oz, dx, dy, dz, tmin, skip, node_box, node_link, tri_geom, tri_id, stack):
    """Any-hit query: does o + t*d meet a triangle other than ``skip`` at tmin < t < 1?

    Iterative traversal; a child's box is tested before it is pushed. The children of node
    ``p`` are ``node_link[p, 0]`` and ``node_link[p, 0] + 1``; a leaf (link -1) holds
    ``tri_geom[start:start + count]``.
    """
    if node_box.shape[0] == 0:
        return False
    ix = _inv(dx)
    iy = _inv(dy)
    iz = _inv(dz)
    if not _ray_box(ox, oy, oz, dx, dy, dz, ix, iy, iz, node_box, 0, 0.0, 1.0):
        return False
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        left = node_link[node, 0]
        if left < 0:
            s = node_link[node, 1]
            for q in range(s, s + node_link[node, 2]):
                if tri_id[q] == skip:
                    continue
                t = _ray_triangle(ox, oy, oz, dx, dy, dz, tri_geom, q)
                if t > tmin and t < 1.0:
                    return True
        else:
            if _ray_box(ox, oy, oz, dx, dy, dz, ix, iy, iz, node_box, left, 0.0, 1.0):
                stack[sp] = left
                sp += 1
            if _ray_box(ox, oy, oz, dx, dy, dz, ix, iy, iz, node_box, left + 1, 0.0, 1.0):
                stack[sp] = left + 1
                sp += 1
    return False


@njit(cache=True)
def _closest_hit(ox, oy, oz, dx, dy, dz, node_box, node_link, tri_geom, tri_id, stack):
    """Closest hit t > 0 of o + t*d; ties go to the lowest original triangle index."""
    best_t = np.inf
    best_id = -1
    if node_box.shape[0] == 0:
        return best_t, best_id
    ix = _inv(dx)
    iy = _inv(dy)
    iz = _inv(dz)
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        if not _ray_box(ox, oy, oz, dx, dy, dz, ix, iy, iz, node_box, node, 0.0, best_t):
            continue
        left = node_link[node, 0]
        if left < 0:
            s = node_link[node, 1]
            for q in range(s, s + node_link[node, 2]):
                t = _ray_triangle(ox, oy, oz, dx, dy, dz, tri_geom, q)
                if t > 0.0 and (t < best_t or (t == best_t and tri_id[q] < best_id)):
                    best_t = t
                    best_id = tri_id[q]
        else:
            stack[sp] = left
            stack[sp + 1] = left + 1
            sp += 2
    return best_t, best_id


@njit(cache=True)
def first_hit_serial(origins, directions, node_box, node_link, tri_geom, tri_id, t_out,
                     id_out):
    """:func:`first_hit` on one thread: for a few rays (one per beam), waking the thread pool
    costs more than the rays."""
    stack = np.empty(128, dtype=np.int64)
    for r in range(origins.shape[0]):
        t, q = _closest_hit(
            origins[r, 0], origins[r, 1], origins[r, 2],
            directions[r, 0], directions[r, 1], directions[r, 2],
            node_box, node_link, tri_geom, tri_id, stack,
        )  # fmt: skip
        t_out[r] = t
        id_out[r] = q


@njit(cache=True, parallel=True)
def first_hit(origins, directions, node_box, node_link, tri_geom, tri_id, t_out, id_out):
    """Closest triangle hit of each ray, written into ``t_out`` and ``id_out``."""
    for r in prange(origins.shape[0]):
        stack = np.empty(128, dtype=np.int64)
        t, q = _closest_hit(
            origins[r, 0], origins[r, 1], origins[r, 2],
            directions[r, 0], directions[r, 1], directions[r, 2],
            node_box, node_link, tri_geom, tri_id, stack,
        )  # fmt: skip
        t_out[r] = t
        id_out[r] = q


# ---------------------------------------------------------------------------------------
# Slab and dose
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _slab_length(sx, sy, sz, dx, dy, dz, dist, slab):
    """Length (mm) of the segment S + t*d, t in [0, 1], inside the oriented slab box.

    ``slab`` (5, 3): centre, the three unit axes (rows), half extents.
    """
    px = sx - slab[0, 0]
    py = sy - slab[0, 1]
    pz = sz - slab[0, 2]
    tn = 0.0
    tf = 1.0
    for a in range(3):
        ax = slab[1 + a, 0]
        ay = slab[1 + a, 1]
        az = slab[1 + a, 2]
        o = px * ax + py * ay + pz * az
        d = dx * ax + dy * ay + dz * az
        h = slab[4, a]
        if d == 0.0:
            if o < -h or o > h:
                return 0.0
        else:
            t1 = (-h - o) / d
            t2 = (h - o) / d
            if t1 > t2:
                t1, t2 = t2, t1
            tn = max(tn, t1)
            tf = min(tf, t2)
    if tf > tn:
        return (tf - tn) * dist
    return 0.0


@njit(cache=True)
def _sphere_outside(ev, i, qx, qy, qz, r):
    """True when a ball (centre q, radius r) lies wholly outside beam ``i``'s pyramid.

    The pyramid is the intersection of the four half-spaces ``|d·u| <= tan_u (d·w)``,
    ``|d·v| <= tan_v (d·w)``; a ball outside one of them misses it. Conservative: the caller
    pads ``r`` so that rounding can never reject a ball holding a point of the pyramid.
    """
    dx = qx - ev[i, 0]
    dy = qy - ev[i, 1]
    dz = qz - ev[i, 2]
    dw = dx * ev[i, 9] + dy * ev[i, 10] + dz * ev[i, 11]
    if dw < -r:
        return True
    du = abs(dx * ev[i, 3] + dy * ev[i, 4] + dz * ev[i, 5])
    tu = ev[i, 12]
    if du - tu * dw > r * math.sqrt(1.0 + tu * tu):
        return True
    dv = abs(dx * ev[i, 6] + dy * ev[i, 7] + dz * ev[i, 8])
    tv = ev[i, 13]
    return dv - tv * dw > r * math.sqrt(1.0 + tv * tv)


@njit(cache=True)
def _cull(i, ev, cluster_start, cluster_ball, keep_row):
    """Mark the clusters whose bounding ball may meet beam ``i``; return their cell count."""
    n = 0
    for k in range(cluster_ball.shape[0]):
        if _sphere_outside(ev, i, cluster_ball[k, 0], cluster_ball[k, 1], cluster_ball[k, 2],
                           cluster_ball[k, 3]):
            keep_row[k] = 0
        else:
            keep_row[k] = 1
            n += cluster_start[k + 1] - cluster_start[k]
    return n


# ---------------------------------------------------------------------------------------
# Partial coverage: the cell's projected triangle clipped to the field rectangle
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _clip_half(pa, pb, n, qa, qb, axis, sign, lim):
    """Sutherland–Hodgman: clip polygon (pa, pb)[:n] to ``sign * x_axis <= lim`` into qa, qb."""
    if n == 0:
        return 0
    m = 0
    prev = n - 1
    fp = sign * (pa[prev] if axis == 0 else pb[prev]) - lim
    for k in range(n):
        fc = sign * (pa[k] if axis == 0 else pb[k]) - lim
        if fc <= 0.0:
            if fp > 0.0:
                t = fp / (fp - fc)
                qa[m] = pa[prev] + t * (pa[k] - pa[prev])
                qb[m] = pb[prev] + t * (pb[k] - pb[prev])
                m += 1
            qa[m] = pa[k]
            qb[m] = pb[k]
            m += 1
        elif fp <= 0.0:
            t = fp / (fp - fc)
            qa[m] = pa[prev] + t * (pa[k] - pa[prev])
            qb[m] = pb[prev] + t * (pb[k] - pb[prev])
            m += 1
        prev = k
        fp = fc
    return m


@njit(cache=True)
def _shoelace(pa, pb, n):
    """Twice the signed area of polygon (pa, pb)[:n]."""
    s = 0.0
    for k in range(n):
        k2 = k + 1 if k + 1 < n else 0
        s += pa[k] * pb[k2] - pa[k2] * pb[k]
    return s


@njit(cache=True)
def _coverage(a0, b0, a1, b1, a2, b2, tu, tv, buf):
    """Fraction of the projected triangle inside ``|a| <= tu, |b| <= tv``, and where.

    Returns ``(fraction, ca, cb)``: the clipped area over the triangle's area (both in the
    beam's projective plane, capped at 1) and the vertex mean of the clipped polygon (a point
    of the covered part). ``buf`` is (4, 8) float64 scratch. A fraction of 0 means no overlap.
    """
    pa = buf[0]
    pb = buf[1]
    qa = buf[2]
    qb = buf[3]
    pa[0] = a0
    pb[0] = b0
    pa[1] = a1
    pb[1] = b1
    pa[2] = a2
    pb[2] = b2
    whole = abs(_shoelace(pa, pb, 3))
    if not whole > 0.0:
        return 0.0, 0.0, 0.0
    n = _clip_half(pa, pb, 3, qa, qb, 0, 1.0, tu)
    n = _clip_half(qa, qb, n, pa, pb, 0, -1.0, tu)
    n = _clip_half(pa, pb, n, qa, qb, 1, 1.0, tv)
    n = _clip_half(qa, qb, n, pa, pb, 1, -1.0, tv)
    if n < 3:
        return 0.0, 0.0, 0.0
    part = abs(_shoelace(pa, pb, n))
    ca = 0.0
    cb = 0.0
    for k in range(n):
        ca += pa[k]
        cb += pb[k]
    return min(1.0, part / whole), ca / n, cb / n


# ---------------------------------------------------------------------------------------
# One event: in-field triangles, grid of ray origins, dose pairs
# ---------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _bin(x, t, s, g):
    """Grid column of projective coordinate ``x`` on [-t, t] cut into ``g`` bins (clamped)."""
    f = (x + t) * s
    if not f > 0.0:
        return 0
    if f >= g:
        return g - 1
    return int(f)


@njit(cache=True, inline="always")
def _reaches(a_lo, a_hi, b_lo, b_hi, depth, tu, tv, cu, cv, g, cmax):
    """Whether the box [a_lo, a_hi] × [b_lo, b_hi] of the field meets a coarse-map cell whose
    deepest origin is at least ``depth`` deep (``cmax``: g × g cells, row = b): only then can
    something at that depth lie in front of an origin there."""
    iu0 = _bin(a_lo, tu, cu, g)
    iu1 = _bin(a_hi, tu, cu, g)
    for iv in range(_bin(b_lo, tv, cv, g), _bin(b_hi, tv, cv, g) + 1):
        for iu in range(iu0, iu1 + 1):
            if not depth > cmax[iv * g + iu]:
                return True
    return False


@njit(cache=True, inline="always")
def _covers(f, j, a, b, pad):
    """False when point (a, b) lies outside projected triangle ``f[j, 0:6]`` by more than
    ``pad`` (distance, tangent units): then no segment projecting to (a, b) meets it."""
    a0 = f[j, 0]
    b0 = f[j, 1]
    a1 = f[j, 2]
    b1 = f[j, 3]
    a2 = f[j, 4]
    b2 = f[j, 5]
    area = (a1 - a0) * (b2 - b0) - (a2 - a0) * (b1 - b0)
    if area == 0.0:
        return True  # seen edge-on: no cheap verdict
    s = 1.0 if area > 0.0 else -1.0
    ea = a1 - a0
    eb = b1 - b0
    if s * (ea * (b - b0) - eb * (a - a0)) < -pad * (abs(ea) + abs(eb)):
        return False
    ea = a2 - a1
    eb = b2 - b1
    if s * (ea * (b - b1) - eb * (a - a1)) < -pad * (abs(ea) + abs(eb)):
        return False
    ea = a0 - a2
    eb = b0 - b2
    return not s * (ea * (b - b2) - eb * (a - a2)) < -pad * (abs(ea) + abs(eb))


@njit(cache=True, inline="always")
def _pair_dose(kerma, srp, log_t0, inverse_square, dist2, length, frac, thickness,
               max_path_factor):
    """Dose of one lit cell from its geometry (the one formula of the module docstring)."""
    dose = kerma
    if inverse_square:
        dose = dose * (srp * srp / dist2)
    if log_t0 != 0.0 and length > 0.0:
        dose = dose * math.exp(log_t0 * min(length / thickness, max_path_factor))
    return dose * frac


@njit(cache=True)
def _follow(i, lead_ii, ii, off, npair, pidx, pdose, pgeo, ev, inverse_square, thickness,
            max_path_factor, emax):
    """Pairs of event ``i`` from those of an earlier event of the block with the same
    geometry (focal spot, axes, field; row ``lead_ii`` of the block): the same lit cells,
    only kerma, srp and ln T0 differ. Bit for bit what :func:`_event_pairs` gives."""
    kerma = ev[i, 14]
    srp = ev[i, 15]
    log_t0 = ev[i, 16]
    src = off[lead_ii]
    dst = off[ii]
    best = 0.0
    for k in range(npair[lead_ii]):
        dose = _pair_dose(kerma, srp, log_t0, inverse_square, pgeo[src + k, 0],
                          pgeo[src + k, 1], pgeo[src + k, 2], thickness, max_path_factor)
        pidx[dst + k] = pidx[src + k]
        pdose[dst + k] = dose
        if dose > best:
            best = dose
    emax[i] = best
    return npair[lead_ii]


@njit(cache=True)
def _event_pairs(
    i, keep_row, cnt, centroids, normals, verts, mt, ev, slab, thickness, max_path_factor,
    inverse_square, occl_mode, closed, eps_mm, pad, density,
    node_box, node_link, tri_geom, tri_id, cell_order, cluster_start, cluster_ball, pidx, pdose,
    off, emax, pgeo, store,
):  # fmt: skip
    """Dose pairs (original cell index, dose) of event ``i``, written at ``pidx[off:]``.

    Returns the number of pairs. ``keep_row``/``cnt`` come from :func:`_cull`. The pairs come
    out in cluster order (deterministic, independent of the thread that runs the event).
    ``occl_mode``: 0 off, 1 the per-event grid of ray origins (:func:`_shadow_pass`), 2 the
    BVH (same decisions; kept for benchmarks and tests). ``closed``: the mesh is closed
    (watertight); then the grid first looks for non-facing detectors in front of each origin
    and runs the exact pass with the source-facing triangles only for the suspects
    (:func:`_shadow_closed`).
    """
    sx = ev[i, 0]
    sy = ev[i, 1]
    sz = ev[i, 2]
    ux = ev[i, 3]
    uy = ev[i, 4]
    uz = ev[i, 5]
    vx = ev[i, 6]
    vy = ev[i, 7]
    vz = ev[i, 8]
    wx = ev[i, 9]
    wy = ev[i, 10]
    wz = ev[i, 11]
    tu = ev[i, 12]
    tv = ev[i, 13]
    emax[i] = 0.0
    if not (tu > 0.0 and tv > 0.0) or cnt == 0:
        return 0
    tup = tu + pad
    tvp = tv + pad

    # ---- pass 1: triangles of the kept clusters that meet the (padded) pyramid
    inf_q = np.empty(cnt, dtype=np.int64)
    # a0, b0, a1, b1, a2, b2 (projected vertices), min depth d·w, amin, amax, bmin, bmax
    inf_f = np.empty((cnt, 11))
    inf_in = np.empty(cnt, dtype=np.bool_)  # all three vertices inside the field
    inf_face = np.empty(cnt, dtype=np.bool_)  # faces the source
    glob = np.empty(cnt, dtype=np.int64)  # straddling the focal spot's plane: every ray
    grid_closed = occl_mode == 1 and closed
    # closed grid: the in-field triangles that do not face the source (index, nearest depth)
    back_q = np.empty(cnt if grid_closed else 0, dtype=np.int64)
    back_kd = np.empty(cnt if grid_closed else 0)
    back_p = np.empty((cnt if grid_closed else 0, 9))  # d·u, d·v, d·w of its vertices
    nbk = 0
    m = 0
    ng = 0
    aw = 0.0
    bw = 0.0
    # closed grid: the clusters holding non-facing triangles, and where their run starts
    back_c = np.empty(keep_row.shape[0] if grid_closed else 0, dtype=np.int64)
    back_cs = np.empty(keep_row.shape[0] + 1 if grid_closed else 0, dtype=np.int64)
    nbc = 0
    for k in range(keep_row.shape[0]):
        if keep_row[k] == 0:
            continue
        nbk0 = nbk
        for q in range(cluster_start[k], cluster_start[k + 1]):
            dx = verts[q, 0] - sx
            dy = verts[q, 1] - sy
            dz = verts[q, 2] - sz
            du0 = dx * ux + dy * uy + dz * uz
            dv0 = dx * vx + dy * vy + dz * vz
            dw0 = dx * wx + dy * wy + dz * wz
            dx = verts[q, 3] - sx
            dy = verts[q, 4] - sy
            dz = verts[q, 5] - sz
            du1 = dx * ux + dy * uy + dz * uz
            dv1 = dx * vx + dy * vy + dz * vz
            dw1 = dx * wx + dy * wy + dz * wz
            dx = verts[q, 6] - sx
            dy = verts[q, 7] - sy
            dz = verts[q, 8] - sz
            du2 = dx * ux + dy * uy + dz * uz
            dv2 = dx * vx + dy * vy + dz * vz
            dw2 = dx * wx + dy * wy + dz * wz
            if not (dw0 > 0.0 and dw1 > 0.0 and dw2 > 0.0):
                if dw0 > 0.0 or dw1 > 0.0 or dw2 > 0.0:
                    glob[ng] = q  # reaches behind the focal spot: no projection
                    ng += 1
                continue
            if du0 > tup * dw0 and du1 > tup * dw1 and du2 > tup * dw2:
                continue
            if -du0 > tup * dw0 and -du1 > tup * dw1 and -du2 > tup * dw2:
                continue
            if dv0 > tvp * dw0 and dv1 > tvp * dw1 and dv2 > tvp * dw2:
                continue
            if -dv0 > tvp * dw0 and -dv1 > tvp * dw1 and -dv2 > tvp * dw2:
                continue
            face = (
                normals[q, 0] * (sx - centroids[q, 0])
                + normals[q, 1] * (sy - centroids[q, 1])
                + normals[q, 2] * (sz - centroids[q, 2])
            ) > 0.0
            if not face:
                if occl_mode == 1 and closed:
                    # a detector (see _shadow_closed): kept unprojected until it is needed
                    back_q[nbk] = q
                    back_kd[nbk] = min(dw0, dw1, dw2)
                    back_p[nbk, 0] = du0
                    back_p[nbk, 1] = dv0
                    back_p[nbk, 2] = dw0
                    back_p[nbk, 3] = du1
                    back_p[nbk, 4] = dv1
                    back_p[nbk, 5] = dw1
                    back_p[nbk, 6] = du2
                    back_p[nbk, 7] = dv2
                    back_p[nbk, 8] = dw2
                    nbk += 1
                    continue
                if occl_mode != 1:
                    continue  # neither lit nor needed in the grid
            a0 = du0 / dw0
            b0 = dv0 / dw0
            a1 = du1 / dw1
            b1 = dv1 / dw1
            a2 = du2 / dw2
            b2 = dv2 / dw2
            inf_q[m] = q
            inf_f[m, 0] = a0
            inf_f[m, 1] = b0
            inf_f[m, 2] = a1
            inf_f[m, 3] = b1
            inf_f[m, 4] = a2
            inf_f[m, 5] = b2
            inf_f[m, 6] = min(dw0, dw1, dw2)
            amin = min(a0, a1, a2)
            amax = max(a0, a1, a2)
            bmin = min(b0, b1, b2)
            bmax = max(b0, b1, b2)
            inf_f[m, 7] = amin
            inf_f[m, 8] = amax
            inf_f[m, 9] = bmin
            inf_f[m, 10] = bmax
            aw += amax - amin
            bw += bmax - bmin
            inf_face[m] = face
            inf_in[m] = (
                abs(du0) <= tu * dw0 and abs(dv0) <= tv * dw0
                and abs(du1) <= tu * dw1 and abs(dv1) <= tv * dw1
                and abs(du2) <= tu * dw2 and abs(dv2) <= tv * dw2
            )  # fmt: skip
            m += 1
        if nbk > nbk0:
            back_c[nbc] = k
            back_cs[nbc] = nbk0
            nbc += 1
    if grid_closed:
        back_cs[nbc] = nbk
    if m == 0:
        return 0

    # ---- pass 2: coverage, and the occlusion ray of each in-field, source-facing cell
    # Per lit candidate p (in-field list index lit[p]): 0 frac, 1:4 ray origin o,
    # 4:7 g = S - o, 7 tmin, 8 depth limit of an occluder's nearest vertex, 9:11 (a, b) of o.
    lit = np.empty(m, dtype=np.int64)
    pt = np.empty((m, 12))
    maxlim = -np.inf  # deepest origin's depth limit
    dark = np.zeros(m, dtype=np.uint8)
    stack = np.empty(128 if occl_mode == 2 else 1, dtype=np.int64)
    buf = np.empty((4, 8))
    nl = 0
    for j in range(m):
        if not inf_face[j]:
            continue
        q = inf_q[j]
        frac = 1.0
        ca = 0.0
        cb = 0.0
        if not inf_in[j]:
            frac, ca, cb = _coverage(inf_f[j, 0], inf_f[j, 1], inf_f[j, 2], inf_f[j, 3],
                                     inf_f[j, 4], inf_f[j, 5], tu, tv, buf)
            if not frac > 0.0:
                continue
        lit[nl] = j
        pt[nl, 0] = frac
        if occl_mode != 0:
            # Ray origin: the centroid when it lies in the pyramid (the centroid rule's
            # decision, same bits), else the point of the cell's plane seen at the covered
            # part's centre (ca, cb).
            cx = centroids[q, 0]
            cy = centroids[q, 1]
            cz = centroids[q, 2]
            dx = cx - sx
            dy = cy - sy
            dz = cz - sz
            dist = math.sqrt(dx * dx + dy * dy + dz * dz)
            dwc = dx * wx + dy * wy + dz * wz
            duc = dx * ux + dy * uy + dz * uz
            dvc = dx * vx + dy * vy + dz * vz
            ox = cx
            oy = cy
            oz = cz
            gx = sx - cx
            gy = sy - cy
            gz = sz - cz
            tmin = eps_mm / dist
            ao = ca
            bo = cb
            dwo = dwc
            force = 0.0  # 1: the segment does not project to (ao, bo); test it fully
            if dwc > 0.0 and abs(duc) <= tu * dwc and abs(dvc) <= tv * dwc:
                ao = duc / dwc
                bo = dvc / dwc
            else:
                rx = wx + ca * ux + cb * vx
                ry = wy + ca * uy + cb * vy
                rz = wz + ca * uz + cb * vz
                e1x = mt[q, 3]
                e1y = mt[q, 4]
                e1z = mt[q, 5]
                e2x = mt[q, 6]
                e2y = mt[q, 7]
                e2z = mt[q, 8]
                nx = e1y * e2z - e1z * e2y
                ny = e1z * e2x - e1x * e2z
                nz = e1x * e2y - e1y * e2x
                den = nx * rx + ny * ry + nz * rz
                tt = 0.0
                if den != 0.0:
                    tt = (nx * (mt[q, 0] - sx) + ny * (mt[q, 1] - sy) + nz * (mt[q, 2] - sz)) / den
                if tt > 0.0:
                    ox = sx + tt * rx
                    oy = sy + tt * ry
                    oz = sz + tt * rz
                    gx = sx - ox
                    gy = sy - oy
                    gz = sz - oz
                    tmin = eps_mm / math.sqrt(gx * gx + gy * gy + gz * gz)
                    dwo = (ox - sx) * wx + (oy - sy) * wy + (oz - sz) * wz
                else:
                    force = 1.0
            if occl_mode == 2:
                dark[nl] = _occluded(ox, oy, oz, gx, gy, gz, tmin, cell_order[q],
                                     node_box, node_link, tri_geom, tri_id, stack)
            pt[nl, 1] = ox
            pt[nl, 2] = oy
            pt[nl, 3] = oz
            pt[nl, 4] = gx
            pt[nl, 5] = gy
            pt[nl, 6] = gz
            pt[nl, 7] = tmin
            pt[nl, 8] = dwo + 1e-6 * (1.0 + abs(dwo))
            pt[nl, 9] = ao
            pt[nl, 10] = bo
            pt[nl, 11] = force
            if pt[nl, 8] > maxlim:
                maxlim = pt[nl, 8]
        nl += 1

    # ---- pass 3 (grid): the lit cells' ray origins binned by their projection (a, b);
    # each in-field triangle tests the origins in the bins its padded projected box covers.
    if grid_closed and nl > 0:
        _shadow_closed(nl, m, lit, pt, dark, inf_q, inf_f, glob, ng, mt, back_q, back_kd,
                       back_p, back_c, back_cs, nbc, cluster_ball, ev, i, maxlim, tu, tv, pad,
                       aw, bw, density)
    elif occl_mode == 1 and nl > 0:
        sel = np.arange(nl)
        _shadow_pass(nl, sel, m, lit, pt, dark, inf_q, inf_f, mt, tu, tv, pad, aw, bw,
                     density, np.inf)
        _shadow_glob(nl, sel, lit, pt, dark, inf_q, glob, ng, mt)

    # ---- pass 4: dose of the lit cells that are not in shadow, in cluster order
    # With ``store`` (a later event of the block has this geometry) the per-pair geometry
    # (dist², slab length, fraction) is kept in ``pgeo`` for :func:`_follow`.
    kerma = ev[i, 14]
    srp = ev[i, 15]
    log_t0 = ev[i, 16]
    npair = 0
    best = 0.0
    for p in range(nl):
        if dark[p]:
            continue
        q = inf_q[lit[p]]
        dx = centroids[q, 0] - sx
        dy = centroids[q, 1] - sy
        dz = centroids[q, 2] - sz
        dist2 = dx * dx + dy * dy + dz * dz
        length = 0.0
        if log_t0 != 0.0 or store:
            length = _slab_length(sx, sy, sz, dx, dy, dz, math.sqrt(dist2), slab)
        dose = _pair_dose(kerma, srp, log_t0, inverse_square, dist2, length, pt[p, 0],
                          thickness, max_path_factor)
        pidx[off + npair] = cell_order[q]
        pdose[off + npair] = dose
        if store:
            pgeo[off + npair, 0] = dist2
            pgeo[off + npair, 1] = length
            pgeo[off + npair, 2] = pt[p, 0]
        npair += 1
        if dose > best:
            best = dose
    emax[i] = best
    return npair


@njit(cache=True)
def _origin_bins(ns, sel, pt, gu, gv, su, sv, tu, tv):
    """Bin the origins ``sel[:ns]`` by their projection: (bstart, slot), ``slot`` in bin order."""
    nbin = gu * gv
    bstart = np.zeros(nbin + 1, dtype=np.int64)
    pbin = np.empty(ns, dtype=np.int64)
    for e in range(ns):
        p = sel[e]
        b = _bin(pt[p, 10], tv, sv, gv) * gu + _bin(pt[p, 9], tu, su, gu)
        pbin[e] = b
        bstart[b + 1] += 1
    for b in range(nbin):
        bstart[b + 1] += bstart[b]
    slot = np.empty(ns, dtype=np.int64)  # bin-ordered slot -> origin
    cursor = bstart[:-1].copy()
    for e in range(ns):
        b = pbin[e]
        slot[cursor[b]] = sel[e]
        cursor[b] += 1
    return bstart, slot


@njit(cache=True)
def _grid_shape(n, tu, tv, aw, bw):
    """Bins of about ``aw`` × ``bw`` over the field (at most 2048 a side, ``4 n + 16`` in all)."""
    gu = 1
    gv = 1
    if aw > 0.0 and 2.0 * tu / aw > 1.0:
        gu = int(min(2.0 * tu / aw, 2048.0))
    if bw > 0.0 and 2.0 * tv / bw > 1.0:
        gv = int(min(2.0 * tv / bw, 2048.0))
    while gu * gv > 4 * n + 16:  # memory bound for pathological scenes
        gu = max(1, gu // 2)
        gv = max(1, gv // 2)
    return gu, gv


@njit(cache=True)
def _shadow_pass(ns, sel, m, lit, pt, dark, inf_q, inf_f, mt, tu, tv, pad, aw, bw, density,
                 kd_max):
    """Occlusion of the lit origins ``sel[:ns]`` by the ``m`` in-field triangles.

    The candidate pairs (origin, triangle) are those of a 2-D grid over the field in which
    each triangle covers the bins of its padded projected box, i.e. exactly the pairs that a
    per-origin query of a grid of binned triangles tests, so the decisions are the same; but
    here the *origins* are binned (one entry each, copied in bin order) and each triangle
    visits its bins with its own constants in registers: no per-triangle binning, and a
    tight loop over contiguous origins. Triangles deeper than ``kd_max`` (the deepest
    origin's limit) are skipped whole.
    """
    # Bins about ``density`` times the mean projected box of the in-field triangles.
    gu, gv = _grid_shape(m, tu, tv, density * aw / m, density * bw / m)
    su = gu / (2.0 * tu)
    sv = gv / (2.0 * tv)
    bstart, slot = _origin_bins(ns, sel, pt, gu, gv, su, sv, tu, tv)
    pa = np.empty(ns)
    pb = np.empty(ns)
    plim = np.empty(ns)
    own = np.empty(ns, dtype=np.int64)
    dk = np.zeros(ns, dtype=np.uint8)
    for e in range(ns):
        p = slot[e]
        pa[e] = pt[p, 9]
        pb[e] = pt[p, 10]
        plim[e] = pt[p, 8]
        own[e] = lit[p]
    for jj in range(m):
        kd = inf_f[jj, 6]
        if kd > kd_max:
            continue
        q = inf_q[jj]
        a0 = inf_f[jj, 0]
        b0 = inf_f[jj, 1]
        a1 = inf_f[jj, 2]
        b1 = inf_f[jj, 3]
        a2 = inf_f[jj, 4]
        b2 = inf_f[jj, 5]
        # _covers with this triangle's constants hoisted (the same operations, same bits).
        area = (a1 - a0) * (b2 - b0) - (a2 - a0) * (b1 - b0)
        deg = area == 0.0
        sg = 1.0 if area > 0.0 else -1.0
        ea0 = a1 - a0
        eb0 = b1 - b0
        th0 = -pad * (abs(ea0) + abs(eb0))
        ea1 = a2 - a1
        eb1 = b2 - b1
        th1 = -pad * (abs(ea1) + abs(eb1))
        ea2 = a0 - a2
        eb2 = b0 - b2
        th2 = -pad * (abs(ea2) + abs(eb2))
        iu0 = _bin(inf_f[jj, 7] - pad, tu, su, gu)
        iu1 = _bin(inf_f[jj, 8] + pad, tu, su, gu)
        iv0 = _bin(inf_f[jj, 9] - pad, tv, sv, gv)
        iv1 = _bin(inf_f[jj, 10] + pad, tv, sv, gv)
        for iv in range(iv0, iv1 + 1):
            # the bins iu0..iu1 of row iv hold consecutive slots
            for e in range(bstart[iv * gu + iu0], bstart[iv * gu + iu1 + 1]):
                if dk[e] or kd > plim[e]:
                    continue
                if not deg:
                    pa_ = pa[e]
                    pb_ = pb[e]
                    if sg * (ea0 * (pb_ - b0) - eb0 * (pa_ - a0)) < th0:
                        continue
                    if sg * (ea1 * (pb_ - b1) - eb1 * (pa_ - a1)) < th1:
                        continue
                    if sg * (ea2 * (pb_ - b2) - eb2 * (pa_ - a2)) < th2:
                        continue
                if own[e] == jj:
                    continue
                p = slot[e]
                t = _ray_triangle(pt[p, 1], pt[p, 2], pt[p, 3], pt[p, 4], pt[p, 5], pt[p, 6],
                                  mt, q)
                if t > pt[p, 7] and t < 1.0:
                    dk[e] = 1
    for e in range(ns):
        if dk[e]:
            dark[slot[e]] = 1


@njit(cache=True)
def _shadow_glob(ns, sel, lit, pt, dark, inf_q, glob, ng, mt):
    """Occlusion of the origins ``sel[:ns]`` by the triangles straddling the focal spot's
    plane (no projection): every ray."""
    for g in range(ng):
        qq = glob[g]
        for e in range(ns):
            p = sel[e]
            if dark[p] or inf_q[lit[p]] == qq:
                continue
            t = _ray_triangle(pt[p, 1], pt[p, 2], pt[p, 3], pt[p, 4], pt[p, 5], pt[p, 6],
                              mt, qq)
            if t > pt[p, 7] and t < 1.0:
                dark[p] = 1


@njit(cache=True, inline="always")
def _in_detector(df, d, a, b):
    """:func:`_covers` for a detector row of :func:`_shadow_closed` (constants precomputed)."""
    if df[d, 16] != 0.0:
        return True  # seen edge-on: no cheap verdict
    if df[d, 7] * (b - df[d, 1]) - df[d, 8] * (a - df[d, 0]) < df[d, 9]:
        return False
    if df[d, 10] * (b - df[d, 3]) - df[d, 11] * (a - df[d, 2]) < df[d, 12]:
        return False
    return not df[d, 13] * (b - df[d, 5]) - df[d, 14] * (a - df[d, 4]) < df[d, 15]


@njit(cache=True)
def _shadow_closed(nl, m, lit, pt, dark, inf_q, inf_f, glob, ng, mt, back_q, back_kd, back_p,
                   back_c, back_cs, nbc, cluster_ball, ev, i, maxlim, tu, tv, pad, aw, bw,
                   density):
    """Occlusion on a closed mesh: back-facing *detectors* first, then the exact pass.

    A segment from a lit origin o (on a source-facing cell, outside the body) to S that
    enters the body through a source-facing triangle must leave it again before o, through a
    triangle that does not face the source, at a point of the segment nearer to S than o:
    that triangle covers the point (a_o, b_o) and its nearest vertex is shallower than o.
    So only the origins that such a *detector* covers (within ``pad``, depth bound as in
    :func:`_shadow_pass`) can be in shadow; the others are lit without a pair test. The
    suspects then get exactly the pairs (and Möller–Trumbore tests) of
    :func:`_shadow_pass`: the same decisions, for the few origins near silhouettes and
    behind other body parts. Origins whose segment does not project to (a_o, b_o)
    (``pt[p, 11]``) and every origin when triangles straddle the focal spot's plane are
    suspects.
    """
    sel = np.empty(nl, dtype=np.int64)
    ns = 0
    if ng > 0:
        for p in range(nl):
            sel[p] = p
        ns = nl
    else:
        # A coarse map of the deepest origin limit per cell of the field: a non-facing
        # triangle is a detector only where it lies in front of some origin.
        gc = max(1, min(64, int(math.sqrt(nl / 8.0))))
        cu = gc / (2.0 * tu)
        cv = gc / (2.0 * tv)
        cmax = np.full(gc * gc, -np.inf)
        for p in range(nl):
            b = _bin(pt[p, 10], tv, cv, gc) * gc + _bin(pt[p, 9], tu, cu, gc)
            if pt[p, 8] > cmax[b]:
                cmax[b] = pt[p, 8]
        # detector rows: 0:6 projected vertices, 6 nearest depth, 7:10 and 10:13 and 13:16
        # the three edge functions' constants (s·Δa, s·Δb, threshold) as in _covers, 16 edge-on
        nbk = back_cs[nbc]
        nd = 0
        dq = np.empty(nbk, dtype=np.int64)
        df = np.empty((nbk, 17))
        dbox = np.empty((nbk, 4))
        daw = 0.0
        dbw = 0.0
        sx = ev[i, 0]
        sy = ev[i, 1]
        sz = ev[i, 2]
        for r in range(nbc):
            # the cluster's ball, projected (a conservative box), against the coarse map
            k0 = back_cs[r]
            k1 = back_cs[r + 1]
            ckd = np.inf
            for k in range(k0, k1):
                ckd = min(ckd, back_kd[k])
            if ckd > maxlim:
                continue
            c = back_c[r]
            dx = cluster_ball[c, 0] - sx
            dy = cluster_ball[c, 1] - sy
            dz = cluster_ball[c, 2] - sz
            rad = cluster_ball[c, 3]
            cw = dx * ev[i, 9] + dy * ev[i, 10] + dz * ev[i, 11]
            if cw - rad > 0.0:
                cua = dx * ev[i, 3] + dy * ev[i, 4] + dz * ev[i, 5]
                cva = dx * ev[i, 6] + dy * ev[i, 7] + dz * ev[i, 8]
                wlo = 1.0 / (cw - rad)
                whi = 1.0 / (cw + rad)
                amin = min((cua - rad) * wlo, (cua - rad) * whi)
                amax = max((cua + rad) * wlo, (cua + rad) * whi)
                bmin = min((cva - rad) * wlo, (cva - rad) * whi)
                bmax = max((cva + rad) * wlo, (cva + rad) * whi)
                pc = 1e-6 * (1.0 + abs(amin) + abs(amax) + abs(bmin) + abs(bmax))
                if not _reaches(amin - pc, amax + pc, bmin - pc, bmax + pc, ckd, tu, tv, cu,
                                cv, gc, cmax):
                    continue
            for k in range(k0, k1):
                kd = back_kd[k]
                if kd > maxlim:
                    continue
                r0 = 1.0 / back_p[k, 2]
                r1 = 1.0 / back_p[k, 5]
                r2 = 1.0 / back_p[k, 8]
                a0 = back_p[k, 0] * r0
                b0 = back_p[k, 1] * r0
                a1 = back_p[k, 3] * r1
                b1 = back_p[k, 4] * r1
                a2 = back_p[k, 6] * r2
                b2 = back_p[k, 7] * r2
                amin = min(a0, a1, a2)
                amax = max(a0, a1, a2)
                bmin = min(b0, b1, b2)
                bmax = max(b0, b1, b2)
                if not _reaches(amin - pad, amax + pad, bmin - pad, bmax + pad, kd, tu, tv, cu,
                                cv, gc, cmax):
                    continue
                dq[nd] = back_q[k]
                df[nd, 0] = a0
                df[nd, 1] = b0
                df[nd, 2] = a1
                df[nd, 3] = b1
                df[nd, 4] = a2
                df[nd, 5] = b2
                df[nd, 6] = kd
                area = (a1 - a0) * (b2 - b0) - (a2 - a0) * (b1 - b0)
                sg = 1.0 if area > 0.0 else -1.0
                ea = a1 - a0
                eb = b1 - b0
                df[nd, 7] = sg * ea
                df[nd, 8] = sg * eb
                df[nd, 9] = -pad * (abs(ea) + abs(eb))
                ea = a2 - a1
                eb = b2 - b1
                df[nd, 10] = sg * ea
                df[nd, 11] = sg * eb
                df[nd, 12] = -pad * (abs(ea) + abs(eb))
                ea = a0 - a2
                eb = b0 - b2
                df[nd, 13] = sg * ea
                df[nd, 14] = sg * eb
                df[nd, 15] = -pad * (abs(ea) + abs(eb))
                df[nd, 16] = 1.0 if area == 0.0 else 0.0
                dbox[nd, 0] = amin - pad
                dbox[nd, 1] = amax + pad
                dbox[nd, 2] = bmin - pad
                dbox[nd, 3] = bmax + pad
                daw += amax - amin
                dbw += bmax - bmin
                nd += 1
        hit = np.zeros(nl, dtype=np.uint8)
        if nd > 0:
            # detectors binned into a grid of bins about their mean box; each origin looks
            # up its bin
            gu, gv = _grid_shape(nd, tu, tv, daw / nd, dbw / nd)
            su = gu / (2.0 * tu)
            sv = gv / (2.0 * tv)
            nbin = gu * gv
            bstart = np.zeros(nbin + 1, dtype=np.int64)
            brange = np.empty((nd, 4), dtype=np.int64)
            for d in range(nd):
                iu0 = _bin(dbox[d, 0], tu, su, gu)
                iu1 = _bin(dbox[d, 1], tu, su, gu)
                iv0 = _bin(dbox[d, 2], tv, sv, gv)
                iv1 = _bin(dbox[d, 3], tv, sv, gv)
                brange[d, 0] = iu0
                brange[d, 1] = iu1
                brange[d, 2] = iv0
                brange[d, 3] = iv1
                for iv in range(iv0, iv1 + 1):
                    for iu in range(iu0, iu1 + 1):
                        bstart[iv * gu + iu + 1] += 1
            for b in range(nbin):
                bstart[b + 1] += bstart[b]
            cursor = bstart[:-1].copy()
            entry = np.empty(bstart[nbin], dtype=np.int64)
            for d in range(nd):
                for iv in range(brange[d, 2], brange[d, 3] + 1):
                    for iu in range(brange[d, 0], brange[d, 1] + 1):
                        b = iv * gu + iu
                        entry[cursor[b]] = d
                        cursor[b] += 1
            last = -1  # the detector that put the previous origin in shadow: try it first
            for p in range(nl):
                a = pt[p, 9]
                bb = pt[p, 10]
                lim = pt[p, 8]
                if last >= 0 and not df[last, 6] > lim and _in_detector(df, last, a, bb):
                    t = _ray_triangle(pt[p, 1], pt[p, 2], pt[p, 3], pt[p, 4], pt[p, 5],
                                      pt[p, 6], mt, dq[last])
                    if t > pt[p, 7] and t < 1.0:
                        dark[p] = 1
                        continue
                last = -1
                b = _bin(bb, tv, sv, gv) * gu + _bin(a, tu, su, gu)
                for x in range(bstart[b], bstart[b + 1]):
                    d = entry[x]
                    if df[d, 6] > lim:
                        continue
                    if not _in_detector(df, d, a, bb):
                        continue
                    t = _ray_triangle(pt[p, 1], pt[p, 2], pt[p, 3], pt[p, 4], pt[p, 5],
                                      pt[p, 6], mt, dq[d])
                    if t > pt[p, 7] and t < 1.0:
                        dark[p] = 1
                        hit[p] = 0
                        last = d
                        break
                    hit[p] = 1
        for p in range(nl):
            if hit[p] or pt[p, 11] != 0.0:
                sel[ns] = p
                ns += 1
    if ns == 0:
        return
    kd_max = -np.inf
    for e in range(ns):
        kd_max = max(kd_max, pt[sel[e], 8])
    _shadow_pass(ns, sel, m, lit, pt, dark, inf_q, inf_f, mt, tu, tv, pad, aw, bw, density,
                 kd_max)
    _shadow_glob(ns, sel, lit, pt, dark, inf_q, glob, ng, mt)


# ---------------------------------------------------------------------------------------
# Summation of the pairs (serial, event order): events of several beams, PSD per chunk
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _add_pairs(b0, nb, off, npair, pidx, pdose, emax, out, beam_event, beam_chunk,
               event_out, chunk_out, scratch, touched, state, peak):
    """Add the pairs of beams ``b0 .. b0 + nb - 1`` into ``out``, in beam order.

    A beam that shares its event (``beam_event``) with a neighbouring beam is first summed
    into ``scratch`` (zero on entry and on exit; ``touched[:state[0]]`` lists its nonzero
    cells); at the event's last beam each touched cell adds its event sum into ``out`` and the
    event's maximum (max over cells of the sum, at least 0) goes to ``event_out``. A beam that
    is its own event adds straight into ``out`` (bit for bit the same as ``0 + d`` first) and
    its largest pair is the event's maximum. When ``chunk_out`` is not empty, ``peak[0]`` is the
    running maximum of ``out`` (exact: every addend is >= 0, so no cell ever decreases) and
    ``chunk_out[k]`` gets it once every beam of chunks <= k is added (``state[1]`` is the
    next chunk to close). The state persists across blocks and calls of this function.
    """
    n_beams = beam_event.shape[0]
    ev_on = event_out.shape[0] > 0
    ch_on = chunk_out.shape[0] > 0
    for ii in range(nb):
        b = b0 + ii
        g = beam_event[b]
        if ch_on:
            k = beam_chunk[b]
            while state[1] < k:
                chunk_out[state[1]] = peak[0]
                state[1] += 1
        last = b + 1 >= n_beams or beam_event[b + 1] != g
        if last and (b == 0 or beam_event[b - 1] != g):
            for j in range(off[ii], off[ii] + npair[ii]):
                c = pidx[j]
                out[c] += pdose[j]
                if ch_on and out[c] > peak[0]:
                    peak[0] = out[c]
            if ev_on:
                event_out[g] = emax[b]
            continue
        nt = state[0]
        for j in range(off[ii], off[ii] + npair[ii]):
            c = pidx[j]
            was = scratch[c]
            scratch[c] = was + pdose[j]
            if was == 0.0 and scratch[c] != 0.0:
                touched[nt] = c
                nt += 1
        state[0] = nt
        if last:
            best = 0.0
            for t in range(nt):
                c = touched[t]
                val = scratch[c]
                if val > best:
                    best = val
                out[c] += val
                if ch_on and out[c] > peak[0]:
                    peak[0] = out[c]
                scratch[c] = 0.0
            state[0] = 0
            if ev_on:
                event_out[g] = best


@njit(cache=True)
def _close_chunks(chunk_out, state, peak):
    """Give every chunk not closed yet (no beams, or the last ones) the final peak."""
    while state[1] < chunk_out.shape[0]:
        chunk_out[state[1]] = peak[0]
        state[1] += 1


# ---------------------------------------------------------------------------------------
# Drivers (the same body; prange vs range)
# ---------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def accumulate_parallel(
    centroids, normals, verts, mt, ev, slab, thickness, max_path_factor,
    inverse_square, occl_mode, closed, eps_mm, pad, density, block,
    node_box, node_link, tri_geom, tri_id, cell_order, cluster_start, cluster_ball, out, emax,
    beam_event, beam_chunk, event_out, chunk_out, scratch, touched, state, peak, lead,
):  # fmt: skip
    """Add every event's dose into ``out`` (original cell order), in parallel over events.

    Per block of ``block`` events: cluster culling (parallel over events), the dose pairs of
    each event (parallel over events, each into its own slice of one buffer), then the pairs
    are added into ``out`` in event order by one thread. Each cell therefore sums its events
    in event order whatever the number of threads: the result is bit-identical to
    :func:`accumulate_serial`.
    """
    n_ev = ev.shape[0]
    nc = cluster_ball.shape[0]
    # Buffers live across blocks (fresh pages for every block cost page faults, which the
    # threads take one at a time); the pair buffer grows when a block needs more.
    keep = np.empty((min(block, n_ev), nc), dtype=np.uint8)
    cnt = np.empty(block, dtype=np.int64)
    off = np.empty(block + 1, dtype=np.int64)
    npair = np.empty(block, dtype=np.int64)
    pidx = np.empty(0, dtype=np.int64)
    pdose = np.empty(0)
    pgeo = np.empty((0, 3))
    for e0 in range(0, n_ev, block):
        e1 = min(n_ev, e0 + block)
        nb = e1 - e0
        # np.zeros would be a parallel region of its own (Numba turns array expressions
        # into parfors); every region costs a thread wake-up, so only the two loops are.
        for ii in prange(nb):
            cnt[ii] = _cull(e0 + ii, ev, cluster_start, cluster_ball, keep[ii])
        off[0] = 0
        for ii in range(nb):
            off[ii + 1] = off[ii] + cnt[ii]
        if off[nb] > pidx.shape[0]:
            pidx = np.empty(off[nb] + off[nb] // 4, dtype=np.int64)
            pdose = np.empty(pidx.shape[0])
        n_follow = 0
        for ii in range(nb):
            if lead[e0 + ii] != e0 + ii:
                n_follow += 1
        if n_follow and off[nb] > pgeo.shape[0]:
            pgeo = np.empty((off[nb] + off[nb] // 4, 3))
        for ii in prange(nb):
            i = e0 + ii
            if lead[i] != i:
                npair[ii] = 0  # filled from its leader below
            else:
                npair[ii] = _event_pairs(
                    i, keep[ii], cnt[ii], centroids, normals, verts, mt, ev, slab, thickness,
                    max_path_factor, inverse_square, occl_mode, closed, eps_mm, pad, density,
                    node_box, node_link, tri_geom, tri_id, cell_order, cluster_start,
                    cluster_ball, pidx, pdose, off[ii], emax, pgeo,
                    i + 1 < n_ev and lead[i + 1] == i,
                )  # fmt: skip
        if n_follow:
            for ii in prange(nb):
                i = e0 + ii
                if lead[i] != i:
                    npair[ii] = _follow(i, lead[i] - e0, ii, off, npair, pidx, pdose, pgeo, ev,
                                        inverse_square, thickness, max_path_factor, emax)
        _add_pairs(e0, nb, off, npair, pidx, pdose, emax, out, beam_event, beam_chunk,
                   event_out, chunk_out, scratch, touched, state, peak)
    _close_chunks(chunk_out, state, peak)


@njit(cache=True)
def accumulate_serial(
    centroids, normals, verts, mt, ev, slab, thickness, max_path_factor,
    inverse_square, occl_mode, closed, eps_mm, pad, density, block,
    node_box, node_link, tri_geom, tri_id, cell_order, cluster_start, cluster_ball, out, emax,
    beam_event, beam_chunk, event_out, chunk_out, scratch, touched, state, peak, lead,
):  # fmt: skip
    """Serial twin of :func:`accumulate_parallel` (same body, ``range`` for ``prange``)."""
    n_ev = ev.shape[0]
    nc = cluster_ball.shape[0]
    keep = np.empty((min(block, n_ev), nc), dtype=np.uint8)
    cnt = np.empty(block, dtype=np.int64)
    off = np.empty(block + 1, dtype=np.int64)
    npair = np.empty(block, dtype=np.int64)
    pidx = np.empty(0, dtype=np.int64)
    pdose = np.empty(0)
    pgeo = np.empty((0, 3))
    for e0 in range(0, n_ev, block):
        e1 = min(n_ev, e0 + block)
        nb = e1 - e0
        for ii in range(nb):
            cnt[ii] = _cull(e0 + ii, ev, cluster_start, cluster_ball, keep[ii])
        off[0] = 0
        for ii in range(nb):
            off[ii + 1] = off[ii] + cnt[ii]
        if off[nb] > pidx.shape[0]:
            pidx = np.empty(off[nb] + off[nb] // 4, dtype=np.int64)
            pdose = np.empty(pidx.shape[0])
        n_follow = 0
        for ii in range(nb):
            if lead[e0 + ii] != e0 + ii:
                n_follow += 1
        if n_follow and off[nb] > pgeo.shape[0]:
            pgeo = np.empty((off[nb] + off[nb] // 4, 3))
        for ii in range(nb):
            i = e0 + ii
            if lead[i] != i:
                npair[ii] = 0  # filled from its leader below
            else:
                npair[ii] = _event_pairs(
                    i, keep[ii], cnt[ii], centroids, normals, verts, mt, ev, slab, thickness,
                    max_path_factor, inverse_square, occl_mode, closed, eps_mm, pad, density,
                    node_box, node_link, tri_geom, tri_id, cell_order, cluster_start,
                    cluster_ball, pidx, pdose, off[ii], emax, pgeo,
                    i + 1 < n_ev and lead[i + 1] == i,
                )  # fmt: skip
        if n_follow:
            for ii in range(nb):
                i = e0 + ii
                if lead[i] != i:
                    npair[ii] = _follow(i, lead[i] - e0, ii, off, npair, pidx, pdose, pgeo, ev,
                                        inverse_square, thickness, max_path_factor, emax)
        _add_pairs(e0, nb, off, npair, pidx, pdose, emax, out, beam_event, beam_chunk,
                   event_out, chunk_out, scratch, touched, state, peak)
    _close_chunks(chunk_out, state, peak)
