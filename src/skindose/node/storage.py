"""Durable file writes for store-then-acknowledge.

A received instance is written to a temporary file in the destination folder, flushed with
``fsync``, renamed into place with ``os.replace`` (atomic on POSIX) and the folder itself is
fsynced so that the new name survives a crash. Only then is the registry row committed and the
C-STORE success status returned. pynetdicom and DCMTK's ``storescp`` do not fsync; this is
general POSIX practice (see ``docs/node.md``).

Files are created with mode 0600 and folders with 0700 (the data directory holds patient data).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "fsync_dir",
    "instance_relpath",
    "make_dirs",
    "valid_uid",
    "write_durable",
]

FILE_MODE = 0o600
DIR_MODE = 0o700

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def valid_uid(uid: str) -> bool:
    """True for a DICOM UID (PS3.5 §9.1: digits and dots, at most 64 characters)."""
    return bool(uid) and len(uid) <= 64 and _UID_RE.match(uid) is not None


def instance_relpath(sop_instance_uid: str) -> Path:
    """Where an instance lives under the data directory: ``instances/<hh>/<uid>.dcm``, with
    ``hh`` the first byte of the SHA-1 of the UID (256 folders keep them small)."""
    h = hashlib.sha1(sop_instance_uid.encode("ascii")).hexdigest()[:2]
    return Path("instances") / h / f"{sop_instance_uid}.dcm"


def make_dirs(path: Path) -> None:
    """Create ``path`` and its parents with mode 0700 (existing folders are left as they are)."""
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for q in reversed(missing):
        q.mkdir(mode=DIR_MODE, exist_ok=True)


def fsync_dir(path: Path) -> None:
    """fsync a directory so that renames and new names in it are durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes | memoryview) -> str:
    """Write ``data`` to ``path`` durably and atomically; returns its SHA-256 (hex).

    Nothing half-written is left behind: on any error the temporary file is removed and the
    exception propagates; ``path`` then either does not exist or holds a complete earlier copy.
    """
    make_dirs(path.parent)
    tmp = path.parent / f".tmp-{os.getpid()}-{os.urandom(6).hex()}-{path.name}"
    digest = hashlib.sha256(data).hexdigest()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return digest


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
