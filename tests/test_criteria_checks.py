"""Lesion-set checks a reader sees while measuring: examples from the criteria papers.

Sources: RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247) 3.1.1 (measurable: 10 mm
on CT with slices <= 5 mm; nodes >= 15 mm short axis are targets, 10-15 mm non-targets, < 10 mm
normal), 3.3.1 (at most 5 targets, 2 per organ), appendix II (otherwise twice the slice
thickness); RECIST 1.1 Q&A (EORTC): "Nodes are considered to be one organ"; mRECIST (Lencioni &
Llovet, Semin Liver Dis 2010;30:52-60): targets typical HCC with intratumoral arterial
enhancement, viable diameter >= 1 cm, at most two intrahepatic targets, porta hepatis nodes
malignant from 2 cm short axis, new lesions HCC when >= 1 cm and typical. Expected findings are
read off those rules, not produced by the code.
"""

from __future__ import annotations

import datetime as dt

import pytest

from readerstation.criteria import MRecistCriteria, Recist11Criteria
from readerstation.criteria.checks import (
    Finding,
    FindingCode,
    Severity,
    check_timepoint_read,
    has_blocking_findings,
)
from readerstation.errors import CriteriaError
from readerstation.model import (
    Lesion,
    LesionAssessment,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)

RECIST = Recist11Criteria()
MREC = MRecistCriteria()
C = FindingCode
SUBJECT = Subject("HCC-001", dt.date(2024, 1, 12))


def target(label, long_mm=None, *, organ="liver", nodal=False, short_mm=None, viable_mm=None,
           typical=True, tid=None, state="measured", segment="VII"):  # fmt: skip
    les = Lesion(
        tid or f"L-{label}",
        label,
        "target",
        organ,
        liver_segment=segment if organ == "liver" else None,
        nodal=nodal,
        typical_hcc=typical if organ == "liver" else None,
    )
    if state == "measured":
        m = Measurement("measured", long_mm, short_mm, viable_mm)
    else:
        m = Measurement(state)
    return LesionAssessment(les, measurement=m)


def non_target(label, status="present", *, organ="lung", tid=None, role="non_target"):
    return LesionAssessment(
        Lesion(tid or f"L-{label}", label, role, organ), non_target_status=status
    )


def new_lesion(label, long_mm=None, *, typical=True, organ="liver"):
    les = Lesion(
        f"L-{label}",
        label,
        "new",
        organ,
        liver_segment="II" if organ == "liver" else None,
        typical_hcc=typical if organ == "liver" else None,
    )
    m = None if long_mm is None else Measurement("measured", long_mm)
    return LesionAssessment(les, measurement=m)


def read(*lesions, tp="TP0", new="none", day=0):
    return TimepointRead(
        SUBJECT,
        Timepoint(tp, dt.date(2024, 1, 8) + dt.timedelta(days=day)),
        "reader1",
        lesions=tuple(lesions),
        new_lesion_call=new,
    )


def codes(findings):
    """The findings as (code, lesion label), sorted by code word then label."""
    return sorted(((f.code, f.lesion) for f in findings), key=lambda p: (p[0].value, p[1] or ""))


