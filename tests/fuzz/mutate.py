"""Mutation fuzzing of the real RDSRs: mutators, one-mutant runner and the invariants it checks.

Shared by ``tests/fuzz/test_fuzz.py`` (a bounded quick run) and ``scripts/fuzz.py`` (the long
campaign). Every mutant is reproducible from ``(file, seed)``.

Mutation classes
----------------
Structural (on the pydicom content tree, at any depth):
``delete`` an item, ``duplicate`` an item, ``retype`` an item (ValueType changed),
``concept`` (concept name sequence deleted, emptied or its code changed), ``number`` (a
NUM value set to 0, negative, tiny, huge, NaN or ±inf), ``unit`` (unknown, empty or missing
unit), ``sequence`` (a content, measured-value or code sequence deleted or emptied),
``header`` (a top-level attribute deleted or blanked).
Byte level (on the file): ``truncate`` at a random offset, ``flip`` random bytes anywhere,
``flipmeta`` random bytes in the preamble and file meta.

Invariants (each violation gets a class name)
-----------------------------------------------
* ``exception:<Type>``: only :class:`skindose.errors.SkinDoseError` may escape
  :func:`skindose.read_rdsr` or :func:`skindose.compute`.
* ``event-lost``: events read + events named in notes (damaged, unusable or duplicate events)
  is at least the number of Irradiation Event X-Ray Data (DCM 113706) containers the mutant
  holds (structural mutants: the original count, minus deleted, plus duplicated containers;
  byte-level mutants: the code value's occurrences in the mutant's bytes).
* ``truncation-silent``: a file cut inside its content was read without a critical note.
* ``non-finite`` / ``negative``: PSD, every dose array, every number of ``summary()`` and of
  the per-event results are finite; doses, kermas, KAPs and areas are >= 0. (``summary()``
  writes a non-finite number as None; the arrays and event results are checked raw.)
* ``hang``: a mutant that uses more CPU time than its limit (or, in the campaign, a worker
  that does not answer within 10 times the limit of wall-clock time).
"""

from __future__ import annotations

import copy
import io
import math
import random
import signal
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STRUCTURAL = ("delete", "duplicate", "retype", "concept", "number", "unit", "sequence",
              "header")
BYTES = ("truncate", "flip", "flipmeta")
CLASSES = STRUCTURAL + BYTES

EVENT_CODE = "113706"  # DCM: Irradiation Event X-Ray Data
_EVENT_CODE_BYTES = EVENT_CODE.encode()

_EXTREMES = (0.0, -0.0, -1.0, -1e308, 1e308, 1e-300, -1e-300, 1e20, -1e20, 1e6,
             float("nan"), float("inf"), float("-inf"), 2**63, -(2**63))
_UNITS = ("furlong", "", "Gy/s", "mGy.m2", "rad", "um", "kV", "%", "1")
_VALUE_TYPES = ("CONTAINER", "NUM", "TEXT", "CODE", "UIDREF", "DATETIME", "PNAME", "", "XYZ")
_HEADER_KEYS = ("SOPClassUID", "SOPInstanceUID", "Manufacturer", "ManufacturerModelName",
                "PatientID", "PatientSize", "PatientWeight", "StudyDate", "ContentTemplateSequence",
                "ConceptNameCodeSequence", "ValueType", "PatientAge", "ContentSequence")


@dataclass
class Outcome:
    """What one mutant did."""

    file: str
    seed: int
    kind: str
    detail: str = ""
    read_ok: bool = False
    computed: bool = False
    rejected: str = ""  # the SkinDoseError message, when refused
    failures: list[str] = field(default_factory=list)  # invariant classes violated
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# the content tree


def _items(ds: Any, depth: int = 0) -> Iterator[tuple[Any, Any, int, int]]:
    """(parent sequence, item, index, depth) of every content item, depth first."""
    seq = ds.get("ContentSequence")
    if not seq:
        return
    for i, it in enumerate(list(seq)):
        yield seq, it, i, depth
        yield from _items(it, depth + 1)


def _code(it: Any) -> str:
    try:
        return str(it.ConceptNameCodeSequence[0].CodeValue)
    except Exception:
        return ""


def count_event_containers(ds: Any) -> int:
    """Irradiation Event X-Ray Data containers anywhere in the tree."""
    return sum(1 for _, it, _, _ in _items(ds) if _code(it) == EVENT_CODE)


def _n_events_in(it: Any) -> int:
    return (1 if _code(it) == EVENT_CODE else 0) + sum(
        1 for _, x, _, _ in _items(it) if _code(x) == EVENT_CODE)


