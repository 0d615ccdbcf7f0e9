"""Read an X-Ray Radiation Dose SR into a :class:`~skindose.rdsr.model.Procedure`.

The reader walks the SR content tree and matches concepts by code value (scheme + value, legacy
SRT and current SCT both accepted), never by code meaning. It converts every unit through the
table in :mod:`skindose.rdsr.units`, reads the vendor private items it needs, tolerates the
structural quirks seen in real files (``docs/rdsr.md`` §2.4), and records every repair and
default in plain words.

It is tolerant on decode and strict on what it claims: a value it cannot read becomes ``None``
with a warning, an event it cannot use is kept with ``unusable`` set, and a file that is not a
usable projection X-ray RDSR raises :class:`~skindose.errors.RDSRError` naming the file and the
reason.
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from skindose.errors import RDSRError, RDSRWarning
from skindose.notes import Note, NoteCode, Severity
from skindose.rdsr import _fastparse
from skindose.rdsr.codes import (
    FILTER_MATERIALS,
    REFERENCE_POINT_CODES,
    TARGET_REGIONS,
    C,
    Code,
    P,
    code_key,
)
from skindose.rdsr.limits import FILTER_THICKNESS, LIMITS, TOTAL_LIMITS, check
from skindose.rdsr.model import (
    IEC_REFERENCE_POINT,
    MIN_FIELD_MM,
    AccumulatedDose,
    Device,
    EventType,
    Filter,
    IrradiationEvent,
    Patient,
    PatientOrientation,
    Plane,
    Procedure,
    ReferencePoint,
    ReferencePointKind,
    SrpSource,
    Study,
    source_to_reference_point_mm,
    wrap_angles,
)
from skindose.rdsr.units import NONSTANDARD, convert

__all__ = ["ProgressCallback", "parse_reference_point", "progress_line", "read_rdsr"]

RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.67"
ENHANCED_RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.76"
_OTHER_SOPS = {
    "1.2.840.10008.5.1.4.1.1.88.73": "a Patient Radiation Dose SR (an output format, not modality "
    "dose data)",
    "1.2.840.10008.5.1.4.1.1.88.68": "a Radiopharmaceutical Radiation Dose SR (nuclear medicine; "
    "out of scope)",
    "1.2.840.10008.5.1.4.1.1.88.22": "an Enhanced SR; older Siemens units (e.g. ARCADIS Varic) "
    "send a proprietary 'Radiation Summary Report' of this class, which has no per-event "
    "geometry and is not supported",
    "1.2.840.10008.5.1.4.1.1.88.11": "a Basic Text SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "a Comprehensive SR",
}

Source = str | os.PathLike | bytes | bytearray | BinaryIO | Dataset


# ---------------------------------------------------------------------------------------------
# small helpers on content items


_FastDataset = _fastparse.FastDataset
_DSValue = _fastparse.DSValue


def _code_of(c: Dataset) -> Code:
    """The normalised code of a code sequence item (scheme + value).

    On the fast path one item object stands for every byte-identical copy in the file
    (concept names recur thousands of times), so the result is kept on the object.
    """
    if c.__class__ is _FastDataset:
        try:
            k = c._code  # type: ignore[attr-defined]
        except AttributeError:  # a dataset not made as a sequence item
            k = None
        if k is None:
            k = code_key(c.get("CodingSchemeDesignator"), c.get("CodeValue"))
            c._code = k  # type: ignore[attr-defined]
        return k
    return code_key(c.get("CodingSchemeDesignator"), c.get("CodeValue"))


_dict_get = dict.get


def _concept(item: Dataset) -> Code | None:
    if item.__class__ is _FastDataset:  # (the hottest call of the walk)
        try:
            k = item._concept  # type: ignore[attr-defined]
        except AttributeError:  # a dataset not made as a sequence item
            k = None
        if k is not None:
            return k
        seq = _dict_get(item, "ConceptNameCodeSequence")  # a sequence is a list already
        if seq.__class__ is tuple:  # other bytes under this keyword: decode them as ever
            seq = item.get("ConceptNameCodeSequence")
        if not seq:
            return None
        k = _code_of(seq[0])
        item._concept = k  # type: ignore[attr-defined]
        return k
    seq = item.get("ConceptNameCodeSequence")
    if not seq:
        return None
    return _code_of(seq[0])


def _coded_value(item: Dataset) -> Code | None:
    seq = item.get("ConceptCodeSequence")
    if not seq:
        return None
    return _code_of(seq[0])


def _coded_meaning(item: Dataset) -> str:
    seq = item.get("ConceptCodeSequence")
    if not seq:
        return ""
    return str(seq[0].get("CodeMeaning", "") or "")


def _children(item: Dataset) -> list[Dataset]:
    seq = item.get("ContentSequence")
    return list(seq) if seq else []


def _index(items: Iterable[Dataset]) -> dict[Code, list[Dataset]]:
    out: dict[Code, list[Dataset]] = {}
    for it in items:
        key = None
        if it.__class__ is _FastDataset:  # a concept known already (see _concept)
            try:
                key = it._concept  # type: ignore[attr-defined]
            except AttributeError:
                pass
        if key is None:
            key = _concept(it)
        if key is not None:
            out.setdefault(key, []).append(it)
    return out


def _text(item: Dataset) -> str | None:
    vt = item.get("ValueType")
    if vt == "TEXT" and "TextValue" in item:
        return str(item.TextValue)
    if vt == "UIDREF" and "UID" in item:
        return str(item.UID)
    if vt == "CODE":
        return _coded_meaning(item) or None
    return str(item.TextValue) if "TextValue" in item else None


_HOUSE = {"dose": "Gy", "kap": "Gy·m²", "exposure": "µA·s", "rate": "pulses/s"}


class _Ctx:
    """Per-file parsing context: collects typed notes (:class:`~skindose.notes.Note`)."""

    def __init__(self, source: str):
        self.source = source
        self.notes: list[Note] = []
        self._seen: set[str] = set()

    def warn(
        self,
        message: str,
        *,
        code: NoteCode = NoteCode.READER_DEFAULT,
        severity: Severity | None = None,
        event: int | None = None,
        once_key: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record a note (once per ``once_key`` when given)."""
        if once_key is not None:
            if once_key in self._seen:
                return
            self._seen.add(once_key)
        self.notes.append(Note(code=code, text=message, severity=severity, event_index=event,
                               stage="rdsr", data=data or {}))

    def warn_at(self, where: int | str | None, message: str, **kw: Any) -> None:
        """A note about ``where``: a 0-based event index, or a named part of the file."""
        if isinstance(where, int):
            self.warn(message, event=where, **kw)
        elif where:
            self.warn(f"{where}: {message}", **kw)
        else:
            self.warn(message, **kw)

    def num(
        self,
        item: Dataset,
        dimension: str,
        what: str,
        where: int | str,
        *,
        assumed: set[str] | None = None,
        name: str | None = None,
    ) -> float | None:
        """Numeric value of a NUM item in the house unit, or None (with a warning)."""
        if item.__class__ is _FastDataset:  # a sequence is a list already (see _concept)
            seq = _dict_get(item, "MeasuredValueSequence")
            if seq.__class__ is tuple:
                seq = item.get("MeasuredValueSequence")
        else:
            seq = item.get("MeasuredValueSequence")
        if not seq:
            self.warn_at(where, f"{what} is present but has no value; treated as not reported")
            return None
        mv = seq[0]
        fast = mv.__class__ is _FastDataset
        cached = None
        if fast:  # one object for every byte-identical measured value: its result is kept
            try:
                cached = mv._num  # type: ignore[attr-defined]
            except AttributeError:  # a dataset not made as a sequence item
                fast = False
        if cached is not None:
            value, unit = cached
        else:
            value, unit = self._measured(mv, what, where, assumed, name, fast)
            if value is None:
                return None
        try:
            out = convert(value, unit, dimension)
        except KeyError:
            self.warn_at(
                where, f"{what} has unit {unit!r}, which is not a {dimension} unit skindose "
                "knows; the value is not used"
            )
            return None
        if unit in NONSTANDARD or (dimension in ("dose", "kap") and unit not in ("Gy", "Gy.m2")):
            house = _HOUSE.get(dimension, dimension)
            self.warn(
                f"values in the non-standard unit {unit!r} (first: {what}) were converted to "
                f"{house}",
                once_key=f"unit:{unit}", code=NoteCode.UNIT_CONVERTED,
            )
        return out

    def _measured(self, mv: Dataset, what: str, where: int | str, assumed: set[str] | None,
                  name: str | None, fast: bool) -> tuple[float | None, str | None]:
        """(value, unit code) of a measured-value item; value None: not reported (noted)."""
        raw = mv.get("NumericValue")
        if raw is None or raw == "":
            self.warn_at(where, f"{what} is present but empty; treated as not reported")
            return None, None
        if raw.__class__ is _DSValue:  # the fast path's single DS value: a float already
            value = float(raw)
            if not math.isfinite(value):
                return None, None
        else:
            fast = False  # several values: notes per event, nothing is kept
            values: list[float] = []
            multi = isinstance(raw, list | tuple | pydicom.multival.MultiValue)
            raw_list = list(raw) if multi else [raw]
            for r in raw_list:
                try:
                    values.append(float(r))
                except (TypeError, ValueError):
                    self.warn_at(where, f"{what} value {r!r} is not a number; ignored")
            values = [v for v in values if math.isfinite(v)]
            if not values:
                return None, None
            if len(values) > 1:
                nz = [v for v in values if v != 0.0] or values
                value = sum(nz) / len(nz)
                self.warn_at(
                    where, f"{what} has {len(values)} values (one per pulse); the mean of the "
                    f"non-zero values, {value:g}, is used", code=NoteCode.MULTI_VALUED
                )
                if assumed is not None and name:
                    assumed.add(name)
            else:
                value = values[0]
        useq = mv.get("MeasurementUnitsCodeSequence")
        unit = str(useq[0].get("CodeValue", "")) if useq else None
        if fast:
            mv._num = (value, unit)  # type: ignore[attr-defined]
        return value, unit


