"""Per-patient cumulative skin dose and alerts, end to end through the SCP.

Independent references: ``compute`` of both procedures with ``same_patient=True`` (computed here,
not by the node), the maximum of the sum of the node's own per-procedure maps (linearity), a
local SMTP server (aiosmtpd) and a command hook that writes its standard input to a file.
"""

from __future__ import annotations

import json
import socket
import sys
from datetime import datetime, timedelta

import numpy as np
import pytest

import skindose
from skindose import phantoms
from skindose.settings import Settings

from .conftest import SETTINGS, store_scu, synthetic_rdsr

DAY0 = datetime(2026, 2, 2, 10, 0, 0)


def _compute(procs, same_patient=False):
    ph = phantoms.plane(cell_area_cm2=25.0)
    s = Settings.from_toml(SETTINGS)
    return skindose.compute(procs, ph, s, same_patient=same_patient)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A tiny SMTP server on loopback collecting messages."""
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")

    class Collect:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.content.decode("utf-8", "replace"))
            return "250 OK"

    handler = Collect()
    port = _free_port()
    ctl = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port, handler
    finally:
        ctl.stop()


def test_two_procedures_add_third_starts_new_window_alert_once(start_node, tmp_path,
                                                               smtp_server):
    ds1 = synthetic_rdsr(21, patient_id="CUMUL-1", when=DAY0)
    ds2 = synthetic_rdsr(22, patient_id="CUMUL-1", when=DAY0 + timedelta(days=10))
    ds3 = synthetic_rdsr(23, patient_id="CUMUL-1", when=DAY0 + timedelta(days=100),
                         n_events=2)
    p1, p2, p3 = (skindose.read_rdsr(d) for d in (ds1, ds2, ds3))
    r1, r2, r3 = _compute(p1), _compute(p2), _compute(p3)
    r12 = _compute([p1, p2], same_patient=True)
    # the reference itself: dose is additive per cell
    assert r12.psd_gy == pytest.approx(float(np.max(r1.dose_gy + r2.dose_gy)), rel=1e-9)
    assert r12.psd_gy > max(r1.psd_gy, r2.psd_gy) * 1.05  # the fields overlap
    level = 0.5 * (max(r1.psd_gy, r2.psd_gy, r3.psd_gy) + r12.psd_gy)
    assert max(r1.psd_gy, r2.psd_gy, r3.psd_gy) < level < r12.psd_gy

    hook_out = tmp_path / "hook.jsonl"
    hook = tmp_path / "hook.py"
    hook.write_text("import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read())\n")
    smtp_port, mails = smtp_server
    node = start_node(alert_levels_gy=(level,), alert_command=f"{sys.executable} {hook} "
                      f"{hook_out}", smtp_host="127.0.0.1", smtp_port=smtp_port,
                      smtp_to=("physicist@example.org",))
    assert store_scu(node.port, [ds1]) == [0]
    assert node.wait_idle(60)
    assert node.registry.counts()["alerts"] == 0
    assert store_scu(node.port, [ds2, ds3]) == [0, 0]
    assert node.wait_idle(60)

    rows = {d["sop_instance_uid"]: d for d in node.registry.instances()}
    d1, d2, d3 = (rows[str(d.SOPInstanceUID)] for d in (ds1, ds2, ds3))
    for d, r in ((d1, r1), (d2, r2), (d3, r3)):
        assert d["state"] == "done"
        assert d["psd_gy"] == pytest.approx(r.psd_gy, rel=1e-12)
    # procedure 2: the window holds procedures 1 and 2, added on one phantom
    assert d2["cumulative_contributing"]["ids"] == [d1["id"], d2["id"]]
    assert d2["cumulative_psd_gy"] == pytest.approx(r12.psd_gy, rel=1e-9)
    maps = [np.load(node.data_dir / d["report_dir"] / "dose_map.npz")["dose_gy"]
            for d in (d1, d2)]
    assert d2["cumulative_psd_gy"] == pytest.approx(float(np.max(maps[0] + maps[1])), rel=1e-9)
    cum = np.load(node.data_dir / d2["cumulative_report_dir"] / "dose_map.npz")["dose_gy"]
    np.testing.assert_allclose(cum, maps[0] + maps[1], rtol=1e-9, atol=1e-15)
    # procedure 3, 90 days after procedure 2: a new window of its own
    assert d3["cumulative_contributing"]["ids"] == [d3["id"]]
    assert d3["cumulative_psd_gy"] == pytest.approx(r3.psd_gy, rel=1e-12)
    assert d1["cumulative_contributing"]["ids"] == [d1["id"]]

    # one alert: cumulative, raised at procedure 2, delivered on every channel
    c = node.registry.counts()
    assert c["alerts"] == 1 and c["alerts_undelivered"] == 0
    lines = (node.data_dir / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 1
    alert = json.loads(lines[0])
    assert alert["kind"] == "cumulative"
    assert alert["level_gy"] == pytest.approx(level)
    assert alert["psd_gy"] == pytest.approx(r12.psd_gy, rel=1e-9)
    assert alert["sop_instance_uid"] == str(ds2.SOPInstanceUID)
    assert alert["contributing"] == [str(ds1.SOPInstanceUID), str(ds2.SOPInstanceUID)]
    assert alert["patient_id"] == "CUMUL-1"
    assert [json.loads(x) for x in hook_out.read_text().splitlines()] == [alert]
    assert len(mails.messages) == 1
    assert "physicist@example.org" in mails.messages[0]
    assert "CUMUL-1" in mails.messages[0]

    # more dose in the same window, and a resend: still one alert per patient and level
    ds4 = synthetic_rdsr(24, patient_id="CUMUL-1", when=DAY0 + timedelta(days=12))
    assert store_scu(node.port, [ds4, ds2]) == [0, 0]
    assert node.wait_idle(60)
    assert node.registry.counts()["alerts"] == 1
    assert len((node.data_dir / "alerts.jsonl").read_text().splitlines()) == 1
    d4 = {d["sop_instance_uid"]: d for d in node.registry.instances()}[str(ds4.SOPInstanceUID)]
    assert d4["cumulative_contributing"]["ids"] == [d1["id"], d2["id"], d4["id"]]
    r124 = _compute([p1, p2, skindose.read_rdsr(ds4)], same_patient=True)
    assert d4["cumulative_psd_gy"] == pytest.approx(r124.psd_gy, rel=1e-9)


def test_late_arrival_recomputes_later_windows(start_node):
    """A procedure received after a later one still joins the later one's window."""
    ds_late = synthetic_rdsr(31, patient_id="LATE-1", when=DAY0 + timedelta(days=20))
    ds_early = synthetic_rdsr(32, patient_id="LATE-1", when=DAY0)
    node = start_node()
    assert store_scu(node.port, [ds_late]) == [0]
    assert node.wait_idle(60)
    assert store_scu(node.port, [ds_early]) == [0]
    assert node.wait_idle(60)
    rows = {d["sop_instance_uid"]: d for d in node.registry.instances()}
    late, early = rows[str(ds_late.SOPInstanceUID)], rows[str(ds_early.SOPInstanceUID)]
    assert late["cumulative_contributing"]["ids"] == [early["id"], late["id"]]
    ref = _compute([skindose.read_rdsr(ds_early), skindose.read_rdsr(ds_late)],
                   same_patient=True)
    assert late["cumulative_psd_gy"] == pytest.approx(ref.psd_gy, rel=1e-9)


