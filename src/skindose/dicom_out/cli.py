"""``skindose compute --dicom-out DIR --send AET@HOST:PORT``: the CLI hooks of dicom_out.

``cli.py`` calls :func:`add_compute_arguments` on the compute parser and :func:`after_compute`
once the result exists. A refused or absent peer raises
:class:`~skindose.errors.DicomSendError` (a ``SkinDoseError``): the CLI prints one line and
exits 2.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["add_compute_arguments", "after_compute", "inspect_prdsr"]

#: Retries after a failed C-STORE attempt, the wait before the first retry (doubled each
#: time) and the network time-out of each attempt.
SEND_RETRIES = 3
SEND_BACKOFF_S = 1.0
SEND_TIMEOUT_S = 30.0


def add_compute_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--dicom-out``, ``--send`` and ``--calling-aet`` to the compute parser."""
    parser.add_argument("--dicom-out", type=Path, metavar="DIR",
                        help="write a Patient Radiation Dose SR and a Secondary Capture image "
                        "of the map into DIR")
    parser.add_argument("--send", metavar="AET@HOST:PORT",
                        help="send the P-RDSR and the image to this DICOM peer (C-STORE; "
                        "needs skindose[dicom]); a refusing or absent peer exits 2")
    parser.add_argument("--calling-aet", default="SKINDOSE", metavar="AET",
                        help="our AE title for --send (default SKINDOSE)")


def after_compute(args: argparse.Namespace, result: Any, procedures: Sequence[Any]) -> None:
    """Write and/or send the DICOM outputs the arguments ask for (nothing when neither)."""
    from skindose.dicom_out import parse_peer, write_dicom_outputs

    dicom_out = getattr(args, "dicom_out", None)
    send = getattr(args, "send", None) or _settings_peer(args)
    if dicom_out is None and not send:
        return
    peer = parse_peer(send) if send else None  # bad syntax fails before any work
    if dicom_out is not None:
        paths = write_dicom_outputs(result, dicom_out, procedures)
        if peer is not None:
            _send(paths, peer, args)
    else:
        with tempfile.TemporaryDirectory(prefix="skindose-dicom-") as tmp:
            paths = write_dicom_outputs(result, tmp, procedures)
            _send(paths, peer, args)
    if not getattr(args, "json", False):
        if dicom_out is not None:
            print(f"DICOM: {len(paths)} file(s) in {Path(dicom_out).resolve()}",
                  file=sys.stdout)
        if peer is not None:
            print(f"DICOM: stored {len(paths)} file(s) on {peer}", file=sys.stdout)


def _send(paths: Sequence[Path], peer: Any, args: argparse.Namespace) -> None:
    from skindose.dicom_out import send_files

    send_files(paths, peer, calling_aet=args.calling_aet, retries=SEND_RETRIES,
               backoff_s=SEND_BACKOFF_S, timeout_s=SEND_TIMEOUT_S)


def _settings_peer(args: argparse.Namespace) -> str | None:
    """The ``dicom_send`` key of the settings file's ``[extra]`` table, when there is one.

    ``Settings`` refuses unknown top-level keys; its free ``extra`` mapping carries this one::

        [extra]
        dicom_send = "PACS@10.0.0.5:104"
    """
    path = getattr(args, "settings", None)
    if not path:
        return None
    try:
        import tomllib

        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, ValueError):
        return None
    d = data.get("extra")
    return str(d["dicom_send"]) if isinstance(d, dict) and d.get("dicom_send") else None


def inspect_prdsr(path: Path, as_json: bool, out: list[Any]) -> bool:
    """``skindose inspect`` on a Patient Radiation Dose SR: print (or collect, for ``--json``)
    what it says and return True; return False for any other file (read as an RDSR)."""
    import pydicom

    from skindose.dicom_out.read import PRDSR_SOP_CLASS_UID, format_prdsr, read_prdsr

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        sop = str(ds.get("SOPClassUID", ""))
    except Exception:  # not DICOM: read_rdsr gives the clear error
        return False
    if sop != PRDSR_SOP_CLASS_UID:
        return False
    rep = read_prdsr(path)
    if as_json:
        out.append(rep.to_dict())
    else:
        print(format_prdsr(rep))
    return True
