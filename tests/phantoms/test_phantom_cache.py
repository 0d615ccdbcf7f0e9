"""The on-disk phantom cache returns the phantom the builder returns, and never fails a run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skindose import phantoms
from skindose.phantoms import _cache, _default


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SKINDOSE_CACHE_DIR", str(tmp_path / "c"))
    return tmp_path / "c"


def _params(area=9.0):
    return {"generator": "adult", "height_m": 1.7, "mass_kg": 80.0, "cell_area_cm2": area,
            "arms": "up", "sex": "female"}


def _build(area=9.0):
    return phantoms.adult(1.7, 80.0, cell_area_cm2=area, arms="up", sex="female")


def _same(a, b):
    assert a.name == b.name and a.height_m == b.height_m and a.mass_kg == b.mass_kg
    for field in ("vertices", "faces", "triangles", "centroids", "normals", "areas_mm2"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.landmarks.keys() == b.landmarks.keys()
    for k in a.landmarks:
        np.testing.assert_array_equal(a.landmarks[k], b.landmarks[k])
    assert json.dumps(a.spec, sort_keys=True) == json.dumps(b.spec, sort_keys=True)
    assert [a.label(i) for i in range(0, a.n_cells, 97)] == \
        [b.label(i) for i in range(0, b.n_cells, 97)]


def test_cached_phantom_equals_the_built_one(cache):
    built = _build()
    first = _cache.cached_phantom(_params(), _build)  # builds and stores
    assert len(list(cache.glob("phantom-*.npz"))) == 1
    calls = []
    second = _cache.cached_phantom(_params(), lambda: calls.append(1) or _build())
    assert calls == []  # read from the file
    _same(built, first)
    _same(built, second)
    assert second.closed


def test_other_parameters_other_file(cache):
    _cache.cached_phantom(_params(9.0), lambda: _build(9.0))
    _cache.cached_phantom(_params(16.0), lambda: _build(16.0))
    assert len(list(cache.glob("phantom-*.npz"))) == 2


def test_damaged_file_is_rebuilt_and_replaced(cache):
    _cache.cached_phantom(_params(), _build)
    (f,) = cache.glob("phantom-*.npz")
    f.write_bytes(b"not an npz")
    again = _cache.cached_phantom(_params(), _build)
    _same(_build(), again)
    assert _cache._load(f) is not None  # rewritten


def test_unwritable_or_switched_off_cache_still_builds(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SKINDOSE_CACHE_DIR", str(blocker / "sub"))  # cannot be created
    _same(_build(), _cache.cached_phantom(_params(), _build))
    monkeypatch.setenv("SKINDOSE_CACHE_DIR", "off")
    assert _cache.cache_dir() is None
    _same(_build(), _cache.cached_phantom(_params(), _build))


def test_default_phantom_goes_through_the_cache(cache):
    _default._adult.cache_clear()
    try:
        ph = _default._adult(None, None, 25.0, "down", "male")
    finally:
        _default._adult.cache_clear()
    assert len(list(cache.glob("phantom-*.npz"))) == 1
    _same(phantoms.adult(cell_area_cm2=25.0), ph)
