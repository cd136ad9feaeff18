"""Signed reads -> the response engine's SubjectTimeline, checked on hand-computed sums."""

from __future__ import annotations

import datetime as dt

import pytest

from readerstation.criteria import MRecistCriteria, Recist11Criteria
from readerstation.criteria.enums import DiameterCall, NewLesionCall, Response
from readerstation.engine import NewLesion, derive_timepoints
from readerstation.errors import ModelError
from readerstation.model import (
    Lesion,
    LesionAssessment,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
    to_subject_timeline,
)

SIGNED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
LIVER = Lesion("trk-1", "T1", "target", "liver", liver_segment="VII", typical_hcc=True)
NODE = Lesion("trk-2", "N1", "target", "lymph_node", nodal=True)
NT = Lesion("trk-3", "NT1", "non_target", "lung")


def read(label, date, liver, node, *, nt="present", new=(), call="none", version=1, reader="r1"):
    """liver = (long, viable) mm; node = (long, short) mm; or a MeasurementState word."""
    lm = (
        Measurement(liver)
        if isinstance(liver, str)
        else Measurement("measured", long_axis_mm=liver[0], viable_long_axis_mm=liver[1])
    )
    nm = Measurement("measured", long_axis_mm=node[0], short_axis_mm=node[1])
    return TimepointRead(
        Subject("HCC-007", dt.date(2024, 1, 8)),
        Timepoint(label, date),
        reader,
        (
            LesionAssessment(LIVER, lm),
            LesionAssessment(NODE, nm),
            LesionAssessment(NT, non_target_status=nt),
            *new,
        ),
        call,
        "signed",
        version,
        SIGNED,
    )


def test_sums_and_responses_match_hand_computation():
    # RECIST: baseline 50 (liver long) + 20 (node short) = 70; follow-up 30 + 15 = 45:
    #   (45 - 70) / 70 = -35.7 % -> PR (<= -30 %).
    # mRECIST: baseline 40 (viable) + 20 = 60; follow-up 12 + 15 = 27: -55 % -> PR.
    reads = [
        read("TP1", dt.date(2024, 2, 20), (30.0, 12.0), (25.0, 15.0)),
        read("TP0", dt.date(2024, 1, 5), (50.0, 40.0), (30.0, 20.0)),
    ]
    recist = to_subject_timeline(reads, "recist1.1")
    assert recist.subject == "HCC-007"
    assert recist.treatment_start == dt.date(2024, 1, 8)
    assert [a.date for a in recist.assessments] == [dt.date(2024, 1, 5), dt.date(2024, 2, 20)]
    assert [(t.lesion, t.diameter_mm) for t in recist.assessments[0].targets] == [
        ("T1", 50.0),
        ("N1", 20.0),
    ]
    results, _ = derive_timepoints(recist, Recist11Criteria())
    assert [r.sum_mm for r in results] == [70.0, 45.0]
    assert results[1].change_from_baseline_pct == pytest.approx(-250 / 7)
    assert results[1].target_response is Response.PR

    mrecist = to_subject_timeline(reads, "mrecist")
    results, _ = derive_timepoints(mrecist, MRecistCriteria())
    assert [r.sum_mm for r in results] == [60.0, 27.0]
    assert results[1].target_response is Response.PR


def test_states_map_to_engine_calls():
    reads = [
        read("TP0", dt.date(2024, 1, 5), (50.0, 40.0), (30.0, 20.0)),
        read("TP1", dt.date(2024, 2, 20), "too_small", (25.0, 15.0)),
        read("TP2", dt.date(2024, 4, 2), "absent", (25.0, 15.0)),
        read("TP3", dt.date(2024, 5, 14), "not_evaluated", (25.0, 15.0)),
    ]
    tl = to_subject_timeline(reads, "recist1.1")
    liver = [a.targets[0].diameter_mm for a in tl.assessments]
    assert liver == [50.0, DiameterCall.TOO_SMALL, DiameterCall.ABSENT, None]
    # RECIST "too small" counts 5 mm: 5 + 15 = 20
    results, _ = derive_timepoints(tl, Recist11Criteria())
    assert results[1].sum_mm == 20.0
    assert results[3].target_response is Response.NE


def test_latest_version_of_each_timepoint_is_used():
    v1 = read("TP1", dt.date(2024, 2, 20), (30.0, 12.0), (25.0, 15.0))
    v2 = read("TP1", dt.date(2024, 2, 20), (35.0, 12.0), (25.0, 15.0), version=2)
    base = read("TP0", dt.date(2024, 1, 5), (50.0, 40.0), (30.0, 20.0))
    tl = to_subject_timeline([v2, base, v1], "recist1.1")
    assert len(tl.assessments) == 2
    assert tl.assessments[1].targets[0].diameter_mm == 35.0


