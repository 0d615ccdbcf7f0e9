"""Typed notes: every repair, default, skipped event and doubt, with a code and a severity.

Every stage (reader, geometry, physics, kernel, compute, node, batch) reports what it had to
assume or could not do as :class:`Note` objects, never as free prose that other code would have
to parse. A note has

* a :class:`NoteCode` (closed set; code never branches on the text),
* a :class:`Severity`: ``info`` (a documented default was used, nothing to act on),
  ``warning`` (the number is usable but rests on an estimate the user should know about) or
  ``critical`` (the result may be incomplete or wrong: the CLI exits 4),
* the 0-based ``event_index`` (position in its procedure) and ``procedure_index`` where they
  apply,
* plain-language ``text`` for people, and optional ``data`` (JSON-safe numbers and strings)
  for programs.

The default severity of each code is stated once, in :data:`DEFAULT_SEVERITY`; a stage may
raise it (never lower it) when the numbers call for it. ``docs/architecture.md`` lists which
stage emits which code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "DEFAULT_SEVERITY",
    "Note",
    "NoteCode",
    "Severity",
    "dedupe_notes",
    "highest_severity",
    "logger",
    "sort_notes",
]

#: The package logger, for diagnostics (not for results: those are notes).
logger = logging.getLogger("skindose")


class Severity(StrEnum):
    """How much a note matters, in increasing order: info < warning < critical."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for critical."""
        return _RANK[self]

    def __lt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class NoteCode(StrEnum):
    """What a note is about. Values are stable identifiers written into summary.json."""

    # ---- input (rdsr) ------------------------------------------------------------------
    READER_REPAIR = "reader-repair"  # a quirk of the file was repaired (value kept)
    READER_DEFAULT = "reader-default"  # a missing value was defaulted
    READER_FALLBACK_PYDICOM = "reader-fallback-pydicom"  # fast path not used
    MULTI_VALUED = "multi-valued"  # several values where one was expected
    ANGLE_WRAPPED = "angle-wrapped"  # an out-of-range angle mapped to the same direction
    UNIT_CONVERTED = "unit-converted"  # an unusual unit converted
    SRP_DEFAULTED = "srp-defaulted"  # source-to-RP distance from a default rule
    FIELD_SIZE_FALLBACK = "field-size-fallback"  # field size from shutters/area/KAP
    FIELD_SIZE_UNKNOWN = "field-size-unknown"
    VALUE_IMPLAUSIBLE = "value-implausible"  # out of the plausibility limits: not used
    EVENT_UNUSABLE = "event-unusable"  # an event that cannot be used at all (named)
    EVENT_DAMAGED = "event-damaged"  # a container that could not be read
    TOTALS_MISMATCH = "totals-mismatch"  # Σ events differs from the file's totals
    FILE_TRUNCATED = "file-truncated"  # stream ended early / structure incomplete
    ORIENTATION_DEFAULTED = "orientation-defaulted"
    PATIENT_SIZE_DEFAULTED = "patient-size-defaulted"
    # ---- accumulation ------------------------------------------------------------------
    DUPLICATE_INSTANCE = "duplicate-instance"  # same SOP Instance UID given again
    DUPLICATE_EVENT = "duplicate-event"  # same Irradiation Event UID in two reports
    REPORT_SUPERSEDED = "report-superseded"  # a partial report replaced by a later one
    PROCEDURES_ACCUMULATED = "procedures-accumulated"
    DIFFERENT_PATIENTS_ACCEPTED = "different-patients-accepted"  # same_patient=True given
    # ---- geometry ----------------------------------------------------------------------
    VENDOR_PROFILE = "vendor-profile"  # which profile was used
    VENDOR_NOT_VALIDATED = "vendor-not-validated"
    GENERIC_PROFILE = "generic-profile"
    PLACEMENT = "placement"  # how the phantom was placed
    EVENT_NOT_PLACED = "event-not-placed"
    GEOMETRY_POOR = "geometry-poor"  # no table position: not mapped
    ROTATION_NO_END_ANGLE = "rotation-no-end-angle"
    BEAM_MISSES_PHANTOM = "beam-misses-phantom"
    # ---- physics -----------------------------------------------------------------------
    TABLE_ESTIMATED = "table-estimated"  # unmeasured table transmission used
    TABLE_MEASURED = "table-measured"
    TABLE_NO_THICKNESS = "table-no-thickness"
    EXTRAPOLATED = "extrapolated"  # lookup outside its data range, clamped
    KVP_DEFAULTED = "kvp-defaulted"
    PHYSICS_DEFAULT = "physics-default"  # beam quality default or clamped lookup
    UNCALIBRATED = "uncalibrated"  # dose display not calibrated (±35 % allowed)
    KAP_CHECK = "kap-check"  # KAP / (K_RP × field area) outside range
    RP_ESTIMATE_FIELD_DEFAULTED = "rp-estimate-field-defaulted"
    REFERENCE_POINT_ESTIMATE = "reference-point-estimate"  # no map: RP estimate only
    # ---- kernel / compute --------------------------------------------------------------
    EVENTS_NOT_MAPPED = "events-not-mapped"  # summary: n events, % K_RP not mapped
    PHANTOM = "phantom"  # which phantom, scaled how
    METHOD = "method"  # a documented method choice (provenance)
    # ---- outputs -----------------------------------------------------------------------
    ANONYMIZED = "anonymized"
    OTHER = "other"


_W, _I, _C = Severity.WARNING, Severity.INFO, Severity.CRITICAL

