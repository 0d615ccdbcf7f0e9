"""C-STORE of the P-RDSR and the image to real peers on 127.0.0.1 (a pynetdicom SCP in the test
and DCMTK's storescp as an independent peer), and the failures: refused, absent, failure
status, bad syntax."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pydicom
import pytest

from skindose.dicom_out import Peer, parse_peer, send_files
from skindose.errors import ConfigurationError, DicomSendError
from tests.dicom_out.conftest import free_port, tool

pynetdicom = pytest.importorskip("pynetdicom")

PRDSR = "1.2.840.10008.5.1.4.1.1.88.73"
SC = "1.2.840.10008.5.1.4.1.1.7"


# --- parse_peer ---------------------------------------------------------------------------------

def test_parse_peer():
    assert parse_peer("PACS@10.0.0.5:104") == Peer("PACS", "10.0.0.5", 104)
    assert parse_peer(" ORTHANC@pacs.example.org:4242 ") == Peer("ORTHANC", "pacs.example.org",
                                                                  4242)
    assert parse_peer("A@[::1]:11112") == Peer("A", "::1", 11112)
    assert str(parse_peer("X@h:1")) == "X@h:1"


@pytest.mark.parametrize("bad", ["", "PACS", "PACS@host", "@host:104", "PACS@:104",
                                 "PACS@host:port", "PACS@host:0", "PACS@host:70000",
                                 "A_TITLE_LONGER_THAN_16@h:104", "BAD\\AET@h:104",
                                 "PACS@host:104:5"])
def test_parse_peer_rejects(bad):
    with pytest.raises(ConfigurationError, match="peer"):
        parse_peer(bad)


# --- a pynetdicom storage SCP ------------------------------------------------------------------

class _SCP:
    def __init__(self, *, aet="TESTSCP", status=0x0000):
        from pynetdicom import AE, AllStoragePresentationContexts, evt

        self.received: list[pydicom.Dataset] = []
        self.status = status
        ae = AE(ae_title=aet)
        ae.require_called_aet = True
        ae.supported_contexts = AllStoragePresentationContexts
        # pynetdicom's list may predate the P-RDSR; make sure it is offered
        if PRDSR not in {str(c.abstract_syntax) for c in ae.supported_contexts}:
            ae.add_supported_context(PRDSR)
        self.port = free_port()
        self.server = ae.start_server(("127.0.0.1", self.port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, self._store)])
        self.peer = Peer(aet, "127.0.0.1", self.port)

    def _store(self, event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        self.received.append(ds)
        return self.status

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def scp():
    s = _SCP()
    yield s
    s.stop()


def test_store_to_pynetdicom_scp(skipped_case, scp):
    paths = skipped_case[3]
    send_files(paths, scp.peer, retries=0, timeout_s=10)
    got = {str(d.SOPInstanceUID): d for d in scp.received}
    want = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in paths}
    assert set(got) == set(want)
    classes = sorted(str(d.SOPClassUID) for d in scp.received)
    assert classes == sorted([PRDSR, SC])
    sr = next(d for d in scp.received if str(d.SOPClassUID) == PRDSR)
    assert sr.ConceptNameCodeSequence[0].CodeValue == "128401"


def test_refusing_peer_is_one_line(skipped_case, scp):
    wrong = Peer("NOT_THE_AET", scp.peer.host, scp.peer.port)
    with pytest.raises(DicomSendError) as exc:
        send_files(skipped_case[3], wrong, retries=1, timeout_s=5, backoff_s=0.05)
    msg = str(exc.value)
    assert "\n" not in msg and "rejected" in msg and "NOT_THE_AET@127.0.0.1" in msg
    assert "2 attempt(s)" in msg
    assert scp.received == []


def test_absent_peer_is_one_line(skipped_case):
    peer = Peer("NOBODY", "127.0.0.1", free_port())
    t0 = time.monotonic()
    with pytest.raises(DicomSendError) as exc:
        send_files(skipped_case[3], peer, retries=2, timeout_s=3, backoff_s=0.05)
    msg = str(exc.value)
    assert "\n" not in msg and "3 attempt(s)" in msg and str(peer) in msg
    assert time.monotonic() - t0 < 30


def test_failure_status_is_reported(tmp_path):
    s = _SCP(status=0xA700)  # out of resources
    try:
        with pytest.raises(DicomSendError, match="0xA700"):
            send_files([_tiny_dicom(tmp_path)], s.peer, retries=0, timeout_s=5)
        assert len(s.received) == 1
    finally:
        s.stop()


def _tiny_dicom(d: Path) -> Path:
    """A minimal Secondary Capture file (for the status test)."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SC
    ds.file_meta.MediaStorageSOPInstanceUID = uid = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = SC, uid
    ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "X", generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.Rows = ds.Columns = 2
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = np.zeros(4, np.uint8).tobytes()
    p = d / "tiny.dcm"
    ds.save_as(p, enforce_file_format=True)
    return p


