"""Brute-force ray–triangle distances (Möller–Trumbore) shared by the test suites."""

from __future__ import annotations

import numpy as np


def ray_triangle_t(triangles: np.ndarray, origin, direction) -> np.ndarray:
    """(n,) distance along the ray to each triangle, +inf where the ray misses it."""
    o = np.asarray(origin, dtype=float)
    d = np.asarray(direction, dtype=float)
    v0, v1, v2 = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    e1, e2 = v1 - v0, v2 - v0
    pv = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, pv)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    tv = o - v0
    u = np.einsum("ij,ij->i", tv, pv) * inv
    qv = np.cross(tv, e1)
    v = (qv @ d) * inv
    t = np.einsum("ij,ij->i", e2, qv) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    return np.where(hit, t, np.inf)
