"""skindose: peak skin dose mapping from DICOM X-Ray Radiation Dose SRs.

>>> import skindose as sd
>>> proc = sd.read_rdsr("exam.dcm")          # doctest: +SKIP
>>> result = sd.compute(proc)                # doctest: +SKIP
>>> result.psd_gy                            # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

# the submodule first (its import binds `skindose.compute` to the module), then the name to the
# function: the computation plus the PSD interval when Settings.uncertainty is on
import skindose.compute as _compute_module  # noqa: F401
from skindose.errors import (
    ConfigurationError,
    GeometryError,
    RDSRError,
    RDSRWarning,
    SkinDoseError,
    SkinDoseWarning,
)
from skindose.settings import Settings
from skindose.uncertainty import compute_with_uncertainty as compute

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
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(import_module(mod), attr)
    if name in _SUBMODULES:
        return import_module(f"skindose.{name}")
    raise AttributeError(f"module 'skindose' has no attribute {name!r}")
