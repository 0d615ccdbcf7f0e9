"""The HVL / mu_en lookups remember identical calls and return bit-identical results."""

from __future__ import annotations

import numpy as np

from skindose.physics import hvl


def test_memo_is_bit_identical_and_used():
    rng = np.random.default_rng(2)
    kvp = np.round(rng.uniform(60, 110, 40), 1)
    cu = rng.choice([0.0, 0.1, 0.3, 0.6], 40)
    hvl._MEMO.clear()
    first = hvl.hvl_mm_al(kvp, cu_mm=cu, al_mm=3.1)
    assert len(hvl._MEMO) == 1
    second = hvl.hvl_mm_al(kvp, cu_mm=cu, al_mm=3.1)
    assert len(hvl._MEMO) == 1  # no new computation
    np.testing.assert_array_equal(first, second)
    # and equal bit for bit to the computation without the memo
    pts = np.column_stack([kvp, np.full(40, 12.0), np.full(40, 3.1), cu])
    uniq = np.unique(pts, axis=0)
    direct = hvl._interpolate_uncached("hvl_mm_al", uniq)
    np.testing.assert_array_equal(hvl._interpolate("hvl_mm_al", uniq), direct)


def test_memo_result_cannot_be_corrupted_by_the_caller():
    hvl._MEMO.clear()
    a = hvl.hvl_mm_al(np.array([80.0, 90.0]), cu_mm=0.2)
    a[:] = -1.0
    b = hvl.hvl_mm_al(np.array([80.0, 90.0]), cu_mm=0.2)
    assert np.all(b > 0)


def test_memo_is_bounded():
    hvl._MEMO.clear()
    for k in range(hvl._MEMO_SIZE + 5):
        hvl.muen_ratio(50.0 + k, cu_mm=0.1)
    assert len(hvl._MEMO) <= hvl._MEMO_SIZE


def test_hvl_and_muen_at_the_same_points_share_one_computation():
    hvl._MEMO.clear()
    kvp = np.array([70.0, 81.5, 96.0])
    h = hvl.hvl_mm_al(kvp, cu_mm=0.3, al_mm=3.1)
    m = hvl.muen_ratio(kvp, cu_mm=0.3, al_mm=3.1, medium="tissue")
    assert len(hvl._MEMO) == 1
    pts = np.column_stack([kvp, np.full(3, 12.0), np.full(3, 3.1), np.full(3, 0.3)])
    np.testing.assert_array_equal(h, hvl._interpolate_uncached("hvl_mm_al", pts))
    np.testing.assert_array_equal(m, hvl._interpolate_uncached("muen_tissue_air", pts))
