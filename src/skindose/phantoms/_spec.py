"""Phantom specifications: the TOML files of ``phantoms/`` and the adult layout derived from them.

The TOML files live at the repository root (``phantoms/*.toml``) and are copied verbatim into
the package (``skindose/phantoms/data/``) by ``phantoms/generate.py``; a test checks the copies.
"""

from __future__ import annotations

import functools
import math
import tomllib
from importlib import resources
from typing import Any

__all__ = ["adult_layout", "load_spec", "proportional_zones"]

DATA = "skindose.phantoms.data"


@functools.cache
def _spec_text(name: str) -> str:
    return resources.files(DATA).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def load_spec(name: str) -> dict[str, Any]:
    """The parsed specification ``name`` ("adult", "cylinder", "plane"), a fresh dict each call."""
    return tomllib.loads(_spec_text(name))


@functools.cache
def _adult_layout_cached() -> dict[str, Any]:
    return _layout(load_spec("adult"))


def adult_layout() -> dict[str, Any]:
    """Geometry of the reference adult in the patient frame P, in mm.

    Returns
    -------
    dict
        Part positions and sizes (``head``, ``neck``, ``trunk``, ``arms``, ``legs``), the label
        zone boundaries (``zones``: z in mm of head bottom, trunk top, chest/abdomen,
        abdomen/pelvis, trunk bottom, knee) and the ``landmarks`` ((3,) lists). Every value is
        a float or a list of floats (JSON-safe). A deep copy, safe to modify.
    """
    import copy

    return copy.deepcopy(_adult_layout_cached())


def _layout(spec: dict[str, Any]) -> dict[str, Any]:
    cm = 10.0
    h, n, t, a, g = (spec[k] for k in ("head", "neck", "trunk", "arms", "legs"))
    head_ax, head_ay = h["semi_axis_x_cm"] * cm, h["semi_axis_y_cm"] * cm
    head_cap = h["cap_height_cm"] * cm
    head_bottom = -(head_cap + h["cylinder_length_cm"] * cm)
    head_y = -(head_ay + h["posterior_gap_cm"] * cm)
    trunk_a, trunk_b = t["semi_axis_x_cm"] * cm, t["semi_axis_y_cm"] * cm
    trunk_y = -trunk_b
    trunk_top = head_bottom - n["exposed_length_cm"] * cm
    trunk_len = t["length_cm"] * cm
    trunk_bottom = trunk_top - trunk_len
    chest_end = trunk_top - t["chest_fraction"] * trunk_len
    abdomen_end = chest_end - t["abdomen_fraction"] * trunk_len
    neck_r = n["radius_cm"] * cm
    neck_ov = n["overlap_cm"] * cm

    arm_r0, arm_r1 = a["radius_top_cm"] * cm, a["radius_bottom_cm"] * cm
    arm_x = trunk_a + a["gap_cm"] * cm + arm_r0
    shoulder_z = trunk_top - a["shoulder_drop_cm"] * cm
    tip_z = shoulder_z - a["length_cm"] * cm
    hand_z = tip_z + arm_r1
    inner_x = a["shoulder_inner_x_cm"] * cm
    inner_z = trunk_top - a["shoulder_inner_drop_cm"] * cm

    leg_r0, leg_r1 = g["radius_top_cm"] * cm, g["radius_bottom_cm"] * cm
    leg_len = g["length_cm"] * cm
    leg_x = g["axis_x_cm"] * cm
    leg_bottom = trunk_bottom - leg_len
    leg_top = trunk_bottom + g["overlap_cm"] * cm
    knee = trunk_bottom - g["thigh_fraction"] * leg_len
    hip_z = trunk_bottom + g["hip_length_cm"] * cm
    hip_r = g["hip_radius_cm"] * cm

    def leg_r(z: float) -> float:
        return leg_r0 + (leg_r1 - leg_r0) * (trunk_bottom - z) / leg_len

    hl = spec["landmarks"]["heart"]
    heart = [
        hl["x_cm"] * cm,
        trunk_y - hl["anterior_cm"] * cm,
        trunk_top - hl["below_trunk_top_cm"] * cm,
    ]
    z_leg_mid = trunk_bottom - 0.5 * leg_len
    z_femoral = trunk_bottom - 0.25 * leg_len
    arm_mid = 0.5 * (shoulder_z + hand_z)
    landmarks = {
        "head": [0.0, head_y, 0.5 * head_bottom],
        "neck": [0.0, trunk_y, 0.5 * (head_bottom + trunk_top)],
        "chest": [0.0, trunk_y, 0.5 * (trunk_top + chest_end)],
        "heart": heart,
        "abdomen": [0.0, trunk_y, 0.5 * (chest_end + abdomen_end)],
        "pelvis": [0.0, trunk_y, 0.5 * (abdomen_end + trunk_bottom)],
        "trunk": [0.0, trunk_y, 0.5 * (trunk_top + trunk_bottom)],
        "left_arm": [arm_x, trunk_y, arm_mid],
        "right_arm": [-arm_x, trunk_y, arm_mid],
        "left_leg": [leg_x, -leg_r(z_leg_mid), z_leg_mid],
        "right_leg": [-leg_x, -leg_r(z_leg_mid), z_leg_mid],
        "legs": [-leg_x, -leg_r(z_femoral), z_femoral],
    }
    height = -leg_bottom
    return {
        "height_mm": height,
        "head": {
            "semi_axes": [head_ax, head_ay],
            "center_y": head_y,
            "cap_height": head_cap,
            "z_cap_base": -head_cap,
            "z_bottom": head_bottom,
        },
        "neck": {
            "radius": neck_r,
            "center_y": trunk_y,
            "z_range": [trunk_top - neck_ov, head_bottom + neck_ov],
        },
        "trunk": {
            "semi_axes": [trunk_a, trunk_b],
            "center_y": trunk_y,
            "z_range": [trunk_bottom, trunk_top],
        },
        "arms": {
            "axis_x": arm_x,
            "center_y": trunk_y,
            "radii": [arm_r0, arm_r1],
            "z_shoulder": shoulder_z,
            "z_hand": hand_z,
            "z_tip": tip_z,
            "shoulder_inner": [inner_x, trunk_y, inner_z],
        },
        "legs": {
            "axis_x": leg_x,
            "radii": [leg_r(leg_top), leg_r1],
            "z_range": [leg_bottom, leg_top],
            "hip": {"z": hip_z, "radius": hip_r, "center_y": trunk_y},
        },
        "zones": {
            "head_bottom": head_bottom,
            "trunk_top": trunk_top,
            "chest_end": chest_end,
            "abdomen_end": abdomen_end,
            "trunk_bottom": trunk_bottom,
            "knee": knee,
        },
        "landmarks": landmarks,
    }


