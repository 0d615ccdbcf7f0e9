"""Vendor profiles: per-family geometry conventions as TOML data (docs/architecture.md §5).

Each ``*.toml`` file in this package describes one device family: how to recognise it
(manufacturer and model regular expressions), which RDSR table field is the head–foot, lateral
and vertical axis and their signs, where the table-top is relative to the isocenter, whether the
positioner angles are patient- or equipment-based, the default table and mattress, the detector
size, the reference point rule to use when the file has none, and a ``validated`` flag with a
note of what the profile was checked against.

:func:`profile_for` picks the profile for a :class:`~skindose.rdsr.model.Procedure` and says why.
An unknown device gets the generic profile and a reason that says so, never a refusal. A user
TOML file (``Settings.vendor_profile_file``) is deep-merged over the matched profile: every key it
names wins; a top-level ``use = "<profile name>"`` forces the base profile.

Table translation convention (what the geometry consumes): ``t = (t_x, t_y, t_z)`` in the
equipment frame E, where t_x is the table-top displacement toward E +x (the patient's left for
HFS), t_y the displacement toward the head end of the table (the gantry), and t_z the height of
the table-top surface above the isocenter (negative: below). With ``[table]`` keys

* ``lateral``/``lateral_sign``: ``t_x = lateral_sign * event.<lateral>``
* ``head_foot``/``head_foot_sign``: ``t_y = head_foot_sign * event.<head_foot>``
* ``vertical``/``vertical_sign``/``vertical_reference``/``vertical_offset_mm``:
  ``"isocenter"``: ``t_z = vertical_sign * value + vertical_offset_mm``;
  ``"floor_minus_height_of_system"``: ``t_z = vertical_sign * value - height_of_system +
  vertical_offset_mm`` (height of system from the file's private item, else
  ``default_height_of_system_mm``); ``"unknown"``: ``t_z = fixed_table_top_mm``.
"""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from skindose.errors import ConfigurationError
from skindose.notes import Note, NoteCode
from skindose.rdsr.model import ReferencePoint, ReferencePointKind

__all__ = [
    "VERTICAL_REFERENCES",
    "VendorProfile",
    "load_profiles",
    "profile_for",
    "profile_from_dict",
    "profile_notes",
]

