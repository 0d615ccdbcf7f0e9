"""Reports and exports of a :class:`~skindose.dosemap.SkinDoseMap`.

* :func:`write_report` - one self-contained HTML file: page one is the clinical summary (alert
  banner at the NCRP Report 168 substantial radiation dose levels, PSD with its location and
  the 1/10 cm² averages, areas above 2/3/5/10 Gy, the four views, the caveats that apply to this
  result, patient/device/date) and prints on one A4 page; an interactive 3-D view (three.js,
  inlined) and the details follow in collapsible sections. Figures are embedded as base64
  PNG; nothing is loaded from anywhere; every text from the RDSR is escaped;
* :func:`export_ply` - the dose map as a binary PLY with a ``dose_gy`` property per vertex and
  per face (ParaView, 3D Slicer, MeshLab, trimesh);
* :func:`export_npz` - the arrays (dose, cell geometry, mesh, timeline, per-event values);
* :func:`write_summary` - ``summary.json`` (:func:`skindose.summary.build_summary`), checked
  against :data:`SUMMARY_SCHEMA` first;
* :func:`anonymized` - a copy of a result without patient identifiers and institution;
* :func:`write_pdf` - the report printed to PDF by headless Chromium;
* :func:`save` - all of the above into one folder.

See ``docs/report.md``.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from skindose.errors import SkinDoseError
from skindose.jsonsafe import format_dose
from skindose.notes import Note, NoteCode, Severity, sort_notes
from skindose.physics.reference import KAP_CHECK_RANGE
from skindose.plotting import (
    OVER_COLOR,
    contour_edges,
    dose_scale,
    format_angles,
    vertex_dose,
)
from skindose.settings import CLINICAL_LEVELS
from skindose.summary import (
    SUMMARY_SCHEMA,
    SUMMARY_SCHEMA_VERSION,
    alerts,
    summary_errors,
    validate_summary,
)

__all__ = [
    "SUMMARY_SCHEMA",
    "PdfError",
    "anonymized",
    "export_npz",
    "export_ply",
    "find_chromium",
    "read_ply_dose",
    "save",
    "summary_errors",
    "validate_summary",
    "vertex_dose",
    "write_pdf",
    "write_report",
    "write_summary",
]

_ASSETS = Path(__file__).with_name("report_assets")


# ----------------------------------------------------------------------------------------------
# exports


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
    mean of the faces around the vertex (smoothed: it peaks below the PSD, so colour by the
    face value to see the peak). Coordinates in mm (float32), patient frame P. With
    ``with_colors`` the vertices also carry RGBA colours on the figures' colour scale, so
    viewers that ignore custom properties still show the map. The file carries no header
    comment: nothing that identifies the patient. The file is read back with
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
        from skindose.plotting import dose_rgba, dose_scale

        mesh.visual.vertex_colors = dose_rgba(vdose, vmax=dose_scale(result).vmax)
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
 margin:0 auto;max-width:1100px;padding:1em 1.6em;color:#1b1b1b;line-height:1.35}
h1{font-size:1.45em;margin:.1em 0 .2em}h2{font-size:1.2em;margin:1.2em 0 .4em;
 border-bottom:2px solid #d0d7de;padding-bottom:.15em}h3{font-size:1.02em;margin:.8em 0 .3em}
table{border-collapse:collapse;margin:.3em 0 .8em;font-size:.9em}
th,td{border:1px solid #d0d7de;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ident{color:#39424a;font-size:.92em;margin:0 0 .5em}.ident b{color:#1b1b1b}
.alert{background:#b00020;color:#fff;padding:.6em 1em;margin:.4em 0 .6em;border-radius:4px}
.alert h2{color:#fff;border:0;margin:0 0 .2em;font-size:1.25em}
.alert ul{margin:.2em 0 .3em 1.1em;padding:0}.alert p{margin:.2em 0}
.calm{background:#e8f4ea;border-left:6px solid #009E73;padding:.4em .9em;margin:.4em 0 .6em}
.summary{display:flex;gap:1.2em;align-items:flex-start;flex-wrap:wrap}
.psd{background:#eef5fb;border-left:6px solid #0072B2;padding:.5em 1em;flex:1 1 18em}
.psd .v{font-size:2em;font-weight:700;color:#0b4f7c;line-height:1.1}
.rp{background:#fff4e5;border-left:6px solid #D55E00}
.areas{flex:0 0 auto}.areas table{margin:0}
.caveats{border:1px solid #e0b252;background:#fffaf0;padding:.3em .9em;margin:.5em 0}
.caveats h2{border:0;margin:.2em 0;font-size:1.05em}
.caveats ul{margin:.1em 0 .3em 1.1em;padding:0;font-size:.9em}
.sev-critical{color:#b00020;font-weight:600}.sev-warning{color:#8a3b00}
.warn li{color:#8a3b00}.muted{color:#5a6570;font-size:.9em}
figure{margin:.5em 0}figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
figure.views img{max-height:108mm}
figcaption{font-size:.85em;color:#39424a}
.events{font-size:.8em}.events td,.events th{padding:.12em .35em}
tr.skip td{color:#6b6b6b;background:#fafafa}.nw{white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:1.5em}
.totals td:first-child,.totals th:first-child,.totals td.n{white-space:nowrap}
details{margin:.5em 0;border-top:1px solid #d0d7de;padding-top:.2em}
summary{cursor:pointer;font-size:1.15em;font-weight:600;padding:.3em 0}
#sd3d{position:relative}.sd3d-stage{width:100%;min-height:320px;border:1px solid #e3e6ea}
.sd3d-stage canvas{display:block;width:100%;touch-action:none;cursor:grab}
.sd3d-tip{position:absolute;background:rgba(20,20,20,.88);color:#fff;padding:.2em .5em;
 border-radius:3px;font-size:.85em;pointer-events:none;white-space:nowrap}
.sd3d-bar{display:flex;gap:.6em;flex-wrap:wrap;align-items:center;margin:.3em 0;font-size:.9em}
.scale{height:12px;width:260px;border:1px solid #999;display:inline-block;vertical-align:middle}
.page-break{break-after:page}
@page{size:A4;margin:10mm}
@media print{body{max-width:none;padding:0;font-size:10pt}details{display:block}
 details>summary{list-style:none}.noprint,#sd3d .sd3d-bar{display:none}
 figure{break-inside:avoid}.alert{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .psd,.caveats,.calm{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""

_FIGURE_CAPTIONS = {
    "dose_views": ("Skin dose on the phantom from the front, back and both sides (grey: no "
                   "dose); black lines: the 2/3/5/10 Gy contours. The red circle marks the peak "
                   "skin dose; corner letters give the patient's right/left (R/L) and "
                   "anterior/posterior (A/P)."),
    "skin_map": ("The skin unrolled about the body's long axis, front and back, in cm with the "
                 "anatomical zones of the phantom (same colour scale and contours as the "
                 "views)."),
    "unrolled": ("The cylinder's skin unrolled: angle around the long axis (0° posterior "
                 "midline, ±180° anterior) against height."),
    "psd_timeline": ("Peak skin dose after each event (blue; for a file with no beam "
                     "geometry: the reference-point estimate) beside the cumulative "
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
            f"<td class='n'>{_max_dose_cell(result, e)}"
            f"</td><td class='n'>{check}</td><td>{_e(e.skipped or '')}</td></tr>")
    head = ("<tr><th>#</th><th>Start time</th><th>Type</th><th>kVp</th>"
            "<th>C-arm angles</th><th>K<sub>RP</sub> (mGy)</th><th>KAP (Gy·cm²)</th>"
            "<th>Entrance on skin</th><th>Max skin dose (mGy)</th>"
            "<th title='reported KAP / (K_RP × field area at the reference point)'>KAP check"
            "</th><th>Not mapped because</th></tr>")
    return f"<table class='events'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _max_dose_cell(result: Any, e: Any) -> str:
    """The event's largest cell dose in mGy, or "–" when it gave no map contribution."""
    if result.is_reference_point_estimate or e.skipped or e.max_dose_gy is None:
        return "–"
    return _num(e.max_dose_gy * 1e3)


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
    """K_RP for people (:func:`skindose.jsonsafe.format_dose`)."""
    return format_dose(gy)


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
        est = _e(format_dose(result.reference_point_estimate_gy))
        if result.is_reference_point_estimate:
            lines.append(f"Reference-point estimate: {est} "
                         f"<span class='muted'>({RP_ESTIMATE_FORMULA})</span>")
        else:
            lines.append("Cross-check of the reported K<sub>RP</sub> (not a second peak skin "
                         f"dose): reference-point estimate {est} "
                         f"<span class='muted'>({RP_ESTIMATE_FORMULA}, as if every event hit "
                         "the same skin; the map above is the peak skin dose)</span>")
    out += [f"<p>{x}</p>" for x in lines]
    return "".join(out)


