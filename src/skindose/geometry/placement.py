"""Phantom-side helpers: target regions, point-in-body and beam–phantom intersection tests.

These use plain NumPy on the phantom's ``triangles`` and ``centroids`` (no trimesh ray
back-end is needed). "A beam intersects the phantom" means that at least one skin-cell centroid
lies inside its field pyramid in front of the source, the same inclusion test the kernel uses
before its facing and occlusion tests.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

__all__ = [
    "beams_hitting",
    "kap_fraction_hitting",
    "points_inside",
    "target_landmark",
]

# (pattern, landmark) in priority order; matched against target region, protocol and study text
# (compiled at import: compiling them on a procedure's first placement cost ≈ 2 ms)
_REGION_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), lm) for p, lm in (
    (r"heart|cardi|coronar|kardi|herz|pci|ptca|\bcor\b|ablation|pacemaker|valve", "heart"),
    (r"head|brain|skull|cerebr|neuro|intracran|huvud|kopf|carotid|\bcranial", "head"),
    (r"neck|cervical|thyroid|hals", "neck"),
    (r"chest|thora|lung|pulmon|breast|bronch|mediastin|thorax|bröst", "chest"),
    (r"pelvi|hip|prostat|uter|bladder|iliac|bäcken|becken", "pelvis"),
    (r"abdom|liver|hepat|kidney|renal|spleen|stomach|biliar|aorta|bowel|mesenter|buk|tips",
     "abdomen"),
    (r"lower limb|lower extrem|leg|knee|femor|femur|foot|ankle|tibia|popliteal|ben\b|raaj",
     "legs"),
    (r"upper limb|upper extrem|arm|hand|wrist|elbow|shoulder", "trunk"),
    (r"spine|vertebr|back", "trunk"),
))


def target_landmark(
    regions: list[tuple[str | None, float]], texts: tuple[str, ...] = ()
) -> tuple[str, str]:
    """Choose the phantom landmark for target-region placement.

    Parameters
    ----------
    regions
        (target region, weight) per event; the region with the largest summed weight that maps
        to a landmark wins ("entire body" and None do not map).
    texts
        Further text tried when no region maps (study description, protocol names), e.g. the
        Swedish "Kardiologisk" or "Huvud".

    Returns
    -------
    (landmark, reason)
        A key of ``Phantom.landmarks`` ("heart", "head", "chest", ...) and why it was chosen;
        "trunk" when nothing maps.
    """
    weights: dict[str, float] = {}
    names: dict[str, str] = {}
    for region, wt in regions:
        if not region:
            continue
        lm = _map_text(region)
        if lm is not None:
            weights[lm] = weights.get(lm, 0.0) + max(wt, 0.0) + 1e-30
            names.setdefault(lm, region)
    if weights:
        lm = max(weights, key=lambda k: weights[k])
        why = f"target region {names[lm]!r} of the events (by KAP) maps to landmark {lm!r}"
        if lm == "chest":  # a cardiac study reported as "chest": centre on the heart
            for text in texts:
                if _map_text(text or "") == "heart":
                    return "heart", why + f", refined to 'heart' by the cardiac text {text!r}"
        return lm, why
    for text in texts:
        lm = _map_text(text or "")
        if lm is not None:
            return lm, f"no usable target region; the text {text!r} maps to landmark {lm!r}"
    return "trunk", "no usable target region or description: centred on the trunk"


@functools.lru_cache(maxsize=256)
def _map_text(text: str) -> str | None:
    t = text.lower()
    for pattern, landmark in _REGION_RULES:
        if pattern.search(t):
            return landmark
    return None


def _ray_hits(origin: np.ndarray, direction: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Whether the ray origin + t·direction, t > 0, crosses each triangle (Möller–Trumbore).

    ``origin`` is one point (3,) or one per triangle (n, 3)."""
    v0, v1, v2 = tri[:, 0], tri[:, 1], tri[:, 2]
    e1, e2 = v1 - v0, v2 - v0
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.zeros_like(det)
    inv[ok] = 1.0 / det[ok]
    s = origin - v0
    uu = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    vv = (q @ direction) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    return ok & (uu >= 0) & (vv >= 0) & (uu + vv <= 1) & (t > 1e-9)


