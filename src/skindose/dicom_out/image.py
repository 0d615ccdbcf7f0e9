"""The dose figures as a DICOM Secondary Capture Image.

Secondary Capture Image IOD (PS3.3 A.8.1, SOP Class 1.2.840.10008.5.1.4.1.1.7): Patient,
General Study, Patient Study, General Series, General Equipment, SC Equipment, General Image,
Image Pixel, SC Image and SOP Common modules. One 8-bit RGB frame (Photometric Interpretation
RGB, Planar Configuration 0, PS3.3 C.7.6.3) holding the figures of :data:`FIGURES` stacked top
to bottom, each rendered by :mod:`skindose.plotting` (so the image is what the HTML report
shows). PS3.17 Annex GGGG.1 pairs a Patient Radiation Dose SR with such a Secondary Capture of
the dose over the unwrapped skin.

The image burns in no patient identity (Burned In Annotation NO): the figures carry doses,
phantom and labels only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from skindose.dicom_out.sr import set_character_set

__all__ = ["FIGURES", "SC_SOP_CLASS_UID", "build_dose_image", "figure_list", "render_figures"]

SC_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.7"


def _dose_views(result: Any) -> Any:
    from skindose.plotting import plot_dose_views

    if result.is_reference_point_estimate:
        return None
    return plot_dose_views(result)


def _unrolled(result: Any) -> Any:
    """The unrolled 2-D skin map: the adult unrolled map when plotting offers one, else the
    cylinder's (None for phantoms that cannot be unrolled)."""
    from skindose import plotting

    if result.is_reference_point_estimate:
        return None
    for name in ("plot_unrolled_adult", "plot_unrolled"):
        fn = getattr(plotting, name, None)
        if fn is None:
            continue
        try:
            return fn(result)
        except ValueError:  # this phantom cannot be unrolled by that function
            continue
    return None


def _timeline(result: Any) -> Any:
    from skindose.plotting import plot_psd_timeline

    return plot_psd_timeline(result)


#: The figures of the image, top to bottom: (name, maker). A maker returns a matplotlib
#: Figure, or None when the figure does not apply to this result. Add a figure by appending
#: to this list (or pass ``figures=`` to :func:`build_dose_image`).
FIGURES: list[tuple[str, Callable[[Any], Any]]] = [
    ("dose_views", _dose_views),
    ("unrolled", _unrolled),
]

#: Drawn instead when none of :data:`FIGURES` applies (a reference-point estimate has no map).
FALLBACK_FIGURES: list[tuple[str, Callable[[Any], Any]]] = [("psd_timeline", _timeline)]


def figure_list(result: Any) -> list[str]:
    """Names of the figures :func:`build_dose_image` would draw for ``result``."""
    return [name for name, _ in render_figures(result)]


def render_figures(result: Any, figures: list[tuple[str, Callable[[Any], Any]]] | None = None,
                   *, dpi: int = 100) -> list[tuple[str, np.ndarray]]:
    """Render the figures that apply to ``result`` as (name, (h, w, 3) uint8 RGB) arrays."""
    from skindose.plotting import _pyplot

    plt = _pyplot()
    out: list[tuple[str, np.ndarray]] = []
    for group in ((figures if figures is not None else FIGURES), FALLBACK_FIGURES):
        for name, make in group:
            fig = make(result)
            if fig is None:
                continue
            try:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=dpi, facecolor="white", bbox_inches="tight")
            finally:
                plt.close(fig)
            buf.seek(0)
            rgba = plt.imread(buf, format="png")
            rgb = rgba[..., :3]
            if rgb.dtype != np.uint8:
                rgb = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
            out.append((name, np.ascontiguousarray(rgb)))
        if out:
            break
    return out


