"""The result of a skin dose computation: :class:`SkinDoseMap` and :class:`EventResult`.

Units: dose in Gy, lengths and coordinates in mm (frame P, docs/architecture.md §6), areas in m²
in public results (cells carry mm² internally).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skindose.notes import Note, NoteCode, Severity, highest_severity
from skindose.physics.reference import KAP_CHECK_RANGE
from skindose.summary import SUMMARY_SCHEMA_VERSION, build_summary

__all__ = ["KAP_CHECK_RANGE", "SUMMARY_SCHEMA_VERSION", "EventResult", "SkinDoseMap",
           "not_mapped_note", "outcome_notes", "skin_totals"]

#: Cells whose normals differ by more than 60° are not averaged together.
_SAME_SIDE_COS = 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class EventResult:
    """What one RDSR event did to the skin.

    Parameters
    ----------
    index
        Position of the event in its procedure (RDSR order).
    procedure_index
        Which input procedure the event came from (0 for a single procedure).
    uid
        Irradiation Event UID.
    kerma_rp_gy, kap_gym2
        As reported (after unit normalisation).
    entrance_point_mm
        Where the central ray first meets the skin (patient frame), or None when it misses or
        the event could not be placed.
    entrance_label
        Anatomical label of the entrance point, or None.
    max_dose_gy
        Largest skin dose this event gave to any one cell (0 when it missed or was skipped).
    skin_factor
        BSF × f × C_cal × weight-averaged factors applied to K_RP (1 when corrections are off);
        None when skipped.
    field_side_skin_cm
        Equivalent square field side at the entrance point (cm), used for the BSF.
    kap_check
        Ratio reported KAP / (K_RP × field area at the RP) (None when it cannot be formed); a
        ratio outside 0.75–1.25 is flagged in ``warnings`` of the map.
    skipped
        Why the event gave no map contribution, or None.
    """

    index: int
    procedure_index: int
    uid: str
    kerma_rp_gy: float | None
    kap_gym2: float | None
    entrance_point_mm: tuple[float, float, float] | None
    entrance_label: str | None
    max_dose_gy: float
    skin_factor: float | None
    field_side_skin_cm: float | None
    kap_check: float | None
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {
            "index": self.index,
            "procedure_index": self.procedure_index,
            "uid": self.uid,
            "kerma_rp_gy": _f(self.kerma_rp_gy),
            "kap_gym2": _f(self.kap_gym2),
            "entrance_point_mm": None if self.entrance_point_mm is None else [
                _f(x) for x in self.entrance_point_mm],
            "entrance_label": self.entrance_label,
            "max_dose_gy": _f(self.max_dose_gy),
            "skin_factor": _f(self.skin_factor),
            "field_side_skin_cm": _f(self.field_side_skin_cm),
            "kap_check": _f(self.kap_check),
            "skipped": self.skipped,
        }


def outcome_notes(events: Sequence[EventResult], is_rp: bool, psd_gy: float,
                  rp_estimate_gy: float) -> list[Note]:
    """The notes on what the map as a whole is: events that could not be mapped, a
    reference-point estimate instead of a map, or a map that placed beams but got no dose."""
    notes = [n] if (n := not_mapped_note(events)) is not None else []
    if is_rp:
        notes.append(Note(code=NoteCode.REFERENCE_POINT_ESTIMATE, stage="compute", text=(
            "no event could be placed on the phantom: the result is the conservative "
            f"reference-point estimate ({rp_estimate_gy:.4g} Gy), not a skin dose map")))
    elif any(e.skipped is None and (e.kerma_rp_gy or 0) > 0 for e in events) and not psd_gy > 0:
        notes.append(Note(code=NoteCode.BEAM_MISSES_PHANTOM, severity=Severity.CRITICAL,
                          stage="compute", text="events were placed but no beam reached the "
                          "skin of the phantom: the map is empty; the geometry (table "
                          "position, placement) is probably wrong"))
    return notes


def skin_totals(psd_gy: float | None, rp_estimate_gy: float, kerma_rp_gy: float
                ) -> dict[str, float | None]:
    """The ``reference_totals["skin"]`` entry: PSD (None for a reference-point estimate), the
    estimate and PSD / Σ K_RP."""
    ratio = psd_gy / kerma_rp_gy if psd_gy is not None and kerma_rp_gy > 0 else None
    return {"psd_gy": psd_gy, "reference_point_estimate_gy": rp_estimate_gy,
            "psd_over_kerma_rp": ratio}


def not_mapped_note(events: Sequence[EventResult]) -> Note | None:
    """One note naming how many events, and what share of K_RP, gave no map contribution
    and why; critical when at least half of the K_RP (but not all) is missing."""
    skipped = [e for e in events if e.skipped]
    if not skipped:
        return None
    k_all = sum(e.kerma_rp_gy or 0.0 for e in events)
    k_skip = sum(e.kerma_rp_gy or 0.0 for e in skipped)
    pct = 100.0 * k_skip / k_all if k_all > 0 else 0.0
    reasons: dict[str, int] = {}
    for e in skipped:
        reasons[e.skipped] = reasons.get(e.skipped, 0) + 1  # type: ignore[index]
    why = "; ".join(f"{r} ({c})" for r, c in sorted(reasons.items(), key=lambda x: -x[1]))
    sev = Severity.CRITICAL if pct >= 50.0 and k_skip < k_all else Severity.WARNING
    return Note(code=NoteCode.EVENTS_NOT_MAPPED, severity=sev, stage="compute",
                data={"percent_k_rp": pct},
                text=f"{len(skipped)} of {len(events)} events, {pct:.1f}% of K_RP, could not be "
                f"mapped: {why}")


@dataclass(frozen=True, kw_only=True)
class SkinDoseMap:
    """Skin dose per cell of a phantom, with everything needed to trust and report it.

    Parameters
    ----------
    phantom
        The :class:`skindose.phantoms.Phantom` the map lives on.
    dose_gy
        (n_cells,) float64, read-only: dose per skin cell in Gy. All zeros for a reference-point
        estimate.
    events
        One :class:`EventResult` per input event, in RDSR order (procedures concatenated).
    psd_timeline_gy
        (m,) float64: PSD after each of m event chunks (cumulative); for a reference-point
        estimate, the cumulative estimate.
    psd_timeline_event
        (m,) int64: number of events included at each timeline point.
    procedures
        ``Procedure.to_dict()``-style summaries (source, device, patient, study) of the inputs.
    reference_totals
        Per plane and overall: Σ K_RP (Gy), Σ KAP (Gy·m²), reported totals.
    settings
        ``Settings.to_dict()`` used.
    provenance
        Every assumption (profile, placement, orientation, defaults), in plain words.
    warnings
        Plain-text view of the warning and critical notes.
    uncertainty
        :meth:`skindose.uncertainty.PSDInterval.to_dict` when ``Settings.uncertainty`` was on
        (PSD median, 95 % interval, location spread, variance shares), else None.
    notes
        Every typed :class:`~skindose.notes.Note` of reading, accumulation, geometry, physics
        and the kernel (``provenance`` and ``warnings`` are their text views).
    is_reference_point_estimate
        True when no map could be made (geometry-poor RDSR): ``reference_point_estimate_gy``
        then holds the conservative estimate Σ K_RP × BSF × f × C_cal with no table
        attenuation (an upper bound).
    reference_point_estimate_gy
        The conservative reference-point estimate (also computed alongside real maps).
    beams
        The placed :class:`~skindose.geometry.beams.BeamSet` of each input procedure, in input
        order (None for a procedure with no placed beam); ``beams[e.procedure_index]`` holds the
        beams of event ``e`` (its ``event_index`` is ``e.index``). Empty for a map built
        directly. Used by the beam-geometry figure; not part of :meth:`summary`.
    """

    phantom: Any
    dose_gy: np.ndarray
    events: tuple[EventResult, ...]
    psd_timeline_gy: np.ndarray
    psd_timeline_event: np.ndarray
    procedures: tuple[dict[str, Any], ...] = ()
    reference_totals: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    provenance: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()
    uncertainty: dict[str, Any] | None = None
    is_reference_point_estimate: bool = False
    reference_point_estimate_gy: float | None = None
    version: str = ""
    beams: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        d = np.array(self.dose_gy, dtype=np.float64, copy=True).reshape(-1)
        if d.shape[0] != self.phantom.n_cells:
            raise ValueError(f"dose_gy has {d.shape[0]} cells; the phantom has "
                             f"{self.phantom.n_cells}")
        d.setflags(write=False)
        object.__setattr__(self, "dose_gy", d)
        object.__setattr__(self, "beams", tuple(self.beams or ()))
        if self.notes and not (self.provenance or self.warnings):  # the notes' text views
            info = [str(n) for n in self.notes if n.severity is Severity.INFO]
            other = [str(n) for n in self.notes if n.severity is not Severity.INFO]
            object.__setattr__(self, "provenance", tuple(dict.fromkeys(info)))
            object.__setattr__(self, "warnings", tuple(dict.fromkeys(other)))
        for name, dt in (("psd_timeline_gy", np.float64), ("psd_timeline_event", np.int64)):
            a = np.array(getattr(self, name), dtype=dt, copy=True).reshape(-1)
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def highest_severity(self) -> Severity | None:
        """The highest severity among :attr:`notes` (None when there are none)."""
        return highest_severity(self.notes)

    # --- the headline numbers -------------------------------------------------------------
    @property
    def psd_gy(self) -> float:
        """Peak skin dose (Gy): the largest cell dose, or the reference-point estimate when no
        map could be made."""
        if self.is_reference_point_estimate:
            return float(self.reference_point_estimate_gy or 0.0)
        return float(self.dose_gy.max()) if self.dose_gy.size else 0.0

    @property
    def psd_cell(self) -> int | None:
        """Index of the cell holding the PSD (None for a reference-point estimate)."""
        if self.is_reference_point_estimate or not self.dose_gy.size:
            return None
        return int(np.argmax(self.dose_gy))

    @property
    def psd_location(self) -> dict[str, Any] | None:
        """Where the PSD is: ``{"point_mm": [x, y, z], "label": str, "cell": int}`` or None."""
        cell = self.psd_cell
        if cell is None:
            return None
        p = self.phantom.centroids[cell]
        return {"point_mm": [float(x) for x in p], "label": self.phantom.label(cell),
                "cell": cell}

    def psd_averaged_gy(self, area_cm2: float) -> float:
        """Peak skin dose averaged over a skin area of ``area_cm2`` (Gy).

        Clinical practice reports the PSD as the mean over about 1 cm² (sometimes 10 cm²);
        cells smaller than that make :attr:`psd_gy` a point value. For each dosed cell c, the
        area-weighted mean dose of every cell whose centroid lies within r = √(area / π) of c's
        centroid (straight-line distance) and whose normal is within 60° of c's normal (so the
        front and back of a thin part, or an arm and the trunk beside it facing another way,
        are not mixed); the result is the largest of those means. Cells with no dose are
        counted in the means but are not centres.

        The value is at most :attr:`psd_gy` and equals it for a uniform field. It falls as the
        area grows for a single hot spot, but need not in general (two hot spots a little
        more than 2r apart can be covered together by a larger disc). For a reference-point
        estimate (no map) the estimate itself is returned: it assumes one field-sized patch of
        skin received every event.

        Parameters
        ----------
        area_cm2
            Averaging area in cm² (> 0).
        """
        area_cm2 = float(area_cm2)
        if not area_cm2 > 0 or not math.isfinite(area_cm2):
            raise ValueError(f"area_cm2 must be a positive number, not {area_cm2!r}")
        if self.is_reference_point_estimate:
            return self.psd_gy
        d = self.dose_gy
        centres = np.flatnonzero(d > 0)
        if centres.size == 0:
            return 0.0
        ph = self.phantom
        c = np.asarray(ph.centroids, dtype=np.float64)
        nrm = np.asarray(ph.normals, dtype=np.float64)
        a = np.asarray(ph.areas_mm2, dtype=np.float64)
        r = math.sqrt(area_cm2 * 100.0 / math.pi)  # mm
        # candidates: cells in the dosed cells' bounding box grown by r
        lo, hi = c[centres].min(axis=0) - r, c[centres].max(axis=0) + r
        cells = np.flatnonzero(((c >= lo) & (c <= hi)).all(axis=1))
        pa, pb = pairs_within(c[cells], r)  # each pair once
        p, q = cells[pa], cells[pb]
        keep = np.einsum("ij,ij->i", nrm[p], nrm[q]) >= _SAME_SIDE_COS
        p, q = p[keep], q[keep]
        # (centre, neighbour) both ways, and each centre with itself; dosed centres only
        i = np.concatenate([p, q, centres])
        j = np.concatenate([q, p, centres])
        dosed = d[i] > 0
        i, j = i[dosed], j[dosed]
        num = np.bincount(i, weights=a[j] * d[j], minlength=d.size)[centres]
        den = np.bincount(i, weights=a[j], minlength=d.size)[centres]
        return float((num / den).max())

    def area_above_m2(self, threshold_gy: float) -> float:
        """Skin area (m²) receiving at least ``threshold_gy``."""
        if self.is_reference_point_estimate:
            return 0.0
        mask = self.dose_gy >= float(threshold_gy)
        return float(self.phantom.areas_mm2[mask].sum() * 1e-6)

    def dose_area_histogram(self, bins: int | np.ndarray = 50) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative dose–area histogram: (dose levels in Gy, area in m² at or above each)."""
        if isinstance(bins, int):
            top = max(self.psd_gy, 1e-12)
            levels = np.linspace(0.0, top, bins)
        else:
            levels = np.asarray(bins, dtype=float)
        order = np.argsort(self.dose_gy)
        d = self.dose_gy[order]
        a = self.phantom.areas_mm2[order] * 1e-6
        tail = np.cumsum(a[::-1])[::-1]
        idx = np.searchsorted(d, levels, side="left")
        area = np.where(idx < d.size, tail[np.minimum(idx, d.size - 1)], 0.0)
        return levels, area

    def summary(self, thresholds_gy: tuple[float, ...] | None = None) -> dict[str, Any]:
        """JSON-safe summary (Gy, m², mm; plain Python types only).

        Built by :func:`skindose.summary.build_summary`; fields documented in
        :data:`skindose.summary.SUMMARY_SCHEMA` (version :data:`SUMMARY_SCHEMA_VERSION`).
        """
        return build_summary(self, thresholds_gy, kap_check_range=KAP_CHECK_RANGE)

    def save(self, out_dir: Any, *, beams: Any = None) -> dict[str, Any]:
        """Write summary.json, dose_map.ply/.npz, the PNG figures and report.html to ``out_dir``.

        See :func:`skindose.report.save`; returns the written paths by name. The beam-geometry
        figure draws :attr:`beams` unless ``beams`` is given.
        """
        from skindose.report import save

        return save(self, out_dir, beams=beams)


