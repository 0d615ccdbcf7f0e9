"""Per-event physics factors for the dose kernel: :func:`per_event_factors`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.notes import Note, NoteCode, Severity
from skindose.physics._common import emit
from skindose.physics.backscatter import bsf_with_messages
from skindose.physics.hvl import _COLUMN_OF_MEDIUM, _lookup
from skindose.physics.table import TableSpec, table_t0_with_messages
from skindose.rdsr.model import IrradiationEvent
from skindose.settings import Settings

__all__ = ["PhysicsFactors", "bsf_for", "calibration_notes", "per_event_factors"]

_KNOWN_FILTERS = ("Cu", "Al")

_ARRAYS = ("kvp", "cu_mm", "al_mm", "hvl_mm_al", "bsf", "medium_factor", "table_t0", "calibration")


@dataclass(frozen=True, slots=True, kw_only=True)
class PhysicsFactors:
    """Per-event physics factors; every array is (n_events,) float64, read-only, RDSR order.

    Attributes
    ----------
    kvp
        Tube voltage used (kV); ``Settings.default_kvp`` where the event reports none.
    cu_mm
        Added Cu used for the beam quality (mm).
    al_mm
        Total Al used for the beam quality: inherent + reported (mm).
    hvl_mm_al
        First HVL (mm Al): the reported HVL when the event has one, else from the SpekPy grid.
    bsf
        Backscatter factor; 1.0 when backscatter is off **or not yet evaluated** (see
        ``bsf_evaluated`` and :meth:`with_field_side`).
    medium_factor
        (mu_en/rho) medium/air; 1.0 when ``Settings.medium`` is None.
    table_t0
        Normal-incidence table + mattress transmission; 1.0 when table attenuation is off.
        Apply :func:`~skindose.physics.oblique_transmission` per ray.
    calibration
        Calibration factor C_cal (``Settings.calibration_at(kvp)``).
    backscatter
        Whether backscatter is switched on.
    bsf_evaluated
        True once the BSF has been computed for field sides (always True when backscatter is
        off).
    table_is_estimate
        True when ``table_t0`` is an estimate, not a measurement or a user value (from the
        profile's ``measured`` flag, docs/physics.md §4).
    notes
        Typed notes (stage "physics"): defaults filled in (``kvp-defaulted``,
        ``physics-default``), clamped lookups (``extrapolated``), the table transmission
        (``table-estimated`` with its value, or ``table-measured``), method choices.
    event_labels
        How messages name each event ("event 3", from ``IrradiationEvent.index``).
    """

    kvp: NDArray[np.float64]
    cu_mm: NDArray[np.float64]
    al_mm: NDArray[np.float64]
    hvl_mm_al: NDArray[np.float64]
    bsf: NDArray[np.float64]
    medium_factor: NDArray[np.float64]
    table_t0: NDArray[np.float64]
    calibration: NDArray[np.float64]
    backscatter: bool = True
    bsf_evaluated: bool = False
    table_is_estimate: bool = False
    notes: tuple[Note, ...] = ()
    event_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = None
        for name in _ARRAYS:
            a = np.array(getattr(self, name), dtype=np.float64, copy=True).reshape(-1)
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise ValueError(f"PhysicsFactors.{name}: expected ({n},), got {a.shape}")
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    def for_beams(self, event_of_beam: ArrayLike) -> PhysicsFactors:
        """The factors repeated per beam: row j is the event ``event_of_beam[j]``'s (the
        sub-beams of a rotational run share their event's factors); notes are kept."""
        idx = np.asarray(event_of_beam, dtype=np.int64)
        labels = tuple(self.event_labels[i] for i in idx) if self.event_labels else ()
        return dataclasses.replace(self, **{a: getattr(self, a)[idx] for a in _ARRAYS},
                                   event_labels=labels)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The notes' texts (plain-words view of :attr:`notes`)."""
        return tuple(n.text for n in self.notes)

    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.kvp.shape[0])

    @property
    def skin_factor(self) -> NDArray[np.float64]:
        """BSF × medium factor × calibration: everything but geometry and the table."""
        return self.bsf * self.medium_factor * self.calibration

    def with_field_side(self, field_side_cm: ArrayLike) -> PhysicsFactors:
        """A copy with the BSF evaluated for these field sides at the skin (cm).

        Parameters
        ----------
        field_side_cm
            (n_events,) side of the square-equivalent field at the skin (√area), in cm.
            NaN gives a BSF of NaN for that event.
        """
        bsf, msgs = _bsf_and_notes(self, field_side_cm)
        extra = tuple(_note(NoteCode.EXTRAPOLATED, m) for m in msgs)
        return dataclasses.replace(self, bsf=bsf, bsf_evaluated=True,
                                   notes=_dedupe(self.notes + extra))


