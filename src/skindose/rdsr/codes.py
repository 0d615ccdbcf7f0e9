"""Concept codes of the X-Ray Radiation Dose SR that skindose reads, matched by value.

Codes are compared as ``(scheme, value)`` pairs after normalisation: legacy SNOMED-RT codes
(scheme ``SRT`` or ``SNM3``) are mapped to their SNOMED CT equivalents (scheme ``SCT``), so a file
may use either. Code meanings are never used to match concepts.

Sources: DICOM PS3.16 TID 10001–10003C and CIDs 10002, 10003, 10006, 10008, 10025, 19, 20, 21,
4031, as summarised (with verification status) in ``docs/rdsr.md`` §1–§2; the SRT→SCT pairs are
the equivalences listed there and in PS3.16 Annex O (SNOMED CT conversion).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SRT_TO_SCT", "C", "Code", "code_key"]


class Code(NamedTuple):
    """A normalised coded concept: scheme and value."""

    scheme: str
    value: str


# Legacy SNOMED-RT (SRT) code values and their SNOMED CT equivalents.
SRT_TO_SCT: dict[str, str] = {
    "P5-06000": "44491008",  # Fluoroscopy
    "F-10470": "102540008",  # headfirst
    "F-10480": "102541007",  # feet-first
    "F-10450": "102538003",  # recumbent
    "F-10440": "C86043",  # erect (NCIt in current editions)
    "F-10460": "102539006",  # semi-erect
    "F-10340": "40199007",  # supine
    "F-10310": "1240000",  # prone
    "F-10317": "102535000",  # right lateral decubitus
    "F-10319": "102536004",  # left lateral decubitus
    "G-C0E8": "363703001",  # Has Intent
    "T-D000A": "91723000",  # Anatomical structure
    "G-C171": "272741003",  # Laterality
    "A-2C090": "15869005",  # Dosimeter
    "R-0038D": "373066001",  # Yes
    "R-00339": "373067005",  # No
    "R-10260": "414135002",  # Estimated
    # filter materials: element codes and the legacy "X or X compound" codes
    "C-12700": "66925006",  # Copper
    "C-127F9": "66925006",  # Copper or Copper compound
    "C-12000": "12503006",  # Aluminum
    "C-120F9": "12503006",  # Aluminum or Aluminum compound
    "C-15000": "71128006",  # Molybdenum
    "C-150F9": "71128006",
    "C-13900": "12597001",  # Tin
    "C-13200": "88488004",  # Lead
    "C-15600": "45215009",  # Tantalum
    "C-16700": "59801003",  # Rhodium
    "C-13700": "41967008",  # Silver
    "C-164F9": "26194003",  # Tungsten or Tungsten compound
    # target regions (CID 4031)
    "T-D0010": "38266002",  # Entire body
    "T-D1100": "69536005",  # Head
    "T-D1000": "774007",  # Head and Neck
    "T-D1600": "45048000",  # Neck
    "T-D3000": "51185008",  # Chest
    "T-32000": "80891009",  # Heart
    "T-D4000": "818983003",  # Abdomen
    "T-D6000": "12921003",  # Pelvis
    "T-D9000": "61685007",  # Lower limb
    "T-D8000": "53120007",  # Upper limb
    "T-11500": "421060004",  # Spine
    "T-42000": "15825003",  # Aorta
    "T-62000": "10200004",  # Liver
    "T-71000": "64033007",  # Kidney
    "T-45010": "69105007",  # Carotid artery
    "T-A0100": "12738006",  # Brain
}

# Extra SCT equivalents met in older editions (SCT → canonical SCT).
_SCT_ALIASES: dict[str, str] = {
    "105830007": "12503006",  # Aluminum or aluminum compound
    "113345001": "818983003",  # Abdominal structure (older SCT) → Abdomen
    "43799004": "51185008",  # Thoracic structure
}


def code_key(scheme: str | None, value: str | None) -> Code:
    """Normalise a (scheme, value) pair so that SRT and SCT spellings compare equal.

    Some vendors put a legacy SRT value under another scheme (Eurocolumbus codes aluminium
    ``C-120F9`` with scheme ``DCM``); a value that is a known SRT code is mapped whatever the
    scheme says.
    """
    s = (scheme or "").strip().upper()
    v = (value or "").strip()
    if s in ("SRT", "SNM3", "99SDM") or (s != "SCT" and v in SRT_TO_SCT):
        mapped = SRT_TO_SCT.get(v)
        if mapped is not None:
            return Code("SCT", _SCT_ALIASES.get(mapped, mapped))
    if s == "SCT":
        return Code("SCT", _SCT_ALIASES.get(v, v))
    return Code(s, v)


def _dcm(value: str) -> Code:
    return Code("DCM", value)


def _sct(value: str) -> Code:
    return Code("SCT", value)


class C:
    """The concept codes skindose uses, as normalised :class:`Code` pairs."""

    # root and accumulated
    XRayRadiationDoseReport = _dcm("113701")
    ProcedureReported = _dcm("121058")
    ProjectionXRay = _dcm("113704")
    ComputedTomographyXRay = _sct("77477000")
    CTAccumulatedDoseData = _dcm("113811")
    CTAcquisition = _dcm("113819")
    ObserverType = _dcm("121005")
    DeviceObserverUID = _dcm("121012")
    DeviceObserverName = _dcm("121013")
    DeviceObserverManufacturer = _dcm("121014")
    DeviceObserverModelName = _dcm("121015")
    DeviceObserverSerialNumber = _dcm("121016")
    ScopeOfAccumulation = _dcm("113705")
    StudyInstanceUID = _dcm("110180")
    AccumulatedXRayDoseData = _dcm("113702")
    AcquisitionPlane = _dcm("113764")
    PlaneA = _dcm("113620")
    PlaneB = _dcm("113621")
    SinglePlane = _dcm("113622")
    AllPlanes = _dcm("113890")
    FluoroDoseAreaProductTotal = _dcm("113726")
    FluoroDoseRPTotal = _dcm("113728")
    TotalFluoroTime = _dcm("113730")
    AcquisitionDoseAreaProductTotal = _dcm("113727")
    AcquisitionDoseRPTotal = _dcm("113729")
    TotalAcquisitionTime = _dcm("113855")
    DoseAreaProductTotal = _dcm("113722")
    DoseRPTotal = _dcm("113725")
    ReferencePointDefinition = _dcm("113780")
    Comment = _dcm("121106")
    SourceOfDoseInformation = _dcm("113854")
    XRayMechanicalDataAvailable = _dcm("113944")
    Yes = _sct("373066001")
    No = _sct("373067005")
    # event
    IrradiationEventXRayData = _dcm("113706")
    IrradiationEventUID = _dcm("113769")
    IrradiationEventUIDRetired = _dcm("113853")
    DateTimeStarted = _dcm("111526")
    IrradiationEventType = _dcm("113721")
    Fluoroscopy = _sct("44491008")
    StationaryAcquisition = _dcm("113611")
    SteppingAcquisition = _dcm("113612")
    RotationalAcquisition = _dcm("113613")
    AcquisitionProtocol = _dcm("125203")
    AnatomicalStructure = _sct("91723000")
    TargetRegion = _dcm("123014")
    PatientTableRelationship = _dcm("113745")
    PatientOrientation = _dcm("113743")
    PatientOrientationModifier = _dcm("113744")
    Headfirst = _sct("102540008")
    FeetFirst = _sct("102541007")
    Recumbent = _sct("102538003")
    Supine = _sct("40199007")
    Prone = _sct("1240000")
    LeftLateralDecubitus = _sct("102536004")
    RightLateralDecubitus = _sct("102535000")
    DoseAreaProduct = _dcm("122130")
    HalfValueLayer = _dcm("111634")
    EntranceExposureAtRP = _dcm("111636")
    DoseRP = _dcm("113738")
    FluoroMode = _dcm("113732")
    PulseRate = _dcm("113791")
    NumberOfPulses = _dcm("113768")
    IrradiationDuration = _dcm("113742")
    AverageXRayTubeCurrent = _dcm("113767")
    ExposureTime = _dcm("113824")
    ExposureTimeRetired = _dcm("113735")
    FocalSpotSize = _dcm("113766")
    CollimatedFieldArea = _dcm("113790")
    CollimatedFieldHeight = _dcm("113788")
    CollimatedFieldWidth = _dcm("113789")
    PulseWidth = _dcm("113793")
    KVP = _dcm("113733")
    XRayTubeCurrent = _dcm("113734")
    Exposure = _dcm("113736")
    XRayFilters = _dcm("113771")
    XRayFilterType = _dcm("113772")
    NoFilter = _dcm("111609")
    XRayFilterMaterial = _dcm("113757")
    XRayFilterThicknessMinimum = _dcm("113758")
    XRayFilterThicknessMaximum = _dcm("113773")
    PositionerPrimaryAngle = _dcm("112011")
    PositionerSecondaryAngle = _dcm("112012")
    PositionerPrimaryEndAngle = _dcm("113739")
    PositionerSecondaryEndAngle = _dcm("113740")
    TableHeadTiltAngle = _dcm("113754")
    TableHorizontalRotationAngle = _dcm("113755")
    TableCradleTiltAngle = _dcm("113756")
    DistanceSourceToIsocenter = _dcm("113748")
    DistanceSourceToReferencePoint = _dcm("113737")
    DistanceSourceToDetector = _dcm("113750")
    TableLongitudinalPosition = _dcm("113751")
    TableLateralPosition = _dcm("113752")
    TableHeightPosition = _dcm("113753")
    TableXPositionToIsocenter = _dcm("128766")
    TableYPositionToIsocenter = _dcm("128767")
    TableZPositionToIsocenter = _dcm("128768")
    DeviceRoleInProcedure = _dcm("113876")
    DeviceModelName = _dcm("113879")
    DeviceManufacturer = _dcm("113878")
    DeviceSerialNumber = _dcm("113880")


# Philips private scheme 99PHI-IXR-XPER (docs/rdsr.md §2.4 items 9, 10, 13, 14, 16).
PHILIPS = "99PHI-IXR-XPER"


class P:
    """Philips 99PHI-IXR-XPER private concepts."""

    HeightOfSystem = Code(PHILIPS, "001")
    FocalSpotToIsocenter = Code(PHILIPS, "002")
    WedgesAndShutters = Code(PHILIPS, "005")
    BottomShutter = Code(PHILIPS, "006")
    LeftShutter = Code(PHILIPS, "007")
    RightShutter = Code(PHILIPS, "008")
    TopShutter = Code(PHILIPS, "009")
    FinalDistanceSourceToDetector = Code(PHILIPS, "018")
    TableHeightPosition = Code(PHILIPS, "021")
    DetectorFieldSize = Code(PHILIPS, "023")
    DetectorXSide = Code(PHILIPS, "024")
    DetectorYSide = Code(PHILIPS, "025")


# Reference Point Definition codes (CID 10025) → (kind name, distance mm).
REFERENCE_POINT_CODES: dict[str, tuple[str, float | None]] = {
    "113860": ("isocenter offset", 150.0),  # 15cm from Isocenter toward Source
    "113861": ("detector offset", 300.0),  # 30cm in Front of Image Input Surface
    "113862": ("above tabletop", 10.0),  # 1cm above Tabletop
    "113863": ("above tabletop", 300.0),  # 30cm above Tabletop
    "113864": ("table centerline", 150.0),  # 15cm from Table Centerline
    "113865": ("above tabletop", 42.0),  # 4.2cm above Breast Support Surface
    "113941": ("detector plane", 0.0),  # In Detector Plane
    "113964": ("patient surface", None),  # At Surface of Patient
    "113965": ("from source", 1000.0),  # 100cm from X-Ray Source
}

FILTER_MATERIALS: dict[Code, str] = {
    _sct("66925006"): "Cu",
    _sct("12503006"): "Al",
    _sct("71128006"): "Mo",
    _sct("12597001"): "Sn",
    _sct("88488004"): "Pb",
    _sct("45215009"): "Ta",
    _sct("59801003"): "Rh",
    _sct("41967008"): "Ag",
    _sct("767776000"): "Nb",
    _sct("767775001"): "Eu",
    _sct("26194003"): "W",
}

TARGET_REGIONS: dict[Code, str] = {
    _sct("38266002"): "entire body",
    _sct("69536005"): "head",
    _sct("774007"): "head",
    _sct("45048000"): "neck",
    _sct("51185008"): "chest",
    _sct("80891009"): "heart",
    _sct("818983003"): "abdomen",
    _sct("12921003"): "pelvis",
    _sct("61685007"): "lower limb",
    _sct("53120007"): "upper limb",
    _sct("421060004"): "spine",
    _sct("15825003"): "abdomen",
    _sct("10200004"): "abdomen",
    _sct("64033007"): "abdomen",
    _sct("69105007"): "neck",
    _sct("12738006"): "head",
    _sct("41216001"): "heart",  # Coronary artery
    Code("SRT", "T-D400"): "abdomen",  # malformed legacy code written by a Philips Allura Xper
    _sct("302509004"): "heart",  # Entire heart
}
