"""Fixtures of the node tests: a node in this process (always stopped), synthetic RDSRs."""

from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("pynetdicom")

from skindose.node.config import NodeConfig
from skindose.node.scp import DoseNode

HERE = Path(__file__).resolve().parent
SETTINGS = HERE / "settings.toml"
RDSR_SOP = "1.2.840.10008.5.1.4.1.1.88.67"


def need_tool(name: str) -> str:
    """Path of a command-line tool; skip (outside CI) or fail (CI=true) when absent."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} not installed (Debian: apt-get install dcmtk / chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def node_config(data_dir: Path, **kw) -> NodeConfig:
    """A test configuration: loopback, a free port, one worker, the fast plane phantom."""
    base = dict(data_dir=data_dir, port=0, bind="127.0.0.1", workers=1, phantom="plane",
                cell_area_cm2=25.0, settings_file=SETTINGS, report="summary",
                network_timeout_s=10.0)
    base.update(kw)
    return NodeConfig(**base)


@pytest.fixture
def start_node(tmp_path):
    """``start_node(**config) -> DoseNode``, started; every node is stopped at teardown."""
    nodes: list[DoseNode] = []

    def start(**kw) -> DoseNode:
        kw.setdefault("data_dir", tmp_path / "node")
        node = DoseNode(node_config(**kw))
        node.start()
        nodes.append(node)
        return node

    yield start
    for n in nodes:
        n.stop(grace_s=5.0)


def synthetic_rdsr(seed: int = 1, *, patient_id: str = "PAT-1", when: datetime | None = None,
                   n_events: int = 4):
    """A synthetic X-Ray Radiation Dose SR (pydicom Dataset) with its own SOP Instance UID."""
    from skindose.rdsr.synthetic import build_rdsr, example_procedure

    proc = example_procedure(n_events=n_events, seed=seed)
    study = dataclasses.replace(proc.study, date=when or proc.study.date,
                                uid=f"1.2.826.0.1.3680043.10.1234.99.{seed}")
    patient = dataclasses.replace(proc.patient, patient_id=patient_id)
    return build_rdsr(dataclasses.replace(proc, study=study, patient=patient))


def store_scu(port: int, datasets, *, calling="MODALITY", called="SKINDOSE", contexts=None,
              tls_args=None):
    """C-STORE ``datasets`` on one association with pynetdicom; the list of statuses (None
    when no response came)."""
    from pynetdicom import AE

    ae = AE(ae_title=calling)
    for uid in contexts or {str(ds.SOPClassUID) for ds in datasets}:
        ae.add_requested_context(uid)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    assoc = ae.associate("127.0.0.1", port, ae_title=called, tls_args=tls_args)
    if not assoc.is_established:
        return None
    out = []
    try:
        for ds in datasets:
            st = assoc.send_c_store(ds)
            out.append(int(st.Status) if "Status" in st else None)
    finally:
        assoc.release()
    return out
