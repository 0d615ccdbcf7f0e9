"""Builders for synthetic procedures and events (the RDSR data model, built directly)."""

from __future__ import annotations

from skindose.rdsr.model import (
    Device,
    EventType,
    IrradiationEvent,
    Patient,
    PatientOrientation,
    Plane,
    Procedure,
    ReferencePoint,
    ReferencePointKind,
    Study,
)

RP_IEC = ReferencePoint(kind=ReferencePointKind.ISOCENTER_OFFSET, distance_mm=150.0,
                        text="15cm from Isocenter toward Source", code="DCM:113860")


def event(a=0.0, b=0.0, *, index=0, **kw) -> IrradiationEvent:
    """A stationary event with full geometry (Siemens-like), overridable by keyword."""
    base = dict(
        index=index,
        uid=f"1.2.3.{index}",
        event_type=EventType.STATIONARY,
        plane=Plane.SINGLE,
        kerma_rp_gy=0.01,
        kap_gym2=0.0004,
        primary_angle_deg=a,
        secondary_angle_deg=b,
        sod_mm=785.0,
        sid_mm=1200.0,
        srp_mm=635.0,
        field_width_mm=200.0,
        field_height_mm=150.0,
        table_longitudinal_mm=0.0,
        table_lateral_mm=0.0,
        table_height_mm=150.0,
        target_region="chest",
    )
    base.update(kw)
    return IrradiationEvent(**base)


def procedure(events, *, orientation=PatientOrientation.HFS, manufacturer="Siemens",
              model="AXIOM-Artis", description="") -> Procedure:
    return Procedure(
        source=None,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.88.67",
        device=Device(manufacturer=manufacturer, model=model),
        patient=Patient(orientation=orientation,
                        orientation_source="test" if orientation else "not reported"),
        study=Study(description=description),
        events=tuple(events),
        reference_point=RP_IEC,
    )
