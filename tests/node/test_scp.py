"""The SCP: echo, store, refusals, allow-list, TLS, durability and permissions.

Independent clients: DCMTK's ``echoscu``/``storescu`` (Debian ``dcmtk``) and pynetdicom.
"""

from __future__ import annotations

import ssl
import stat
import subprocess

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from skindose.node.storage import instance_relpath

from ..conftest import real_rdsr_files
from .conftest import need_tool, store_scu, synthetic_rdsr

CT_IMAGE_SOP = "1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = "1.2.840.10008.1.1"


def _mode(p) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_echo_with_dcmtk_and_pynetdicom(start_node):
    from pynetdicom import AE

    echoscu = need_tool("echoscu")
    node = start_node()
    r = subprocess.run([echoscu, "-aet", "MODALITY", "-aec", "SKINDOSE", "127.0.0.1",
                        str(node.port)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", node.port, ae_title="SKINDOSE")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()
    # a wrong called AE title is rejected
    r = subprocess.run([echoscu, "-aet", "MODALITY", "-aec", "SOMEONE", "127.0.0.1",
                        str(node.port)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0


def test_storescu_every_shared_real_rdsr(start_node, rdsr_dir):
    storescu = need_tool("storescu")
    files = real_rdsr_files()
    assert files
    node = start_node(workers=2)
    r = subprocess.run([storescu, "-aet", "MODALITY", "-aec", "SKINDOSE", "127.0.0.1",
                        str(node.port), *map(str, files)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert node.wait_idle(300)
    rows = {d["sop_instance_uid"]: d for d in node.registry.instances()}
    assert len(rows) == len(files)
    for f in files:
        orig = pydicom.dcmread(f)
        d = rows[str(orig.SOPInstanceUID)]
        stored = pydicom.dcmread(node.data_dir / d["path"])
        assert stored == orig, f.name  # the same data set, element by element
        assert d["state"] == "done", (f.name, d["error"])
        assert (node.data_dir / d["report_dir"] / "summary.json").is_file()
        assert d["psd_gy"] is not None and d["psd_gy"] >= 0
    # sending them all again: acknowledged, stored once
    r = subprocess.run([storescu, "-aet", "MODALITY", "-aec", "SKINDOSE", "127.0.0.1",
                        str(node.port), *map(str, files)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0
    assert node.registry.counts()["instances"] == len(files)
    assert node.stats["duplicates"] == len(files)


def _ct_image() -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_SOP
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CT_IMAGE_SOP
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientID = "CT-1"
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = b"\0" * 8
    return ds


def test_image_sop_class_refused(start_node, tmp_path):
    from pynetdicom import AE

    node = start_node()
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(CT_IMAGE_SOP)
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", node.port, ae_title="SKINDOSE")
    assert assoc.is_established
    assert CT_IMAGE_SOP not in {c.abstract_syntax for c in assoc.accepted_contexts}
    assert CT_IMAGE_SOP in {c.abstract_syntax for c in assoc.rejected_contexts}
    assoc.release()
    ct = tmp_path / "ct.dcm"
    _ct_image().save_as(ct, enforce_file_format=True)
    r = subprocess.run([need_tool("storescu"), "-aet", "MODALITY", "-aec", "SKINDOSE",
                        "127.0.0.1", str(node.port), str(ct)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 or "no presentation context" in (r.stdout + r.stderr).lower()
    assert node.registry.counts()["instances"] == 0


def test_ct_dose_sr_kept_as_not_applicable(start_node):
    node = start_node()
    ds = synthetic_rdsr(3)
    ds.ContentTemplateSequence[0].TemplateIdentifier = "10011"  # CT Radiation Dose
    assert store_scu(node.port, [ds]) == [0x0000]
    assert node.wait_idle(60)
    (d,) = node.registry.instances()
    assert d["state"] == "not_applicable"
    assert "CT" in d["error"]
    assert (node.data_dir / d["path"]).is_file()
    assert node.registry.counts()["results"] == 0


def test_comprehensive_sr_with_dose_content_is_read(start_node):
    node = start_node()
    ds = synthetic_rdsr(4)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    assert store_scu(node.port, [ds]) == [0x0000]
    assert node.wait_idle(60)
    (d,) = node.registry.instances()
    assert d["state"] == "done", d["error"]


def test_unknown_ae_refused_with_allow_list(start_node):
    node = start_node(allow_aets=("CATHLAB1",))
    assert store_scu(node.port, [synthetic_rdsr(1)], calling="INTRUDER") is None
    r = subprocess.run([need_tool("echoscu"), "-aet", "INTRUDER", "-aec", "SKINDOSE",
                        "127.0.0.1", str(node.port)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert store_scu(node.port, [synthetic_rdsr(1)], calling="CATHLAB1") == [0x0000]
    assert node.registry.counts()["instances"] == 1


def test_resend_is_acknowledged_and_stored_once(start_node):
    node = start_node()
    ds = synthetic_rdsr(5)
    assert store_scu(node.port, [ds]) == [0x0000]
    assert store_scu(node.port, [ds, ds]) == [0x0000, 0x0000]
    assert node.registry.counts()["instances"] == 1
    assert node.wait_idle(60)
    assert node.registry.counts()["results"] == 1


def test_oversized_dataset_refused(start_node):
    node = start_node(max_dataset_bytes=4096)
    ds = synthetic_rdsr(6, n_events=20)
    assert store_scu(node.port, [ds]) == [0xA700]
    assert node.registry.counts()["instances"] == 0
    assert not list(node.data_dir.rglob("*.dcm"))


def test_failed_write_is_not_acknowledged_and_leaves_nothing(start_node, tmp_path):
    d = tmp_path / "node"
    d.mkdir()
    (d / "instances").write_text("a file where the instances folder should be")
    node = start_node(data_dir=d)
    assert store_scu(node.port, [synthetic_rdsr(7)]) == [0xA700]
    assert node.registry.counts()["instances"] == 0
    assert not [p for p in d.rglob("*") if p.name.startswith(".tmp-")]


def test_store_is_durable_before_ack_and_private(start_node):
    node = start_node()
    ds = synthetic_rdsr(8)
    assert store_scu(node.port, [ds]) == [0x0000]
    # acknowledged => the file and the row exist (checked right after the response)
    path = node.data_dir / instance_relpath(str(ds.SOPInstanceUID))
    assert path.is_file()
    assert pydicom.dcmread(path).SOPInstanceUID == ds.SOPInstanceUID
    assert node.registry.has_instance(str(ds.SOPInstanceUID))
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700
    assert _mode(node.data_dir) == 0o700
    assert _mode(node.data_dir / "registry.sqlite") == 0o600
    assert node.wait_idle(60)
    assert _mode(node.data_dir / "index.html") == 0o600
    log = (node.data_dir / "node.log").read_text()
    assert "association MODALITY@127.0.0.1" in log and "1 stored" in log
    assert "PAT-1" not in log and "SYNTHETIC" not in log  # no patient identity in the log


def test_max_associations(start_node):
    from pynetdicom import AE

    node = start_node(max_associations=1)
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(VERIFICATION)
    first = ae.associate("127.0.0.1", node.port, ae_title="SKINDOSE")
    assert first.is_established
    second = ae.associate("127.0.0.1", node.port, ae_title="SKINDOSE")
    assert not second.is_established
    first.release()


# --- TLS ---------------------------------------------------------------------------------------


def _openssl(*args: str, cwd) -> None:
    subprocess.run([need_tool("openssl"), *args], cwd=cwd, check=True, capture_output=True,
                   timeout=60)


@pytest.fixture
def certs(tmp_path):
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    d = tmp_path / "pki"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
                 f"{name}.key", "-out", f"{name}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", f"{name}.pem",
                 cwd=d)
    return d


def _client_ctx(certs, with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs / "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
    return ctx


def test_tls_right_certificate_accepted_none_refused(start_node, certs):
    node = start_node(tls_cert=certs / "server.pem", tls_key=certs / "server.key",
                      tls_ca=certs / "ca.pem")
    ok = store_scu(node.port, [synthetic_rdsr(9)],
                   tls_args=(_client_ctx(certs, True), "localhost"))
    assert ok == [0x0000]
    assert store_scu(node.port, [synthetic_rdsr(10)],
                     tls_args=(_client_ctx(certs, False), "localhost")) is None
    assert store_scu(node.port, [synthetic_rdsr(11)]) is None  # plain TCP to a TLS port
    assert node.registry.counts()["instances"] == 1
    # DCMTK as the independent TLS client
    storescu = need_tool("storescu")
    f = certs / "x.dcm"
    synthetic_rdsr(12).save_as(f, enforce_file_format=True)
    base = [storescu, "-aet", "MODALITY", "-aec", "SKINDOSE", "+tls", str(certs / "client.key"),
            str(certs / "client.pem"), "-ic", "+cf", str(certs / "ca.pem")]
    r = subprocess.run([*base, "127.0.0.1", str(node.port), str(f)], capture_output=True,
                       text=True, timeout=60)
    if "unrecognized option" in (r.stdout + r.stderr) or ("+tls" in r.stderr and r.returncode):
        pytest.skip("this DCMTK build has no TLS support")
    assert r.returncode == 0, r.stdout + r.stderr
    assert node.registry.counts()["instances"] == 2