def _ray_crossings(origin: np.ndarray, direction: np.ndarray, tri: np.ndarray) -> int:
    """Number of triangles crossed by the ray origin + t·direction, t > 0 (Möller–Trumbore)."""
    return int(np.count_nonzero(_ray_hits(origin, direction, tri)))


_DIRECTION = np.array([0.5773502691896258, 0.5773502691896258, 0.5773502691896258])
_DIRECTION += np.array([1e-3, -2e-3, 3e-3])  # avoid rays along edges of axis-aligned meshes
_DIRECTION /= np.linalg.norm(_DIRECTION)
# an orthonormal basis of the plane perpendicular to the ray direction
_BASIS_A = np.cross(_DIRECTION, [0.0, 0.0, 1.0])
_BASIS_A /= np.linalg.norm(_BASIS_A)
_BASIS_B = np.cross(_DIRECTION, _BASIS_A)
#: slack (mm) of the projected bounding boxes: far above rounding (~1e-13 mm), far below a cell
_SLACK_MM = 1e-3
_PREPARED: dict[int, tuple[np.ndarray, tuple]] = {}


def _prepared(tri: np.ndarray) -> tuple:
    """Per-mesh data, computed once per (read-only) triangle array: bounds and the 2-D boxes.

    Each triangle is projected along the ray direction onto the plane spanned by
    ``_BASIS_A``/``_BASIS_B``; a ray from a point can only cross a triangle whose projected box
    (with ``_SLACK_MM``) contains the point's projection, so the exact Möller–Trumbore test
    runs on those few triangles only and counts exactly the same crossings.
    """
    hit = _PREPARED.get(id(tri))
    if hit is not None and hit[0] is tri:
        return hit[1]
    flat = tri.reshape(-1, 3)
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    pa = (tri @ _BASIS_A)  # (n, 3)
    pb = (tri @ _BASIS_B)
    boxes = (pa.min(axis=1) - _SLACK_MM, pa.max(axis=1) + _SLACK_MM,
             pb.min(axis=1) - _SLACK_MM, pb.max(axis=1) + _SLACK_MM)
    data = (lo, hi, boxes, _bin_grid(*boxes))
    if not tri.flags.writeable:  # only immutable meshes are cached (phantom arrays are)
        if len(_PREPARED) >= 8:
            _PREPARED.pop(next(iter(_PREPARED)))
        _PREPARED[id(tri)] = (tri, data)
    return data


#: Bins per axis of the grid over the projected boxes (the candidates of a point are the
#: triangles whose box overlaps the point's bin: about n / 2000 of them for the adult).
_BINS = 64