def _stack(images: list[np.ndarray], gap: int = 12) -> np.ndarray:
    width = max(im.shape[1] for im in images)
    rows = []
    for k, im in enumerate(images):
        if k:
            rows.append(np.full((gap, width, 3), 255, dtype=np.uint8))
        pad = width - im.shape[1]
        left = pad // 2
        rows.append(np.pad(im, ((0, 0), (left, pad - left), (0, 0)), constant_values=255))
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def build_dose_image(result: Any, sources: Any = None, *,
                     figures: list[tuple[str, Callable[[Any], Any]]] | None = None,
                     series_uid: str | None = None, series_number: int = 902,
                     instance_number: int = 1, now: datetime | None = None,
                     dpi: int = 100) -> Dataset:
    """A Secondary Capture Image of the dose views and, when available, the unrolled map.

    Parameters
    ----------
    result
        The :class:`~skindose.dosemap.SkinDoseMap`.
    sources
        The source :class:`~skindose.rdsr.Procedure` objects (patient and study identity); by
        default taken from ``result.procedures`` like :func:`build_prdsr`.
    figures
        (name, maker) pairs to draw instead of :data:`FIGURES`.
    series_uid, series_number, instance_number, now
        Series and instance identity (new UIDs under the ``2.25.`` UUID root by default).
    dpi
        Rendering resolution.

    Returns
    -------
    pydicom.dataset.Dataset
        With file meta; ``ImageComments`` lists the figures, top to bottom.
    """
    from skindose import __version__
    from skindose.dicom_out.prdsr import (
        MANUFACTURER,
        MODEL_NAME,
        _identities,
        _patient_study_modules,
        device_serial,
        new_instance,
    )

    procs = list(sources) if sources is not None else None
    ident = _identities(result, procs)[-1]
    rendered = render_figures(result, figures, dpi=dpi)
    if not rendered:  # pragma: no cover - the timeline always applies
        from skindose.errors import DicomOutputError

        raise DicomOutputError("no figure applies to this result; nothing to capture")
    pixels = _stack([im for _, im in rendered])
    now = now or datetime.now()

    ds = new_instance(SC_SOP_CLASS_UID, now)
    _patient_study_modules(ds, ident)
    # General Series (C.7.3.1)
    ds.Modality = "OT"
    ds.SeriesInstanceUID = series_uid or generate_uid(prefix=None)
    ds.SeriesNumber = series_number
    ds.SeriesDescription = "skindose skin dose map"
    ds.PatientPosition = ""  # type 2C in General Series; empty (not a patient image)
    # General Equipment (C.7.5.1)
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL_NAME
    ds.DeviceSerialNumber = device_serial()
    ds.SoftwareVersions = str(getattr(result, "version", "") or __version__)
    if ident.get("InstitutionName"):
        ds.InstitutionName = ident["InstitutionName"]
    # SC Equipment (C.8.6.1): workstation
    ds.ConversionType = "WSD"
    ds.SecondaryCaptureDeviceManufacturer = MANUFACTURER
    ds.SecondaryCaptureDeviceManufacturerModelName = MODEL_NAME
    ds.SecondaryCaptureDeviceSoftwareVersions = ds.SoftwareVersions
    # General Image (C.7.6.1) and SC Image (C.8.6.2)
    ds.InstanceNumber = instance_number
    ds.PatientOrientation = ""  # type 2C: no patient orientation for a figure
    # Image Laterality U (unpaired): the figure shows the whole body, so General Series'
    # Laterality (type 2C) is not required (PS3.3 C.7.3.1, C.7.6.1)
    ds.ImageLaterality = "U"
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.DateOfSecondaryCapture = ds.ContentDate
    ds.TimeOfSecondaryCapture = ds.ContentTime
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = "skin dose computed by skindose from the X-Ray Radiation Dose SR"
    ds.BurnedInAnnotation = "NO"
    ds.ImageComments = "skindose figures, top to bottom: " + ", ".join(n for n, _ in rendered)
    # Image Pixel (C.7.6.3)
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    set_character_set(ds)
    return ds

