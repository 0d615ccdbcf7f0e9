"""index.html in a real browser (headless Chromium), and forwarding results to a DICOM peer that
is down at first (queued, retried, sent once it is up)."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from html.parser import HTMLParser

from .conftest import SETTINGS, need_tool, store_scu, synthetic_rdsr

PRDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.73"
SC_SOP = "1.2.840.10008.5.1.4.1.1.7"


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.body: dict[str, str] = {}
        self.rows: list[dict[str, str]] = []
        self.links: list[str] = []
        self.ids: dict[str, str] = {}
        self._id: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "tr" and "patient" in (a.get("class") or ""):
            self.rows.append(a)
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag == "span" and a.get("id"):
            self._id = a["id"]

    def handle_data(self, data):
        if self._id:
            self.ids[self._id] = data
            self._id = None


def test_index_html_in_headless_chromium(start_node, tmp_path):
    chromium = need_tool("chromium")
    a = synthetic_rdsr(61, patient_id="PAGE-A")
    b = synthetic_rdsr(62, patient_id="PAGE-B", n_events=1)
    # PAGE-A above the (low) alert level, PAGE-B below
    import skindose
    from skindose import phantoms, read_rdsr
    from skindose.settings import Settings

    ph, s = phantoms.plane(cell_area_cm2=25.0), Settings.from_toml(SETTINGS)
    pa = skindose.compute(read_rdsr(a), ph, s).psd_gy
    pb = skindose.compute(read_rdsr(b), ph, s).psd_gy
    assert pb < pa
    node = start_node(data_dir=tmp_path / "page", alert_levels_gy=(0.5 * (pa + pb),))
    assert store_scu(node.port, [a, b]) == [0, 0]
    assert node.wait_idle(60)
    page = node.data_dir / "index.html"
    text = page.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', text)  # self-contained
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=" + str(tmp_path / "chromium"), "--dump-dom",
                        page.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    dom = _Rows()
    dom.feed(r.stdout)
    assert dom.body.get("data-ready") == "1"  # the page's script ran in the browser
    assert dom.ids.get("shown") == "2" and dom.ids.get("total") == "2"
    assert len(dom.rows) == 2
    classes = sorted(row.get("class", "") for row in dom.rows)
    assert classes == ["patient", "patient alert"]
    assert "PAGE-A" in r.stdout and "PAGE-B" in r.stdout
    reports = [h for h in dom.links if h.endswith("summary.json")]
    assert len(reports) == 2
    for h in reports:
        assert (node.data_dir / h).is_file()


def test_forward_queued_while_peer_down_then_sent(start_node):
    from pynetdicom import AE, evt

    import skindose.dicom_out  # noqa: F401 - the forward uses it (issue 15)

    received: list[tuple[str, str]] = []

    def on_store(event):
        received.append((str(event.request.AffectedSOPClassUID),
                         str(event.request.AffectedSOPInstanceUID)))
        return 0x0000

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    node = start_node(forward=(f"PACS@127.0.0.1:{port}",), forward_retry_s=0.3)
    assert store_scu(node.port, [synthetic_rdsr(71)]) == [0]
    assert node.wait_idle(120)
    end = time.monotonic() + 60
    while node.registry.counts().get("forwards_failed", 0) < 1:
        assert time.monotonic() < end, node.registry.counts()
        time.sleep(0.1)
    assert not received
    peer = AE(ae_title="PACS")
    peer.add_supported_context(PRDSR_SOP)
    peer.add_supported_context(SC_SOP)
    server = peer.start_server(("127.0.0.1", port), block=False,
                               evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        end = time.monotonic() + 120
        while node.registry.counts().get("forwards_sent", 0) < 1:
            assert time.monotonic() < end, node.registry.counts()
            time.sleep(0.1)
    finally:
        server.shutdown()
    assert sorted(c for c, _ in received) == sorted([PRDSR_SOP, SC_SOP])
    (d,) = node.registry.instances()
    fw = node.registry.instance(str(d["id"]))["forwards"]
    assert fw[0]["state"] == "sent" and fw[0]["attempts"] >= 2