# ----------------------------------------------------------------------------------------------
# page one


#: Notes that decide how far to trust the number: shown in the headline caveats whatever their
#: severity (every warning and critical note is shown too).
_HEADLINE_CODES = (
    NoteCode.FILE_TRUNCATED, NoteCode.EVENT_DAMAGED, NoteCode.REFERENCE_POINT_ESTIMATE,
    NoteCode.EVENTS_NOT_MAPPED, NoteCode.UNCALIBRATED, NoteCode.VENDOR_NOT_VALIDATED,
    NoteCode.GENERIC_PROFILE, NoteCode.TABLE_ESTIMATED, NoteCode.PATIENT_SIZE_DEFAULTED,
    NoteCode.PLACEMENT, NoteCode.TOTALS_MISMATCH, NoteCode.ANONYMIZED,
)
_MAX_CAVEATS = 6
#: Longer caveat texts are cut on page one (the full text is in "All notes").
_CAVEAT_CHARS = 170


def _notes(result: Any) -> list[Note]:
    return sort_notes(result.notes)


def caveats(result: Any) -> list[tuple[str, str, int]]:
    """The caveats of page one: (severity, text, count) per note code, most important first.

    Every critical and warning note, and the notes of :data:`_HEADLINE_CODES` (calibration,
    vendor validation, table estimate, patient size, placement, incompleteness) whatever their
    severity, one line per code (the first note's text, with how many notes share the code).
    A result without typed notes falls back to its ``warnings``.
    """
    notes = _notes(result)
    if not notes:
        return [("warning", str(w), 1) for w in result.warnings]
    groups: dict[NoteCode, list[Note]] = {}
    for n in notes:
        if n.severity >= Severity.WARNING or n.code in _HEADLINE_CODES:
            groups.setdefault(n.code, []).append(n)
    order = {c: i for i, c in enumerate(_HEADLINE_CODES)}
    keys = sorted(groups, key=lambda c: (-max(n.severity.rank for n in groups[c]),
                                         order.get(c, len(order))))
    out = []
    for c in keys:
        g = groups[c]
        sev = max(g, key=lambda n: n.severity.rank).severity.value
        out.append((sev, str(g[0]) if len(g) == 1 else g[0].text, len(g)))
    return out


