"""The Patient Radiation Dose SR read back with pydicom (by code value) and checked by DCMTK's
dsrdump and dicom3tools' dciodvfy."""

from __future__ import annotations

import subprocess

import pydicom
import pytest

from tests.conftest import real_rdsr_files
from tests.dicom_out.conftest import SKIPPED, event_uids_in_file, tool

PRDSR = "1.2.840.10008.5.1.4.1.1.88.73"


def _find(node, value, scheme="DCM"):
    """Every content item below ``node`` whose concept name is (value, scheme)."""
    out = []
    for it in node.get("ContentSequence", []) or []:
        c = it.ConceptNameCodeSequence[0]
        if c.CodeValue == value and c.CodingSchemeDesignator == scheme:
            out.append(it)
        out.extend(_find(it, value, scheme))
    return out


def _sr(case):
    return pydicom.dcmread(case[3][-1])


def _sc(case):
    return pydicom.dcmread(case[3][0])


def test_sop_class_root_concept_and_template(skipped_case):
    sr = _sr(skipped_case)
    assert sr.SOPClassUID == PRDSR
    assert sr.file_meta.MediaStorageSOPClassUID == PRDSR
    root = sr.ConceptNameCodeSequence[0]
    assert (root.CodeValue, root.CodingSchemeDesignator) == ("128401", "DCM")
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "10030"
    assert sr.ContentTemplateSequence[0].MappingResource == "DCMR"
    assert sr.Modality == "SR"
    assert sr.SOPInstanceUID.startswith("2.25.")


def test_psd_is_the_maximum_absorbed_dose_to_skin_exactly(skipped_case):
    result = skipped_case[2]
    sr = _sr(skipped_case)
    (rep,) = _find(sr, "128412")  # Radiation Dose Estimate Representation
    (target,) = _find(rep, "123014")
    assert target.ConceptCodeSequence[0].CodeValue == "39937001"  # SCT Skin
    (num,) = _find(rep, "128531")  # Maximum Absorbed Radiation Dose
    mv = num.MeasuredValueSequence[0]
    assert mv.MeasurementUnitsCodeSequence[0].CodeValue == "Gy"
    exact = float(mv.FloatingPointValue) if "FloatingPointValue" in mv else float(
        mv.NumericValue)
    assert exact == result.psd_gy  # bit for bit
    assert len(str(mv.NumericValue)) <= 16  # DS limit
    assert float(mv.NumericValue) == pytest.approx(result.psd_gy, rel=1e-12)


def test_sr_instance_used_references_the_source(skipped_case):
    src = pydicom.dcmread(skipped_case[0])
    sr = _sr(skipped_case)
    (used,) = _find(sr, "128416")
    ref = used.ReferencedSOPSequence[0]
    assert ref.ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert ref.ReferencedSOPClassUID == src.SOPClassUID
    # and the evidence sequence lists it under its own study and series
    ev = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert ev.StudyInstanceUID == src.StudyInstanceUID
    series = {s.SeriesInstanceUID: s for s in ev.ReferencedSeriesSequence}
    assert src.SOPInstanceUID in {r.ReferencedSOPInstanceUID
                                  for r in series[src.SeriesInstanceUID].ReferencedSOPSequence}


def test_event_uid_used_lists_exactly_the_mapped_events(skipped_case):
    src_path, _, result, _ = skipped_case
    assert sorted(e.index for e in result.events if e.skipped) == list(SKIPPED)
    in_file = event_uids_in_file(src_path)
    expected = [u for i, u in enumerate(in_file) if i not in SKIPPED]
    (used,) = _find(_sr(skipped_case), "128416")
    listed = [it.UID for it in used.ContentSequence
              if it.ConceptNameCodeSequence[0].CodeValue == "128429"]
    assert all(it.RelationshipType == "HAS PROPERTIES" for it in used.ContentSequence)
    assert listed == expected


def test_no_event_uid_used_when_all_events_were_used(full_case):
    (used,) = _find(_sr(full_case), "128416")
    assert "ContentSequence" not in used  # TID 10033 row 4: IFF some events were not used


