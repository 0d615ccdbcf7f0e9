"""Small random scenes (meshes, beams, slab) for the kernel tests and the benchmark."""

from __future__ import annotations

import os

import numpy as np
import pytest
import trimesh

#: Skip a test under ``NUMBA_DISABLE_JIT=1`` (the kernel then runs as plain Python): the
#: large scenes take minutes there; the small ones still exercise every line of the kernel.
needs_jit = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") == "1",
                               reason="large scene: too slow without the JIT")


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A random proper rotation matrix (3, 3)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def transformed(mesh: trimesh.Trimesh, rot: np.ndarray, shift) -> trimesh.Trimesh:
    """Copy of ``mesh`` rotated by ``rot`` then shifted."""
    m = mesh.copy()
    t = np.eye(4)
    t[:3, :3] = rot
    t[:3, 3] = shift
    m.apply_transform(t)
    return m


def scene_mesh(name: str, rng: np.random.Generator) -> trimesh.Trimesh:
    """One of the named test scenes, randomly rotated about the origin (about 200 mm wide)."""
    if name == "two_spheres":
        a = transformed(trimesh.creation.icosphere(2, 40.0), random_rotation(rng), (0, 0, 0))
        b = transformed(
            trimesh.creation.icosphere(2, 28.0),
            random_rotation(rng),
            np.array([25.0, -75.0, 5.0]) + rng.normal(0, 10, 3),
        )
        mesh = trimesh.util.concatenate([a, b])
    elif name == "box_shadow":
        a = trimesh.creation.box((80, 80, 80)).subdivide().subdivide()
        b = transformed(
            trimesh.creation.box((40, 30, 40)).subdivide().subdivide(),
            np.eye(3),
            (10, -90, 5),
        )
        mesh = trimesh.util.concatenate([a, b])
    elif name == "torus":
        mesh = trimesh.creation.torus(60.0, 22.0, major_sections=24, minor_sections=12)
    elif name == "soup":
        k = 160
        centers = rng.uniform(-70, 70, size=(k, 1, 3))
        tri = centers + rng.normal(0, 12, size=(k, 3, 3))
        mesh = trimesh.Trimesh(
            vertices=tri.reshape(-1, 3), faces=np.arange(3 * k).reshape(k, 3), process=False
        )
    else:  # pragma: no cover
        raise ValueError(name)
    return transformed(mesh, random_rotation(rng), (0, 0, 0))


def cells(mesh: trimesh.Trimesh):
    """Triangles (n, 3, 3), centroids (n, 3) and unit normals (n, 3) of a mesh."""
    tri = np.ascontiguousarray(mesh.triangles, dtype=np.float64)
    cen = tri.mean(axis=1)
    nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return tri, cen, nrm


def random_beams(
    rng: np.random.Generator,
    n: int,
    target=(0.0, 0.0, 0.0),
    distance=(500.0, 700.0),
    half_field=(60.0, 140.0),
    aim_jitter=30.0,
):
    """Random beams aimed near ``target``: dict of the kernel's per-beam arrays.

    Sources lie at ``distance`` (mm) from the target; half-fields are measured at the target.
    """
    w = rng.normal(size=(n, 3))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    tmp = rng.normal(size=(n, 3))
    u = np.cross(w, tmp)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(w, u)
    dist = rng.uniform(*distance, size=n)
    aim = np.asarray(target) + rng.normal(0, aim_jitter, size=(n, 3))
    source = aim - dist[:, None] * w
    return {
        "source": source,
        "u": u,
        "v": v,
        "w": w,
        "tan_u": rng.uniform(*half_field, size=n) / dist,
        "tan_v": rng.uniform(*half_field, size=n) / dist,
        "kerma": rng.uniform(1e-3, 1.0, size=n),
        "srp_mm": dist * rng.uniform(0.8, 1.0, size=n),
    }


def random_slab(rng: np.random.Generator, n_beams: int, offset=110.0):
    """A table+mattress slab beside the scene (random orientation) and per-beam ln T0."""
    rot = random_rotation(rng)
    axes = rot.T.copy()  # rows are unit axes
    center = offset * axes[2]
    half = np.array([400.0, 300.0, rng.uniform(10.0, 40.0)])
    log_t0 = np.where(rng.random(n_beams) < 0.2, 0.0, np.log(rng.uniform(0.5, 0.95, n_beams)))
    return {
        "slab_log_t0": log_t0,
        "slab_center": center,
        "slab_axes": axes,
        "slab_half": half,
        "max_path_factor": 1.0 / np.cos(np.deg2rad(70.0)),
    }
