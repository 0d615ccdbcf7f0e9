"""Bad input: every failure is an RDSRError naming the file and the reason, or a warning."""

from __future__ import annotations

import io
import pickle
import random
import warnings

import pydicom
import pytest
from pydicom.dataset import Dataset

from skindose import RDSRError, SkinDoseError
from skindose.rdsr import read_rdsr
from skindose.rdsr.synthetic import build_rdsr, example_procedure, write_rdsr
from tests.conftest import real_rdsr_files


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    return write_rdsr(example_procedure(6, seed=1), tmp_path_factory.mktemp("rdsr") / "ok.dcm")


def test_accepts_path_bytes_fileobj_and_dataset(good_file):
    data = good_file.read_bytes()
    for src in (good_file, str(good_file), data, io.BytesIO(data), pydicom.dcmread(good_file)):
        assert read_rdsr(src).n_events == 6


def test_not_dicom(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("this is not a DICOM file\n" * 20)
    with pytest.raises(RDSRError, match="not a DICOM file") as exc:
        read_rdsr(p)
    assert str(p) in str(exc.value)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, SkinDoseError)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(RDSRError, match="not found"):
        read_rdsr(tmp_path / "nope.dcm")
    with pytest.raises(RDSRError, match="directory"):
        read_rdsr(tmp_path)
    with pytest.raises(RDSRError, match="cannot read an RDSR from a int"):
        read_rdsr(42)


@pytest.mark.parametrize("keep", [0, 132, 200, 600, 2000])
def test_truncated_file(good_file, tmp_path, keep):
    p = tmp_path / "cut.dcm"
    p.write_bytes(good_file.read_bytes()[:keep])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RDSRError) as exc:
            read_rdsr(p)
    assert str(p) in str(exc.value)


def test_ct_dose_sr_gets_its_own_message():
    ds = build_rdsr(example_procedure(2, seed=1))
    ds.ContentTemplateSequence[0].TemplateIdentifier = "10011"
    with pytest.raises(RDSRError, match="CT Radiation Dose SR"):
        read_rdsr(ds)


def test_ct_dose_sr_recognised_by_content():
    ds = build_rdsr(example_procedure(2, seed=1))
    del ds.ContentTemplateSequence
    item = ds.ContentSequence[0]  # Procedure reported
    item.ConceptCodeSequence[0].CodeValue = "77477000"
    item.ConceptCodeSequence[0].CodingSchemeDesignator = "SCT"
    with pytest.raises(RDSRError, match="CT Radiation Dose SR"):
        read_rdsr(ds)


@pytest.mark.parametrize(
    ("uid", "words"),
    [
        ("1.2.840.10008.5.1.4.1.1.88.73", "Patient Radiation Dose SR"),
        ("1.2.840.10008.5.1.4.1.1.88.68", "Radiopharmaceutical"),
        ("1.2.840.10008.5.1.4.1.1.88.22", "Radiation Summary Report"),
        ("1.2.840.10008.5.1.4.1.1.2", "not an X-Ray Radiation Dose SR"),
    ],
)
def test_wrong_sop_class(uid, words):
    ds = build_rdsr(example_procedure(2, seed=1))
    ds.SOPClassUID = uid
    with pytest.raises(RDSRError, match=words):
        read_rdsr(ds)


def test_no_events_and_no_content():
    ds = build_rdsr(example_procedure(2, seed=1))
    ds.ContentSequence = [it for it in ds.ContentSequence
                          if it.ConceptNameCodeSequence[0].CodeValue != "113706"]
    with pytest.raises(RDSRError, match="no Irradiation Event"):
        read_rdsr(ds)
    del ds.ContentSequence
    with pytest.raises(RDSRError, match="no content tree"):
        read_rdsr(ds)
    empty = Dataset()
    with pytest.raises(RDSRError, match="SOP Class UID"):
        read_rdsr(empty)