# ---------------------------------------------------------------------------------------------
# reference point


# compiled at import (a file's first read would otherwise compile them: ≈ 1 ms)
_RP_NUM = re.compile(r"(\d+(?:[.,]\d+)?)\s*(mm|cm|m)\b")
_AGE = re.compile(r"(\d{1,3})([DWMY])")
_SIEMENS_POSITION = re.compile(r"<PatientPosition>\s*<Position\s+SRData\s*=\s*\"([^\"]*)\"")
_II_DIAMETER = re.compile(r"<iiDiameter\s+SRData\s*=\s*\"\s*([\d.]+)\s*\"")


def parse_reference_point(text: str, code: str | None = None) -> ReferencePoint:
    """Parse a Reference Point Definition (coded CID 10025 value or free text).

    Parameters
    ----------
    text
        The code meaning or the free text, e.g. ``"15cm below BeamIsocenter"``,
        ``"26.0 cm Chamber Patient Distance"``, ``"530 mm from tube focus towards detector"``.
    code
        The DCM code value when the definition was coded (e.g. ``"113860"``).

    Returns
    -------
    ReferencePoint
        ``kind`` is UNKNOWN when the definition could not be understood.

    Examples
    --------
    >>> parse_reference_point("15cm below BeamIsocenter").distance_mm
    150.0
    >>> parse_reference_point("530 mm from tube focus towards detector").kind.value
    'from source'
    """
    if code is not None and code in REFERENCE_POINT_CODES:
        kind, dist = REFERENCE_POINT_CODES[code]
        return ReferencePoint(
            kind=ReferencePointKind(kind), distance_mm=dist, text=text, code=f"DCM:{code}"
        )
    t = " ".join((text or "").split()).lower()
    m = _RP_NUM.search(t)
    dist = None
    if m:
        number = float(m.group(1).replace(",", "."))
        dist = number * {"mm": 1.0, "cm": 10.0, "m": 1000.0}[m.group(2)]
    kind = ReferencePointKind.UNKNOWN
    head = t.split("from")[0]
    if dist is not None:
        if "iso" in t and any(k in t for k in ("below", "toward", "towards", "from", "before")):
            kind = ReferencePointKind.ISOCENTER_OFFSET
        elif any(k in t for k in ("focus", "source", "tube")) and "detector" not in head:
            kind = ReferencePointKind.FROM_SOURCE
        elif "image" in t or "input surface" in t or "detector" in t or "receptor" in t:
            kind = ReferencePointKind.DETECTOR_OFFSET
        elif "tabletop" in t or "table top" in t:
            kind = ReferencePointKind.ABOVE_TABLETOP
        elif "centerline" in t or "centreline" in t:
            kind = ReferencePointKind.TABLE_CENTERLINE
        elif "chamber" in t and "patient" in t:
            # Canon Ultimaxi "26.0 cm Chamber Patient Distance": stated together with DSRP;
            # the text alone does not say from where the distance is measured.
            kind = ReferencePointKind.UNKNOWN
    elif "surface of patient" in t or "patient surface" in t:
        kind = ReferencePointKind.PATIENT_SURFACE
    elif "detector plane" in t:
        kind = ReferencePointKind.DETECTOR_PLANE
    return ReferencePoint(kind=kind, distance_mm=dist, text=text or "", code=None)


def _reference_point_of(item: Dataset) -> ReferencePoint:
    if item.get("ValueType") == "CODE":
        cv = _coded_value(item)
        meaning = _coded_meaning(item)
        return parse_reference_point(meaning, cv.value if cv and cv.scheme == "DCM" else None)
    return parse_reference_point(_text(item) or "")


# ---------------------------------------------------------------------------------------------
# loading


def _fast_input(source: Source) -> tuple[bytes | None, str]:
    """The encoded bytes for the fast path (None: give ``source`` to pydicom) and the name.

    Raises the same errors as :func:`_load` for a missing file, a directory or a wrong type.
    """
    if isinstance(source, Dataset):
        return _dataset_bytes(source), str(getattr(source, "filename", "") or "<dataset>")
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "<bytes>"
    if isinstance(source, str | os.PathLike):
        p, name = _existing_file(source)
        try:
            return p.read_bytes(), name
        except OSError as exc:
            raise RDSRError(f"cannot read the file ({exc})", source=name) from None
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "<file object>"))
        data = source.read()
        if not isinstance(data, bytes | bytearray):
            raise RDSRError("the file object is not opened in binary mode", source=name)
        return bytes(data), name
    _load(source)  # raises the type error
    raise AssertionError  # pragma: no cover


def _existing_file(source: str | os.PathLike) -> tuple[Path, str]:
    """The path and its name for messages; RDSRError when it is missing or a directory."""
    name = str(source)
    p = Path(source)
    if not p.exists():
        raise RDSRError("file not found", source=name)
    if p.is_dir():
        raise RDSRError("is a directory, not a DICOM file", source=name)
    return p, name


def _dataset_bytes(ds: Dataset) -> bytes | None:
    """A Dataset's encoded bytes when re-encoding + the fast path beats walking it directly.

    Measured (benchmarks/README.md): a Dataset read from a file whose content tree pydicom has
    not decoded yet (still a raw element) re-encodes in about a millisecond, and the fast path
    then reads it 10-30x faster than walking it; a Dataset whose tree is already decoded (built
    in memory, or a file with undefined-length sequences) costs more to encode than to walk.
    """
    from pydicom.dataelem import RawDataElement

    raw = ds._dict.get(0x0040A730)  # ContentSequence, not yet converted
    meta = getattr(ds, "file_meta", None)
    if not isinstance(raw, RawDataElement) or meta is None or getattr(
            meta, "TransferSyntaxUID", None) not in (_fastparse.IMPLICIT_VR_LE,
                                                       _fastparse.EXPLICIT_VR_LE):
        return None
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pydicom.dcmwrite(buf, ds, enforce_file_format=False)
    except Exception:  # anything unusual: walk the Dataset itself
        return None
    return buf.getvalue()