def _note(code: NoteCode, text: str, severity: Severity | None = None, **data: object) -> Note:
    return Note(code=code, text=text, severity=severity, stage="physics", data=data)


def _dedupe(notes: Sequence[Note]) -> tuple[Note, ...]:
    seen: set[tuple[NoteCode, str]] = set()
    out = []
    for n in notes:
        if (n.code, n.text) not in seen:
            seen.add((n.code, n.text))
            out.append(n)
    return tuple(out)


def calibration_notes(settings: Settings) -> list[Note]:
    """A warning when the dose display is not calibrated (C_cal = 1 and no kVp curve)."""
    if settings.calibration_factor == 1.0 and not settings.calibration_by_kvp:
        return [_note(NoteCode.UNCALIBRATED, "dose display not calibrated (C_cal = 1): the "
                      "displayed K_RP and KAP may be off by up to ±35 % (IEC 60601-2-43 "
                      "tolerance)")]
    return []


def _bsf_and_notes(
    factors: PhysicsFactors, field_side_cm: ArrayLike
) -> tuple[NDArray[np.float64], list[str]]:
    n = factors.n_events
    side = np.broadcast_to(np.asarray(field_side_cm, dtype=np.float64), (n,))
    if not factors.backscatter:
        return np.ones(n), []
    labels = list(factors.event_labels) or [f"event {i}" for i in range(n)]
    return bsf_with_messages(factors.kvp, factors.hvl_mm_al, side, labels)


def bsf_for(factors: PhysicsFactors, field_side_cm: ArrayLike) -> NDArray[np.float64]:
    """Backscatter factor per event for given field sides at the skin.

    Parameters
    ----------
    factors
        Output of :func:`per_event_factors` (gives kVp, HVL and the backscatter switch).
    field_side_cm
        (n_events,) or scalar field side at the skin (√ of the field area there), cm.

    Returns
    -------
    numpy.ndarray
        (n_events,) float64 BSF; all 1.0 when backscatter is off. Clamping emits an
        :class:`~skindose.errors.ExtrapolationWarning` (use
        :meth:`PhysicsFactors.with_field_side` to also record it).
    """
    out, notes = _bsf_and_notes(factors, field_side_cm)
    emit(notes)
    return out


def _event_label(ev: IrradiationEvent, pos: int) -> str:
    idx = getattr(ev, "index", None)
    return f"event {idx if idx is not None else pos}"