class TestBaselineRecist:
    def test_valid_baseline_has_no_finding(self):
        r = read(
            target("T1", 52.0),
            target("T2", 31.0, segment="IV"),
            target("N1", 25.0, organ="lymph_node", nodal=True, short_mm=18.0),
            non_target("NT1"),
        )
        assert check_timepoint_read(r, criteria=RECIST) == []

    def test_measurable_is_10_mm_long_axis(self):
        # RECIST 1.1 3.1.1: minimum size 10 mm by CT (slices <= 5 mm)
        ok = read(target("T1", 10.0, organ="lung"))
        assert check_timepoint_read(ok, criteria=RECIST, slice_thickness_mm=5.0) == []
        bad = check_timepoint_read(read(target("T1", 9.0, organ="lung")), criteria=RECIST)
        assert codes(bad) == [(C.TARGET_NOT_MEASURABLE, "T1")]
        assert bad[0].severity is Severity.BLOCKING
        assert "9 mm" in bad[0].message and "10 mm" in bad[0].message
        assert "non-target" in bad[0].message  # says what to do

    def test_twice_the_slice_thickness(self):
        # appendix II: with 8 mm slices the minimum is 2 x 8 = 16 mm: a 12 mm lesion is not
        # measurable, a 16 mm one is
        f = check_timepoint_read(
            read(target("T1", 12.0, organ="lung")), criteria=RECIST, slice_thickness_mm=8.0
        )
        assert codes(f) == [(C.TARGET_NOT_MEASURABLE, "T1")]
        assert "16 mm = 2 x the 8 mm slice thickness" in f[0].message
        ok = read(target("T1", 16.0, organ="lung"))
        assert check_timepoint_read(ok, criteria=RECIST, slice_thickness_mm=8.0) == []

    @pytest.mark.parametrize(
        ("short_mm", "expected"),
        [
            (15.0, []),  # >= 15 mm short axis: pathological and measurable -> target
            (14.0, [(C.NODE_NOT_PATHOLOGICAL, "N1")]),  # 10-15 mm: non-target
            (10.0, [(C.NODE_NOT_PATHOLOGICAL, "N1")]),
            (9.0, [(C.NODE_NOT_PATHOLOGICAL, "N1")]),  # < 10 mm: normal
        ],
    )
    def test_lymph_node_short_axis(self, short_mm, expected):
        n1 = target("N1", 25.0, organ="lymph_node", nodal=True, short_mm=short_mm)
        f = check_timepoint_read(read(n1), criteria=RECIST)
        assert codes(f) == expected
        if short_mm == 14.0:
            assert "non-target" in f[0].message
        if short_mm == 9.0:
            assert "normal" in f[0].message

    def test_at_most_five_targets(self):
        organs = ["lung", "adrenal_gland", "spleen", "kidney", "bone", "peritoneum"]
        f = check_timepoint_read(read(*[target(f"T{i}", 20.0, organ=o) for i, o in
                                        enumerate(organs, 1)]), criteria=RECIST)  # fmt: skip
        assert codes(f) == [(C.TOO_MANY_TARGETS, None)]
        assert "6 target lesions" in f[0].message and "at most 5" in f[0].message

    def test_at_most_two_per_organ(self):
        f = check_timepoint_read(
            read(*[target(f"T{i}", 20.0, organ="lung") for i in (1, 2, 3)]), criteria=RECIST
        )
        assert codes(f) == [(C.TOO_MANY_TARGETS_IN_ORGAN, None)]
        assert "T1, T2, T3" in f[0].message

    def test_lymph_nodes_are_one_organ(self):
        # RECIST 1.1 Q&A: nodes in different regions still count as one organ
        nodes = [
            target("N1", 30.0, organ="mediastinum", nodal=True, short_mm=20.0),
            target("N2", 30.0, organ="lymph_node", nodal=True, short_mm=18.0),
            target("N3", 30.0, organ="retroperitoneum", nodal=True, short_mm=16.0),
        ]
        f = check_timepoint_read(read(*nodes), criteria=RECIST)
        assert codes(f) == [(C.TOO_MANY_TARGETS_IN_ORGAN, None)]
        assert "lymph nodes" in f[0].message

    def test_baseline_non_target_must_be_present_and_no_new_lesions(self):
        r = read(target("T1", 30.0), non_target("NT1", "absent"), new_lesion("NEW1", 12.0),
                 new="unequivocal")  # fmt: skip
        assert codes(check_timepoint_read(r, criteria=RECIST)) == [
            (C.NEW_LESION_AT_BASELINE, None),
            (C.NON_TARGET_NOT_PRESENT_AT_BASELINE, "NT1"),
        ]

    def test_baseline_target_must_be_measured(self):
        f = check_timepoint_read(read(target("T1", state="too_small")), criteria=RECIST)
        assert codes(f) == [(C.TARGET_NOT_MEASURED, "T1")]

    def test_no_target_is_a_warning(self):
        f = check_timepoint_read(read(non_target("NT1")), criteria=RECIST)
        assert codes(f) == [(C.NO_TARGET_LESIONS, None)]
        assert not has_blocking_findings(f)
        assert "Table 2" in f[0].message


