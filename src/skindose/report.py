"""Reports and exports of a :class:`~skindose.dosemap.SkinDoseMap`.

* :func:`write_report` - one self-contained HTML file (figures embedded as base64 PNG, no external
  CSS, JavaScript, fonts or links), every text from the RDSR escaped;
* :func:`export_ply` - the dose map as a binary PLY with a ``dose_gy`` property per vertex and
  per face (ParaView, 3D Slicer, MeshLab, trimesh);
* :func:`export_npz` - the arrays (dose, cell geometry, mesh, timeline, per-event values);
* :func:`write_summary` - ``summary.json`` (:meth:`SkinDoseMap.summary`), checked against
  :data:`SUMMARY_SCHEMA` first;
* :func:`save` - all of the above into one folder.

``summary.json`` schema
-----------------------
:data:`SUMMARY_SCHEMA` (JSON Schema draft 2020-12, the subset ``type``, ``required``,
``properties``, ``additionalProperties``, ``items``, ``enum``) documents every field; its
``schema_version`` field is :data:`skindose.dosemap.SUMMARY_SCHEMA_VERSION`. A minor version
adds fields only; a major version renames or removes them. :func:`validate_summary` checks a
dictionary against it without any third-party package.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from skindose.dosemap import SUMMARY_SCHEMA_VERSION

try:  # added to dosemap alongside this module; keep working with an older dosemap
    from skindose.dosemap import KAP_CHECK_RANGE
except ImportError:  # pragma: no cover
    KAP_CHECK_RANGE = (0.75, 1.25)
from skindose.plotting import _sig3, format_angles, format_gy

__all__ = [
    "SUMMARY_SCHEMA",
    "export_npz",
    "export_ply",
    "read_ply_dose",
    "save",
    "summary_errors",
    "validate_summary",
    "vertex_dose",
    "write_report",
    "write_summary",
]

# ----------------------------------------------------------------------------------------------
# summary.json schema

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_STR_OR_NULL = {"type": ["string", "null"]}
_OBJ = {"type": "object"}
_POINT = {"type": "array", "items": {"type": ["number", "null"]},
          "description": "(x, y, z) in the patient frame, mm (+x left, +y posterior, +z head)"}

_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["index", "procedure_index", "uid", "kerma_rp_gy", "kap_gym2",
                 "entrance_point_mm", "entrance_label", "max_dose_gy", "skin_factor",
                 "field_side_skin_cm", "kap_check", "skipped"],
    "properties": {
        "index": {"type": "integer", "description": "position in its RDSR (0-based)"},
        "procedure_index": {"type": "integer", "description": "which input RDSR (0-based)"},
        "uid": {"type": "string", "description": "Irradiation Event UID"},
        "kerma_rp_gy": {**_NUM_OR_NULL, "description": "reported K_RP, Gy"},
        "kap_gym2": {**_NUM_OR_NULL, "description": "reported KAP, Gy·m²"},
        "entrance_point_mm": {"type": ["array", "null"], "items": _NUM_OR_NULL,
                              "description": "central ray entrance on the skin, mm, or null"},
        "entrance_label": {**_STR_OR_NULL, "description": "anatomical label of the entrance"},
        "max_dose_gy": {**_NUM_OR_NULL, "description": "largest cell dose of this event, Gy"},
        "skin_factor": {**_NUM_OR_NULL, "description": "BSF × f × C_cal × factors on K_RP"},
        "field_side_skin_cm": {**_NUM_OR_NULL,
                               "description": "equivalent square field at the skin, cm"},
        "kap_check": {**_NUM_OR_NULL, "description": "KAP / (K_RP × field area at the RP)"},
        "skipped": {**_STR_OR_NULL, "description": "why the event gave no map contribution"},
    },
}

#: JSON Schema of ``summary.json`` (:meth:`skindose.dosemap.SkinDoseMap.summary`).
SUMMARY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://skindose.invalid/schema/summary.schema.json",
    "title": "skindose summary",
    "description": ("Peak skin dose result of one skindose run. Units: Gy, m² (areas), mm "
                    "(coordinates, patient frame P), Gy·m² (KAP)."),
    "type": "object",
    "required": ["schema_version", "software", "psd_gy", "psd_location",
                 "is_reference_point_estimate", "reference_point_estimate_gy",
                 "areas_above_m2", "reference_totals", "phantom", "procedures",
                 "psd_timeline", "events", "settings", "provenance", "warnings"],
    "properties": {
        "schema_version": {"type": "string", "enum": [SUMMARY_SCHEMA_VERSION],
                           "description": "version of this schema"},
        "software": {"type": "object", "required": ["name", "version"],
                     "properties": {"name": {"type": "string", "enum": ["skindose"]},
                                    "version": {"type": "string"}}},
        "psd_gy": {**_NUM_OR_NULL, "description": "peak skin dose (largest cell dose, a point "
                   "value), Gy; "
                   "the reference-point estimate when is_reference_point_estimate"},
        "psd_location": {
            "type": ["object", "null"], "required": ["point_mm", "label", "cell"],
            "properties": {"point_mm": _POINT, "label": {"type": "string"},
                           "cell": {"type": "integer"}},
            "description": "where the PSD is; null for a reference-point estimate"},
        "is_reference_point_estimate": {"type": "boolean",
                                        "description": "true when no map could be made"},
        "reference_point_estimate_gy": {
            **_NUM_OR_NULL,
            "description": ("Σ K_RP × BSF × f × C_cal with no table attenuation (an upper "
                            "bound), Gy")},
        "psd_1cm2_gy": {**_NUM_OR_NULL,
                        "description": ("PSD averaged over 1 cm² of skin, Gy: the largest "
                                        "area-weighted mean over the cells whose centroids lie "
                                        "within √(1 cm²/π) of a cell's centroid and whose "
                                        "normals are within 60° of its normal "
                                        "(SkinDoseMap.psd_averaged_gy); the reference-point "
                                        "estimate when is_reference_point_estimate")},
        "psd_10cm2_gy": {**_NUM_OR_NULL,
                         "description": "as psd_1cm2_gy, averaged over 10 cm², Gy"},
        "areas_above_m2": {"type": "object", "additionalProperties": _NUM_OR_NULL,
                           "description": "threshold in Gy (as text) -> skin area at or "
                                          "above it, m²"},
        "reference_totals": {**_OBJ, "description": "Σ K_RP, Σ KAP and reported totals"},
        "phantom": {"type": "object", "required": ["name", "n_cells", "total_area_m2", "spec"],
                    "properties": {"name": {"type": "string"},
                                   "n_cells": {"type": "integer"},
                                   "total_area_m2": _NUM_OR_NULL,
                                   "spec": _OBJ}},
        "procedures": {"type": "array", "items": _OBJ,
                       "description": "source, device, patient, study of each input RDSR"},
        "psd_timeline": {"type": "object", "required": ["events", "psd_gy"],
                         "properties": {"events": {"type": "array",
                                                   "items": {"type": "integer"}},
                                        "psd_gy": {"type": "array", "items": _NUM_OR_NULL}},
                         "description": "PSD (Gy) after the first events[i] events"},
        "dose_area_histogram": {
            "type": "object", "required": ["dose_gy", "area_m2"],
            "properties": {"dose_gy": {"type": "array", "items": _NUM_OR_NULL},
                           "area_m2": {"type": "array", "items": _NUM_OR_NULL}},
            "description": "cumulative: skin area (m²) at or above each dose level (Gy)"},
        "n_events": {"type": "integer"},
        "n_events_skipped": {"type": "integer",
                             "description": "events that gave no map contribution"},
        "kap_check_flagged": {"type": "array",
                              "items": {"type": "array", "items": {"type": "integer"}},
                              "description": "[procedure_index, index] of events whose "
                                             "KAP check is outside KAP_CHECK_RANGE"},
        "events": {"type": "array", "items": _EVENT_SCHEMA},
        "settings": {**_OBJ, "description": "Settings used"},
        "provenance": {"type": "array", "items": {"type": "string"},
                       "description": "every assumption, in plain words"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: (isinstance(v, int | float) and not isinstance(v, bool)
                         and math.isfinite(v)),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def summary_errors(d: Any, schema: Mapping[str, Any] | None = None, path: str = "$") -> list[str]:
    """Every way ``d`` breaks ``schema`` (default :data:`SUMMARY_SCHEMA`); empty when valid.

    Supports the JSON Schema keywords ``type`` (a name or a list), ``enum``, ``required``,
    ``properties``, ``additionalProperties`` (bool or schema) and ``items`` (one schema).
    """
    schema = SUMMARY_SCHEMA if schema is None else schema
    errors: list[str] = []
    t = schema.get("type")
    if t is not None:
        names = [t] if isinstance(t, str) else list(t)
        if not any(_TYPES[n](d) for n in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(d).__name__} {d!r:.60}"]
    if "enum" in schema and d not in schema["enum"]:
        errors.append(f"{path}: {d!r} is not one of {schema['enum']!r}")
    if isinstance(d, dict):
        for key in schema.get("required", ()):
            if key not in d:
                errors.append(f"{path}: missing required field {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in d.items():
            if key in props:
                errors += summary_errors(value, props[key], f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected field {key!r}")
            elif isinstance(extra, Mapping):
                errors += summary_errors(value, extra, f"{path}.{key}")
    if isinstance(d, list) and "items" in schema:
        for i, value in enumerate(d):
            errors += summary_errors(value, schema["items"], f"{path}[{i}]")
    return errors


def validate_summary(d: Any) -> None:
    """Raise ``ValueError`` listing every problem unless ``d`` matches :data:`SUMMARY_SCHEMA`."""
    errors = summary_errors(d)
    if errors:
        raise ValueError("summary does not match its schema:\n  " + "\n  ".join(errors))


# ----------------------------------------------------------------------------------------------
# exports


def vertex_dose(result: Any) -> np.ndarray:
    """(n_vertices,) float64: per-vertex dose, the area-weighted mean of the adjacent faces."""
    mesh = result.phantom.mesh
    faces = np.asarray(mesh.faces, dtype=np.int64)
    nv = len(mesh.vertices)
    area = np.asarray(result.phantom.areas_mm2, dtype=float)
    dose = np.asarray(result.dose_gy, dtype=float)
    w = np.bincount(faces.ravel(), weights=np.repeat(area, 3), minlength=nv)
    s = np.bincount(faces.ravel(), weights=np.repeat(area * dose, 3), minlength=nv)
    return np.divide(s, w, out=np.zeros(nv), where=w > 0)


def read_ply_dose(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(per-face, per-vertex) ``dose_gy`` of a PLY written by :func:`export_ply` (via trimesh)."""
    import trimesh

    mesh = trimesh.load(str(path), file_type="ply", process=False)
    raw = mesh.metadata.get("_ply_raw", {})
    face = np.asarray(raw["face"]["data"]["dose_gy"], dtype=np.float64).reshape(-1)
    vertex = np.asarray(raw["vertex"]["data"]["dose_gy"], dtype=np.float64).reshape(-1)
    return face, vertex