def test_unknown_unit_is_a_warning_not_a_wrong_number():
    ds = build_rdsr(example_procedure(2, seed=1))
    ev = next(it for it in ds.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue
              == "113706")
    dose = next(it for it in ev.ContentSequence if it.ConceptNameCodeSequence[0].CodeValue
                == "113738")
    dose.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue = "furlong"
    proc = read_rdsr(ds)
    first = proc.events[0]
    assert first.kerma_rp_gy is not None  # recovered from DAP / field area at the RP...
    assert "kerma_rp_gy" in first.assumed  # ...and flagged as derived
    assert any("furlong" in w for w in proc.warnings)


# --- mutation tests on the real files -------------------------------------------------------


def _all_items(ds):
    out = []

    def walk(seq, parent):
        for i, it in enumerate(seq):
            out.append((parent, i, it))
            if "ContentSequence" in it:
                walk(it.ContentSequence, it)

    walk(ds.ContentSequence, ds)
    return out


def _mutate(ds: Dataset, rng: random.Random) -> None:
    items = _all_items(ds)
    for _ in range(rng.randint(1, 6)):
        parent, i, it = rng.choice(items)
        op = rng.randrange(7)
        if op == 0 and i < len(parent.ContentSequence):
            del parent.ContentSequence[i]
            items = _all_items(ds)
        elif op == 1 and "MeasuredValueSequence" in it and len(it.MeasuredValueSequence):
            it.MeasuredValueSequence[0].NumericValue = rng.choice(
                ["nan", "-1e30", "1e308", "0", "-5", "12.5"])
        elif op == 2 and "MeasuredValueSequence" in it:
            it.MeasuredValueSequence = []
        elif op == 3 and "ConceptNameCodeSequence" in it:
            it.ConceptNameCodeSequence[0].CodeValue = rng.choice(["", "999999", "113706"])
        elif op == 4 and "ConceptCodeSequence" in it:
            it.ConceptCodeSequence[0].CodeValue = rng.choice(["", "XYZ", "113621"])
        elif op == 5 and "MeasuredValueSequence" in it and len(it.MeasuredValueSequence):
            mv = it.MeasuredValueSequence[0]
            if "MeasurementUnitsCodeSequence" in mv:
                mv.MeasurementUnitsCodeSequence[0].CodeValue = rng.choice(["", "furlong", "cm"])
        elif op == 6 and "TextValue" in it:
            it.TextValue = rng.choice(["", "<Root><PatientPosition><Position SRData='", "x" * 500])


FILES = [p.name for p in real_rdsr_files()] or ["<shared data missing>"]
N_MUTANTS = 12


@pytest.mark.parametrize("name", FILES)
def test_mutated_real_files_raise_rdsrerror_or_warn(rdsr_dir, name):
    original = pydicom.dcmread(rdsr_dir / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_rdsr(original)  # converts pydicom's raw elements once, so the copies are cheap
    frozen = pickle.dumps(original)  # unpickling is ~4x faster than copy.deepcopy here
    rng = random.Random(sum(map(ord, name)))
    outcomes = {"ok": 0, "RDSRError": 0}
    for _ in range(N_MUTANTS):
        ds = pickle.loads(frozen)
        _mutate(ds, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                proc = read_rdsr(ds)
            except RDSRError as exc:
                assert name in str(exc) or "<dataset>" in str(exc) or str(exc)
                outcomes["RDSRError"] += 1
                continue
        # a returned procedure never carries a non-finite or negative dose
        for ev in proc.events:
            for v in (ev.kerma_rp_gy, ev.kap_gym2):
                assert v is None or (v == v and v < float("inf"))
            assert ev.kerma_rp_gy is None or ev.kerma_rp_gy >= 0 or ev.unusable
        outcomes["ok"] += 1
    assert sum(outcomes.values()) == N_MUTANTS


@pytest.mark.parametrize("name", FILES)
def test_truncated_real_files(rdsr_dir, name, tmp_path):
    data = (rdsr_dir / name).read_bytes()
    for frac in (0.05, 0.3, 0.6, 0.95):
        p = tmp_path / f"cut{frac}.dcm"
        p.write_bytes(data[: int(len(data) * frac)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                read_rdsr(p)
            except RDSRError as exc:
                assert str(p) in str(exc)