VERTICAL_REFERENCES = ("isocenter", "floor_minus_height_of_system", "unknown")
_TABLE_FIELDS = ("table_longitudinal_mm", "table_lateral_mm", "table_height_mm")
_RP_KINDS = ("isocenter offset", "from source", "detector offset", "detector plane")


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorProfile:
    """One vendor family's geometry conventions (read from TOML; see the module docstring).

    Lengths in mm. ``table_transmission`` is a float (normal-incidence T0) or the name of a
    shipped table or estimate (e.g. ``"siemens_axiom_artis"``, ``"generic"``) for the physics
    stage; ``table_measured`` (TOML ``[table] measured = true|false``) says whether that value
    was measured on this table. ``reference_point`` is the profile's reference point rule as
    a :class:`~skindose.rdsr.model.ReferencePoint` (the last step of the model's SRP chain).
    Every default is in ``generic.toml``; other profiles are merged over it.
    """

    name: str
    family: str
    manufacturer_pattern: str
    model_pattern: str
    priority: int
    has_geometry: bool
    angle_basis: str
    primary_sign: float
    secondary_sign: float
    head_foot_field: str | None
    head_foot_sign: float
    lateral_field: str | None
    lateral_sign: float
    vertical_field: str | None
    vertical_sign: float
    vertical_reference: str
    vertical_offset_mm: float
    fixed_table_top_mm: float
    default_height_of_system_mm: float | None
    placement_offset_mm: tuple[float, float, float]
    table_thickness_mm: float
    mattress_thickness_mm: float
    table_width_mm: float
    table_length_mm: float
    table_transmission: float | str
    table_measured: bool
    detector_size_mm: float
    default_sod_mm: float | None
    reference_point_kind: str
    reference_point_distance_mm: float | None
    validated: bool
    validation_note: str
    source: str
    reference_point: ReferencePoint | None = field(default=None, compare=False)

    def matches(self, manufacturer: str, model: str) -> bool:
        """True when both the manufacturer and the model match this profile's patterns."""
        return bool(
            re.search(self.manufacturer_pattern, manufacturer or "")
            and re.search(self.model_pattern, model or "")
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of every key."""
        return {name: getattr(self, name) for name in self.__slots__
                if name != "reference_point"}


def _get(d: dict[str, Any], section: str, key: str, default: Any = ...) -> Any:
    sec = d.get(section, {})
    if not isinstance(sec, dict):
        raise ConfigurationError(f"[{section}] must be a table")
    if key in sec:
        return sec[key]
    if default is ...:
        raise ConfigurationError(f"vendor profile {d.get('name', '?')!r}: missing {section}.{key}")
    return default


def _field(value: Any, what: str) -> str | None:
    if value in (None, "", "none"):
        return None
    if value not in _TABLE_FIELDS:
        raise ConfigurationError(f"{what} must be one of {_TABLE_FIELDS} or 'none', not {value!r}")
    return str(value)


def _sign(value: Any, what: str) -> float:
    if value not in (1, -1, 1.0, -1.0):
        raise ConfigurationError(f"{what} must be +1 or -1, not {value!r}")
    return float(value)


#: Sections of generic.toml that are identity, not defaults: never inherited.
_IDENTITY = ("name", "family", "match", "validation")


def profile_from_dict(d: dict[str, Any], *, source: str = "<dict>") -> VendorProfile:
    """Build and validate a :class:`VendorProfile` from a parsed TOML mapping.

    Every key the mapping does not name comes from ``generic.toml`` (the one place of the
    defaults), except the identity sections (name, family, match, validation).
    """
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"{source}: a vendor profile needs a 'name'")
    generic = {k: v for k, v in _shipped_raw()["generic"][0].items() if k not in _IDENTITY}
    d = _merge(generic, d)
    basis = _get(d, "angles", "basis")
    if basis not in ("patient", "equipment"):
        raise ConfigurationError(f"{source}: angles.basis must be 'patient' or 'equipment'")
    vref = _get(d, "table", "vertical_reference")
    if vref not in VERTICAL_REFERENCES:
        raise ConfigurationError(f"{source}: table.vertical_reference must be one of "
                                 f"{VERTICAL_REFERENCES}, not {vref!r}")
    offset = tuple(float(x) for x in _get(d, "placement", "origin_offset_mm"))
    if len(offset) != 3:
        raise ConfigurationError(f"{source}: placement.origin_offset_mm needs 3 numbers")
    trans = _get(d, "table", "transmission")
    if not isinstance(trans, str):
        trans = float(trans)
        if not 0 < trans <= 1:
            raise ConfigurationError(f"{source}: table.transmission must be in (0, 1]")
    measured = _get(d, "table", "measured")
    if not isinstance(measured, bool):
        raise ConfigurationError(f"{source}: table.measured must be true or false, not "
                                 f"{measured!r}")
    rp_kind = _get(d, "reference_point", "kind")
    if rp_kind not in _RP_KINDS:
        raise ConfigurationError(f"{source}: reference_point.kind must be one of {_RP_KINDS}")
    rp_dist = _get(d, "reference_point", "distance_mm", None)
    hos = _get(d, "table", "default_height_of_system_mm", None)
    sod = _get(d, "geometry", "default_sod_mm", None)
    try:
        re.compile(_get(d, "match", "manufacturer", ".*"))
        re.compile(_get(d, "match", "model", ".*"))
    except re.error as exc:
        raise ConfigurationError(f"{source}: bad match pattern: {exc}") from None
    return VendorProfile(
        name=name,
        family=str(d.get("family", name)),
        manufacturer_pattern=str(_get(d, "match", "manufacturer", ".*")),
        model_pattern=str(_get(d, "match", "model", ".*")),
        priority=int(_get(d, "match", "priority", 0)),
        has_geometry=bool(_get(d, "geometry", "has_geometry")),
        angle_basis=basis,
        primary_sign=_sign(_get(d, "angles", "primary_sign"), "angles.primary_sign"),
        secondary_sign=_sign(_get(d, "angles", "secondary_sign"), "angles.secondary_sign"),
        head_foot_field=_field(_get(d, "table", "head_foot"), "head_foot"),
        head_foot_sign=_sign(_get(d, "table", "head_foot_sign"), "table.head_foot_sign"),
        lateral_field=_field(_get(d, "table", "lateral"), "lateral"),
        lateral_sign=_sign(_get(d, "table", "lateral_sign"), "table.lateral_sign"),
        vertical_field=_field(_get(d, "table", "vertical"), "vertical"),
        vertical_sign=_sign(_get(d, "table", "vertical_sign"), "table.vertical_sign"),
        vertical_reference=vref,
        vertical_offset_mm=float(_get(d, "table", "vertical_offset_mm")),
        fixed_table_top_mm=float(_get(d, "table", "fixed_table_top_mm")),
        default_height_of_system_mm=None if hos is None else float(hos),
        placement_offset_mm=offset,  # type: ignore[arg-type]
        table_thickness_mm=float(_get(d, "table", "thickness_mm")),
        mattress_thickness_mm=float(_get(d, "table", "mattress_thickness_mm")),
        table_width_mm=float(_get(d, "table", "width_mm")),
        table_length_mm=float(_get(d, "table", "length_mm")),
        table_transmission=trans,
        table_measured=measured,
        detector_size_mm=float(_get(d, "detector", "size_mm")),
        default_sod_mm=None if sod is None else float(sod),
        reference_point_kind=rp_kind,
        reference_point_distance_mm=None if rp_dist is None else float(rp_dist),
        validated=bool(_get(d, "validation", "validated", False)),
        validation_note=str(_get(d, "validation", "note", "")),
        source=source,
        reference_point=ReferencePoint(
            kind=ReferencePointKind(rp_kind),
            distance_mm=None if rp_dist is None else float(rp_dist),
            text=f"profile {name!r} rule: {rp_kind} {rp_dist} mm"),
    )


def profile_notes(profile: VendorProfile) -> list[Note]:
    """The warnings a result carries about its vendor profile (generic, not validated)."""
    if profile.name == "generic":
        return [Note(code=NoteCode.GENERIC_PROFILE, stage="geometry",
                     text="no vendor profile matches this device: the generic DICOM profile "
                     "is used")]
    if not profile.validated:
        return [Note(code=NoteCode.VENDOR_NOT_VALIDATED, stage="geometry",
                     text=f"the {profile.family} profile is not validated against measurements "
                     "on the system: table conventions come from the DICOM definitions and "
                     "public files, placement centres the beams on the target region")]
    return []


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


@functools.cache
def _shipped_raw() -> dict[str, tuple[dict[str, Any], str]]:
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped files are tested
            raise ConfigurationError(f"vendor profile {entry.name}: {exc}") from None
        out[data["name"]] = (data, f"skindose/vendors/{entry.name}")
    return out


def _raw_profiles() -> dict[str, tuple[dict[str, Any], str]]:
    """The shipped TOML mappings (read once per process; a deep copy for each caller)."""
    return copy.deepcopy(_shipped_raw())


@functools.cache
def _shipped() -> dict[str, VendorProfile]:
    return {n: profile_from_dict(d, source=s) for n, (d, s) in _shipped_raw().items()}


def load_profiles() -> dict[str, VendorProfile]:
    """All shipped profiles by name (built once per process)."""
    return dict(_shipped())


def _read_user_file(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{p}: cannot read vendor profile override: {exc}") from None


def profile_for(procedure: Any, settings: Any = None) -> tuple[VendorProfile, str]:
    """The vendor profile for a procedure and the reason it was chosen.

    Parameters
    ----------
    procedure
        A :class:`~skindose.rdsr.model.Procedure`; ``device.manufacturer`` and
        ``device.model`` (the header model, or the observer-context model when the reader
        falls back to it) are matched against each profile's regular expressions. The
        matching profile with the highest priority wins; ``generic`` when none matches.
    settings
        Optional :class:`~skindose.settings.Settings`; its ``vendor_profile_file`` (a TOML
        file) is deep-merged over the chosen profile.

    Returns
    -------
    (VendorProfile, str)
        The profile and a plain-words reason.
    """
    raw = _shipped_raw()  # read-only here: _merge copies what it changes
    device = getattr(procedure, "device", None)
    manufacturer = (getattr(device, "manufacturer", "") or "").strip()
    model = (getattr(device, "model", "") or "").strip()
    user_file = getattr(settings, "vendor_profile_file", None) if settings is not None else None
    user = _read_user_file(user_file) if user_file else None

    forced = user.get("use") if user else None
    if forced is not None:
        if forced not in raw:
            raise ConfigurationError(f"{user_file}: use = {forced!r} is not a shipped profile "
                                     f"({', '.join(sorted(raw))})")
        base, src = raw[forced]
        reason = f"profile {forced!r} forced by {user_file}"
    else:
        candidates = []
        for name, prof in _shipped().items():
            if name != "generic" and prof.matches(manufacturer, model):
                candidates.append((prof.priority, name))
        if candidates:
            name = max(candidates)[1]
            base, src = raw[name]
            reason = (f"manufacturer {manufacturer!r} and model {model!r} match profile "
                      f"{name!r} ({base.get('family', name)})")
        else:
            base, src = raw["generic"]
            reason = (f"no vendor profile matches manufacturer {manufacturer!r} and model "
                      f"{model!r}: using the generic DICOM-convention profile")
    if user:
        over = {k: v for k, v in user.items() if k not in ("use", "name")}
        base = _merge(base, over)
        src = f"{src} + {user_file}"
        if over:
            reason += f"; keys overridden by {user_file}: {', '.join(sorted(over))}"
    if not user:
        return _shipped()[base["name"]], reason
    return profile_from_dict(base, source=src), reason