def export_ply(result: Any, path: str | os.PathLike[str], *, with_colors: bool = True) -> Path:
    """Write the dose map as a binary PLY with ``dose_gy`` per vertex and per face.

    The per-face value is the cell dose (Gy, float64); the per-vertex value the area-weighted
    mean of the faces around the vertex. Coordinates in mm (float32), patient frame P. With
    ``with_colors`` the vertices also carry RGBA colours on the figures' colour scale, so
    viewers that ignore custom properties still show the map. The file is read back with
    trimesh to check that the face doses survived.

    Returns
    -------
    Path
    """
    import trimesh

    path = Path(path)
    src = result.phantom.mesh
    mesh = trimesh.Trimesh(vertices=np.asarray(src.vertices, dtype=float),
                           faces=np.asarray(src.faces, dtype=np.int64), process=False)
    dose = np.ascontiguousarray(result.dose_gy, dtype=np.float64)
    mesh.face_attributes["dose_gy"] = dose
    vdose = vertex_dose(result)
    mesh.vertex_attributes["dose_gy"] = vdose
    if with_colors:
        from skindose.plotting import dose_rgba

        mesh.visual.vertex_colors = dose_rgba(vdose, vmax=float(dose.max()) or None)
    path.write_bytes(mesh.export(file_type="ply", encoding="binary"))
    got, _ = read_ply_dose(path)
    if got.shape != dose.shape or not np.array_equal(got, dose):
        raise RuntimeError(f"{path}: the PLY did not read back with the same face doses")
    return path


