"""Mesh helpers for the phantoms: conforming refinement, closed-form solids, cell arrays.

The closed-form solids are tessellated near-isotropically (staggered rings, near-square
columns, triangular-lattice caps, box grids), so that skin cells are not slivers.

Everything here works on plain ``(n, 3) float64`` vertex and ``(m, 3) int64`` face arrays, so it
needs neither trimesh's optional dependencies nor a boolean engine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skindose.errors import GeometryError

__all__ = [
    "box_grid",
    "cell_arrays",
    "disk_cap",
    "ellipse_ring",
    "loft",
    "refine_to_area",
    "ring_stack",
    "triangle_areas",
    "triangle_aspect",
    "zip_rings",
]


def triangle_areas(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float64]:
    """Area of each triangle, (m,) float64 in the squared unit of ``vertices``."""
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return 0.5 * np.sqrt(np.einsum("ij,ij->i", cross, cross))


def refine_to_area(
    vertices: NDArray[np.float64],
    faces: NDArray[np.int64],
    max_area: float,
    *,
    max_iter: int = 200,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Split triangles until none is larger than ``max_area``, keeping the mesh conforming.

    Longest-edge bisection (Rivara): every triangle larger than ``max_area`` has its longest
    edge marked; any triangle with a marked edge also gets its own longest edge marked (the
    closure), and then every marked edge is cut once at its midpoint, shared by both of its
    triangles. Triangles keep their winding, new vertices lie on the old facets (the shape does
    not change at all) and a watertight input stays watertight. Angles stay bounded away from 0.

    Parameters
    ----------
    vertices
        (n, 3) float64 vertex coordinates.
    faces
        (m, 3) int vertex indices.
    max_area
        Largest allowed triangle area, in the squared unit of ``vertices``.
    max_iter
        Safety bound on the number of bisection rounds.

    Returns
    -------
    vertices, faces
        The refined (n', 3) float64 vertices (the originals first, unchanged) and (m', 3) int64
        faces.
    """
    if not max_area > 0:
        raise GeometryError(f"max_area must be positive, got {max_area!r}")
    v = np.ascontiguousarray(vertices, dtype=np.float64)
    f = np.ascontiguousarray(faces, dtype=np.int64)
    for _ in range(max_iter):
        bad = triangle_areas(v, f) > max_area
        if not bad.any():
            return v, f
        n_v = len(v)
        # edge k of face i joins f[i, k] and f[i, (k + 1) % 3]
        ends = np.stack([f, np.roll(f, -1, axis=1)], axis=2)  # (m, 3, 2)
        lo = ends.min(axis=2)
        hi = ends.max(axis=2)
        keys = lo * n_v + hi
        uniq, inv = np.unique(keys.ravel(), return_inverse=True)
        inv = inv.reshape(-1, 3)
        e0 = uniq // n_v
        e1 = uniq % n_v
        d = v[e0] - v[e1]
        elen = np.sqrt(np.einsum("ij,ij->i", d, d))
        longest = np.argmax(elen[inv], axis=1)
        rows = np.arange(len(f))
        marked = np.zeros(len(uniq), dtype=bool)
        marked[inv[bad, longest[bad]]] = True
        while True:  # closure: a face with any marked edge has its longest edge marked
            need = marked[inv].any(axis=1) & ~marked[inv[rows, longest]]
            if not need.any():
                break
            marked[inv[need, longest[need]]] = True
        cut = np.flatnonzero(marked)
        mid = np.full(len(uniq), -1, dtype=np.int64)
        mid[cut] = n_v + np.arange(len(cut))
        v = np.concatenate([v, 0.5 * (v[e0[cut]] + v[e1[cut]])])

        split = marked[inv].any(axis=1)
        keep = f[~split]
        fs = f[split]
        roll = (longest[split][:, None] + np.arange(3)) % 3
        a, b, c = np.take_along_axis(fs, roll, axis=1).T
        m0, m1, m2 = mid[np.take_along_axis(inv[split], roll, axis=1)].T
        s1 = m1 >= 0
        s2 = m2 >= 0
        f = np.concatenate(
            [
                keep,
                np.stack([a, m0, c], axis=1)[~s2],
                np.stack([a, m0, m2], axis=1)[s2],
                np.stack([m2, m0, c], axis=1)[s2],
                np.stack([m0, b, c], axis=1)[~s1],
                np.stack([m0, b, m1], axis=1)[s1],
                np.stack([m0, m1, c], axis=1)[s1],
            ]
        )
    raise GeometryError(f"refinement to {max_area} did not converge in {max_iter} rounds")


