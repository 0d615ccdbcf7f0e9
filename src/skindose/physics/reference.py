"""Dose at the reference point: the field side for the BSF, the conservative reference-point
estimate and the KAP check (docs/physics.md §6 and §8).

* **Field side for the BSF** (per (sub-)beam): the equivalent square side
  ``2 * sqrt(tan_u * tan_v) * d`` at distance d from the focal spot. At the skin, d is where
  the central ray first meets the skin; when it misses the phantom, the caller passes the
  source-to-isocenter distance (the field at the isocenter plane, where the skin would be for
  a patient larger than the phantom).
* **Reference-point estimate** (always computed; the only result when no event could be
  placed): ``sum K_RP * BSF(field side at the RP) * f * C_cal`` with **T = 1**. "Conservative"
  means an upper bound: whether a beam passes the table is unknown without geometry, and
  T0 < 1 would lower the estimate. The field side at the RP comes from the placed beam, else
  from the reported field at the detector scaled by srp / SID, else from sqrt(KAP / K_RP), else
  :data:`DEFAULT_RP_FIELD_SIDE_CM` (noted).
* **KAP check**: reported KAP / (K_RP × field area at the RP), flagged outside
  :data:`KAP_CHECK_RANGE`; not formed when the field itself was derived from KAP / K_RP (the
  ratio would be 1 by construction).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skindose.notes import Note, NoteCode, Severity
from skindose.physics.factors import PhysicsFactors
from skindose.rdsr.model import FieldSource, IrradiationEvent

__all__ = [
    "DEFAULT_RP_FIELD_SIDE_CM",
    "KAP_CHECK_RANGE",
    "equivalent_field_side_cm",
    "kap_checks",
    "reference_point_estimate",
]

#: Field side at the reference point assumed for the BSF when nothing gives it (cm).
DEFAULT_RP_FIELD_SIDE_CM = 10.0
#: Accepted range of reported KAP / (K_RP × field area at the RP). The displayed KAP and K_RP
#: may each be off by up to ±35 % (IEC 60601-2-43); ±25 % on their ratio flags a field size,
#: reference point or display that does not add up (docs/physics.md §8).
KAP_CHECK_RANGE = (0.75, 1.25)


def equivalent_field_side_cm(tan_u: ArrayLike, tan_v: ArrayLike,
                             distance_mm: ArrayLike) -> NDArray[np.float64]:
    """Side (cm) of the square with the field's area at ``distance_mm`` from the focal spot."""
    return 2.0 * np.sqrt(np.asarray(tan_u) * np.asarray(tan_v)) * np.asarray(distance_mm) / 10.0


def _rp_field_side_cm(ev: IrradiationEvent, placed: tuple[float, float, float] | None
                      ) -> float | None:
    if placed is not None:
        tan_u, tan_v, srp = placed
        return 2.0 * math.sqrt(tan_u * tan_v) * srp / 10.0
    fd = ev.field_at_detector_mm
    if fd is not None and ev.sid_mm and ev.srp_mm:
        return math.sqrt(fd[0] * fd[1]) * ev.srp_mm / ev.sid_mm / 10.0
    if ev.kap_gym2 and ev.kerma_rp_gy and ev.kap_gym2 > 0 and ev.kerma_rp_gy > 0:
        return math.sqrt(ev.kap_gym2 / ev.kerma_rp_gy) * 100.0
    return None


def reference_point_estimate(
    events: Sequence[IrradiationEvent],
    factors: PhysicsFactors,
    placed: Mapping[int, tuple[float, float, float]],
) -> tuple[NDArray[np.float64], list[Note]]:
    """Per-event conservative estimate of the skin dose at the reference point (Gy).

    Parameters
    ----------
    events
        The procedure's events (RDSR order).
    factors
        Their :class:`PhysicsFactors` (the table factor is not used: T = 1).
    placed
        For events placed by the geometry: event index -> (tan_u, tan_v, srp_mm) of the
        event's first beam.

    Returns
    -------
    (numpy.ndarray, list of Note)
        (n_events,) estimate per event (0 where K_RP is missing) and the notes of the method.
    """
    n = len(events)
    sides = [_rp_field_side_cm(ev, placed.get(i)) for i, ev in enumerate(events)]
    n_default = sum(x is None for x in sides)
    side = np.array([DEFAULT_RP_FIELD_SIDE_CM if x is None else x for x in sides], dtype=float)
    f = factors.with_field_side(side) if n else factors
    kerma = np.array([ev.kerma_rp_gy or 0.0 for ev in events], dtype=float)
    estimate = kerma * f.bsf * f.medium_factor * f.calibration
    notes = []
    if n_default:
        notes.append(Note(code=NoteCode.RP_ESTIMATE_FIELD_DEFAULTED, stage="physics",
                          text=f"reference-point estimate: field size unknown for {n_default} "
                          f"event(s), {DEFAULT_RP_FIELD_SIDE_CM:g} cm assumed for the BSF",
                          data={"n_events": n_default}))
    notes.append(Note(code=NoteCode.METHOD, stage="physics",
                      text="reference-point estimate: sum of K_RP × BSF(field at the RP) × f × "
                      "C_cal with table transmission 1 (an upper bound: the table is left out)"))
    return estimate, notes


def kap_checks(events: Sequence[IrradiationEvent],
               placed: Mapping[int, tuple[float, float, float, str]]
               ) -> tuple[dict[int, float], list[Note]]:
    """Reported KAP / (K_RP × field area at the RP) of each placed event, with a warning note
    for each ratio outside :data:`KAP_CHECK_RANGE`.

    ``placed``: event index -> (tan_u, tan_v, srp_mm, field source) of the event's first
    beam. The ratio is not formed where the field came from KAP / K_RP (it would be 1 by
    construction) nor where KAP or K_RP is missing.
    """
    ratios: dict[int, float] = {}
    notes: list[Note] = []
    n_trivial = 0
    for i, (tan_u, tan_v, srp, source) in placed.items():
        ev = events[i]
        if source == FieldSource.KAP_KERMA:
            n_trivial += 1
            continue
        if ev.kap_gym2 is None or not ev.kerma_rp_gy:
            continue
        area_m2 = (2 * tan_u * srp) * (2 * tan_v * srp) * 1e-6
        ratios[i] = ratio = float(ev.kap_gym2 / (ev.kerma_rp_gy * area_m2))
        if not KAP_CHECK_RANGE[0] <= ratio <= KAP_CHECK_RANGE[1]:
            notes.append(Note(
                code=NoteCode.KAP_CHECK, stage="physics", event_index=i, data={"ratio": ratio},
                text=f"event {i} (UID {ev.uid}): reported KAP is {ratio:.2f} × K_RP × field "
                "area at the RP (outside 0.75–1.25): field size, reference point or dose "
                "display inconsistent"))
    if n_trivial:
        notes.append(Note(code=NoteCode.METHOD, stage="physics", severity=Severity.INFO,
                          text=f"KAP check not formed for {n_trivial} event(s): their field size "
                          "was derived from KAP / K_RP, so the ratio is 1 by construction"))
    return ratios, notes