def _pick(rng: random.Random, ds: Any, want=None) -> tuple[Any, Any, int, int] | None:
    cands = [x for x in _items(ds) if want is None or want(x[1])]
    if not cands:
        return None
    # an event container itself a quarter of the time (where an event can vanish)
    events = [x for x in cands if _code(x[1]) == EVENT_CODE]
    if events and rng.random() < 0.25:
        return rng.choice(events)
    # favour items inside events half of the time (that is where the numbers are)
    inside = [x for x in cands if x[3] >= 2]
    if inside and rng.random() < 0.5:
        return rng.choice(inside)
    return rng.choice(cands)


def _mutate_structure(kind: str, ds: Any, rng: random.Random, expected: int) -> tuple[str, int]:
    """Apply one structural mutation in place; returns (detail, expected event count)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    if kind == "delete":
        hit = _pick(rng, ds)
        if hit is None:
            return "nothing to delete", expected
        seq, it, i, d = hit
        n = _n_events_in(it)
        del seq[i]
        return f"deleted item {_code(it) or '?'} at depth {d}", expected - n
    if kind == "duplicate":
        hit = _pick(rng, ds)
        if hit is None:
            return "nothing to duplicate", expected
        seq, it, i, d = hit
        seq.insert(i + rng.randint(0, 1), copy.deepcopy(it))
        return f"duplicated item {_code(it) or '?'} at depth {d}", expected + _n_events_in(it)
    if kind == "retype":
        hit = _pick(rng, ds)
        if hit is None:
            return "nothing to retype", expected
        _, it, _, d = hit
        new = rng.choice(_VALUE_TYPES)
        old = str(it.get("ValueType", ""))
        it.ValueType = new
        if new == "NUM" and "MeasuredValueSequence" not in it and rng.random() < 0.5:
            mv = Dataset()
            mv.NumericValue = rng.choice(("1", "-1", "1e308", "nan"))
            it.MeasuredValueSequence = Sequence([mv])
        return f"retyped {_code(it) or '?'} {old}->{new} at depth {d}", expected
    if kind == "concept":
        hit = _pick(rng, ds, lambda it: "ConceptNameCodeSequence" in it)
        if hit is None:
            return "no concept names", expected
        _, it, _, d = hit
        how = rng.choice(("delete", "empty", "code", "scheme", "meaning"))
        code = _code(it)
        if how == "delete":
            del it.ConceptNameCodeSequence
        elif how == "empty":
            it.ConceptNameCodeSequence = Sequence([])
        elif how == "code":
            it.ConceptNameCodeSequence[0].CodeValue = rng.choice(("999999", "", "113706x"))
        elif how == "scheme":
            it.ConceptNameCodeSequence[0].CodingSchemeDesignator = rng.choice(("XYZ", ""))
        else:
            it.ConceptNameCodeSequence[0].CodeMeaning = "\ufffd" * rng.randint(0, 3)
        return f"concept name of {code or '?'} {how} at depth {d}", expected
    if kind == "number":
        hit = _pick(rng, ds, lambda it: "MeasuredValueSequence" in it
                    and len(it.MeasuredValueSequence) > 0)
        if hit is None:
            return "no numbers", expected
        _, it, _, d = hit
        v = rng.choice(_EXTREMES)
        text = rng.choice((repr(v), f"{v:.6g}" if isinstance(v, float) else str(v)))
        it.MeasuredValueSequence[0].NumericValue = text[:16]
        return f"{_code(it) or '?'} = {text[:16]} at depth {d}", expected
    if kind == "unit":
        hit = _pick(rng, ds, lambda it: "MeasuredValueSequence" in it
                    and len(it.MeasuredValueSequence) > 0)
        if hit is None:
            return "no numbers", expected
        _, it, _, d = hit
        mv = it.MeasuredValueSequence[0]
        if rng.random() < 0.25 or "MeasurementUnitsCodeSequence" not in mv:
            if "MeasurementUnitsCodeSequence" in mv:
                del mv.MeasurementUnitsCodeSequence
            return f"unit of {_code(it) or '?'} deleted at depth {d}", expected
        u = rng.choice(_UNITS)
        mv.MeasurementUnitsCodeSequence[0].CodeValue = u
        return f"unit of {_code(it) or '?'} -> {u!r} at depth {d}", expected
    if kind == "sequence":
        name = rng.choice(("ContentSequence", "MeasuredValueSequence", "ConceptCodeSequence",
                           "MeasurementUnitsCodeSequence"))
        hit = _pick(rng, ds, lambda it: name in it)
        if hit is None:
            return f"no {name}", expected
        _, it, _, d = hit
        lost = sum(_n_events_in(x) for x in it.get("ContentSequence") or []) \
            if name == "ContentSequence" else 0
        if rng.random() < 0.5:
            delattr(it, name)
            how = "deleted"
        else:
            setattr(it, name, Sequence([]))
            how = "emptied"
        # events inside a deleted content sequence are gone from the mutant
        return f"{name} of {_code(it) or '?'} {how} at depth {d}", expected - lost
    if kind == "header":
        key = rng.choice(_HEADER_KEYS)
        if key not in ds:
            return f"{key} absent", expected
        if key == "ContentSequence":
            return "ContentSequence kept", expected
        if rng.random() < 0.5 or key.endswith("Sequence"):
            delattr(ds, key)
            return f"header {key} deleted", expected
        try:
            setattr(ds, key, "")
        except Exception:
            delattr(ds, key)
        return f"header {key} blanked", expected
    raise ValueError(kind)  # pragma: no cover


def make_mutant(original: bytes, kind: str, seed: int) -> tuple[bytes | Any, str, int | None]:
    """A mutant of ``original``: (bytes, or a pydicom Dataset when it cannot be written;
    what was done; the number of event containers it holds, None when not known)."""
    import pydicom

    rng = random.Random(seed)
    if kind == "truncate":
        cut = rng.randint(0, len(original) - 1)
        data = original[:cut]
        return data, f"cut at {cut}/{len(original)}", data.count(_EVENT_CODE_BYTES)
    if kind in ("flip", "flipmeta"):
        b = bytearray(original)
        hi = min(len(b), 132 + 400) if kind == "flipmeta" else len(b)
        n = rng.randint(1, 8 if kind == "flipmeta" else 30)
        for _ in range(n):
            b[rng.randrange(0, hi)] = rng.randrange(256)
        data = bytes(b)
        return data, f"{n} byte(s) flipped", data.count(_EVENT_CODE_BYTES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(original))
        expected = _original_count(original, ds)
        n_mut = 1 + (rng.random() < 0.3) * rng.randint(1, 3)
        details = []
        for _ in range(n_mut):
            d, expected = _mutate_structure(kind, ds, rng, expected)
            details.append(d)
        out: bytes | Any = ds
        # a quarter of the mutants go through the writer and back through the file parser;
        # the others reach the reader as the mutated Dataset (writing costs as much as reading)
        if rng.random() < 0.25:
            buf = io.BytesIO()
            try:
                ds.save_as(buf, enforce_file_format=False)
                out = buf.getvalue()
                details.append("written")
            except Exception:  # some mutants cannot be written: give the reader the dataset
                pass
    return out, "; ".join(details), expected


_COUNTS: dict[bytes, int] = {}


def _original_count(original: bytes, ds: Any) -> int:
    key = original[-4096:] + len(original).to_bytes(8, "little")
    if key not in _COUNTS:
        _COUNTS[key] = count_event_containers(ds)
    return _COUNTS[key]


# ---------------------------------------------------------------------------------------------
# invariants

_LOST_CODES = ("event-damaged", "event-unusable", "duplicate-event", "file-truncated")
_NONNEG_SUFFIXES = ("_gy", "_gym2", "_m2", "_cm2", "_mm2")


def _named_events(proc: Any) -> int:
    """Events a procedure names in its notes as not read (damaged, duplicate, lost)."""
    notes = getattr(proc, "notes", None) or ()
    named = set()
    extra = 0
    for n in notes:
        code = getattr(n.code, "value", str(n.code))
        if code not in _LOST_CODES:
            continue
        if code == "event-unusable" and n.event_index is not None:
            continue  # an unusable event is still one of the events read
        data = dict(getattr(n, "data", {}) or {})
        k = data.get("n_events", data.get("n_lost", data.get("count")))
        if isinstance(k, int) and not isinstance(k, bool) and k > 0:
            extra += k
        else:
            named.add((code, n.event_index, n.text))
    return len(named) + extra


def _walk_numbers(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk_numbers(v, f"{path}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _walk_numbers(v, f"{path}[{i}]")
    elif isinstance(obj, np.ndarray):
        for i, v in enumerate(obj.ravel().tolist()):
            yield f"{path}[{i}]", v
    elif isinstance(obj, bool):
        return
    elif isinstance(obj, int | float | np.floating | np.integer):
        yield path, obj


def _dose_like(path: str) -> bool:
    leaf = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return leaf.endswith(_NONNEG_SUFFIXES) or leaf in ("psd", "dose")


def check_result(result: Any) -> list[tuple[str, str]]:
    """(class, message) for every non-finite or negative number of a SkinDoseMap."""
    bad: list[tuple[str, str]] = []

    def check(name: str, v: Any, nonneg: bool) -> None:
        if v is None:
            return
        x = float(v)
        if not math.isfinite(x):
            bad.append(("non-finite", f"{name} = {x}"))
        elif nonneg and x < 0:
            bad.append(("negative", f"{name} = {x}"))

    check("psd_gy", result.psd_gy, True)
    for name in ("dose_gy", "psd_timeline_gy"):
        a = np.asarray(getattr(result, name), dtype=float)
        if a.size and not np.all(np.isfinite(a)):
            bad.append(("non-finite", f"{name}: {int((~np.isfinite(a)).sum())} value(s)"))
        elif a.size and a.min() < 0:
            bad.append(("negative", f"{name} min {a.min()}"))
    for e in result.events:
        for k in ("kerma_rp_gy", "kap_gym2", "max_dose_gy", "skin_factor"):
            check(f"event {e.index}.{k}", getattr(e, k, None), True)
    for path, v in _walk_numbers(result.summary()):
        check(f"summary{path}", v, _dose_like(path))
    if result.summary().get("psd_gy") is None:
        bad.append(("non-finite", "summary psd_gy is None"))
    return bad


# ---------------------------------------------------------------------------------------------
# one mutant


class MutantTimeout(Exception):
    """A mutant ran past its time limit."""


def _alarm(signum: int, frame: Any) -> None:
    raise MutantTimeout


def run_mutant(path: Path, original: bytes, kind: str, seed: int, phantom: Any,
               settings: Any, *, timeout_s: float = 20.0) -> Outcome:
    """Mutate, read, compute and check one mutant."""
    import time

    from skindose import compute, read_rdsr
    from skindose.errors import SkinDoseError

    out = Outcome(file=path.name, seed=seed, kind=kind)
    t0 = time.perf_counter()
    # the limit is CPU time of this process (all its threads): a worker starved by a loaded
    # machine is not hanging; a worker stuck without using CPU is caught by the campaign's
    # wall-clock limit on the whole task
    use_alarm = hasattr(signal, "setitimer")
    if use_alarm:
        old = signal.signal(signal.SIGPROF, _alarm)
        signal.setitimer(signal.ITIMER_PROF, timeout_s)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                mutant, out.detail, expected = make_mutant(original, kind, seed)
            except MutantTimeout:
                raise
            except Exception as exc:  # a mutator bug, not a finding
                out.messages.append(f"mutator failed: {type(exc).__name__}: {exc}")
                return out
            stage = "read"
            try:
                proc = read_rdsr(mutant)
                out.read_ok = True
                n_read = proc.n_events
                named = _named_events(proc)
                if expected is not None and n_read + named < expected:
                    out.failures.append("event-lost")
                    out.messages.append(f"{expected} event container(s), {n_read} read, "
                                        f"{named} named in notes")
                if kind == "truncate" and expected is not None:
                    crit = [n for n in (getattr(proc, "notes", None) or ())
                            if getattr(n.severity, "value", n.severity) == "critical"]
                    cut = int(out.detail.split()[2].split("/")[0])
                    if not crit and cut < _content_end(original):
                        out.failures.append("truncation-silent")
                        out.messages.append("truncated inside the content, no critical note")
                stage = "compute"
                result = compute(proc, phantom, settings=settings)
                out.computed = True
                for cls, msg in check_result(result):
                    if cls not in out.failures:
                        out.failures.append(cls)
                    out.messages.append(msg)
            except SkinDoseError as exc:
                out.rejected = f"{stage}: {type(exc).__name__}: {str(exc)[:200]}"
    except MutantTimeout:
        out.failures.append("hang")
        out.messages.append(f"over {timeout_s:g} s of CPU time")
    except Exception as exc:
        out.failures.append(f"exception:{type(exc).__name__}")
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(tb)
                      if "skindose" in f.filename), "?")
        out.messages.append(f"{type(exc).__name__}: {str(exc)[:200]} at {where}")
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, old)
        out.seconds = time.perf_counter() - t0
    return out


_CONTENT_END: dict[int, int] = {}


def _content_end(original: bytes) -> int:
    """Offset after which a cut removes nothing of the content tree (trailing padding etc.).

    Conservatively the offset of the last byte of the last event container's code value."""
    key = id(original)
    if key not in _CONTENT_END:
        _CONTENT_END[key] = original.rfind(_EVENT_CODE_BYTES) + len(_EVENT_CODE_BYTES)
    return _CONTENT_END[key]


def coarse_phantom() -> Any:
    """The fuzz phantom: the cylinder (about 10,000 cells; the pipeline, not the physics)."""
    from skindose import phantoms

    return phantoms.cylinder()


def fuzz_settings() -> Any:
    from skindose.settings import Settings

    return Settings(parallel=False)