def test_patient_and_study_identity_are_the_sources(skipped_case):
    src = pydicom.dcmread(skipped_case[0])
    for ds in (_sr(skipped_case), _sc(skipped_case)):
        assert ds.PatientID == src.PatientID
        assert str(ds.PatientName) == str(src.PatientName)
        assert ds.StudyInstanceUID == src.StudyInstanceUID
        assert ds.PatientSex == src.PatientSex
        assert ds.StudyID == src.StudyID
        assert ds.AccessionNumber == src.AccessionNumber
        assert ds.StudyDate == src.StudyDate
        assert ds.SeriesInstanceUID != src.SeriesInstanceUID


def test_image_is_referenced_and_is_rgb(skipped_case):
    sr, sc = _sr(skipped_case), _sc(skipped_case)
    (img,) = [it for it in _find(sr, "128414") if it.ValueType == "IMAGE"]
    assert img.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == sc.SOPInstanceUID
    assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert sc.SeriesInstanceUID != sr.SeriesInstanceUID  # SR and OT live in their own series
    px = sc.pixel_array
    assert px.shape == (sc.Rows, sc.Columns, 3)
    assert px.min() < 50 < 200 < px.max()  # a drawing, not a blank frame
    assert "dose_views" in sc.ImageComments and "unrolled" in sc.ImageComments


def test_patient_model_and_transport_codes(skipped_case):
    sr = _sr(skipped_case)
    (pm,) = _find(sr, "128417")
    assert pm.ConceptCodeSequence[0].CodeValue == "128418"  # cylinder: Simple Object Model
    (tm,) = _find(sr, "128420")
    assert tm.ConceptCodeSequence[0].CodeValue == "128423"  # Mesh Radiation Transport Model
    assert len(_find(sr, "128427")) == 1  # Patient Model Demographics (M)


def test_caveats_are_in_the_root_comment(skipped_case):
    sr = _sr(skipped_case)
    root_comments = [it for it in sr.ContentSequence
                     if it.ConceptNameCodeSequence[0].CodeValue == "121106"]
    assert len(root_comments) == 1  # TID 10030 row 5 has VM 1
    text = root_comments[0].TextValue
    assert "positioner angles" in text


def test_missing_source_identity_is_a_clear_error(skipped_case):
    import dataclasses

    from skindose.dicom_out import build_prdsr
    from skindose.errors import DicomOutputError

    _, proc, result, _ = skipped_case
    bare = dataclasses.replace(proc, header=(), source=None)
    with pytest.raises(DicomOutputError, match="SR Instance Used"):
        build_prdsr(result, [bare])


def test_read_back_and_inspect(skipped_case, capsys):
    from skindose.cli import main
    from skindose.dicom_out import read_prdsr

    sr_path = skipped_case[3][-1]
    rep = read_prdsr(sr_path)
    (dose,) = rep.doses
    assert dose[1] == skipped_case[2].psd_gy and dose[2] == "Gy" and dose[3] == "Skin"
    assert rep.sources[0][1] == pydicom.dcmread(skipped_case[0]).SOPInstanceUID
    assert main(["inspect", str(sr_path)]) == 0
    out = capsys.readouterr().out
    assert "Patient Radiation Dose SR" in out and "NOT an X-Ray Radiation Dose SR" in out
    assert "Maximum Absorbed Radiation Dose to Skin" in out
    assert main(["inspect", "--json", str(sr_path)]) == 0
    import json

    d = json.loads(capsys.readouterr().out)
    assert d["computable"] is False and d["doses"][0]["value"] == skipped_case[2].psd_gy


# --- independent validators -------------------------------------------------------------------

#: DCMTK 3.6.7 prints this for every Patient Radiation Dose SR: its constraint checker for the
#: IOD says a template (TID 10030) is required and DCMTK does not check templates
#: (DSRDocumentTree::read). It is about DCMTK, not about the file.
DSRDUMP_TEMPLATE_NOTICE = "W: Check for template constraints not yet supported"


def _dsrdump(path):
    p = subprocess.run([tool("dsrdump"), str(path)], capture_output=True, text=True,
                       timeout=60)
    lines = [x for x in (p.stdout + p.stderr).splitlines() if x.startswith(("W:", "E:", "F:"))]
    return p.returncode, lines


@pytest.mark.parametrize("case", ["skipped_case", "full_case"])
def test_dsrdump_reads_it_without_errors_or_warnings(case, request):
    rc, lines = _dsrdump(request.getfixturevalue(case)[3][-1])
    assert rc == 0
    assert [x for x in lines if x != DSRDUMP_TEMPLATE_NOTICE] == []


