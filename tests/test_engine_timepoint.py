"""Timepoint derivation on whole timelines: sums, nadir, split/merged lesions, lesion-set checks.

Sources: RECIST 1.1 (Eisenhauer et al. 2009) 3.3.1 (at most 5 targets, 2 per organ), 4.3.1
(nadir, nodes), appendix I (too small = 5 mm, split and coalescent lesions); mRECIST (Lencioni &
Llovet 2010: at most 2 intrahepatic targets, porta hepatis nodes malignant from 2 cm, new lesions).
"""

from __future__ import annotations

import datetime as dt

import pytest

from readerstation.criteria import MRecistCriteria, NewLesionCall, Recist11Criteria, Response
from readerstation.engine import Timeline, derive_subject_response, derive_timepoints
from readerstation.errors import CriteriaError

R = Response
START = dt.date(2022, 1, 10)
RECIST = Recist11Criteria()
MREC = MRecistCriteria()


def day(n: int) -> str:
    return (START + dt.timedelta(days=n)).isoformat()


def tgt(lesion, d, *, organ="liver", nodal=False, **extra):
    return {"lesion": lesion, "organ": organ, "nodal": nodal, "diameter_mm": d, **extra}


def subject(visits, *, sid="S01"):
    """visits: list of (day, targets, non_targets, new_lesions); the first is the baseline."""
    assessments = [
        {"date": day(d), "targets": t, "non_targets": nt, "new_lesions": new}
        for d, t, nt, new in visits
    ]
    data = {"subjects": [{"subject": sid, "treatment_start": day(0), "assessments": assessments}]}
    return Timeline.from_json(data).subjects[0]


def test_sums_changes_and_nadir():
    s = subject(
        [
            (-5, [tgt("T1", 30.0), tgt("T2", 20.0, organ="lung")], [], "none"),
            (42, [tgt("T1", 20.0), tgt("T2", 15.0, organ="lung")], [], "none"),  # 35: -30 %
            (84, [tgt("T1", 20.0), tgt("T2", None, organ="lung")], [], "none"),  # NE
            (126, [tgt("T1", 25.0), tgt("T2", 17.0, organ="lung")], [], "none"),  # 42
        ]
    )
    tps, _ = derive_timepoints(s, RECIST)
    assert [tp.sum_mm for tp in tps] == [50.0, 35.0, None, 42.0]
    assert tps[1].change_from_baseline_pct == pytest.approx(-30.0)
    assert [tp.overall_response for tp in tps] == [None, R.PR, R.NE, R.PD]
    # nadir 35 (the NE timepoint never becomes the nadir): 42 is +20 % and +7 mm -> PD
    assert tps[3].change_from_nadir_pct == pytest.approx(20.0)
    assert tps[3].change_from_baseline_pct == pytest.approx(-16.0)
    assert tps[0].target_response is None and tps[0].overall_response is None


def test_too_small_and_absent():
    s = subject(
        [
            (-5, [tgt("T1", 40.0), tgt("T2", 20.0, organ="lung")], [], "none"),
            (42, [tgt("T1", "too_small"), tgt("T2", "absent", organ="lung")], [], "none"),
            (84, [tgt("T1", "absent"), tgt("T2", "absent", organ="lung")], [], "none"),
        ]
    )
    tps, _ = derive_timepoints(s, RECIST)
    # too small = 5 mm, absent = 0 mm (appendix I): 5 of 60 mm -> PR; all gone -> CR
    assert tps[1].sum_mm == 5.0 and tps[1].target_response is R.PR
    assert tps[2].sum_mm == 0.0 and tps[2].overall_response is R.CR


def test_split_lesion_fragments_are_added():
    # appendix I: fragments of a split lesion are added: 18 + 14 = 32 mm
    s = subject(
        [
            (-5, [tgt("T1", 40.0)], [], "none"),
            (42, [tgt("T1", 18.0), tgt("T1", 14.0)], [], "none"),
        ]
    )
    tps, _ = derive_timepoints(s, RECIST)
    assert tps[1].sum_mm == 32.0 and tps[1].target_response is R.SD  # -20 %


def test_merged_lesions_count_once():
    # appendix I: coalesced lesions: the merged one is 0, the other carries the whole diameter
    s = subject(
        [
            (-5, [tgt("T1", 30.0), tgt("T2", 20.0)], [], "none"),
            (42, [tgt("T1", 45.0), tgt("T2", "absent", merged_into="T1")], [], "none"),
        ]
    )
    tps, _ = derive_timepoints(s, RECIST)
    assert tps[1].sum_mm == 45.0 and tps[1].target_response is R.SD


def test_lymph_node_normal_below_10_mm():
    s = subject(
        [
            (-5, [tgt("T1", 30.0), tgt("N1", 18.0, organ="lymph node", nodal=True)], [], "none"),
            (42, [tgt("T1", "absent"), tgt("N1", 9.0, organ="lymph node", nodal=True)], [], "none"),
        ]
    )
    tps, _ = derive_timepoints(s, RECIST)
    assert tps[1].sum_mm == 9.0 and tps[1].target_response is R.CR