def _caveats_html(result: Any) -> str:
    items = caveats(result)
    if not items:
        return ("<div class='caveats' id='caveats'><h2>Caveats</h2><p class='muted'>None "
                "recorded.</p></div>")
    shown = items[:_MAX_CAVEATS]
    lis = []
    for sev, text, count in shown:
        more = f" <span class='muted'>({count} notes of this kind)</span>" if count > 1 else ""
        if len(text) > _CAVEAT_CHARS:
            text = text[: _CAVEAT_CHARS - 1].rstrip() + "…"
        lis.append(f"<li class='sev-{_e(sev)}'><span class='muted'>[{_e(sev)}]</span> "
                   f"{_e(text)}{more}</li>")
    rest = len(items) - len(shown)
    tail = (f"<p class='muted'>{rest} more: see “All notes” (or “Warnings”) below.</p>"
            if rest > 0 else "")
    return (f"<div class='caveats' id='caveats'><h2>Caveats that apply to this result</h2>"
            f"<ul>{''.join(lis)}</ul>{tail}</div>")


def _alert_html(result: Any) -> str:
    hits = alerts(result)
    if not hits:
        lv = CLINICAL_LEVELS
        return ("<div class='calm' id='no-alert'>No substantial radiation dose level reached "
                f"(NCRP Report 168: PSD {lv.psd_gy:g} Gy, K<sub>RP</sub> {lv.kerma_rp_gy:g} Gy, "
                f"KAP {lv.kap_gycm2:g} Gy·cm², fluoroscopy {lv.fluoro_time_min:g} min).</div>")
    rows = []
    for h in hits:
        v = (format_dose(h["value"]) if h["unit"] == "Gy"
             else f"{h['value']:.4g} {h['unit']}")
        what = h["quantity"]
        if what == "Peak skin dose" and result.is_reference_point_estimate:
            what = "Reference-point estimate of the peak skin dose (no map)"
        rows.append(f"<li><b>{_e(what)} {_e(v)}</b> ≥ {h['level']:g} {_e(h['unit'])}</li>")
    return (f"<div class='alert' id='alert' role='alert'><h2>⚠ Substantial radiation dose "
            f"level reached</h2><ul>{''.join(rows)}</ul>"
            f"<p>{_e(CLINICAL_LEVELS.follow_up)}</p>"
            f"<p style='font-size:.85em'>Levels: {_e(CLINICAL_LEVELS.source)}.</p></div>")


def _identity_line(result: Any) -> str:
    bits = []
    for i, proc in enumerate(result.procedures):
        pat = proc.get("patient") or {}
        dev = proc.get("device") or {}
        st = proc.get("study") or {}
        pid = pat.get("patient_id") or ("anonymised" if _is_anonymized(result) else "–")
        who = [f"<b>Patient</b> {_e(pid)}"]
        for key, label in (("sex", ""), ("age_years", " y"), ("height_m", " m"),
                           ("mass_kg", " kg")):
            v = pat.get(key)
            if v not in (None, ""):
                who.append(_e(f"{v:g}{label}" if isinstance(v, float) else f"{v}{label}"))
        device = " ".join(str(dev.get(k) or "") for k in ("manufacturer", "model")).strip()
        date = str(st.get("date") or "")[:10] or "–"
        prefix = f"RDSR {i + 1}: " if len(result.procedures) > 1 else ""
        bits.append(f"<div>{prefix}{' · '.join(who)} · <b>Device</b> {_e(device or '–')}"
                    f"{' · ' + _e(dev.get('institution')) if dev.get('institution') else ''}"
                    f" · <b>Study</b> {_e(date)} {_e(st.get('description') or '')}</div>")
    return f"<div class='ident' id='identity'>{''.join(bits)}</div>"


