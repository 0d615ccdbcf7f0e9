"""Phantom generators (plane, cylinder, adult) and the mesh loader."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.errors import GeometryError
from skindose.phantoms._mesh import (
    box_grid,
    ellipse_points,
    elliptic_cylinder,
    refine_to_area,
    snap_float32,
)
from skindose.phantoms._phantom import Phantom, check_closed_arrays
from skindose.phantoms._spec import (
    DATA,
    VARIANTS,
    adult_layout,
    check_positive,
    load_spec,
    proportional_landmarks,
    proportional_zones,
    variant_layout,
)

__all__ = ["adult", "available", "by_name", "cylinder", "load", "plane"]

REFERENCE_MESH = "adult_reference.npz"


def _max_area_mm2(cell_area_cm2: float) -> float:
    check_positive(cell_area_cm2=cell_area_cm2)
    return float(cell_area_cm2) * 100.0


def _proportional_labels(height_mm: float) -> dict[str, Any]:
    return {
        "scheme": "proportional",
        "top_z_mm": 0.0,
        "height_mm": float(height_mm),
        "fractions": proportional_zones(),
    }


# -- plane --------------------------------------------------------------------------------------
def plane(
    width_mm: float | None = None,
    length_mm: float | None = None,
    thickness_mm: float | None = None,
    cell_area_cm2: float = 1.0,
) -> Phantom:
    """A thin closed slab whose posterior face lies on the table plane.

    The slab spans x in [-width/2, width/2], y in [-thickness, 0], z in [-length, 0] (patient
    frame, mm). Defaults (``phantoms/plane.toml``): 400 × 1200 × 10 mm, after PySkinDose's
    120 × 40 cm plane. Each face is a regular grid of near-square rectangles (side at most
    sqrt(2 · cell area)), each cut into two right triangles: cells of nearly the requested
    area, aspect ratio ~1.4, no slivers.

    Parameters
    ----------
    width_mm, length_mm, thickness_mm
        Lateral (x), head-foot (z) and antero-posterior (y) size, mm; None takes the default.
    cell_area_cm2
        Largest skin-cell area, cm².

    Returns
    -------
    Phantom
        Landmarks all at the slab's centre; no height or mass.
    """
    spec = load_spec("plane")
    d = spec["defaults"]
    w = float(d["width_mm"] if width_mm is None else width_mm)
    ln = float(d["length_mm"] if length_mm is None else length_mm)
    t = float(d["thickness_mm"] if thickness_mm is None else thickness_mm)
    check_positive(width_mm=w, length_mm=ln, thickness_mm=t)
    # near-square rectangles of side <= sqrt(2 A), each cut into two right triangles of area <= A
    side = math.sqrt(2.0 * _max_area_mm2(cell_area_cm2))
    div = tuple(max(1, math.ceil(x / side)) for x in (w, t, ln))
    v, f = box_grid((-w / 2, -t, -ln), (w / 2, 0.0, 0.0), div)
    v = snap_float32(v, (0.0, -t / 2))
    v, f = refine_to_area(v, f, _max_area_mm2(cell_area_cm2))  # guards rounding only
    centre = (0.0, -t / 2, -ln / 2)
    names = ("head", "neck", "chest", "heart", "abdomen", "pelvis", "trunk", "legs")
    landmarks = {k: centre for k in (*names, "left_arm", "right_arm", "left_leg", "right_leg")}
    out_spec = {
        "generator": "skindose.phantoms.plane",
        "description": spec["description"],
        "parameters": {
            "width_mm": w,
            "length_mm": ln,
            "thickness_mm": t,
            "cell_area_cm2": float(cell_area_cm2),
        },
        "sources": dict(spec["sources"]),
        "labels": _proportional_labels(ln),
    }
    return Phantom.from_arrays(v, f, name="plane", landmarks=landmarks, spec=out_spec)


# -- cylinder -----------------------------------------------------------------------------------
def cylinder(
    semi_axis_x_mm: float | None = None,
    semi_axis_y_mm: float | None = None,
    length_mm: float | None = None,
    cell_area_cm2: float = 1.0,
) -> Phantom:
    """An elliptic cylinder along z, closed by flat ends.

    Axis at x = 0, y = -semi_axis_y (the posterior surface touches y = 0), from z = 0 (top) to
    z = -length. Defaults (``phantoms/cylinder.toml``): semi-axes 200 × 100 mm, 1500 mm long
    (PySkinDose's cylinder; the MIRD trunk cross-section). The wall is cut into near-square
    cells (two right triangles each) whose side follows the curvature: at most
    sqrt(2 · cell area), and small enough that no chord lies more than 0.25 mm inside the
    ellipse (so the flat front and back get larger cells than the curved sides); the flat ends
    are triangular lattices. Vertices are float32-exact (lossless STL/PLY export).

    Parameters
    ----------
    semi_axis_x_mm, semi_axis_y_mm
        Lateral and antero-posterior semi-axes, mm; None takes the default.
    length_mm
        Length along z, mm; None takes the default.
    cell_area_cm2
        Largest skin-cell area, cm².

    Returns
    -------
    Phantom
        Landmarks on the axis at the adult's landmark heights as fractions of the length
        (arms and legs beside the axis, inside the cylinder).
    """
    spec = load_spec("cylinder")
    d = spec["defaults"]
    a = float(d["semi_axis_x_mm"] if semi_axis_x_mm is None else semi_axis_x_mm)
    b = float(d["semi_axis_y_mm"] if semi_axis_y_mm is None else semi_axis_y_mm)
    ln = float(d["length_mm"] if length_mm is None else length_mm)
    check_positive(semi_axis_x_mm=a, semi_axis_y_mm=b, length_mm=ln)
    max_area = _max_area_mm2(cell_area_cm2)
    # near-square cells (two right triangles of area <= max_area per quad) whose side follows
    # the curvature: never more than 0.25 mm inside the ellipse (chord sqrt(8 R 0.25) for the
    # local radius of curvature R), so the flat front and back get larger cells than the sides
    side = 0.995 * math.sqrt(2.0 * max_area)  # margin: cells stay <= max_area in float32

    def size(radius):
        return np.minimum(side, np.sqrt(8.0 * 0.25 * radius))

    cap = 0.995 * math.sqrt(4.0 * max_area / math.sqrt(3.0))  # equilateral, area < max_area
    v, f = elliptic_cylinder(a, b, (0.0, -b), (-ln, 0.0), size, cap_size=cap)
    v = snap_float32(v, (0.0, -b))  # exports to float32 formats without change
    n = len(ellipse_points(a, b, size))
    v, f = refine_to_area(v, f, max_area)  # the caps' rim cells may exceed it: bisect those
    frac = proportional_landmarks()
    landmarks = {k: (0.0, -b, -fz * ln) for k, fz in frac.items()}
    for key, sign in (("left_arm", 1), ("right_arm", -1), ("left_leg", 1), ("right_leg", -1)):
        landmarks[key] = (sign * 0.6 * a, -b, -frac[key] * ln)
    landmarks["legs"] = (-0.5 * a, -b, -frac["legs"] * ln)
    landmarks["heart"] = (min(10.0, 0.3 * a), -b - min(25.0, 0.5 * b), -frac["heart"] * ln)
    out_spec = {
        "generator": "skindose.phantoms.cylinder",
        "description": spec["description"],
        "parameters": {
            "semi_axis_x_mm": a,
            "semi_axis_y_mm": b,
            "length_mm": ln,
            "cell_area_cm2": float(cell_area_cm2),
            "perimeter_points": n,
        },
        "sources": dict(spec["sources"]),
        "labels": _proportional_labels(ln),
    }
    return Phantom.from_arrays(v, f, name="cylinder", landmarks=landmarks, spec=out_spec)


def ellipse_perimeter(a: float, b: float) -> float:
    """Perimeter of an ellipse with semi-axes a and b (Ramanujan's second approximation)."""
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))


