"""Regenerate the shipped phantom data from the specifications in this folder.

Usage (from the repository root, in the development environment)::

    python phantoms/generate.py            # writes src/skindose/phantoms/data/*
    python phantoms/generate.py --check    # only verify that the shipped files are current

What it does:

1. copies ``adult.toml``, ``cylinder.toml`` and ``plane.toml`` verbatim into the package
   (``src/skindose/phantoms/data/``), where the runtime reads them;
2. builds the reference adult (``adult.toml`` at its reference height and mass) from convex
   closed-form parts (elliptic cylinders, a half-ellipsoid cap, oblique cones, sphere hulls),
   sampled finely enough that no chord lies more than
   ``generation.max_sagitta_mm`` inside the true surface, and fuses them with a boolean union
   (manifold3d, through ``trimesh.boolean.union(engine="manifold")``) into ONE watertight,
   outward-wound surface with no internal faces;
3. writes it to ``adult_reference.npz`` (vertices in mm, faces, and a JSON ``meta`` record with
   the spec's SHA-256, tool versions and checks).

manifold3d is needed here only (``pip install manifold3d``); the runtime just scales and refines
the shipped mesh.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import trimesh

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO / "src" / "skindose" / "phantoms" / "data"
SPECS = ("adult.toml", "cylinder.toml", "plane.toml")
sys.path.insert(0, str(REPO / "src"))

from skindose.phantoms._mesh import ellipse_ring, loft  # noqa: E402
from skindose.phantoms._spec import _layout  # noqa: E402


def _n_points(perimeter: float, spacing: float, minimum: int = 32) -> int:
    return max(minimum, 4 * math.ceil(perimeter / spacing / 4))


def _perimeter(a: float, b: float) -> float:
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))


def _solid(v: np.ndarray, f: np.ndarray) -> trimesh.Trimesh:
    mesh = trimesh.Trimesh(vertices=v, faces=f, process=True)
    assert mesh.is_watertight and mesh.volume > 0
    return mesh


def _hull(points: np.ndarray) -> trimesh.Trimesh:
    mesh = trimesh.convex.convex_hull(points)
    assert mesh.is_watertight and mesh.volume > 0
    return mesh


def _spacing(radius_of_curvature: float, gen: dict) -> float:
    """Point spacing whose chord stays within the allowed sagitta of the true surface."""
    sag = math.sqrt(8.0 * radius_of_curvature * float(gen["max_sagitta_mm"]))
    return min(sag, float(gen["max_spacing_mm"]))


def _sphere_points(center, radius: float, spacing: float) -> np.ndarray:
    n = max(64, math.ceil(4 * math.pi * radius**2 / spacing**2 * 1.1))
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = math.pi * (1 + math.sqrt(5)) * i
    unit = np.column_stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)])
    return np.asarray(center, dtype=np.float64) + radius * unit


def build_parts(spec: dict) -> dict[str, trimesh.Trimesh]:
    """The convex parts of the reference adult, each a closed mesh in the patient frame (mm)."""
    lay = _layout(spec)
    gen = spec["generation"]
    parts: dict[str, trimesh.Trimesh] = {}

    t = lay["trunk"]
    a, b = t["semi_axes"]
    n = _n_points(_perimeter(a, b), _spacing(b * b / a, gen))
    rings = [ellipse_ring(a, b, n, center=(0.0, t["center_y"]), z=z) for z in t["z_range"]]
    parts["trunk"] = _solid(*loft(rings))

    nk = lay["neck"]
    n = _n_points(2 * math.pi * nk["radius"], _spacing(nk["radius"], gen))
    rings = [
        ellipse_ring(nk["radius"], nk["radius"], n, center=(0.0, nk["center_y"]), z=z)
        for z in nk["z_range"]
    ]
    parts["neck"] = _solid(*loft(rings))

    hd = lay["head"]
    ha, hb = hd["semi_axes"]
    c = hd["cap_height"]
    r_min = min(ha, hb) ** 2 / max(ha, hb)
    n = _n_points(_perimeter(ha, hb), _spacing(r_min, gen))
    pts = [ellipse_ring(ha, hb, n, center=(0.0, hd["center_y"]), z=z) for z in (hd["z_bottom"], -c)]
    meridian = _perimeter(max(ha, hb), c) / 4
    n_phi = max(8, math.ceil(meridian / _spacing(c * c / max(ha, hb), gen)))
    for phi in np.linspace(0, math.pi / 2, n_phi + 1)[1:-1]:
        k = math.cos(phi)
        m = _n_points(_perimeter(ha * k, hb * k), _spacing(k * r_min, gen), minimum=8)
        pts.append(
            ellipse_ring(ha * k, hb * k, m, center=(0.0, hd["center_y"]), z=-c + c * math.sin(phi))
        )
    pts.append(np.array([[0.0, hd["center_y"], 0.0]]))
    parts["head"] = _hull(np.concatenate(pts))

    lg = lay["legs"]
    r_top, r_bottom = lg["radii"]
    z_bottom, z_top = lg["z_range"]
    hip = lg["hip"]
    # the hip circle must lie inside the trunk ellipse (no ledge, no tangent contact)
    reach = (
        (lg["axis_x"] + hip["radius"]) / a,
        (abs(hip["center_y"] - t["center_y"]) + hip["radius"]) / b,
    )
    assert hip["z"] > z_top and hip["radius"] < r_top and max(reach) < 1.0, (hip, reach)
    n = _n_points(2 * math.pi * r_top, _spacing(r_bottom, gen))  # same on every ring
    for side, sign in (("left", 1.0), ("right", -1.0)):
        x = sign * lg["axis_x"]
        rings = [
            ellipse_ring(r_bottom, r_bottom, n, center=(x, -r_bottom), z=z_bottom),
            ellipse_ring(r_top, r_top, n, center=(x, -r_top), z=z_top),
            ellipse_ring(hip["radius"], hip["radius"], n, center=(x, hip["center_y"]), z=hip["z"]),
        ]
        parts[f"{side}_leg"] = _solid(*loft(rings))

    am = lay["arms"]
    r0, r1 = am["radii"]
    top = (am["axis_x"], am["center_y"], am["z_shoulder"])
    hand = (am["axis_x"], am["center_y"], am["z_hand"])
    top_pts = _sphere_points(top, r0, _spacing(r0, gen))
    hand_pts = _sphere_points(hand, r1, _spacing(r1, gen))
    inner_pts = _sphere_points(am["shoulder_inner"], r0, _spacing(r0, gen))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        # the right side is the mirror image of the left (not a translated copy), so that the
        # two arms and shoulders are sampled symmetrically
        mirror = np.array([sign, 1.0, 1.0])
        arm_pts = np.concatenate([top_pts, hand_pts]) * mirror
        shoulder_pts = np.concatenate([top_pts, inner_pts]) * mirror
        parts[f"{side}_arm"] = _hull(arm_pts)
        parts[f"{side}_shoulder"] = _hull(shoulder_pts)
    return parts


def build_reference(spec: dict) -> tuple[trimesh.Trimesh, dict]:
    """Union of the parts: one closed surface, plus a record of what was built."""
    parts = build_parts(spec)
    body = trimesh.boolean.union(list(parts.values()), engine="manifold")
    body = trimesh.Trimesh(vertices=body.vertices, faces=body.faces, process=True)
    body.update_faces(body.nondegenerate_faces())
    body.remove_unreferenced_vertices()
    checks = {
        "is_watertight": bool(body.is_watertight),
        "is_winding_consistent": bool(body.is_winding_consistent),
        "euler_number": int(body.euler_number),
        "volume_mm3": float(body.volume),
        "area_mm2": float(body.area),
        "n_vertices": len(body.vertices),
        "n_faces": len(body.faces),
        "bounds_mm": body.bounds.tolist(),
    }
    if not (checks["is_watertight"] and checks["is_winding_consistent"] and body.volume > 0):
        raise SystemExit(f"union is not a closed outward surface: {checks}")
    if checks["euler_number"] != 2:
        raise SystemExit(f"union is not one sphere-like surface: {checks}")
    return body, checks


def spec_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify only, write nothing")
    args = parser.parse_args(argv)
    stale = [
        s
        for s in SPECS
        if not (DATA / s).is_file() or (DATA / s).read_bytes() != (HERE / s).read_bytes()
    ]
    npz_path = DATA / "adult_reference.npz"
    digest = spec_digest(HERE / "adult.toml")
    if npz_path.is_file():
        with np.load(npz_path) as npz:
            if json.loads(str(npz["meta"])).get("spec_sha256") != digest:
                stale.append(npz_path.name)
    else:
        stale.append(npz_path.name)
    if args.check:
        print("stale: " + ", ".join(stale) if stale else "all phantom data current")
        return 1 if stale else 0

    DATA.mkdir(parents=True, exist_ok=True)
    for s in SPECS:
        shutil.copyfile(HERE / s, DATA / s)
    spec = tomllib.loads((HERE / "adult.toml").read_text(encoding="utf-8"))
    body, checks = build_reference(spec)
    meta = {
        "file": "adult_reference.npz",
        "spec": "phantoms/adult.toml",
        "spec_sha256": digest,
        "generated_by": "phantoms/generate.py",
        "tools": {
            "trimesh": version("trimesh"),
            "manifold3d": version("manifold3d"),
            "numpy": np.__version__,
        },
        "generation": spec["generation"],
        "checks": checks,
        "licence": "generated by skindose from published dimensions; MIT like the package",
    }
    np.savez_compressed(
        npz_path,
        vertices=np.ascontiguousarray(body.vertices, dtype=np.float64),
        faces=np.ascontiguousarray(body.faces, dtype=np.int32),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    print(json.dumps(meta, indent=2))
    print(f"wrote {npz_path} ({npz_path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