def _areas_html(result: Any) -> str:
    if result.is_reference_point_estimate:
        return ""
    rows = "".join(
        f"<tr><td class='n'>≥ {lv:g} Gy</td>"
        f"<td class='n'>{result.area_above_m2(lv) * 1e4:.1f}</td></tr>"
        for lv in CLINICAL_LEVELS.skin_levels_gy)
    return ("<div class='areas' id='areas'><table><tr><th>Skin dose</th><th>Area (cm²)</th>"
            f"</tr>{rows}</table></div>")


def _psd_html(result: Any) -> str:
    psd = result.psd_gy
    if result.is_reference_point_estimate:
        return ("<div class='psd rp'><div>No skin dose map could be made (the RDSR lacks the "
                "beam geometry). Conservative reference-point estimate of the peak skin dose:"
                f"</div><div class='v' id='psd'>{_e(format_dose(psd))}</div>"
                f"<div class='muted'>{RP_ESTIMATE_FORMULA}, as if every event hit the same "
                "skin. A cross-check of the reported K<sub>RP</sub>, not a map.</div></div>")
    loc = result.psd_location
    where = ""
    if loc:
        x, y, z = (round(float(c)) + 0 for c in loc["point_mm"])
        where = (f"<div>at <strong>{_e(loc['label'])}</strong> "
                 f"<span class='muted'>(x {x}, y {y}, z {z} mm)</span></div>")
    return (f"<div class='psd'><div>Peak skin dose (largest cell dose)</div>"
            f"<div class='v' id='psd'>{_e(format_dose(psd))}</div>{where}"
            f"<div id='psd-averaged'>{_averaged_text(result)}</div>"
            f"<div class='muted'>{_context(result)}</div></div>")


# ----------------------------------------------------------------------------------------------
# the 3-D view


def _pack(a: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(np.ascontiguousarray(a).tobytes(), 9)).decode()


def viewer_data(result: Any, beams: Any = None, n_beams: int = 5) -> dict[str, Any]:
    """What the 3-D view needs, compact: positions quantised to 16 bits over the bounding box
    (< 0.03 mm for an adult), faces as 16/32-bit indices, dose per face quantised to 16 bits
    of the PSD (relative error < 1e-5 of the PSD), a location-label index per face, all
    deflated and base64-encoded; the colour scale of the figures; contours; top beams."""
    from skindose.plotting import _beam_sets, _event_rows, _largest_events

    ph = result.phantom
    verts = np.asarray(ph.mesh.vertices, dtype=np.float64)
    faces = np.asarray(ph.mesh.faces, dtype=np.int64)
    lo = verts.min(axis=0)
    step = np.maximum(verts.max(axis=0) - lo, 1e-9) / 65535.0

    def quant(p: np.ndarray) -> np.ndarray:
        return np.clip(np.round((p - lo) / step), 0, 65535).astype("<u2")

    if len(verts) > 65535:
        raise ValueError("the 3-D view supports meshes of up to 65535 vertices")
    dose = np.asarray(result.dose_gy, dtype=np.float64)
    top = float(dose.max()) if dose.size else 0.0
    dstep = top / 65535.0 if top > 0 else 1.0
    q = np.clip(np.round(dose / dstep), 0, 65535).astype("<u2")
    names: dict[str, int] = {}
    lab = np.array([names.setdefault(ph.label(i), len(names)) for i in range(ph.n_cells)],
                   dtype="<u2")
    scale = dose_scale(result)
    contours = []
    for lv, (seg, cells) in contour_edges(result).items():
        # lift each edge 1 mm off the skin along its cell's normal, against z-fighting
        lifted = seg + 1.0 * np.asarray(ph.normals)[cells][:, None, :]
        contours.append({"level": lv, "color": "#000000" if lv < 5 else "#ffffff",
                         "segments": _pack(quant(lifted.reshape(-1, 3)))})
    beam_list = []
    sets = _beam_sets(result, beams)
    palette = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2")
    for k, e in enumerate(_largest_events(result, n_beams)):
        if e.entrance_point_mm is None:
            continue
        bs, rows = _event_rows(sets, e)
        if bs is None or rows.size == 0:
            continue
        beam_list.append({"source": [float(x) for x in bs.source[rows[0]]],
                          "entry": [float(x) for x in e.entrance_point_mm],
                          "color": palette[k % len(palette)],
                          "event": int(e.index)})
    psd = None
    if result.psd_cell is not None:
        c = result.psd_cell
        psd = {"point": [float(x) for x in ph.centroids[c]],
               "normal": [float(x) for x in ph.normals[c]]}
    return {
        "lo": lo.tolist(), "step": step.tolist(),
        "positions": _pack(quant(verts)), "faces": _pack(faces.astype("<u2")),
        "dose": _pack(q), "dose_step": dstep, "labels": _pack(lab),
        "label_names": list(names), "vmax": scale.vmax, "fitted": scale.fitted,
        "lut": scale.lut(), "no_dose": "#dbdbdb", "over": OVER_COLOR,
        "contours": contours, "beams": beam_list, "psd": psd,
    }