def export_npz(result: Any, path: str | os.PathLike[str]) -> Path:
    """Write the result's arrays to a compressed ``.npz`` (loads with ``allow_pickle=False``).

    Arrays: ``dose_gy`` (n,) per cell, ``centroids`` (n, 3) mm, ``normals`` (n, 3),
    ``areas_mm2`` (n,), ``vertices`` (v, 3) mm, ``faces`` (n, 3), ``vertex_dose_gy`` (v,),
    ``psd_timeline_gy`` / ``psd_timeline_event`` (m,), ``event_index``,
    ``event_procedure_index``, ``event_max_dose_gy``, ``event_kerma_rp_gy``,
    ``event_kap_gym2`` (k,), ``event_entrance_point_mm`` (k, 3; NaN where none),
    ``psd_gy`` (), ``schema_version`` () and ``summary_json`` () (the summary as JSON text).

    Returns
    -------
    Path
    """
    path = Path(path)
    ph = result.phantom
    ev = result.events

    def col(attr: str) -> np.ndarray:
        return np.array([np.nan if getattr(e, attr) is None else getattr(e, attr) for e in ev],
                        dtype=float)

    entrance = np.full((len(ev), 3), np.nan)
    for i, e in enumerate(ev):
        if e.entrance_point_mm is not None:
            entrance[i] = e.entrance_point_mm
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            dose_gy=np.asarray(result.dose_gy, dtype=float),
            centroids=np.asarray(ph.centroids), normals=np.asarray(ph.normals),
            areas_mm2=np.asarray(ph.areas_mm2),
            vertices=np.asarray(ph.mesh.vertices, dtype=float),
            faces=np.asarray(ph.mesh.faces, dtype=np.int64),
            vertex_dose_gy=vertex_dose(result),
            psd_timeline_gy=np.asarray(result.psd_timeline_gy, dtype=float),
            psd_timeline_event=np.asarray(result.psd_timeline_event, dtype=np.int64),
            event_index=np.array([e.index for e in ev], dtype=np.int64),
            event_procedure_index=np.array([e.procedure_index for e in ev], dtype=np.int64),
            event_max_dose_gy=col("max_dose_gy"), event_kerma_rp_gy=col("kerma_rp_gy"),
            event_kap_gym2=col("kap_gym2"), event_entrance_point_mm=entrance,
            psd_gy=np.float64(result.psd_gy),
            schema_version=np.str_(SUMMARY_SCHEMA_VERSION),
            summary_json=np.str_(json.dumps(result.summary(), allow_nan=False)),
        )
    return path


