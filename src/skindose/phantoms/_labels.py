"""Anatomical labels of skin cells: region (head, chest, left arm, ...) and facing direction.

Two schemes, chosen by ``Phantom.spec["labels"]["scheme"]``:

``"adult"``
    The stylized adult: parts are told apart by their closed-form geometry, evaluated in the
    reference phantom's coordinates (the point divided by the scale factors).
``"proportional"``
    Cylinder, plane and loaded meshes: the body is cut along z at the adult's zone boundaries
    as fractions of the phantom's height; left and right come from the sign of x.

The facing (posterior, anterior, left, right, superior, inferior) comes from the cell's outward
normal; +x is the patient's left and +y posterior (patient frame P).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["REGION_GROUPS", "classify", "describe"]

_TRUNK = ("chest", "abdomen", "pelvis")

#: Names accepted by ``Phantom.cells_in_region`` besides the region and facing names.
REGION_GROUPS: dict[str, tuple[str, ...]] = {
    "trunk": ("chest", "abdomen", "pelvis", "left_shoulder", "right_shoulder", "left_breast",
              "right_breast"),
    "breasts": ("left_breast", "right_breast"),
    "arms": ("left_arm", "right_arm"),
    "shoulders": ("left_shoulder", "right_shoulder"),
    "legs": ("left_thigh", "right_thigh", "left_lower_leg", "right_lower_leg"),
    "left_leg": ("left_thigh", "left_lower_leg"),
    "right_leg": ("right_thigh", "right_lower_leg"),
    "thighs": ("left_thigh", "right_thigh"),
}
REGIONS = (
    "head",
    "neck",
    "left_shoulder",
    "right_shoulder",
    "chest",
    "abdomen",
    "pelvis",
    "left_arm",
    "right_arm",
    "left_thigh",
    "right_thigh",
    "left_lower_leg",
    "right_lower_leg",
    "left_breast",
    "right_breast",
)
FACINGS = ("posterior", "anterior", "left", "right", "superior", "inferior")


def facing(normals: NDArray[np.float64]) -> NDArray[np.str_]:
    """Dominant direction of each outward normal, (n,) str from :data:`FACINGS`."""
    n = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    h = np.hypot(n[:, 0], n[:, 1])
    out = np.where(n[:, 0] >= 0, "left", "right").astype("<U9")
    out[n[:, 1] > 0.6 * h] = "posterior"
    out[n[:, 1] < -0.6 * h] = "anterior"
    out[n[:, 2] > 0.7] = "superior"
    out[n[:, 2] < -0.7] = "inferior"
    return out


def _zone_by_z(z: NDArray[np.float64], x: NDArray[np.float64], zones: dict[str, float]):
    side = np.where(x >= 0, "left", "right")
    region = np.full(len(z), "head", dtype="<U16")
    region[z <= zones["head_bottom"]] = "neck"
    region[z <= zones["trunk_top"]] = "chest"
    region[z <= zones["chest_end"]] = "abdomen"
    region[z <= zones["abdomen_end"]] = "pelvis"
    thigh = z <= zones["trunk_bottom"]
    region[thigh] = np.char.add(side[thigh], "_thigh")
    lower = z <= zones["knee"]
    region[lower] = np.char.add(side[lower], "_lower_leg")
    return region, side


def classify(
    points: NDArray[np.float64], normals: NDArray[np.float64], labels: dict[str, Any]
) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """Region and facing of each point.

    Parameters
    ----------
    points
        (n, 3) float64 points on the skin (cell centroids), patient frame, mm.
    normals
        (n, 3) float64 outward unit normals.
    labels
        ``Phantom.spec["labels"]``.

    Returns
    -------
    region, facing
        (n,) str arrays with values from :data:`REGIONS` and :data:`FACINGS`.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    face = facing(normals)
    if labels["scheme"] == "adult":
        p = p / np.asarray(labels["scale"], dtype=np.float64)
        lay = labels["layout"]
        zones = lay["zones"]
        x, y, z = p.T
        region, side = _zone_by_z(z, x, zones)
        ax = np.abs(x)
        # neck level: outside the neck cylinder is the shoulder cap
        a, b = lay["trunk"]["semi_axes"]
        arms = lay["arms"]
        r0 = arms["radii"][0]
        neck_lvl = (z <= zones["head_bottom"]) & (z > zones["trunk_top"])
        shoulder = neck_lvl & (ax > lay["neck"]["radius"] + 5.0)
        # arm vs thigh near the crotch: split halfway between the thigh's outer edge and the
        # arm's inner edge at the trunk bottom (the hands reach past the crotch)
        legs = lay["legs"]
        z_sh, z_hand = arms["z_shoulder"], arms["z_hand"]
        r_tb = r1 = arms["radii"][1]
        if z_sh > z_hand:
            r_tb = r1 + (r0 - r1) * (zones["trunk_bottom"] - z_hand) / (z_sh - z_hand)
        arm_inner = arms["axis_x"] - max(r_tb, r1)
        leg_outer = legs["axis_x"] + legs["radii"][0]
        split = 0.5 * (arm_inner + leg_outer) if arm_inner > leg_outer else arm_inner - 5.0
        # trunk level: outside the trunk ellipse = arm, or shoulder near the top; the thighs
        # reach into the trunk and may stick out of it just above the crotch
        trunk_lvl = (z <= zones["trunk_top"]) & (z > zones["trunk_bottom"])
        ell = (x / a) ** 2 + ((y - lay["trunk"]["center_y"]) / b) ** 2
        outside = trunk_lvl & (ell > 1.0 + 2.0 / b) & (ax > 0.5 * a)
        outside &= ~((z <= legs["hip"]["z"]) & (ax < split))
        breast = np.zeros(len(z), dtype=bool)
        if "breasts" in lay:  # female variants: outside the trunk inside the breast ellipsoids
            sem = np.asarray(lay["breasts"]["semi_axes"], dtype=np.float64)
            for c in lay["breasts"]["centres"]:
                q = ((p - np.asarray(c)) / sem) ** 2
                breast |= outside & (q.sum(axis=1) <= 1.0 + 4.0 / float(sem.min()))
            outside &= ~breast
        sh_bottom = arms["shoulder_inner"][2] - r0
        shoulder |= outside & (z > sh_bottom) & (ax < arms["axis_x"])
        if arms.get("pose") == "up":
            # raised arms: above the shoulder joint, beside the neck and the head
            above = (z > zones["trunk_top"]) & (ax > 0.5 * (arms["axis_x"] - r0
                                                            + lay["head"]["semi_axes"][0]))
            shoulder &= ~above
            arm = above | (outside & ~shoulder & (z > arms["z_shoulder"] - r0 - 1.0))
        else:
            arm = outside & ~shoulder
            # below the trunk: the hands reach past the crotch, beside the thighs
            arm |= (z <= zones["trunk_bottom"]) & (z >= arms["z_tip"] - 1.0) & (ax > split)
        region[shoulder] = np.char.add(side[shoulder], "_shoulder")
        region[arm] = np.char.add(side[arm], "_arm")
        region[breast] = np.char.add(side[breast], "_breast")
        return region, face
    z_top = labels["top_z_mm"]
    height = labels["height_mm"]
    zones = {k: z_top - f * height for k, f in labels["fractions"].items()}
    region, _ = _zone_by_z(p[:, 2], p[:, 0], zones)
    return region, face