def _viewer_html(result: Any, beams: Any) -> str:
    bundle = _ASSETS / "viewer.bundle.js"
    if result.is_reference_point_estimate or not bundle.is_file():
        return ""
    data = json.dumps(viewer_data(result, beams), separators=(",", ":"))
    data = data.replace("</", "<\\/")
    scale = dose_scale(result)
    grad = ", ".join([*scale.lut()[::16], scale.lut()[-1]])
    ticks = (f"low dose: scale fitted, 0–{_e(format_dose(scale.vmax))}" if scale.fitted else
             f"0–{scale.vmax:g} Gy fixed clinical scale; pink above")
    js = bundle.read_text(encoding="utf-8")
    return (
        "<details open id='view3d'><summary>Interactive 3-D view</summary>"
        "<div id='sd3d'><div class='sd3d-bar'>"
        "<button data-view='psd'>Peak skin dose</button><button data-view='front'>Front"
        "</button><button data-view='back'>Back</button><button data-view='left'>Left"
        "</button><button data-view='right'>Right</button>"
        "<label><input type='checkbox' id='sd3d-contours' checked> 2/3/5/10 Gy contours"
        "</label><label><input type='checkbox' id='sd3d-beams'> beams of the top events"
        f"</label><span><span class='scale' style='background:linear-gradient(to right, "
        f"{grad})'></span> {ticks}</span></div>"
        "<div class='sd3d-stage'></div><div class='sd3d-tip' hidden></div>"
        "<p class='sd3d-msg muted'>Drag to rotate, wheel to zoom, hover for the dose and "
        "location of a skin cell (per-cell dose, not smoothed).</p></div>"
        f"<script type='application/json' id='sd3d-data'>{data}</script>"
        f"<script>{js}</script></details>")


# ----------------------------------------------------------------------------------------------
# the report