def proportional_zones() -> dict[str, float]:
    """Label zone boundaries of the adult as fractions of its height (0 = top, 1 = soles)."""
    lay = _adult_layout_cached()
    h = lay["height_mm"]
    return {k: -v / h for k, v in lay["zones"].items()}


def proportional_landmarks() -> dict[str, float]:
    """Landmark depths of the adult as fractions of its height (0 = top)."""
    lay = _adult_layout_cached()
    h = lay["height_mm"]
    return {k: -v[2] / h for k, v in lay["landmarks"].items()}


def check_positive(**values: float) -> None:
    """Raise :class:`~skindose.errors.GeometryError` unless every value is finite and > 0."""
    from skindose.errors import GeometryError

    for name, value in values.items():
        try:
            ok = math.isfinite(float(value)) and float(value) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise GeometryError(f"{name} must be a positive finite number, got {value!r}")


# -- variants of the adult (arms raised, female) ----------------------------------------------
#: The adult variants: (arms, sex) -> name of the reference mesh / section in adult_variants.toml.
VARIANTS: dict[tuple[str, str], str] = {
    ("down", "male"): "adult",
    ("up", "male"): "arms_up",
    ("down", "female"): "female",
    ("up", "female"): "female_arms_up",
}


def variant_layout(variant: str) -> dict[str, Any]:
    """Geometry of an adult variant at the build size, in mm (like :func:`adult_layout`).

    Parameters
    ----------
    variant
        "adult", "arms_up", "female" or "female_arms_up" (see :data:`VARIANTS`).

    Returns
    -------
    dict
        The adult layout with ``arms["pose"]`` ("down" or "up") and, for the female variants,
        ``breasts`` (centres (2, 3), semi-axes (3,) in mm); a deep copy.
    """
    import copy

    return copy.deepcopy(_variant_layout_cached(variant))


@functools.cache
def _variant_layout_cached(variant: str) -> dict[str, Any]:
    return _variant(load_spec("adult"), load_spec("adult_variants"), variant)


def _variant(adult: dict[str, Any], variants: dict[str, Any], variant: str) -> dict[str, Any]:
    if variant not in VARIANTS.values():
        from skindose.errors import GeometryError

        raise GeometryError(f"unknown adult variant {variant!r}")
    lay = _layout(adult)
    lay["arms"]["pose"] = "down"
    cm = 10.0
    if variant in ("arms_up", "female_arms_up"):
        up = variants["arms_up"]
        arms = lay["arms"]
        length = adult["arms"]["length_cm"] * cm
        r1 = arms["radii"][1]
        arms["axis_x"] = arms["axis_x"] + up["axis_x_offset_cm"] * cm
        arms["pose"] = "up"
        arms["z_tip"] = arms["z_shoulder"] + length
        arms["z_hand"] = arms["z_tip"] - r1
        mid = 0.5 * (arms["z_shoulder"] + arms["z_hand"])
        lay["landmarks"]["left_arm"] = [arms["axis_x"], arms["center_y"], mid]
        lay["landmarks"]["right_arm"] = [-arms["axis_x"], arms["center_y"], mid]
        lay["height_with_arms_mm"] = lay["height_mm"] + arms["z_tip"]
    if variant in ("female", "female_arms_up"):
        fe = variants["female"]
        a, b = lay["trunk"]["semi_axes"]
        cx = fe["breast_centre_x_cm"] * cm
        y_surface = lay["trunk"]["center_y"] - b * math.sqrt(1.0 - (cx / a) ** 2)
        cy = y_surface + fe["breast_centre_depth_cm"] * cm
        cz = lay["zones"]["trunk_top"] - fe["breast_below_trunk_top_cm"] * cm
        lay["breasts"] = {
            "centres": [[cx, cy, cz], [-cx, cy, cz]],
            "semi_axes": [
                fe["breast_semi_axis_x_cm"] * cm,
                fe["breast_semi_axis_y_cm"] * cm,
                fe["breast_semi_axis_z_cm"] * cm,
            ],
        }
    lay["variant"] = variant
    return lay