def _dciodvfy(path):
    p = subprocess.run([tool("dciodvfy"), str(path)], capture_output=True, text=True,
                       timeout=60)
    return p.stdout + p.stderr


def test_dciodvfy_secondary_capture_has_no_errors_or_warnings(skipped_case):
    out = _dciodvfy(skipped_case[3][0])
    assert "Error" not in out and "Warning" not in out, out


def test_dciodvfy_prdsr_has_no_errors(skipped_case, tmp_path):
    path = skipped_case[3][-1]
    out = _dciodvfy(path)
    if "Information Object Not found" in out:
        # dicom3tools 1.00~20220618 (Debian 12) has no Patient Radiation Dose SR IOD. The
        # module table of PS3.3 A.35.18 is that of the X-Ray Radiation Dose SR (A.35.8):
        # check every module against that IOD with only the SOP class changed.
        ds = pydicom.dcmread(path)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = \
            "1.2.840.10008.5.1.4.1.1.88.67"
        swapped = tmp_path / "as_rdsr.dcm"
        ds.save_as(swapped)
        out = _dciodvfy(swapped)
        assert "XRayRadiationDoseSR" in out
    assert "Error" not in out and "Warning" not in out, out


def test_real_rdsr_with_non_latin_institution(rdsr_dir, tmp_path):
    """A real Siemens RDSR (institution name in Arabic): written as UTF-8, readable by DCMTK."""
    from skindose import compute, phantoms
    from skindose.dicom_out import write_dicom_outputs
    from skindose.rdsr import read_rdsr

    src = rdsr_dir / "openrem__RF-RDSR-Siemens-Zee.dcm"
    proc = read_rdsr(src)
    result = compute([proc], phantoms.by_name("plane", cell_area_cm2=4.0))
    _sc_path, sr_path = write_dicom_outputs(result, tmp_path, [proc])
    sr, ref = pydicom.dcmread(sr_path), pydicom.dcmread(src)
    assert sr.SpecificCharacterSet == "ISO_IR 192"
    assert sr.InstitutionName == ref.InstitutionName
    assert str(sr.PatientName) == str(ref.PatientName) and sr.PatientID == ref.PatientID
    (used,) = _find(sr, "128416")
    assert used.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ref.SOPInstanceUID
    rc, lines = _dsrdump(sr_path)
    assert rc == 0
    # DCMTK's VR checker cannot check UTF-8 strings: the one warning this file gets
    assert [x for x in lines if x != DSRDUMP_TEMPLATE_NOTICE] == [
        "W: The VR checker does not support this Specific Character Set: ISO_IR 192"]


def test_two_procedures_two_sources_and_other_study_evidence(tmp_path):
    """Staged procedure (two RDSRs of one patient, two studies): both are SR Instances Used;
    the SR joins the later study and lists the earlier RDSR as pertinent other evidence."""
    import dataclasses

    from skindose import compute, phantoms
    from skindose.dicom_out import build_prdsr
    from skindose.rdsr import read_rdsr
    from skindose.rdsr.synthetic import example_procedure, write_rdsr

    a = example_procedure(n_events=4, seed=1)
    b = example_procedure(n_events=5, seed=2)
    later = dataclasses.replace(b.study, uid="1.2.826.0.1.3680043.10.1234.99")
    b = dataclasses.replace(b, study=later)
    pa = read_rdsr(write_rdsr(a, tmp_path / "a.dcm"))
    pb = read_rdsr(write_rdsr(b, tmp_path / "b.dcm"))
    assert pa.study.uid != pb.study.uid
    result = compute([pa, pb], phantoms.by_name("cylinder", cell_area_cm2=4.0))
    sr = build_prdsr(result, [pa, pb])
    used = _find(sr, "128416")
    files = [pydicom.dcmread(tmp_path / n) for n in ("a.dcm", "b.dcm")]
    assert [u.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for u in used] == [
        f.SOPInstanceUID for f in files]
    assert sr.StudyInstanceUID == files[1].StudyInstanceUID
    other = sr.PertinentOtherEvidenceSequence[0]
    assert other.StudyInstanceUID == files[0].StudyInstanceUID
    (num,) = _find(sr, "128531")
    assert float(num.MeasuredValueSequence[0].get("FloatingPointValue",
                                                  num.MeasuredValueSequence[0].NumericValue)
                 ) == result.psd_gy