# -- adult --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _reference_adult(
    variant: str = "adult",
) -> tuple[NDArray[np.float64], NDArray[np.int64], dict[str, Any]]:
    """The shipped reference adult mesh (read-only arrays) and its generation record.

    ``variant``: "adult" (arms down, no breasts), "arms_up", "female" or "female_arms_up"."""
    name = REFERENCE_MESH if variant == "adult" else f"adult_{variant}_reference.npz"
    with resources.files(DATA).joinpath(name).open("rb") as fh:
        with np.load(fh, allow_pickle=False) as npz:
            v = np.ascontiguousarray(npz["vertices"], dtype=np.float64)
            f = np.ascontiguousarray(npz["faces"], dtype=np.int64)
            meta = json.loads(str(npz["meta"]))
    v.flags.writeable = False
    f.flags.writeable = False
    return v, f, meta


def adult(
    height_m: float | None = None,
    mass_kg: float | None = None,
    cell_area_cm2: float = 1.0,
    *,
    arms: str = "down",
    sex: str = "male",
) -> Phantom:
    """The stylized adult: head, neck, trunk, arms at the sides (or raised) and legs, supine.

    MIRD/Cristy–Eckerman exterior (elliptic head with a half-ellipsoid cap, elliptic-cylinder
    trunk 70 cm long, conical legs) with a neck and separate arms added; since MIRD's
    20 × 10 cm trunk also holds the arms, the trunk here is 16.5 × 10 cm (chest breadth 33 cm,
    52 cm over the arms at the reference size). Dimensions and their sources are in
    ``phantoms/adult.toml``. The body is one watertight surface (a
    boolean union generated offline by ``phantoms/generate.py`` and shipped as package data),
    scaled here to the patient and refined until every cell is at most ``cell_area_cm2``.
    The shipped surface is tessellated near-isotropically (cells of at most ~3 cm², smaller
    where the curvature needs it; median aspect ratio ~1.03), and the refinement is
    longest-edge bisection, which keeps that quality: no sliver cells at any size.

    Scaling (openSkin rule, see ``phantoms/README.md``): z by H/H_ref, x and y by
    sqrt((M/M_ref)/(H/H_ref)), so lengths follow the height and the volume follows the mass.
    Reference (the size the mesh is built at): 1.76 m, 73 kg.

    Variants (``phantoms/adult_variants.toml``): ``arms="up"`` raises both arms above the head
    (the usual position in cardiology: lateral and steep oblique beams then meet the chest
    wall, not the arm); ``sex="female"`` adds breasts (Geant4/MIRD ellipsoids, enlarged so that
    they hold 0.83 % of the body mass, ICRP 89; they scale with the patient's mass like the
    rest of the body) and takes the ICRP 89 reference female, 1.63 m / 60 kg, for a height or
    mass that is not given. The female's other parts are the adult's (stylized, sex-neutral
    exterior), scaled to her height and mass.

    Parameters
    ----------
    height_m
        Patient height in m; None takes the reference height.
    mass_kg
        Patient mass in kg; None takes the reference mass.
    cell_area_cm2
        Largest skin-cell area, cm².
    arms
        "down" (at the sides, default) or "up" (raised above the head).
    sex
        "male" (default: the ICRP 89 reference male's size, no breasts) or "female".

    Returns
    -------
    Phantom
        Named "adult", "adult_arms_up", "adult_female" or "adult_female_arms_up".
    """
    if arms not in ("down", "up"):
        raise GeometryError(f"arms must be 'down' or 'up', not {arms!r}")
    if sex not in ("male", "female"):
        raise GeometryError(f"sex must be 'male' or 'female', not {sex!r}")
    variant = VARIANTS[(arms, sex)]
    spec = load_spec("adult")
    ref = spec["reference"]
    default_h, default_m = ref["height_m"], ref["mass_kg"]
    vspec = load_spec("adult_variants")
    if sex == "female":
        default_h = vspec["female"]["reference_height_m"]
        default_m = vspec["female"]["reference_mass_kg"]
    h = float(default_h if height_m is None else height_m)
    m = float(default_m if mass_kg is None else mass_kg)
    check_positive(height_m=h, mass_kg=m)
    if not (0.3 <= h <= 2.8 and 1.0 <= m <= 500.0):
        raise GeometryError(f"implausible patient size: {h} m, {m} kg")
    s_z = h / ref["height_m"]
    s_xy = math.sqrt((m / ref["mass_kg"]) / s_z)
    scale = np.array([s_xy, s_xy, s_z])
    v0, f0, meta = _reference_adult(variant)
    v, f = refine_to_area(v0 * scale, f0, _max_area_mm2(cell_area_cm2))
    lay = adult_layout() if variant == "adult" else variant_layout(variant)
    landmarks = {k: np.asarray(p) * scale for k, p in lay["landmarks"].items()}
    name = "adult" if variant == "adult" else f"adult_{variant}"
    sources = {
        part: dict(spec[part]["sources"]) for part in ("head", "neck", "trunk", "arms", "legs")
    } | {"reference": ref["source"], "scaling": spec["scaling"]["source"]}
    description = spec["description"]
    if variant != "adult":
        description = vspec[variant]["description"]
        if arms == "up":
            sources["arms_up"] = dict(vspec["arms_up"]["sources"]) | {
                "clinical_basis": vspec["arms_up"]["clinical_basis"]
            }
        if sex == "female":
            sources["female"] = dict(vspec["female"]["sources"])
    out_spec = {
        "generator": "skindose.phantoms.adult",
        "description": description,
        "variant": {"arms": arms, "sex": sex},
        "parameters": {
            "height_m": h,
            "mass_kg": m,
            "cell_area_cm2": float(cell_area_cm2),
            "arms": arms,
            "sex": sex,
        },
        "reference": {"height_m": ref["height_m"], "mass_kg": ref["mass_kg"]},
        "scale": {"x": s_xy, "y": s_xy, "z": s_z},
        "scaling_rule": spec["scaling"]["rule"],
        "sources": sources,
        "reference_mesh": meta,
        "labels": {"scheme": "adult", "scale": scale.tolist(), "layout": lay},
    }
    return Phantom.from_arrays(
        v, f,
        name=name,
        landmarks=landmarks,
        spec=out_spec,
        height_m=h,
        mass_kg=m,
        check=False,  # the reference is checked when generated and in the tests
    )


