"""The domain model: valid objects build, invalid ones are refused with a message naming the field."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from readerstation.criteria import enums as criteria_enums
from readerstation.errors import ModelError
from readerstation.model import (
    Lesion,
    LesionAssessment,
    LesionRole,
    LinePoints,
    LiverSegment,
    Measurement,
    MeasurementState,
    NewLesionCall,
    NonTargetStatus,
    Phase,
    ReadStatus,
    Subject,
    Timepoint,
    TimepointRead,
)

UID = "1.2.826.0.1.3680043.8.498.1"


def line(length: float, z: float = 10.0) -> LinePoints:
    """A line along x of the given length (mm) at height z."""
    return LinePoints((0.0, 0.0, z), (length, 0.0, z), UID)


def liver_target(label: str = "T1", mm: float = 50.0, segment: str = "VII") -> LesionAssessment:
    return LesionAssessment(
        Lesion(f"L-{label}", label, "target", "liver", liver_segment=segment),
        Measurement("measured", long_axis_mm=mm, long_axis_line=line(mm)),
    )


# -- enums -----------------------------------------------------------------------------------


def test_engine_enums_are_reused_not_redefined():
    import readerstation.model as model

    assert model.NonTargetStatus is criteria_enums.NonTargetStatus
    assert model.NewLesionCall is criteria_enums.NewLesionCall
    assert model.DiameterCall is criteria_enums.DiameterCall
    assert model.LesionKind is criteria_enums.LesionKind
    assert model.Response is criteria_enums.Response


def test_measurement_state_words_match_reads_format_and_engine_calls():
    assert [s.value for s in MeasurementState] == [
        "measured",
        "too_small",
        "absent",
        "not_evaluated",
    ]
    assert MeasurementState.TOO_SMALL.to_diameter_call() is criteria_enums.DiameterCall.TOO_SMALL
    assert MeasurementState.ABSENT.to_diameter_call() is criteria_enums.DiameterCall.ABSENT
    assert MeasurementState.MEASURED.to_diameter_call() is None
    assert MeasurementState.NOT_EVALUATED.to_diameter_call() is None


def test_couinaud_segments_are_the_eight_roman_numerals():
    assert [s.value for s in LiverSegment] == ["I", "II", "III", "IV", "V", "VI", "VII", "VIII"]


# -- LinePoints --------------------------------------------------------------------------------


def test_line_length_is_euclidean_in_mm():
    # 3-4-5 triangle scaled by 10, plus a pure z line
    assert LinePoints((1.0, 2.0, 3.0), (31.0, 42.0, 3.0), UID).length_mm == 50.0
    assert LinePoints((0, 0, -5), (0, 0, 7), UID).length_mm == 12.0
    diag = LinePoints((0, 0, 0), (1, 1, 1), UID).length_mm
    assert diag == pytest.approx(math.sqrt(3))


@pytest.mark.parametrize(
    ("start", "end", "uid", "words"),
    [
        ((0, 0, 0), (0, 0, 0), UID, "zero-length"),
        ((0, 0), (1, 0, 0), UID, "three finite"),
        ((0, 0, float("nan")), (1, 0, 0), UID, "three finite"),
        ((0, 0, 0), (1, 0, 0), "1.2.abc", "DICOM UID"),
        ((0, 0, 0), (1, 0, 0), "1.02.3", "DICOM UID"),
        ((0, 0, 0), (1, 0, 0), "1." + "2" * 70, "DICOM UID"),
    ],
)
def test_bad_lines_are_refused(start, end, uid, words):
    with pytest.raises(ModelError, match=words):
        LinePoints(start, end, uid)


# -- Measurement -----------------------------------------------------------------------------


def test_measurement_measured_needs_a_length():
    with pytest.raises(ModelError, match="at least one length"):
        Measurement("measured")


@pytest.mark.parametrize("state", ["too_small", "absent", "not_evaluated"])
def test_measurement_without_numbers_refuses_numbers(state):
    assert Measurement(state).state is MeasurementState(state)
    with pytest.raises(ModelError, match="carries no lengths"):
        Measurement(state, long_axis_mm=4.0)


def test_measurement_line_must_match_its_length():
    Measurement("measured", long_axis_mm=50.04, long_axis_line=line(50.0))  # within 0.05 mm
    with pytest.raises(ModelError, match=r"50\.00 mm"):
        Measurement("measured", long_axis_mm=52.0, long_axis_line=line(50.0))
    with pytest.raises(ModelError, match="a line is given"):
        Measurement("measured", long_axis_mm=50.0, viable_line=line(20.0))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"long_axis_mm": -1.0}, "finite length > 0"),
        ({"long_axis_mm": 0.0}, "finite length > 0"),
        ({"long_axis_mm": float("inf")}, "finite length"),
        ({"long_axis_mm": "12"}, "a number"),
        ({"long_axis_mm": 20.0, "short_axis_mm": 25.0}, "at most the long axis"),
        ({"viable_long_axis_mm": -0.5}, "finite length >= 0"),
    ],
)
def test_measurement_bad_lengths_refused(kwargs, words):
    with pytest.raises(ModelError, match=words):
        Measurement("measured", **kwargs)


def test_measurement_state_word_normalised_and_bad_word_refused():
    assert Measurement("too_small").state is MeasurementState.TOO_SMALL
    with pytest.raises(ModelError, match="'measured', 'too_small'"):
        Measurement("gone")


def test_viable_zero_is_allowed_no_viable_tumour_left():
    m = Measurement("measured", long_axis_mm=30.0, viable_long_axis_mm=0.0)
    assert m.viable_long_axis_mm == 0.0


# -- Lesion ----------------------------------------------------------------------------------


def test_lesion_normalises_words_and_organ():
    les = Lesion("trk-7", "N1", "target", "Porta Hepatis", nodal=True)
    assert les.role is LesionRole.TARGET
    assert les.organ == "porta_hepatis"
    liver = Lesion("trk-8", "T1", LesionRole.TARGET, "liver", liver_segment="IV")
    assert liver.liver_segment is LiverSegment.IV


def test_liver_segment_may_be_unrecorded():
    # reads imported from another system often carry no segment; the workstation asks for it
    les = Lesion("trk-1", "T1", "target", "liver")
    assert les.liver_segment is None


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"organ": "liver", "liver_segment": "IX"}, "'VIII'"),
        ({"organ": "lung", "liver_segment": "II"}, "only given for organ 'liver'"),
        ({"organ": "liver", "liver_segment": "II", "nodal": True}, "not a lymph node"),
        ({"organ": "liver", "liver_segment": "II", "kind": "portal_vein_thrombosis"}, "target"),
        ({"organ": " "}, "non-empty organ"),
        ({"organ": "lung", "role": "satellite"}, "'target', 'non_target', 'new'"),
        ({"organ": "lung", "label": "T 1"}, "label"),
        ({"organ": "lung", "tracking_id": ""}, "tracking_id"),
        ({"organ": "lung", "typical_hcc": "yes"}, "typical_hcc"),
    ],
)
def test_invalid_lesions_refused(kwargs, words):
    args = {"tracking_id": "trk-1", "label": "T1", "role": "target"} | kwargs
    with pytest.raises(ModelError, match=words):
        Lesion(**args)


def test_portal_vein_thrombosis_can_be_non_target():
    les = Lesion("pvt", "NT1", "non_target", "portal_vein", kind="portal_vein_thrombosis")
    a = LesionAssessment(les, non_target_status="present")
    assert a.non_target_status is NonTargetStatus.PRESENT


# -- LesionAssessment ------------------------------------------------------------------------


def test_assessment_role_rules():
    target = Lesion("a", "T1", "target", "lung")
    nt = Lesion("b", "NT1", "non_target", "lung")
    with pytest.raises(ModelError, match="needs a measurement"):
        LesionAssessment(target)
    with pytest.raises(ModelError, match="only non-target lesions carry a status"):
        LesionAssessment(target, Measurement("too_small"), non_target_status="present")
    with pytest.raises(ModelError, match="needs a status"):
        LesionAssessment(nt)
    with pytest.raises(ModelError, match="not measured"):
        LesionAssessment(nt, Measurement("too_small"), non_target_status="present")
    new = Lesion("c", "NEW1", "new", "lung")
    assert LesionAssessment(new).measurement is None


def test_node_needs_short_axis_and_non_nodal_target_long_axis():
    node = Lesion("n", "N1", "target", "lymph_node", nodal=True)
    with pytest.raises(ModelError, match="short axis"):
        LesionAssessment(node, Measurement("measured", long_axis_mm=25.0))
    ok = LesionAssessment(node, Measurement("measured", long_axis_mm=25.0, short_axis_mm=18.0))
    assert ok.diameter_mm("recist1.1") == 18.0
    assert ok.diameter_mm("mrecist") == 18.0
    liver = Lesion("l", "T1", "target", "liver", liver_segment="V")
    with pytest.raises(ModelError, match="long axis"):
        LesionAssessment(liver, Measurement("measured", viable_long_axis_mm=12.0))


def test_diameter_used_by_each_criteria():
    a = LesionAssessment(
        Lesion("l", "T1", "target", "liver", liver_segment="VIII"),
        Measurement("measured", long_axis_mm=42.0, viable_long_axis_mm=31.5),
    )
    assert a.diameter_mm("recist1.1") == 42.0
    assert a.diameter_mm("mRECIST") == 31.5
    with pytest.raises(ModelError, match=r"recist1\.1"):
        a.diameter_mm("who")


# -- Subject, Timepoint, TimepointRead -------------------------------------------------------


def test_subject_and_timepoint_checks():
    assert Subject("HCC-001").code == "HCC-001"
    with pytest.raises(ModelError, match="code"):
        Subject("HCC 001")
    with pytest.raises(ModelError, match="treatment_start"):
        Subject("HCC-001", treatment_start="2024-01-01")
    tp = Timepoint("TP1", dt.date(2024, 3, 1), UID, UID + ".2", "arterial")
    assert tp.phase is Phase.ARTERIAL
    with pytest.raises(ModelError, match="series_uid"):
        Timepoint("TP1", series_uid="abc")
    with pytest.raises(ModelError, match="scan_date"):
        Timepoint("TP1", scan_date=dt.datetime(2024, 1, 1))
    with pytest.raises(ModelError, match="phase"):
        Timepoint("TP1", phase="venous-ish")


def _read(**kw) -> TimepointRead:
    base = {
        "subject": Subject("HCC-001"),
        "timepoint": Timepoint("TP0", dt.date(2024, 1, 5)),
        "reader": "reader1",
        "lesions": (liver_target("T1"),),
    }
    return TimepointRead(**(base | kw))


def test_read_refuses_duplicate_ids_and_labels():
    same_label = LesionAssessment(Lesion("other", "T1", "target", "lung"), Measurement("too_small"))
    with pytest.raises(ModelError, match="label 'T1' appears twice"):
        _read(lesions=(liver_target("T1"), same_label))
    dup_id = LesionAssessment(Lesion("L-T1", "T2", "target", "lung"), Measurement("too_small"))
    with pytest.raises(ModelError, match="tracking_id 'L-T1' appears twice"):
        _read(lesions=(liver_target("T1"), dup_id))


def test_read_new_lesion_call_must_agree_with_new_lesions():
    new = LesionAssessment(Lesion("n1", "NEW1", "new", "lung"))
    with pytest.raises(ModelError, match="'none' contradicts"):
        _read(lesions=(liver_target(), new))
    r = _read(lesions=(liver_target(), new), new_lesion_call="unequivocal")
    assert r.new_lesion_call is NewLesionCall.UNEQUIVOCAL
    assert r.new_lesions == (new,)


def test_read_signature_fields():
    with pytest.raises(ModelError, match="UTC datetime"):
        _read(status="signed")
    with pytest.raises(ModelError, match="UTC datetime"):
        _read(status="signed", signed_at=dt.datetime(2024, 1, 5, 12, 0))  # naive
    with pytest.raises(ModelError, match="a draft has no signing time"):
        _read(signed_at=dt.datetime(2024, 1, 5, tzinfo=dt.UTC))
    with pytest.raises(ModelError, match="version"):
        _read(version=0)
    signed = _read(status="signed", signed_at=dt.datetime(2024, 1, 5, 12, tzinfo=dt.UTC))
    assert signed.is_signed and signed.status is ReadStatus.SIGNED


def test_read_json_round_trip_is_exact():
    node = LesionAssessment(
        Lesion("n", "N1", "target", "porta_hepatis", "hilum", nodal=True),
        Measurement(
            "measured",
            long_axis_mm=30.0,
            short_axis_mm=22.0,
            long_axis_line=LinePoints((0, 0, 0), (30, 0, 0), UID),
            short_axis_line=LinePoints((15, -11, 0), (15, 11, 0), UID),
        ),
    )
    nt = LesionAssessment(Lesion("x", "NT1", "non_target", "lung"), non_target_status="absent")
    viable = LesionAssessment(
        Lesion("v", "T2", "target", "liver", liver_segment="VI", typical_hcc=True),
        Measurement(
            "measured",
            long_axis_mm=40.0,
            viable_long_axis_mm=25.0,
            long_axis_line=LinePoints((0, 0, 5), (0, 40, 5), UID),
            viable_line=LinePoints((0, 5, 5), (0, 30, 5), UID),
        ),
    )
    r = _read(
        lesions=(node, nt, viable),
        status="signed",
        signed_at=dt.datetime(2024, 2, 1, 9, 30, tzinfo=dt.UTC),
        version=2,
        timepoint=Timepoint("TP0", dt.date(2024, 1, 5), UID, UID + ".9", "arterial"),
        subject=Subject("HCC-001", dt.date(2024, 1, 10)),
    )
    back = TimepointRead.from_dict(r.to_dict(), read_id=7)
    assert back == r
    assert back.read_id == 7
    assert back.lesion("T2").measurement.viable_line.length_mm == 25.0
    assert "T1" not in {a.lesion.label for a in back.lesions}
    with pytest.raises(ModelError, match="no lesion labelled 'T9'"):
        back.lesion("T9")


def test_from_dict_refuses_malformed_input():
    with pytest.raises(ModelError, match="missing or malformed"):
        TimepointRead.from_dict({"subject": {"code": "HCC-001"}})


def test_read_repr_is_informative():
    text = repr(_read())
    assert "HCC-001/TP0" in text and "1 targets" in text and "draft v1" in text
