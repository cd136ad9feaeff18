"""DICOM SR TID 1500 export and import on real sample images (sample_dicom/HCC-001).

The reads are the sample trial's ground truth (lines on the real arterial images), plus a nodal
target measured by its short axis, a target too small to measure, an absent target and a new
lesion, so that every state and the node rule go through the SR and back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset, dcmread

from readerstation.criteria.enums import Response
from readerstation.errors import ExportError
from readerstation.export.sr import (
    OFF_PLANE_TOLERANCE_MM,
    load_sr,
    load_sr_report,
    save_sr,
    to_sr_dataset,
)
from readerstation.model import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)

ROOT = Path(__file__).resolve().parents[1] / "sample_dicom"
SIGNED = dt.datetime(2024, 3, 1, 9, 30, 12, 345678, tzinfo=dt.UTC)


def _truth() -> dict:
    return json.loads((ROOT / "ground_truth.json").read_text())


def _arterial_images(tp: dict) -> dict[str, Dataset]:
    series = next(s for s in tp["series"] if s["phase"] == "ARTERIAL")
    folder = ROOT / series["folder"]
    out: dict[str, Dataset] = {}
    for p in sorted(folder.iterdir()):
        ds = dcmread(p, stop_before_pixels=True)
        out[str(ds.SOPInstanceUID)] = ds
    return out


def _line(points: list[list[float]], uid: str) -> LinePoints:
    return LinePoints(tuple(points[0]), tuple(points[1]), uid)


def derive_sample_read(
    tp_index: int, reader: str = "reader1", *, extra: bool = True
) -> tuple[TimepointRead, dict[str, Dataset]]:
    """A signed read of HCC-001 at timepoint ``tp_index`` measured on the real sample images.

    T1, T2 as in the ground truth (long, short, viable lines on their arterial slice), NT1
    present; with ``extra``: a porta hepatis node N1 (short axis 21 mm on T1's slice), at TP0 a
    target T3 too small to measure, at TP1 T3 absent and an unmeasured new lesion NEW1.
    """
    truth = _truth()
    subject = truth["subjects"][0]
    tp = subject["timepoints"][tp_index]
    images = _arterial_images(tp)
    series = next(s for s in tp["series"] if s["phase"] == "ARTERIAL")
    lesions: list[LesionAssessment] = []
    t1_uid = ""
    for entry in tp["lesions"]:
        uid = entry["arterial_sop_instance_uid"]
        les = Lesion(
            f"trk-{entry['lesion']}",
            entry["lesion"],
            entry["role"].lower(),
            entry["organ"],
            location="peripheral",
            liver_segment=entry["segment"],
            typical_hcc=True,
        )
        if entry["role"] == "TARGET":
            long_ = _line(entry["long_axis_endpoints_lps_mm"], uid)
            short = _line(entry["short_axis_endpoints_lps_mm"], uid)
            viable = _line(entry["viable_endpoints_lps_mm"], uid)
            m = Measurement(
                "measured",
                long_.length_mm,
                short.length_mm,
                viable.length_mm,
                long_,
                short,
                viable,
            )
            lesions.append(LesionAssessment(les, measurement=m))
            if entry["lesion"] == "T1":
                t1_uid, z = uid, entry["slice_z_mm"]
        else:
            lesions.append(LesionAssessment(les, non_target_status="present"))
    new_call = "none"
    if extra:
        node_long = LinePoints((10.0, 60.0, z), (34.0, 60.0, z), t1_uid)
        node_short = LinePoints((22.0, 50.0, z), (22.0, 71.0, z), t1_uid)
        lesions.append(
            LesionAssessment(
                Lesion("trk-N1", "N1", "target", "porta_hepatis", nodal=True),
                Measurement("measured", 24.0, 21.0, None, node_long, node_short, None),
            )
        )
        state = "too_small" if tp_index == 0 else "absent"
        lesions.append(
            LesionAssessment(
                Lesion("trk-T3", "T3", "target", "liver", liver_segment="II"),
                Measurement(state),
            )
        )
        if tp_index > 0:
            new_call = "equivocal"
            lesions.append(
                LesionAssessment(
                    Lesion("trk-NEW1", "NEW1", "new", "lung", location="right lower lobe")
                )
            )
    read = TimepointRead(
        Subject("HCC-001", dt.date.fromisoformat(subject["treatment_start"])),
        Timepoint(
            tp["timepoint"],
            dt.date.fromisoformat(tp["study_date"]),
            tp["study_instance_uid"],
            series["series_instance_uid"],
            "arterial",
        ),
        reader,
        tuple(lesions),
        new_lesion_call=new_call,
        status="signed",
        version=2,
        signed_at=SIGNED,
    )
    return read, images


def _lines(read: TimepointRead) -> list[tuple[str, str, LinePoints | None]]:
    out = []
    for a in read.lesions:
        m = a.measurement
        for name in ("long_axis_line", "short_axis_line", "viable_line"):
            out.append((a.lesion.label, name, None if m is None else getattr(m, name)))
    return out


def assert_same_read(got: TimepointRead, want: TimepointRead, *, reader: str) -> None:
    """Everything equal; lengths exactly, end points to 1e-3 mm."""
    assert got.reader == reader
    assert got.subject == want.subject
    assert got.timepoint == want.timepoint
    assert (got.status, got.version, got.signed_at) == (want.status, want.version, want.signed_at)
    assert got.new_lesion_call is want.new_lesion_call
    assert [a.lesion for a in got.lesions] == [a.lesion for a in want.lesions]
    for a, b in zip(got.lesions, want.lesions, strict=True):
        assert a.non_target_status == b.non_target_status
        assert a.cytology_confirmed == b.cytology_confirmed
        if b.measurement is None:
            assert a.measurement is None
            continue
        assert a.measurement is not None
        ma, mb = a.measurement, b.measurement
        assert ma.state is mb.state
        assert ma.long_axis_mm == mb.long_axis_mm
        assert ma.short_axis_mm == mb.short_axis_mm
        assert ma.viable_long_axis_mm == mb.viable_long_axis_mm
    for (la, na, x), (lb, nb, y) in zip(_lines(got), _lines(want), strict=True):
        assert (la, na) == (lb, nb)
        if y is None:
            assert x is None, (la, na)
            continue
        assert x is not None, (la, na)
        assert x.sop_instance_uid == y.sop_instance_uid
        assert np.allclose(x.start, y.start, atol=1e-3) and np.allclose(x.end, y.end, atol=1e-3)


@pytest.fixture(scope="module")
def baseline() -> tuple[TimepointRead, dict[str, Dataset]]:
    return derive_sample_read(0)


@pytest.fixture(scope="module")
def followup() -> tuple[TimepointRead, dict[str, Dataset]]:
    return derive_sample_read(1)


def test_round_trip_restores_the_baseline_read(baseline, tmp_path: Path) -> None:
    read, images = baseline
    path = save_sr(read, images.values(), tmp_path / "tp0.dcm", observer_role="Reader 1")
    report = load_sr_report(path)
    assert_same_read(report.read, read, reader="Reader_1")
    assert report.observer_role == "Reader 1"
    assert report.responses == {}
    t3 = report.read.lesion("T3").measurement
    assert t3 is not None and t3.state.value == "too_small"
    n1 = report.read.lesion("N1")
    assert n1.lesion.nodal and n1.measurement is not None
    assert n1.measurement.short_axis_mm == 21.0


def test_round_trip_of_a_follow_up_with_responses_and_new_lesion(followup, tmp_path) -> None:
    read, images = followup
    path = save_sr(
        read,
        images.values(),
        tmp_path / "tp1.dcm",
        observer_role="Reader 2",
        responses={"recist1.1": "SD", "mrecist": Response.PR},
        time_point_order=2,
        blinded=False,
    )
    report = load_sr_report(path)
    assert_same_read(report.read, read, reader="reader1")
    assert report.responses == {"recist1.1": Response.SD, "mrecist": Response.PR}
    assert report.time_point_order == 2
    assert report.read.lesion("T3").measurement.state.value == "absent"
    assert report.read.lesion("NEW1").measurement is None
    assert report.read.new_lesion_call.value == "equivocal"


def test_sr_validates_with_dciodvfy(baseline, followup, tmp_path: Path) -> None:
    exe = shutil.which("dciodvfy")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but dciodvfy (Debian dicom3tools) is missing")
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed")
    for name, (read, images), kw in (
        ("tp0", baseline, {}),
        ("tp1", followup, {"responses": {"recist1.1": "PD", "mrecist": "NE"}}),
    ):
        path = save_sr(read, images.values(), tmp_path / f"{name}.dcm", **kw)
        run = subprocess.run([exe, str(path)], capture_output=True, text=True, check=False)
        out = run.stdout + run.stderr
        assert "Comprehensive3DSR" in out
        errors = [ln for ln in out.splitlines() if ln.startswith("Error")]
        assert errors == [], out


def test_structure_codes_and_scoord_geometry(followup, tmp_path: Path) -> None:
    read, images = followup
    sr = to_sr_dataset(read, images.values(), observer_role="Reader 1", responses={"mrecist": "CR"})
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert (
        sr.ConceptNameCodeSequence[0].CodeValue,
        sr.ConceptNameCodeSequence[0].CodingSchemeDesignator,
    ) == ("126000", "DCM")
    assert sr.PatientName == "HCC-001^" and sr.PatientID == "HCC-001"
    assert sr.StudyInstanceUID == read.timepoint.study_uid

    def walk(item):
        for child in getattr(item, "ContentSequence", []):
            yield child
            yield from walk(child)

    items = list(walk(sr))
    codes = {
        (i.ConceptNameCodeSequence[0].CodeValue, i.ConceptCodeSequence[0].CodeValue)
        for i in items
        if i.ValueType == "CODE"
    }
    assert ("C96613", "C4870") in codes  # Overall Response = Complete Response (NCIt)
    assert ("112021", "C126032") in codes  # Response Evaluation Method = mRECIST (NCIt)
    assert ("C94189", "C94520") in codes  # Lesion Identification = Target
    assert ("C96643", "112133") not in codes  # TP1: no target too small
    assert ("C96643", "C48190") in codes  # Tumor State = Absent (T3)
    assert ("363698007", "277962002") in codes  # Finding Site = Couinaud segment VIII

    # every SCOORD maps back onto the LPS points of its SCOORD3D by the DICOM equations (PS3.3
    # C.7.6.2.1.1: P = IPP + column * PixelSpacing[1] * IOP[:3] + row * PixelSpacing[0] * IOP[3:];
    # C.18.6.1.2: the centre of pixel (column, row) is at SCOORD (column + 0.5, row + 0.5))
    def lps_of(graphic_data, image: Dataset) -> np.ndarray:
        col_row = np.reshape(np.asarray(graphic_data, dtype=np.float64), (-1, 2)) - 0.5
        iop = np.asarray(image.ImageOrientationPatient, dtype=np.float64)
        row_mm, col_mm = (float(v) for v in image.PixelSpacing)
        return (
            np.asarray(image.ImagePositionPatient, dtype=np.float64)
            + col_row[:, [0]] * col_mm * iop[:3]
            + col_row[:, [1]] * row_mm * iop[3:]
        )

    n = 0
    for num in (i for i in items if i.ValueType == "NUM" and "ContentSequence" in i):
        sc = [c for c in num.ContentSequence if c.ValueType == "SCOORD"]
        sc3 = [c for c in num.ContentSequence if c.ValueType == "SCOORD3D"]
        assert len(sc) == 1 and len(sc3) == 1
        uid = sc[0].ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        lps = lps_of(sc[0].GraphicData, images[uid])
        assert np.allclose(lps, np.reshape(sc3[0].GraphicData, (-1, 3)), atol=1e-3)
        assert sc3[0].ReferencedFrameOfReferenceUID == images[uid].FrameOfReferenceUID
        n += 1
    assert n == 2 * 3 + 2  # T1, T2: long, short, viable; N1: long, short


def test_blinded_sr_names_no_user_and_uids_are_stable(baseline, followup, tmp_path) -> None:
    read0, images0 = baseline
    read1, images1 = followup
    p0 = save_sr(read0, images0.values(), tmp_path / "a.dcm", observer_role="Reader 1")
    p1 = save_sr(read1, images1.values(), tmp_path / "b.dcm", observer_role="Reader 1")
    assert b"reader1" not in p0.read_bytes() and b"reader1" not in p1.read_bytes()
    again = to_sr_dataset(read0, images0.values(), observer_role="Reader 1")
    assert again.SOPInstanceUID == dcmread(p0).SOPInstanceUID

    def tracking_uids(path: Path) -> dict[str, str]:
        out = {}
        ds = dcmread(path)
        for container in ds.ContentSequence:
            for group in getattr(container, "ContentSequence", []):
                kids = getattr(group, "ContentSequence", [])
                label = [
                    k.TextValue for k in kids if k.ConceptNameCodeSequence[0].CodeValue == "112039"
                ]
                uid = [k.UID for k in kids if k.ConceptNameCodeSequence[0].CodeValue == "112040"]
                if label and uid:
                    out[label[0]] = uid[0]
        return out

    u0, u1 = tracking_uids(p0), tracking_uids(p1)
    assert u0 and u0["T1"] == u1["T1"] and u0["N1"] == u1["N1"] and u0["T1"] != u0["T2"]


def test_missing_image_is_named(baseline, tmp_path: Path) -> None:
    read, images = baseline
    uid = read.lesion("T2").measurement.long_axis_line.sop_instance_uid
    others = [d for u, d in images.items() if u != uid]
    with pytest.raises(ExportError, match=rf"{uid}.*--images"):
        save_sr(read, others, tmp_path / "x.dcm")


def test_refuses_drafts_and_lines_off_their_image(baseline, tmp_path: Path) -> None:
    read, images = baseline
    draft = TimepointRead(read.subject, read.timepoint, read.reader, read.lesions)
    with pytest.raises(ExportError, match="signed"):
        save_sr(draft, images.values(), tmp_path / "d.dcm")
    t1 = read.lesion("T1")
    m = t1.measurement
    other = next(u for u in images if u != m.long_axis_line.sop_instance_uid)
    moved = LinePoints(m.long_axis_line.start, m.long_axis_line.end, other)
    bad = TimepointRead(
        read.subject,
        read.timepoint,
        read.reader,
        (
            LesionAssessment(
                t1.lesion, Measurement("measured", m.long_axis_mm, long_axis_line=moved)
            ),
        ),
        status="signed",
        signed_at=SIGNED,
    )
    with pytest.raises(ExportError, match="off the image plane"):
        save_sr(bad, images.values(), tmp_path / "o.dcm")
    assert OFF_PLANE_TOLERANCE_MM < 1.0


def test_read_without_lines_needs_one_image_of_its_series(baseline, tmp_path: Path) -> None:
    read, images = baseline
    t3 = read.lesion("T3")
    plain = TimepointRead(
        read.subject, read.timepoint, "reader2", (t3,), status="signed", signed_at=SIGNED
    )
    with pytest.raises(ExportError, match="no image given"):
        save_sr(plain, [], tmp_path / "n.dcm")
    first = next(iter(images.values()))
    got = load_sr(save_sr(plain, [first], tmp_path / "n.dcm", observer_role="Reader 2"))
    assert got.lesions == plain.lesions and got.reader == "Reader_2"


def test_load_refuses_a_non_sr_file() -> None:
    image = next((ROOT / "HCC-001" / "TP0_baseline" / "3_arterial").iterdir())
    with pytest.raises(ExportError, match="not a DICOM SR"):
        load_sr(image)
