"""Real vendor RDSRs: beams from the default profile and placement hit the phantom.

"Hit" = at least one skin-cell centroid inside the beam's field pyramid
(:func:`skindose.geometry.beams_hitting`); the fraction is Σ KAP of the events whose beams hit
(rotational sub-beams weighted) over Σ KAP of the events with geometry.
"""

from __future__ import annotations

import importlib
import warnings

import pytest

from skindose.geometry import beams_for, kap_fraction_hitting

from .standin import standin_adult

WITH_GEOMETRY = [
    "pyskindose__siemens_axiom_example_procedure.dcm",
    "pyskindose__siemens_axiom_artis.dcm",
    "openrem__RF-RDSR-Siemens-Zee.dcm",
    "pyskindose__philips_allura_clarity_u601.dcm",
    "pyskindose__philips_allura_clarity_u104.dcm",
    "openrem__RF-RDSR-Philips_Allura.dcm",
]
WITHOUT_GEOMETRY = [
    "openrem__RF-RDSR-Canon-Ultimaxi-mGyDoseAtRP.dcm",
    "openrem__RF-RDSR-GE-OECEliteMiniView.dcm",
    "openrem__RF-No-kVp-and-others.dcm",
]


def _read(path):
    try:
        rdsr = importlib.import_module("skindose.rdsr")
        read = rdsr.read_rdsr
    except (ImportError, AttributeError):
        pytest.skip("skindose.rdsr.read_rdsr is not available yet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(path)


def _phantom(kind):
    if kind == "standin":
        return standin_adult()
    try:
        phantoms = importlib.import_module("skindose.phantoms")
        adult = phantoms.adult
    except (ImportError, AttributeError):
        pytest.skip("skindose.phantoms.adult is not available yet")
    return adult(height_m=1.75, mass_kg=80.0)


@pytest.fixture(scope="module", params=["adult", "standin"])
def any_phantom(request):
    return _phantom(request.param)


@pytest.mark.parametrize("name", WITH_GEOMETRY)
def test_default_beams_hit_phantom_for_95_percent_of_kap(rdsr_dir, any_phantom, name):
    proc = _read(rdsr_dir / name)
    bs = beams_for(proc, any_phantom)
    assert bs.n_beams > 0 and not bs.skipped
    frac = kap_fraction_hitting(bs, proc, any_phantom)
    assert frac >= 0.95, f"{name}: only {100 * frac:.1f}% of the KAP hits the phantom"
    assert any("vendor profile" in p for p in bs.provenance)
    assert any(p.startswith("placement") for p in bs.provenance)


@pytest.mark.parametrize("name", WITHOUT_GEOMETRY)
def test_files_without_geometry_are_reported(rdsr_dir, name):
    proc = _read(rdsr_dir / name)
    bs = beams_for(proc, standin_adult())
    assert bs.n_beams == 0
    assert [i for i, _ in bs.skipped] == list(range(proc.n_events))
    assert all(reason for _, reason in bs.skipped)