class TestBaselineMRecist:
    def test_viable_diameter_must_be_10_mm(self):
        # mRECIST: a 30 mm HCC whose enhancing part is 8 mm is not a measurable target
        # (RECIST 1.1 measures the 30 mm long axis and accepts it)
        t1 = target("T1", 30.0, viable_mm=8.0)
        f = check_timepoint_read(read(t1), criteria=MREC)
        assert codes(f) == [(C.TARGET_NOT_MEASURABLE, "T1")]
        assert "viable" in f[0].message and "8 mm" in f[0].message
        assert check_timepoint_read(read(t1), criteria=RECIST) == []
        assert check_timepoint_read(read(target("T1", 30.0, viable_mm=10.0)), criteria=MREC) == []

    def test_viable_diameter_missing(self):
        f = check_timepoint_read(read(target("T1", 30.0)), criteria=MREC)
        assert codes(f) == [(C.VIABLE_DIAMETER_MISSING, "T1")]

    def test_target_must_be_typical_hcc(self):
        for typical in (False, None):
            t1 = target("T1", 30.0, viable_mm=25.0, typical=typical)
            f = check_timepoint_read(read(t1), criteria=MREC)
            assert codes(f) == [(C.TARGET_NOT_TYPICAL_HCC, "T1")]
            assert f[0].blocking
            assert check_timepoint_read(read(t1), criteria=RECIST) == []

    def test_extrahepatic_target_follows_recist(self):
        # a lung metastasis is measured by its long axis under mRECIST too
        assert check_timepoint_read(read(target("T1", 15.0, organ="lung")), criteria=MREC) == []

    def test_at_most_two_intrahepatic_targets(self):
        ts = [target(f"T{i}", 30.0, viable_mm=20.0, segment=s) for i, s in
              enumerate(["II", "VI", "VIII"], 1)]  # fmt: skip
        f = check_timepoint_read(read(*ts), criteria=MREC)
        assert codes(f) == [(C.TOO_MANY_INTRAHEPATIC_TARGETS, None)]
        assert (
            check_timepoint_read(read(*ts), criteria=MRecistCriteria(max_intrahepatic_targets=3))
            == []
        )

    def test_porta_hepatis_node_malignant_from_20_mm(self):
        # mRECIST: porta hepatis nodes are malignant only from 2 cm short axis
        n18 = target("N1", 25.0, organ="porta_hepatis", nodal=True, short_mm=18.0)
        f = check_timepoint_read(read(n18), criteria=MREC)
        assert codes(f) == [(C.PORTA_HEPATIS_NODE_NOT_MALIGNANT, "N1")]
        assert "20 mm" in f[0].message
        assert check_timepoint_read(read(n18), criteria=RECIST) == []  # >= 15 mm by RECIST
        n20 = target("N1", 25.0, organ="porta_hepatis", nodal=True, short_mm=20.0)
        assert check_timepoint_read(read(n20), criteria=MREC) == []

    def test_no_target_makes_subject_not_evaluable(self):
        f = check_timepoint_read(read(non_target("NT1")), criteria=MREC)
        assert codes(f) == [(C.NO_TARGET_LESIONS, None)]
        assert "not evaluable by mRECIST" in f[0].message


BASE = read(
    target("T1", 52.0, viable_mm=40.0),
    target("T2", 31.0, viable_mm=20.0, segment="IV"),
    non_target("NT1"),
)


