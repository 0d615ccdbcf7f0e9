"""Vendor profiles: shipped data, matching, user overrides."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest

from skindose.errors import ConfigurationError
from skindose.settings import Settings
from skindose.vendors import load_profiles, profile_for, profile_from_dict

NAMES = {"siemens_axiom_artis", "philips_allura", "philips_azurion", "canon_infinix",
         "ge_innova", "ge_oec", "generic"}


def _proc(manufacturer, model):
    return SimpleNamespace(device=SimpleNamespace(manufacturer=manufacturer, model=model))


def test_shipped_profiles_load_and_are_honest():
    profiles = load_profiles()
    assert set(profiles) == NAMES
    for p in profiles.values():
        assert p.validation_note.strip()
        assert p.angle_basis in ("patient", "equipment")
        assert isinstance(p.validated, bool)
    assert not profiles["ge_oec"].has_geometry
    assert profiles["philips_allura"].vertical_reference == "floor_minus_height_of_system"
    assert profiles["philips_azurion"].head_foot_field == "table_longitudinal_mm"
    assert profiles["siemens_axiom_artis"].head_foot_field == "table_lateral_mm"
    assert profiles["siemens_axiom_artis"].table_transmission == "siemens_axiom_artis"


@pytest.mark.parametrize(
    ("manufacturer", "model", "expected"),
    [
        # the strings of the shared real files (docs/rdsr.md §7)
        ("Siemens", "AXIOM-Artis", "siemens_axiom_artis"),
        ("Philips", "Allura Clarity", "philips_allura"),
        ("Philips Medical Systems", "Allura Xper", "philips_allura"),  # observer-context model
        ("Philips Medical Systems", "", "philips_allura"),  # header model absent
        ("Philips Medical Systems", "Veradius Unity", "generic"),
        ("CANON_MEC", "Platinum43", "generic"),
        ("GE Hualun Medical Systems, Co. Ltd", "OEC Elite MiniView", "ge_oec"),
        # other family members
        ("Philips Medical Systems", "Azurion 7 M20", "philips_azurion"),
        ("TOSHIBA_MEC", "INFX-8000V", "canon_infinix"),
        ("CANON_MEC", "Alphenix Sky+", "canon_infinix"),
        ("GE Healthcare", "Innova 4100", "ge_innova"),
        ("GE OEC Medical Systems", "OEC 9900 Elite", "ge_oec"),
        ("GE Healthcare Surgery", "OEC Elite CFD", "ge_oec"),
        ("Acme", "X1", "generic"),
    ],
)
def test_matching(manufacturer, model, expected):
    prof, reason = profile_for(_proc(manufacturer, model))
    assert prof.name == expected
    assert repr(manufacturer) in reason
    if expected == "generic":
        assert "no vendor profile matches" in reason


def test_user_override(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('[validation]\nvalidated = true\nnote = "site measurement 2025"\n'
                 '[table]\nhead_foot_sign = -1\nmattress_thickness_mm = 74\n', encoding="utf-8")
    prof, reason = profile_for(_proc("Siemens", "AXIOM-Artis"),
                               Settings(vendor_profile_file=str(f)))
    assert prof.name == "siemens_axiom_artis"
    assert prof.validated and prof.validation_note == "site measurement 2025"
    assert prof.head_foot_sign == -1 and prof.mattress_thickness_mm == 74
    assert prof.head_foot_field == "table_lateral_mm"  # untouched keys kept
    assert "overridden" in reason and str(f) in prof.source


def test_user_override_forces_profile(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('use = "philips_allura"\n', encoding="utf-8")
    prof, reason = profile_for(_proc("Philips", "Azurion 7"), Settings(vendor_profile_file=str(f)))
    assert prof.name == "philips_allura" and "forced" in reason


@pytest.mark.parametrize(
    "text",
    ['use = "nope"\n', '[table]\nhead_foot_sign = 2\n', '[table]\nvertical_reference = "x"\n',
     '[table]\nhead_foot = "table_foo_mm"\n', '[angles]\nbasis = "room"\n', "not toml ["],
)
def test_bad_override_is_a_configuration_error(tmp_path, text):
    f = tmp_path / "bad.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError):
        profile_for(_proc("Siemens", "AXIOM-Artis"), Settings(vendor_profile_file=str(f)))


def test_profile_needs_a_name():
    with pytest.raises(ConfigurationError, match="name"):
        profile_from_dict({})


def test_real_files_match(rdsr_dir):
    from skindose import read_rdsr

    expected = {
        "pyskindose__siemens_axiom_example_procedure.dcm": "siemens_axiom_artis",
        "pyskindose__siemens_axiom_artis.dcm": "siemens_axiom_artis",
        "openrem__RF-RDSR-Siemens-Zee.dcm": "siemens_axiom_artis",
        "pyskindose__philips_allura_clarity_u601.dcm": "philips_allura",
        "pyskindose__philips_allura_clarity_u104.dcm": "philips_allura",
        "openrem__RF-RDSR-Philips_Allura.dcm": "philips_allura",
        "openrem__RF-RDSR-Canon-Ultimaxi-mGyDoseAtRP.dcm": "generic",
        "openrem__RF-RDSR-GE-OECEliteMiniView.dcm": "ge_oec",
        "openrem__RF-No-kVp-and-others.dcm": "generic",
    }
    for name, prof_name in expected.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proc = read_rdsr(rdsr_dir / name)
        assert profile_for(proc)[0].name == prof_name, name
