"""Occlusion-correct skin-dose kernel: beams × skin cells → dose per cell (design.md §9).

The public functions here validate and pack their inputs, then call the Numba kernels of
:mod:`skindose.kernel._numba` (``@njit(cache=True)``, fastmath off, parallel over skin cells,
race-free). The tests hold a slow, obvious NumPy twin (``tests/kernel/kernel_reference.py``)
that the kernel must match to 1e-9 relative.

Rule for one beam i and one cell j (all must hold for cell j to receive dose):

1. *In the field*: with d = c_j − S_i, ``d·w > 0``, ``|d·u| <= tan_u·(d·w)`` and
   ``|d·v| <= tan_v·(d·w)`` (the centroid lies inside the beam pyramid; boundary included).
2. *Faces the source*: ``n_j · (S_i − c_j) > 0``.
3. *Not occluded* (when ``occlusion``): the segment c_j + t·(S_i − c_j) meets no triangle
   k ≠ j at ``eps < t < 1`` where ``eps = OCCLUSION_EPS_MM / |S_i − c_j|``, i.e. hits closer
   than 1e-3 mm to the centroid are ignored (they are the cell's own surface, seen through
   rounding), as are hits beyond the source. The ray–triangle test is two-sided
   Möller–Trumbore with inclusive barycentric bounds; a ray exactly parallel to a triangle's
   plane (determinant exactly 0) misses it. Like any non-watertight test, a ray passing
   exactly through a shared edge or vertex may slip between two triangles; that is a
   measure-zero event.

Dose added to ``out[j]``::

    kerma_i * (srp_i / |c_j - S_i|)**2 * exp(slab_log_t0_i * min(L_ij / thickness, max_path_factor))

with the inverse-square factor 1 when ``inverse_square=False`` and L_ij the length (mm) of
the segment S_i → c_j inside the table+mattress slab (an oriented box; 0 when it misses).

Acceleration: why a BVH (plus cluster culling)
----------------------------------------------
Two costs dominate: testing every (beam, cell) pair against the pyramid, and the occlusion
ray of each in-field, source-facing cell.

* **Pyramid culling by cell clusters.** :func:`prepare` groups the cells into spatially
  compact clusters of at most ``CLUSTER_SIZE`` (32) cells (the leaves of a second
  median-split tree); a cluster whose padded bounding ball lies outside a beam's pyramid
  skips all its cells. The kernel runs in parallel over clusters (each owns its cells' sums),
  with the cells stored cluster-contiguous. Measured (92,160 cells, 1,000 beams, no
  occlusion, one core): 0.21–0.32 ms per beam against 1.1 ms when testing every cell.
* **Occlusion: brute force** (every triangle per ray) is O(n) per ray: 0.16 M cell-events/s
  at 23,040 triangles and 0.045 M at 92,160 — unusable.
* **Occlusion: BVH** (median split on the longest centroid axis, leaves of ≤ 4 triangles —
  1 to 16 measured within noise — flattened into two packed arrays, iterative any-hit
  traversal with a per-thread stack). Built once per phantom in Numba (0.1 s at 23k, 0.4 s
  at 92k triangles). Exact: the node boxes are padded, so they only prune triangles that the
  exact test would reject, and the decisions are those of brute force. About 0.6–0.7 µs of
  CPU per occlusion ray at 92k triangles, i.e. O(log n).
* **Per-event depth map** (rasterise the triangles into a z-buffer in the beam's
  (d·u/d·w, d·v/d·w) plane) is approximate at pixel scale, so it would still need the exact
  test wherever it is ambiguous (silhouettes, depth discontinuities, cells near the field
  edge), and it costs O(triangles in the field) per beam. Against a BVH that is exact and
  needs no tuning this did not pay for its complexity, so it was not built. (An exact
  per-event 2D bin grid of the in-field triangles, queried at each cell's projected point,
  is the natural next step if occlusion must get faster.)

Measured with ``benchmarks/kernel_quick.py`` (synthetic trunk + arms, beams with 12–15 cm
fields at 60 cm, slab on; the 2-core machine was shared with other jobs at load ≈ 4.5, so the
parallel variant showed no gain over the serial one in these runs):

====================  ========  ===========  ================  ==================
cells (= triangles)   beams     occlusion    ms per beam       M cell-events/s
====================  ========  ===========  ================  ==================
92,160                1,000     off          0.32–0.35         267–287
92,160                1,000     on           1.9–2.0           46–48
23,040                1,000     off          0.14              169
23,040                1,000     on           0.53              43
====================  ========  ===========  ================  ==================

About 1,460 (92k) and 365 (23k) cells per beam are in the field and face the source; 17 %
of them are occluded in this scene.

Use :func:`prepare` to build the structure once per phantom and pass it as ``accel=``; without
it, :func:`accumulate_dose` builds one and keeps the last few in a small cache keyed by a
hash of the triangle array (Python-side only: jitted code reads no globals).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.errors import GeometryError
from skindose.kernel import _numba

__all__ = ["OCCLUSION_EPS_MM", "Accel", "accumulate_dose", "first_hit_distance", "prepare"]

#: Hits on the occlusion segment closer than this to the cell centroid are ignored (mm).
OCCLUSION_EPS_MM = 1e-3
#: Most triangles per BVH leaf.
LEAF_SIZE = 4
#: Most cells per cluster (the unit of pyramid culling and of parallel work).
CLUSTER_SIZE = 32
#: Events per block: a block's rows stay in cache while every cell sweeps over it.
EVENT_BLOCK = 256
_STACK_SIZE = 128
_CACHE_SIZE = 4


@dataclass(frozen=True, slots=True, eq=False)
class Accel:
    """A bounding-volume hierarchy over a triangle mesh, ready for the kernels.

    Build it with :func:`prepare`. All arrays are read-only.

    Attributes
    ----------
    n_triangles
        Number of triangles indexed.
    key, sample_key
        Hashes of the triangle array it was built from (whole array; a strided sample).
    node_box
        (m, 6) float64 padded node boxes (min xyz, max xyz).
    node_link
        (m, 3) int64 first child (-1 for a leaf; the second is first + 1), leaf start,
        leaf count (a leaf's run of BVH-ordered triangles).
    tri_geom
        (k, 9) float64 first vertex and edges ``v1 - v0``, ``v2 - v0`` in BVH order.
    tri_id
        (k,) int64 original index of each BVH-ordered triangle.
    cell_order, cluster_start
        (k,) int64 and (c + 1,) int64: cluster ``i`` holds cells
        ``cell_order[cluster_start[i]:cluster_start[i + 1]]`` (spatially compact groups of
        at most ``CLUSTER_SIZE`` cells, culled together against each beam's pyramid).
    cluster_perm
        (c,) int64 a fixed shuffle of the clusters (balances the parallel schedule).
    """

    n_triangles: int
    key: bytes
    sample_key: bytes
    node_box: NDArray[np.float64]
    node_link: NDArray[np.int64]
    tri_geom: NDArray[np.float64]
    tri_id: NDArray[np.int64]
    cell_order: NDArray[np.int64]
    cluster_start: NDArray[np.int64]
    cluster_perm: NDArray[np.int64]

    def arrays(self) -> tuple[NDArray, ...]:
        """The four BVH arrays in the order the kernels take them."""
        return (self.node_box, self.node_link, self.tri_geom, self.tri_id)


_ACCEL_CACHE: OrderedDict[bytes, Accel] = OrderedDict()
_ACCEL_LOCK = threading.Lock()
_WORKQUEUE_LOCK = threading.Lock()


def _float_array(name: str, x: ArrayLike, shape: tuple[int | None, ...]) -> NDArray[np.float64]:
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        msg = f"{name} must be a real numeric array, got dtype {a.dtype}"
        raise TypeError(msg)
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != len(shape) or any(
        s is not None and s != d for s, d in zip(shape, a.shape, strict=True)
    ):
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        msg = f"{name} must have shape {want}, got {a.shape}"
        raise GeometryError(msg)
    if not np.all(np.isfinite(a)):
        msg = f"{name} contains NaN or infinite values"
        raise GeometryError(msg)
    return a


def _triangle_key(tri: NDArray[np.float64]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(str(tri.shape).encode())
    h.update(tri.tobytes())
    return h.digest()


def _sample_key(tri: NDArray[np.float64]) -> bytes:
    step = max(1, tri.shape[0] // 4096)
    h = hashlib.blake2b(digest_size=16)
    h.update(str(tri.shape).encode())
    h.update(np.ascontiguousarray(tri[::step]).tobytes())
    return h.digest()


def _readonly(a: NDArray) -> NDArray:
    a.setflags(write=False)
    return a


def prepare(triangles: ArrayLike, *, leaf_size: int = LEAF_SIZE) -> Accel:
    """Build the ray-casting acceleration structure (a BVH) for a triangle mesh.

    Parameters
    ----------
    triangles
        (k, 3, 3) float64 triangle vertices (mm), e.g. ``mesh.triangles``.
    leaf_size
        Most triangles per leaf (tuning and benchmarking only; ``leaf_size >= k`` gives a
        single leaf, i.e. brute force). Results do not depend on it.

    Returns
    -------
    Accel
        Reusable for every call of :func:`accumulate_dose` and :func:`first_hit_distance`
        on the same mesh. With the default ``leaf_size`` the structure comes from a small
        cache keyed on the triangles' content, so repeated computations on one phantom (a
        dashboard) build it once.
    """
    tri = _float_array("triangles", triangles, (None, 3, 3))
    if int(leaf_size) < 1:
        msg = f"leaf_size must be at least 1, got {leaf_size!r}"
        raise ValueError(msg)
    if int(leaf_size) == LEAF_SIZE:
        return _accel_for(tri, None)  # shared, thread-safe cache: one BVH per mesh
    return _prepare(tri, _triangle_key(tri), int(leaf_size))


def _prepare(tri: NDArray[np.float64], key: bytes, leaf_size: int = LEAF_SIZE) -> Accel:
    v0 = np.ascontiguousarray(tri[:, 0])
    v1 = np.ascontiguousarray(tri[:, 1])
    v2 = np.ascontiguousarray(tri[:, 2])
    scale = float(np.max(np.abs(tri))) if tri.size else 1.0
    pad = 1e-9 * (1.0 + scale)
    nmin, nmax, nleft, _, nstart, ncount, order = _numba.build_bvh(v0, v1, v2, leaf_size, pad)
    # Edges are computed exactly as the reference twin computes them (v1 - v0, v2 - v0).
    e1 = v1 - v0
    e2 = v2 - v0
    _, _, cleft, _, cstart, _, corder = _numba.build_bvh(v0, v1, v2, CLUSTER_SIZE, pad)
    leaves = np.sort(cstart[cleft < 0])
    cluster_start = np.append(leaves, tri.shape[0]).astype(np.int64)
    cluster_perm = np.random.default_rng(0).permutation(len(leaves)).astype(np.int64)
    return Accel(
        n_triangles=tri.shape[0],
        key=key,
        sample_key=_sample_key(tri),
        node_box=_readonly(np.ascontiguousarray(np.hstack([nmin, nmax]))),
        node_link=_readonly(np.ascontiguousarray(np.stack([nleft, nstart, ncount], axis=1))),
        tri_geom=_readonly(np.ascontiguousarray(np.hstack([v0[order], e1[order], e2[order]]))),
        tri_id=_readonly(np.ascontiguousarray(order, dtype=np.int64)),
        cell_order=_readonly(np.ascontiguousarray(corder, dtype=np.int64)),
        cluster_start=_readonly(cluster_start),
        cluster_perm=_readonly(cluster_perm),
    )


def _parallel_guard():
    """Serialise parallel kernel calls when Numba runs on its 'workqueue' threading layer.

    Numba's workqueue layer is not safe for concurrent parallel calls from several Python
    threads (the omp and tbb layers are); a dashboard calling ``compute`` from several threads
    must not crash, so calls then take turns. Before the first parallel call the layer is not
    known yet, so that call takes the lock too.
    """
    try:
        layer = numba.threading_layer()
    except ValueError:
        return _WORKQUEUE_LOCK
    return _WORKQUEUE_LOCK if layer == "workqueue" else contextlib.nullcontext()


def _accel_for(tri: NDArray[np.float64], accel: Accel | None) -> Accel:
    if accel is not None:
        # A cheap check (shape and a strided sample): hashing the whole mesh on every call
        # would cost more than a small chunk of events.
        if accel.sample_key != _sample_key(tri):
            msg = "accel was prepared from a different triangle array"
            raise GeometryError(msg)
        return accel
    key = _triangle_key(tri)
    with _ACCEL_LOCK:  # the only shared state: callers from several threads may meet here
        hit = _ACCEL_CACHE.get(key)
        if hit is not None:
            _ACCEL_CACHE.move_to_end(key)
            return hit
    built = _prepare(tri, key)  # built outside the lock; a rare duplicate build is harmless
    with _ACCEL_LOCK:
        _ACCEL_CACHE[key] = built
        while len(_ACCEL_CACHE) > _CACHE_SIZE:
            _ACCEL_CACHE.popitem(last=False)
    return built


def _cluster_balls(c: NDArray[np.float64], accel: Accel) -> NDArray[np.float64]:
    """(clusters, 4) float64 padded bounding balls (x, y, z, r) of each cluster's centroids.

    ``c`` holds the centroids already in cluster order.
    """
    start = accel.cluster_start[:-1]
    pts = c
    counts = np.diff(accel.cluster_start)
    center = np.add.reduceat(pts, start, axis=0) / counts[:, None]
    rad = np.sqrt(np.maximum.reduceat(np.sum((pts - np.repeat(center, counts, 0)) ** 2, 1), start))
    balls = np.empty((len(start), 4))
    balls[:, :3] = center
    # Padding dwarfs the rounding of the ball test, so culling never drops an in-field cell.
    balls[:, 3] = rad * (1.0 + 1e-9) + 1e-6 * (1.0 + np.max(np.abs(c)))
    return balls


def _out_array(name: str, x: NDArray | None, n: int) -> NDArray[np.float64]:
    if x is None:
        return np.zeros(n)
    if not isinstance(x, np.ndarray) or x.dtype != np.float64 or x.shape != (n,):
        msg = f"{name} must be a float64 array of shape ({n},)"
        raise GeometryError(msg)
    if not (x.flags.c_contiguous and x.flags.writeable):
        msg = f"{name} must be C-contiguous and writeable (it is written in place)"
        raise GeometryError(msg)
    return x


def accumulate_dose(
    centroids: ArrayLike,
    normals: ArrayLike,
    triangles: ArrayLike,
    source: ArrayLike,
    u: ArrayLike,
    v: ArrayLike,
    w: ArrayLike,
    tan_u: ArrayLike,
    tan_v: ArrayLike,
    kerma: ArrayLike,
    srp_mm: ArrayLike,
    slab_log_t0: ArrayLike,
    slab_center: ArrayLike,
    slab_axes: ArrayLike,
    slab_half: ArrayLike,
    max_path_factor: float,
    inverse_square: bool = True,
    occlusion: bool = True,
    parallel: bool = True,
    out: NDArray[np.float64] | None = None,
    event_max: NDArray[np.float64] | None = None,
    accel: Accel | None = None,
) -> NDArray[np.float64]:
    """Add the skin dose of every beam to every skin cell (occlusion-correct ray casting).

    See the module docstring for the exact rule and formula.

    Parameters
    ----------
    centroids
        (n, 3) float64 skin cell centroids, patient frame, mm.
    normals
        (n, 3) float64 unit outward normals.
    triangles
        (n, 3, 3) float64 mesh triangles; cell i is triangle i and every triangle occludes.
    source
        (e, 3) float64 focal spot S per (sub-)beam, mm.
    u, v, w
        (e, 3) float64 orthonormal beam axes; w is the central axis (source → detector).
    tan_u, tan_v
        (e,) float64 field half-tangents (half-width / distance along w).
    kerma
        (e,) float64 kerma at the reference point times every per-beam factor, Gy.
    srp_mm
        (e,) float64 source-to-reference-point distance, mm.
    slab_log_t0
        (e,) float64 ln T0 of the table+mattress slab at normal incidence (0: none).
    slab_center
        (3,) float64 centre of the slab box, mm.
    slab_axes
        (3, 3) float64 rows are the unit box axes; row 2 is the slab normal.
    slab_half
        (3,) float64 half extents along those axes, mm; thickness is ``2 * slab_half[2]``.
    max_path_factor
        Cap on (path length in slab / thickness), e.g. ``1 / cos(70°)``.
    inverse_square
        Apply ``(srp / |c - S|)**2``.
    occlusion
        Cast the occlusion ray of every in-field, source-facing cell.
    parallel
        Use the parallel (``prange`` over cells) variant; the result is bit-identical.
    out
        (n,) float64, C-contiguous; the dose is ADDED into it in place. Zeros if None.
    event_max
        (e,) float64, C-contiguous; filled with each beam's largest cell contribution.
    accel
        From :func:`prepare` on the same triangles; built (and cached) when None.

    Returns
    -------
    numpy.ndarray
        ``out``: (n,) float64 dose per cell, Gy.
    """
    c = _float_array("centroids", centroids, (None, 3))
    n = c.shape[0]
    nrm = _float_array("normals", normals, (n, 3))
    tri = _float_array("triangles", triangles, (n, 3, 3))
    src = _float_array("source", source, (None, 3))
    n_ev = src.shape[0]
    vecs = [_float_array(name, a, (n_ev, 3)) for name, a in (("u", u), ("v", v), ("w", w))]
    scal = [
        _float_array(name, a, (n_ev,))
        for name, a in (
            ("tan_u", tan_u), ("tan_v", tan_v), ("kerma", kerma),
            ("srp_mm", srp_mm), ("slab_log_t0", slab_log_t0),
        )
    ]  # fmt: skip
    center = _float_array("slab_center", slab_center, (3,))
    axes = _float_array("slab_axes", slab_axes, (3, 3))
    half = _float_array("slab_half", slab_half, (3,))
    mpf = float(max_path_factor)
    if not (np.isfinite(mpf) and mpf > 0.0):
        msg = f"max_path_factor must be a positive finite number, got {max_path_factor!r}"
        raise GeometryError(msg)
    if np.any(scal[2] < 0.0):
        msg = "kerma must be non-negative"
        raise ValueError(msg)
    thickness = 2.0 * float(half[2])
    if np.any(scal[4] != 0.0) and not thickness > 0.0:
        msg = "the slab must have a positive thickness (slab_half[2] > 0) to attenuate"
        raise GeometryError(msg)
    out = _out_array("out", out, n)
    if event_max is not None:
        event_max = _out_array("event_max", event_max, n_ev)
    if n == 0 or n_ev == 0:
        if event_max is not None:
            event_max[:] = 0.0
        return out

    ev = np.empty((n_ev, 17))
    ev[:, 0:3] = src
    ev[:, 3:6] = vecs[0]
    ev[:, 6:9] = vecs[1]
    ev[:, 9:12] = vecs[2]
    for col, a in enumerate(scal, start=12):
        ev[:, col] = a

    acc = _accel_for(tri, accel)
    order = acc.cell_order
    c_sorted = c[order]
    out_sorted = out[order]
    n_threads = numba.config.NUMBA_NUM_THREADS if parallel else 1
    emax = np.zeros((n_threads, n_ev))
    stacks = np.empty((n_threads, _STACK_SIZE), dtype=np.int64)
    kernel = _numba.accumulate_parallel if parallel else _numba.accumulate_serial
    slab = np.vstack([center, axes, half])
    with _parallel_guard() if parallel else contextlib.nullcontext():
        kernel(
            c_sorted, nrm[order], ev, slab, thickness if thickness > 0.0 else 1.0, mpf,
            bool(inverse_square), bool(occlusion), OCCLUSION_EPS_MM, EVENT_BLOCK,
            *acc.arrays(), order, acc.cluster_start, _cluster_balls(c_sorted, acc),
            acc.cluster_perm, out_sorted, emax, stacks,
        )  # fmt: skip
    out[order] = out_sorted
    if event_max is not None:
        event_max[:] = emax.max(axis=0)
    return out


def first_hit_distance(
    origins: ArrayLike,
    directions: ArrayLike,
    triangles: ArrayLike,
    accel: Accel | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Distance to the first triangle each ray meets (e.g. a beam's entrance point).

    Parameters
    ----------
    origins
        (e, 3) float64 ray origins, mm.
    directions
        (e, 3) float64 unit ray directions.
    triangles
        (k, 3, 3) float64 mesh triangles.
    accel
        From :func:`prepare` on the same triangles; built (and cached) when None.

    Returns
    -------
    t : numpy.ndarray
        (e,) float64 distance t > 0 to the closest hit (``origin + t * direction``); inf
        when the ray misses. Ties go to the lowest triangle index.
    tri_index : numpy.ndarray
        (e,) int64 index of the triangle hit, -1 when the ray misses.
    """
    o = _float_array("origins", origins, (None, 3))
    d = _float_array("directions", directions, (o.shape[0], 3))
    tri = _float_array("triangles", triangles, (None, 3, 3))
    t = np.full(o.shape[0], np.inf)
    idx = np.full(o.shape[0], -1, dtype=np.int64)
    if o.shape[0] == 0 or tri.shape[0] == 0:
        return t, idx
    arrays = _accel_for(tri, accel).arrays()
    with _parallel_guard():
        _numba.first_hit(o, d, *arrays, t, idx)
    return t, idx