def test_patients_are_kept_apart(start_node):
    a = synthetic_rdsr(41, patient_id="A-1", when=DAY0)
    b = synthetic_rdsr(42, patient_id="B-1", when=DAY0)
    node = start_node()
    assert store_scu(node.port, [a, b]) == [0, 0]
    assert node.wait_idle(60)
    for d in node.registry.instances():
        assert d["cumulative_contributing"]["ids"] == [d["id"]]
        assert d["cumulative_psd_gy"] == pytest.approx(d["psd_gy"], rel=1e-12)


def test_partial_report_superseded_in_the_window(start_node):
    """A partial RDSR and the later complete one of the same study: the window counts the
    events once (accumulation rules), as compute of the complete report alone does."""
    import dataclasses

    from skindose.rdsr.synthetic import build_rdsr, example_procedure

    full = example_procedure(n_events=6, seed=81)
    full = dataclasses.replace(
        full, study=dataclasses.replace(full.study, date=DAY0,
                                        uid="1.2.826.0.1.3680043.10.1234.99.81"),
        patient=dataclasses.replace(full.patient, patient_id="SUPER-1"))
    partial = dataclasses.replace(full, events=full.events[:3])
    ds_partial, ds_full = build_rdsr(partial), build_rdsr(full)
    node = start_node()
    assert store_scu(node.port, [ds_partial]) == [0]
    assert node.wait_idle(60)
    assert store_scu(node.port, [ds_full]) == [0]
    assert node.wait_idle(60)
    rows = {d["sop_instance_uid"]: d for d in node.registry.instances()}
    d_full = rows[str(ds_full.SOPInstanceUID)]
    ref = _compute(skindose.read_rdsr(ds_full))
    both = _compute([skindose.read_rdsr(ds_partial), skindose.read_rdsr(ds_full)],
                    same_patient=True)
    assert both.psd_gy == pytest.approx(ref.psd_gy, rel=1e-9)  # the rules themselves
    assert len(d_full["cumulative_contributing"]["ids"]) == 2
    assert d_full["cumulative_psd_gy"] == pytest.approx(ref.psd_gy, rel=1e-9)
    # the plain sum would have counted the first three events twice
    partial_psd = rows[str(ds_partial.SOPInstanceUID)]["psd_gy"]
    assert partial_psd > 0
