"""Fixtures: a small synthetic RDSR with two events that cannot be mapped, its result and the
DICOM outputs; the expected values are read from the source file with pydicom, not from
skindose."""

from __future__ import annotations

import dataclasses
import shutil
import socket
from pathlib import Path

import pydicom
import pytest

#: Events (0-based) written without positioner angles: skindose cannot place them.
SKIPPED = (3, 7)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just released by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def event_uids_in_file(path: Path) -> list[str]:
    """Irradiation Event UIDs (DCM 113769) of the Irradiation Event X-Ray Data containers
    (DCM 113706) of an RDSR, in file order, read with pydicom alone."""
    ds = pydicom.dcmread(path)
    out = []
    for item in ds.ContentSequence:
        if item.ConceptNameCodeSequence[0].CodeValue != "113706":
            continue
        for ch in item.ContentSequence:
            if ch.ConceptNameCodeSequence[0].CodeValue == "113769":
                out.append(str(ch.UID))
    return out


def _compute(path: Path):
    from skindose import compute, phantoms
    from skindose.rdsr import read_rdsr

    proc = read_rdsr(path)
    result = compute([proc], phantoms.by_name("cylinder", cell_area_cm2=4.0))
    return proc, result


@pytest.fixture(scope="session")
def skipped_case(tmp_path_factory):
    """(source path, procedure, result, [SC path, SR path]) with events SKIPPED unmapped."""
    from skindose.dicom_out import write_dicom_outputs
    from skindose.rdsr.synthetic import example_procedure, write_rdsr

    d = tmp_path_factory.mktemp("dicom_out_skipped")
    proc = example_procedure(n_events=12)
    evs = list(proc.events)
    for k in SKIPPED:
        evs[k] = dataclasses.replace(evs[k], primary_angle_deg=None, secondary_angle_deg=None)
    src = write_rdsr(dataclasses.replace(proc, events=tuple(evs)), d / "source.dcm")
    proc, result = _compute(src)
    paths = write_dicom_outputs(result, d / "out", [proc])
    return src, proc, result, paths


@pytest.fixture(scope="session")
def full_case(tmp_path_factory):
    """Every event mapped."""
    from skindose.dicom_out import write_dicom_outputs
    from skindose.rdsr.synthetic import example_procedure, write_rdsr

    d = tmp_path_factory.mktemp("dicom_out_full")
    src = write_rdsr(example_procedure(n_events=6, seed=3), d / "source.dcm")
    proc, result = _compute(src)
    paths = write_dicom_outputs(result, d / "out", [proc])
    return src, proc, result, paths


def tool(name: str) -> str:
    """Absolute path of a system tool (DCMTK / dicom3tools), or skip the test.

    The venv's pynetdicom installs its own ``storescp``; DCMTK's is looked up in /usr/bin
    first so that the independent peer really is DCMTK.
    """
    for cand in (Path("/usr/bin") / name, Path("/usr/local/bin") / name):
        if cand.is_file():
            return str(cand)
    found = shutil.which(name)
    if found and "/.venv/" not in found:
        return found
    pytest.skip(f"{name} not installed (Debian packages dcmtk / dicom3tools)")
    raise AssertionError  # pragma: no cover