def write_summary(result: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``result.summary()`` as JSON after checking it against :data:`SUMMARY_SCHEMA`.

    Raises
    ------
    ValueError
        When the summary does not match the schema (nothing is written).
    """
    d = result.summary()
    validate_summary(d)
    path = Path(path)
    path.write_text(json.dumps(d, indent=2, allow_nan=False, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# HTML report

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0 auto;max-width:1150px;padding:1.2em 1.6em;color:#1b1b1b;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0 .6em}h2{font-size:1.25em;margin:1.6em 0 .5em;
 border-bottom:2px solid #d0d7de;padding-bottom:.2em}h3{font-size:1.05em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.psd{background:#eef5fb;border-left:6px solid #0072B2;padding:.8em 1.1em;margin:.6em 0 1em}
.psd .v{font-size:2.1em;font-weight:700;color:#0b4f7c}
.rp{background:#fff4e5;border-left:6px solid #D55E00}
.warn li{color:#8a3b00}.muted{color:#5a6570;font-size:.9em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
figcaption{font-size:.9em;color:#39424a}
.events{font-size:.82em}.events td,.events th{padding:.15em .4em}
tr.skip td{color:#6b6b6b;background:#fafafa}.nw{white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:1.5em}
.totals td:first-child,.totals th:first-child,.totals td.n{white-space:nowrap}
@media print{body{max-width:none}figure{break-inside:avoid}}
"""

_FIGURE_CAPTIONS = {
    "dose_views": ("Skin dose on the phantom from the front, back and both sides (one colour "
                   "scale in Gy; grey: no dose). The red circle marks the peak skin dose; "
                   "corner letters give the patient's right/left (R/L) and anterior/posterior "
                   "(A/P)."),
    "unrolled": ("The cylinder's skin unrolled: angle around the long axis (0° posterior "
                 "midline, ±180° anterior) against height."),
    "psd_timeline": ("Peak skin dose after each event (blue) beside the cumulative "
                     "reference-point air kerma Σ K_RP (grey, not a skin dose), with the 2/3/5 Gy "
                     "levels that lie in range."),
    "beam_geometry": ("The beams of the events that gave the most skin dose, seen from the "
                      "feet and from the patient's left (anterior up): focal spot (★), the field "
                      "from the focal spot to the depth where its central ray enters the skin "
                      "(shaded), the entrance point (●), the table top and mattress, and the "
                      "peak skin dose (red circle). The legend gives each event's projection (as "
                      "reported, else that of the placed beam) and the largest dose it gave one "
                      "skin cell."),
}


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _num(x: Any, fmt: str = "{:.3g}") -> str:
    if x is None:
        return "–"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _e(x)
    return fmt.format(v) if math.isfinite(v) else "–"


_ISO_TIME = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?")
_LABELS = {"patient_id": "Patient ID", "uid": "UID", "sop_class_uid": "SOP class UID",
           "kvp": "kVp", "mass_kg": "Weight (kg)", "kap_total_gym2": "Σ KAP (Gy·m²)",
           "kerma_rp_total_gy": "Σ K_RP (Gy)", "kerma_rp_gy": "K_RP (Gy)",
           "kap_gym2": "KAP (Gy·m²)"}
_UNITS = (("_years", " (years)"), ("_kg", " (kg)"), ("_mm", " (mm)"), ("_m2", " (m²)"),
          ("_cm2", " (cm²)"), ("_gym2", " (Gy·m²)"), ("_gy", " (Gy)"), ("_deg", " (°)"),
          ("_m", " (m)"), ("_s", " (s)"))


def _label(key: str) -> str:
    """``height_m`` -> ``Height (m)``; keys that are not identifiers are kept as they are."""
    if key in _LABELS:
        return _LABELS[key]
    if not key.isidentifier() or key != key.lower():
        return key
    unit = ""
    for suffix, text in _UNITS:
        if key.endswith(suffix) and len(key) > len(suffix):
            key, unit = key[: -len(suffix)], text
            break
    words = key.replace("_", " ").strip()
    return (words[:1].upper() + words[1:] + unit) if words else key


def _kv_table(d: Mapping[str, Any], skip: tuple[str, ...] = ()) -> str:
    rows = []
    for k, v in d.items():
        if k in skip or v in (None, "", [], {}):
            continue
        if isinstance(v, Mapping):
            cell = _kv_table(v)
        elif isinstance(v, list | tuple):
            cell = _e(", ".join(json.dumps(x, ensure_ascii=False) if isinstance(x, dict | list)
                                else str(x) for x in v))
        elif isinstance(v, float):
            cell = _e(f"{v:.6g}")
        elif isinstance(v, str) and _ISO_TIME.fullmatch(v):
            cell = _e(v.replace("T", " ").split(".", 1)[0])
        else:
            cell = _e(v)
        rows.append(f"<tr><th>{_e(_label(str(k)))}</th><td>{cell}</td></tr>")
    return "<table>" + "".join(rows) + "</table>" if rows else "<p class='muted'>–</p>"


def _event_details(result: Any, e: Any) -> dict[str, Any]:
    try:
        d = result.procedures[e.procedure_index]["events"][e.index]
        return d if isinstance(d, Mapping) else {}
    except (IndexError, KeyError, TypeError):
        return {}


def _event_rows(result: Any) -> str:
    multi = len(result.procedures) > 1
    rows = []
    for e in result.events:
        d = _event_details(result, e)
        t = d.get("started")
        if isinstance(t, str) and "T" in t:
            t = t.split("T", 1)[1].split(".", 1)[0]
        angles = format_angles(d.get("primary_angle_deg"), d.get("secondary_angle_deg"))
        kap_cm2 = None if e.kap_gym2 is None else e.kap_gym2 * 1e4
        kerma_mgy = None if e.kerma_rp_gy is None else e.kerma_rp_gy * 1e3
        check = _num(e.kap_check, "{:.2f}")
        if e.kap_check is not None and not KAP_CHECK_RANGE[0] <= e.kap_check <= KAP_CHECK_RANGE[1]:
            check = f"<strong>{check} ⚠</strong>"
        number = f"{e.procedure_index + 1}.{e.index + 1}" if multi else f"{e.index + 1}"
        cls = " class='skip'" if e.skipped else ""
        rows.append(
            f"<tr{cls}><td class='n'>{number}</td><td>{_e(t or '–')}</td>"
            f"<td>{_e(d.get('event_type') or '–')}</td>"
            f"<td class='n'>{_num(d.get('kvp'), '{:.0f}')}</td>"
            f"<td class='nw'>{_e(angles or '–')}</td>"
            f"<td class='n'>{_num(kerma_mgy, '{:.3g}')}</td>"
            f"<td class='n'>{_num(kap_cm2, '{:.3g}')}</td>"
            f"<td>{_e(e.entrance_label or '–')}</td>"
            f"<td class='n'>{_num(e.max_dose_gy * 1e3 if e.max_dose_gy is not None else None)}"
            f"</td><td class='n'>{check}</td><td>{_e(e.skipped or '')}</td></tr>")
    head = ("<tr><th>#</th><th>Start time</th><th>Type</th><th>kVp</th>"
            "<th>C-arm angles</th><th>K<sub>RP</sub> (mGy)</th><th>KAP (Gy·cm²)</th>"
            "<th>Entrance on skin</th><th>Max skin dose (mGy)</th>"
            "<th title='reported KAP / (K_RP × field area at the reference point)'>KAP check"
            "</th><th>Not mapped because</th></tr>")
    return f"<table class='events'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


#: Σ over events and the device's reported total differing by more than this get a note.
TOTALS_TOLERANCE = 0.05
#: Wording of the reference-point estimate, everywhere it is shown.
RP_ESTIMATE_FORMULA = ("Σ K<sub>RP</sub> × BSF × f × C<sub>cal</sub>, no table attenuation: "
                       "an upper bound")
_PLANE_NAMES = {"single": "Single plane", "A": "Plane A", "B": "Plane B",
                "all": "All planes (reported together)"}


def _kerma_text(gy: Any) -> str:
    """K_RP in mGy below 1 Gy, else Gy, 3 significant digits."""
    if gy is None:
        return "–"
    gy = float(gy)
    if not math.isfinite(gy):
        return "–"
    if gy == 0.0:
        return "0 mGy"
    return f"{_sig3(gy)} Gy" if abs(gy) >= 0.9995 else f"{_sig3(gy * 1e3)} mGy"


def _kap_text(gym2: Any) -> str:
    return "–" if gym2 is None else _num(float(gym2) * 1e4, "{:.4g}")


def _total_note(summed: Any, reported: Any, what: str) -> str | None:
    if summed is None or reported is None:
        return None
    summed, reported = float(summed), float(reported)
    if reported <= 0:
        return None if summed <= 0 else f"{what}: no reported total to compare"
    ratio = summed / reported
    if abs(ratio - 1.0) <= TOTALS_TOLERANCE:
        return None
    return f"{what}: Σ events is {100.0 * ratio:.0f} % of the reported total"


def _totals_rows(result: Any) -> list[tuple[str, dict[str, Any]]]:
    """(row name, {n_events, kerma_rp_gy, reported_kerma_rp_gy, kap_gym2, reported_kap_gym2})
    per plane and the total, from ``reference_totals`` (or the events when it is missing)."""
    rt = result.reference_totals if isinstance(result.reference_totals, Mapping) else {}
    planes = rt.get("planes")
    rows: list[tuple[str, dict[str, Any]]] = []
    if isinstance(planes, Mapping) and planes:
        for name, d in planes.items():
            if isinstance(d, Mapping):
                rows.append((_PLANE_NAMES.get(str(name), f"Plane {name}"), dict(d)))
    total = rt.get("total")
    if not isinstance(total, Mapping):
        k = [e.kerma_rp_gy for e in result.events if e.kerma_rp_gy is not None]
        a = [e.kap_gym2 for e in result.events if e.kap_gym2 is not None]
        total = {"n_events": len(result.events), "kerma_rp_gy": sum(k) if k else None,
                 "kap_gym2": sum(a) if a else None}
    rows.append(("Total", dict(total)))
    return rows


def _totals(result: Any) -> str:
    """One table: per plane and total, Σ over events beside the device's reported totals."""
    body = []
    for name, d in _totals_rows(result):
        notes = [x for x in (
            _total_note(d.get("kerma_rp_gy"), d.get("reported_kerma_rp_gy"), "K<sub>RP</sub>"),
            _total_note(d.get("kap_gym2"), d.get("reported_kap_gym2"), "KAP"),
        ) if x]
        th = "th" if name == "Total" else "td"
        body.append(
            f"<tr><{th}>{_e(name)}</{th}><td class='n'>{_num(d.get('n_events'), '{:.0f}')}</td>"
            f"<td class='n'>{_kerma_text(d.get('kerma_rp_gy'))}</td>"
            f"<td class='n'>{_kerma_text(d.get('reported_kerma_rp_gy'))}</td>"
            f"<td class='n'>{_kap_text(d.get('kap_gym2'))}</td>"
            f"<td class='n'>{_kap_text(d.get('reported_kap_gym2'))}</td>"
            f"<td>{'; '.join(notes)}</td></tr>")
    head = ("<tr><th>Plane</th><th>Events</th><th>Σ K<sub>RP</sub><br>over events</th>"
            "<th>K<sub>RP</sub> total<br>reported by the device</th>"
            "<th>Σ KAP over events<br>(Gy·cm²)</th><th>KAP total reported<br>(Gy·cm²)</th>"
            "<th>Note</th></tr>")
    out = [f"<table class='totals' id='totals'><thead>{head}</thead>"
           f"<tbody>{''.join(body)}</tbody></table>"]
    lines = []
    n_skip = sum(1 for e in result.events if e.skipped)
    if n_skip:
        lines.append(f"{n_skip} of {len(result.events)} events could not be mapped (see the "
                     "event table).")
    k = _totals_rows(result)[-1][1].get("kerma_rp_gy")
    if not result.is_reference_point_estimate and k:
        lines.append(f"PSD / Σ K<sub>RP</sub> = {result.psd_gy / float(k):.2f}")
    if result.reference_point_estimate_gy is not None:
        est = _e(format_gy(result.reference_point_estimate_gy))
        lines.append(f"Reference-point estimate: {est} "
                     f"<span class='muted'>({RP_ESTIMATE_FORMULA})</span>")
    out += [f"<p>{x}</p>" for x in lines]
    return "".join(out)


def write_report(result: Any, out_dir: str | os.PathLike[str], *, beams: Any = None,
                 figures: Mapping[str, Path] | None = None,
                 filename: str = "report.html") -> Path:
    """Write a self-contained HTML report.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    out_dir
        Folder (created when missing).
    beams
        BeamSet(s) for the beam-geometry figure; default ``result.beams`` (stored by
        :func:`skindose.compute`).
    figures
        Already written PNGs by name (as :func:`skindose.plotting.save_figures` returns);
        default: made now, into ``out_dir``.
    filename
        Name of the HTML file.

    Returns
    -------
    Path
        The HTML file. It embeds its images and loads nothing from anywhere.
    """
    from skindose import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if figures is None:
        from skindose.plotting import save_figures

        figures = save_figures(result, out, beams=beams)
    summary = result.summary()
    psd = result.psd_gy
    loc = result.psd_location
    parts: list[str] = []
    if result.is_reference_point_estimate:
        parts.append(
            "<div class='psd rp'><div>No skin dose map could be made (the RDSR lacks the beam "
            "geometry). Conservative reference-point estimate of the peak skin dose:</div>"
            f"<div class='v' id='psd'>{_e(format_gy(psd))}</div>"
            f"<div class='muted'>{RP_ESTIMATE_FORMULA}, as if every event hit the same "
            "skin.</div></div>")
    else:
        where = ""
        if loc:
            p = loc["point_mm"]
            x, y, z = (round(float(c)) + 0 for c in p)
            where = (f"<div>at <strong>{_e(loc['label'])}</strong> "
                     f"<span class='muted'>(x {x}, y {y}, z {z} mm; "
                     f"cell {loc['cell']})</span></div>")
        parts.append(f"<div class='psd'><div>Peak skin dose (largest cell dose)</div>"
                     f"<div class='v' id='psd'>{_e(format_gy(psd))}</div>{where}"
                     f"<div id='psd-averaged'>{_averaged_text(result)}</div>"
                     f"<div class='muted'>{_context(result)}</div></div>")
    # identity
    for i, proc in enumerate(result.procedures):
        title = f"RDSR {i + 1}" if len(result.procedures) > 1 else "Examination"
        parts.append(f"<h2>{_e(title)}</h2><div class='grid'>")
        for key, label in (("device", "Device"), ("patient", "Patient"), ("study", "Study")):
            if isinstance(proc.get(key), Mapping):
                parts.append(f"<div><h3>{label}</h3>{_kv_table(proc[key])}</div>")
        extra = {k: proc.get(k) for k in ("source", "sop_class_uid") if proc.get(k)}
        if extra:
            parts.append(f"<div><h3>File</h3>{_kv_table(extra)}</div>")
        parts.append("</div>")
    parts.append(f"<h2>Procedure totals</h2>{_totals(result)}")
    # areas
    if not result.is_reference_point_estimate:
        rows = "".join(
            f"<tr><td class='n'>≥ {_e(t)} Gy</td><td class='n'>{_num(_cm2(a), '{:.1f}')}</td>"
            f"</tr>" for t, a in summary["areas_above_m2"].items())
        parts.append("<h2>Skin area above dose levels</h2><table><tr><th>Dose level</th>"
                     f"<th>Area (cm²)</th></tr>{rows}</table>")
    # figures
    if figures:
        parts.append("<h2>Figures</h2>")
        for name, path in figures.items():
            cap = _FIGURE_CAPTIONS.get(name, name)
            parts.append(f"<figure><img alt='{_e(name)}' src='{_png_data_uri(Path(path))}'>"
                         f"<figcaption>{_e(cap)}</figcaption></figure>")
    parts.append("<h2>Events</h2><p class='muted'>Numbered from 1 in RDSR order. Angles: "
                 "LAO/RAO, CRA/CAU as reported. K<sub>RP</sub>: air kerma at the reference "
                 "point. KAP check: reported KAP / (K<sub>RP</sub> × field area at the "
                 f"reference point); outside {KAP_CHECK_RANGE[0]:g}–{KAP_CHECK_RANGE[1]:g} is "
                 "flagged ⚠.</p>" + _event_rows(result))
    parts.append("<h2>Assumptions</h2>" + _list(result.provenance))
    parts.append("<h2>Warnings</h2>" + _list(result.warnings, cls="warn"))
    ph = result.phantom
    software = {"software": "skindose", "version": result.version or __version__,
                "summary schema": SUMMARY_SCHEMA_VERSION,
                "report written": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    parts.append("<h2>Software and settings</h2><div class='grid'>"
                 f"<div><h3>Software</h3>{_kv_table(software)}</div>"
                 f"<div><h3>Settings</h3>{_kv_table(result.settings)}</div>"
                 f"<div><h3>Phantom</h3>{_kv_table({'name': ph.name, 'cells': ph.n_cells, 'skin area (m²)': float(ph.areas_mm2.sum()) * 1e-6, 'spec': summary['phantom']['spec']})}"  # noqa: E501
                 "</div></div>")
    title = f"Skin dose report – {format_gy(psd)}"
    doc = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
           "<meta name='viewport' content='width=device-width, initial-scale=1'>"
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
           f"<h1>Skin dose report</h1>{''.join(parts)}"
           "<p class='muted'>Dose in Gy; coordinates in the patient frame (mm): +x patient "
           "left, +y posterior, +z head.</p></body></html>\n")
    path = out / filename
    path.write_text(doc, encoding="utf-8")
    return path


def _averaged_text(result: Any) -> str:
    a1, a10 = (result.psd_averaged_gy(x) for x in (1.0, 10.0))
    return (f"Averaged over 1 cm²: <strong>{_e(format_gy(a1))}</strong> · over 10 cm²: "
            f"<strong>{_e(format_gy(a10))}</strong> <span class='muted'>(mean dose over the "
            "hottest disc of skin of that area, as PSD is usually reported; the value above is "
            "the largest single cell, a point value)</span>")


def _context(result: Any) -> str:
    k = [e.kerma_rp_gy for e in result.events if e.kerma_rp_gy is not None]
    a = [e.kap_gym2 for e in result.events if e.kap_gym2 is not None]
    bits = [f"{len(result.events)} events"]
    if k:
        bits.append(f"Σ K<sub>RP</sub> {_e(format_gy(sum(k)))}")
    if a:
        bits.append(f"Σ KAP {sum(a) * 1e4:.4g} Gy·cm²")
    for t in (2.0, 3.0, 5.0):
        area = result.area_above_m2(t)
        if area > 0:
            bits.append(f"{area * 1e4:.1f} cm² ≥ {t:g} Gy")
    return " · ".join(bits)


def _cm2(m2: Any) -> float | None:
    return None if m2 is None else float(m2) * 1e4


def _list(items: Any, cls: str = "") -> str:
    items = list(items)
    if not items:
        return "<p class='muted'>None.</p>"
    c = f" class='{cls}'" if cls else ""
    return f"<ul{c}>" + "".join(f"<li>{_e(x)}</li>" for x in items) + "</ul>"


# ----------------------------------------------------------------------------------------------
# everything


def save(result: Any, out_dir: str | os.PathLike[str], *, beams: Any = None) -> dict[str, Path]:
    """Write summary.json, dose_map.ply, dose_map.npz, the PNG figures and report.html.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    out_dir
        Folder (created when missing).
    beams
        BeamSet(s) for the beam-geometry figure; default ``result.beams`` (stored by
        :func:`skindose.compute`).

    Returns
    -------
    dict of str to Path
        ``summary``, ``ply`` and ``npz`` (not for a reference-point estimate, which has no
        map), one entry per figure, and ``report``.
    """
    from skindose.plotting import save_figures

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"summary": write_summary(result, out / "summary.json")}
    if not result.is_reference_point_estimate:
        paths["ply"] = export_ply(result, out / "dose_map.ply")
        paths["npz"] = export_npz(result, out / "dose_map.npz")
    figures = save_figures(result, out, beams=beams)
    paths.update(figures)
    paths["report"] = write_report(result, out, beams=beams, figures=figures)
    return paths
