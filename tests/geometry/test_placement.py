"""Placement: profile vs target region, and the landmark choice."""

from __future__ import annotations

import numpy as np
import pytest

from skindose.geometry import beams_for, points_inside, target_landmark
from skindose.settings import Settings
from skindose.vendors import profile_from_dict

from .helpers import event, procedure

VALIDATED = profile_from_dict({"name": "site", "validation": {"validated": True, "note": "t"}})


def test_auto_uses_validated_profile_when_isocenter_inside(phantom):
    bs = beams_for(procedure([event(table_lateral_mm=500.0)]), phantom, profile=VALIDATED)
    assert bs.placement == "profile" and bs.target_landmark is None
    np.testing.assert_allclose(bs.isocenter[0], [0, -110, -500])
    assert points_inside(phantom, bs.isocenter).all()


def test_auto_falls_back_to_target_when_isocenter_outside(phantom):
    bs = beams_for(procedure([event(table_lateral_mm=-400.0)]), phantom, profile=VALIDATED)
    assert bs.placement == "target" and bs.target_landmark == "chest"
    np.testing.assert_allclose(bs.isocenter[0], phantom.landmarks["chest"])
    assert any("only 0% of the KAP" in p for p in bs.provenance)


def test_unvalidated_profile_uses_target_and_says_so(phantom):
    evs = [event(target_region="heart", kap_gym2=3e-4),
           event(index=1, target_region="heart", kap_gym2=1e-4, table_lateral_mm=40.0)]
    bs = beams_for(procedure(evs), phantom)
    assert bs.placement == "target" and bs.target_landmark == "heart"
    mean = np.average(bs.isocenter, axis=0, weights=[3, 1])
    np.testing.assert_allclose(mean, phantom.landmarks["heart"], atol=1e-9)
    np.testing.assert_allclose(bs.isocenter[1] - bs.isocenter[0], [0, 0, -40], atol=1e-9)
    assert any("not validated" in p for p in bs.provenance)


def test_forced_profile_placement_warns_when_outside(phantom):
    bs = beams_for(procedure([event(table_lateral_mm=-400.0)]), phantom,
                   Settings(placement="profile"))
    assert bs.placement == "profile"
    assert any("inside the body for only" in w for w in bs.warnings)


def test_settings_offset_overrides_profile(phantom):
    bs = beams_for(procedure([event()]), phantom,
                   Settings(placement="profile", placement_offset_mm=(10.0, 0.0, -300.0)))
    # phantom origin shifted by the offset: the isocenter moves the opposite way in P
    np.testing.assert_allclose(bs.isocenter[0], [-10, -110, 300])
    assert any("from Settings" in p for p in bs.provenance)


@pytest.mark.parametrize(
    ("regions", "texts", "expected"),
    [
        ([("heart", 1.0)], (), "heart"),
        ([("chest", 1.0)], ("Kardiologisk 7,5 b/s",), "heart"),
        ([("chest", 1.0)], ("DL OK THORAX",), "chest"),
        ([("head", 1.0)], (), "head"),
        ([("abdomen", 2.0), ("pelvis", 1.0)], (), "abdomen"),
        ([("lower limb", 1.0)], (), "legs"),
        ([("entire body", 1.0)], ("Huvud",), "head"),
        ([("entire body", 1.0)], ("DSA Body",), "trunk"),
        ([(None, 1.0)], (), "trunk"),
    ],
)
def test_target_landmark(regions, texts, expected):
    lm, why = target_landmark(regions, texts)
    assert lm == expected and why