def _load(source: Source, name: str | None = None) -> tuple[Dataset, str]:
    if isinstance(source, Dataset):
        name = str(getattr(source, "filename", "") or "<dataset>")
        return source, name
    if isinstance(source, bytes | bytearray):
        name = "<bytes>"
        fp: Any = io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        p, name = _existing_file(source)
        fp = p
    elif hasattr(source, "read"):
        name = name or str(getattr(source, "name", "<file object>"))
        fp = source
    else:
        raise RDSRError(
            f"cannot read an RDSR from a {type(source).__name__}; give a path, bytes, a binary "
            "file object or a pydicom Dataset"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(fp)
    except InvalidDicomError:
        raise RDSRError(
            "not a DICOM file (no 'DICM' preamble and no recognisable DICOM header)", source=name
        ) from None
    except Exception as exc:  # any failure inside pydicom's parser means a damaged file
        # (seen: EOFError, struct.error, NotImplementedError for a damaged VR in the file meta,
        # pydicom's BytesLengthException, which derives from Exception only)
        raise RDSRError(f"truncated or corrupt DICOM file ({type(exc).__name__}: {exc})",
                       source=name) from None
    return ds, name


# ---------------------------------------------------------------------------------------------
# public entry point


ProgressCallback = Callable[[int, int], None]


class _ProgressError(BaseException):
    """An exception raised by the caller's progress callable, carried past the walk's
    ``except Exception`` (which would otherwise name it a file structure problem)."""

    def __init__(self, exc: Exception):
        super().__init__(exc)
        self.exc = exc


class _Progress:
    """Percent of one file's reading, reported in steps of 5 (at most 20 calls, increasing).

    The byte scan of the fast path is the first half (by bytes), the walk over the
    irradiation events the second (by events); the pydicom path reports 50 after
    ``dcmread``. After a fallback nothing is reported again until the percent passes the
    last one reported.
    """

    __slots__ = ("fn", "last")

    def __init__(self, fn: ProgressCallback):
        self.fn = fn
        self.last = 0  # 0 % is not reported

    def report(self, percent: int) -> None:
        percent -= percent % 5
        if percent > self.last:
            self.last = percent
            try:
                self.fn(percent, 100)
            except Exception as exc:
                raise _ProgressError(exc) from exc

    def bytes_tick(self, size: int) -> Callable[[int], int]:
        """The parser's hook: report ``pos`` of ``size`` bytes as 0–50 %; the next mark."""
        def tick(pos: int) -> int:
            pct = 50 * pos // max(size, 1)
            self.report(pct)
            nxt = pct - pct % 5 + 5
            return -(-nxt * size // 50)  # the first position at nxt percent
        return tick

    def events(self, done: int, total: int) -> int:
        """Report ``done`` of ``total`` events as 50–100 %; the next event count to report."""
        pct = 50 + 50 * done // max(total, 1)
        self.report(pct)
        nxt = pct - pct % 5 + 5 - 50
        return -(-nxt * total // 50)


#: A file at least this large gets a progress line in the command line (about 800 events;
#: about a second to read on a loaded 2-core machine, benchmarks/README.md "Reader").
PROGRESS_MIN_BYTES = 5_000_000


def progress_line(source: Any) -> ProgressCallback | None:
    """A ``progress`` for :func:`read_rdsr` that keeps one line on stderr up to date.

    Prints ``skindose: reading NAME: 45%`` (``\r``-rewritten, a newline at 100 %), the way
    :func:`skindose.compute` shows its dose loop. None for a file under
    :data:`PROGRESS_MIN_BYTES` or a source that is not a path (nothing worth showing).
    """
    try:
        size = os.path.getsize(source)
    except (TypeError, ValueError, OSError):
        return None
    if size < PROGRESS_MIN_BYTES:
        return None
    label = Path(source).name

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rskindose: reading {label}: {done}%", end=end, file=sys.stderr, flush=True)

    return show


def read_rdsr(source: Source, *, progress: ProgressCallback | None = None) -> Procedure:
    """Read an X-Ray Radiation Dose SR.

    Parameters
    ----------
    source
        A path, bytes, a binary file object or a pydicom ``Dataset``.
    progress
        Called as ``progress(percent_done, 100)`` while the file is read, at most 20 times
        (every 5 %, the last call ``progress(100, 100)``): the first half is the byte scan,
        the second the walk over the irradiation events. None (default): nothing is called
        and nothing is measured.

    Returns
    -------
    Procedure
        Unit-normalized events, device, patient, study, reported totals per plane and every
        warning. Events are in file order.

    Raises
    ------
    RDSRError
        Not DICOM, truncated, not an X-ray RDSR (a CT dose SR, Patient or Radiopharmaceutical
        dose SR and other SR classes get their own message), or no irradiation events.
    """
    with _gc_paused():
        if progress is None:
            return _read(source, None)
        report = _Progress(progress)
        try:
            proc = _read(source, report)
        except _ProgressError as exc:  # the caller's own exception, as it was raised
            raise exc.exc from None
        report.report(100)
        return proc


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a file is read.

    Reading builds tens of thousands of small containers, none of them in reference cycles;
    in a process that already holds a large heap (a phantom, Numba, a dashboard's state) they
    trigger full collections that traverse that whole heap: a 24-event file then took 0.10 s
    instead of 0.008 s in one read out of three. The pause only defers collection (it runs
    again at the next allocations after the read). Thread-safe enough: the collector is
    switched back on by whichever reader leaves last having found it on, and it is never
    switched on where the caller had switched it off.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _read(source: Source, report: _Progress | None) -> Procedure:
    # fast path (skindose.rdsr._fastparse): one lazy pass over the encoded bytes; anything it
    # does not read exactly as pydicom would raises Fallback, and pydicom reads the file.
    data, name = _fast_input(source)
    fallback: str | None = None
    truncated = False
    if data is not None:
        try:
            root = _fastparse.parse(data, None if report is None else report.bytes_tick(
                len(data)))
            if report is not None:
                report.report(50)
            try:
                return _with_unread_events_note(_parse(root, name, report),  # type: ignore[arg-type]
                                                data)
            except RDSRError:
                raise
            except Exception as exc:
                raise _unexpected(exc, name) from exc
        except _fastparse.Fallback as exc:
            fallback = str(exc)
            truncated = isinstance(exc, _fastparse.Truncated)
        if not isinstance(source, Dataset):
            source = io.BytesIO(data)
    ds, name = _load(source, name)
    if report is not None:
        report.report(50)
    try:
        proc = _parse(ds, name, report)
    except RDSRError:
        raise
    except Exception as exc:  # a structure no rule anticipated: say where, never a traceback
        raise _unexpected(exc, name) from exc
    if fallback is not None:
        proc = _with_fallback_note(proc, fallback)
    if truncated:
        proc = _with_truncation_note(proc, fallback or "")
    if data is not None:
        proc = _with_unread_events_note(proc, data)
    return proc


#: CodeValue (0008,0100) = "113706" (Irradiation Event X-Ray Data) as encoded in explicit and
#: implicit VR little endian: a byte-level count of the event containers a file holds.
_EVENT_CODE_PATTERNS = (b"\x08\x00\x00\x01SH\x06\x00113706",
                        b"\x08\x00\x00\x01\x06\x00\x00\x00113706")


def _with_unread_events_note(proc: Procedure, data: bytes) -> Procedure:
    """A critical note when the bytes hold more event containers than were read."""
    import dataclasses

    n_bytes = sum(data.count(p) for p in _EVENT_CODE_PATTERNS)
    named = sum(int(n.data.get("n_events", 0)) for n in proc.notes
                if n.code is NoteCode.EVENT_DAMAGED)  # already named by the structural checks
    lost = n_bytes - proc.n_events - named
    if lost <= 0:
        return proc
    note = Note(code=NoteCode.EVENT_DAMAGED, stage="rdsr", severity=Severity.CRITICAL,
                text=f"the file holds {n_bytes} Irradiation Event X-Ray Data containers (code "
                f"113706) but only {proc.n_events} could be read: {lost} event(s) are damaged "
                "and missing from the map", data={"n_events": lost, "n_in_file": n_bytes})
    return dataclasses.replace(proc, notes=(*proc.notes, note))


def _with_truncation_note(proc: Procedure, reason: str) -> Procedure:
    """A critical note: the byte stream ended before the structure was complete."""
    import dataclasses

    note = Note(code=NoteCode.FILE_TRUNCATED, stage="rdsr", severity=Severity.CRITICAL,
                text=f"the file looks truncated or damaged ({reason}); only the "
                f"{proc.n_events} event(s) before the damage were read, so the mapped dose may "
                "be incomplete", data={"reason": reason, "n_events_read": proc.n_events})
    return dataclasses.replace(proc, notes=(*proc.notes, note))


def _unexpected(exc: Exception, name: str) -> RDSRError:
    return RDSRError(
        f"unexpected RDSR structure that skindose cannot read ({type(exc).__name__}: {exc})",
        source=name,
    )


def _with_fallback_note(proc: Procedure, reason: str) -> Procedure:
    """Record that the fast path handed the file to pydicom (an info note, where notes exist)."""
    import dataclasses

    note = Note(code=NoteCode.READER_FALLBACK_PYDICOM, stage="rdsr",
                text=f"read with pydicom instead of the fast reader: {reason}",
                data={"reason": reason})
    return dataclasses.replace(proc, notes=(*proc.notes, note))  # type: ignore[attr-defined]


def _parse(ds: Dataset, name: str, report: _Progress | None = None) -> Procedure:
    ctx = _Ctx(name)
    if isinstance(ds, Dataset):
        # pydicom path only (the fast path decodes without Python warnings): pydicom reports
        # value-decoding oddities as warnings, which become notes here. catch_warnings is not
        # thread-safe; the fast path, which reads every shared real file, does not use it.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            proc = _parse_inner(ds, name, ctx, report)
        for w in caught:
            if not issubclass(w.category, RDSRWarning):
                ctx.warn(f"DICOM decoding: {w.message}", once_key=f"pyd:{w.message}",
                         code=NoteCode.READER_REPAIR, severity=Severity.WARNING)
    else:
        proc = _parse_inner(ds, name, ctx, report)
    import dataclasses

    return dataclasses.replace(proc, notes=tuple(ctx.notes))


def _check_sop(ds: Dataset, name: str) -> str:
    sop = str(ds.get("SOPClassUID", "") or "")
    if not sop:
        raise RDSRError("DICOM file without a SOP Class UID; not an RDSR", source=name,
                        field="SOPClassUID (0008,0016)")
    if sop in _OTHER_SOPS:
        raise RDSRError(f"this is {_OTHER_SOPS[sop]}, not an X-Ray Radiation Dose SR", source=name,
                        field="SOPClassUID")
    if sop not in (RDSR_SOP, ENHANCED_RDSR_SOP):
        try:
            from pydicom.uid import UID

            label = UID(sop).name
        except Exception:  # pragma: no cover - defensive
            label = sop
        raise RDSRError(
            f"not an X-Ray Radiation Dose SR: SOP class is {label} ({sop}); skindose reads "
            "the X-Ray Radiation Dose SR (1.2.840.10008.5.1.4.1.1.88.67) and its Enhanced form "
            "(.88.76)",
            source=name,
            field="SOPClassUID",
        )
    return sop


def _parse_inner(ds: Dataset, name: str, ctx: _Ctx, report: _Progress | None = None
                 ) -> Procedure:
    sop = _check_sop(ds, name)
    root_items = _children(ds)
    if not root_items:
        raise RDSRError("the SR has no content tree (ContentSequence missing or empty)",
                        source=name, field="ContentSequence")
    root_concept = None
    if "ConceptNameCodeSequence" in ds:
        root_concept = _concept(ds)
    tmpl = ds.get("ContentTemplateSequence")
    template_id = str(tmpl[0].get("TemplateIdentifier", "")) if tmpl else ""
    if template_id == "10011" or _is_ct(root_items):
        raise RDSRError(
            "this is a CT Radiation Dose SR (TID 10011, CT acquisitions); skindose maps skin dose "
            "for projection X-ray (fluoroscopy) procedures only",
            source=name,
            field="ContentTemplateSequence / Procedure reported",
        )
    if root_concept is not None and root_concept != C.XRayRadiationDoseReport:
        ctx.warn(
            f"root concept is {root_concept.scheme}:{root_concept.value}, not DCM:113701 "
            "'X-Ray Radiation Dose Report'; read anyway"
        )
    if not template_id:
        ctx.warn("no ContentTemplateSequence (template identifier missing); assumed TID 10001")
    if sop == ENHANCED_RDSR_SOP:
        ctx.warn("Enhanced X-Ray Radiation Dose SR: read with the TID 10001 rules; frame-of-"
                 "reference items of the enhanced templates are not used")

    idx = _index(root_items)

    # device ----------------------------------------------------------------------------------
    def root_text(code: Code) -> str:
        items = idx.get(code)
        return (_text(items[0]) or "").strip() if items else ""

    obs_manu = root_text(C.DeviceObserverManufacturer)
    obs_model = root_text(C.DeviceObserverModelName)
    obs_serial = root_text(C.DeviceObserverSerialNumber)
    manu = str(ds.get("Manufacturer", "") or "").strip()
    model = str(ds.get("ManufacturerModelName", "") or "").strip()
    serial = str(ds.get("DeviceSerialNumber", "") or "").strip()
    if not manu and obs_manu:
        manu = obs_manu
        ctx.warn("Manufacturer missing in the header; taken from the Device Observer context")
    if not model and obs_model:
        model = obs_model
        ctx.warn("ManufacturerModelName missing in the header; taken from the Device Observer "
                 f"context ({obs_model!r})")
    if not serial and obs_serial:
        serial = obs_serial
    device = Device(
        manufacturer=manu,
        model=model,
        serial=serial,
        software=_multi_str(ds.get("SoftwareVersions", "")),
        station=str(ds.get("StationName", "") or "").strip(),
        institution=str(ds.get("InstitutionName", "") or "").strip(),
    )

    # study --------------------------------------------------------------------------------------
    study_uid = str(ds.get("StudyInstanceUID", "") or "")
    if not study_uid:
        for sc in idx.get(C.ScopeOfAccumulation, []):
            for ch in _children(sc):
                if _concept(ch) == C.StudyInstanceUID:
                    study_uid = _text(ch) or ""
    study = Study(
        uid=study_uid,
        date=_study_datetime(ds),
        description=str(ds.get("StudyDescription", "") or "").strip(),
    )

    # root-level facts ---------------------------------------------------------------------------
    mech = None
    for it in idx.get(C.XRayMechanicalDataAvailable, []):
        v = _coded_value(it)
        mech = True if v == C.Yes else False if v == C.No else None
    xml_position = None
    for it in idx.get(C.Comment, []):
        xml_position = xml_position or _siemens_position(_text(it) or "")

    # accumulated ------------------------------------------------------------------------------
    accumulated: list[AccumulatedDose] = []
    private: dict[str, float] = {}
    plane_private: dict[Plane, dict[str, float]] = {}
    for acc in idx.get(C.AccumulatedXRayDoseData, []):
        a, priv = _accumulated(acc, ctx)
        accumulated.append(a)
        plane_private[a.plane] = priv
        for k, v in priv.items():
            private.setdefault(k, v)
    rp_root = None
    for it in idx.get(C.ReferencePointDefinition, []):
        rp_root = _reference_point_of(it)
    if rp_root is None:
        for a in accumulated:
            if a.reference_point is not None:
                rp_root = a.reference_point
                break

    # events -------------------------------------------------------------------------------------
    ev_items = idx.get(C.IrradiationEventXRayData, [])
    if not ev_items:
        raise RDSRError(
            "the RDSR contains no Irradiation Event X-Ray Data (DCM 113706) containers; there "
            "is nothing to map",
            source=name,
            field="Irradiation Event X-Ray Data (113706)",
        )
    events: list[IrradiationEvent] = []
    n_ev = len(ev_items)
    mark = n_ev + 1 if report is None else report.events(0, n_ev)
    for i, item in enumerate(ev_items):
        events.append(
            _event(i, item, ctx, rp_root, accumulated, plane_private, xml_position)
        )
        if i >= mark - 1:
            mark = report.events(i + 1, n_ev)  # type: ignore[union-attr]
    _dedupe_uids(events, ctx)
    _summarise_events(events, ctx)
    _damaged_containers(root_items, ctx)
    accumulated = [_plausible_totals(a, ctx) for a in accumulated]
    _completeness(events, accumulated, ctx)

    # patient ------------------------------------------------------------------------------------
    orient, orient_src = _patient_orientation(events, xml_position, ctx)
    patient = Patient(
        patient_id=str(ds.get("PatientID", "") or "").strip(),
        name=str(ds.get("PatientName", "") or "").strip(),
        birth_date=str(ds.get("PatientBirthDate", "") or "").strip(),
        sex=(str(ds.get("PatientSex", "") or "").strip() or None),
        age_years=_age(ds, ctx),
        height_m=_positive(ds, "PatientSize", 0.3, 2.6, "patient height (m)", ctx),
        mass_kg=_positive(ds, "PatientWeight", 1.0, 400.0, "patient mass (kg)", ctx),
        orientation=orient,
        orientation_source=orient_src,
    )
    if any(ev.patient_orientation is None for ev in events) and orient is not None:
        import dataclasses

        events = [
            ev if ev.patient_orientation is not None else dataclasses.replace(
                ev, patient_orientation=orient,
                assumed=ev.assumed | {"patient_orientation"},
            )
            for ev in events
        ]

    return Procedure(
        source=name,
        sop_class_uid=sop,
        device=device,
        patient=patient,
        study=study,
        events=tuple(events),
        accumulated=tuple(accumulated),
        reference_point=rp_root,
        mechanical_data_available=mech,
        private=tuple(sorted(private.items())),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "") or "").strip(),
        header=header_identity(ds),  # dicom_out (issue 15)
    )


def _is_ct(root_items: list[Dataset]) -> bool:
    for it in root_items:
        k = _concept(it)
        if k in (C.CTAccumulatedDoseData, C.CTAcquisition):
            return True
        if k == C.ProcedureReported and _coded_value(it) == C.ComputedTomographyXRay:
            return True
    return False


def _multi_str(v: Any) -> str:
    if isinstance(v, list | tuple | pydicom.multival.MultiValue):
        return " / ".join(str(x) for x in v)
    return str(v or "").strip()


def _study_datetime(ds: Dataset) -> datetime | None:
    d = str(ds.get("StudyDate", "") or "").strip()
    t = str(ds.get("StudyTime", "") or "").strip()
    if not d:
        return None
    return _parse_dt(d + (t.split(".")[0] if t else ""))


_UTC_OFFSET = re.compile(r"[+-]\d{4}$")
_DT_FORMATS = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 10: "%Y%m%d%H", 8: "%Y%m%d"}


def _parse_dt(value: str) -> datetime | None:
    v = (value or "").strip()
    if not v:
        return None
    v = _UTC_OFFSET.split(v)[0]  # drop a UTC offset suffix
    main, _, frac = v.partition(".")
    fmt = _DT_FORMATS.get(len(main))
    if fmt is None:
        return None
    dt = None
    if len(main) == 14 and main.isascii() and main.isdigit():
        # the common case without strptime: every field two digits in its range, where
        # strptime's first reading of the digits is this one (tests/rdsr/test_reader_fast_paths.py)
        mo, d, h, mi, sec = (int(main[4:6]), int(main[6:8]), int(main[8:10]),
                             int(main[10:12]), int(main[12:14]))
        if 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and sec <= 59:
            try:
                dt = datetime(int(main[:4]), mo, d, h, mi, sec)
            except ValueError:  # e.g. 30 February, year 0
                return None
    if dt is None:
        try:
            dt = datetime.strptime(main, fmt)
        except ValueError:
            return None
    if frac.isdigit():
        dt = dt.replace(microsecond=int((frac + "000000")[:6]))
    return dt


def _age(ds: Dataset, ctx: _Ctx) -> float | None:
    raw = str(ds.get("PatientAge", "") or "").strip()
    if not raw:
        return None
    m = _AGE.fullmatch(raw)
    if not m:
        ctx.warn(f"Patient's Age {raw!r} is not a DICOM age string; ignored")
        return None
    n = int(m.group(1))
    years = n / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[m.group(2)]
    if years > 120:
        ctx.warn(f"Patient's Age {raw!r} is implausible (anonymised or test data?); ignored")
        return None
    return years


def _positive(ds: Dataset, keyword: str, lo: float, hi: float, what: str, ctx: _Ctx):
    raw = ds.get(keyword)
    if raw is None or raw == "":
        return None
    try:
        v = float(raw)
    except (TypeError, ValueError):
        ctx.warn(f"{what} {raw!r} is not a number; ignored")
        return None
    if v == 0:
        ctx.warn(f"{what} is 0 in the header, which means 'not recorded'; ignored")
        return None
    if not (lo <= v <= hi) or not math.isfinite(v):
        ctx.warn(f"{what} {v:g} is outside the plausible range {lo:g}–{hi:g}; ignored")
        return None
    return v


def _siemens_position(text: str) -> PatientOrientation | None:
    m = _SIEMENS_POSITION.search(text or "")
    if not m:
        return None
    val = m.group(1).strip().upper()
    try:
        return PatientOrientation(val)
    except ValueError:
        return None


def _plane_of(item: Dataset) -> Plane | None:
    for ch in _children(item):
        if _concept(ch) == C.AcquisitionPlane:
            v = _coded_value(ch)
            return {
                C.PlaneA: Plane.A,
                C.PlaneB: Plane.B,
                C.SinglePlane: Plane.SINGLE,
                C.AllPlanes: Plane.ALL,
            }.get(v)
    return None


def _accumulated(acc: Dataset, ctx: _Ctx) -> tuple[AccumulatedDose, dict[str, float]]:
    plane = _plane_of(acc) or Plane.SINGLE
    where = f"accumulated dose ({plane.value} plane)"
    idx = _index(_children(acc))

    def num(code: Code, dim: str, what: str) -> float | None:
        items = idx.get(code)
        return ctx.num(items[0], dim, what, where) if items else None

    rp = None
    for it in idx.get(C.ReferencePointDefinition, []):
        rp = _reference_point_of(it)
    priv: dict[str, float] = {}
    hos = num(P.HeightOfSystem, "length", "Philips Height of System")
    if hos is not None and hos > 0:
        priv["height_of_system_mm"] = hos
    fsi = num(P.FocalSpotToIsocenter, "length", "Philips Focal Spot to ISO Center")
    if fsi is not None and fsi > 0:
        priv["focal_spot_to_isocenter_mm"] = fsi
    a = AccumulatedDose(
        plane=plane,
        kerma_rp_total_gy=num(C.DoseRPTotal, "dose", "Dose (RP) Total"),
        kap_total_gym2=num(C.DoseAreaProductTotal, "kap", "Dose Area Product Total"),
        fluoro_kerma_rp_total_gy=num(C.FluoroDoseRPTotal, "dose", "Fluoro Dose (RP) Total"),
        fluoro_kap_total_gym2=num(C.FluoroDoseAreaProductTotal, "kap",
                                  "Fluoro Dose Area Product Total"),
        acquisition_kerma_rp_total_gy=num(C.AcquisitionDoseRPTotal, "dose",
                                          "Acquisition Dose (RP) Total"),
        acquisition_kap_total_gym2=num(C.AcquisitionDoseAreaProductTotal, "kap",
                                       "Acquisition Dose Area Product Total"),
        fluoro_time_s=num(C.TotalFluoroTime, "time", "Total Fluoro Time"),
        acquisition_time_s=num(C.TotalAcquisitionTime, "time", "Total Acquisition Time"),
        reference_point=rp,
        srp_mm=num(C.DistanceSourceToReferencePoint, "length", "Distance Source to RP"),
    )
    return a, priv


_EVENT_TYPES = {
    C.Fluoroscopy: EventType.FLUOROSCOPY,
    C.StationaryAcquisition: EventType.STATIONARY,
    C.SteppingAcquisition: EventType.STEPPING,
    C.RotationalAcquisition: EventType.ROTATIONAL,
}


def _event(
    i: int,
    item: Dataset,
    ctx: _Ctx,
    rp_root: ReferencePoint | None,
    accumulated: list[AccumulatedDose],
    plane_private: dict[Plane, dict[str, float]],
    xml_position: PatientOrientation | None,
) -> IrradiationEvent:
    where = i
    kids = _children(item)
    idx = _index(kids)
    assumed: set[str] = set()
    vals: dict[str, Any] = {}

    def first(code: Code) -> Dataset | None:
        items = idx.get(code)
        return items[0] if items else None

    def num(code: Code, dim: str, what: str, name: str | None = None) -> float | None:
        items = idx.get(code)
        if not items:
            return None
        return ctx.num(items[0], dim, what, where, assumed=assumed, name=name)

    # identity
    uid_item = first(C.IrradiationEventUID) or first(C.IrradiationEventUIDRetired)
    uid = (_text(uid_item) or "").strip() if uid_item is not None else ""
    started_item = first(C.DateTimeStarted)
    started = None
    if started_item is not None:
        raw_dt = str(started_item.get("DateTime", "") or "")
        started = _parse_dt(raw_dt)
        if started is None and raw_dt:
            ctx.warn_at(where, f"DateTime Started {raw_dt!r} is not a DICOM date-time; ignored")
    if not uid:  # docs/rdsr.md §1.8: synthesise from DateTime Started + index
        stamp = started.strftime("%Y%m%d%H%M%S") if started is not None else "nodate"
        uid = f"skindose-synthesised-{stamp}-{i + 1}"
        assumed.add("uid")
        ctx.warn_at(where, "no Irradiation Event UID; a placeholder id was made up")
    et_item = first(C.IrradiationEventType)
    event_type = _EVENT_TYPES.get(_coded_value(et_item), EventType.UNKNOWN) if et_item else (
        EventType.UNKNOWN)
    if et_item is None:
        ctx.warn_at(where, "no Irradiation Event Type; recorded as unknown")
    plane = _plane_of(item) or Plane.SINGLE
    proto = first(C.AcquisitionProtocol)
    vals["protocol"] = (_text(proto) or "").strip() or None if proto is not None else None
    tr = first(C.TargetRegion) or first(C.AnatomicalStructure)
    if tr is not None:
        cv = _coded_value(tr)
        vals["target_region_code"] = f"{cv.scheme}:{cv.value}" if cv else None
        region = TARGET_REGIONS.get(cv) if cv else None
        if region is None:
            meaning = _coded_meaning(tr).strip().lower()
            region = meaning or None
            if meaning:
                ctx.warn(
                    f"target region code {vals['target_region_code']} is not in skindose's "
                    f"table; its meaning {meaning!r} is shown but not used for placement",
                    once_key=f"tr:{vals['target_region_code']}",
                )
        vals["target_region"] = region

    # dose
    vals["kap_gym2"] = num(C.DoseAreaProduct, "kap", "Dose Area Product")
    kerma = num(C.DoseRP, "dose", "Dose (RP)")
    if kerma is None:
        entrance = num(C.EntranceExposureAtRP, "dose", "Entrance Exposure at RP")
        if entrance is not None:
            kerma = entrance
            assumed.add("kerma_rp_gy")
            ctx.warn_at(where, "no Dose (RP); Entrance Exposure at RP (DCM 111636) used instead")
    vals["kerma_rp_gy"] = kerma
    vals["hvl_mm_al"] = num(C.HalfValueLayer, "length", "Half Value Layer")
    rp_item = first(C.ReferencePointDefinition)
    rp = _reference_point_of(rp_item) if rp_item is not None else rp_root

    # source
    vals["kvp"] = num(C.KVP, "voltage", "KVP", "kvp")
    vals["tube_current_ma"] = num(C.XRayTubeCurrent, "current", "X-Ray Tube Current",
                                  "tube_current_ma")
    if vals["tube_current_ma"] is None:
        vals["tube_current_ma"] = num(C.AverageXRayTubeCurrent, "current",
                                      "Average X-Ray Tube Current")
    vals["exposure_uas"] = num(C.Exposure, "exposure", "Exposure", "exposure_uas")
    vals["pulse_rate_hz"] = num(C.PulseRate, "rate", "Pulse Rate")
    vals["pulse_width_ms"] = num(C.PulseWidth, "time_ms", "Pulse Width", "pulse_width_ms")
    vals["number_of_pulses"] = num(C.NumberOfPulses, "count", "Number of Pulses")
    vals["duration_s"] = num(C.IrradiationDuration, "time", "Irradiation Duration")
    et = num(C.ExposureTime, "time_ms", "Exposure Time")
    if et is None:
        et = num(C.ExposureTimeRetired, "time_ms", "Exposure Time (retired code 113735)")
    vals["exposure_time_ms"] = et
    vals["focal_spot_mm"] = num(C.FocalSpotSize, "length", "Focal Spot Size")
    vals["filters"] = tuple(_filters(idx.get(C.XRayFilters, []), ctx, where))

    # geometry
    pa = num(C.PositionerPrimaryAngle, "angle", "Positioner Primary Angle")
    sa = num(C.PositionerSecondaryAngle, "angle", "Positioner Secondary Angle")
    pa, sa = _normalise_angles(pa, sa, ctx, where, assumed, ("primary_angle_deg",
                                                              "secondary_angle_deg"))
    pe = num(C.PositionerPrimaryEndAngle, "angle", "Positioner Primary End Angle")
    se = num(C.PositionerSecondaryEndAngle, "angle", "Positioner Secondary End Angle")
    pe, se = _normalise_angles(pe, se, ctx, where, assumed, ("primary_end_angle_deg",
                                                             "secondary_end_angle_deg"))
    vals.update(primary_angle_deg=pa, secondary_angle_deg=sa, primary_end_angle_deg=pe,
                secondary_end_angle_deg=se)
    sod = num(C.DistanceSourceToIsocenter, "length", "Distance Source to Isocenter")
    sid = num(C.DistanceSourceToDetector, "length", "Distance Source to Detector")
    dsrp = num(C.DistanceSourceToReferencePoint, "length", "Distance Source to RP")
    tlong = num(C.TableLongitudinalPosition, "length", "Table Longitudinal Position")
    tlat = num(C.TableLateralPosition, "length", "Table Lateral Position")
    theight = num(C.TableHeightPosition, "length", "Table Height Position")
    vals["table_head_tilt_deg"] = num(C.TableHeadTiltAngle, "angle", "Table Head Tilt Angle")
    vals["table_horizontal_rotation_deg"] = num(C.TableHorizontalRotationAngle, "angle",
                                                "Table Horizontal Rotation Angle")
    vals["table_cradle_tilt_deg"] = num(C.TableCradleTiltAngle, "angle", "Table Cradle Tilt Angle")
    for axis in ("X", "Y", "Z"):
        code = getattr(C, f"Table{axis}PositionToIsocenter")
        value = num(code, "length", f"Table {axis} Position to Isocenter")
        vals[f"table_{axis.lower()}_to_isocenter_mm"] = value
        if value is not None:
            ctx.warn("isocenter-referenced table positions (DCM 128766–128768) are read and "
                     "reported but not yet used for placement", once_key="table-iso",
                     code=NoteCode.READER_REPAIR)
    cfa = num(C.CollimatedFieldArea, "area", "Collimated Field Area")
    cfh = num(C.CollimatedFieldHeight, "length", "Collimated Field Height")
    cfw = num(C.CollimatedFieldWidth, "length", "Collimated Field Width")

    # Philips private items (docs/rdsr.md §2.4 items 9, 13, 14)
    if sid is None:
        fsid = num(P.FinalDistanceSourceToDetector, "length", "Philips Final SID")
        if fsid is not None:
            sid = fsid
            assumed.add("sid_mm")
            ctx.warn("SID taken from the Philips private 'Final Distance Source to Detector' "
                     "where DCM 113750 is absent (Philips writes 113750 only when it changes)",
                     once_key="philips-sid", code=NoteCode.READER_REPAIR)
    if theight is None:
        ph = num(P.TableHeightPosition, "length", "Philips Table Height Position")
        if ph is not None:
            theight = ph
            assumed.add("table_height_mm")
            ctx.warn("table height taken from the Philips private 'Table Height Position' "
                     "(measured from the floor, not from the isocenter)", once_key="philips-th",
                     code=NoteCode.READER_REPAIR)
    shutters = None
    for ws in idx.get(P.WedgesAndShutters, []):
        sidx = _index(_children(ws))
        vals_s = []
        for code, what in ((P.LeftShutter, "left"), (P.RightShutter, "right"),
                           (P.TopShutter, "top"), (P.BottomShutter, "bottom")):
            items = sidx.get(code)
            vals_s.append(ctx.num(items[0], "length", f"Philips {what} shutter", where)
                          if items else None)
        if all(v is not None for v in vals_s):
            shutters = tuple(float(v) for v in vals_s)
    detector = None
    for dfs in idx.get(P.DetectorFieldSize, []):
        didx = _index(_children(dfs))
        xs = didx.get(P.DetectorXSide)
        if xs:
            detector = ctx.num(xs[0], "length", "Philips detector field size", where)
    for cm in idx.get(C.Comment, []):
        m = _II_DIAMETER.search(_text(cm) or "")
        if m:
            detector = float(m.group(1))

    # zeros that mean "unknown" (Philips Azurion, docs/rdsr.md §2.4 item 15)
    if sod == 0 and (sid in (0, None)):
        ctx.warn_at(where, "source distances are 0, which this system writes for 'not "
                 "recorded'; the event's geometry is treated as unknown")
        sod = sid = None
        if theight == 0:
            theight = None
        if tlong == 0 and tlat == 0:
            tlong = tlat = None
    for nm, v in (("sod", sod), ("sid", sid), ("dsrp", dsrp)):
        if v is not None and v <= 0:
            ctx.warn_at(where, f"{nm.upper()} {v:g} mm is not a distance; treated as not recorded")
            if nm == "sod":
                sod = None
            elif nm == "sid":
                sid = None
            else:
                dsrp = None
    if sod is None and plane_private.get(plane, {}).get("focal_spot_to_isocenter_mm"):
        sod = plane_private[plane]["focal_spot_to_isocenter_mm"]
        assumed.add("sod_mm")
        ctx.warn("source–isocenter distance taken from the Philips accumulated-level private "
                 "'Focal Spot to ISO Center'", once_key="philips-sod",
                 code=NoteCode.READER_REPAIR)
    if cfa is not None and cfa <= 0:
        cfa = None
        ctx.warn("Collimated Field Area 0 means 'not recorded'; ignored", once_key="cfa0")
    if (cfh is not None and cfh < MIN_FIELD_MM) or (cfw is not None and cfw < MIN_FIELD_MM):
        ctx.warn_at(where, f"Collimated Field Height/Width ({cfh}, {cfw} mm) are not a real "
                 "field (under 1 cm); ignored")
        cfh = cfw = None
    vals.update(sod_mm=sod, sid_mm=sid, table_longitudinal_mm=tlong, table_lateral_mm=tlat,
                table_height_mm=theight, field_area_m2=cfa, field_height_mm=cfh,
                field_width_mm=cfw, shutters_mm=shutters, detector_size_mm=detector)

    # source to reference point: the model's one chain (DSRP, accumulated DSRP, definition,
    # then the IEC point when the file defines none), each step but the first noted
    same = [a.srp_mm for a in accumulated if a.srp_mm and a.plane in (plane, Plane.SINGLE)]
    other = [a.srp_mm for a in accumulated if a.srp_mm]
    no_definition = rp is None or rp.kind is ReferencePointKind.UNKNOWN
    srp, srp_step, _ = source_to_reference_point_mm(
        dsrp_mm=dsrp, sod_mm=sod, sid_mm=sid, definitions=(rp,),
        accumulated_mm=(same or other or [None])[0],
        rules=(IEC_REFERENCE_POINT,) if no_definition else ())
    if srp_step is not None and srp_step is not SrpSource.DSRP:
        assumed.add("srp_mm")
    if srp_step is SrpSource.ACCUMULATED:
        ctx.warn("source–reference point distance taken from the accumulated level "
                 "(DCM 113737 there, not per event)", once_key="acc-srp",
                 code=NoteCode.READER_REPAIR)
    elif srp_step is SrpSource.RULE:
        ctx.warn(
            "reference point definition missing or not understood"
            + (f" ({rp.text!r})" if rp is not None and rp.text else "")
            + "; assumed the IEC 60601-2-43 point 15 cm from the isocenter toward the source",
            once_key="rp-iec", code=NoteCode.SRP_DEFAULTED,
        )
    vals["srp_mm"] = srp
    vals["reference_point"] = rp

    # patient orientation
    vals["patient_orientation"] = _event_orientation(idx, ctx, where)

    # plausibility limits (skindose.rdsr.limits): an absurd value is treated as not given
    implausible = _apply_limits(vals, ctx, where)

    # fallback dose from KAP / field area at the RP
    if vals["kerma_rp_gy"] is None and vals["kap_gym2"] is not None and (
            "kerma_rp_gy" not in implausible):
        ev_tmp = IrradiationEvent(index=i, uid=uid, **{k: v for k, v in vals.items()
                                                        if k in _FIELD_SUBSET})
        fld = ev_tmp.field_at_detector_mm
        if fld is not None and sid and srp:
            area_rp_m2 = fld[0] * fld[1] * (srp / sid) ** 2 * 1e-6
            vals["kerma_rp_gy"] = vals["kap_gym2"] / area_rp_m2
            assumed.add("kerma_rp_gy")
            ctx.warn_at(where, "no Dose (RP); estimated as DAP / field area at the reference point")

    unusable = None
    if "kerma_rp_gy" in implausible:
        unusable = f"Dose (RP) {implausible['kerma_rp_gy']} is not a plausible reading"
        ctx.warn_at(where, f"{unusable}; the event is kept but contributes no dose",
                    code=NoteCode.EVENT_UNUSABLE)
    elif vals["kerma_rp_gy"] is None:
        unusable = "no reference-point air kerma (Dose (RP)) and no way to derive it"
        ctx.warn_at(where, f"{unusable}; the event is kept but contributes no dose",
                    code=NoteCode.EVENT_UNUSABLE)

    return IrradiationEvent(
        index=i,
        uid=uid,
        started=started,
        event_type=event_type,
        plane=plane,
        assumed=frozenset(assumed),
        unusable=unusable,
        **vals,
    )


def _apply_limits(vals: dict[str, Any], ctx: _Ctx, where: int) -> dict[str, str]:
    """Null every value outside :data:`skindose.rdsr.limits.LIMITS` with a note.

    Returns the nulled fields with their original values as text.
    """
    out: dict[str, str] = {}
    for name, limit in LIMITS.items():
        v = vals.get(name)
        if v is None or check(v, limit):
            continue
        shown = f"{v:g}" if isinstance(v, float) else repr(v)
        out[name] = f"{shown} {limit.unit}".strip()
        vals[name] = None
        ctx.warn_at(where, f"{name} = {out[name]} is outside the plausible range "
                    f"{limit.lo:g}–{limit.hi:g} {limit.unit} ({limit.reason}); not used",
                    code=NoteCode.VALUE_IMPLAUSIBLE, data={"field": name, "value": shown})
    return out


_FIELD_SUBSET = {"field_height_mm", "field_width_mm", "field_area_m2", "shutters_mm", "sid_mm"}


def _normalise_angles(a, b, ctx: _Ctx, where: str, assumed: set[str], names):
    """Bring angles into primary (-180, 180] and secondary [-90, 90] (docs/rdsr.md §2.1).

    A secondary angle beyond ±90° (Eurocolumbus reports 183°) describes the same detector
    direction as (primary + 180°, 180° − secondary).
    """
    lim = LIMITS["primary_angle_deg"]
    for k, v in ((0, a), (1, b)):
        if not check(v, lim):
            ctx.warn_at(where, f"{names[k]} = {v!r} deg is outside the plausible range "
                        f"{lim.lo:g}–{lim.hi:g} deg ({lim.reason}); not used",
                        code=NoteCode.VALUE_IMPLAUSIBLE, data={"field": names[k]})
            a, b = (None, b) if k == 0 else (a, None)
    if a is None and b is None:
        return a, b
    a0, b0 = a, b
    if (a is not None and not -180.0 < a <= 180.0) or (b is not None and not -90.0 <= b <= 90.0):
        wa, wb, _ = wrap_angles(0.0 if a is None else a, 0.0 if b is None else b)
        a, b = (None if a is None else wa), (None if b is None else wb)
    if (a0 is not None and abs(a - a0) > 1e-9) or (b0 is not None and abs(b - b0) > 1e-9):
        ctx.warn_at(where, f"positioner angles ({a0}, {b0}) deg are out of range; normalised to "
                 f"the same direction ({_deg(a)}, {_deg(b)}) deg", code=NoteCode.ANGLE_WRAPPED)
        assumed.update(names)
    return a, b


def _deg(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def _filters(items: list[Dataset], ctx: _Ctx, where: str) -> list[Filter]:
    out = []
    for it in items:
        idx = _index(_children(it))
        ftype_item = idx.get(C.XRayFilterType)
        ftype = _coded_meaning(ftype_item[0]) if ftype_item else None
        if ftype_item and _coded_value(ftype_item[0]) == C.NoFilter:
            continue
        mat_item = idx.get(C.XRayFilterMaterial)
        material = "unknown"
        if mat_item:
            cv = _coded_value(mat_item[0])
            material = FILTER_MATERIALS.get(cv, "unknown") if cv else "unknown"
            if material == "unknown":
                ctx.warn_at(where, f"filter material code {cv} is not known to skindose; the "
                         "filter is not used for the beam quality", once_key=f"mat:{cv}")
        tmin = idx.get(C.XRayFilterThicknessMinimum)
        tmax = idx.get(C.XRayFilterThicknessMaximum)
        lo = ctx.num(tmin[0], "length", "X-Ray Filter Thickness Minimum", where) if tmin else None
        hi = ctx.num(tmax[0], "length", "X-Ray Filter Thickness Maximum", where) if tmax else None
        bad = [t for t in (lo, hi) if not check(t, FILTER_THICKNESS)]
        if bad:
            ctx.warn_at(where, f"filter thickness {bad[0]:g} mm ({material}) is outside the "
                        f"plausible range 0–{FILTER_THICKNESS.hi:g} mm; the filter is not used",
                        code=NoteCode.VALUE_IMPLAUSIBLE)
            continue
        if lo is not None and hi is not None and lo != hi:
            ctx.warn(f"filter thickness given as a range ({lo:g}–{hi:g} mm); the mean is used",
                     once_key=f"frange:{material}:{lo}:{hi}")
        out.append(Filter(material=material, thickness_min_mm=lo, thickness_max_mm=hi,
                          filter_type=ftype))
    return out


_ORIENT = {
    (True, C.Supine): PatientOrientation.HFS,
    (False, C.Supine): PatientOrientation.FFS,
    (True, C.Prone): PatientOrientation.HFP,
    (False, C.Prone): PatientOrientation.FFP,
    (True, C.RightLateralDecubitus): PatientOrientation.HFDR,
    (True, C.LeftLateralDecubitus): PatientOrientation.HFDL,
    (False, C.RightLateralDecubitus): PatientOrientation.FFDR,
    (False, C.LeftLateralDecubitus): PatientOrientation.FFDL,
}


def _event_orientation(idx: dict[Code, list[Dataset]], ctx: _Ctx, where: str):
    rel_items = idx.get(C.PatientTableRelationship)
    if not rel_items:
        return None
    rel = _coded_value(rel_items[0])
    if rel not in (C.Headfirst, C.FeetFirst):
        ctx.warn_at(where, f"patient-table relationship {rel} is not head- or feet-first; "
                 "orientation not used", once_key=f"rel:{rel}")
        return None
    mod = None
    for o in idx.get(C.PatientOrientation, []):
        for ch in _children(o):
            if _concept(ch) == C.PatientOrientationModifier:
                mod = _coded_value(ch)
    if mod is None:
        sib = idx.get(C.PatientOrientationModifier)
        if sib:
            mod = _coded_value(sib[0])
            ctx.warn("Patient Orientation Modifier found as a sibling of Patient Orientation "
                     "instead of its child (Canon layout); used", once_key="canon-mod",
                     code=NoteCode.READER_REPAIR)
    if mod is None:
        ctx.warn("Patient Orientation Modifier missing; supine assumed", once_key="no-mod")
        mod = C.Supine
    return _ORIENT.get((rel == C.Headfirst, mod))


def _patient_orientation(events, xml_position, ctx: _Ctx):
    found = [e.patient_orientation for e in events if e.patient_orientation is not None]
    if found:
        common, _ = Counter(found).most_common(1)[0]
        if len(set(found)) > 1:
            ctx.warn(f"patient orientation changes between events ({sorted(set(found))}); each "
                     "event keeps its own")
        return common, "RDSR patient orientation codes (DCM 113745/113743/113744)"
    if xml_position is not None:
        return xml_position, "Siemens XML in the root Comment (PatientPosition)"
    ctx.warn("patient orientation not reported in the RDSR; geometry will assume head-first "
             "supine (HFS) unless set otherwise", code=NoteCode.ORIENTATION_DEFAULTED)
    return None, "not reported"


def _dedupe_uids(events: list[IrradiationEvent], ctx: _Ctx) -> None:
    counts = Counter(e.uid for e in events)
    dups = [u for u, n in counts.items() if n > 1 and not u.startswith("skindose-")]
    if dups:
        ctx.warn(f"{len(dups)} Irradiation Event UID(s) occur more than once in the file; the "
                 "events are all kept (check for duplicated reporting)")


def _summarise_events(events: list[IrradiationEvent], ctx: _Ctx) -> None:
    zero = [e.index + 1 for e in events if e.kerma_rp_gy == 0]
    if zero:
        ctx.warn(f"{len(zero)} event(s) report Dose (RP) = 0 Gy (events {_ranges(zero)}); kept "
                 "as 0")
    nokv = [e.index + 1 for e in events if e.kvp is None]
    if nokv:
        ctx.warn(f"{len(nokv)} event(s) report no kVp (events {_ranges(nokv)}); the physics "
                 "stage will use its default")
    nogeo = [e.index + 1 for e in events if not e.has_geometry]
    if nogeo:
        ctx.warn(f"{len(nogeo)} event(s) have no positioner angles (events {_ranges(nogeo)}); "
                 "no beam direction can be known for them")


def _looks_like_event(item: Dataset) -> bool:
    """A container holding an Irradiation Event UID or a Dose (RP) item."""
    if str(item.get("ValueType", "") or "").upper() != "CONTAINER":
        return False
    kids = {_concept(ch) for ch in _children(item)}
    return C.IrradiationEventUID in kids or C.DoseRP in kids


def _damaged_containers(root_items: list[Dataset], ctx: _Ctx) -> None:
    """Name every root container whose concept could not be read (a damaged event, maybe)."""
    bad = [k for k, it in enumerate(root_items)
           if str(it.get("ValueType", "") or "").upper() == "CONTAINER" and _concept(it) is None]
    # a container that is not an event to the reader (its concept code is another one, or the
    # event code under another scheme) but holds event data (an Irradiation Event UID or a
    # Dose (RP)): a damaged event, named
    known = (C.IrradiationEventXRayData, C.AccumulatedXRayDoseData)
    foreign = [k for k, it in enumerate(root_items)
               if k not in bad and _concept(it) not in known and _looks_like_event(it)]
    if foreign:
        concepts = sorted({":".join(_concept(root_items[k]) or ()) for k in foreign})
        ctx.warn(f"{len(foreign)} container(s) of the content tree hold irradiation event data "
                 f"(an event UID or a Dose (RP)) under the concept {', '.join(concepts)} "
                 f"instead of DCM:113706 (content items {_ranges([k + 1 for k in foreign])} of "
                 "the root); they were not read as irradiation events, so their dose is missing "
                 "from the map", code=NoteCode.EVENT_DAMAGED, severity=Severity.CRITICAL,
                 data={"root_items": foreign, "n_events": len(foreign)})
    if bad:
        ctx.warn(f"{len(bad)} container(s) of the content tree have a missing or damaged concept "
                 f"name (content items {_ranges([b + 1 for b in bad])} of the root); if they "
                 "were irradiation events, their dose is missing from the map",
                 code=NoteCode.EVENT_DAMAGED, severity=Severity.CRITICAL,
                 data={"root_items": bad, "n_events": len(bad)})


def _plausible_totals(a: AccumulatedDose, ctx: _Ctx) -> AccumulatedDose:
    import dataclasses

    changes: dict[str, None] = {}
    for name, limit in TOTAL_LIMITS.items():
        v = getattr(a, name)
        if not check(v, limit):
            changes[name] = None
            ctx.warn(f"accumulated dose ({a.plane.value} plane): {name} = {v!r} {limit.unit} is "
                     f"outside the plausible range ({limit.reason}); not used",
                     code=NoteCode.VALUE_IMPLAUSIBLE)
    return dataclasses.replace(a, **changes) if changes else a


#: Σ events below this fraction of the file's own total: the map may be incomplete (critical).
COMPLETE_FRACTION = 0.95
#: Relative differences up to this are per-event rounding (info); above, a warning.
ROUNDING_FRACTION = 0.02


def _completeness(events: list[IrradiationEvent], accumulated: list[AccumulatedDose],
                  ctx: _Ctx) -> None:
    """Compare Σ events with the file's accumulated totals, per plane.

    Σ event K_RP below 95 % of the reported total: critical (events are missing: truncated
    file or dropped containers). KAP alone is never critical: Philips Allura Clarity files
    report a KAP total 12-16 % above Σ event KAP while K_RP agrees exactly (shared sample
    files u104, u601). Differences of 2–5 %, or an excess: warning. Under 2 %: info (the
    per-event values are rounded to 2–3 significant digits in some files, e.g. Siemens).
    """
    by_plane: dict[Plane, list[IrradiationEvent]] = {}
    for ev in events:
        by_plane.setdefault(ev.plane, []).append(ev)
    for acc in accumulated:
        evs = by_plane.get(acc.plane, [])
        if acc.plane is Plane.ALL or (not evs and acc.plane is Plane.SINGLE):
            evs = events
        for attr, total, what in (("kerma_rp_gy", acc.kerma_rp_total_gy, "K_RP"),
                                  ("kap_gym2", acc.kap_total_gym2, "KAP")):
            if total is None or total <= 0:
                continue
            summed = sum(getattr(e, attr) or 0.0 for e in evs if e.unusable is None)
            frac = summed / total
            if abs(frac - 1.0) <= 0.005:
                continue
            text = (f"the events of the {acc.plane.value} plane carry {100 * frac:.1f} % of the "
                    f"{what} this file reports as its total ({summed:.4g} vs {total:.4g})")
            if frac < COMPLETE_FRACTION and what == "K_RP":
                sev, code = Severity.CRITICAL, NoteCode.FILE_TRUNCATED
                text += "; events are missing (the file looks truncated or damaged): the map " \
                        "may be incomplete"
            elif abs(frac - 1.0) > ROUNDING_FRACTION:
                sev, code = Severity.WARNING, NoteCode.TOTALS_MISMATCH
            else:
                sev, code = Severity.INFO, NoteCode.TOTALS_MISMATCH
                text += " (within per-event rounding)"
            ctx.warn(text, code=code, severity=sev,
                     data={"plane": acc.plane.value, "quantity": what, "fraction": frac})


def _ranges(nums: list[int]) -> str:
    out = []
    start = prev = nums[0]
    for n in [*nums[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start}" if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


# --- dicom_out (issue 15) ------------------------------------------------------------------------

#: Header attributes kept verbatim on :attr:`Procedure.header` so that results written back into
#: DICOM (``skindose.dicom_out``) carry the source's patient, study and series identity.
HEADER_IDENTITY_KEYWORDS = (
    "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "StudyDate",
    "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "StudyDescription",
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "PatientAge", "PatientSize", "PatientWeight", "InstitutionName", "InstitutionAddress",
    "InstitutionalDepartmentName", "StationName",
)


def header_identity(ds: Dataset) -> tuple[tuple[str, str], ...]:
    """The :data:`HEADER_IDENTITY_KEYWORDS` present in ``ds``, as (keyword, string) pairs."""
    out = []
    for kw in HEADER_IDENTITY_KEYWORDS:
        try:
            value = ds.get(kw)
        except Exception:  # an undecodable value: leave it out rather than fail the read
            continue
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple | pydicom.multival.MultiValue):
            text = "\\".join(str(x) for x in value)  # DICOM multi-value form
        else:
            text = str(value).strip()
        out.append((kw, text))
    return tuple(out)