# --- DCMTK storescp: an independent peer -------------------------------------------------------

@pytest.fixture
def dcmtk_scp(tmp_path):
    exe = tool("storescp")
    port = free_port()
    out = tmp_path / "received"
    out.mkdir()
    proc = subprocess.Popen([exe, "--aetitle", "DCMTKSCP", "--output-directory", str(out),
                             "--promiscuous", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc)
        yield Peer("DCMTKSCP", "127.0.0.1", port), out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait(timeout=10)


def _wait_listening(port: int, proc, timeout_s: float = 10.0) -> None:
    import socket

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"storescp exited: {proc.stdout.read().decode(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("storescp did not start listening")


def test_store_to_dcmtk_storescp(skipped_case, dcmtk_scp):
    peer, out = dcmtk_scp
    send_files(skipped_case[3], peer, retries=0, timeout_s=10)
    deadline = time.monotonic() + 10
    while len(list(out.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in out.iterdir()}
    want = {str(pydicom.dcmread(p).SOPInstanceUID) for p in skipped_case[3]}
    assert set(stored) == want
    for uid, p in stored.items():  # what DCMTK stored is what we wrote, element for element
        mine = next(pydicom.dcmread(q) for q in skipped_case[3]
                    if pydicom.dcmread(q).SOPInstanceUID == uid)
        theirs = pydicom.dcmread(p)
        assert theirs == mine


# --- the command line --------------------------------------------------------------------------

def _settings(tmp_path: Path, extra: str = "") -> Path:
    p = tmp_path / "fast.toml"
    p.write_text("cell_area_cm2 = 4.0\n" + extra)
    return p


def test_cli_dicom_out_and_send(skipped_case, scp, tmp_path, capsys):
    from skindose.cli import main

    src = skipped_case[0]
    out = tmp_path / "dicom"
    rc = main(["compute", str(src), "--phantom", "cylinder", "--settings",
               str(_settings(tmp_path)), "--dicom-out", str(out), "--send", str(scp.peer)])
    assert rc == 0
    files = sorted(out.glob("*.dcm"))
    assert [f.name[:3] for f in files] == ["SC_", "SR_"]
    assert {str(d.SOPInstanceUID) for d in scp.received} == {
        str(pydicom.dcmread(f).SOPInstanceUID) for f in files}
    assert "stored 2 file(s)" in capsys.readouterr().out


def test_cli_send_key_in_settings(skipped_case, scp, tmp_path):
    from skindose.cli import main

    st = _settings(tmp_path, f'[extra]\ndicom_send = "{scp.peer}"\n')
    assert main(["compute", str(skipped_case[0]), "--phantom", "cylinder", "--settings",
                 str(st), "--json"]) == 0
    assert len(scp.received) == 2


@pytest.mark.parametrize("how", ["absent", "refused", "syntax"])
def test_cli_bad_peer_exits_2_with_one_line(skipped_case, scp, tmp_path, capsys, how,
                                           monkeypatch):
    from skindose.cli import main
    from skindose.dicom_out import cli as dcli

    monkeypatch.setattr(dcli, "SEND_BACKOFF_S", 0.01)  # the 3 retries, without the waiting

    peer = {"absent": f"NOBODY@127.0.0.1:{free_port()}",
            "refused": f"WRONG@127.0.0.1:{scp.port}",
            "syntax": "PACS@nowhere"}[how]
    rc = main(["compute", str(skipped_case[0]), "--phantom", "cylinder", "--settings",
               str(_settings(tmp_path)), "--send", peer])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("skindose: error:")
    assert scp.received == []