def test_reference_point_estimate(tmp_path):
    """No table position anywhere: no map, the conservative estimate is written as the
    maximum absorbed dose, with no Skin Dose Map representation; the image shows the
    timeline."""
    import dataclasses

    from skindose import compute, phantoms
    from skindose.dicom_out import write_dicom_outputs
    from skindose.rdsr import read_rdsr
    from skindose.rdsr.synthetic import example_procedure, write_rdsr

    proc = example_procedure(n_events=4, seed=5)
    evs = tuple(dataclasses.replace(e, table_longitudinal_mm=None, table_lateral_mm=None,
                                    table_height_mm=None) for e in proc.events)
    src = write_rdsr(dataclasses.replace(proc, events=evs), tmp_path / "poor.dcm")
    p = read_rdsr(src)
    result = compute([p], phantoms.by_name("cylinder", cell_area_cm2=4.0))
    assert result.is_reference_point_estimate
    sc_path, sr_path = write_dicom_outputs(result, tmp_path / "out", [p])
    sr = pydicom.dcmread(sr_path)
    assert _find(sr, "128413") == []  # no Distribution Representation
    (num,) = _find(sr, "128531")
    mv = num.MeasuredValueSequence[0]
    assert float(mv.get("FloatingPointValue", mv.NumericValue)) == result.psd_gy > 0
    assert "psd_timeline" in pydicom.dcmread(sc_path).ImageComments
    rc, lines = _dsrdump(sr_path)
    assert rc == 0 and [x for x in lines if x != DSRDUMP_TEMPLATE_NOTICE] == []


def test_compute_refuses_a_prdsr_with_one_line(skipped_case, capsys):
    from skindose.cli import main

    assert main(["compute", str(skipped_case[3][-1])]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Patient Radiation Dose SR" in err


def test_without_sources_the_result_names_its_files(skipped_case, tmp_path):
    """write_dicom_outputs(result, dir): identity from the files the result names."""
    from skindose.dicom_out import write_dicom_outputs

    src = pydicom.dcmread(skipped_case[0])
    _, sr_path = write_dicom_outputs(skipped_case[2], tmp_path)
    sr = pydicom.dcmread(sr_path)
    (used,) = _find(sr, "128416")
    assert used.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID
    assert str(sr.PatientName) == str(src.PatientName)


#: dciodvfy warnings about values copied verbatim from the source RDSR: a one-component
#: person name is the "retired" PN form to dciodvfy, a missing Study ID is only a DICOMDIR
#: concern. skindose must not rewrite a patient's identity, so these stay.
_SOURCE_VALUE_WARNINGS = ("Retired Person Name form", "needed to build DICOMDIR - Study ID")


@pytest.mark.parametrize("name", [p.name for p in real_rdsr_files()])
def test_every_real_rdsr_gives_valid_outputs(name, rdsr_dir, tmp_path):
    from skindose import compute, phantoms
    from skindose.dicom_out import write_dicom_outputs
    from skindose.rdsr import read_rdsr

    proc = read_rdsr(rdsr_dir / name)
    result = compute([proc], phantoms.by_name("cylinder", cell_area_cm2=4.0))
    sc_path, sr_path = write_dicom_outputs(result, tmp_path, [proc])
    sr = pydicom.dcmread(sr_path)
    (num,) = _find(sr, "128531")
    mv = num.MeasuredValueSequence[0]
    assert float(mv.get("FloatingPointValue", mv.NumericValue)) == result.psd_gy
    rc, lines = _dsrdump(sr_path)
    assert rc == 0
    allowed = {DSRDUMP_TEMPLATE_NOTICE}
    if sr.SpecificCharacterSet == "ISO_IR 192":  # a name that needs UTF-8
        allowed.add("W: The VR checker does not support this Specific Character Set: "
                    "ISO_IR 192")
    assert [x for x in lines if x not in allowed] == []
    out = _dciodvfy(sc_path)
    assert "Error" not in out, out
    warns = [x for x in out.splitlines() if "Warning" in x]
    assert [w for w in warns if not any(s in w for s in _SOURCE_VALUE_WARNINGS)] == []
