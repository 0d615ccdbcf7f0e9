"""The :class:`Phantom`: a watertight skin mesh in the patient frame and its skin cells."""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.errors import GeometryError
from skindose.phantoms import _labels
from skindose.phantoms._mesh import cell_arrays

if TYPE_CHECKING:
    import trimesh

    from skindose.kernel import Accel

__all__ = ["Phantom", "PhantomLike"]


class PhantomLike(Protocol):
    """What the computation needs of a phantom (:class:`Phantom` is one)."""

    n_cells: int
    triangles: NDArray[np.float64]
    centroids: NDArray[np.float64]
    normals: NDArray[np.float64]

    @property
    def accel(self) -> Accel: ...

    def label(self, cell: int) -> str: ...


def _readonly(a: ArrayLike, shape_tail: tuple[int, ...], name: str) -> NDArray[np.float64]:
    arr = np.array(a, dtype=np.float64, order="C", copy=True)
    if arr.shape[1:] != shape_tail or arr.ndim != 1 + len(shape_tail):
        raise GeometryError(f"{name} must have shape (n, {shape_tail}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} holds non-finite values")
    arr.flags.writeable = False
    return arr


def _mesh_arrays(vertices: ArrayLike, faces: ArrayLike) -> tuple[NDArray[np.float64],
                                                                  NDArray[np.int64]]:
    """Read-only copies of a surface's (v, 3) finite vertices and (n, 3) faces that index them;
    :class:`~skindose.errors.GeometryError` otherwise (a negative index would wrap silently)."""
    verts = _readonly(vertices, (3,), "vertices")
    faces = np.array(faces, dtype=np.int64, order="C", copy=True)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise GeometryError(f"faces must have shape (n, 3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= len(verts)):
        raise GeometryError("the mesh's faces index vertices it does not have")
    faces.flags.writeable = False
    return verts, faces


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Phantom:
    """A patient phantom: a closed skin surface in the patient frame, cut into skin cells.

    One skin cell per mesh triangle. Coordinates are in the patient frame P (DICOM patient
    coordinates: +x patient left, +y posterior, +z head; mm), with the origin at the phantom's
    reference point: on the midline, on the table plane the back touches (the body lies at
    y <= 0), at the top of the head (the body lies at z <= 0).

    Build phantoms with :func:`~skindose.phantoms.adult`, :func:`~skindose.phantoms.cylinder`,
    :func:`~skindose.phantoms.plane` or :func:`~skindose.phantoms.load`; :meth:`from_mesh`
    derives the cell arrays from any closed mesh.

    Attributes
    ----------
    name
        Short name ("adult", "cylinder", "plane", or the loaded file's stem).
    vertices, faces
        The watertight, outward-wound skin surface: (v, 3) float64 vertices (mm) and (n, 3)
        int64 faces, read-only; one skin cell per face.
    mesh
        The same surface as a ``trimesh.Trimesh`` (built on first use: the computation itself
        needs neither trimesh nor SciPy). Treat it as read-only: the cell arrays are copies and
        would not follow a change.
    centroids
        (n, 3) float64 cell centroids, mm, read-only.
    normals
        (n, 3) float64 outward unit normals, read-only.
    areas_mm2
        (n,) float64 cell areas, mm², read-only.
    triangles
        (n, 3, 3) float64 vertex coordinates of each cell's triangle, C-contiguous, read-only.
    landmarks
        Named points inside the body, each a read-only (3,) float64 array (mm): at least
        head, neck, chest, heart, abdomen, pelvis, trunk, legs, left_arm, right_arm.
    spec
        JSON-safe provenance: generator, parameters, sources, and the label scheme.
    height_m, mass_kg
        Patient size the phantom was built for, or None (loaded meshes, plane, cylinder).
    """

    name: str
    vertices: NDArray[np.float64]
    faces: NDArray[np.int64]
    centroids: NDArray[np.float64]
    normals: NDArray[np.float64]
    areas_mm2: NDArray[np.float64]
    triangles: NDArray[np.float64]
    landmarks: Mapping[str, NDArray[np.float64]]
    spec: dict[str, Any]
    height_m: float | None = None
    mass_kg: float | None = None

    def __post_init__(self) -> None:
        tri = _readonly(self.triangles, (3, 3), "triangles")
        n = len(tri)
        if n == 0:
            raise GeometryError("a phantom needs at least one skin cell")
        setter = object.__setattr__
        setter(self, "triangles", tri)
        setter(self, "centroids", _readonly(self.centroids, (3,), "centroids"))
        setter(self, "normals", _readonly(self.normals, (3,), "normals"))
        areas = np.array(self.areas_mm2, dtype=np.float64, copy=True)
        if areas.shape != (n,) or not np.all(areas > 0):
            raise GeometryError("areas_mm2 must be (n,) positive values, one per triangle")
        areas.flags.writeable = False
        setter(self, "areas_mm2", areas)
        for arr_name in ("centroids", "normals"):
            if getattr(self, arr_name).shape[0] != n:
                raise GeometryError(f"{arr_name} must have one row per cell ({n})")
        marks = {}
        for key, value in self.landmarks.items():
            point = np.array(value, dtype=np.float64, copy=True).reshape(3)
            point.flags.writeable = False
            marks[str(key)] = point
        setter(self, "landmarks", marks)
        verts, faces = _mesh_arrays(self.vertices, self.faces)
        if faces.shape != (n, 3):
            raise GeometryError("the mesh must have one face per skin cell")
        setter(self, "vertices", verts)
        setter(self, "faces", faces)

    def with_spec(self, **entries: Any) -> Phantom:
        """A copy whose ``spec`` has ``entries`` added; the mesh, the cells and everything
        derived from them (``accel``, labels, bounds) are the same objects, not rebuilt."""
        new = copy.copy(self)  # shares the (read-only) arrays and the cached properties
        object.__setattr__(new, "spec", {**self.spec, **entries})
        if "labels" in entries:
            new.__dict__.pop("_classes", None)
        return new

    @classmethod
    def from_mesh(
        cls,
        mesh: trimesh.Trimesh,
        *,
        name: str,
        landmarks: Mapping[str, ArrayLike],
        spec: dict[str, Any],
        height_m: float | None = None,
        mass_kg: float | None = None,
        check: bool = True,
    ) -> Phantom:
        """Build a phantom from a closed, outward-wound ``trimesh.Trimesh`` in the patient
        frame (mm); the mesh object becomes :attr:`mesh`.

        Parameters
        ----------
        mesh
            The skin surface; one skin cell per face.
        name, landmarks, spec, height_m, mass_kg
            As the attributes.
        check
            Verify that the mesh is watertight, consistently wound and encloses a positive
            volume (raises :class:`~skindose.errors.GeometryError` otherwise).
        """
        out = cls.from_arrays(np.asarray(mesh.vertices), np.asarray(mesh.faces), name=name,
                              landmarks=landmarks, spec=spec, height_m=height_m,
                              mass_kg=mass_kg, check=check)
        out.__dict__["mesh"] = mesh  # the caller's object (cached_property slot)
        return out

    @classmethod
    def from_arrays(
        cls,
        vertices: ArrayLike,
        faces: ArrayLike,
        *,
        name: str,
        landmarks: Mapping[str, ArrayLike],
        spec: dict[str, Any],
        height_m: float | None = None,
        mass_kg: float | None = None,
        check: bool = True,
    ) -> Phantom:
        """Build a phantom from vertex (v, 3, mm) and face (n, 3) arrays of a closed,
        outward-wound surface in the patient frame, without trimesh.

        Parameters are those of :meth:`from_mesh`.
        """
        v, f = _mesh_arrays(vertices, faces)
        if check:
            check_closed_arrays(v, f, name)
        return cls(name=name, vertices=v, faces=f, landmarks=landmarks, spec=spec,
                   height_m=height_m, mass_kg=mass_kg, **cell_arrays(v, f))

    # -- derived -------------------------------------------------------------------------------
    @functools.cached_property
    def mesh(self) -> trimesh.Trimesh:
        """The skin surface as a ``trimesh.Trimesh`` (built on first use from :attr:`vertices`
        and :attr:`faces`, unprocessed: same vertices, same faces, same order)."""
        import trimesh

        return trimesh.Trimesh(vertices=self.vertices, faces=self.faces, process=False,
                               validate=False)

    @functools.cached_property
    def closed(self) -> bool:
        """Whether the surface is watertight and consistently wound (:func:`closed_problem`)."""
        return closed_problem(self.vertices, self.faces, volume=False) is None

    @property
    def n_cells(self) -> int:
        """Number of skin cells (= mesh triangles)."""
        return int(self.areas_mm2.shape[0])

    @functools.cached_property
    def bounds(self) -> NDArray[np.float64]:
        """(2, 3) float64 axis-aligned bounds, [min, max], mm."""
        flat = self.triangles.reshape(-1, 3)
        out = np.array([flat.min(axis=0), flat.max(axis=0)])
        out.flags.writeable = False
        return out

    @functools.cached_property
    def total_area_mm2(self) -> float:
        """Total skin area, mm²."""
        return float(self.areas_mm2.sum())

    @functools.cached_property
    def accel(self) -> Accel:
        """The ray-casting acceleration structure of this phantom (built on first use, once).

        A :class:`skindose.kernel.Accel` over :attr:`triangles`, holding the cell arrays in
        the kernel's order; pass it as ``accel=`` to :func:`skindose.kernel.accumulate_dose`
        and :func:`skindose.kernel.first_hit_distance`. Declared closed when the mesh is
        watertight and consistently wound (phantoms are outward-wound). The arrays are read-only,
        so it can never go stale. Two threads asking at once may both build it (same result).
        """
        from skindose import kernel

        return kernel.prepare(self.triangles, self.centroids, self.normals, closed=self.closed)

    @functools.cached_property
    def _classes(self) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
        return _labels.classify(self.centroids, self.normals, self.spec["labels"])

    @functools.cached_property
    def _tree(self):
        from scipy.spatial import cKDTree

        return cKDTree(self.centroids)

    def nearest_cell(self, point: ArrayLike) -> int:
        """Index of the cell whose centroid is nearest to ``point`` ((3,) mm)."""
        p = np.asarray(point, dtype=np.float64).reshape(3)
        return int(self._tree.query(p)[1])

    def label(self, cell_or_point: int | ArrayLike) -> str:
        """Human-readable location of a skin cell or of the cell nearest to a point.

        Parameters
        ----------
        cell_or_point
            A cell index, or a (3,) point in the patient frame (mm).

        Returns
        -------
        str
            e.g. ``"upper back, 4 cm left of midline"``, ``"right lateral chest"``,
            ``"left arm"``, ``"anterior abdomen, 2 cm right of midline"``.

        Examples
        --------
        >>> from skindose import phantoms
        >>> p = phantoms.cylinder(cell_area_cm2=4.0)
        >>> p.label([40.0, 0.0, -400.0])
        'upper back, 4 cm left of midline'
        """
        if isinstance(cell_or_point, int | np.integer):
            i = int(cell_or_point)
            if not -self.n_cells <= i < self.n_cells:
                raise IndexError(f"cell {i} out of range for {self.n_cells} cells")
        else:
            i = self.nearest_cell(cell_or_point)
        region, face = self._classes
        return _labels.describe(
            str(region[i]), str(face[i]), float(self.centroids[i, 0]), float(self.normals[i, 0])
        )

    def cells_in_region(self, name: str) -> NDArray[np.bool_]:
        """Boolean mask of the cells in a region.

        Parameters
        ----------
        name
            A region ("head", "neck", "chest", "abdomen", "pelvis", "left_arm", "left_thigh",
            "left_lower_leg", "left_shoulder", ... and their right twins), a group ("trunk",
            "arms", "legs", "left_leg", "right_leg", "shoulders", "thighs", "back" = posterior
            trunk), or a facing ("posterior", "anterior", "left", "right", "superior",
            "inferior").

        Returns
        -------
        (n,) bool
        """
        region, face = self._classes
        if name in _labels.REGIONS:
            return region == name
        if name in _labels.REGION_GROUPS:
            return np.isin(region, _labels.REGION_GROUPS[name])
        if name == "back":
            return np.isin(region, ("chest", "abdomen", "pelvis")) & (face == "posterior")
        if name in _labels.FACINGS:
            return face == name
        known = [*_labels.REGIONS, *_labels.REGION_GROUPS, "back", *_labels.FACINGS]
        raise KeyError(f"unknown region {name!r}; known: {', '.join(known)}")

    def export(self, path: str | PathLike[str], **kwargs: Any) -> None:
        """Write the mesh in any format trimesh writes (chosen by the file extension)."""
        self.mesh.export(str(path), **kwargs)

    def __repr__(self) -> str:
        size = ""
        if self.height_m is not None:
            size = f", height_m={self.height_m:g}, mass_kg={self.mass_kg:g}"
        return (
            f"Phantom(name={self.name!r}, n_cells={self.n_cells}, "
            f"area={self.total_area_mm2 / 1e6:.3f} m²{size})"
        )


def closed_problem(vertices: NDArray[np.float64], faces: NDArray[np.int64], *,
                   volume: bool = True) -> str | None:
    """Why (vertices, faces) is not a closed, consistently wound surface (enclosing a positive
    volume when ``volume``), or None when it is.

    Watertight and consistently wound together mean: every directed edge (a → b) of the faces
    occurs exactly once and its reverse (b → a) exactly once, i.e. every edge is shared by two
    faces that traverse it in opposite directions. The volume is the sum of the signed
    tetrahedra (origin, face), positive for outward winding.
    """
    f = np.asarray(faces, dtype=np.int64)
    if f.size == 0:
        return "the skin mesh has no faces"
    n = int(f.max()) + 1
    a = f[:, [0, 1, 2]].ravel()
    b = f[:, [1, 2, 0]].ravel()
    fwd = np.sort(a * n + b)
    if np.any(a == b) or np.any(fwd[1:] == fwd[:-1]):
        return "the skin mesh winding is not consistent"
    if not np.array_equal(fwd, np.sort(b * n + a)):
        return "the skin mesh is not watertight"
    if volume:
        tri = np.asarray(vertices, dtype=np.float64)[f]
        vol = float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6
        if not vol > 0:
            return "the skin mesh encloses no positive volume (inverted?)"
    return None


def check_closed_arrays(vertices: NDArray[np.float64], faces: NDArray[np.int64],
                        name: str = "mesh") -> None:
    """Raise :class:`~skindose.errors.GeometryError` unless (vertices, faces) is a closed,
    outward solid (:func:`closed_problem`)."""
    why = closed_problem(vertices, faces)
    if why is not None:
        raise GeometryError(f"{name}: {why}")

