"""A stand-in phantom for geometry tests (the same attributes as ``skindose.phantoms.Phantom``).

Patient frame P: +x left, +y posterior, +z head, mm; body at y <= 0 and z <= 0. A head sphere,
an elliptic trunk and a leg block, as separate closed meshes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh

from tests._raycast import ray_triangle_t


@dataclass
class StandInPhantom:
    mesh: trimesh.Trimesh
    landmarks: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def triangles(self) -> np.ndarray:
        return np.asarray(self.mesh.triangles)

    @property
    def centroids(self) -> np.ndarray:
        return np.asarray(self.mesh.triangles_center)

    @property
    def normals(self) -> np.ndarray:
        return np.asarray(self.mesh.face_normals)

    @property
    def bounds(self) -> np.ndarray:
        return np.asarray(self.mesh.bounds)


def standin_adult() -> StandInPhantom:
    head = trimesh.creation.icosphere(subdivisions=3, radius=95.0)
    head.apply_translation([0.0, -100.0, -100.0])
    trunk = trimesh.creation.cylinder(radius=1.0, height=600.0, sections=64)
    trunk.apply_scale([170.0, 100.0, 1.0])
    trunk.apply_translation([0.0, -100.0, -550.0])
    legs = trimesh.creation.box(extents=[300.0, 180.0, 800.0])
    legs.apply_translation([0.0, -100.0, -1280.0])
    mesh = trimesh.util.concatenate([head, trunk, legs])
    # small cells (edges <= 25 mm), as the real phantoms have (~1 cm² cells)
    v, f = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=25.0)
    mesh = trimesh.Trimesh(v, f, process=False)
    lm = {
        "head": [0.0, -100.0, -100.0],
        "neck": [0.0, -100.0, -220.0],
        "chest": [0.0, -100.0, -400.0],
        "heart": [30.0, -110.0, -420.0],
        "abdomen": [0.0, -100.0, -650.0],
        "pelvis": [0.0, -100.0, -800.0],
        "legs": [0.0, -100.0, -1200.0],
        "trunk": [0.0, -100.0, -550.0],
        "left_arm": [200.0, -100.0, -500.0],
        "right_arm": [-200.0, -100.0, -500.0],
    }
    return StandInPhantom(mesh=mesh, landmarks={k: np.array(v) for k, v in lm.items()})


def first_hit(phantom: StandInPhantom, origin: np.ndarray, direction: np.ndarray):
    """Nearest intersection of a ray with the phantom: (point, face index) or (None, None)."""
    d = np.asarray(direction, dtype=float)
    t = ray_triangle_t(phantom.triangles, origin, d)
    j = int(np.argmin(t))
    if not np.isfinite(t[j]):
        return None, None
    return origin + t[j] * d, j
