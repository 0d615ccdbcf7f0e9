"""Numba kernels of :mod:`skindose.kernel`: BVH build, ray casts and the dose accumulation.

Every jitted function of the kernel lives in this one file (Numba's ``cache=True`` only
notices edits to the file that holds the cached function), reads no global state, and is
compiled with ``fastmath`` off. Constants (leaf size, padding, occlusion epsilon, event block
size) arrive as arguments. The Python wrapper in ``skindose.kernel`` validates inputs and
chooses between :func:`accumulate_serial` and :func:`accumulate_parallel`; both drivers call
the same per-cluster routine :func:`_cluster_dose`, so the two variants share one source of
truth and produce bit-identical results.

Event rows
----------
The wrapper packs the per-beam arrays into one ``(e, 17)`` float64 array (one cache line
run per beam instead of ten scattered arrays):

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

BVH layout
----------
:func:`build_bvh` returns separate arrays; the wrapper packs them as ``node_box`` (m, 6)
float64 (padded min xyz, max xyz), ``node_link`` (m, 3) int64 (first child, -1 for a leaf;
the second child is always first + 1; leaf start; leaf count), ``tri_geom`` (k, 9) float64
(v0, e1 = v1 - v0, e2 = v2 - v0 of each triangle in BVH order) and ``tri_id`` (k,) int64 (its
original index). Few, compact arguments keep calls between jitted functions cheap.
"""

from __future__ import annotations

import math

import numba
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

    Conservative: the caller pads ``r`` so that rounding can never reject a ball holding an
    in-field point; the exact per-cell test decides everything else.
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
def _cluster_dose(
    k, e0, e1, centroids, normals, ev, slab, thickness, max_path_factor,
    inverse_square, occlusion, eps_mm, node_box, node_link, tri_geom, tri_id,
    cell_order, cluster_start, cluster_ball, out, stack, emax_row,
):  # fmt: skip
    """Add the dose of events ``e0 <= i < e1`` to the cells of cluster ``k``.

    ``centroids``, ``normals`` and ``out`` are in cluster order (cell ``q`` of the sorted
    arrays is original cell ``cell_order[q]``), so a cluster's cells are contiguous in memory.
    The cluster owns its cells' ``out`` entries (race-free); each cell sums its events in
    event order. ``emax_row`` is the calling thread's row of per-event maxima.

    Per (event i, cell q), in this order: in the pyramid, facing the source, not occluded;
    then dose = kerma · (srp / |c − S|)² · exp(ln T0 · min(L / thickness, cap)).
    """
    qx = cluster_ball[k, 0]
    qy = cluster_ball[k, 1]
    qz = cluster_ball[k, 2]
    r = cluster_ball[k, 3]
    c0 = cluster_start[k]
    c1 = cluster_start[k + 1]
    for i in range(e0, e1):
        if _sphere_outside(ev, i, qx, qy, qz, r):
            continue
        sx = ev[i, 0]
        sy = ev[i, 1]
        sz = ev[i, 2]
        for q in range(c0, c1):
            cx = centroids[q, 0]
            cy = centroids[q, 1]
            cz = centroids[q, 2]
            dx = cx - sx
            dy = cy - sy
            dz = cz - sz
            dw = dx * ev[i, 9] + dy * ev[i, 10] + dz * ev[i, 11]
            if not dw > 0.0:
                continue
            du = dx * ev[i, 3] + dy * ev[i, 4] + dz * ev[i, 5]
            if not abs(du) <= ev[i, 12] * dw:
                continue
            dv = dx * ev[i, 6] + dy * ev[i, 7] + dz * ev[i, 8]
            if not abs(dv) <= ev[i, 13] * dw:
                continue
            fx = sx - cx
            fy = sy - cy
            fz = sz - cz
            if not normals[q, 0] * fx + normals[q, 1] * fy + normals[q, 2] * fz > 0.0:
                continue
            dist2 = dx * dx + dy * dy + dz * dz
            dist = math.sqrt(dist2)
            if occlusion and _occluded(
                cx, cy, cz, fx, fy, fz, eps_mm / dist, cell_order[q],
                node_box, node_link, tri_geom, tri_id, stack,
            ):  # fmt: skip
                continue
            dose = ev[i, 14]
            if inverse_square:
                srp = ev[i, 15]
                dose = dose * (srp * srp / dist2)
            log_t0 = ev[i, 16]
            if log_t0 != 0.0:
                length = _slab_length(sx, sy, sz, dx, dy, dz, dist, slab)
                if length > 0.0:
                    dose = dose * math.exp(log_t0 * min(length / thickness, max_path_factor))
            out[q] += dose
            if dose > emax_row[i]:
                emax_row[i] = dose


@njit(cache=True, parallel=True)
def accumulate_parallel(
    centroids, normals, ev, slab, thickness, max_path_factor,
    inverse_square, occlusion, eps_mm, block, node_box, node_link, tri_geom, tri_id,
    cell_order, cluster_start, cluster_ball, cluster_perm, out, emax, stacks,
):  # fmt: skip
    """Add every event's dose into ``out`` (parallel over cell clusters; race-free).

    Cells are grouped in spatially compact clusters (``cluster_start[k]:cluster_start[k + 1]``
    of the cluster-ordered arrays) with a bounding ball ``cluster_ball[k] = (x, y, z, r)``; a
    cluster whose ball misses a beam's pyramid skips all its cells at once. Each cluster owns
    its cells' sums; the per-event maximum goes to the calling thread's row of ``emax``
    ((threads, e) float64), reduced by the wrapper. Clusters are visited in the shuffled
    order ``cluster_perm`` so that the static schedule balances threads, and events in blocks
    of ``block`` so that a block's rows stay in cache.
    """
    n_ev = ev.shape[0]
    m = cluster_perm.shape[0]
    for e0 in range(0, n_ev, block):
        e1 = min(n_ev, e0 + block)
        for kk in prange(m):
            tid = numba.get_thread_id()
            _cluster_dose(
                cluster_perm[kk], e0, e1, centroids, normals, ev, slab, thickness,
                max_path_factor, inverse_square, occlusion, eps_mm,
                node_box, node_link, tri_geom, tri_id,
                cell_order, cluster_start, cluster_ball, out, stacks[tid], emax[tid],
            )  # fmt: skip


@njit(cache=True)
def accumulate_serial(
    centroids, normals, ev, slab, thickness, max_path_factor,
    inverse_square, occlusion, eps_mm, block, node_box, node_link, tri_geom, tri_id,
    cell_order, cluster_start, cluster_ball, cluster_perm, out, emax, stacks,
):  # fmt: skip
    """Serial twin of :func:`accumulate_parallel` (same per-cluster routine, one thread)."""
    n_ev = ev.shape[0]
    m = cluster_perm.shape[0]
    for e0 in range(0, n_ev, block):
        e1 = min(n_ev, e0 + block)
        for kk in range(m):
            _cluster_dose(
                cluster_perm[kk], e0, e1, centroids, normals, ev, slab, thickness,
                max_path_factor, inverse_square, occlusion, eps_mm,
                node_box, node_link, tri_geom, tri_id,
                cell_order, cluster_start, cluster_ball, out, stacks[0], emax[0],
            )  # fmt: skip