def write_report(result: Any, out_dir: str | os.PathLike[str], *, beams: Any = None,
                 figures: Mapping[str, Path] | None = None,
                 filename: str = "report.html", interactive: bool = True) -> Path:
    """Write a self-contained HTML report.

    Parameters
    ----------
    result
        A :class:`~skindose.dosemap.SkinDoseMap`.
    out_dir
        Folder (created when missing).
    beams
        BeamSet(s) for the beam-geometry figure and the 3-D view; default ``result.beams``
        (stored by :func:`skindose.compute`).
    figures
        Already written PNGs by name (as :func:`skindose.plotting.save_figures` returns);
        default: made now, into ``out_dir``.
    filename
        Name of the HTML file.
    interactive
        Include the 3-D view (three.js, inlined; about 0.55 MB plus the mesh).

    Returns
    -------
    Path
        The HTML file. It embeds its images and scripts and loads nothing from anywhere.
    """
    from skindose import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if figures is None:
        from skindose.plotting import save_figures

        figures = save_figures(result, out, beams=beams)
    figures = dict(figures)
    ph = result.phantom
    first: list[str] = [
        "<h1>Skin dose report</h1>", _identity_line(result), _alert_html(result),
        f"<div class='summary'>{_psd_html(result)}{_areas_html(result)}</div>",
    ]
    if "dose_views" in figures:
        first.append(f"<figure class='views'><img alt='dose_views' "
                     f"src='{_png_data_uri(Path(figures['dose_views']))}'>"
                     f"<figcaption>{_e(_FIGURE_CAPTIONS['dose_views'])}</figcaption></figure>")
    first.append(_caveats_html(result))
    if _is_anonymized(result):
        first.append("<p class='muted' id='anonymized'>Anonymised: patient identifiers, "
                     "institution, station, serial number, UIDs, dates and file names were "
                     "removed from every output.</p>")
    first.append("<p class='muted'>Dose in Gy (mGy below 1 Gy). Coordinates in the patient "
                 "frame (mm): +x patient left, +y posterior, +z head (top of the head at 0). "
                 f"skindose {_e(result.version or __version__)}, "
                 f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>")
    parts: list[str] = [f"<section id='page1' class='page-break'>{''.join(first)}</section>"]
    if interactive:
        parts.append(_viewer_html(result, beams))

    def section(sid: str, title: str, body: str, *, open_: bool = False) -> None:
        parts.append(f"<details id='{sid}'{' open' if open_ else ''}><summary>{_e(title)}"
                     f"</summary>{body}</details>")

    for name in ("skin_map", "unrolled", "psd_timeline", "beam_geometry"):
        if name in figures:
            section(f"fig-{name}", _FIGURE_TITLES[name],
                    f"<figure><img alt='{_e(name)}' src='{_png_data_uri(Path(figures[name]))}'>"
                    f"<figcaption>{_e(_FIGURE_CAPTIONS.get(name, name))}</figcaption></figure>",
                    open_=name in ("skin_map", "psd_timeline"))
    section("totals-section", "Procedure totals", _totals(result), open_=True)
    section("events-section", "Events", (
        "<p class='muted'>Numbered from 1 in RDSR order. Angles: LAO/RAO, CRA/CAU as reported. "
        "K<sub>RP</sub>: air kerma at the reference point. KAP check: reported KAP / "
        "(K<sub>RP</sub> × field area at the reference point); outside "
        f"{KAP_CHECK_RANGE[0]:g}–{KAP_CHECK_RANGE[1]:g} is flagged ⚠. “–”: not mapped.</p>"
        + _event_rows(result)))
    section("notes-section", "All notes", _notes_table(result))
    section("assumptions", "Assumptions", _list(result.provenance))
    if not _notes(result):
        section("warnings", "Warnings", _list(result.warnings, cls="warn"))
    for i, proc in enumerate(result.procedures):
        title = f"RDSR {i + 1}" if len(result.procedures) > 1 else "Examination"
        grid = ["<div class='grid'>"]
        for key, label in (("device", "Device"), ("patient", "Patient"), ("study", "Study")):
            if isinstance(proc.get(key), Mapping):
                grid.append(f"<div><h3>{label}</h3>{_kv_table(proc[key])}</div>")
        extra = {k: proc.get(k) for k in ("source", "sop_class_uid") if proc.get(k)}
        if extra:
            grid.append(f"<div><h3>File</h3>{_kv_table(extra)}</div>")
        grid.append("</div>")
        section(f"exam-{i}", title, "".join(grid))
    software = {"software": "skindose", "version": result.version or __version__,
                "summary schema": SUMMARY_SCHEMA_VERSION}
    phantom = {"name": ph.name, "cells": ph.n_cells,
               "skin area (m²)": float(ph.areas_mm2.sum()) * 1e-6}
    section("software", "Software, settings and phantom",
            "<div class='grid'>"
            f"<div><h3>Software</h3>{_kv_table(software)}</div>"
            f"<div><h3>Settings</h3>{_kv_table(result.settings)}</div>"
            f"<div><h3>Phantom</h3>{_kv_table(phantom)}"
            f"<details><summary>Phantom specification</summary>"
            f"{_kv_table({'spec': _phantom_spec(ph)})}</details></div></div>")
    title = f"Skin dose report – {format_dose(result.psd_gy)}"
    doc = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
           "<meta name='viewport' content='width=device-width, initial-scale=1'>"
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
           f"{''.join(parts)}</body></html>\n")
    path = out / filename
    path.write_text(doc, encoding="utf-8")
    return path


_FIGURE_TITLES = {"skin_map": "Unrolled skin map", "unrolled": "Cylinder unrolled",
                  "psd_timeline": "Dose over the procedure",
                  "beam_geometry": "Beam geometry of the top events"}


def _phantom_spec(ph: Any) -> dict[str, Any]:
    spec = dict(getattr(ph, "spec", {}) or {})
    spec.pop("labels", None)  # the label layout is internal
    return spec


def _notes_table(result: Any) -> str:
    notes = _notes(result)
    if not notes:
        return "<p class='muted'>No typed notes.</p>"
    rows = "".join(
        f"<tr><td class='sev-{_e(n.severity.value)}'>{_e(n.severity.value)}</td>"
        f"<td class='nw'>{_e(n.code.value)}</td><td>{_e(n.where or '–')}</td>"
        f"<td>{_e(n.text)}</td></tr>" for n in notes)
    return ("<table class='events'><tr><th>Severity</th><th>Code</th><th>Where (0-based)</th>"
            f"<th>Note</th></tr>{rows}</table>")