def _midline(x_mm: float) -> str:
    cm = round(abs(x_mm) / 10.0)
    if cm == 0:
        return "on the midline"
    return f"{cm} cm {'left' if x_mm > 0 else 'right'} of midline"


_BACK = {"chest": "upper back", "abdomen": "lower back", "pelvis": "posterior pelvis"}
_HEAD = {
    "posterior": "back of head",
    "anterior": "face",
    "superior": "top of head",
    "inferior": "under the chin",
}
_NECK = {"posterior": "back of neck", "anterior": "front of neck"}


def describe(region: str, face: str, x_mm: float, normal_x: float) -> str:
    """Human-readable location, e.g. ``"upper back, 4 cm left of midline"``.

    Parameters
    ----------
    region, face
        One value of :data:`REGIONS` and :data:`FACINGS`.
    x_mm
        Lateral coordinate of the point (patient frame, + = patient left).
    normal_x
        x component of the outward normal (tells lateral from medial on a limb).
    """
    lateral = face in ("left", "right")
    if region in _TRUNK:
        if face == "posterior":
            return f"{_BACK[region]}, {_midline(x_mm)}"
        if face == "anterior":
            return f"anterior {region}, {_midline(x_mm)}"
        if lateral:
            return f"{face} lateral {region}"
        if face == "superior":
            return "top of left shoulder" if x_mm > 0 else "top of right shoulder"
        return "perineum" if region == "pelvis" else f"inferior {region}"
    if region == "head":
        if lateral:
            return f"{face} side of head"
        text = _HEAD[face]
        return f"{text}, {_midline(x_mm)}" if face in ("posterior", "anterior") else text
    if region == "neck":
        if lateral:
            return f"{face} side of neck"
        if face in _NECK:
            return f"{_NECK[face]}, {_midline(x_mm)}"
        return "neck"
    side, _, part = region.partition("_")
    part = part.replace("_", " ")
    if part in ("shoulder", "arm", "breast"):
        return f"{side} {part}"
    if face == "inferior":
        return f"sole of {side} foot" if part == "lower leg" else f"underside of {side} {part}"
    if face == "superior":
        return f"{side} hip"
    if lateral:
        outward = (normal_x > 0) == (side == "left")
        return f"{'lateral' if outward else 'medial'} {side} {part}"
    return f"{face} {side} {part}"
