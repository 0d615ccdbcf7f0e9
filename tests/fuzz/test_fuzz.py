"""Bounded fuzz run over the real RDSRs (the long campaign is ``scripts/fuzz.py``).

Every mutation class runs on several files with fixed seeds (reproducible with
``python scripts/fuzz.py --replay FILE KIND SEED``); the invariants are those of
``tests/fuzz/mutate.py``. Targeted mutants pin down each class of finding that the random run
can hit; those that the reader or compute do not yet handle are strict xfails naming the
issue-11 item that fixes them (an XPASS means: fixed, remove the mark).
"""

from __future__ import annotations

import io
import warnings
from collections import Counter

import pydicom
import pytest

from tests.conftest import real_rdsr_files
from tests.fuzz import mutate

PER_CLASS = 5  # mutants per class in the quick run (11 classes: ~55 mutants, ~30 s)
BASE_SEED = 20_261_201


@pytest.fixture(scope="module")
def setup(rdsr_dir):
    files = {p.name: p.read_bytes() for p in real_rdsr_files()}
    return files, mutate.coarse_phantom(), mutate.fuzz_settings()


@pytest.fixture(scope="module")
def outcomes(setup, rdsr_dir):
    files, phantom, settings = setup
    names = sorted(files)
    out = []
    for k, kind in enumerate(mutate.CLASSES):
        for j in range(PER_CLASS):
            name = names[(k + j * 2) % len(names)]
            seed = BASE_SEED + 100 * k + j
            out.append(mutate.run_mutant(rdsr_dir / name, files[name], kind, seed, phantom,
                                         settings, timeout_s=30.0))
    return out


def _failing(outcomes, prefix: str):
    return [(o.file, o.kind, o.seed, o.detail, o.messages) for o in outcomes
            if any(f.startswith(prefix) for f in o.failures)]


def test_every_class_ran(outcomes):
    kinds = Counter(o.kind for o in outcomes)
    assert set(kinds) == set(mutate.CLASSES)
    assert all(not any(m.startswith("mutator failed") for m in o.messages) for o in outcomes)
    # the mutants are not all refused at the door: most of them reach compute
    assert sum(o.computed for o in outcomes) > len(outcomes) // 2


def test_only_skindose_errors_escape(outcomes):
    assert _failing(outcomes, "exception:") == []


def test_no_mutant_hangs(outcomes):
    assert _failing(outcomes, "hang") == []


def test_results_are_finite(outcomes):
    assert _failing(outcomes, "non-finite") == []


def test_results_are_not_negative(outcomes):
    assert _failing(outcomes, "negative") == []


def test_no_event_lost_without_a_note(outcomes):
    assert _failing(outcomes, "event-lost") == []


def test_truncation_is_never_silent(outcomes):
    assert _failing(outcomes, "truncation-silent") == []


# --- targeted mutants (the findings of the issue, each made deterministically) ---------------


def _dataset(files, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(files[name]))


def _events(ds):
    return [it for _, it, _, _ in mutate._items(ds) if mutate._code(it) == mutate.EVENT_CODE]


def _set_num(ev, code: str, value: str) -> bool:
    for _, it, _, _ in mutate._items(ev):
        if mutate._code(it) == code and it.get("MeasuredValueSequence"):
            it.MeasuredValueSequence[0].NumericValue = value
            return True
    return False


def _read_and_compute(setup, ds):
    from skindose import compute, read_rdsr

    _, phantom, settings = setup
    proc = read_rdsr(ds)
    return proc, compute(proc, phantom, settings=settings)


SIEMENS = "pyskindose__siemens_axiom_artis.dcm"
DOSE_RP = "113738"


def test_the_mutators_find_the_events(setup):
    files, _, _ = setup
    from skindose import read_rdsr

    for name, data in files.items():
        ds = _dataset(files, name)
        assert len(_events(ds)) == read_rdsr(data).n_events == data.count(b"113706"), name


def test_negative_dose_rp_never_gives_a_negative_number(setup):
    files, _, _ = setup
    ds = _dataset(files, SIEMENS)
    assert _set_num(_events(ds)[0], DOSE_RP, "-1")
    _, result = _read_and_compute(setup, ds)
    assert mutate.check_result(result) == []


@pytest.mark.parametrize("value", [
    "1e308",
    "1e20"])
def test_huge_dose_rp_never_gives_inf(setup, value):
    files, _, _ = setup
    ds = _dataset(files, SIEMENS)
    assert _set_num(_events(ds)[0], DOSE_RP, value)
    _, result = _read_and_compute(setup, ds)
    assert [c for c, _ in mutate.check_result(result) if c == "non-finite"] == []


def test_an_event_with_a_damaged_concept_name_is_named(setup):
    files, _, _ = setup
    ds = _dataset(files, SIEMENS)
    n = len(_events(ds))
    del _events(ds)[3].ConceptNameCodeSequence
    from skindose import read_rdsr

    proc = read_rdsr(ds)
    assert proc.n_events + mutate._named_events(proc) >= n


def test_a_file_cut_in_half_gets_a_critical_note(setup):
    files, _, _ = setup
    from skindose import read_rdsr
    from skindose.errors import SkinDoseError

    data = files[SIEMENS]
    try:
        proc = read_rdsr(data[: len(data) // 2])
    except SkinDoseError:
        return  # refused outright: not silent either
    assert any(getattr(n.severity, "value", "") == "critical"
               for n in getattr(proc, "notes", ()) or ())