def _averaged_text(result: Any) -> str:
    a1, a10 = (result.psd_averaged_gy(x) for x in (1.0, 10.0))
    text = (f"Averaged over 1 cm²: <strong>{_e(format_dose(a1))}</strong> · over 10 cm²: "
            f"<strong>{_e(format_dose(a10))}</strong> <span class='muted'>(mean over the "
            "hottest disc of skin of that area, as PSD is usually reported)</span>")
    u = getattr(result, "uncertainty", None)
    if u:  # skindose.uncertainty (Settings.uncertainty / --uncertainty)
        text += (f"<br><span id='psd-interval'>95 % interval <strong>"
                 f"{_e(format_dose(u.get('low_gy')))}–{_e(format_dose(u.get('high_gy')))}"
                 f"</strong> (median {_e(format_dose(u.get('median_gy')))}; from the stated "
                 "uncertainty of every input, docs/validation.md)</span>")
    return text


def _context(result: Any) -> str:
    k = [e.kerma_rp_gy for e in result.events if e.kerma_rp_gy is not None]
    a = [e.kap_gym2 for e in result.events if e.kap_gym2 is not None]
    bits = [f"{len(result.events)} events"]
    if k:
        bits.append(f"Σ K<sub>RP</sub> {_e(format_dose(sum(k)))}")
    if a:
        bits.append(f"Σ KAP {sum(a) * 1e4:.4g} Gy·cm²")
    return " · ".join(bits)


def _list(items: Any, cls: str = "") -> str:
    items = list(items)
    if not items:
        return "<p class='muted'>None.</p>"
    c = f" class='{cls}'" if cls else ""
    return f"<ul{c}>" + "".join(f"<li>{_e(x)}</li>" for x in items) + "</ul>"


# ----------------------------------------------------------------------------------------------
# anonymisation

_ID_FIELDS = {"patient": ("patient_id", "name", "patient_name", "birth_date", "other_ids"),
              "device": ("institution", "station", "serial", "department", "address"),
              "study": ("uid", "date", "accession", "accession_number", "id", "study_id")}
_REMOVED = ""


def _is_anonymized(result: Any) -> bool:
    s = result.settings if isinstance(result.settings, Mapping) else {}
    return bool(s.get("anonymize"))


def identifiers(result: Any) -> list[str]:
    """Every identifying string of ``result``'s inputs (patient ID, institution, station,
    serial, UIDs, study date, source file name and path), longest first."""
    found: set[str] = set()
    for proc in result.procedures:
        for group, keys in _ID_FIELDS.items():
            d = proc.get(group) or {}
            for k in keys:
                v = d.get(k)
                if v not in (None, ""):
                    found.add(str(v))
                    if k == "date":
                        found.add(str(v)[:10])
                        found.add(str(v)[:10].replace("-", ""))
        for k in ("sop_instance_uid",):
            if proc.get(k):
                found.add(str(proc[k]))
        src = proc.get("source")
        if src:
            p = Path(str(src))
            found.update({str(src), p.name, p.stem})
        for ev in proc.get("events") or ():
            if isinstance(ev, Mapping) and ev.get("uid"):
                found.add(str(ev["uid"]))
    for e in result.events:
        if e.uid:
            found.add(str(e.uid))
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def _scrub_text(text: str, ids: list[str]) -> str:
    for s in ids:
        if s in text:
            text = text.replace(s, "[removed]")
    return text


