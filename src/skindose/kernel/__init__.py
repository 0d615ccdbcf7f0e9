"""Coverage- and occlusion-correct skin-dose kernel: beams × skin cells → dose per cell.

The public functions here validate and pack their inputs, then call the Numba kernels of
:mod:`skindose.kernel._numba` (``@njit(cache=True)``, fastmath off). The tests hold a slow,
obvious NumPy twin (``tests/kernel/kernel_reference.py``) that the kernel must match to 1e-9
relative. This package imports nothing from geometry, physics, compute, dosemap, report,
plotting or cli.

Rule for one beam i and one cell j (triangle j, centroid c_j, normal n_j)
-----------------------------------------------------------------------
With d = x − S_i for a point x, the beam's projective coordinates of x are
``a = d·u / d·w`` and ``b = d·v / d·w``; the field is the rectangle ``|a| <= tan_u``,
``|b| <= tan_v`` (the pyramid, boundary included).

1. *Faces the source*: ``n_j · (S_i − c_j) > 0``; and all three vertices lie in front of the
   focal spot (``d·w > 0``; a cell reaching behind the focal spot's plane gets nothing).
2. *Covered fraction* f_ij: the area of the cell's projected triangle inside the field
   rectangle over the projected triangle's area (exact clipping, Sutherland–Hodgman on the
   four edges, shoelace areas, capped at 1). A cell whose three vertices pass the pyramid
   test ``|d·u| <= tan_u (d·w)``, ``|d·v| <= tan_v (d·w)`` has f = 1 exactly, i.e. it gets
   bit for bit what the centroid kernel gave it; f = 0 gives nothing. A field smaller than a
   cell therefore puts its dose on the cells it covers, area-weighted: there is no separate
   small-field rescue any more.
3. *Not occluded* (when ``occlusion``): one ray per cell, from its *origin* o to S_i: the
   centroid when the centroid lies in the pyramid (so every cell the centroid kernel lit gets
   the same decision), otherwise the point of the cell's plane seen at the centre of the
   covered part (vertex mean of the clipped polygon). The segment o + t·(S_i − o) must meet
   no triangle k ≠ j at ``eps < t < 1`` with ``eps = OCCLUSION_EPS_MM / |S_i − o|``
   (Möller–Trumbore, two-sided, inclusive barycentric bounds; a ray exactly parallel to a
   triangle's plane misses it). Partial shadowing at silhouettes is per cell: a cell half
   in an arm's shadow is lit or dark as its origin is; the error is bounded by the cells along
   the shadow's edge and shrinks with the cell size. It costs nothing extra.

Dose added to ``out[j]``::

    kerma_i * (srp_i / |c_j - S_i|)**2
            * exp(slab_log_t0_i * min(L_ij / thickness, max_path_factor)) * f_ij

with the inverse-square factor 1 when ``inverse_square=False`` and L_ij the length (mm) of
the segment S_i → c_j inside the table+mattress slab (an oriented box; 0 when it misses).
Consequence (tests/kernel/test_kernel_coverage.py): for a field wholly on the skin,
``Σ_j dose_j area_j cos φ_j = K srp² Ω`` (Ω the pyramid's solid angle) within 0.1 % on the
plane (fields 20–300 mm at the detector, cells 0.25–4 cm², 0°/30°/60°), the cylinder and the
adult trunk.

Exact clipping, not sub-cell sampling (measured)
------------------------------------------------
``benchmarks/run.py`` (kernel coverage table, ``benchmarks/README.md``) compares, on the
plane, the centroid rule, a fixed 16-point sub-cell pattern and exact clipping. Sampling
leaves errors of the order of 1/16 of a cell per edge cell: up to +29 % for a 20 mm field on
4 cm² cells, −7 % at 100 mm (and it still needs a rescue below a cell); exact clipping is
within 0.1 % everywhere. Its cost falls only on cells cut by a field edge (clipping a
triangle by four lines, ≈ 50 flops, a few % of the in-field cells), i.e. it is cheaper than
16 pyramid tests on every in-field cell. Hence exact clipping.

Occlusion: a per-event grid of ray origins (and why)
----------------------------------------------------
* **Per event** the in-field triangles (those of the clusters that meet the pyramid, with
  vertices in front of the focal spot, whose projected box meets the field, padded by
  ``PROJ_PAD``) are listed with their projected vertices and boxes. A segment from an origin
  inside the pyramid to S_i projects to the single point (a_o, b_o), so a triangle it meets
  covers that point: only the pairs (origin, triangle) whose point lies in a bin of the
  triangle's padded projected box in a 2-D grid over the field (bin ≈ ``GRID_DENSITY`` × the
  mean projected box) can be hits, and the exact Möller–Trumbore test on those pairs makes
  the *same* decisions as the BVH (asserted bit-identical on the twin scenes and in the
  benchmark). Two cheap exact prefilters: a triangle whose nearest vertex is deeper than the
  origin, or whose projected triangle misses (a_o, b_o) by more than ``PROJ_PAD``, cannot be
  hit. Triangles straddling the focal spot's plane are tested by every ray.
* **How the pairs are enumerated** (measured, ``benchmarks/README.md``): the *lit cells'
  origins* are binned (one entry each, copied in bin order), and each in-field triangle
  walks the rows of its box with its own constants in registers. The earlier version binned
  every triangle into each bin of its box (≈ 4–9 entries per triangle, two passes) and
  queried per origin; the pairs are the same, but building that grid cost as much as the
  queries. Triangles covering many bins no longer need an "every ray" list.
* **Closed meshes** (``prepare(..., closed=True)``; ``Phantom.accel`` when the mesh is
  watertight and consistently wound): the lit origins are first checked against
  *detectors*, the in-field triangles that do not face the source, and only the few
  *suspects* get the exact pass above (source-facing triangles only). Why it is exact: o lies
  on a source-facing cell, so the segment from S reaches o from outside the body; if it
  meets the body at all (a triangle at t in (eps, 1)), it enters it and must leave it again
  before o, through a triangle that does not face S, at a point of the segment: that
  detector covers (a_o, b_o) and its nearest vertex is shallower than o. So an origin that
  no detector covers (same padded 2-D test and depth bound as above) is lit, without a
  single pair test. Per origin, the detectors in its bin are tried: a Möller–Trumbore hit
  on one (t in (eps, 1)) puts it in shadow at once; covered but not hit makes it a suspect
  (near silhouettes, ≈ 0–10 per event), tested against the source-facing triangles as
  before. The decisions are those of the BVH, which tests every triangle, front and back
  (bit-identical on the benchmark scenes, the closed twin scenes and the closed adult in
  ``tests/kernel/test_kernel_closed.py``, serial and parallel). Compared with the previous
  closed grid, which tested source-facing triangles only, a difference needs a segment that
  passes exactly through an edge or vertex so that Möller–Trumbore (not watertight) reports
  the exit triangle hit and both entry triangles missed, or the reverse: none occurred.
  Most events then cost little: a field seeing one layer of skin (the trunk from the front)
  has no detector in front of any origin. Detectors are pruned cheaply: the non-facing
  triangles are listed in the projection pass with their d·u, d·v, d·w (no division);
  those deeper than the deepest origin go, then whole clusters whose projected bounding
  ball meets no cell of a coarse map (≈ 8 origins per cell) holding an origin deeper than
  the cluster's nearest vertex, then single triangles by the same map; the rest are binned
  (bins ≈ their mean projected box) and each origin looks up its bin, trying first the
  detector that shadowed the previous origin (neighbours in cluster order). Origins whose
  segment does not project to (a_o, b_o) (the fallback of a partial cell whose plane passes
  through S) are always suspects, and every origin is when triangles straddle the focal
  spot's plane (the argument needs projected detectors). The mesh-adjacency rule (a
  source-facing triangle sharing an edge with the origin's cell cannot cover its point) was
  not implemented: it removes only pairs that the 2-D test already rejects, each still
  visited in the bin walk, whereas the detectors remove every pair of a single-layer region
  at once. Cells inside another closed part of a self-
  intersecting union would break the argument; the phantoms are one boolean-union surface.
* The BVH stays (median split, leaves of ≤ 4 triangles) for :func:`first_hit_distance` and
  as ``occlusion_structure="bvh"`` for tests and benchmarks.
* **Cost** (``benchmarks/README.md``; 2-core machine shared with other jobs, CPU time of one
  thread, same process, interleaved, best of 9, load ≈ 1): occlusion-on costs 1.76× off at
  50k cells and 1.93× at 200k (the previous closed grid, which tested every lit origin
  against the source-facing triangles of its bins: 1.98× and 2.31×), against a target of
  1.5×, not reached.
  What remains is the events that see several layers (an arm in front of the trunk, the
  far arm behind it: about half the benchmark's events), where most origins are really in
  shadow and each needs its lookup and one exact test, and the detectors (about half the
  non-facing triangles in such fields) need projecting and binning; single-layer events
  cost ≈ 1.0–1.2× off.

Parallel work and determinism
-----------------------------
The events of a block (``EVENT_BLOCK``) run in parallel, handed to the threads
``PARALLEL_CHUNK`` at a time (events differ in cost; a static half per thread leaves one
idle), each event computing its list of (cell, dose) pairs into its own slice of one buffer
that lives across blocks; then one thread adds the pairs into ``out`` in event order. Each
cell thus sums its events in event order whatever the number of threads or the schedule:
1 thread, 2 threads and the serial variant give bit-identical maps. The serial part is the
summation (a few ns per lit pair, ≈ 1 % of an event). A whole computation is *one* call
(``beam_event``, ``event_max_dose``, ``beam_chunk``, ``chunk_psd``): two parallel regions
per 128 events instead of a call, a Python wrapper and two regions per timeline chunk.

Equal geometry
--------------
An event whose focal spot, axes and field equal (exactly) the previous event's, in the same
event block, takes the run's first event's lit cells, covered fractions, distances and slab
paths and recomputes only the dose from its own kerma, srp and ln T0 (:func:`_leaders`;
``_follow`` in the Numba module): the same bits without a second cull, projection and
occlusion pass. Runs of 10 such events (a fluoroscopy run) cost 5.6× less per event on the
50k-cell adult (``benchmarks/README.md``).

Events of several beams and the PSD timeline
--------------------------------------------
With ``beam_event`` the beams of one event (consecutive rows) are summed per cell in a
scratch map first (in beam order, from 0) and each touched cell then adds its event sum into
``out``: bit for bit one call per event into a zeroed scratch map plus ``out += scratch``.
The event's maximum is the largest event sum (≥ 0). With ``beam_chunk``/``chunk_psd``,
``chunk_psd[k]`` is the largest cell of ``out`` once every beam of chunks ≤ k is added: a
running maximum over the updated cells, exact because every addend is ≥ 0 (no cell ever
decreases). The summation runs in event order; the previous ``compute`` loop added, within a
chunk, its single-beam events before its multi-beam ones, so its maps can differ from one
call's in the last bit where both kinds share a chunk (``tests/kernel/test_kernel_timeline.py``
asserts bit-identity where the orders agree, 1e-14 elsewhere; maxima equal).

Acceleration structure and per-call cost
----------------------------------------
:func:`prepare` builds an :class:`Accel` once per mesh (BVH, cell clusters of at most
``CLUSTER_SIZE`` cells with padded bounding balls over their vertices, the cell arrays in
cluster order). A :class:`~skindose.phantoms.Phantom` holds its own (``phantom.accel``, built
on first use): there is no module-level cache, no hashing and no lock around it. A call that
passes the phantom's own arrays (identity) does no per-call validation, reordering or
ball computation; other arrays are checked against a strided sample of the mesh.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.errors import GeometryError
from skindose.kernel import _numba

__all__ = [
    "OCCLUSION_EPS_MM", "Accel", "accumulate_dose", "first_hit_distance", "prepare",
]  # fmt: skip

#: Hits on the occlusion segment closer than this to the ray origin are ignored (mm).
OCCLUSION_EPS_MM = 1e-3
#: Most triangles per BVH leaf (the BVH serves :func:`first_hit_distance`).
#: Below this many rays :func:`first_hit_distance` runs on one thread (no pool wake-up).
SERIAL_RAYS = 512
LEAF_SIZE = 4
#: Most cells per cluster (the unit of pyramid culling).
CLUSTER_SIZE = 32
#: Events per block: the events of a block run in parallel, then their pairs are summed.
EVENT_BLOCK = 128
#: Visibility-grid bin width, in units of the mean projected box of the in-field triangles.
GRID_DENSITY = 0.5
#: Events handed to a thread at a time within a block (dynamic schedule; no effect on results).
PARALLEL_CHUNK = 2
#: Padding of projected boxes and of the pyramid cull, in tangent units (≈ 0.6 µm at 60 cm).
PROJ_PAD = 1e-9
_SAMPLE_ROWS = 4096
_OCCLUSION_MODES = {"grid": 1, "bvh": 2}

_WORKQUEUE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True, eq=False)
class Accel:
    """Everything the kernels need about one triangle mesh, built once by :func:`prepare`.

    A phantom holds one (:attr:`skindose.phantoms.Phantom.accel`, built on first use). All
    arrays are read-only.

    Attributes
    ----------
    n_triangles
        Number of triangles (= skin cells).
    triangles
        The validated (k, 3, 3) array it was built from (checked by identity on each call).
    sample
        A strided copy of ``triangles`` (at most 4,096 rows): a cheap check that an array
        passed with this structure is the one it was built from.
    node_box, node_link, tri_geom, tri_id
        The BVH (see :mod:`skindose.kernel._numba`), for :func:`first_hit_distance`.
    cell_order, cluster_start
        (k,) and (c + 1,) int64: cluster ``i`` holds cells
        ``cell_order[cluster_start[i]:cluster_start[i + 1]]`` (spatially compact groups of at
        most ``CLUSTER_SIZE`` cells, culled together against each beam's pyramid).
    cluster_ball
        (c, 4) float64 padded bounding balls (x, y, z, r) of each cluster's vertices.
    verts, mt
        (k, 9) float64 in cluster order: the three vertices; ``v0, v1 - v0, v2 - v0``.
    closed
        The mesh is closed (watertight, consistently wound, normals outward): occlusion then
        checks the origins against the non-facing triangles first and needs the exact pass
        only for a few (see the module docstring).
    centroids, normals
        The cell arrays given to :func:`prepare` (or None), recognised by identity.
    centroids_sorted, normals_sorted
        The same in cluster order (or None).
    """

    n_triangles: int
    triangles: NDArray[np.float64]
    sample: NDArray[np.float64]
    node_box: NDArray[np.float64]
    node_link: NDArray[np.int64]
    tri_geom: NDArray[np.float64]
    tri_id: NDArray[np.int64]
    cell_order: NDArray[np.int64]
    cluster_start: NDArray[np.int64]
    cluster_ball: NDArray[np.float64]
    verts: NDArray[np.float64]
    mt: NDArray[np.float64]
    closed: bool = False
    centroids: NDArray[np.float64] | None = None
    normals: NDArray[np.float64] | None = None
    centroids_sorted: NDArray[np.float64] | None = None
    normals_sorted: NDArray[np.float64] | None = None

    def bvh(self) -> tuple[NDArray, ...]:
        """The four BVH arrays in the order the kernels take them."""
        return (self.node_box, self.node_link, self.tri_geom, self.tri_id)


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


def _readonly(a: NDArray) -> NDArray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _sample(tri: NDArray[np.float64]) -> NDArray[np.float64]:
    step = max(1, tri.shape[0] // _SAMPLE_ROWS)
    return _readonly(tri[::step].copy())


def _bvh_arrays(tri: NDArray[np.float64], leaf_size: int = LEAF_SIZE) -> tuple[NDArray, ...]:
    v0 = np.ascontiguousarray(tri[:, 0])
    v1 = np.ascontiguousarray(tri[:, 1])
    v2 = np.ascontiguousarray(tri[:, 2])
    nmin, nmax, nleft, _, nstart, ncount, order = _numba.build_bvh(
        v0, v1, v2, leaf_size, _box_pad(tri))
    # Edges are computed exactly as the reference twin computes them (v1 - v0, v2 - v0).
    e1 = v1 - v0
    e2 = v2 - v0
    return (
        _readonly(np.hstack([nmin, nmax])),
        _readonly(np.stack([nleft, nstart, ncount], axis=1)),
        _readonly(np.hstack([v0[order], e1[order], e2[order]])),
        _readonly(order.astype(np.int64)),
    )


def _box_pad(tri: NDArray[np.float64]) -> float:
    scale = float(np.max(np.abs(tri))) if tri.size else 1.0
    return 1e-9 * (1.0 + scale)


def prepare(
    triangles: ArrayLike,
    centroids: ArrayLike | None = None,
    normals: ArrayLike | None = None,
    *,
    closed: bool = False,
    leaf_size: int = LEAF_SIZE,
) -> Accel:
    """Build the kernel's acceleration structure for a triangle mesh (once per mesh).

    Parameters
    ----------
    triangles
        (k, 3, 3) float64 triangle vertices (mm), e.g. ``phantom.triangles``.
    centroids, normals
        (k, 3) the cell arrays that will be passed to :func:`accumulate_dose` (optional):
        they are stored in cluster order, so calls that pass these very arrays skip the
        per-call validation and reordering.
    closed
        Declare the mesh closed (watertight, consistently wound, ``normals`` outward, no part
        inside another), e.g. a phantom: occlusion then finds its few candidates through the
        non-facing triangles (the same decisions as the BVH, at a fraction of the cost).
        Leave False for open meshes or triangle soups.
    leaf_size
        Most triangles per BVH leaf (tuning only; results do not depend on it).

    Returns
    -------
    Accel
        Reusable by every call of :func:`accumulate_dose` and :func:`first_hit_distance` on
        the same mesh. Nothing is cached here: a phantom keeps its own (``Phantom.accel``).
    """
    tri = _float_array("triangles", triangles, (None, 3, 3))
    if int(leaf_size) < 1:
        msg = f"leaf_size must be at least 1, got {leaf_size!r}"
        raise ValueError(msg)
    k = tri.shape[0]
    node_box, node_link, tri_geom, tri_id = _bvh_arrays(tri, int(leaf_size))
    v0 = np.ascontiguousarray(tri[:, 0])
    v1 = np.ascontiguousarray(tri[:, 1])
    v2 = np.ascontiguousarray(tri[:, 2])
    _, _, cleft, _, cstart, _, corder = _numba.build_bvh(v0, v1, v2, CLUSTER_SIZE, _box_pad(tri))
    cluster_start = np.append(np.sort(cstart[cleft < 0]), k).astype(np.int64)
    verts = tri.reshape(k, 9)[corder]
    mt = np.hstack([v0, v1 - v0, v2 - v0])[corder]
    cen_src = nrm_src = cen_sorted = nrm_sorted = None
    if centroids is not None and normals is not None:
        cen_src, nrm_src = centroids, normals
        cen_sorted = _readonly(_float_array("centroids", centroids, (k, 3))[corder])
        nrm_sorted = _readonly(_float_array("normals", normals, (k, 3))[corder])
    return Accel(
        n_triangles=k, triangles=tri, sample=_sample(tri),
        node_box=node_box, node_link=node_link, tri_geom=tri_geom, tri_id=tri_id,
        cell_order=_readonly(corder.astype(np.int64)), cluster_start=_readonly(cluster_start),
        cluster_ball=_readonly(_cluster_balls(verts, cluster_start)),
        verts=_readonly(verts), mt=_readonly(mt), closed=bool(closed),
        centroids=cen_src, normals=nrm_src,
        centroids_sorted=cen_sorted, normals_sorted=nrm_sorted,
    )  # fmt: skip


def _cluster_balls(verts: NDArray[np.float64], cluster_start: NDArray[np.int64]) -> NDArray:
    """(clusters, 4) float64 padded balls (x, y, z, r) holding every vertex of each cluster."""
    start = cluster_start[:-1]
    counts = np.diff(cluster_start)
    if len(start) == 0:
        return np.zeros((0, 4))
    pts = verts.reshape(-1, 3, 3)
    center = np.add.reduceat(pts.mean(axis=1), start, axis=0) / counts[:, None]
    d2 = np.sum((pts - np.repeat(center, counts, 0)[:, None, :]) ** 2, axis=2).max(axis=1)
    balls = np.empty((len(start), 4))
    balls[:, :3] = center
    # Padding dwarfs the rounding of the ball test, so culling never drops an in-field cell.
    balls[:, 3] = np.sqrt(np.maximum.reduceat(d2, start)) * (1.0 + 1e-9) + 1e-6 * (
        1.0 + float(np.max(np.abs(verts)))
    )
    return balls


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


@contextlib.contextmanager
def _chunksize(parallel: bool):
    """Hand the events of a block to the threads a few at a time (``PARALLEL_CHUNK``).

    Events differ in cost (cells in the field, occluders), so one static half per thread
    leaves one idle; the schedule cannot change the result (each event owns its slice of the
    pair buffer; the pairs are summed in event order). Set from Python (thread-local): a
    jitted call of ``numba.set_parallel_chunksize`` would stop Numba from caching the kernel.
    """
    if not parallel:
        yield
        return
    old = numba.set_parallel_chunksize(PARALLEL_CHUNK)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(old)


def _accel_for(triangles: ArrayLike, accel: Accel | None) -> Accel:
    if accel is None:
        return prepare(triangles)
    if triangles is accel.triangles:
        return accel
    tri = _float_array("triangles", triangles, (None, 3, 3))
    if tri.shape != accel.triangles.shape or not np.array_equal(_sample(tri), accel.sample):
        msg = "accel was prepared from a different triangle array"
        raise GeometryError(msg)
    return accel


def _cells(accel: Accel, centroids: ArrayLike, normals: ArrayLike) -> tuple[NDArray, NDArray]:
    """The cell centroids and normals in cluster order (no work for the prepared arrays)."""
    if (
        accel.centroids_sorted is not None
        and centroids is accel.centroids
        and normals is accel.normals
    ):
        return accel.centroids_sorted, accel.normals_sorted
    n = accel.n_triangles
    c = _float_array("centroids", centroids, (n, 3))
    nrm = _float_array("normals", normals, (n, 3))
    return c[accel.cell_order], nrm[accel.cell_order]


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
    *,
    occlusion_structure: str = "grid",
    beam_event: ArrayLike | None = None,
    event_max_dose: NDArray[np.float64] | None = None,
    beam_chunk: ArrayLike | None = None,
    chunk_psd: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Add the skin dose of every beam to every skin cell (coverage- and occlusion-correct).

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
        (e,) float64 field half-tangents (half-width / distance along w), >= 0.
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
        Test every lit cell for a triangle between it and the focal spot.
    parallel
        Run the events of a block on all Numba threads; the result is bit-identical.
    out
        (n,) float64, C-contiguous; the dose is ADDED into it in place. Zeros if None.
    event_max
        (e,) float64, C-contiguous; filled with each beam's largest cell contribution.
    accel
        From :func:`prepare` on the same triangles (e.g. ``phantom.accel``); built for this
        call when None.
    occlusion_structure
        ``"grid"`` (the per-event grid of ray origins) or ``"bvh"`` (the mesh's BVH): the same
        decisions; ``"bvh"`` exists for tests and benchmarks.
    beam_event
        (e,) int, non-decreasing, >= 0: the event of each beam (an event may have several
        consecutive beams, e.g. a rotational acquisition). The beams of one event are first
        summed per cell (in beam order, from 0), then each cell adds its event sum into
        ``out``: bit for bit what one call per event into a zeroed scratch map followed by
        ``out += scratch`` gives. Default: every beam is its own event.
    event_max_dose
        (n_events,) float64 with ``n_events > beam_event.max()``: entry ``g`` of every event
        that has beams is SET to the event's maximum dose (the largest over cells of the
        event's per-cell sum, at least 0); other entries are left as they are.
    beam_chunk
        (e,) int, non-decreasing, ``0 <= beam_chunk < len(chunk_psd)``, constant within an
        event: the timeline chunk of each beam. Needs ``chunk_psd``.
    chunk_psd
        (n_chunks,) float64: entry k is SET to the largest cell of ``out`` once every beam of
        chunks <= k has been added (the PSD timeline; a chunk without beams repeats the
        previous value, entries before the first beam's chunk get ``out``'s initial maximum).
        Equal to ``out.max()`` after a call per chunk; one call does it all.

    Returns
    -------
    numpy.ndarray
        ``out``: (n,) float64 dose per cell, Gy.
    """
    acc = _accel_for(triangles, accel)
    n = acc.n_triangles
    c_sorted, n_sorted = _cells(acc, centroids, normals)
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
    if np.any(scal[0] < 0.0) or np.any(scal[1] < 0.0):
        msg = "tan_u and tan_v must be non-negative"
        raise GeometryError(msg)
    if np.any(scal[2] < 0.0):
        msg = "kerma must be non-negative"
        raise ValueError(msg)
    thickness = 2.0 * float(half[2])
    if np.any(scal[4] != 0.0) and not thickness > 0.0:
        msg = "the slab must have a positive thickness (slab_half[2] > 0) to attenuate"
        raise GeometryError(msg)
    if occlusion_structure not in _OCCLUSION_MODES:
        msg = f"occlusion_structure must be 'grid' or 'bvh', got {occlusion_structure!r}"
        raise ValueError(msg)
    out = _out_array("out", out, n)
    emax = np.zeros(n_ev) if event_max is None else _out_array("event_max", event_max, n_ev)
    bev, ev_out, bch, ch_out = _event_and_chunk_args(
        n_ev, beam_event, event_max_dose, beam_chunk, chunk_psd)
    multi = n_ev > 1 and bool(np.any(bev[1:] == bev[:-1]))
    state = np.zeros(2, dtype=np.int64)
    peak = np.array([float(out.max()) if n and ch_out.size else 0.0])
    if n == 0 or n_ev == 0:
        emax[:] = 0.0
        if ev_out.size:
            ev_out[bev] = 0.0
        ch_out[:] = peak[0]
        return out

    ev = np.empty((n_ev, 17))
    ev[:, 0:3] = src
    ev[:, 3:6] = vecs[0]
    ev[:, 6:9] = vecs[1]
    ev[:, 9:12] = vecs[2]
    for col, a in enumerate(scal, start=12):
        ev[:, col] = a
    mode = _OCCLUSION_MODES[occlusion_structure] if occlusion else 0
    kernel = _numba.accumulate_parallel if parallel else _numba.accumulate_serial
    slab = np.vstack([center, axes, half])
    with _parallel_guard() if parallel else contextlib.nullcontext(), _chunksize(parallel):
        kernel(
            c_sorted, n_sorted, acc.verts, acc.mt, ev, slab,
            thickness if thickness > 0.0 else 1.0, mpf, bool(inverse_square), mode,
            acc.closed, OCCLUSION_EPS_MM, PROJ_PAD, GRID_DENSITY, EVENT_BLOCK,
            *acc.bvh(), acc.cell_order, acc.cluster_start, acc.cluster_ball, out, emax,
            bev, bch, ev_out, ch_out, np.zeros(n if multi else 0),
            np.empty(n if multi else 0, dtype=np.int64), state, peak, _leaders(ev),
        )  # fmt: skip
    return out


def _leaders(ev: NDArray[np.float64]) -> NDArray[np.int64]:
    """Per event, the first event of its run of identical geometry within its event block.

    Geometry is the focal spot, the axes and the field (columns 0–13 of the event rows);
    an event whose geometry equals its predecessor's gets its lit cells, fractions and
    distances from the run's first event of the same block (only kerma, srp and ln T0
    differ): the same bits, without a second cull, projection and occlusion pass.
    """
    n_ev = ev.shape[0]
    idx = np.arange(n_ev, dtype=np.int64)
    start = np.ones(n_ev, dtype=bool)
    if n_ev > 1:
        start[1:] = ~np.all(ev[1:, :14] == ev[:-1, :14], axis=1)
    start[idx % EVENT_BLOCK == 0] = True
    return np.maximum.accumulate(np.where(start, idx, 0))


def _index_array(name: str, x: ArrayLike, n: int) -> NDArray[np.int64]:
    a = np.asarray(x)
    if a.dtype.kind not in "iu" or a.shape != (n,):
        msg = f"{name} must be an integer array of shape ({n},)"
        raise GeometryError(msg)
    a = np.ascontiguousarray(a, dtype=np.int64)
    if n and (a[0] < 0 or np.any(a[1:] < a[:-1])):
        msg = f"{name} must be non-decreasing and >= 0"
        raise ValueError(msg)
    return a


def _event_and_chunk_args(
    n_ev: int,
    beam_event: ArrayLike | None,
    event_max_dose: NDArray | None,
    beam_chunk: ArrayLike | None,
    chunk_psd: NDArray | None,
) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Validated (beam_event, event output, beam_chunk, chunk output); size-0 when unused."""
    if beam_event is None:
        bev = np.arange(n_ev, dtype=np.int64)
    else:
        bev = _index_array("beam_event", beam_event, n_ev)
    ev_out = np.zeros(0)
    if event_max_dose is not None:
        need = int(bev[-1]) + 1 if n_ev else 0
        if not isinstance(event_max_dose, np.ndarray) or event_max_dose.ndim != 1:
            msg = "event_max_dose must be a one-dimensional float64 array"
            raise GeometryError(msg)
        ev_out = _out_array("event_max_dose", event_max_dose, event_max_dose.shape[0])
        if ev_out.shape[0] < need:
            msg = f"event_max_dose needs at least {need} entries (beam_event.max() + 1)"
            raise GeometryError(msg)
    if (beam_chunk is None) != (chunk_psd is None):
        msg = "beam_chunk and chunk_psd go together"
        raise ValueError(msg)
    bch = np.zeros(n_ev, dtype=np.int64)
    ch_out = np.zeros(0)
    if chunk_psd is not None:
        if not isinstance(chunk_psd, np.ndarray) or chunk_psd.ndim != 1 or not chunk_psd.size:
            msg = "chunk_psd must be a non-empty one-dimensional float64 array"
            raise GeometryError(msg)
        ch_out = _out_array("chunk_psd", chunk_psd, chunk_psd.shape[0])
        bch = _index_array("beam_chunk", beam_chunk, n_ev)
        if n_ev and bch[-1] >= ch_out.shape[0]:
            msg = f"beam_chunk must be < len(chunk_psd) = {ch_out.shape[0]}"
            raise ValueError(msg)
        same = bev[1:] == bev[:-1]
        if np.any(bch[1:][same] != bch[:-1][same]):
            msg = "the beams of one event must lie in one chunk (beam_chunk)"
            raise ValueError(msg)
    return bev, ev_out, bch, ch_out


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
        From :func:`prepare` on the same triangles (e.g. ``phantom.accel``); when None a BVH
        is built for this call.

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
    if accel is None:
        tri = _float_array("triangles", triangles, (None, 3, 3))
        k = tri.shape[0]
        arrays = _bvh_arrays(tri) if k else ()
    else:
        k = _accel_for(triangles, accel).n_triangles
        arrays = accel.bvh()
    t = np.full(o.shape[0], np.inf)
    idx = np.full(o.shape[0], -1, dtype=np.int64)
    if o.shape[0] == 0 or k == 0:
        return t, idx
    with _parallel_guard():
        hit = _numba.first_hit if o.shape[0] >= SERIAL_RAYS else _numba.first_hit_serial
        hit(o, d, *arrays, t, idx)
    return t, idx
