"""read_rdsr pauses the cyclic garbage collector while it reads and leaves it as it found it."""

from __future__ import annotations

import gc

import pytest

from skindose import read_rdsr
from skindose.errors import RDSRError
from skindose.rdsr.synthetic import encode_rdsr, example_procedure


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_state_is_restored(enabled):
    data = encode_rdsr(example_procedure(n_events=3, seed=1))
    seen = []
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        read_rdsr(data, progress=lambda done, total: seen.append(gc.isenabled()))
        assert gc.isenabled() is enabled
        with pytest.raises(RDSRError):
            read_rdsr(b"not a dicom file")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen and not any(seen)  # paused while reading