class TestFollowUp:
    def test_complete_follow_up_has_no_finding(self):
        fu = read(
            target("T1", 40.0, viable_mm=12.0),
            target("T2", state="absent", segment="IV"),
            non_target("NT1", "present"),
            tp="TP1",
            day=42,
        )
        assert check_timepoint_read(fu, criteria=MREC, baseline=BASE) == []
        assert check_timepoint_read(fu, criteria=RECIST, baseline=BASE) == []

    def test_every_baseline_lesion_must_be_assessed(self):
        fu = read(target("T1", 40.0, viable_mm=12.0), tp="TP1", day=42)
        f = check_timepoint_read(fu, criteria=RECIST, baseline=BASE)
        assert codes(f) == [
            (C.BASELINE_LESION_NOT_ASSESSED, "NT1"),
            (C.BASELINE_LESION_NOT_ASSESSED, "T2"),
        ]
        assert all(x.blocking for x in f)

    def test_new_target_at_follow_up_is_refused(self):
        fu = read(
            target("T1", 40.0, viable_mm=12.0),
            target("T2", 30.0, viable_mm=18.0, segment="IV"),
            target("T3", 25.0, viable_mm=25.0, segment="II"),
            non_target("NT1"),
            non_target("NT2", organ="bone"),
            tp="TP1",
            day=42,
        )
        f = check_timepoint_read(fu, criteria=RECIST, baseline=BASE)
        assert codes(f) == [
            (C.NEW_NON_TARGET_AT_FOLLOW_UP, "NT2"),
            (C.NEW_TARGET_AT_FOLLOW_UP, "T3"),
        ]
        assert "new lesion" in f[0].message

    def test_ids_are_kept_from_baseline(self):
        # same lesion (tracking id L-T2) renamed T5; and a T1 with another tracking id
        fu = read(
            target("T1", 40.0, viable_mm=12.0, tid="L-other"),
            target("T5", 30.0, viable_mm=18.0, segment="IV", tid="L-T2"),
            non_target("NT1"),
            tp="TP1",
            day=42,
        )
        f = check_timepoint_read(fu, criteria=RECIST, baseline=BASE)
        assert codes(f) == [(C.LESION_ID_CHANGED, "T1"), (C.LESION_ID_CHANGED, "T5")]
        renamed = next(x for x in f if x.lesion == "T5")
        assert "rename it T2" in renamed.message

    def test_role_is_fixed_at_baseline(self):
        fu = read(
            target("T1", 40.0, viable_mm=12.0),
            target("T2", 30.0, viable_mm=18.0, segment="IV"),
            LesionAssessment(
                Lesion("L-NT1", "NT1", "target", "lung"), measurement=Measurement("measured", 14.0)
            ),
            tp="TP1",
            day=42,
        )
        f = check_timepoint_read(fu, criteria=RECIST, baseline=BASE)
        assert codes(f) == [(C.LESION_ROLE_CHANGED, "NT1")]

    def test_not_evaluated_target_is_a_warning(self):
        fu = read(
            target("T1", state="not_evaluated"),
            target("T2", 30.0, viable_mm=18.0, segment="IV"),
            non_target("NT1"),
            tp="TP1",
            day=42,
        )
        f = check_timepoint_read(fu, criteria=RECIST, baseline=BASE)
        assert codes(f) == [(C.TARGET_NOT_EVALUATED, "T1")]
        assert not has_blocking_findings(f) and "NE" in f[0].message

    def test_mrecist_needs_viable_diameter_at_follow_up(self):
        fu = read(
            target("T1", 40.0),
            target("T2", 30.0, viable_mm=18.0, segment="IV"),
            non_target("NT1"),
            tp="TP1",
            day=42,
        )
        f = check_timepoint_read(fu, criteria=MREC, baseline=BASE)
        assert codes(f) == [(C.VIABLE_DIAMETER_MISSING, "T1")]
        assert check_timepoint_read(fu, criteria=RECIST, baseline=BASE) == []

    def test_mrecist_new_lesion_below_1_cm_is_equivocal(self):
        # mRECIST: a new intrahepatic lesion is HCC when >= 1 cm with the typical pattern
        common = (target("T1", 40.0, viable_mm=12.0), target("T2", 30.0, viable_mm=18.0,
                  segment="IV"), non_target("NT1"))  # fmt: skip
        small = read(*common, new_lesion("NEW1", 8.0), new="unequivocal", tp="TP1", day=42)
        f = check_timepoint_read(small, criteria=MREC, baseline=BASE)
        assert codes(f) == [(C.NEW_LESION_EQUIVOCAL, None)]
        assert f[0].severity is Severity.WARNING
        assert check_timepoint_read(small, criteria=RECIST, baseline=BASE) == []
        big = read(*common, new_lesion("NEW1", 12.0), new="unequivocal", tp="TP1", day=42)
        assert check_timepoint_read(big, criteria=MREC, baseline=BASE) == []

    def test_baseline_of_another_subject_is_refused(self):
        other = TimepointRead(Subject("HCC-002"), Timepoint("TP0", dt.date(2024, 1, 8)),
                              "reader1", lesions=(target("T1", 30.0),))  # fmt: skip
        fu = read(target("T1", 30.0), tp="TP1", day=42)
        with pytest.raises(CriteriaError, match="HCC-002"):
            check_timepoint_read(fu, criteria=RECIST, baseline=other)


