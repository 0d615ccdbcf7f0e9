"""A single-pass parser of encoded DICOM bytes for the RDSR reader's fast path.

:func:`parse` turns the bytes of a DICOM Part 10 file (128-byte preamble, ``DICM``, file meta
group, then a dataset in Implicit or Explicit VR Little Endian, PS3.5 §7 and Annex A) into a
tree of :class:`FastDataset` objects in one loop over the bytes (an explicit stack, no
recursion; defined and undefined lengths, nested sequences). A :class:`FastDataset` is a
``dict`` from DICOM keyword to decoded value, so the pydicom ``Dataset`` API subset that
:mod:`skindose.rdsr.reader` uses runs at dictionary speed: ``ds.get(keyword, default)``,
``keyword in ds``, ``ds.Keyword``; ``ds[tag]`` / ``ds.get(tag)`` give a :class:`FastElement`
with ``.value``, ``.VR`` and ``.tag`` (private and unknown elements are kept under their
integer tag). A sequence is a ``list`` of datasets.

Values are decoded as pydicom 3 decodes them on reading (PS3.5 §6.2 value representations):

* SH, LO, UC, ST, LT, UT and PN are decoded with the dataset's Specific Character Set; SH, LO
  and UC are split at backslashes; trailing spaces and NULs are stripped (pydicom's
  ``convert_text`` / ``convert_single_string``);
* CS, AS, DA, DT and TM stay strings (pydicom's default ``datetime_conversion = False``), UI
  values lose a trailing NUL (``convert_string`` / ``convert_UI``);
* DS values become :class:`DSValue` (a ``float`` whose ``str`` is the original text, like
  pydicom's ``DSfloat``), IS values ``int``; several values a pydicom ``MultiValue``;
* an empty element gets pydicom's empty value (``""``, ``None`` for DS/IS and binary VRs,
  ``[]`` for SQ).

The fast path is strict where pydicom is lenient: whenever the bytes are anything but a
well-formed file that pydicom would read without a single warning (another transfer syntax,
a truncated or overlong element, an unknown VR, a value that pydicom's reading validation
would warn about or could not convert, a character set other than the default, Latin-1 or
UTF-8 with non-ASCII text, a nested Specific Character Set, ...) :func:`parse` raises
:class:`Fallback`, and the reader starts again with pydicom. :class:`Fallback` derives from
``BaseException`` on purpose: no ``except Exception`` in a caller may swallow it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from typing import Any

from pydicom.charset import python_encoding
from pydicom.datadict import DicomDictionary, private_dictionary_VR
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

__all__ = ["DSValue", "Fallback", "FastDataset", "FastElement", "parse"]

IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"

_ITEM = 0xFFFEE000
_ITEM_DELIM = 0xFFFEE00D
_SEQ_DELIM = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_CHARSET_TAG = 0x00080005
_ITEM_DELIM_BYTES = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
_SEQ_DELIM_BYTES = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_MEMO_MAX = 512  # bytes: items up to this size are remembered by content

_HDR = struct.Struct("<HH2sH")  # explicit VR, short form: group, element, VR, 16-bit length
_TAGLEN = struct.Struct("<HHL")  # implicit VR and item headers: group, element, 32-bit length
_U32 = struct.Struct("<L")

# PS3.5 Table 7.1-1: VRs with a 2-byte reserved field and a 32-bit length
_LONG_VRS = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT",
                       "UV"))
_SHORT_VRS = frozenset(("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT",
                        "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"))
_VR_OF_BYTES = {v.encode(): v for v in _LONG_VRS | _SHORT_VRS}

_DS_RE = re.compile(r" *[+\-]?(\d+|\d+\.\d*|\.\d+)([eE][+\-]?\d+)? *")
_IS_RE = re.compile(r" *[+\-]?\d+ *")
_UI_RE = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")

# Character sets whose text the fast path decodes itself (PS3.3 C.12.1.1.2); with another
# valid set only 7-bit text without escape sequences is decoded here.
_CODECS = {"": "latin_1", "ISO_IR 6": "latin_1", "ISO_IR 100": "latin_1",
           "ISO_IR 192": "utf_8"}

_NUMBERS = {"US": ("H", 2), "SS": ("h", 2), "UL": ("L", 4), "SL": ("l", 4), "FL": ("f", 4),
            "FD": ("d", 8), "UV": ("Q", 8), "SV": ("q", 8)}
_BYTES = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_NONE_WHEN_EMPTY = frozenset({"DS", "IS", "AT"}) | _BYTES | set(_NUMBERS)

# (keyword, VR) of public tags, filled from pydicom's data dictionary (PS3.6) on first sight
_INFO: dict[int, tuple[str, str] | None] = {}


class Fallback(BaseException):
    """The fast path does not handle these bytes; read them with pydicom instead.

    ``str(exc)`` says why, in plain words (it goes into the reader's note).
    """


class Truncated(Fallback):
    """The bytes end (or an element overruns its container) before the structure is complete.

    pydicom may still read what precedes the cut; the reader then adds a critical note.
    """


class DSValue(float):
    """A decoded DS value: a ``float`` that keeps its original text, like pydicom's DSfloat."""

    __slots__ = ("original_string",)

    def __str__(self) -> str:
        return self.original_string

    def __repr__(self) -> str:
        return f"'{self.original_string}'"


class FastElement:
    """One element as ``ds[tag]`` returns it: ``tag``, ``VR``, ``value``, ``keyword``."""

    __slots__ = ("VR", "tag", "value")

    def __init__(self, tag: int, vr: str, value: Any):
        self.tag = tag
        self.VR = vr
        self.value = value

    @property
    def keyword(self) -> str:
        """The DICOM keyword of the tag ("" for private and unknown tags)."""
        entry = DicomDictionary.get(self.tag)
        return entry[4] if entry else ""

    def __repr__(self) -> str:
        return f"FastElement(({self.tag >> 16:04X},{self.tag & 0xFFFF:04X}) {self.VR})"


def _info(tag: int) -> tuple[str, str] | None:
    try:
        return _INFO[tag]
    except KeyError:
        pass
    entry = DicomDictionary.get(tag)
    info = (entry[4], entry[0]) if entry and entry[4] else None
    _INFO[tag] = info
    return info


def _tag_of(key: Any) -> int | None:
    if isinstance(key, int):
        return key
    if isinstance(key, tuple) and len(key) == 2:
        return (key[0] << 16) | key[1]
    if isinstance(key, str):
        from pydicom.datadict import keyword_dict

        return keyword_dict.get(key)
    return None


class _Ctx:
    """What every value of one file shares: the bytes and the text codec."""

    __slots__ = ("buf", "codec")

    def __init__(self, buf: bytes, codec: str | None):
        self.buf = buf
        self.codec = codec


class FastDataset(dict):
    """One dataset (the root or a sequence item): keyword → value.

    Public elements are stored under their keyword, private and unknown ones under their
    integer tag. A value is kept as ``(VR, start, end, ctx)`` until first asked for, then
    decoded and stored (pydicom values are never tuples). ``get``, ``in``, attribute access
    and ``ds[tag]`` follow pydicom's ``Dataset``.
    """

    # _code, _concept, _num: what the reader derives from a code item, a content item's
    # concept name and a measured-value item, kept on the object, which stands for every
    # byte-identical copy of the item (None: not yet)
    __slots__ = ("_code", "_concept", "_num", "_vrs", "file_meta", "filename")

    def _resolve(self, key: Any, raw: tuple) -> Any:
        vr, start, end, ctx = raw
        if vr is None:
            vr = self._private_vr(key)
        v = _decode(vr, ctx.buf[start:end], end - start, ctx.codec)
        dict.__setitem__(self, key, v)
        if key.__class__ is int:
            vrs = getattr(self, "_vrs", None)
            if vrs is None:
                vrs = self._vrs = {}
            vrs[key] = vr
        return v

    def _private_vr(self, tag: int) -> str:
        """VR of a private element in implicit-VR data: pydicom's private dictionary, else UN."""
        if tag & 0xFF00 == 0 and tag & 0xFF >= 0x10:
            return "LO"  # private creator
        creator = self.get((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
        name = creator.value if creator is not None else None
        if not isinstance(name, str):
            return "UN"
        try:
            vr = private_dictionary_VR(tag, name)
        except KeyError:
            return "UN"
        if " or " in vr:
            raise Fallback(f"ambiguous VR {vr!r} of a private element")
        return vr

    # pydicom API -------------------------------------------------------------------------
    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        """``ds.get(keyword)`` → value; ``ds.get(tag)`` → :class:`FastElement` (as pydicom)."""
        if key.__class__ is str:
            v = dict.get(self, key, _MISSING)
            if v is _MISSING:
                return default
            if v.__class__ is tuple:
                return self._resolve(key, v)
            return v
        try:
            return self[key]
        except KeyError:
            return default

    def __getattr__(self, name: str) -> Any:
        v = dict.get(self, name, _MISSING)
        if v is _MISSING or name.startswith("_"):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        if v.__class__ is tuple:
            return self._resolve(name, v)
        return v

    def __contains__(self, key: Any) -> bool:  # type: ignore[override]
        if key.__class__ is str:
            return dict.__contains__(self, key)
        tag = _tag_of(key)
        if tag is None:
            return False
        if dict.__contains__(self, tag):
            return True
        info = _info(tag)
        return info is not None and dict.__contains__(self, info[0])

    def __getitem__(self, key: Any) -> FastElement:
        tag = _tag_of(key)
        if tag is None:
            raise KeyError(key)
        info = _info(tag)
        k: Any = tag if info is None else info[0]
        v = dict.get(self, k, _MISSING)
        if v is _MISSING:
            raise KeyError(key)
        if v.__class__ is tuple:
            v = self._resolve(k, v)
        if isinstance(v, list):
            return FastElement(tag, "SQ", v)
        vrs = getattr(self, "_vrs", None) or {}
        vr = vrs.get(tag) or (info[1] if info is not None else "UN")
        return FastElement(tag, vr, v)

    def __iter__(self) -> Iterator[FastElement]:  # type: ignore[override]
        from pydicom.datadict import keyword_dict

        tags = [k if isinstance(k, int) else keyword_dict[k] for k in dict.keys(self)]
        for tag in sorted(tags):
            yield self[tag]

    def __repr__(self) -> str:
        return f"FastDataset({len(self)} elements)"


_MISSING = object()


def _text(raw: bytes, codec: str | None) -> str:
    if raw.isascii():
        if codec is None and b"\x1b" in raw:
            raise Fallback("ISO 2022 escape sequences in text")
        return raw.decode("ascii")
    if codec is None:
        raise Fallback("non-ASCII text in a character set the fast path does not decode")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        raise Fallback("text that does not decode in the file's character set") from None


def _ds(raw: bytes) -> Any:
    text = raw.decode("latin_1").strip().rstrip(" \0")
    if "\\" not in text:
        if not _DS_RE.fullmatch(text):
            raise Fallback(f"a DS value {text!r} that pydicom could not convert")
        v = DSValue(text)
        v.original_string = text
        return v
    out = []
    for p in text.split("\\"):
        s = p.strip()
        if not _DS_RE.fullmatch(s):
            raise Fallback(f"a DS value {p!r} that pydicom could not convert")
        v = DSValue(s)
        v.original_string = s
        out.append(v)
    return MultiValue(_same, out)


def _same(v: Any) -> Any:
    return v


def _multi_text(raw: bytes, codec: str | None, limit: int | None) -> Any:
    text = _text(raw, codec)
    if "\\" not in text:
        if limit is not None and len(text) > limit:
            raise Fallback(f"a text value longer than {limit} characters")
        return text.rstrip("\0 ")
    parts = text.split("\\")
    if limit is not None and any(len(p) > limit for p in parts):
        raise Fallback(f"a text value longer than {limit} characters")
    return MultiValue(str, [p.rstrip("\0 ") for p in parts])


def _decode(vr: str, raw: bytes, length: int, codec: str | None) -> Any:
    """Decode one non-sequence value as pydicom's reader does (see the module docstring)."""
    if length == 0:
        if vr == "PN":
            return PersonName("")
        return None if vr in _NONE_WHEN_EMPTY else ""
    if vr == "DS":
        return _ds(raw)
    if vr == "SH":
        return _multi_text(raw, codec, 16)
    if vr == "LO":
        return _multi_text(raw, codec, 64)
    if vr == "UC":
        return _multi_text(raw, codec, None)
    if vr in ("ST", "LT", "UT"):
        text = _text(raw, codec)
        limit = 1024 if vr == "ST" else 10240 if vr == "LT" else None
        if limit is not None and len(text) > limit:
            raise Fallback(f"a {vr} value longer than {limit} characters")
        return text.rstrip("\0 ")
    if vr == "UI":
        text = raw.decode("latin_1").rstrip("\0 ")
        if "\\" not in text:
            if len(text) > 64 or not _UI_RE.fullmatch(text):
                raise Fallback("a UID that is not a valid DICOM UID")
            return text
        parts = text.split("\\")
        if any(len(p) > 64 or not _UI_RE.fullmatch(p) for p in parts):
            raise Fallback("a UID that is not a valid DICOM UID")
        return MultiValue(str, parts)
    if vr in ("CS", "AS", "DA", "DT", "TM"):
        # pydicom's convert_string: default repertoire, no validation on reading
        text = raw.decode("latin_1").rstrip(" \0")
        if "\\" not in text:
            return text
        return MultiValue(str, text.split("\\"))
    if vr == "IS":
        parts = raw.decode("latin_1").strip().rstrip(" \0").split("\\")
        if any(len(p) > 12 or not _IS_RE.fullmatch(p) for p in parts):
            raise Fallback("an IS value that is not a valid integer string")
        out = [int(p) for p in parts]
        return out[0] if len(out) == 1 else MultiValue(int, out)
    if vr == "PN":
        text = _text(raw.rstrip(b"\0 "), codec)
        parts = text.split("\\")
        return PersonName(parts[0]) if len(parts) == 1 else MultiValue(PersonName, parts)
    if vr == "AE":
        parts = [p.strip() for p in raw.decode("latin_1").split("\\")]
        return parts[0] if len(parts) == 1 else MultiValue(str, parts)
    if vr in _NUMBERS:
        fmt, size = _NUMBERS[vr]
        if length % size:
            raise Fallback(f"a {vr} value of {length} bytes")
        n = length // size
        nums = struct.unpack(f"<{n}{fmt}", raw)
        return nums[0] if n == 1 else MultiValue(type(nums[0]), nums)
    if vr in _BYTES:
        return raw
    if vr == "UR":
        return raw.decode("latin_1").rstrip()
    raise Fallback(f"VR {vr} is not decoded by the fast path")


# Element headers the loop has seen, by their first bytes (tag, and in explicit VR the VR):
# (dataset key, VR, kind). Only headers whose handling does not depend on where they occur
# are kept: not the Specific Character Set, not a VR that differs from the dictionary's.
# kind: 0 a value with a 16-bit length (explicit VR), 1 a value with a 32-bit length, 2 a
# sequence, 3 the item delimiter (the only (FFFE,eeee) tag a dataset may hold).
_EXPLICIT_HEADERS: dict[bytes, tuple[Any, str, int]] = {}
_IMPLICIT_HEADERS: dict[bytes, tuple[Any, str | None, int]] = {}
_EHDR = struct.Struct("<6sH")  # explicit VR: tag + VR bytes, 16-bit length
_IHDR = struct.Struct("<4sL")  # implicit VR: tag bytes, 32-bit length
_PREFIX = 64  # bytes: undefined-length items are looked up in the memo by this prefix
_EXPLICIT_HEADERS[_ITEM_DELIM_BYTES[:6]] = (None, "", 3)
_IMPLICIT_HEADERS[_ITEM_DELIM_BYTES[:4]] = (None, None, 3)


def _remember_header(implicit: bool, head: bytes, tag: int, vr: str | None,
                     info: tuple[str, str] | None) -> None:
    """Add a header to the dispatch table when its handling is the same everywhere."""
    if tag == _CHARSET_TAG or tag >> 16 == 0xFFFE:
        return
    key: Any = tag if info is None else info[0]
    if implicit:
        if info is not None:
            vr = info[1]
        _IMPLICIT_HEADERS[head] = (key, vr, 2 if vr == "SQ" else 1)
        return
    if info is not None and vr != info[1]:
        return  # a VR other than the dictionary's: recorded per dataset (slow path)
    kind = 2 if vr == "SQ" else 1 if vr in _LONG_VRS else 0
    _EXPLICIT_HEADERS[head] = (key, vr, kind)  # type: ignore[assignment]


def _tree(buf: bytes, pos: int, implicit: bool, codec: str | None,
          tick: Callable[[int], int] | None = None) -> FastDataset:
    """The root dataset from ``pos`` to the end of ``buf``, with every nested sequence.

    One loop with an explicit stack. In dataset mode it reads the elements of ``ds`` until
    ``end`` (or until an item delimiter when ``end`` is None); in sequence mode the items of
    ``seq`` until ``end`` (or until a sequence delimiter). Values are not decoded here: each
    is kept as ``(VR, start, end, ctx)`` (VR None: a private element of implicit-VR data).

    Two shortcuts, both functions of the bytes alone: an element header seen before is
    handled from a table (``_EXPLICIT_HEADERS`` / ``_IMPLICIT_HEADERS``) instead of being
    decoded field by field, and an item whose content bytes equal those of an item parsed
    before is that same (shared) dataset.

    ``tick(pos)``, when given, is called at the end of the first parsed item at or past the
    position it returned last (the start: ``tick(pos)`` once first); it returns the next
    position. Without it the loop pays one integer comparison per parsed item.
    """
    size = len(buf)
    mark = size + 1 if tick is None else tick(pos)
    ctx = _Ctx(buf, codec)
    hdr = _HDR.unpack_from
    taglen = _TAGLEN.unpack_from
    u32 = _U32.unpack_from
    find = buf.find
    starts_at = buf.startswith
    head_of = (_IHDR if implicit else _EHDR).unpack_from
    headers: dict[bytes, Any] = _IMPLICIT_HEADERS if implicit else _EXPLICIT_HEADERS
    headers_get = headers.get
    vr_of = _VR_OF_BYTES
    long_vrs = _LONG_VRS
    infos = _INFO
    root = FastDataset()
    ds = root
    seq: list[FastDataset] = []
    end: int | None = size
    in_dataset = True
    stack: list[tuple[Any, int | None, Any]] = []
    # Small items recur byte for byte (concept names, units, many NUM items): one parsed
    # dataset serves every identical copy (values are decoded identically; nothing mutates).
    # memo: content bytes → dataset; starts: the first _PREFIX content bytes → the content
    # lengths remembered with that start (to find an undefined-length item's end).
    memo: dict[bytes, FastDataset] = {}
    memo_get = memo.get
    starts: dict[bytes, list[int]] = {}
    starts_get = starts.get
    delim = _ITEM_DELIM_BYTES
    # the same for whole sequences (their own tables: an empty item and an empty sequence
    # have the same content bytes)
    seq_memo: dict[bytes, list[FastDataset]] = {}
    seq_memo_get = seq_memo.get
    seq_starts: dict[bytes, list[int]] = {}
    seq_starts_get = seq_starts.get
    seq_delim = _SEQ_DELIM_BYTES
    key: Any
    if implicit and pos + 6 <= size and 0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B:
        raise Fallback("the dataset looks explicit-VR although the transfer syntax is implicit")
    # A header cut by the end of the bytes makes unpack_from raise struct.error (cheaper
    # than a length check before every header).
    try:
        while True:
            if in_dataset:
                if end is not None and pos >= end:
                    if pos > end:
                        raise Truncated("an element runs past the end of its item")
                    if not stack:
                        return root
                    seq, end, key = stack.pop()
                    if key is not None:
                        memo[key] = ds
                        n = len(key)
                        if n >= _PREFIX:
                            lens = starts.setdefault(key[:_PREFIX], [])
                            if n not in lens:
                                lens.append(n)
                    if pos >= mark:  # progress (at the end of a parsed item only)
                        mark = tick(pos)  # type: ignore[misc]
                    if end is not None and pos >= end:
                        # the sequence ends here too: what sequence mode would do
                        if pos > end:
                            raise Truncated("an item runs past the end of its sequence")
                        ds, end, key = stack.pop()
                        if key is not None:
                            seq_memo[key] = seq
                        continue
                    in_dataset = False
                    continue
                # fast: a header seen before ------------------------------------------------
                head, length = head_of(buf, pos)
                entry = headers_get(head)
                if entry is not None:
                    dkey, vr, kind = entry
                    if kind == 0:  # explicit VR, 16-bit length
                        vend = pos + 8 + length
                        if vend > size or (end is not None and vend > end):
                            raise Truncated("an element's value runs past the end of its dataset")
                        ds[dkey] = (vr, pos + 8, vend, ctx)
                        pos = vend
                        continue
                    if kind == 3:  # item delimiter
                        if end is None and length == 0:
                            seq, end, key = stack.pop()
                            n = pos - key
                            if n <= _MEMO_MAX:
                                content = buf[key:pos]
                                memo[content] = ds
                                if n >= _PREFIX:
                                    lens = starts.setdefault(content[:_PREFIX], [])
                                    if n not in lens:
                                        lens.append(n)
                            pos += 8
                            if pos >= mark:
                                mark = tick(pos)  # type: ignore[misc]
                            if end is None and starts_at(seq_delim, pos):
                                # the sequence ends here too: what sequence mode would do
                                pos += 8
                                ds, end, key = stack.pop()
                                if key is not None:
                                    n = pos - 8 - key
                                    if n <= _MEMO_MAX:
                                        content = buf[key:pos - 8]
                                        seq_memo[content] = seq
                                        if n >= _PREFIX:
                                            lens = seq_starts.setdefault(content[:_PREFIX], [])
                                            if n not in lens:
                                                lens.append(n)
                                continue
                            in_dataset = False
                            continue
                        raise Fallback("unexpected delimiter (FFFE,E00D) in a dataset")
                    if implicit:
                        vstart = pos + 8
                    else:
                        length = u32(buf, pos + 8)[0]
                        vstart = pos + 12
                    if length != _UNDEFINED:
                        vend = vstart + length
                        if vend > size or (end is not None and vend > end):
                            raise Truncated("an element's value runs past the end of its dataset")
                        if kind == 2:
                            # a whole sequence equal to one parsed before is that (shared) list
                            key = None
                            if length <= _MEMO_MAX:
                                key = buf[vstart:vend]
                                hit_seq = seq_memo_get(key)
                                if hit_seq is not None:
                                    ds[dkey] = hit_seq
                                    pos = vend
                                    continue
                            items: list[FastDataset] = []
                            ds[dkey] = items
                            stack.append((ds, end, key))
                            seq, end = items, vend
                            pos = vstart
                            in_dataset = False
                            continue
                        ds[dkey] = (vr, vstart, vend, ctx)
                        pos = vend
                        continue
                    if kind == 2:
                        # an undefined-length sequence: as for items, by start and length
                        lim = size if end is None else end
                        hit_seq = None
                        lens = seq_starts_get(buf[vstart:vstart + _PREFIX])
                        if lens is not None:
                            for n in lens:
                                d = vstart + n
                                if d + 8 <= lim and starts_at(seq_delim, d):
                                    hit_seq = seq_memo_get(buf[vstart:d])
                                    if hit_seq is not None:
                                        break
                        if hit_seq is None:
                            d = find(seq_delim, vstart,
                                 vstart + _PREFIX + 8 if vstart + _PREFIX + 8 < lim else lim)
                            if d != -1:
                                hit_seq = seq_memo_get(buf[vstart:d])
                        if hit_seq is not None:
                            ds[dkey] = hit_seq
                            pos = d + 8
                            continue
                        items = []
                        ds[dkey] = items
                        stack.append((ds, end, vstart))  # an int: an undefined-length sequence
                        seq, end = items, None
                        pos = vstart
                        in_dataset = False
                        continue
                    # an undefined length on another element: the slow path says what it is
                # slow: decode the header field by field ------------------------------------
                if implicit:
                    g, e, length = taglen(buf, pos)
                    tag = (g << 16) | e
                    if g == 0xFFFE:  # a valid item delimiter is in the table
                        raise Fallback(f"unexpected delimiter ({g:04X},{e:04X}) in a dataset")
                    pos += 8
                    vr = None
                else:
                    g, e, vr_bytes, length = hdr(buf, pos)
                    tag = (g << 16) | e
                    if g == 0xFFFE:
                        raise Fallback(f"unexpected delimiter ({g:04X},{e:04X}) in a dataset")
                    vr = vr_of.get(vr_bytes)
                    if vr is None:
                        raise Fallback(f"unknown or implicit VR {vr_bytes!r} in explicit-VR data")
                    if vr in long_vrs:
                        length = u32(buf, pos + 8)[0]
                        pos += 12
                    else:
                        pos += 8
                try:
                    info = infos[tag]
                except KeyError:
                    info = _info(tag)
                if not (vr == "UN" and info is not None):
                    _remember_header(implicit, head, tag, vr, info)
                if length == _UNDEFINED:
                    if vr is None:
                        if info is not None and info[1] != "SQ":
                            raise Fallback("an undefined length on an element that is not a "
                                           "sequence")
                    elif vr != "SQ":
                        raise Fallback("an undefined length on an element that is not a sequence")
                    items = []
                    ds[info[0] if info is not None else tag] = items
                    stack.append((ds, end, None))
                    seq, end = items, None
                    in_dataset = False
                    continue
                vend = pos + length
                if vend > size or (end is not None and vend > end):
                    raise Truncated("an element's value runs past the end of its dataset")
                if info is None:  # private or unknown: kept under its tag
                    if vr == "SQ":
                        items = []
                        ds[tag] = items
                        stack.append((ds, end, None))
                        seq, end = items, vend
                        in_dataset = False
                        continue
                    ds[tag] = (vr, pos, vend, ctx)
                    pos = vend
                    continue
                if vr is None:
                    vr = info[1]
                elif vr != info[1]:
                    if vr == "UN":
                        raise Fallback("a public element with VR UN")
                    vrs = getattr(ds, "_vrs", None)
                    if vrs is None:
                        vrs = ds._vrs = {}
                    vrs[tag] = vr
                if vr == "SQ":
                    items = []
                    ds[info[0]] = items
                    stack.append((ds, end, None))
                    seq, end = items, vend
                    in_dataset = False
                    continue
                if tag == _CHARSET_TAG and ds is not root:
                    raise Fallback("a Specific Character Set inside a sequence item")
                ds[info[0]] = (vr, pos, vend, ctx)
                pos = vend
            else:
                if end is not None and pos >= end:
                    if pos > end:
                        raise Truncated("an item runs past the end of its sequence")
                    ds, end, key = stack.pop()
                    if key is not None:  # the content of a defined-length sequence
                        seq_memo[key] = seq
                    in_dataset = True
                    continue
                g, e, length = taglen(buf, pos)
                tag = (g << 16) | e
                pos += 8
                if tag == _SEQ_DELIM:
                    if end is None and length == 0:
                        ds, end, key = stack.pop()
                        if key is not None:  # the start of an undefined-length sequence
                            n = pos - 8 - key
                            if n <= _MEMO_MAX:
                                content = buf[key:pos - 8]
                                seq_memo[content] = seq
                                if n >= _PREFIX:
                                    lens = seq_starts.setdefault(content[:_PREFIX], [])
                                    if n not in lens:
                                        lens.append(n)
                        in_dataset = True
                        continue
                    raise Fallback("unexpected sequence delimiter")
                if tag != _ITEM:
                    raise Fallback(f"({g:04X},{e:04X}) where a sequence item was expected")
                if length == _UNDEFINED:
                    # the memo again, for content that ends at an item delimiter: the content
                    # lengths remembered under this start, and the first delimiter within
                    # _PREFIX bytes (small items). Bytes equal to a remembered item's content
                    # parse to that item: parsing is a function of these bytes alone.
                    hit = None
                    lim = size if end is None else end
                    lens = starts_get(buf[pos:pos + _PREFIX])
                    if lens is not None:
                        for n in lens:
                            d = pos + n
                            if d + 8 <= lim and starts_at(delim, d):
                                hit = memo_get(buf[pos:d])
                                if hit is not None:
                                    break
                    if hit is None:
                        d = find(delim, pos, pos + _PREFIX + 8 if pos + _PREFIX + 8 < lim else lim)
                        if d != -1:
                            hit = memo_get(buf[pos:d])
                    if hit is not None:
                        seq.append(hit)
                        pos = d + 8
                        continue
                    stack.append((seq, end, pos))  # an int: the start of an undefined-length item
                    end = None
                else:
                    if pos + length > size or (end is not None and pos + length > end):
                        raise Truncated("an item runs past the end of its sequence")
                    key = None
                    if length <= _MEMO_MAX:
                        key = buf[pos:pos + length]
                        hit = memo_get(key)
                        if hit is not None:
                            seq.append(hit)
                            pos += length
                            continue
                    stack.append((seq, end, key))
                    end = pos + length
                item = FastDataset()
                item._code = item._concept = item._num = None
                seq.append(item)
                ds = item
                if not implicit and pos + 6 <= size and not (
                        0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B) and not (
                        buf[pos] == 0xFE and buf[pos + 1] == 0xFF) and (end is None or end > pos):
                    raise Fallback("an implicit-VR item inside explicit-VR data")
                in_dataset = True
    except struct.error:
        raise Truncated("truncated element header" if in_dataset else "truncated sequence"
                        ) from None


def parse(data: bytes | bytearray | memoryview,
          tick: Callable[[int], int] | None = None) -> FastDataset:
    """Parse a DICOM Part 10 file's bytes into a :class:`FastDataset` tree.

    ``tick``: a progress hook, ``tick(byte_position) -> next_byte_position`` (see
    :func:`_tree`).

    Raises
    ------
    Fallback
        When the bytes are not a file the fast path reads exactly as pydicom would (not
        Part 10, another transfer syntax, malformed, or anything pydicom would warn about).
    """
    buf = bytes(data)
    size = len(buf)
    if size < 132 or buf[128:132] != b"DICM":
        raise Fallback("no DICOM Part 10 preamble")
    pos = 132
    meta = FastDataset()
    meta_ctx = _Ctx(buf, "latin_1")
    ts = None
    # the file meta group (0002,eeee) is always explicit VR little endian (PS3.10 §7.1)
    while pos + 8 <= size:
        g, e, vr_bytes, length = _HDR.unpack_from(buf, pos)
        if g != 0x0002:
            break
        vr = _VR_OF_BYTES.get(vr_bytes)
        if vr is None:
            raise Fallback("file meta is not explicit VR")
        if vr in _LONG_VRS:
            if pos + 12 > size:
                raise Truncated("truncated file meta")
            length = _U32.unpack_from(buf, pos + 8)[0]
            pos += 12
        else:
            pos += 8
        if length == _UNDEFINED or pos + length > size or vr == "SQ":
            raise Fallback("malformed file meta")
        info = _info((g << 16) | e)
        if info is not None:
            meta[info[0]] = (vr, pos, pos + length, meta_ctx)
        if (g << 16) | e == 0x00020010:
            ts = buf[pos:pos + length].decode("latin_1").rstrip("\0 ")
        pos += length
    if ts == IMPLICIT_VR_LE:
        implicit = True
    elif ts == EXPLICIT_VR_LE:
        implicit = False
    else:
        raise Fallback(f"transfer syntax {ts or 'missing'} is not read by the fast path")
    if "MediaStorageSOPClassUID" not in meta:
        raise Fallback("file meta without Media Storage SOP Class UID")
    codec = _charset(buf, pos, implicit)
    root = _tree(buf, pos, implicit, codec, tick)
    root.file_meta = meta
    root.filename = None
    return root


def _charset(buf: bytes, pos: int, implicit: bool) -> str | None:
    """The codec for the root's Specific Character Set (0008,0005), read before the tree."""
    size = len(buf)
    while pos + 8 <= size:
        g, e, vr_bytes, length = _HDR.unpack_from(buf, pos)
        tag = (g << 16) | e
        if implicit:
            length = _U32.unpack_from(buf, pos + 4)[0]
            vstart = pos + 8
        elif _VR_OF_BYTES.get(vr_bytes) in _LONG_VRS:
            if pos + 12 > size:
                return "latin_1"
            length = _U32.unpack_from(buf, pos + 8)[0]
            vstart = pos + 12
        else:
            vstart = pos + 8
        if tag > _CHARSET_TAG or length == _UNDEFINED:
            return "latin_1"
        if tag == _CHARSET_TAG:
            value = buf[vstart:vstart + length].decode("latin_1").rstrip(" \0")
            terms = [t.strip() for t in value.split("\\")]
            if len(terms) == 1 and terms[0] in _CODECS:
                return _CODECS[terms[0]]
            if (len(terms) == 1 or terms[0] in ("", "ISO_IR 6")
                    or terms[0].startswith("ISO 2022")) and all(
                        t in python_encoding for t in terms):
                return None  # a valid set: only 7-bit text without escapes is decoded here
            raise Fallback(f"Specific Character Set {value!r} (pydicom warns or guesses)")
        pos = vstart + length
    return "latin_1"
