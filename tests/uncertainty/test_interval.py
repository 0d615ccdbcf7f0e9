"""skindose.uncertainty: the interval is a property of the inputs.

Oracles: the stated uncertainty itself (one input on → the interval's relative half-width is
that input's 95 % half-width), the product rule for independent multiplicative inputs, exact
inputs → a zero-width interval equal to compute()'s PSD, and the table share at normal
incidence (a PA beam crosses the table, an AP beam does not).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from skindose import phantoms, uncertainty
from skindose.compute import compute
from skindose.errors import ConfigurationError
from skindose.rdsr.model import EventType, IrradiationEvent
from skindose.rdsr.model import PatientOrientation as PO
from skindose.rdsr.synthetic import example_procedure
from skindose.settings import Settings

#: every input exact: no correction, no placement uncertainty, calibration exact
EXACT = Settings(backscatter=False, medium=None, table_attenuation=False, placement="target",
                 calibration_uncertainty=0.0, placement_uncertainty_mm=(0.0, 0.0, 0.0),
                 uncertainty_factor_samples=2000)


def event(a: float = 0.0, **kw) -> IrradiationEvent:
    base = dict(
        index=0, uid="1.2.3.1", event_type=EventType.FLUOROSCOPY, target_region="chest",
        kerma_rp_gy=0.01, kap_gym2=1e-5, kvp=80.0, primary_angle_deg=a, secondary_angle_deg=0.0,
        sod_mm=785.0, sid_mm=1100.0, srp_mm=635.0, field_width_mm=183.3,
        field_height_mm=141.7, table_longitudinal_mm=0.0, table_lateral_mm=0.0,
        table_height_mm=0.0, patient_orientation=PO.HFS,
    )
    base.update(kw)
    return IrradiationEvent(**base)


def procedure(events):
    base = example_procedure(n_events=1, seed=0)
    return dataclasses.replace(base, events=tuple(events), accumulated=())


@pytest.fixture(scope="module")
def slab():
    return phantoms.plane(cell_area_cm2=4.0)


@pytest.fixture(scope="module")
def coarse_adult():
    return phantoms.adult(cell_area_cm2=16.0)


def test_exact_inputs_give_a_zero_width_interval_at_the_point_psd(slab):
    p = procedure([event()])
    iv = uncertainty.psd_interval(p, slab, EXACT)
    psd = compute(p, slab, EXACT).psd_gy
    assert psd > 0
    assert iv.low_gy == iv.median_gy == iv.high_gy == iv.psd_gy == psd
    assert iv.n_geometry == 0 and iv.variance_share == {} and not iv.widened


@pytest.mark.parametrize("u", [0.35, 0.10])
def test_only_calibration_uncertainty_gives_its_own_relative_width(slab, u):
    p = procedure([event()])
    iv = uncertainty.psd_interval(p, slab, EXACT.replace(calibration_uncertainty=u))
    assert iv.relative_half_width == pytest.approx(u, abs=0.01)
    assert iv.median_gy == pytest.approx(iv.psd_gy, rel=0.01)
    assert iv.variance_share == {"kerma_display": pytest.approx(1.0)}


def test_default_budget_uncalibrated_and_calibrated(slab):
    p = procedure([event()])
    s = Settings(table_attenuation=False, placement="target",
                 placement_uncertainty_mm=(0.0, 0.0, 0.0))
    # independent multiplicative normals: 95 % half-widths add in quadrature (first order)
    for cal, u_k in ((1.0, 0.35), (1.08, 0.10)):
        iv = uncertainty.psd_interval(p, slab, s.replace(calibration_factor=cal))
        expect = math.sqrt(u_k**2 + 0.05**2 + 0.03**2)
        assert iv.relative_half_width == pytest.approx(expect, abs=0.012)
        assert iv.dominant_input == "kerma_display"
        got = {i.name: i.half_width for i in iv.inputs}
        assert got["kerma_display"] == u_k and got["bsf"] == 0.05 and got["mu_en"] == 0.03
        assert all(i.source for i in iv.inputs)


def test_table_uncertainty_acts_only_on_dose_through_the_table(slab):
    # only the table uncertain; Settings.table_transmission given = measured (±5 %)
    s = EXACT.replace(table_attenuation=True, table_transmission=0.75)
    pa = uncertainty.psd_interval(procedure([event(0.0)]), slab, s)  # source under the table
    ap = uncertainty.psd_interval(procedure([event(180.0)]), slab, s)  # source above
    assert pa.relative_half_width == pytest.approx(0.05, abs=0.005)
    assert ap.relative_half_width == 0.0 and ap.low_gy == ap.high_gy == ap.psd_gy
    assert pa.n_computes == 2  # nominal + table off


def test_interval_contains_point_psd_and_is_reproducible(coarse_adult):
    p = example_procedure(n_events=12, seed=4)
    s = Settings(cell_area_cm2=16.0)
    a = uncertainty.psd_interval(p, coarse_adult, s, n=3, seed=1, factor_samples=500)
    b = uncertainty.psd_interval(p, coarse_adult, s, n=3, seed=1, factor_samples=500)
    assert a.low_gy <= a.psd_gy <= a.high_gy
    assert (a.low_gy, a.median_gy, a.high_gy) == (b.low_gy, b.median_gy, b.high_gy)
    assert a.n_geometry == 3 and a.n_computes == 1 + 1 + 3
    assert a.location_spread_cm > 0
    assert sum(a.variance_share.values()) == pytest.approx(1.0)
    d = json.loads(json.dumps(a.to_dict()))
    assert d["headline"].startswith("PSD ") and "95 % interval" in d["headline"]
    assert np.all(np.isfinite(a.samples_gy)) and np.all(a.samples_gy >= 0)


def test_placement_alone_moves_the_psd_location(coarse_adult):
    # 1 PA beam centred on the chest: a head-foot shift moves the PSD along z
    p = procedure([event()])
    s = EXACT.replace(placement_uncertainty_mm=(0.0, 80.0, 0.0))
    iv = uncertainty.psd_interval(p, coarse_adult, s, n=4)
    assert iv.location_spread_cm > 1.0
    assert set(iv.variance_share) <= {"placement_head_foot", "geometry_residual", "geometry"}


def test_size_sampled_only_for_a_default_phantom_without_size():
    p = example_procedure(n_events=2, seed=2)
    pat = dataclasses.replace(p.patient, height_m=None, mass_kg=None)
    p = dataclasses.replace(p, patient=pat)
    s = EXACT.replace(cell_area_cm2=36.0)
    iv = uncertainty.psd_interval(p, None, s, n=2, factor_samples=200)
    names = {i.name: i.half_width for i in iv.inputs}
    assert names["height"] == 0.08 and names["mass"] == 0.35
    iv2 = uncertainty.psd_interval(p, phantoms.adult(cell_area_cm2=36.0), s, n=2,
                                   factor_samples=200)
    assert {i.name: i.half_width for i in iv2.inputs}["mass"] == 0.0
    assert iv2.n_geometry == 0  # nothing geometric is uncertain


def test_reference_point_estimate_uses_the_multiplicative_inputs(slab):
    p = procedure([event(primary_angle_deg=None, secondary_angle_deg=None)])
    s = EXACT.replace(calibration_uncertainty=0.2)
    iv = uncertainty.psd_interval(p, slab, s)
    assert iv.psd_gy > 0 and iv.relative_half_width == pytest.approx(0.2, abs=0.01)


def test_settings_validation():
    for bad in (dict(uncertainty_samples=-1), dict(uncertainty_factor_samples=10),
                dict(calibration_uncertainty=1.5), dict(placement_uncertainty_mm=(1.0, 2.0)),
                dict(uncertainty="yes"), dict(uncertainty_seed=1.5)):
        with pytest.raises(ConfigurationError):
            Settings(**bad)
    with pytest.raises(ConfigurationError):
        uncertainty.psd_interval(procedure([event()]), None, EXACT, n=-2)