def test_new_lesions_per_criteria():
    new = LesionAssessment(
        Lesion("trk-9", "NEW1", "new", "liver", liver_segment="II", typical_hcc=True),
        Measurement("measured", long_axis_mm=12.0),
    )
    reads = [
        read("TP0", dt.date(2024, 1, 5), (50.0, 40.0), (30.0, 20.0)),
        read("TP1", dt.date(2024, 2, 20), (50.0, 40.0), (30.0, 20.0), new=(new,), call="equivocal"),
    ]
    recist = to_subject_timeline(reads, "recist1.1")
    assert recist.assessments[1].new_lesions is NewLesionCall.EQUIVOCAL
    mrecist = to_subject_timeline(reads, "mrecist")
    assert mrecist.assessments[1].new_lesions == (
        NewLesion("NEW1", "liver", diameter_mm=12.0, typical_hcc=True, equivocal=True),
    )


def test_refusals():
    base = read("TP0", dt.date(2024, 1, 5), (50.0, 40.0), (30.0, 20.0))
    draft = TimepointRead(base.subject, Timepoint("TP1", dt.date(2024, 2, 1)), "r1")
    with pytest.raises(ModelError, match="draft"):
        to_subject_timeline([base, draft], "recist1.1")
    other = read("TP1", dt.date(2024, 2, 20), (30.0, 12.0), (25.0, 15.0), reader="r2")
    with pytest.raises(ModelError, match="one reader"):
        to_subject_timeline([base, other], "recist1.1")
    with pytest.raises(ModelError, match="received none"):
        to_subject_timeline([], "recist1.1")
    with pytest.raises(ModelError, match=r"'recist1\.1' or 'mrecist'"):
        to_subject_timeline([base], "choi")
    hidden = TimepointRead(
        base.subject, Timepoint("TP0"), "r1", base.lesions, status="signed", signed_at=SIGNED
    )
    with pytest.raises(ModelError, match="scan date"):
        to_subject_timeline([hidden], "recist1.1")


def test_lung_target_under_mrecist_sums_its_long_axis():
    # Review finding: mRECIST's viable diameter applies to HCC lesions in the liver only
    # (Lencioni & Llovet 2010); a lung target follows RECIST 1.1 and is summed by its long axis.
    # Baseline: liver viable 40 + lung long axis 30 = 70 mm. TP1 (day 49) and TP2 (day 91):
    # liver viable 20 + lung 20 = 40 mm, (40 - 70) / 70 = -42.86 % -> PR, confirmed 42 days
    # later (>= 28) -> best overall response PR, first response TP1, TTR 49 - 0 = 49 days.
    from readerstation.engine import derive_subject_response

    lung = Lesion("trk-5", "T2", "target", "lung")
    start = dt.date(2024, 1, 8)

    def lung_read(label, date, liver_long, liver_viable, lung_long):
        return TimepointRead(
            Subject("HCC-008", start),
            Timepoint(label, date),
            "r1",
            (
                LesionAssessment(
                    LIVER,
                    Measurement(
                        "measured", long_axis_mm=liver_long, viable_long_axis_mm=liver_viable
                    ),
                ),
                LesionAssessment(lung, Measurement("measured", long_axis_mm=lung_long)),
            ),
            status="signed",
            signed_at=SIGNED,
        )

    reads = [
        lung_read("TP0", dt.date(2024, 1, 5), 50.0, 40.0, 30.0),
        lung_read("TP1", start + dt.timedelta(days=49), 45.0, 20.0, 20.0),
        lung_read("TP2", start + dt.timedelta(days=91), 45.0, 20.0, 20.0),
    ]
    for criteria in (MRecistCriteria(), "mrecist"):
        tl = to_subject_timeline(reads, criteria)
        assert [(t.lesion, t.diameter_mm) for t in tl.assessments[0].targets] == [
            ("T1", 40.0),
            ("T2", 30.0),
        ]
    result = derive_subject_response(to_subject_timeline(reads, "mrecist"), MRecistCriteria())
    assert [tp.sum_mm for tp in result.timepoints] == [70.0, 40.0, 40.0]
    assert result.timepoints[1].change_from_baseline_pct == pytest.approx(-300 / 7)
    assert result.best_overall_response is Response.PR
    assert result.first_response_date == start + dt.timedelta(days=49)
    assert result.time_to_response_days == 49
    # the lesion itself: viable only inside the liver
    assert reads[0].lesion("T2").diameter_mm(MRecistCriteria()) == 30.0
    assert reads[0].lesion("T1").diameter_mm(MRecistCriteria()) == 40.0
