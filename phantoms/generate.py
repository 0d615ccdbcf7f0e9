"""Regenerate the shipped phantom data from the specifications in this folder.

Usage (from the repository root, in the development environment)::

    python phantoms/generate.py            # writes src/skindose/phantoms/data/*
    python phantoms/generate.py --check    # only verify that the shipped files are current

What it does:

1. copies ``adult.toml``, ``cylinder.toml`` and ``plane.toml`` verbatim into the package
   (``src/skindose/phantoms/data/``), where the runtime reads them;
2. builds the reference adult (``adult.toml`` at its reference height and mass) from convex
   closed-form parts (elliptic cylinders, a half-ellipsoid cap, oblique cones, sphere hulls),
   each tessellated near-isotropically with a cell size that follows the curvature (no chord
   more than ``generation.max_sagitta_mm`` inside the true surface, at most
   ``generation.max_spacing_mm``), and fuses them with a boolean union (manifold3d, through
   ``trimesh.boolean.union(engine="manifold")``) into ONE watertight, outward-wound surface
   with no internal faces;
3. removes the sliver triangles the union leaves along its seams (edge collapses and flips
   that move the surface by at most ``generation.seam_tolerance_mm``);
4. writes it to ``adult_reference.npz`` (float32 vertices in mm, int32 faces, and a JSON
   ``meta`` record with the spec's SHA-256, tool versions, checks and cell-quality figures).

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
SPECS = ("adult.toml", "adult_variants.toml", "cylinder.toml", "plane.toml")
VARIANT_MESHES = ("arms_up", "female", "female_arms_up")
sys.path.insert(0, str(REPO / "src"))

from skindose.phantoms._mesh import (  # noqa: E402
    ellipse_ring,
    elliptic_cylinder,
    ring_stack,
    triangle_aspect,
)
from skindose.phantoms._spec import _layout, _variant  # noqa: E402


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


def _size(gen: dict):
    """Cell size for a local radius of curvature R: chord within the sagitta, at most max."""

    def size(radius):
        r = np.asarray(radius, dtype=np.float64)
        return np.minimum(
            float(gen["max_spacing_mm"]), np.sqrt(8.0 * r * float(gen["max_sagitta_mm"]))
        )

    return size


def _steps(lengths: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Fractions along a path (cumulative ``lengths``) where points fall ``spacing`` apart."""
    n_per = np.concatenate(
        [[0.0], np.cumsum(0.5 * (1 / spacing[1:] + 1 / spacing[:-1]) * np.diff(lengths))]
    )
    n = max(1, math.ceil(n_per[-1]))
    return np.interp(np.linspace(0.0, n_per[-1], n + 1), n_per, lengths)


def _ellipse_rings(centres, semi, z, size):
    """Staggered elliptic rings (counter-clockwise) at heights z; counts from size(R_min).
    A ring of zero size is a pole (one point)."""
    rings = []
    for k, ((cx, cy), (sa, sb), zk) in enumerate(zip(centres, semi, z, strict=True)):
        if min(sa, sb) <= 1e-9:
            rings.append(np.array([[cx, cy, zk]]))
            continue
        r_min = min(sa, sb) ** 2 / max(sa, sb)
        h = float(size(r_min))
        n = max(6, math.ceil(_perimeter(sa, sb) / h))
        rings.append(ellipse_ring(sa, sb, n, center=(cx, cy), z=zk, phase=0.5 * (k % 2)))
    return rings


