"""An on-disk cache of built default phantoms (a start-up speed-up only; nothing depends on it).

Building the default adult (reading the shipped reference mesh, scaling it to the patient,
refining it to the cell size) takes ≈ 60–100 ms, a noticeable part of a short
``skindose compute``. Built phantoms are kept as ``.npz`` files (vertices, faces and the JSON
of name, landmarks, spec and size) under:

* ``$SKINDOSE_CACHE_DIR`` when set (``off`` or an empty value: no cache), else
* ``$XDG_CACHE_HOME/skindose`` or ``~/.cache/skindose``.

A file's name is a SHA-256 of the build parameters, the skindose version and the bytes of
every module and data file of :mod:`skindose.phantoms` that shapes the mesh, so a changed
builder or reference mesh never reads an old file. The loaded phantom is the same phantom: the
same vertex and face arrays (stored exactly), the cell arrays recomputed from them by the same
code, the same spec and landmarks (JSON round-trips Python floats exactly); a test asserts it.
Any problem (no home directory, a read-only or full disk, a damaged or foreign file) means
the phantom is built as without the cache, silently: the cache can make a run faster, never
different or failing. Files are written to a temporary name and renamed into place, so
concurrent processes never read half a file.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cache_dir", "cached_phantom"]

_FORMAT = 1


def cache_dir() -> Path | None:
    """The cache folder (not created here), or None when the cache is switched off."""
    env = os.environ.get("SKINDOSE_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except (RuntimeError, KeyError):  # no home directory
        return None
    return root / "skindose"


@functools.cache
def _fingerprint() -> str:
    """SHA-256 over the skindose version and the phantom package's modules and data."""
    from skindose import __version__

    h = hashlib.sha256(f"{_FORMAT}:{__version__}".encode())
    pkg = resources.files("skindose.phantoms")
    for sub in (pkg, pkg.joinpath("data")):
        for entry in sorted(sub.iterdir(), key=lambda e: e.name):
            if entry.is_file() and entry.name.endswith((".py", ".npz", ".toml")):
                h.update(entry.name.encode())
                h.update(entry.read_bytes())
    return h.hexdigest()


def _key(params: dict[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True) + _fingerprint()
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached_phantom(params: dict[str, Any], build: Callable[[], Any]) -> Any:
    """The phantom ``build()`` returns for ``params`` (JSON-safe), from the cache when there.

    Parameters
    ----------
    params
        Everything the build depends on besides the package itself (generator and arguments).
    build
        Builds the :class:`~skindose.phantoms.Phantom` when the cache has none.
    """
    folder = cache_dir()
    if folder is None:
        return build()
    try:
        path = folder / f"phantom-{_key(params)}.npz"
    except (OSError, ValueError):
        return build()
    ph = _load(path)
    if ph is not None:
        return ph
    ph = build()
    _store(path, ph)
    return ph


def _load(path: Path) -> Any:
    from skindose.errors import SkinDoseError
    from skindose.phantoms._phantom import Phantom

    try:
        with np.load(path, allow_pickle=False) as npz:
            vertices = np.array(npz["vertices"], dtype=np.float64)
            faces = np.array(npz["faces"], dtype=np.int64)
            meta = json.loads(str(npz["meta"]))
        if meta.get("format") != _FORMAT:
            return None
        return Phantom.from_arrays(
            vertices, faces, name=meta["name"], landmarks=meta["landmarks"],
            spec=meta["spec"], height_m=meta["height_m"], mass_kg=meta["mass_kg"], check=False)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
            SkinDoseError):
        return None  # absent, unreadable, damaged or foreign (a GeometryError): build it


def _store(path: Path, ph: Any) -> None:
    try:
        meta = json.dumps({
            "format": _FORMAT, "name": ph.name,
            "landmarks": {k: [float(x) for x in v] for k, v in ph.landmarks.items()},
            "spec": ph.spec, "height_m": ph.height_m, "mass_kg": ph.mass_kg,
        })
        buf = io.BytesIO()
        np.savez(buf, vertices=ph.vertices, faces=ph.faces, meta=np.array(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".phantom-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.getvalue())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, TypeError, ValueError):
        pass  # read-only or full disk, or a spec that is not JSON: no cache, same result