def per_event_factors(
    events: Sequence[IrradiationEvent],
    settings: Settings | None = None,
    field_side_cm: ArrayLike | None = None,
    table: TableSpec = None,
    table_measured: bool | None = None,
) -> PhysicsFactors:
    """Physics factors of every event, as arrays for the kernel.

    Parameters
    ----------
    events
        The procedure's irradiation events (RDSR order).
    settings
        Correction switches and defaults (``Settings()`` when None).
    field_side_cm
        Optional (n_events,) side of the square-equivalent field at the skin in cm. When
        given, the BSF is evaluated; when None the BSF is 1.0 and ``bsf_evaluated`` is False:
        call :meth:`PhysicsFactors.with_field_side` (or :func:`bsf_for`) once the geometry
        knows the field at the skin.
    table
        Table spec for the device: a float T0, a shipped table name, or None (generic
        estimate 0.75, flagged). ``Settings.table_transmission``, when set, overrides it
        (a site's own value: treated as measured).
    table_measured
        Whether ``table`` was measured on this device (a vendor profile's ``measured`` key);
        False flags any value as an estimate; None infers it from the spec (a shipped
        measured table or a float: measured; a generic estimate name: not).

    Returns
    -------
    PhysicsFactors

    Notes
    -----
    Beam quality: kVp (``Settings.default_kvp`` when missing), added Cu and Al summed over the
    event's filters (``IrradiationEvent.cu_mm``/``al_mm``); total Al = ``inherent_filtration_mm_al``
    + reported Al; anode ``anode_angle_deg``. The reported HVL is used when present. Filters of
    other materials are ignored for the HVL, with a warning. Every default and clamp is
    recorded in ``notes`` and clamps also raise an
    :class:`~skindose.errors.ExtrapolationWarning`.
    """
    s = settings if settings is not None else Settings()
    evs = list(events)
    n = len(evs)
    labels = [_event_label(ev, i) for i, ev in enumerate(evs)]
    notes: list[Note] = []
    clamps: list[str] = []

    kvp = np.empty(n)
    cu = np.empty(n)
    al = np.empty(n)
    reported_hvl = np.full(n, np.nan)
    missing_kvp, no_filters = [], []
    for i, ev in enumerate(evs):
        kv = ev.kvp
        if kv is None or not np.isfinite(kv) or kv <= 0:
            kvp[i] = s.default_kvp
            missing_kvp.append(labels[i])
        else:
            kvp[i] = kv
        cu[i] = ev.cu_mm
        al[i] = s.inherent_filtration_mm_al + ev.al_mm
        if not ev.filters:
            no_filters.append(labels[i])
        other = sorted({f.material for f in ev.filters if f.material not in _KNOWN_FILTERS})
        if other:
            notes.append(_note(
                NoteCode.PHYSICS_DEFAULT,
                f"{labels[i]}: filter material(s) {', '.join(other)} ignored for the beam quality"
            ))
        if ev.hvl_mm_al is not None and ev.hvl_mm_al > 0:
            reported_hvl[i] = ev.hvl_mm_al

    def _names(xs: list[str]) -> str:
        return ", ".join(xs[:10]) + (f" and {len(xs) - 10} more" if len(xs) > 10 else "")

    if missing_kvp:
        notes.append(_note(NoteCode.KVP_DEFAULTED, f"kVp not reported, {s.default_kvp:g} kV "
                           f"assumed ({_names(missing_kvp)})", n_events=len(missing_kvp)))
    if no_filters:
        notes.append(_note(
            NoteCode.PHYSICS_DEFAULT,
            f"no filters reported: 0 mm Cu and {s.inherent_filtration_mm_al:g} mm Al "
            f"(inherent) assumed ({_names(no_filters)})"
        ))

    hvl, m = _lookup("hvl_mm_al", kvp, cu, al, s.anode_angle_deg, labels)
    clamps.extend(m)
    use_reported = np.isfinite(reported_hvl)
    if np.any(use_reported):
        hvl = np.where(use_reported, reported_hvl, hvl)
        notes.append(_note(
            NoteCode.METHOD, "reported HVL used instead of the SpekPy grid "
            f"({_names([labels[i] for i in np.flatnonzero(use_reported)])})"
        ))

    if s.medium is None:
        medium = np.ones(n)
    else:
        medium, m = _lookup(_COLUMN_OF_MEDIUM[s.medium], kvp, cu, al, s.anode_angle_deg, labels)
        clamps.extend(m)

    table_is_estimate = False
    if not s.table_attenuation:
        t0 = np.ones(n)
    else:
        user = s.table_transmission is not None
        spec: TableSpec = s.table_transmission if user else table
        t0, m, tnotes = table_t0_with_messages(kvp, hvl, spec, labels,
                                               measured=True if user else table_measured)
        clamps.extend(m)
        table_is_estimate = bool(tnotes)
        t_med = float(np.median(t0)) if n else float("nan")
        notes.extend(_note(NoteCode.TABLE_ESTIMATED, t, t0=t_med) for t in tnotes)
        if not tnotes and n:
            src = "Settings.table_transmission" if user else f"measured table {spec!r}"
            notes.append(_note(NoteCode.TABLE_MEASURED, f"table + mattress transmission from "
                               f"{src} (median T0 {t_med:.3g})", t0=t_med))

    calibration = np.asarray(s.calibration_at(kvp), dtype=np.float64).reshape(n)
    if s.calibration_by_kvp:
        notes.append(_note(
            NoteCode.METHOD,
            f"calibration applied: C_cal = {s.calibration_factor:g} x kVp-dependent factor "
            f"({min(calibration, default=1.0):.4g}-{max(calibration, default=1.0):.4g} overall)"
        ))
    elif s.calibration_factor != 1.0:
        notes.append(_note(NoteCode.METHOD, f"calibration applied: C_cal = "
                           f"{s.calibration_factor:g}"))

    # no Python warnings here: the stage's messages travel as typed ``notes``

    factors = PhysicsFactors(
        kvp=kvp,
        cu_mm=cu,
        al_mm=al,
        hvl_mm_al=hvl,
        bsf=np.ones(n),
        medium_factor=medium,
        table_t0=t0,
        calibration=calibration,
        backscatter=bool(s.backscatter),
        bsf_evaluated=not s.backscatter,
        table_is_estimate=table_is_estimate,
        notes=_dedupe(notes + [_note(NoteCode.EXTRAPOLATED, m) for m in clamps]),
        event_labels=tuple(labels),
    )
    if field_side_cm is not None:
        factors = factors.with_field_side(field_side_cm)
    return factors