def _bin_grid(a_lo: np.ndarray, a_hi: np.ndarray, b_lo: np.ndarray,
              b_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, float, float]:
    """CSR lists of the triangles whose projected box overlaps each bin of a _BINS² grid:
    (start (_BINS² + 1,), triangle ids in ascending order per bin, origin and bin sizes)."""
    n = a_lo.size
    a0, b0 = float(a_lo.min()), float(b_lo.min())
    sa = max(float(a_hi.max()) - a0, 1e-9) / _BINS
    sb = max(float(b_hi.max()) - b0, 1e-9) / _BINS
    ia0 = np.clip(((a_lo - a0) // sa).astype(np.int64), 0, _BINS - 1)
    ia1 = np.clip(((a_hi - a0) // sa).astype(np.int64), 0, _BINS - 1)
    ib0 = np.clip(((b_lo - b0) // sb).astype(np.int64), 0, _BINS - 1)
    ib1 = np.clip(((b_hi - b0) // sb).astype(np.int64), 0, _BINS - 1)
    wa = ia1 - ia0 + 1
    counts = wa * (ib1 - ib0 + 1)
    tri = np.repeat(np.arange(n), counts)
    offs = np.arange(tri.size) - np.repeat(np.cumsum(counts) - counts, counts)
    wa_r = np.repeat(wa, counts)
    cell = (np.repeat(ia0, counts) + offs % wa_r) * _BINS + np.repeat(ib0, counts) + offs // wa_r
    order = np.argsort(cell, kind="stable")
    start = np.searchsorted(cell[order], np.arange(_BINS * _BINS + 1))
    return start, tri[order], a0, b0, sa, sb


def points_inside(phantom: Any, points: np.ndarray) -> np.ndarray:
    """Whether each point lies inside the (closed) phantom surface, by ray-crossing parity.

    One ray per point; the per-mesh data (bounds, projected triangle boxes) is computed once
    per phantom and reused, so a call costs well under a millisecond per point.

    Parameters
    ----------
    phantom
        Anything with ``triangles`` ((n, 3, 3) float64, mm, patient frame).
    points
        (k, 3) float64 points in the patient frame.

    Returns
    -------
    (k,) bool
    """
    tri = phantom.triangles
    if not (isinstance(tri, np.ndarray) and tri.dtype == np.float64):
        tri = np.asarray(tri, dtype=float)
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    lo, hi, (a_lo, a_hi, b_lo, b_hi), (start, ids, a0, b0, sa, sb) = _prepared(tri)
    out = np.zeros(len(pts), dtype=bool)
    which, cands = [], []
    for i, p in enumerate(pts):
        if np.any(p < lo) or np.any(p > hi):
            continue
        pa, pb = p @ _BASIS_A, p @ _BASIS_B
        ka, kb = int((pa - a0) // sa), int((pb - b0) // sb)
        if not (0 <= ka < _BINS and 0 <= kb < _BINS):
            continue  # outside every projected box: no crossing
        near = ids[start[ka * _BINS + kb]:start[ka * _BINS + kb + 1]]
        cand = near[(a_lo[near] <= pa) & (pa <= a_hi[near]) & (b_lo[near] <= pb)
                    & (pb <= b_hi[near])]
        which.append(np.full(cand.size, i))
        cands.append(cand)
    if cands:  # every (point, candidate) pair in one vectorized Möller–Trumbore pass
        w = np.concatenate(which)
        hits = _ray_hits(pts[w], _DIRECTION, tri[np.concatenate(cands)])
        out = np.bincount(w[hits], minlength=len(pts)) % 2 == 1
    return out


def beams_hitting(beams: Any, phantom: Any) -> np.ndarray:
    """Whether each (sub-)beam's field pyramid contains at least one skin-cell centroid.

    Parameters
    ----------
    beams
        A :class:`~skindose.geometry.BeamSet` (or anything with ``source``, ``u``, ``v``,
        ``w``, ``tan_u``, ``tan_v``).
    phantom
        Anything with ``centroids`` ((n, 3) float64, patient frame).

    Returns
    -------
    (k,) bool
    """
    c = np.asarray(phantom.centroids, dtype=float)
    out = np.zeros(len(beams.source), dtype=bool)
    for i in range(len(out)):
        d = c - beams.source[i]
        a = d @ beams.w[i]
        inside = (a > 0) & (np.abs(d @ beams.u[i]) <= beams.tan_u[i] * a)
        inside &= np.abs(d @ beams.v[i]) <= beams.tan_v[i] * a
        out[i] = bool(inside.any())
    return out


def kap_fraction_hitting(beams: Any, procedure: Any, phantom: Any) -> float:
    """KAP-weighted fraction of the placed events whose beams intersect the phantom.

    Σ over placed events of KAP × (weight of its sub-beams that hit), divided by the Σ KAP of
    the placed events (the events with geometry). Events without a KAP count with their
    reference-point kerma instead when no event has a KAP. Returns nan when nothing was placed.
    """
    hits = beams_hitting(beams, phantom)
    idx = np.asarray(beams.event_index)
    wt = np.asarray(beams.weight)
    events = procedure.events
    placed = sorted(set(idx.tolist()))
    if not placed:
        return float("nan")
    kap = np.array([events[i].kap_gym2 or 0.0 for i in placed])
    if not np.any(kap > 0):
        kap = np.array([events[i].kerma_rp_gy or 0.0 for i in placed])
    if not np.any(kap > 0):
        kap = np.ones(len(placed))
    hit_frac = np.array([wt[(idx == i) & hits].sum() for i in placed])
    return float((kap * hit_frac).sum() / kap.sum())
