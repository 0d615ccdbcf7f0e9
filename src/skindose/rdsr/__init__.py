"""The RDSR input stage: read X-Ray Radiation Dose SRs into unit-normalized events."""

from skindose.rdsr.model import (
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
    Study,
)
from skindose.rdsr.reader import parse_reference_point, read_rdsr

__all__ = [
    "AccumulatedDose",
    "Device",
    "EventType",
    "Filter",
    "IrradiationEvent",
    "Patient",
    "PatientOrientation",
    "Plane",
    "Procedure",
    "ReferencePoint",
    "ReferencePointKind",
    "Study",
    "parse_reference_point",
    "read_rdsr",
]
