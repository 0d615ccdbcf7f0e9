"""The skindose exception and warning family.

Every error skindose raises on purpose derives from :class:`SkinDoseError`. The concrete
classes also derive from the matching built-in (``ValueError``), so code that already catches
``ValueError`` keeps working, while dashboards can catch one type for everything.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DicomOutputError",
    "DicomSendError",
    "ExtrapolationWarning",
    "GeometryError",
    "RDSRError",
    "RDSRWarning",
    "SkinDoseError",
    "SkinDoseWarning",
]


class SkinDoseError(Exception):
    """Base class of every error raised by skindose."""


class RDSRError(SkinDoseError, ValueError):
    """An input file is not a usable X-Ray Radiation Dose SR.

    Parameters
    ----------
    message
        What is wrong, in plain words.
    source
        The file (path or description) the error concerns, if known.
    field
        The DICOM concept or attribute concerned, if any.
    """

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        parts = []
        if source:
            parts.append(f"{source}:")
        parts.append(message)
        if field:
            parts.append(f"(field: {field})")
        super().__init__(" ".join(parts))
        self.reason = message


class GeometryError(SkinDoseError, ValueError):
    """Beam or phantom geometry that cannot be built from the inputs."""


class ConfigurationError(SkinDoseError, ValueError):
    """Invalid settings, vendor profile or user override file."""


class DicomOutputError(SkinDoseError, ValueError):
    """A result cannot be written as DICOM (e.g. the source RDSR's identity is unknown)."""


class DicomSendError(SkinDoseError, OSError):
    """A C-STORE to a DICOM peer failed: refused, absent, timed out or a failure status.

    The message is one line naming the peer and the reason.
    """


class SkinDoseWarning(UserWarning):
    """Base class of the warnings skindose emits."""


class RDSRWarning(SkinDoseWarning):
    """A recoverable oddity in an RDSR that was repaired or defaulted."""


class ExtrapolationWarning(SkinDoseWarning):
    """A physics lookup was outside its data range and was clamped."""


class PatientMismatchError(SkinDoseError, ValueError):
    """Procedures of different patients were given to one computation."""
