"""The ``summary.json`` of a skin dose result: its construction and its JSON Schema.

:func:`build_summary` turns a :class:`~skindose.dosemap.SkinDoseMap` into plain JSON types
(Gy, m², mm); :data:`SUMMARY_SCHEMA` (JSON Schema draft 2020-12, the subset ``type``,
``required``, ``properties``, ``additionalProperties``, ``items``, ``enum``) documents every
field, and :func:`validate_summary` checks a dictionary against it without any third-party
package. ``schema_version`` is :data:`SUMMARY_SCHEMA_VERSION`: a minor version adds fields
only; a major version renames or removes them.

History: 1.1 added ``psd_1cm2_gy`` / ``psd_10cm2_gy``; 2.0 added ``notes`` (typed notes with
code and severity; ``warnings`` became the texts of the warning and critical notes when the
result carries notes), ``anonymized`` and ``alerts``.

This module imports neither :mod:`skindose.dosemap` nor :mod:`skindose.report`: the map calls
it, the report calls it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from skindose.jsonsafe import finite_or_none, jsonable
from skindose.notes import NoteCode, Severity, sort_notes
from skindose.settings import CLINICAL_LEVELS

__all__ = [
    "SUMMARY_SCHEMA",
    "SUMMARY_SCHEMA_VERSION",
    "alerts",
    "build_summary",
    "summary_errors",
    "validate_summary",
]

SUMMARY_SCHEMA_VERSION = "2.0"

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

_NOTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "severity", "text", "event_index", "procedure_index", "stage", "data"],
    "properties": {
        "code": {"type": "string", "enum": [c.value for c in NoteCode],
                 "description": "skindose.notes.NoteCode value"},
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "text": {"type": "string", "description": "plain-language explanation"},
        "event_index": {"type": ["integer", "null"], "description": "0-based, in its RDSR"},
        "procedure_index": {"type": ["integer", "null"], "description": "0-based input"},
        "stage": {"type": "string"},
        "data": _OBJ,
    },
}

_ALERT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["quantity", "value", "level", "unit"],
    "properties": {"quantity": {"type": "string"}, "value": _NUM, "level": _NUM,
                   "unit": {"type": "string"}},
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
                 "psd_timeline", "events", "settings", "provenance", "warnings", "notes",
                 "anonymized", "alerts"],
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
        "warnings": {"type": "array", "items": {"type": "string"},
                     "description": "texts of the warning and critical notes"},
        "notes": {"type": "array", "items": _NOTE_SCHEMA,
                  "description": "every typed note, most severe first"},
        "anonymized": {"type": "boolean",
                       "description": "patient identifiers and institution were removed"},
        "alerts": {"type": "array", "items": _ALERT_SCHEMA,
                   "description": "clinical levels reached (NCRP Report 168 SRDLs)"},
        "uncertainty": {"type": ["object", "null"],
                        "description": "PSD median and 95 % interval (skindose.uncertainty), "
                        "null when not computed"},
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


def alerts(result: Any) -> list[dict[str, Any]]:
    """Clinical levels (:data:`skindose.settings.CLINICAL_LEVELS`) the result reaches.

    Each as ``{"quantity", "value", "level", "unit"}``; PSD (the map's, or the reference-point
    estimate when no map could be made), Σ K_RP, Σ KAP (Gy·cm²) and fluoroscopy time (minutes,
    when ``reference_totals["total"]["fluoro_time_s"]`` is known).
    """
    tot = {}
    rt = getattr(result, "reference_totals", None)
    if isinstance(rt, Mapping) and isinstance(rt.get("total"), Mapping):
        tot = rt["total"]
    k = finite_or_none(tot.get("kerma_rp_gy"))
    if k is None:
        ks = [e.kerma_rp_gy for e in result.events if e.kerma_rp_gy is not None]
        k = float(sum(ks)) if ks else None
    kap = finite_or_none(tot.get("kap_gym2"))
    if kap is None:
        ka = [e.kap_gym2 for e in result.events if e.kap_gym2 is not None]
        kap = float(sum(ka)) if ka else None
    ft = finite_or_none(tot.get("fluoro_time_s"))
    hits = CLINICAL_LEVELS.exceeded(
        psd_gy=finite_or_none(result.psd_gy), kerma_rp_gy=k,
        kap_gycm2=None if kap is None else kap * 1e4,
        fluoro_time_min=None if ft is None else ft / 60.0)
    return [{"quantity": q, "value": v, "level": lv, "unit": u} for q, v, lv, u in hits]


def build_summary(result: Any, thresholds_gy: tuple[float, ...] | None = None, *,
                  kap_check_range: tuple[float, float] = (0.75, 1.25),
                  version: str = "") -> dict[str, Any]:
    """JSON-safe summary of a :class:`~skindose.dosemap.SkinDoseMap` (see :data:`SUMMARY_SCHEMA`).

    Parameters
    ----------
    result
        The map.
    thresholds_gy
        Dose levels of ``areas_above_m2`` (default: the result's settings, else
        ``CLINICAL_LEVELS.skin_levels_gy``).
    kap_check_range
        Accepted range of the KAP check (``skindose.dosemap.KAP_CHECK_RANGE``).
    version
        Software version (default: the result's, else the package's).
    """
    from skindose import __version__

    settings = result.settings if isinstance(result.settings, Mapping) else {}
    th = thresholds_gy or tuple(settings.get("thresholds_gy", CLINICAL_LEVELS.skin_levels_gy))
    notes = sort_notes(result.notes)
    ph = result.phantom
    lo, hi = kap_check_range
    levels, area = result.dose_area_histogram(20)
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "software": {"name": "skindose",
                     "version": version or getattr(result, "version", "") or __version__},
        "psd_gy": finite_or_none(result.psd_gy),
        "psd_location": jsonable(result.psd_location),
        "psd_1cm2_gy": finite_or_none(result.psd_averaged_gy(1.0)),
        "psd_10cm2_gy": finite_or_none(result.psd_averaged_gy(10.0)),
        "is_reference_point_estimate": bool(result.is_reference_point_estimate),
        "reference_point_estimate_gy": finite_or_none(result.reference_point_estimate_gy),
        "areas_above_m2": {f"{t:g}": finite_or_none(result.area_above_m2(t)) for t in th},
        "reference_totals": jsonable(result.reference_totals),
        "phantom": {"name": ph.name, "n_cells": int(ph.n_cells),
                    "total_area_m2": finite_or_none(float(ph.areas_mm2.sum()) * 1e-6),
                    "spec": jsonable(ph.spec)},
        "procedures": jsonable(list(result.procedures)),
        "psd_timeline": {"events": [int(x) for x in result.psd_timeline_event],
                         "psd_gy": [finite_or_none(x) for x in result.psd_timeline_gy]},
        "dose_area_histogram": {"dose_gy": [finite_or_none(x) for x in levels],
                                "area_m2": [finite_or_none(x) for x in area]},
        "n_events": len(result.events),
        "n_events_skipped": sum(1 for e in result.events if e.skipped),
        "kap_check_flagged": [
            [e.procedure_index, e.index] for e in result.events
            if e.kap_check is not None and not lo <= e.kap_check <= hi
        ],
        "events": [e.to_dict() for e in result.events],
        "settings": jsonable(settings),
        "provenance": list(result.provenance),
        "warnings": list(result.warnings),
        "notes": [n.to_dict() for n in notes],
        "anonymized": bool(settings.get("anonymize", False)),
        "alerts": alerts(result),
        "uncertainty": jsonable(result.uncertainty),
    }