def test_lesion_reappearing_after_cr_is_pd():
    s = subject(
        [
            (-5, [tgt("T1", 30.0)], [{"lesion": "NT1", "status": "present"}], "none"),
            (42, [tgt("T1", "absent")], [{"lesion": "NT1", "status": "absent"}], "none"),
            (84, [tgt("T1", 4.0)], [{"lesion": "NT1", "status": "absent"}], "none"),
        ]
    )
    tps, _ = derive_timepoints(s, RECIST)
    assert tps[1].overall_response is R.CR
    assert tps[2].target_response is R.PD and tps[2].overall_response is R.PD


def test_non_target_and_new_lesion_columns():
    s = subject(
        [
            (-5, [tgt("T1", 30.0)], [{"lesion": "NT1", "status": "present"}], "none"),
            (42, [tgt("T1", 29.0)], [{"lesion": "NT1", "status": "not_evaluated"}], "equivocal"),
            (84, [tgt("T1", 29.0)], [], "unequivocal"),
        ]
    )
    tps, _ = derive_timepoints(s, RECIST)
    assert tps[1].non_target_response is R.NE and tps[1].new_lesions is NewLesionCall.EQUIVOCAL
    assert tps[1].overall_response is R.SD  # Table 1: SD + not all evaluated -> SD
    assert tps[2].non_target_response is R.NE and tps[2].overall_response is R.PD


def test_mrecist_new_lesion_objects_confirmed_by_growth():
    # mRECIST: an atypical 8 mm nodule is equivocal; at 19 mm (>= 1 cm growth) it is HCC -> PD
    nl = lambda d: [{"lesion": "N1", "organ": "liver", "diameter_mm": d, "typical_hcc": False}]  # noqa: E731
    s = subject(
        [
            (-5, [tgt("T1", 40.0)], [], "none"),
            (42, [tgt("T1", 30.0)], [], nl(8.0)),
            (84, [tgt("T1", 30.0)], [], nl(19.0)),
        ]
    )
    res = derive_subject_response(s, MREC)
    tps = res.timepoints
    assert tps[1].new_lesions is NewLesionCall.EQUIVOCAL and tps[1].overall_response is R.SD
    assert tps[2].new_lesions is NewLesionCall.UNEQUIVOCAL and tps[2].overall_response is R.PD
    # the progression date goes back to the first (equivocal) sighting
    assert res.progression_date == START + dt.timedelta(days=42)


class TestLesionSetChecks:
    def test_at_most_two_intrahepatic_targets(self):
        s = subject([(-5, [tgt("T1", 30.0), tgt("T2", 20.0), tgt("T3", 15.0)], [], "none")])
        with pytest.raises(CriteriaError, match=r"subject S01, assessment 1 .*field targets"):
            derive_timepoints(s, MREC)
        relaxed = MRecistCriteria(max_intrahepatic_targets=3, max_targets_per_organ=3)
        derive_timepoints(s, relaxed)  # accepted when the parameter allows it

    def test_at_most_five_targets(self):
        organs = ["liver", "lung", "adrenal", "bone", "spleen", "kidney"]
        s = subject([(-5, [tgt(f"T{i}", 20.0, organ=o) for i, o in enumerate(organs)], [], "none")])
        with pytest.raises(CriteriaError, match="at most 5 targets"):
            derive_timepoints(s, RECIST)

    def test_measurability(self):
        s = subject([(-5, [tgt("T1", 9.0)], [], "none")])
        with pytest.raises(CriteriaError, match=r"targets\[0\]\.diameter_mm.*10 mm"):
            derive_timepoints(s, RECIST)
        node = subject([(-5, [tgt("N1", 17.0, organ="porta_hepatis", nodal=True)], [], "none")])
        derive_timepoints(node, RECIST)  # >= 15 mm short axis: a RECIST target
        with pytest.raises(CriteriaError, match="20 mm"):
            derive_timepoints(node, MREC)  # porta hepatis nodes need 2 cm under mRECIST

    def test_follow_up_refers_to_baseline_lesions_only(self):
        s = subject([(-5, [tgt("T1", 30.0)], [], "none"), (42, [tgt("T9", 30.0)], [], "none")])
        with pytest.raises(CriteriaError, match=r"assessment 2 \(2022-02-21\), field targets\[0\]"):
            derive_timepoints(s, RECIST)

    def test_missing_baseline_target_diameter(self):
        s = subject([(-5, [tgt("T1", None)], [], "none")])
        with pytest.raises(CriteriaError, match="measured diameter"):
            derive_timepoints(s, RECIST)

    def test_mrecist_mixed_enhancing_and_non_enhancing_targets(self):
        s = subject([(-5, [tgt("T1", 30.0), tgt("T2", "absent", organ="lung")], [], "none")])
        with pytest.raises(CriteriaError, match="non-target"):
            derive_timepoints(s, MREC)


