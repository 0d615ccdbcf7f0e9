"""The default phantom for a list of procedures: adult variant (arms, sex) and size.

:func:`default_phantom` is what :func:`skindose.compute` uses when no phantom is given. It reads
only the procedures (``skindose.rdsr``) and the settings; it knows nothing of geometry or
physics.

Arms (``Settings.arms = "auto"``): raised above the head when the procedure is cardiac or a
chest procedure. Clinical basis: in coronary angiography / PCI, electrophysiology and other
cardiac and thoracic interventions the patient's arms are placed above the head (or on arm
boards beside it) so that the steep LAO/RAO and lateral projections neither image nor
irradiate the arms (standard cardiac catheterisation positioning; radial access keeps the
access arm on an arm board, which the stylized phantom does not model). Every other
procedure keeps the arms at the sides (abdominal, pelvic, peripheral and neuro work).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from skindose.notes import Note, NoteCode, Severity

__all__ = ["CHEST_PATTERN", "default_phantom", "is_cardiac_or_chest"]

#: Target-region / protocol / study text that means "cardiac or chest" (arms raised).
CHEST_PATTERN = re.compile(
    r"heart|cardi|coronar|\bcoro\b|kardi|herz|\bpci\b|ptca|\bcor\b|ablation|pacemaker|\bicd\b|valve|"
    r"\btavi\b|\btavr\b|chest|thora|lung|pulmon|bronch|mediastin|bröst|electrophys|\bep\b",
    re.IGNORECASE,
)


def _kerma(ev: Any) -> float:
    k = getattr(ev, "kerma_rp_gy", None)
    return float(k) if k is not None and k > 0 else 0.0


def is_cardiac_or_chest(procedures: Sequence[Any]) -> tuple[bool, str]:
    """Whether the procedures are cardiac or chest work, and why.

    The events' target regions are weighed by their K_RP (an event without K_RP counts 1e-9):
    cardiac/chest when the regions that match :data:`CHEST_PATTERN` carry more than half of
    the weight of the events that report a region. When no event reports a region, the study
    description and the protocol names decide.

    Returns
    -------
    (bool, str)
        The decision and a one-line reason.
    """
    w_chest = w_all = 0.0
    named: dict[str, float] = {}
    for p in procedures:
        for ev in p.events:
            region = getattr(ev, "target_region", None)
            if not region:
                continue
            w = _kerma(ev) or 1e-9
            w_all += w
            named[region] = named.get(region, 0.0) + w
            if CHEST_PATTERN.search(region):
                w_chest += w
    if w_all > 0:
        top = max(named, key=lambda k: named[k])
        share = w_chest / w_all
        return share > 0.5, (
            f"{100 * share:.0f}% of the K_RP has a cardiac/chest target region "
            f"(largest: {top!r})"
        )
    texts = []
    for p in procedures:
        texts.append(getattr(getattr(p, "study", None), "description", "") or "")
        texts.extend(getattr(ev, "protocol", "") or "" for ev in p.events)
    for t in texts:
        if t and CHEST_PATTERN.search(t):
            return True, f"no target region reported; the text {t!r} is cardiac/chest"
    return False, "no cardiac or chest target region or description"


def _sex(procedures: Sequence[Any]) -> str | None:
    for p in procedures:
        s = (getattr(p.patient, "sex", None) or "").strip().upper()
        if s in ("F", "FEMALE"):
            return "female"
        if s in ("M", "MALE"):
            return "male"
    return None


@functools.lru_cache(maxsize=8)
def _adult(height_m: float | None, mass_kg: float | None, cell_area_cm2: float, arms: str,
           sex: str) -> Any:
    """:func:`adult`, remembered per size: a dashboard computing many short files for one
    patient builds the mesh and its acceleration structure once (the Phantom is immutable;
    :meth:`Phantom.with_spec` adds the per-call choice without touching it); across processes
    the mesh comes from the on-disk cache of :mod:`skindose.phantoms._cache` when it is there."""
    from skindose.phantoms._build import adult
    from skindose.phantoms._cache import cached_phantom

    params = {"generator": "adult", "height_m": height_m, "mass_kg": mass_kg,
              "cell_area_cm2": cell_area_cm2, "arms": arms, "sex": sex}
    ph = cached_phantom(params, lambda: adult(height_m=height_m, mass_kg=mass_kg,
                                              cell_area_cm2=cell_area_cm2, arms=arms, sex=sex))
    ph.accel  # noqa: B018 - built here once, shared by every copy (with_spec)
    ph.label(0)  # the cell labels and the bounds too
    ph.bounds  # noqa: B018
    return ph


def default_phantom(procedures: Any, settings: Any = None) -> tuple[Any, list[Note]]:
    """The default phantom for ``procedures`` and the notes that say how it was chosen.

    Parameters
    ----------
    procedures
        A :class:`~skindose.rdsr.model.Procedure` or a sequence of them (same patient).
    settings
        :class:`~skindose.settings.Settings` (``arms``, ``phantom_sex``, ``cell_area_cm2``).

    Returns
    -------
    (Phantom, list of Note)
        :func:`skindose.phantoms.adult` with the variant and size chosen, and notes
        (``NoteCode.PHANTOM``: variant and why; ``NoteCode.PATIENT_SIZE_DEFAULTED``: height or
        mass not reported). ``phantom.spec["choice"]`` holds the same facts for programs.
    """
    from skindose.errors import GeometryError
    from skindose.rdsr.model import Procedure
    from skindose.settings import Settings

    s = settings if settings is not None else Settings()
    procs = [procedures] if isinstance(procedures, Procedure) else list(procedures)
    notes: list[Note] = []
    arms_setting = getattr(s, "arms", "auto")
    if arms_setting == "auto":
        chest, why = is_cardiac_or_chest(procs)
        arms = "up" if chest else "down"
        arms_why = f"arms {'raised above the head' if chest else 'at the sides'} (auto: {why})"
    else:
        arms = arms_setting
        arms_why = f"arms {arms} (Settings.arms)"
    sex_setting = getattr(s, "phantom_sex", "auto")
    if sex_setting == "auto":
        reported = _sex(procs)
        sex = reported or "male"
        sex_why = (f"{sex} phantom (Patient's Sex in the RDSR)" if reported
                   else "male phantom (Patient's Sex not reported)")
    else:
        sex = sex_setting
        sex_why = f"{sex} phantom (Settings.phantom_sex)"

    h = m = None
    for p in procs:
        if p.patient.height_m is not None or p.patient.mass_kg is not None:
            h, m = p.patient.height_m, p.patient.mass_kg
            break
    try:
        ph = _adult(h, m, s.cell_area_cm2, arms, sex)
    except GeometryError as exc:
        notes.append(Note(
            code=NoteCode.PATIENT_SIZE_DEFAULTED, severity=Severity.WARNING, stage="phantom",
            text=f"patient size not usable for the phantom ({exc}): reference size used",
        ))
        h = m = None
        ph = _adult(None, None, s.cell_area_cm2, arms, sex)
    missing = [what for what, v in (("height", h), ("mass", m)) if v is None]
    if missing:
        notes.append(Note(
            code=NoteCode.PATIENT_SIZE_DEFAULTED, stage="phantom",
            text=f"patient {' and '.join(missing)} not reported: the reference "
                 f"{sex} size is used ({ph.height_m:g} m, {ph.mass_kg:g} kg)",
            data={"defaulted": missing, "height_m": ph.height_m, "mass_kg": ph.mass_kg},
        ))
    choice = {
        "name": ph.name, "arms": arms, "sex": sex, "arms_reason": arms_why,
        "sex_reason": sex_why, "height_m": ph.height_m, "mass_kg": ph.mass_kg,
        "size_defaulted": missing,
    }
    ph = ph.with_spec(choice=choice)
    notes.append(Note(
        code=NoteCode.PHANTOM, stage="phantom",
        text=f"default phantom {ph.name}: {arms_why}; {sex_why}; scaled to {ph.height_m:g} m, "
             f"{ph.mass_kg:g} kg, cells of at most {s.cell_area_cm2:g} cm² ({ph.n_cells} cells)",
        data=choice,
    ))
    return ph, notes