#: The default severity of every code; a stage may raise it for a given note.
DEFAULT_SEVERITY: Mapping[NoteCode, Severity] = {
    NoteCode.READER_REPAIR: _I,
    NoteCode.READER_DEFAULT: _W,
    NoteCode.READER_FALLBACK_PYDICOM: _I,
    NoteCode.MULTI_VALUED: _W,
    NoteCode.ANGLE_WRAPPED: _I,
    NoteCode.UNIT_CONVERTED: _I,
    NoteCode.SRP_DEFAULTED: _W,
    NoteCode.FIELD_SIZE_FALLBACK: _I,
    NoteCode.FIELD_SIZE_UNKNOWN: _W,
    NoteCode.VALUE_IMPLAUSIBLE: _W,
    NoteCode.EVENT_UNUSABLE: _W,
    NoteCode.EVENT_DAMAGED: _C,
    NoteCode.TOTALS_MISMATCH: _W,
    NoteCode.FILE_TRUNCATED: _C,
    NoteCode.ORIENTATION_DEFAULTED: _W,
    NoteCode.PATIENT_SIZE_DEFAULTED: _W,
    NoteCode.DUPLICATE_INSTANCE: _W,
    NoteCode.DUPLICATE_EVENT: _W,
    NoteCode.REPORT_SUPERSEDED: _W,
    NoteCode.PROCEDURES_ACCUMULATED: _I,
    NoteCode.DIFFERENT_PATIENTS_ACCEPTED: _W,
    NoteCode.VENDOR_PROFILE: _I,
    NoteCode.VENDOR_NOT_VALIDATED: _W,
    NoteCode.GENERIC_PROFILE: _W,
    NoteCode.PLACEMENT: _I,
    NoteCode.EVENT_NOT_PLACED: _W,
    NoteCode.GEOMETRY_POOR: _W,
    NoteCode.ROTATION_NO_END_ANGLE: _W,
    NoteCode.BEAM_MISSES_PHANTOM: _I,
    NoteCode.TABLE_ESTIMATED: _W,
    NoteCode.TABLE_MEASURED: _I,
    NoteCode.TABLE_NO_THICKNESS: _W,
    NoteCode.EXTRAPOLATED: _W,
    NoteCode.KVP_DEFAULTED: _W,
    NoteCode.PHYSICS_DEFAULT: _W,
    NoteCode.UNCALIBRATED: _W,
    NoteCode.KAP_CHECK: _W,
    NoteCode.RP_ESTIMATE_FIELD_DEFAULTED: _I,
    NoteCode.REFERENCE_POINT_ESTIMATE: _W,
    NoteCode.EVENTS_NOT_MAPPED: _W,
    NoteCode.PHANTOM: _I,
    NoteCode.METHOD: _I,
    NoteCode.ANONYMIZED: _I,
    NoteCode.OTHER: _W,
}
del _W, _I, _C


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """One typed note.

    Parameters
    ----------
    code
        What the note is about.
    text
        Plain-language explanation (what happened, the value used, what it means).
    severity
        Default: :data:`DEFAULT_SEVERITY` of the code.
    event_index
        0-based position of the event in its procedure, when the note concerns one event.
    procedure_index
        0-based position of the procedure among the inputs of a computation, when it applies.
    stage
        Which stage emitted it ("rdsr", "geometry", "physics", "kernel", "compute", ...).
    data
        JSON-safe facts for programs (numbers, strings), e.g. ``{"value": 0.75}``.
    """

    code: NoteCode
    text: str
    severity: Severity | None = None
    event_index: int | None = None
    procedure_index: int | None = None
    stage: str = ""
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        code = NoteCode(self.code)
        object.__setattr__(self, "code", code)
        sev = DEFAULT_SEVERITY[code] if self.severity is None else Severity(self.severity)
        object.__setattr__(self, "severity", sev)
        object.__setattr__(self, "data", dict(self.data))

    def with_procedure(self, procedure_index: int | None) -> Note:
        """A copy attributed to ``procedure_index`` (used when procedures are accumulated)."""
        return replace(self, procedure_index=procedure_index)

    @property
    def where(self) -> str:
        """``"procedure 1, event 12"``-style locator (0-based), or "" when global."""
        parts = []
        if self.procedure_index is not None:
            parts.append(f"procedure {self.procedure_index}")
        if self.event_index is not None:
            parts.append(f"event {self.event_index}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where
        return f"{where}: {self.text}" if where else self.text

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (code and severity as their string values)."""
        from skindose.jsonsafe import jsonable

        return {
            "code": self.code.value,
            "severity": self.severity.value,  # type: ignore[union-attr]
            "text": self.text,
            "event_index": self.event_index,
            "procedure_index": self.procedure_index,
            "stage": self.stage,
            "data": jsonable(dict(self.data)),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Note:
        """Inverse of :meth:`to_dict`."""
        return cls(code=NoteCode(d["code"]), text=str(d["text"]),
                   severity=Severity(d["severity"]), event_index=d.get("event_index"),
                   procedure_index=d.get("procedure_index"), stage=d.get("stage", ""),
                   data=d.get("data") or {})


def highest_severity(notes: Iterable[Note]) -> Severity | None:
    """The highest severity among ``notes``, or None when there are none."""
    best: Severity | None = None
    for n in notes:
        if best is None or n.severity > best:  # type: ignore[operator]
            best = n.severity
    return best


def sort_notes(notes: Iterable[Note]) -> list[Note]:
    """Most important first (critical, warning, info), stable within a severity."""
    return sorted(notes, key=lambda n: -n.severity.rank)  # type: ignore[union-attr]


def dedupe_notes(notes: Iterable[Note]) -> list[Note]:
    """The notes without repeats of the same (code, text, event, procedure), in order."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for n in notes:
        key = (n.code, n.text, n.event_index, n.procedure_index)
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out