class TestViableInsideLesion:
    """Review finding: a viable diameter longer than the lesion's long axis was accepted."""

    def test_viable_longer_than_long_axis_blocks_at_baseline(self):
        # viable 45 mm > long axis 40 mm + 1 mm tolerance: impossible, the viable part is inside
        f = check_timepoint_read(read(target("T1", 40.0, viable_mm=45.0)), criteria=MREC)
        assert codes(f) == [(C.VIABLE_EXCEEDS_LONG_AXIS, "T1")]
        assert f[0].blocking
        assert f[0].message.startswith(
            "T1: viable diameter 45 mm exceeds the lesion's long axis 40 mm: the viable part "
            "lies inside the lesion; redraw one of the lines"
        )
        # RECIST 1.1 does not sum the viable diameter, but the pair is still impossible
        assert codes(check_timepoint_read(read(target("T1", 40.0, viable_mm=45.0)),
                                          criteria=RECIST)) == [(C.VIABLE_EXCEEDS_LONG_AXIS, "T1")]  # fmt: skip

    def test_tolerance_is_the_criteria_parameter(self):
        # 40.8 <= 40 + 1.0: drawing tolerance, accepted; 41.5 > 41.0 refused; 0.5 mm: 40.8 refused
        assert MREC.viable_over_long_axis_tolerance_mm == 1.0
        assert check_timepoint_read(read(target("T1", 40.0, viable_mm=40.8)), criteria=MREC) == []
        assert codes(
            check_timepoint_read(read(target("T1", 40.0, viable_mm=41.5)), criteria=MREC)
        ) == [(C.VIABLE_EXCEEDS_LONG_AXIS, "T1")]
        strict = MRecistCriteria(viable_over_long_axis_tolerance_mm=0.5)
        assert codes(
            check_timepoint_read(read(target("T1", 40.0, viable_mm=40.8)), criteria=strict)
        ) == [(C.VIABLE_EXCEEDS_LONG_AXIS, "T1")]

    def test_viable_longer_than_long_axis_blocks_at_follow_up(self):
        base = read(target("T1", 40.0, viable_mm=30.0))
        fu = read(target("T1", 35.0, viable_mm=38.0), tp="TP1", day=42)
        f = check_timepoint_read(fu, criteria=MREC, baseline=base)
        assert codes(f) == [(C.VIABLE_EXCEEDS_LONG_AXIS, "T1")]
        assert "viable diameter 38 mm exceeds the lesion's long axis 35 mm" in f[0].message


class TestApi:
    def test_criteria_by_name_and_bad_slice_thickness(self):
        r = read(target("T1", 9.0, organ="lung"))
        assert codes(check_timepoint_read(r, criteria="recist1.1")) == [
            (C.TARGET_NOT_MEASURABLE, "T1")
        ]
        with pytest.raises(CriteriaError, match="slice_thickness_mm"):
            check_timepoint_read(r, criteria=RECIST, slice_thickness_mm=0.0)

    def test_finding_is_validated_and_readable(self):
        f = Finding(C.TOO_MANY_TARGETS, "blocking", None, "6 targets; make one a non-target.")
        assert f.severity is Severity.BLOCKING and f.blocking
        assert "BLOCKING too_many_targets" in repr(f)
        with pytest.raises(CriteriaError):
            Finding(C.TOO_MANY_TARGETS, "fatal", None, "x")
        with pytest.raises(CriteriaError):
            Finding(C.TOO_MANY_TARGETS, Severity.WARNING, None, " ")

    def test_thresholds_are_criteria_fields(self):
        # the same 12 mm lung lesion passes once the parameter says 12 mm is enough
        r = read(target("T1", 12.0, organ="lung"))
        strict = Recist11Criteria(min_measurable_mm=15.0)
        assert codes(check_timepoint_read(r, criteria=strict)) == [(C.TARGET_NOT_MEASURABLE, "T1")]
        assert check_timepoint_read(r, criteria=RECIST) == []