# -- loading ------------------------------------------------------------------------------------
def load(
    path: str | PathLike[str],
    cell_area_cm2: float = 1.0,
    scale_to_mm: float = 1.0,
    *,
    name: str | None = None,
    transform: ArrayLike | None = None,
    place: bool = True,
    height_m: float | None = None,
    mass_kg: float | None = None,
) -> Phantom:
    """Load any closed mesh trimesh reads (STL, PLY, OBJ, OFF, GLB, ...) as a phantom.

    The mesh is cleaned (duplicate vertices merged, degenerate and duplicate faces dropped,
    small holes filled), oriented outward, optionally placed at the patient frame's origin, and
    refined until every cell is at most ``cell_area_cm2``. Refinement only splits triangles on
    their own planes, so the shape is kept exactly; triangles already smaller are kept as they
    are (no coarsening).

    Parameters
    ----------
    path
        Mesh file.
    cell_area_cm2
        Largest skin-cell area, cm².
    scale_to_mm
        Factor from the file's length unit to mm (1000 for metres, 10 for cm).
    name
        Phantom name; default: the file's stem.
    transform
        Optional (4, 4) matrix applied (after scaling) to bring the mesh into the patient frame
        orientation (+x left, +y posterior, +z head).
    place
        Translate so that the mesh follows the patient-frame origin convention: centred on
        x = 0, its most posterior point on y = 0, its top on z = 0.
    height_m, mass_kg
        Patient size the mesh represents, if known (kept as provenance only).

    Returns
    -------
    Phantom
        Landmarks estimated at the adult's landmark heights as fractions of the mesh height
        (centre of the mesh's cross-section there); labels use the proportional scheme.

    Raises
    ------
    GeometryError
        If the file holds no triangles or the mesh cannot be made watertight.
    """
    import trimesh  # only here: building and computing need neither trimesh nor SciPy

    path = Path(path)
    check_positive(scale_to_mm=scale_to_mm)
    max_area = _max_area_mm2(cell_area_cm2)
    try:
        loaded = trimesh.load(str(path), force="mesh")
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise GeometryError(f"{path}: cannot read a mesh ({exc})") from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise GeometryError(f"{path}: no triangle mesh found")
    v = np.asarray(loaded.vertices, dtype=np.float64) * float(scale_to_mm)
    if transform is not None:
        mat = np.asarray(transform, dtype=np.float64)
        if mat.shape != (4, 4):
            raise GeometryError(f"transform must be (4, 4), got {mat.shape}")
        v = trimesh.transformations.transform_points(v, mat)
    mesh = trimesh.Trimesh(vertices=v, faces=np.asarray(loaded.faces), process=True)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    if not mesh.is_watertight:
        try:
            trimesh.repair.fill_holes(mesh)
        except ImportError:  # needs networkx, optional in trimesh: then no hole filling
            pass
    if not mesh.is_watertight:
        raise GeometryError(f"{path}: the mesh is not closed (watertight); repair it first")
    if not mesh.is_winding_consistent:
        try:
            trimesh.repair.fix_winding(mesh)
        except ImportError as exc:  # networkx is optional in trimesh
            raise GeometryError(
                f"{path}: inconsistent face winding; fixing it needs networkx ({exc})"
            ) from exc
    if mesh.volume < 0:
        mesh.invert()
    translation = np.zeros(3)
    if place:
        lo, hi = mesh.bounds
        translation = -np.array([(lo[0] + hi[0]) / 2, hi[1], hi[2]])
    vr, fr = refine_to_area(
        np.asarray(mesh.vertices) + translation, np.asarray(mesh.faces), max_area
    )
    check_closed_arrays(vr, fr, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    out_spec = {
        "generator": "skindose.phantoms.load",
        "description": f"mesh loaded from {path.name}",
        "parameters": {
            "path": str(path),
            "sha256": digest,
            "scale_to_mm": float(scale_to_mm),
            "transform": None if transform is None else np.asarray(transform).tolist(),
            "place": bool(place),
            "translation_mm": translation.tolist(),
            "cell_area_cm2": float(cell_area_cm2),
        },
        "sources": {"mesh": f"user file {path.name} (sha256 {digest[:12]})"},
        "labels": None,
    }
    lo, hi = vr.min(axis=0), vr.max(axis=0)
    out_spec["labels"] = _proportional_labels(hi[2] - lo[2]) | {"top_z_mm": float(hi[2])}
    landmarks = _estimate_landmarks(vr, hi[2], hi[2] - lo[2])
    return Phantom.from_arrays(
        vr, fr,
        name=name or path.stem,
        landmarks=landmarks,
        spec=out_spec,
        height_m=height_m,
        mass_kg=mass_kg,
        check=False,
    )


def _estimate_landmarks(v: NDArray[np.float64], top: float, height: float) -> dict[str, Any]:
    out = {}
    tol = max(0.02 * height, 10.0)
    for key, frac in proportional_landmarks().items():
        z = top - frac * height
        band = v[np.abs(v[:, 2] - z) <= tol]
        if len(band) == 0:
            band = v
        if key.startswith(("left_", "right_")):
            half = band[band[:, 0] > 0] if key.startswith("left_") else band[band[:, 0] < 0]
            band = half if len(half) else band
        centre = 0.5 * (band.min(axis=0) + band.max(axis=0))
        out[key] = (centre[0], centre[1], z)
    return out


# -- registry -----------------------------------------------------------------------------------
def adult_arms_up(**kwargs: Any) -> Phantom:
    """:func:`adult` with ``arms="up"`` (keyword arguments passed on)."""
    return adult(**({"arms": "up"} | kwargs))


def adult_female(**kwargs: Any) -> Phantom:
    """:func:`adult` with ``sex="female"`` (keyword arguments passed on)."""
    return adult(**({"sex": "female"} | kwargs))


def adult_female_arms_up(**kwargs: Any) -> Phantom:
    """:func:`adult` with ``sex="female", arms="up"`` (keyword arguments passed on)."""
    return adult(**({"sex": "female", "arms": "up"} | kwargs))


_BUILTIN = {
    "adult": adult,
    "adult_arms_up": adult_arms_up,
    "adult_female": adult_female,
    "adult_female_arms_up": adult_female_arms_up,
    "cylinder": cylinder,
    "plane": plane,
}


def available() -> list[tuple[str, str]]:
    """The built-in phantom generators as (name, description) pairs.

    The adult's variants (``adult_arms_up``, ``adult_female``, ``adult_female_arms_up``) are
    :func:`adult` with ``arms``/``sex`` set; :func:`by_name` accepts their names too."""
    return [(key, load_spec(key)["description"]) for key in ("adult", "cylinder", "plane")]


def variants() -> list[tuple[str, str]]:
    """The adult variants :func:`by_name` knows, as (name, description) pairs."""
    spec = load_spec("adult_variants")
    return [(key, spec[key.removeprefix("adult_")]["description"])
            for key in ("adult_arms_up", "adult_female", "adult_female_arms_up")]


def by_name(name: str | PathLike[str], **kwargs: Any) -> Phantom:
    """A built-in phantom by name ("adult", "cylinder", "plane"), or a mesh file by path.

    Parameters
    ----------
    name
        Built-in name, or a path to a mesh file (see :func:`load`).
    **kwargs
        Passed to the generator or to :func:`load`.
    """
    key = str(name)
    if key in _BUILTIN:
        return _BUILTIN[key](**kwargs)
    if Path(key).suffix:
        return load(key, **kwargs)
    raise GeometryError(
        f"unknown phantom {key!r}: use one of {', '.join(_BUILTIN)} or a mesh file path"
    )