def _f(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


#: the 13 neighbour-bin offsets of one half-space, plus the bin itself (pairs found once)
_HALF_OFFSETS = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)
                 if (dx, dy, dz) > (0, 0, 0)]


def pairs_within(points: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair (i, j), i ≠ j, of ``points`` ((n, 3)) at most ``r`` apart, once.

    A uniform grid of bins of side r: a pair within r lies in the same bin or in adjacent bins,
    so each point is compared with the points of its own bin and of 13 of its 26 neighbours
    (one half-space; the other half gives the same pairs the other way round). Exact: the
    distance test decides (squared distance <= r²).

    Returns
    -------
    (i, j)
        Two (k,) int64 index arrays.
    """
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    if n < 2 or not r > 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    k = np.floor((pts - pts.min(axis=0)) / r).astype(np.int64) + 1  # a margin of one bin
    dims = k.max(axis=0) + 2
    key = (k[:, 0] * dims[1] + k[:, 1]) * dims[2] + k[:, 2]
    order = np.argsort(key, kind="stable")
    sk, sp = key[order], pts[order]
    r2 = r * r
    out_i, out_j = [], []
    for off in [(0, 0, 0), *_HALF_OFFSETS]:
        lin = (off[0] * dims[1] + off[1]) * dims[2] + off[2]
        lo = np.searchsorted(sk, sk + lin, side="left")
        hi = np.searchsorted(sk, sk + lin, side="right")
        if lin == 0:
            lo = np.arange(n) + 1  # later points of the same bin only
        cnt = np.maximum(hi - lo, 0)
        total = int(cnt.sum())
        if total == 0:
            continue
        a = np.repeat(np.arange(n), cnt)
        b = np.repeat(lo, cnt) + (np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        dv = sp[a] - sp[b]
        near = np.einsum("ij,ij->i", dv, dv) <= r2
        out_i.append(order[a[near]])
        out_j.append(order[b[near]])
    if not out_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)

