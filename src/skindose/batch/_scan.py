"""Finding the files of an archive and classifying each one.

Every file gets one of four kinds:

``rdsr``
    an X-Ray Radiation Dose SR (or its Enhanced form) with projection X-ray content: computed;
``other-dose-sr``
    a dose SR skindose does not map: CT Radiation Dose SR (TID 10011, in the X-Ray Radiation
    Dose SR class), Radiopharmaceutical or Patient Radiation Dose SR;
``not-rdsr``
    not a DICOM file, or a DICOM object of another class (images, other SRs);
``unreadable``
    a file that cannot be read: missing, no permission, truncated or corrupt DICOM.

The driver classifies from the first bytes (SOP Class and Instance UIDs, read with pydicom's
``read_partial`` up to (0008,0018)); the worker reads every candidate with
:func:`skindose.read_rdsr` and, only when the reader refuses it, parses the whole file with
pydicom to say what it is (:func:`classify_dataset`: a CT dose SR shares the X-Ray Radiation
Dose SR class and is told apart by its template and content; a truncated file fails the parse).
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = ["FileKind", "Header", "classify_dataset", "expand_paths", "peek_header"]

RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.67"
ENHANCED_RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.76"
#: dose SR classes skindose does not map (pydicom ``_uid_dict.py``)
OTHER_DOSE_SOPS = {
    "1.2.840.10008.5.1.4.1.1.88.68": "Radiopharmaceutical Radiation Dose SR",
    "1.2.840.10008.5.1.4.1.1.88.73": "Patient Radiation Dose SR",
}
_CT_TEMPLATE = "10011"  # TID 10011 CT Radiation Dose (PS3.16)


class FileKind(StrEnum):
    """What a file is (see the module docstring)."""

    RDSR = "rdsr"
    OTHER_DOSE_SR = "other-dose-sr"
    NOT_RDSR = "not-rdsr"
    UNREADABLE = "unreadable"


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named by ``paths``: files as given, folders recursively, glob patterns expanded.

    Hidden files and folders (names starting with ".") inside a folder are left out; the
    result is sorted within each argument and each file appears once (first occurrence).

    Raises
    ------
    skindose.errors.ConfigurationError
        When an argument is neither an existing file or folder nor a glob that matches.
    """
    from skindose.errors import ConfigurationError

    seen: set[str] = set()
    out: list[Path] = []

    def add(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for arg in paths:
        s = os.fspath(arg)
        p = Path(s)
        if p.is_dir():
            for f in _walk(p):
                add(f)
        elif p.exists():
            add(p)
        elif glob.has_magic(s):
            hits = sorted(glob.glob(s, recursive=True))
            if not hits:
                raise ConfigurationError(f"{s}: the pattern matches no file")
            for h in hits:
                hp = Path(h)
                if hp.is_dir():
                    for f in _walk(hp):
                        add(f)
                else:
                    add(hp)
        else:
            raise ConfigurationError(f"{s}: no such file or folder")
    return out


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


@dataclass(frozen=True, slots=True)
class Header:
    """What the driver learns from a file before any worker sees it."""

    checksum: str  # sha256 of the bytes, hex ("" when the file could not be read)
    kind: FileKind | None  # None: a candidate RDSR, for a worker to confirm
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    error: str = ""


def _after_sop_instance_uid(tag: Any, vr: Any, length: Any) -> bool:
    return tag > 0x00080018


def peek_header(path: Path) -> Header:
    """Checksum and SOP UIDs of ``path``, and its kind when the header alone decides it.

    Never raises for a bad file: the problem is in :attr:`Header.error`.
    """
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_partial

    try:
        data = path.read_bytes()
    except OSError as exc:
        return Header("", FileKind.UNREADABLE, error=f"cannot read the file ({exc.strerror})")
    checksum = hashlib.sha256(data).hexdigest()
    try:
        ds = read_partial(io.BytesIO(data), stop_when=_after_sop_instance_uid)
    except InvalidDicomError:
        return Header(checksum, FileKind.NOT_RDSR,
                      error="not a DICOM file (no 'DICM' preamble)")
    except Exception as exc:  # truncated or corrupt header
        return Header(checksum, FileKind.UNREADABLE,
                      error=f"truncated or corrupt DICOM header ({type(exc).__name__}: {exc})")
    sop_class = str(ds.get("SOPClassUID", "") or ds.file_meta.get("MediaStorageSOPClassUID", "")
                    or "")
    sop_uid = str(ds.get("SOPInstanceUID", "")
                  or ds.file_meta.get("MediaStorageSOPInstanceUID", "") or "")
    kind, error = _kind_of_class(sop_class)
    return Header(checksum, kind, sop_class, sop_uid, error)


def _kind_of_class(sop_class: str) -> tuple[FileKind | None, str]:
    if sop_class in (RDSR_SOP, ENHANCED_RDSR_SOP):
        return None, ""
    if sop_class in OTHER_DOSE_SOPS:
        return FileKind.OTHER_DOSE_SR, (f"{OTHER_DOSE_SOPS[sop_class]}: skindose maps projection "
                                        "X-ray dose only")
    if not sop_class:
        return FileKind.NOT_RDSR, "DICOM file without a SOP Class UID"
    try:
        from pydicom.uid import UID

        label = UID(sop_class).name
    except Exception:  # pragma: no cover - defensive
        label = sop_class
    return FileKind.NOT_RDSR, f"DICOM {label} ({sop_class}), not a radiation dose SR"


def classify_dataset(ds: Any) -> tuple[FileKind, str]:
    """Kind of a fully read pydicom dataset, and why when it is not ``rdsr``.

    A CT Radiation Dose SR uses the X-Ray Radiation Dose SR class; it is recognised by its
    template identifier (TID 10011) or by CT content at the root (CT Accumulated Dose Data
    113811, CT Acquisition 113819, or Procedure reported = Computed Tomography X-Ray 77477000).
    """
    from skindose.rdsr.codes import C, code_key

    kind, why = _kind_of_class(str(ds.get("SOPClassUID", "") or ""))
    if kind is not None:
        return kind, why
    tmpl = ds.get("ContentTemplateSequence")
    template_id = str(tmpl[0].get("TemplateIdentifier", "") or "") if tmpl else ""
    ct = template_id == _CT_TEMPLATE
    for item in ds.get("ContentSequence") or ():
        if ct:
            break
        concept = _code(item, "ConceptNameCodeSequence", code_key)
        if concept in (C.CTAccumulatedDoseData, C.CTAcquisition):
            ct = True
        elif concept == C.ProcedureReported:
            ct = _code(item, "ConceptCodeSequence", code_key) == C.ComputedTomographyXRay
    if ct:
        return FileKind.OTHER_DOSE_SR, ("CT Radiation Dose SR (TID 10011): skindose maps "
                                        "projection X-ray dose only")
    return FileKind.RDSR, ""


def _code(item: Any, keyword: str, code_key: Any) -> Any:
    seq = item.get(keyword)
    if not seq:
        return None
    return code_key(seq[0].get("CodingSchemeDesignator"), seq[0].get("CodeValue"))
