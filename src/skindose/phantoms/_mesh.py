"""Mesh helpers for the phantoms: conforming refinement, closed-form solids, cell arrays.

Everything here works on plain ``(n, 3) float64`` vertex and ``(m, 3) int64`` face arrays, so it
needs neither trimesh's optional dependencies nor a boolean engine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skindose.errors import GeometryError

__all__ = [
    "cell_arrays",
    "ellipse_ring",
    "loft",
    "refine_to_area",
    "triangle_areas",
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

    Returns
    -------
    (n, 3) float64
    """
    t_fine = np.linspace(0.0, 2.0 * np.pi, 8192 + 1)
    speed = np.hypot(semi_x * np.sin(t_fine), semi_y * np.cos(t_fine))
    s = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(t_fine))])
    targets = np.arange(n) * s[-1] / n
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
