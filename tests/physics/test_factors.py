"""per_event_factors: wiring of RDSR events and Settings into per-event arrays."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skindose.physics import PhysicsFactors, bsf_for, per_event_factors
from skindose.rdsr.model import Filter, IrradiationEvent
from skindose.settings import Settings


def _ev(i, kvp=80.0, cu=None, al=None, hvl=None, extra=()):
    filters = []
    if cu is not None:
        filters.append(Filter(material="Cu", thickness_min_mm=cu, thickness_max_mm=cu))
    if al is not None:
        filters.append(Filter(material="Al", thickness_min_mm=al, thickness_max_mm=al))
    filters.extend(extra)
    return IrradiationEvent(index=i, uid=f"1.2.3.{i}", kvp=kvp, filters=tuple(filters),
                            hvl_mm_al=hvl)


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return per_event_factors(*args, **kwargs)


def test_shapes_types_and_physics_md_values():
    events = [_ev(0, 80.0, cu=0.3, al=1.0), _ev(1, 60.0, cu=0.0, al=1.0), _ev(2, 120.0, cu=0.9,
                                                                             al=1.0)]
    f = _quiet(events, Settings(), field_side_cm=np.array([20.0, 10.0, 35.0]),
               table="siemens_axiom_artis")
    assert isinstance(f, PhysicsFactors) and f.n_events == 3
    for name in ("kvp", "hvl_mm_al", "bsf", "medium_factor", "table_t0", "calibration"):
        a = getattr(f, name)
        assert a.shape == (3,) and a.dtype == np.float64 and not a.flags.writeable
    # 2.5 inherent + 1.0 reported = 3.5 mm Al: docs/physics.md §5 HVLs 6.46 / 2.51 / 11.12
    np.testing.assert_allclose(f.hvl_mm_al, [6.46, 2.51, 11.12], rtol=0.005)
    # BSF check value (docs/physics.md §2.2): 80 kV, HVL 6.46, 20 cm -> 1.550
    np.testing.assert_allclose(f.bsf[0], 1.550, rtol=0.002)
    # water would be 1.036 (docs/physics.md §3); tissue is higher
    assert 1.055 < f.medium_factor[0] < 1.08
    # Siemens table: HVL of 3.5 mm Al + 0.3 Cu is above the 2.5 mm Al + 0.3 Cu row (0.732)
    assert 0.732 <= f.table_t0[0] <= 0.748
    np.testing.assert_array_equal(f.calibration, 1.0)
    assert f.bsf_evaluated and not f.table_is_estimate


def test_switches_make_factors_exactly_one():
    ev = [_ev(0, 90.0, cu=0.2)]
    s = Settings(backscatter=False, medium=None, table_attenuation=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = per_event_factors(ev, s, field_side_cm=[15.0])
    assert f.bsf[0] == 1.0 and f.medium_factor[0] == 1.0 and f.table_t0[0] == 1.0
    assert f.skin_factor[0] == 1.0 and f.warnings == ()


def test_defaults_are_recorded_in_plain_words():
    ev = [_ev(0, None), _ev(3, 70.0, cu=0.1)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the stage collects notes; it warns no more
        f = per_event_factors(ev, Settings())
    assert f.kvp[0] == 80.0
    text = " | ".join(f.warnings)
    assert "kVp not reported, 80 kV assumed (event 0)" in text
    assert "no filters reported" in text and "event 0" in text
    assert "estimate T0 = 0.75" in text
    assert f.table_is_estimate and not f.bsf_evaluated
    np.testing.assert_array_equal(f.bsf, 1.0)  # not yet evaluated


def test_bsf_later_from_field_side():
    ev = [_ev(4, 80.0, cu=0.0, al=1.0), _ev(7, 80.0, cu=0.0, al=1.0)]
    f = _quiet(ev, Settings(), table=0.8)
    g = f.with_field_side(np.array([5.0, 35.0]))
    # docs/physics.md §2.2: 80 kV HVL 3.3 -> 1.246 (5 cm), 1.419 (35 cm)
    np.testing.assert_allclose(g.bsf, [1.246, 1.419], rtol=0.002)
    np.testing.assert_allclose(bsf_for(f, [5.0, 35.0]), g.bsf)
    assert g.bsf_evaluated and f.bsf[0] == 1.0  # the original is unchanged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = f.with_field_side(50.0)
    assert any("event 4, event 7" in w and "field side" in w for w in h.warnings)


def test_reported_hvl_table_override_and_calibration():
    ev = [_ev(0, 80.0, cu=0.3, hvl=5.0), _ev(1, 100.0)]
    s = Settings(table_transmission=0.81, calibration_factor=1.1,
                 calibration_by_kvp=((70.0, 1.0), (110.0, 1.2)))
    f = _quiet(ev, s, table="siemens_axiom_artis")
    assert f.hvl_mm_al[0] == 5.0
    np.testing.assert_array_equal(f.table_t0, [0.81, 0.81])
    np.testing.assert_allclose(f.calibration, [1.1 * 1.05, 1.1 * 1.15])
    text = " | ".join(f.warnings)
    assert "reported HVL used" in text and "calibration applied" in text


def test_unknown_filter_material_is_named():
    ev = [_ev(0, 80.0, cu=0.1, extra=(Filter(material="Sn", thickness_min_mm=0.4),))]
    f = _quiet(ev, Settings(), table=0.8)
    assert any("Sn" in w and "ignored" in w for w in f.warnings)


def test_clamp_is_warned_and_recorded():
    ev = [_ev(0, 30.0, cu=2.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = per_event_factors(ev, Settings(), field_side_cm=[10.0], table=0.8)
    assert any("kVp 30 kV below the HVL grid range" in w and "event 0" in w for w in f.warnings)
    assert any("added Cu 2 mm above" in w for w in f.warnings)


def test_empty_event_list():
    f = _quiet([], Settings(), field_side_cm=np.zeros(0))
    assert f.n_events == 0 and f.bsf.shape == (0,)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.floats(20, 200)), st.floats(0, 3), st.floats(0, 3),
                  st.floats(0.5, 60)),
        min_size=1, max_size=6,
    ),
    st.sampled_from(["tissue", "water", None]),
)
def test_no_exception_for_any_kvp_in_20_200_or_cu_in_0_3(rows, medium):
    ev = [_ev(i, kv, cu=cu, al=al) for i, (kv, cu, al, _) in enumerate(rows)]
    sides = np.array([r[3] for r in rows])
    f = _quiet(ev, Settings(medium=medium), field_side_cm=sides, table="siemens_axiom_artis")
    assert np.all(np.isfinite(f.skin_factor)) and np.all(f.bsf > 1.0)
    assert np.all((f.table_t0 > 0) & (f.table_t0 <= 1))