def ellipse_ring(
    semi_x: float,
    semi_y: float,
    n: int,
    *,
    center: tuple[float, float] = (0.0, 0.0),
    z: float = 0.0,
    phase: float = 0.0,
) -> NDArray[np.float64]:
    """``n`` points on an ellipse, equally spaced in arc length, counter-clockwise from +x.

    Parameters
    ----------
    semi_x, semi_y
        Semi-axes along x and y.
    n
        Number of points; a multiple of 4 puts points on both axes.
    center
        (x, y) of the centre.
    z
        Height of the ring.
    phase
        Shift of every point along the ellipse, as a fraction of the spacing (0.5 staggers a
        ring against its neighbours).

    Returns
    -------
    (n, 3) float64
    """
    t_fine = np.linspace(0.0, 2.0 * np.pi, 8192 + 1)
    speed = np.hypot(semi_x * np.sin(t_fine), semi_y * np.cos(t_fine))
    s = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(t_fine))])
    targets = (np.arange(n) + phase) * s[-1] / n
    t = np.interp(targets, s, t_fine)
    return np.column_stack(
        [
            center[0] + semi_x * np.cos(t),
            center[1] + semi_y * np.sin(t),
            np.full(n, float(z)),
        ]
    )


def loft(rings: list[NDArray[np.float64]]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Close a stack of rings (same point count, same sense) into a solid with flat end caps.

    Consecutive rings are joined by quads (two triangles each) and each end ring is closed by a
    fan from its centroid. The winding is made outward (positive signed volume).

    Parameters
    ----------
    rings
        Sequence of (k, 3) float64 rings, ordered along the solid.

    Returns
    -------
    vertices, faces
        (n, 3) float64 and (m, 3) int64.
    """
    k = len(rings[0])
    n_r = len(rings)
    verts = [np.asarray(r, dtype=np.float64) for r in rings]
    verts.append(np.asarray(rings[0], dtype=np.float64).mean(axis=0, keepdims=True))
    verts.append(np.asarray(rings[-1], dtype=np.float64).mean(axis=0, keepdims=True))
    v = np.concatenate(verts)
    c0 = n_r * k
    c1 = c0 + 1
    j = np.arange(k)
    jn = (j + 1) % k
    faces = []
    for r in range(n_r - 1):
        a = r * k + j
        b = r * k + jn
        c = (r + 1) * k + jn
        d = (r + 1) * k + j
        faces.append(np.stack([a, b, c], axis=1))
        faces.append(np.stack([a, c, d], axis=1))
    faces.append(np.stack([np.full(k, c0), jn, j], axis=1))
    last = (n_r - 1) * k
    faces.append(np.stack([np.full(k, c1), last + j, last + jn], axis=1))
    f = np.concatenate(faces).astype(np.int64)
    if signed_volume(v, f) < 0:
        f = f[:, ::-1].copy()
    return v, f


def signed_volume(vertices: NDArray[np.float64], faces: NDArray[np.int64]) -> float:
    """Signed volume enclosed by a closed triangle mesh (positive when wound outward)."""
    tri = vertices[faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def cell_arrays(
    vertices: NDArray[np.float64], faces: NDArray[np.int64]
) -> dict[str, NDArray[np.float64]]:
    """Skin-cell arrays of a mesh: one cell per triangle.

    Returns
    -------
    dict
        ``triangles`` (m, 3, 3), ``centroids`` (m, 3), ``normals`` (m, 3) unit, from the
        winding, and ``areas_mm2`` (m,), all float64 and C-contiguous.
    """
    tri = np.ascontiguousarray(vertices[faces], dtype=np.float64)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.sqrt(np.einsum("ij,ij->i", cross, cross))
    if np.any(norm <= 0):
        raise GeometryError(f"{int(np.sum(norm <= 0))} degenerate (zero-area) triangles")
    return {
        "triangles": tri,
        "centroids": np.ascontiguousarray(tri.mean(axis=1)),
        "normals": np.ascontiguousarray(cross / norm[:, None]),
        "areas_mm2": 0.5 * norm,
    }


# -- isotropic tessellation -----------------------------------------------------------------------
def zip_rings(
    lower: NDArray[np.float64], upper: NDArray[np.float64], offset: int = 0, offset_up: int = 0
) -> NDArray[np.int64]:
    """Triangulate the band between two closed rings (any point counts) with short diagonals.

    Both rings run counter-clockwise seen from the ``upper`` side; a ring of one point is a pole
    (a fan). Starting at the ``upper`` point nearest to ``lower[0]``, the band advances on the
    ring whose next diagonal is shorter, so near-equilateral triangles result when the rings
    are staggered by half a spacing. Triangles are wound so that their normals point away from
    the axis (outward for a convex stack ordered from ``lower`` to ``upper``).

    Parameters
    ----------
    lower, upper
        (n, 3) and (m, 3) ring points.
    offset, offset_up
        Vertex index of the first point of each ring in the final vertex array.

    Returns
    -------
    (n + m, 3) int64 faces; a fan (n or m faces) when one ring is a pole.
    """
    n, m = len(lower), len(upper)
    if n == 1 or m == 1:
        if n == 1:
            j = np.arange(m)
            return np.stack([np.full(m, offset), offset_up + (j + 1) % m, offset_up + j], axis=1)
        i = np.arange(n)
        return np.stack([offset + i, offset + (i + 1) % n, np.full(n, offset_up)], axis=1)
    j0 = int(np.argmin(np.einsum("ij,ij->i", upper - lower[0], upper - lower[0])))
    if n == m:  # quads (a_i, a_i+1, b_i+1, b_i), each cut along its shorter diagonal
        i = np.arange(n)
        a, a1 = offset + i, offset + (i + 1) % n
        jb, jb1 = (j0 + i) % m, (j0 + i + 1) % m
        b, b1 = offset_up + jb, offset_up + jb1
        d1 = upper[jb] - lower[(i + 1) % n]
        d2 = upper[jb1] - lower[i]
        short1 = np.einsum("ij,ij->i", d1, d1) <= np.einsum("ij,ij->i", d2, d2)
        t1 = np.where(short1[:, None], np.stack([a, a1, b], 1), np.stack([a, a1, b1], 1))
        t2 = np.where(short1[:, None], np.stack([a1, b1, b], 1), np.stack([a, b1, b], 1))
        return np.concatenate([t1, t2])
    out = np.empty((n + m, 3), dtype=np.int64)
    i = j = 0
    for k in range(n + m):
        a, a1 = i % n, (i + 1) % n
        b, b1 = (j0 + j) % m, (j0 + j + 1) % m
        if j >= m or (i < n and _d2(lower[a1], upper[b]) <= _d2(lower[a], upper[b1])):
            out[k] = (offset + a, offset + a1, offset_up + b)
            i += 1
        else:
            out[k] = (offset + a, offset_up + b1, offset_up + b)
            j += 1
    return out


def _d2(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    d = p - q
    return float(d @ d)


def hex_points(lo: NDArray[np.float64], hi: NDArray[np.float64], h: float) -> NDArray[np.float64]:
    """Points of a triangular lattice of spacing ``h`` covering the 2-D box [lo, hi]."""
    dy = h * np.sqrt(3.0) / 2.0
    ny = int(np.ceil((hi[1] - lo[1]) / dy)) + 1
    nx = int(np.ceil((hi[0] - lo[0]) / h)) + 2
    jj, ii = np.mgrid[0:ny, 0:nx]
    x = lo[0] - h + ii * h + 0.5 * h * (jj % 2)
    y = lo[1] + jj * dy
    return np.column_stack([x.ravel(), y.ravel()])


def disk_cap(
    ring2d: NDArray[np.float64], h: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Triangulate a convex polygon (counter-clockwise, (n, 2)) with interior lattice points.

    A triangular lattice of spacing ``h`` fills the inside (points closer than 0.6 h to the
    boundary dropped) and the Delaunay triangulation of boundary + lattice points covers the
    polygon; its boundary edges are exactly the polygon's edges.

    Returns
    -------
    interior, faces
        (k, 2) float64 added points; (t, 3) int64 faces indexing ``[ring2d; interior]``, wound
        counter-clockwise (normal towards the viewer).
    """
    from scipy.spatial import Delaunay, cKDTree

    ring2d = np.asarray(ring2d, dtype=np.float64)
    pts = hex_points(ring2d.min(axis=0), ring2d.max(axis=0), h)
    # inside the convex polygon: left of every edge, with margin
    e = np.roll(ring2d, -1, axis=0) - ring2d
    nrm = np.column_stack([-e[:, 1], e[:, 0]]) / np.linalg.norm(e, axis=1)[:, None]
    dist = np.einsum("kij,ij->ki", pts[:, None, :] - ring2d[None], nrm).min(axis=1)
    pts = pts[dist > 0.3 * h]
    if len(pts):
        near, _ = cKDTree(ring2d).query(pts)
        pts = pts[near > 0.6 * h]
    allp = np.concatenate([ring2d, pts])
    tri = Delaunay(allp).simplices.astype(np.int64)
    p = allp[tri]
    cross = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (
        p[:, 2, 0] - p[:, 0, 0]
    )
    tri[cross < 0] = tri[cross < 0][:, ::-1]
    if not np.all(np.abs(cross) > 1e-9 * h * h):
        raise GeometryError("degenerate cap triangulation")
    return pts, tri


def triangle_aspect(triangles: NDArray[np.float64]) -> NDArray[np.float64]:
    """Aspect ratio of each triangle: longest edge / (2 sqrt(3) inradius); 1 for equilateral."""
    t = np.asarray(triangles, dtype=np.float64)
    a = np.linalg.norm(t[:, 1] - t[:, 2], axis=1)
    b = np.linalg.norm(t[:, 2] - t[:, 0], axis=1)
    c = np.linalg.norm(t[:, 0] - t[:, 1], axis=1)
    s = 0.5 * (a + b + c)
    cross = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    area = 0.5 * np.sqrt(np.einsum("ij,ij->i", cross, cross))
    with np.errstate(divide="ignore"):
        return np.maximum(np.maximum(a, b), c) * s / (2.0 * np.sqrt(3.0) * area)


def ring_stack(
    rings: list[NDArray[np.float64]], cap_spacing: tuple[float | None, float | None] = (None, None)
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """A closed surface through a stack of rings, with flat lattice caps on open ends.

    Each ring runs counter-clockwise seen from the next one (right-hand rule along the stack);
    consecutive rings are joined by :func:`zip_rings`. An end ring of one point is a pole; an
    end ring of several points is closed by a flat cap (:func:`disk_cap`, lattice spacing from
    ``cap_spacing``, default the ring's mean edge length).

    Returns
    -------
    vertices, faces
        (n, 3) float64 and (m, 3) int64, wound outward.
    """
    rings = [np.asarray(r, dtype=np.float64).reshape(-1, 3) for r in rings]
    starts = np.cumsum([0] + [len(r) for r in rings])
    verts = list(rings)
    faces = [
        zip_rings(rings[k], rings[k + 1], int(starts[k]), int(starts[k + 1]))
        for k in range(len(rings) - 1)
    ]
    n_v = int(starts[-1])
    for end, (k, spacing) in enumerate(zip((0, len(rings) - 1), cap_spacing, strict=True)):
        ring = rings[k]
        if len(ring) == 1:
            continue
        centre = ring.mean(axis=0)
        normal = np.cross(ring - centre, np.roll(ring, -1, axis=0) - centre).sum(axis=0)
        normal /= np.linalg.norm(normal)
        u = ring[0] - centre
        u -= (u @ normal) * normal
        u /= np.linalg.norm(u)
        w = np.cross(normal, u)
        ring2d = np.column_stack([(ring - centre) @ u, (ring - centre) @ w])
        if spacing is None:
            spacing = float(np.linalg.norm(np.diff(ring2d, axis=0), axis=1).mean())
        inner, tri = disk_cap(ring2d, spacing)
        idx = np.concatenate([starts[k] + np.arange(len(ring)), n_v + np.arange(len(inner))])
        tri = idx[tri]
        faces.append(tri[:, ::-1] if end == 0 else tri)
        plane_z = float((ring - centre).mean(axis=0) @ normal)
        verts.append(centre + plane_z * normal + inner[:, :1] * u + inner[:, 1:] * w)
        n_v += len(inner)
    v = np.concatenate(verts)
    f = np.concatenate(faces)
    if signed_volume(v, f) < 0:
        f = f[:, ::-1].copy()
    return v, f


def box_grid(
    lo: NDArray[np.float64], hi: NDArray[np.float64], divisions: tuple[int, int, int]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Surface of an axis-aligned box on a regular lattice: each face cut into n_p x n_q
    rectangles, each rectangle into two triangles (diagonals alternating like a chequerboard),
    conforming along the box's edges.

    Returns
    -------
    vertices, faces
        (n, 3) float64 and (m, 3) int64, wound outward.
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    div = np.asarray(divisions, dtype=np.int64)
    if np.any(div < 1):
        raise GeometryError(f"box divisions must be >= 1, got {tuple(div)}")
    faces = []
    for d in range(3):
        p, q = (d + 1) % 3, (d + 2) % 3  # (p, q, d) is a right-handed frame
        jq, jp = np.mgrid[0 : div[q], 0 : div[p]]
        jp, jq = jp.ravel(), jq.ravel()
        for side in (0, div[d]):

            def node(a, b, side=side, p=p, q=q, d=d):
                idx = np.zeros((len(a), 3), dtype=np.int64)
                idx[:, p], idx[:, q], idx[:, d] = a, b, side
                return (idx[:, 0] * (div[1] + 1) + idx[:, 1]) * (div[2] + 1) + idx[:, 2]

            n00, n10 = node(jp, jq), node(jp + 1, jq)
            n11, n01 = node(jp + 1, jq + 1), node(jp, jq + 1)
            flip = (jp + jq) % 2 == 1
            t1 = np.where(flip[:, None], np.stack([n00, n10, n01], 1), np.stack([n00, n10, n11], 1))
            t2 = np.where(flip[:, None], np.stack([n10, n11, n01], 1), np.stack([n00, n11, n01], 1))
            tri = np.concatenate([t1, t2])  # normal +d
            faces.append(tri if side else tri[:, ::-1])
    allf = np.concatenate(faces)
    keys, inv = np.unique(allf.ravel(), return_inverse=True)
    k = keys % (div[2] + 1)
    j = (keys // (div[2] + 1)) % (div[1] + 1)
    i = keys // ((div[2] + 1) * (div[1] + 1))
    frac = np.column_stack([i, j, k]) / div
    v = lo + frac * (hi - lo)
    return v, inv.reshape(-1, 3).astype(np.int64)


def zip_columns(
    za: NDArray[np.float64], zb: NDArray[np.float64], ia: NDArray[np.int64], ib: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Triangulate the strip between two open columns of points sorted by height ``za``/``zb``
    (vertex indices ``ia``/``ib``; both columns share their first and last heights): the strip
    advances on whichever column's next point is lower. Wound (a', a, b) / (b', a, b), i.e.
    outward when column b lies counter-clockwise of column a seen from +z."""
    ja = np.searchsorted(zb[1:], za[1:], side="left")  # b index when a advances to i + 1
    jb = np.searchsorted(za[1:], zb[1:], side="right")  # a index when b advances to j + 1
    i = np.arange(len(za) - 1)
    j = np.arange(len(zb) - 1)
    t1 = np.stack([ia[i + 1], ia[i], ib[ja]], axis=1)
    t2 = np.stack([ib[j + 1], ia[jb], ib[j]], axis=1)
    return np.concatenate([t1, t2])


def ellipse_points(
    a: float, b: float, size, *, quarter_symmetric: bool = True
) -> NDArray[np.float64]:
    """Angles t of points on the ellipse (a cos t, b sin t), counter-clockwise from +x, spaced
    so that the arc between neighbours is about ``size(R)`` where R is the local radius of
    curvature (``size`` maps an array of radii to lengths). Points on both axes; the four
    quadrants mirror each other.
    """
    t = np.linspace(0.0, 0.5 * np.pi, 2049)
    speed = np.hypot(a * np.sin(t), b * np.cos(t))
    radius = speed**3 / (a * b)
    dens = speed / np.asarray(size(radius), dtype=np.float64)  # segments per radian
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(t))])
    n_q = max(2, int(np.ceil(cum[-1])))
    tq = np.interp(np.linspace(0.0, cum[-1], n_q + 1), cum, t)[:-1]
    q2 = np.pi - tq[::-1][:-1]
    half = np.concatenate([tq, [0.5 * np.pi], q2])
    return np.concatenate([half, np.pi + half])


def elliptic_cylinder(
    a: float,
    b: float,
    center: tuple[float, float],
    z_range: tuple[float, float],
    size,
    cap_size: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Closed elliptic cylinder along z, graded by curvature, with flat lattice caps.

    The wall is cut into columns around the ellipse (spacing ``size(R)`` for the local radius
    of curvature R, see :func:`ellipse_points`); each column is split along z at the same
    spacing, so the cells are near-square (two right triangles per quad); neighbouring columns
    of different spacing are joined by :func:`zip_columns`. The caps are
    :func:`disk_cap` lattices of spacing ``cap_size`` (at most twice the rim spacing).

    Returns
    -------
    vertices, faces
        (n, 3) float64, (m, 3) int64, wound outward.
    """
    z0, z1 = float(z_range[0]), float(z_range[1])
    t = ellipse_points(a, b, size)
    ring = np.column_stack([center[0] + a * np.cos(t), center[1] + b * np.sin(t)])
    n = len(t)
    chord = np.linalg.norm(np.roll(ring, -1, axis=0) - ring, axis=1)
    local = 0.5 * (chord + np.roll(chord, 1))  # mean of the two neighbouring chords
    m = np.maximum(1, np.ceil((z1 - z0) / local).astype(np.int64))
    cols_z = [np.linspace(z0, z1, k + 1) for k in m]
    starts = np.concatenate([[0], np.cumsum(m + 1)])
    v = np.concatenate(
        [np.column_stack([np.repeat(ring[i : i + 1], len(z), 0), z]) for i, z in enumerate(cols_z)]
    )
    faces = [
        zip_columns(
            cols_z[i],
            cols_z[(i + 1) % n],
            starts[i] + np.arange(m[i] + 1),
            starts[(i + 1) % n] + np.arange(m[(i + 1) % n] + 1),
        )
        for i in range(n)
    ]
    bottom = starts[:-1]
    top = starts[1:] - 1
    extra = []
    n_v = len(v)
    for idx, z, up in ((bottom, z0, False), (top, z1, True)):
        spacing = float(min(cap_size, 2.0 * np.median(chord)))
        inner, tri = disk_cap(ring, spacing)
        ids = np.concatenate([idx, n_v + np.arange(len(inner))])
        tri = ids[tri]
        faces.append(tri if up else tri[:, ::-1])
        extra.append(np.column_stack([inner, np.full(len(inner), z)]))
        n_v += len(inner)
    v = np.concatenate([v, *extra])
    f = np.concatenate(faces)
    if signed_volume(v, f) < 0:  # the columns run clockwise when a, b give a mirrored frame
        f = f[:, ::-1].copy()
    return v, f


def snap_float32(
    vertices: NDArray[np.float64], axis_xy: tuple[float, float]
) -> NDArray[np.float64]:
    """Round coordinates to float32 values, x and y towards the axis (``axis_xy``), z nearest.

    The mesh then survives a float32 export (STL, PLY) unchanged, and points of a convex
    cross-section never move outside it.
    """
    v = np.asarray(vertices, dtype=np.float64)
    out = v.astype(np.float32)
    for k in (0, 1):
        c = np.float32(axis_xy[k])
        away = np.abs(out[:, k].astype(np.float64) - axis_xy[k]) > np.abs(v[:, k] - axis_xy[k])
        out[away, k] = np.nextafter(out[away, k], c)
    return out.astype(np.float64)
