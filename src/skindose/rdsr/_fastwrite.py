"""Encode a light dataset tree straight to DICOM Part 10 bytes (Explicit VR Little Endian).

The synthetic RDSR writer (:mod:`skindose.rdsr.synthetic`) builds its content tree from
:class:`LightDataset` nodes (a ``dict`` from DICOM keyword to value with attribute access) and
:func:`encode` writes them in one pass: PS3.10 preamble and file meta group, then the dataset
in Explicit VR Little Endian (PS3.5 §7.1.2) with defined lengths for sequences and items.
Building pydicom ``DataElement`` objects (with their validation) for every one of the ~400
elements of an irradiation event was what made writing a long synthetic procedure slow.

Values are what the writer produces: ``str`` (already formatted, e.g. DS strings), ``int``
(IS/US), ``list`` of ``str`` (multi-valued), ``list`` of :class:`LightDataset` (SQ), ``bytes``.
Text is encoded as UTF-8 (the writer declares ``ISO_IR 192``).
"""

from __future__ import annotations

import struct
from typing import Any

from pydicom.datadict import DicomDictionary, keyword_dict
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

__all__ = ["LightDataset", "encode"]

_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
_SHORT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<HH2s2xL")
_ITEM = struct.Struct("<HHL")
_NUL_PADDED = {"UI", "OB", "UN"}
_VR_CACHE: dict[str, tuple[int, str]] = {}


class LightDataset(dict):
    """keyword → value, with attribute access (``ds.PatientID = "x"``, ``del ds.X``, ``in``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def _tag_vr(keyword: str) -> tuple[int, str]:
    try:
        return _VR_CACHE[keyword]
    except KeyError:
        tag = keyword_dict[keyword]
        vr = DicomDictionary[tag][0]
        if vr == "US or SS":
            vr = "US"
        _VR_CACHE[keyword] = (tag, vr)
        return tag, vr


def _value_bytes(vr: str, value: Any) -> bytes:
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, int) and not isinstance(value, bool) and vr in ("US", "UL", "SS",
                                                                             "SL"):
        raw = struct.pack({"US": "<H", "UL": "<L", "SS": "<h", "SL": "<l"}[vr], value)
    elif isinstance(value, list | tuple):
        raw = "\\".join(str(v) for v in value).encode("utf-8")
    else:
        raw = str(value).encode("utf-8")
    if len(raw) % 2:
        raw += b"\0" if vr in _NUL_PADDED else b" "
    return raw


def _dataset(ds: dict, out: list[bytes]) -> None:
    elems = []
    for key, value in ds.items():
        if key == "file_meta":
            continue
        tag, vr = _tag_vr(key)
        elems.append((tag, vr, value))
    elems.sort(key=lambda e: e[0])
    for tag, vr, value in elems:
        g, e = tag >> 16, tag & 0xFFFF
        if vr == "SQ":
            body: list[bytes] = []
            for item in value:
                sub: list[bytes] = []
                _dataset(item, sub)
                data = b"".join(sub)
                body.append(_ITEM.pack(0xFFFE, 0xE000, len(data)))
                body.append(data)
            payload = b"".join(body)
            out.append(_LONG.pack(g, e, b"SQ", len(payload)))
            out.append(payload)
            continue
        raw = _value_bytes(vr, value)
        if vr in _LONG_VRS:
            out.append(_LONG.pack(g, e, vr.encode(), len(raw)))
        else:
            out.append(_SHORT.pack(g, e, vr.encode(), len(raw)))
        out.append(raw)


def encode(ds: dict, implementation_version: str = "SKINDOSE") -> bytes:
    """Part 10 bytes of ``ds`` (its ``file_meta`` gives the SOP class/instance and TS)."""
    meta = LightDataset(ds["file_meta"])
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.setdefault("ImplementationClassUID", PYDICOM_IMPLEMENTATION_UID)
    meta.setdefault("ImplementationVersionName", implementation_version)
    meta.pop("FileMetaInformationGroupLength", None)
    body: list[bytes] = []
    _dataset(meta, body)
    group = b"".join(body)
    head = _SHORT.pack(0x0002, 0x0000, b"UL", 4) + struct.pack("<L", len(group))
    out = [b"\0" * 128, b"DICM", head, group]
    _dataset(ds, out)
    return b"".join(out)
