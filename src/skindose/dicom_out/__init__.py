"""Skin dose results back into DICOM: a Patient Radiation Dose SR, a Secondary Capture of the
map, and C-STORE to a PACS.

* :func:`build_prdsr` — the P-RDSR (SOP Class 1.2.840.10008.5.1.4.1.1.88.73, PS3.3 A.35.18,
  PS3.16 TID 10030) naming the source RDSR(s), the events used, the phantom and the method,
  and the peak skin dose as the Maximum Absorbed Radiation Dose to the skin;
* :func:`build_dose_image` — a Secondary Capture Image (PS3.3 A.8.1) of the dose views and the
  unrolled map, referenced from the P-RDSR;
* :func:`write_dicom_outputs` — both as files;
* :func:`parse_peer`, :func:`send_files` — C-STORE with retries (needs ``skindose[dicom]``);
* :func:`read_prdsr`, :func:`format_prdsr` — read a P-RDSR back (``skindose inspect``).

See ``docs/dicom_out.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skindose.dicom_out.image import FIGURES, build_dose_image, figure_list
    from skindose.dicom_out.prdsr import PRDSR_SOP_CLASS_UID, build_prdsr, device_observer_uid
    from skindose.dicom_out.read import PatientDoseReport, format_prdsr, is_prdsr, read_prdsr
    from skindose.dicom_out.send import Peer, parse_peer, send_files

#: Public names and the submodule that defines each: imported on first use, so that the CLI
#: (which registers this package's options for every command) does not load matplotlib and
#: pydicom's writers for ``skindose inspect``.
_LAZY = {
    "FIGURES": "image", "build_dose_image": "image", "figure_list": "image",
    "PRDSR_SOP_CLASS_UID": "prdsr", "build_prdsr": "prdsr", "device_observer_uid": "prdsr",
    "PatientDoseReport": "read", "format_prdsr": "read", "is_prdsr": "read",
    "read_prdsr": "read", "Peer": "send", "parse_peer": "send", "send_files": "send",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"skindose.dicom_out.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skindose.dicom_out' has no attribute {name!r}")

__all__ = [
    "FIGURES",
    "PRDSR_SOP_CLASS_UID",
    "PatientDoseReport",
    "Peer",
    "build_dose_image",
    "build_prdsr",
    "device_observer_uid",
    "figure_list",
    "format_prdsr",
    "is_prdsr",
    "parse_peer",
    "read_prdsr",
    "send_files",
    "write_dicom_outputs",
]


def write_dicom_outputs(result: Any, out_dir: str | Path,
                        sources: Sequence[Any] | None = None, *,
                        image: bool = True) -> list[Path]:
    """Write the Secondary Capture image and the P-RDSR that references it into ``out_dir``.

    Parameters
    ----------
    result
        The :class:`~skindose.dosemap.SkinDoseMap`.
    out_dir
        Folder (created when missing). Files: ``SC_<uid>.dcm`` and ``SR_<uid>.dcm`` (the SOP
        Instance UIDs), so that repeated runs never overwrite each other.
    sources
        The source :class:`~skindose.rdsr.Procedure` objects (see :func:`build_prdsr`).
    image
        Also write the Secondary Capture (default True).

    Returns
    -------
    list of Path
        The written files, image first (send them in this order: the SR references the image).
    """
    from skindose.dicom_out.image import build_dose_image
    from skindose.dicom_out.prdsr import build_prdsr

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    sc = None
    if image:
        sc = build_dose_image(result, sources)
        p = out / f"SC_{sc.SOPInstanceUID}.dcm"
        sc.save_as(p, enforce_file_format=True)
        paths.append(p)
    sr = build_prdsr(result, sources, image=sc)
    p = out / f"SR_{sr.SOPInstanceUID}.dcm"
    sr.save_as(p, enforce_file_format=True)
    paths.append(p)
    return paths
