"""HVL grid against SpekPy values published in docs/physics.md, and properties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skindose.errors import ExtrapolationWarning
from skindose.physics import grid_range, hvl_mm_al

# docs/physics.md §5: first HVL (mm Al), SpekPy 2.5.4, anode 12°, 3.5 mm Al + added Cu.
CU = [0.0, 0.1, 0.3, 0.6, 0.9]
SPEKPY_HVL = {
    60: [2.51, 3.58, 4.84, 5.85, 6.45],
    80: [3.30, 4.75, 6.46, 7.81, 8.59],
    100: [4.14, 5.86, 7.78, 9.22, 10.04],
    120: [4.98, 6.84, 8.81, 10.27, 11.12],
}


@pytest.mark.parametrize("kvp", sorted(SPEKPY_HVL))
def test_grid_matches_physics_md_spekpy_values_within_2_percent(kvp):
    got = hvl_mm_al(kvp, cu_mm=np.array(CU), al_mm=3.5, anode_deg=12.0)
    np.testing.assert_allclose(got, SPEKPY_HVL[kvp], rtol=0.02)
    # 3.5 mm Al is off the grid's Al nodes only in name (it is a node); values agree to rounding
    np.testing.assert_allclose(got, SPEKPY_HVL[kvp], atol=0.011)


@pytest.mark.parametrize(
    ("kvp", "cu", "expected"),
    # docs/physics.md §5 cross-check, SpekPy 12° anode with 3.1 mm Al (an off-node Al value)
    [(80, 0.0, 3.08), (80, 0.3, 6.39), (100, 0.9, 10.02), (60, 0.1, 3.48)],
)
def test_off_node_aluminium_against_spekpy(kvp, cu, expected):
    np.testing.assert_allclose(hvl_mm_al(kvp, cu_mm=cu, al_mm=3.1), expected, rtol=0.02)


@pytest.mark.parametrize(
    ("kvp", "al", "cu", "s1"),
    # docs/physics.md Table A0 (Benmakhlouf 2011 beam qualities, their own spectra): within ~3 %
    [(50, 2.5, 0.0, 1.78), (80, 3.1, 0.0, 3.12), (100, 4.1, 0.2, 7.23), (150, 3.1, 0.9, 12.48)],
)
def test_agrees_with_benmakhlouf_beam_qualities(kvp, al, cu, s1):
    np.testing.assert_allclose(hvl_mm_al(kvp, cu_mm=cu, al_mm=al), s1, rtol=0.03)


def test_against_spekpy_directly_off_grid():
    sp = pytest.importorskip("spekpy")
    for kvp, cu, al, th in [(73.0, 0.17, 3.3, 11.0), (118.0, 0.55, 4.7, 9.0)]:
        ref = sp.Spek(kvp=kvp, th=th).multi_filter((("Al", al), ("Cu", cu))).get_hvl1()
        np.testing.assert_allclose(hvl_mm_al(kvp, cu, al, th), ref, rtol=0.005)


def test_grid_range_covers_the_issue_ranges():
    r = grid_range()
    assert r["kvp_kv"] == (40.0, 150.0)
    assert r["cu_mm"] == (0.0, 1.2)
    assert r["al_mm"] == (2.5, 6.0)
    assert r["anode_deg"][0] <= 8.0 and r["anode_deg"][1] >= 16.0


def test_vectorised_and_scalar():
    out = hvl_mm_al(np.array([[60.0], [80.0]]), cu_mm=np.array([0.0, 0.3, 0.6]))
    assert out.shape == (2, 3) and out.dtype == np.float64
    assert np.ndim(hvl_mm_al(80.0)) == 0


def test_clamps_and_warns():
    with pytest.warns(ExtrapolationWarning, match=r"kVp 200 kV above the HVL grid range"):
        hi = hvl_mm_al(200.0, 0.3, 3.5)
    assert hi == hvl_mm_al(150.0, 0.3, 3.5)
    with pytest.warns(ExtrapolationWarning, match="added Cu"):
        hvl_mm_al(80.0, 3.0, 3.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hvl_mm_al(80.0, 0.3, 3.5)  # in range: silent


@settings(max_examples=100, deadline=None)
@given(st.floats(40, 150), st.floats(40, 150), st.floats(0, 1.2), st.floats(2.5, 6.0))
def test_hvl_increases_with_kvp(k1, k2, cu, al):
    lo, hi = sorted((k1, k2))
    a, b = hvl_mm_al(np.array([lo, hi]), cu, al)
    assert b >= a - 1e-9


@settings(max_examples=100, deadline=None)
@given(st.floats(40, 150), st.floats(0, 1.2), st.floats(0, 1.2), st.floats(2.5, 6.0))
def test_hvl_increases_with_copper(kvp, c1, c2, al):
    lo, hi = sorted((c1, c2))
    a, b = hvl_mm_al(kvp, np.array([lo, hi]), al)
    assert b >= a - 1e-9


@settings(max_examples=100, deadline=None)
@given(st.floats(20, 200), st.floats(0, 3), st.floats(0, 10), st.floats(0, 25))
def test_no_exception_for_any_kvp_or_filtration(kvp, cu, al, anode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        h = hvl_mm_al(kvp, cu, al, anode)
    assert 1.0 < h < 15.0


def test_fast_path_equals_the_tensor_product_interpolant():
    """The per-filtration 1-D route must reproduce scipy's 4-D PCHIP to rounding."""
    import numpy as np
    from scipy.interpolate import RegularGridInterpolator

    from skindose.physics.hvl import _grid, _interpolate

    rng = np.random.default_rng(3)
    n = 400
    pts = np.column_stack([rng.uniform(40, 150, n), rng.choice([10.0, 12.0, 13.3], n),
                           rng.choice([2.5, 3.1, 4.2], n), rng.choice([0.0, 0.1, 0.35], n)])
    for column in ("hvl_mm_al", "muen_tissue_air", "muen_water_air"):
        fast = _interpolate(column, pts)
        axes, values = _grid()
        slow = RegularGridInterpolator(axes, values[column], method="pchip")(pts)
        assert np.max(np.abs(fast / slow - 1.0)) < 1e-12
