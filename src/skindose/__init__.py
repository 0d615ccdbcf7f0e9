"""skindose: peak skin dose mapping from DICOM X-Ray Radiation Dose SRs.

>>> import skindose as sd
>>> proc = sd.read_rdsr("exam.dcm")          # doctest: +SKIP
>>> result = sd.compute(proc)                # doctest: +SKIP
>>> result.psd_gy                            # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from skindose.errors import (
    ConfigurationError,
    GeometryError,
    RDSRError,
    RDSRWarning,
    SkinDoseError,
    SkinDoseWarning,
)
from skindose.settings import Settings

try:
    __version__ = version("skindose")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ConfigurationError",
    "GeometryError",
    "RDSRError",
    "RDSRWarning",
    "Settings",
    "SkinDoseError",
    "SkinDoseWarning",
    "__version__",
    "compute",
    "phantoms",
    "physics",
    "read_rdsr",
]

_LAZY = {
    "read_rdsr": ("skindose.rdsr", "read_rdsr"),
}
_SUBMODULES = {"phantoms", "physics", "geometry", "kernel", "rdsr", "vendors", "plotting"}


def __getattr__(name: str):
    # Lazy imports keep `skindose inspect` free of Numba and trimesh start-up costs.
    if name == "compute":
        # the computation plus the PSD interval when Settings.uncertainty is on; bound here
        # after the submodule skindose.compute (whose import binds the module to this name)
        from skindose.uncertainty import compute_with_uncertainty

        globals()["compute"] = compute_with_uncertainty
        return compute_with_uncertainty
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(import_module(mod), attr)
    if name in _SUBMODULES:
        return import_module(f"skindose.{name}")
    raise AttributeError(f"module 'skindose' has no attribute {name!r}")


class _Package(types.ModuleType):
    """The package object: ``skindose.compute`` names the function, never the submodule.

    Importing the submodule :mod:`skindose.compute` (the wiring) makes Python bind it to the
    package attribute of the same name; this refuses that one binding, so the name keeps
    meaning the function (bound lazily above, so that ``import skindose`` stays free of
    Numba). The submodule stays importable: ``from skindose.compute import compute``.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "compute" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