def _capsule(c_top, r_top: float, c_bottom, r_bottom: float, size):
    """Hull of two spheres (a tapered capsule) as a ring stack with a pole at each end."""
    c_top = np.asarray(c_top, dtype=np.float64)
    c_bottom = np.asarray(c_bottom, dtype=np.float64)
    axis = c_top - c_bottom
    length = float(np.linalg.norm(axis))
    ez = axis / length
    ex = np.cross(ez, [0.0, 1.0, 0.0]) if abs(ez[1]) < 0.9 else np.cross(ez, [1.0, 0.0, 0.0])
    ex /= np.linalg.norm(ex)
    ey = np.cross(ez, ex)
    beta = math.asin((r_top - r_bottom) / length)
    # profile (rho, z, radius of curvature) from the bottom pole to the top pole
    psi_b = np.linspace(-math.pi / 2, -beta, 400)
    psi_t = np.linspace(-beta, math.pi / 2, 400)
    prof = [
        np.column_stack(
            [r_bottom * np.cos(psi_b), r_bottom * np.sin(psi_b), np.full(400, r_bottom)]
        )
    ]
    p0 = (r_bottom * math.cos(-beta), r_bottom * math.sin(-beta))
    p1 = (r_top * math.cos(-beta), length + r_top * math.sin(-beta))
    w = np.linspace(0.0, 1.0, 400)[1:-1]
    rho = p0[0] + w * (p1[0] - p0[0])
    prof.append(np.column_stack([rho, p0[1] + w * (p1[1] - p0[1]), rho / math.cos(beta)]))
    prof.append(
        np.column_stack(
            [r_top * np.cos(psi_t), length + r_top * np.sin(psi_t), np.full(400, r_top)]
        )
    )
    prof = np.concatenate(prof)
    seg = np.linalg.norm(np.diff(prof[:, :2], axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    h = size(prof[:, 2])
    targets = _steps(s, h * math.sqrt(3.0) / 2.0)
    rings = []
    for k, t in enumerate(targets):
        rho = float(np.interp(t, s, prof[:, 0]))
        zl = float(np.interp(t, s, prof[:, 1]))
        hk = float(np.interp(t, s, h))
        if k in (0, len(targets) - 1) or rho < 0.05 * hk:
            n = 1
        else:
            n = max(3, math.ceil(2 * math.pi * rho / hk))
        ang = 2 * math.pi * (np.arange(n) + 0.5 * (k % 2)) / n
        pts = c_bottom + zl * ez + rho * (np.cos(ang)[:, None] * ex + np.sin(ang)[:, None] * ey)
        rings.append(pts if n > 1 else (c_bottom + zl * ez)[None])
    return ring_stack(rings)


def _ellipsoid(centre, semi, size):
    """Closed ellipsoid (semi-axes x, y, z) as staggered rings along z, a pole at each end."""
    ax, ay, az = (float(s) for s in semi)
    cx, cy, cz = (float(c) for c in centre)
    phi = np.linspace(-math.pi / 2, math.pi / 2, 4001)
    big = max(ax, ay)
    mer = np.concatenate(
        [[0.0], np.cumsum(np.hypot(np.diff(big * np.cos(phi)), np.diff(az * np.sin(phi))))]
    )
    h = float(size(min(az * az / big, min(ax, ay) ** 2 / big, az)))
    n = max(8, math.ceil(mer[-1] / (h * math.sqrt(3) / 2)))
    phis = np.interp(np.linspace(0.0, mer[-1], n + 1), mer, phi)
    k = np.cos(phis)
    k[0] = k[-1] = 0.0
    z = cz + az * np.sin(phis)
    rings = _ellipse_rings([(cx, cy)] * len(z), [(ax * kk, ay * kk) for kk in k], z, size)
    return ring_stack(rings)


def build_parts(spec: dict, lay: dict | None = None) -> dict[str, trimesh.Trimesh]:
    """The convex parts of the reference adult, each a closed mesh in the patient frame (mm).

    Every part is tessellated near-isotropically (near-equilateral or near-square cells) with
    a cell size that follows the curvature (``_size``), so that the union has no slivers away
    from the seams where the parts meet. ``lay``: a variant layout
    (``skindose.phantoms._spec.variant_layout``: arms raised, breasts); default the adult's.
    """
    lay = _layout(spec) if lay is None else lay
    gen = spec["generation"]
    size = _size(gen)
    lmax = float(gen["max_spacing_mm"])
    parts: dict[str, trimesh.Trimesh] = {}

    t = lay["trunk"]
    a, b = t["semi_axes"]
    parts["trunk"] = _solid(
        *elliptic_cylinder(a, b, (0.0, t["center_y"]), t["z_range"], size, cap_size=lmax)
    )

    nk = lay["neck"]
    r = nk["radius"]
    parts["neck"] = _solid(
        *elliptic_cylinder(r, r, (0.0, nk["center_y"]), nk["z_range"], size, cap_size=lmax)
    )

    hd = lay["head"]
    ha, hb = hd["semi_axes"]
    c = hd["cap_height"]
    cy = hd["center_y"]
    h_side = float(size(min(ha, hb) ** 2 / max(ha, hb)))
    n_cyl = max(1, math.ceil((-c - hd["z_bottom"]) / (h_side * math.sqrt(3) / 2)))
    z_cyl = np.linspace(hd["z_bottom"], -c, n_cyl + 1)
    # cap: half-ellipsoid, rings equally spaced along the longer meridian
    phi = np.linspace(0.0, math.pi / 2, 2001)
    mer = np.concatenate(
        [[0.0], np.cumsum(np.hypot(np.diff(max(ha, hb) * np.cos(phi)), np.diff(c * np.sin(phi))))]
    )
    h_cap = float(size(min(c * c / max(ha, hb), min(ha, hb) ** 2 / max(ha, hb))))
    n_phi = max(4, math.ceil(mer[-1] / (h_cap * math.sqrt(3) / 2)))
    phis = np.interp(np.linspace(0.0, mer[-1], n_phi + 1), mer, phi)[1:]
    k_s = np.concatenate([np.ones(len(z_cyl)), np.cos(phis)])
    k_s[-1] = 0.0
    z_all = np.concatenate([z_cyl, -c + c * np.sin(phis)])
    rings = _ellipse_rings([(0.0, cy)] * len(z_all), [(ha * k, hb * k) for k in k_s], z_all, size)
    parts["head"] = _solid(*ring_stack(rings, cap_spacing=(lmax, None)))

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
    # sections (z, radius, centre y) along the leg; rings spaced by the local size
    zs = np.array([z_bottom, z_top, hip["z"]])
    rs = np.array([r_bottom, r_top, hip["radius"]])
    ys = np.array([-r_bottom, -r_top, hip["center_y"]])
    z_rings = []
    for k in range(2):
        zz = np.linspace(zs[k], zs[k + 1], 400)
        hh = size(np.interp(zz, zs, rs)) * math.sqrt(3) / 2
        z_rings.append(_steps(zz, hh)[: None if k else -1])
    z_rings = np.concatenate(z_rings)
    r_rings = np.interp(z_rings, zs, rs)
    y_rings = np.interp(z_rings, zs, ys)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        x = sign * lg["axis_x"]
        rings = _ellipse_rings(
            [(x, yk) for yk in y_rings], [(rk, rk) for rk in r_rings], z_rings, size
        )
        parts[f"{side}_leg"] = _solid(*ring_stack(rings, cap_spacing=(lmax, lmax)))

    am = lay["arms"]
    r0, r1 = am["radii"]
    top = (am["axis_x"], am["center_y"], am["z_shoulder"])
    hand = (am["axis_x"], am["center_y"], am["z_hand"])
    arm_v, arm_f = _capsule(top, r0, hand, r1, size)
    sh_v, sh_f = _capsule(top, r0, am["shoulder_inner"], r0, size)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        # the right side is the mirror image of the left (not a translated copy), so that the
        # two arms and shoulders are sampled symmetrically
        mirror = np.array([sign, 1.0, 1.0])
        for name, (v, f) in (("arm", (arm_v, arm_f)), ("shoulder", (sh_v, sh_f))):
            parts[f"{side}_{name}"] = _solid(v * mirror, f if sign > 0 else f[:, ::-1])
    if "breasts" in lay:
        br = lay["breasts"]
        for side, centre in zip(("left", "right"), br["centres"], strict=True):
            parts[f"{side}_breast"] = _solid(*_ellipsoid(centre, br["semi_axes"], size))
    return parts


def _tri_quality(p):
    """Aspect ratio (1 = equilateral) of one triangle (3, 3)."""
    a = np.linalg.norm(p[1] - p[2])
    b = np.linalg.norm(p[2] - p[0])
    c = np.linalg.norm(p[0] - p[1])
    area = 0.5 * np.linalg.norm(np.cross(p[1] - p[0], p[2] - p[0]))
    if area <= 1e-12:
        return np.inf
    return max(a, b, c) * 0.5 * (a + b + c) / (2.0 * math.sqrt(3.0) * area)


def _unit_normal(p):
    n = np.cross(p[1] - p[0], p[2] - p[0])
    return n / (np.linalg.norm(n) + 1e-300)


def _point_triangle_distance(x, p):
    """Distance from point x to triangle p (3, 3) (Ericson, closest point on a triangle)."""
    a, b, c = p
    ab, ac, ap = b - a, c - a, x - a
    d1, d2 = ab @ ap, ac @ ap
    if d1 <= 0 and d2 <= 0:
        return np.linalg.norm(x - a)
    bp = x - b
    d3, d4 = ab @ bp, ac @ bp
    if d3 >= 0 and d4 <= d3:
        return np.linalg.norm(x - b)
    vc = d1 * d4 - d3 * d2
    if vc <= 0 and d1 >= 0 and d3 <= 0:
        return np.linalg.norm(x - (a + d1 / (d1 - d3) * ab))
    cp = x - c
    d5, d6 = ab @ cp, ac @ cp
    if d6 >= 0 and d5 <= d6:
        return np.linalg.norm(x - c)
    vb = d5 * d2 - d1 * d6
    if vb <= 0 and d2 >= 0 and d6 <= 0:
        return np.linalg.norm(x - (a + d2 / (d2 - d6) * ac))
    va = d3 * d6 - d5 * d4
    if va <= 0 and (d4 - d3) >= 0 and (d5 - d6) >= 0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        return np.linalg.norm(x - (b + w * (c - b)))
    den = 1.0 / (va + vb + vc)
    return np.linalg.norm(x - (a + ab * vb * den + ac * vc * den))


def clean_seams(v, f, tol: float, bad: float = 2.0, max_turn_deg: float = 25.0, rounds: int = 20):
    """Remove the slivers a boolean union leaves along its seams, without moving the surface.

    Two local operations, repeated while they help, on triangles whose aspect ratio exceeds
    ``bad``: collapsing the shortest edge into one of its end points (kept vertices never move,
    so every vertex stays on the union's surface), and flipping the longest edge. Either is
    applied only if the surface moves by at most ``tol`` (removed vertex to the new faces,
    distance between the flipped diagonals), no face normal turns by more than
    ``max_turn_deg``, the mesh stays manifold, and the worst aspect ratio around improves.
    """
    v = np.asarray(v, dtype=np.float64)
    faces = [list(map(int, t)) for t in f]
    alive = [True] * len(faces)
    vf: list[set[int]] = [set() for _ in range(len(v))]
    for i, t in enumerate(faces):
        for x in t:
            vf[x].add(i)
    cos_turn = math.cos(math.radians(max_turn_deg))

    def q(t):
        return _tri_quality(v[t])

    def neighbours(x):
        return {y for i in vf[x] for y in faces[i]} - {x}

    def try_collapse(gone, keep):
        around = vf[gone]
        shared = [i for i in around if keep in faces[i]]
        if len(shared) != 2:
            return False
        common = neighbours(gone) & neighbours(keep)
        opp = {y for i in shared for y in faces[i]} - {gone, keep}
        if common != opp:  # link condition
            return False
        old_worst = max(q(faces[i]) for i in around | vf[keep])
        new_tris = []
        for i in around:
            if i in shared:
                continue
            t = [keep if x == gone else x for x in faces[i]]
            n_old, n_new = _unit_normal(v[faces[i]]), _unit_normal(v[t])
            if n_old @ n_new < cos_turn:
                return False
            new_tris.append((i, t))
        dist = min(_point_triangle_distance(v[gone], v[t]) for _, t in new_tris)
        if dist > tol:
            return False
        new_worst = max(
            [q(t) for _, t in new_tris] + [q(faces[i]) for i in vf[keep] if i not in shared]
        )
        if new_worst >= old_worst:
            return False
        for i in shared:
            alive[i] = False
            for x in faces[i]:
                vf[x].discard(i)
        for i, t in new_tris:
            faces[i] = t
            vf[keep].add(i)
        vf[gone] = set()
        return True

    def try_flip(i, k):
        t = faces[i]
        a, b = t[k], t[(k + 1) % 3]
        c = t[(k + 2) % 3]
        other = [j for j in vf[a] & vf[b] if j != i]
        if len(other) != 1:
            return False
        j = other[0]
        d = next(x for x in faces[j] if x not in (a, b))
        if d in neighbours(c):
            return False
        t1, t2 = [a, d, c], [d, b, c]  # (a, b, c) and (b, a, d) become (a, d, c) and (d, b, c)
        old_worst = max(q(t), q(faces[j]))
        if max(q(t1), q(t2)) >= old_worst:
            return False
        n1, n2 = _unit_normal(v[t]), _unit_normal(v[faces[j]])
        for tn in (t1, t2):
            nn = _unit_normal(v[tn])
            if nn @ n1 < cos_turn or nn @ n2 < cos_turn:
                return False
        # the two diagonals must nearly meet: the flip moves the surface by their distance
        u1, u2 = v[b] - v[a], v[d] - v[c]
        cr = np.cross(u1, u2)
        gap = abs((v[c] - v[a]) @ cr) / (np.linalg.norm(cr) + 1e-300)
        if gap > tol:
            return False
        for x in (a, b, c, d):
            vf[x].discard(i)
            vf[x].discard(j)
        faces[i], faces[j] = t1, t2
        for idx, tn in ((i, t1), (j, t2)):
            for x in tn:
                vf[x].add(idx)
        return True

    for _ in range(rounds):
        changed = 0
        qual = np.array([q(t) if alive[i] else 0.0 for i, t in enumerate(faces)])
        for i in np.argsort(-qual):
            if qual[i] <= bad:
                break
            if not alive[i] or q(faces[i]) <= bad:
                continue
            t = faces[i]
            p = v[t]
            lens = [np.linalg.norm(p[(k + 1) % 3] - p[k]) for k in range(3)]
            k_short = int(np.argmin(lens))
            x, y = t[k_short], t[(k_short + 1) % 3]
            if try_collapse(x, y) or try_collapse(y, x):
                changed += 1
                continue
            if try_flip(i, int(np.argmax(lens))):
                changed += 1
        if not changed:
            break
    f_out = np.array([t for i, t in enumerate(faces) if alive[i]], dtype=np.int64)
    used = np.unique(f_out)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[used], remap[f_out]


def build_reference(spec: dict, lay: dict | None = None) -> tuple[trimesh.Trimesh, dict]:
    """Union of the parts: one closed surface, plus a record of what was built."""
    parts = build_parts(spec, lay)
    gen = spec["generation"]
    body = trimesh.boolean.union(list(parts.values()), engine="manifold")
    body = trimesh.Trimesh(vertices=body.vertices, faces=body.faces, process=True)
    body.update_faces(body.nondegenerate_faces())
    body.remove_unreferenced_vertices()
    ar_union = triangle_aspect(body.triangles)
    v, f = clean_seams(body.vertices, body.faces, tol=float(gen["seam_tolerance_mm"]))
    # stored as float32: round now so that the checks below see the shipped mesh
    v = v.astype(np.float32).astype(np.float64)
    body = trimesh.Trimesh(vertices=v, faces=f, process=False)
    ar = triangle_aspect(body.triangles)
    checks = {
        "is_watertight": bool(body.is_watertight),
        "is_winding_consistent": bool(body.is_winding_consistent),
        "euler_number": int(body.euler_number),
        "volume_mm3": float(body.volume),
        "area_mm2": float(body.area),
        "n_vertices": len(body.vertices),
        "n_faces": len(body.faces),
        "bounds_mm": body.bounds.tolist(),
        "min_area_mm2": float(body.area_faces.min()),
        "max_area_mm2": float(body.area_faces.max()),
        "aspect_ratio": {
            "definition": "longest edge / (2 sqrt(3) inradius), 1 = equilateral",
            "median": float(np.median(ar)),
            "p95": float(np.percentile(ar, 95)),
            "p99": float(np.percentile(ar, 99)),
            "max": float(ar.max()),
            "p95_before_seam_cleaning": float(np.percentile(ar_union, 95)),
        },
    }
    if not (checks["is_watertight"] and checks["is_winding_consistent"] and body.volume > 0):
        raise SystemExit(f"union is not a closed outward surface: {checks}")
    if checks["euler_number"] != 2:
        raise SystemExit(f"union is not one sphere-like surface: {checks}")
    return body, checks


def spec_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def variant_digest() -> str:
    """SHA-256 of adult.toml and adult_variants.toml together (a variant mesh's input)."""
    h = hashlib.sha256()
    for name in ("adult.toml", "adult_variants.toml"):
        h.update((HERE / name).read_bytes())
    return h.hexdigest()


def _stale_npz(path: Path, digest: str) -> bool:
    if not path.is_file():
        return True
    with np.load(path) as npz:
        return json.loads(str(npz["meta"])).get("spec_sha256") != digest


def _write(path: Path, body: trimesh.Trimesh, checks: dict, spec: dict, digest: str,
           spec_files: str, extra: dict | None = None) -> None:
    meta = {
        "file": path.name,
        "spec": spec_files,
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
    } | (extra or {})
    np.savez_compressed(
        path,
        vertices=np.ascontiguousarray(body.vertices, dtype=np.float32),
        faces=np.ascontiguousarray(body.faces, dtype=np.int32),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )
    print(json.dumps(meta, indent=2))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify only, write nothing")
    parser.add_argument("--only-variants", action="store_true",
                        help="rebuild only the variant meshes (arms up, female)")
    args = parser.parse_args(argv)
    stale = [
        s
        for s in SPECS
        if not (DATA / s).is_file() or (DATA / s).read_bytes() != (HERE / s).read_bytes()
    ]
    npz_path = DATA / "adult_reference.npz"
    digest = spec_digest(HERE / "adult.toml")
    if _stale_npz(npz_path, digest):
        stale.append(npz_path.name)
    vdigest = variant_digest()
    for var in VARIANT_MESHES:
        p = DATA / f"adult_{var}_reference.npz"
        if _stale_npz(p, vdigest):
            stale.append(p.name)
    if args.check:
        print("stale: " + ", ".join(stale) if stale else "all phantom data current")
        return 1 if stale else 0

    DATA.mkdir(parents=True, exist_ok=True)
    for s in SPECS:
        shutil.copyfile(HERE / s, DATA / s)
    spec = tomllib.loads((HERE / "adult.toml").read_text(encoding="utf-8"))
    if not args.only_variants:
        body, checks = build_reference(spec)
        _write(npz_path, body, checks, spec, digest, "phantoms/adult.toml")
    variants = tomllib.loads((HERE / "adult_variants.toml").read_text(encoding="utf-8"))
    for var in VARIANT_MESHES:
        lay = _variant(spec, variants, var)
        body, checks = build_reference(spec, lay)
        _write(DATA / f"adult_{var}_reference.npz", body, checks, spec, vdigest,
               "phantoms/adult.toml + phantoms/adult_variants.toml", {"variant": var})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