class TestParsing:
    def _bad(self, assessment_patch, match):
        base = {
            "date": day(-5),
            "targets": [tgt("T1", 30.0)],
            "non_targets": [],
            "new_lesions": "none",
        }
        fu = {
            "date": day(42),
            "targets": [tgt("T1", 30.0)],
            "non_targets": [],
            "new_lesions": "none",
        }
        fu.update(assessment_patch)
        data = {
            "subjects": [{"subject": "S07", "treatment_start": day(0), "assessments": [base, fu]}]
        }
        with pytest.raises(CriteriaError, match=match):
            Timeline.from_json(data)

    def test_errors_name_subject_assessment_and_field(self):
        self._bad(
            {"targets": [tgt("T1", -3.0)]},
            r"subject S07, assessment 2 \(2022-02-21\), field targets\[0\]\.diameter_mm",
        )
        self._bad({"targets": [tgt("T1", "gone")]}, "too_small")
        self._bad(
            {"non_targets": [{"lesion": "NT1", "status": "bigger"}]}, r"non_targets\[0\]\.status"
        )
        self._bad({"new_lesions": "maybe"}, "new_lesions")
        self._bad({"date": "2022-13-01"}, "field date")
        self._bad({"date": day(-5)}, "after the previous assessment")

    def test_response_only_assessment(self):
        data = {
            "subjects": [
                {
                    "subject": "S08",
                    "treatment_start": day(0),
                    "assessments": [{"date": day(-5)}, {"date": day(42), "overall_response": "SD"}],
                }
            ]
        }
        s = Timeline.from_json(data).subjects[0]
        assert s.response_only
        bad = {
            "subjects": [
                {
                    **data["subjects"][0],
                    "assessments": [
                        {"date": day(-5)},
                        {"date": day(42), "overall_response": "GOOD"},
                    ],
                }
            ]
        }
        with pytest.raises(CriteriaError, match="overall_response"):
            Timeline.from_json(bad)


class TestReviewFindings:
    """Cases found in the independent review (each failed before its fix)."""

    def test_lymph_nodes_are_one_organ(self):
        # RECIST 1.1 Q&A (EORTC, "Two target lesions"): "Nodes are considered to be one organ":
        # three nodal targets in three regions exceed the 2-per-organ limit
        nodes = [
            tgt("N1", 20.0, organ="mediastinum", nodal=True),
            tgt("N2", 18.0, organ="retroperitoneum", nodal=True),
            tgt("N3", 16.0, organ="porta_hepatis", nodal=True),
        ]
        s = subject([(-5, nodes, [], "none")])
        with pytest.raises(CriteriaError, match="per organ"):
            derive_timepoints(s, RECIST)
        derive_timepoints(subject([(-5, nodes[:2], [], "none")]), RECIST)  # two are fine

    def test_intrahepatic_limit_is_its_own_parameter(self):
        # mRECIST "up to two intrahepatic targets" as a parameter: raising it alone allows 3
        s = subject([(-5, [tgt("T1", 30.0), tgt("T2", 20.0), tgt("T3", 15.0)], [], "none")])
        derive_timepoints(s, MRecistCriteria(max_intrahepatic_targets=3))

    def test_assessment_with_only_new_lesions_is_pd_not_ne(self):
        # RECIST 1.1 Table 1 "Any | Any | Yes | PD": a follow-up that records only an
        # unequivocal new lesion (targets not re-imaged) is PD; before the fix it was read as a
        # "not done" response-only assessment (NE)
        s = Timeline.from_json(
            {
                "subjects": [
                    {
                        "subject": "S01",
                        "treatment_start": day(0),
                        "assessments": [
                            {"date": day(-5), "targets": [tgt("T1", 30.0)]},
                            {"date": day(42), "new_lesions": "unequivocal"},
                        ],
                    }
                ]
            }
        ).subjects[0]
        tps, _ = derive_timepoints(s, RECIST)
        assert tps[1].target_response is R.NE  # T1 not evaluated
        assert tps[1].overall_response is R.PD
        res = derive_subject_response(s, RECIST)
        assert res.progression_date == START + dt.timedelta(days=42)

    def test_missing_target_after_cr_with_reappearance_is_pd(self):
        s = subject(
            [
                (-5, [tgt("T1", 30.0), tgt("T2", 20.0, organ="lung")], [], "none"),
                (42, [tgt("T1", "absent"), tgt("T2", "absent", organ="lung")], [], "none"),
                (84, [tgt("T1", 3.0), tgt("T2", None, organ="lung")], [], "none"),
            ]
        )
        tps, _ = derive_timepoints(s, RECIST)
        assert tps[1].overall_response is R.CR
        assert tps[2].overall_response is R.PD

    def test_survival_dates_before_treatment_start_are_refused(self):
        data = {
            "subjects": [
                {
                    "subject": "S09",
                    "treatment_start": day(0),
                    "death_date": day(-2),
                    "assessments": [{"date": day(-5), "targets": [tgt("T1", 30.0)]}],
                }
            ]
        }
        with pytest.raises(CriteriaError, match=r"subject S09, field death_date.*treatment_start"):
            Timeline.from_json(data)
        data["subjects"][0]["death_date"] = None
        data["subjects"][0]["last_known_alive"] = day(-1)
        with pytest.raises(CriteriaError, match=r"subject S09, field last_known_alive"):
            Timeline.from_json(data)