def _scrub(v: Any, ids: list[str]) -> Any:
    if isinstance(v, str):
        return _scrub_text(v, ids)
    if isinstance(v, Mapping):
        return {k: _scrub(x, ids) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return type(v)(_scrub(x, ids) for x in v) if isinstance(v, tuple) else \
            [_scrub(x, ids) for x in v]
    return v


def anonymized(result: Any) -> Any:
    """A copy of ``result`` with no patient identifiers, institution or dates.

    Removes the patient ID (and name), institution, station, device serial, study UID and
    date, SOP Instance UID, Irradiation Event UIDs, the source file's path and name, and the
    date part of event start times (the time of day is kept); every other text (notes,
    provenance, warnings) has those strings replaced by "[removed]". Sex, age, height and mass
    are kept (they set the phantom). ``settings["anonymize"]`` becomes True and an
    ``anonymized`` note is added, so every output says it was anonymised.
    """
    ids = identifiers(result)
    procs = []
    for i, proc in enumerate(result.procedures):
        p = dict(proc)
        for group, keys in _ID_FIELDS.items():
            if isinstance(p.get(group), Mapping):
                g = dict(p[group])
                for k in keys:
                    if k in g:
                        g[k] = None if k == "date" else _REMOVED
                p[group] = g
        if "sop_instance_uid" in p:
            p["sop_instance_uid"] = _REMOVED
        if p.get("source"):
            p["source"] = f"input {i + 1}"
        evs = []
        for ev in p.get("events") or ():
            if isinstance(ev, Mapping):
                ev = dict(ev)
                ev["uid"] = _REMOVED
                t = ev.get("started")
                if isinstance(t, str) and "T" in t:
                    ev["started"] = t.split("T", 1)[1]
            evs.append(ev)
        if "events" in p:
            p["events"] = evs
        procs.append(_scrub(p, ids))
    events = tuple(dataclasses.replace(e, uid=_REMOVED) for e in result.events)
    settings = dict(_scrub(dict(result.settings), ids)) if isinstance(result.settings,
                                                                       Mapping) else {}
    settings["anonymize"] = True
    changes: dict[str, Any] = {
        "procedures": tuple(procs), "events": events, "settings": settings,
        "provenance": tuple(_scrub_text(str(x), ids) for x in result.provenance),
        "warnings": tuple(_scrub_text(str(x), ids) for x in result.warnings),
        "reference_totals": _scrub(result.reference_totals, ids),
    }
    if hasattr(result, "notes"):
        notes = [dataclasses.replace(n, text=_scrub_text(n.text, ids),
                                     data=_scrub(dict(n.data), ids)) for n in result.notes]
        notes.append(Note(code=NoteCode.ANONYMIZED, stage="report",
                          text="Output anonymised: patient identifiers, institution, UIDs, "
                               "dates and file names removed."))
        changes["notes"] = tuple(notes)
    return dataclasses.replace(result, **changes)


# ----------------------------------------------------------------------------------------------
# PDF


class PdfError(SkinDoseError, RuntimeError):
    """The report could not be printed to PDF (no headless Chromium, or it failed)."""


_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
             "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH (``SKINDOSE_CHROMIUM`` first), or None."""
    env = os.environ.get("SKINDOSE_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str] | None = None,
              *, browser: str | None = None, timeout_s: float = 120.0) -> Path:
    """Print a report to PDF (A4) with headless Chromium.

    Raises
    ------
    PdfError
        When no Chromium is installed (naming what to install) or printing failed.
    """
    html_path = Path(html_path).resolve()
    pdf = Path(pdf_path) if pdf_path is not None else html_path.with_suffix(".pdf")
    exe = browser or find_chromium()
    if exe is None:
        raise PdfError(f"{html_path}: --pdf needs headless Chromium or Chrome, and none was "
                       f"found (looked for {', '.join(_BROWSERS)} on PATH and "
                       "$SKINDOSE_CHROMIUM). Install it (Debian/Ubuntu: apt-get install "
                       "chromium) or print the HTML report from a browser.")
    with tempfile.TemporaryDirectory(prefix="skindose-pdf-") as prof:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={prof}", "--no-pdf-header-footer",
               "--run-all-compositor-stages-before-draw", "--virtual-time-budget=8000",
               f"--print-to-pdf={pdf.resolve()}", html_path.as_uri()]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfError(f"{html_path}: Chromium ({exe}) could not print the PDF: "
                           f"{exc}") from None
    if run.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (run.stderr or "").strip().splitlines()[-3:]
        raise PdfError(f"{html_path}: Chromium ({exe}) did not write {pdf} "
                       f"(exit {run.returncode}): {' / '.join(tail)}")
    return pdf


# ----------------------------------------------------------------------------------------------
# everything


def apply_anonymize(result: Any, anonymize: bool | None) -> Any:
    """``anonymized(result)`` when ``anonymize`` (None: ``result.settings["anonymize"]``)
    asks for it and it is not done yet; else ``result``. The CLI's ``--anonymize`` hook."""
    want = _is_anonymized(result) if anonymize is None else bool(anonymize)
    if not want:
        return result
    if _is_anonymized(result) and any(
            n.code is NoteCode.ANONYMIZED for n in result.notes):
        return result
    return anonymized(result)


def pdf_for_cli(out_dir: Path | None, want: bool) -> int:
    """The CLI's ``--pdf`` hook: print ``out_dir/report.html`` to PDF; on failure print one
    clear line to stderr. Returns 0, or 2 when the PDF could not be made."""
    import sys

    if not want:
        return 0
    if out_dir is None:
        print("skindose: --pdf needs --out (the folder of the report)", file=sys.stderr)
        return 2
    try:
        pdf = write_pdf(Path(out_dir) / "report.html")
    except PdfError as exc:
        print(f"skindose: {exc}", file=sys.stderr)
        return 2
    print(f"pdf: {pdf.resolve()}")
    return 0


def save(result: Any, out_dir: str | os.PathLike[str], *, beams: Any = None,
         anonymize: bool | None = None) -> dict[str, Path]:
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
    anonymize
        Remove patient identifiers from every output (:func:`anonymized`); default: the
        ``anonymize`` setting of the result.

    Returns
    -------
    dict of str to Path
        ``summary``, ``ply`` and ``npz`` (not for a reference-point estimate, which has no
        map), one entry per figure, and ``report``.
    """
    from skindose.plotting import save_figures

    result = apply_anonymize(result, anonymize)
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
