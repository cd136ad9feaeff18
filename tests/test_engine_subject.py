"""Best overall response, confirmation, TTR, DOR and PFS: worked examples from the criteria.

Sources: RECIST 1.1 (Eisenhauer et al. 2009) section 4.4 and Table 3 (best overall response when
confirmation is required); RECIST FAQ (Schwartz et al. 2016); FDA 2018 endpoint guidance (PFS
censoring table). Day numbers are days from treatment start; expected dates and day counts are
computed by hand from those rules.
"""

from __future__ import annotations

import datetime as dt

import pytest

from readerstation.criteria import MRecistCriteria, Recist11Criteria, Response
from readerstation.engine import SubjectTimeline, Timeline, derive_subject_response

R = Response
START = dt.date(2022, 1, 10)
RECIST = Recist11Criteria()


def day(n: int) -> str:
    return (START + dt.timedelta(days=n)).isoformat()


def responses(visits, *, death=None, alive=None, start=START) -> SubjectTimeline:
    """A response-only subject: baseline at day -5, then ``(day, response)`` pairs."""
    assessments = [{"date": day(-5)}] + [{"date": day(d), "overall_response": r} for d, r in visits]
    data = {
        "subjects": [
            {
                "subject": "S01",
                "treatment_start": start.isoformat(),
                "death_date": None if death is None else day(death),
                "last_known_alive": None if alive is None else day(alive),
                "assessments": assessments,
            }
        ]
    }
    return Timeline.from_json(data).subjects[0]


def bor(visits, criteria=RECIST, **kw):
    r = derive_subject_response(responses(visits, **kw), criteria)
    return r.best_overall_response, r.best_overall_response_unconfirmed


# RECIST 1.1 Table 3 (first / subsequent timepoint -> BOR), SD minimum 35 days after start.
# "Min met": the first timepoint at day 42 (>= 35). "Not met": first timepoint at day 21 (< 35).
TABLE_3 = [
    ("CR, CR -> CR", [(42, "CR"), (84, "CR")], R.CR),
    ("CR, PR -> PR (the first CR was a PR)", [(42, "CR"), (84, "PR")], R.PR),
    ("CR, SD -> SD (min met)", [(42, "CR"), (84, "SD")], R.SD),
    ("CR, PD -> SD (min met)", [(42, "CR"), (84, "PD")], R.SD),
    ("CR, PD -> PD (min not met)", [(21, "CR"), (30, "PD")], R.PD),
    ("CR, NE -> SD (min met)", [(42, "CR"), (84, "NE")], R.SD),
    ("CR, NE -> NE (min not met)", [(21, "CR"), (30, "NE")], R.NE),
    ("PR, CR -> PR", [(42, "PR"), (84, "CR")], R.PR),
    ("PR, PR -> PR", [(42, "PR"), (84, "PR")], R.PR),
    ("PR, SD -> SD", [(42, "PR"), (84, "SD")], R.SD),
    ("PR, PD -> SD (min met)", [(42, "PR"), (84, "PD")], R.SD),
    ("PR, PD -> PD (min not met)", [(21, "PR"), (30, "PD")], R.PD),
    ("PR, NE -> SD (min met)", [(42, "PR"), (84, "NE")], R.SD),
    ("PR, NE -> NE (min not met)", [(21, "PR"), (30, "NE")], R.NE),
    ("NE, NE -> NE", [(42, "NE"), (84, "NE")], R.NE),
]


@pytest.mark.parametrize(("label", "visits", "expected"), TABLE_3, ids=[t[0] for t in TABLE_3])
def test_table_3_best_overall_response(label, visits, expected):
    assert bor(visits)[0] is expected


class TestConfirmation:
    def test_interval_is_inclusive_28_days(self):
        # RECIST 1.1 4.6: confirmation "no less than 4 weeks" after: day 42 -> day 70 confirms
        assert bor([(42, "PR"), (70, "PR")])[0] is R.PR
        # 27 days is too early: unconfirmed PR counts as SD
        assert bor([(42, "PR"), (69, "PR")])[0] is R.SD

    def test_confirm_days_parameter(self):
        strict = Recist11Criteria(confirm_days=56)
        assert bor([(42, "PR"), (84, "PR")], criteria=strict)[0] is R.SD
        assert bor([(42, "PR"), (98, "PR")], criteria=strict)[0] is R.PR

    def test_cr_needs_only_cr_or_ne_between(self):
        # CR, PR, CR: the PR between breaks the CR confirmation; PR level is confirmed
        assert bor([(42, "CR"), (63, "PR"), (84, "CR")])[0] is R.PR
        assert bor([(42, "CR"), (63, "NE"), (84, "CR")])[0] is R.CR

    def test_pr_allows_cr_pr_ne_between_not_sd(self):
        assert bor([(42, "PR"), (56, "CR"), (84, "PR")])[0] is R.PR
        # PR, SD, PR: SD between -> no confirmation; best is SD
        assert bor([(42, "PR"), (84, "SD"), (126, "PR")])[0] is R.SD

    def test_at_most_one_ne_between(self):
        assert bor([(42, "PR"), (84, "NE"), (126, "PR")])[0] is R.PR
        assert bor([(42, "PR"), (84, "NE"), (126, "NE"), (168, "PR")])[0] is R.SD
        loose = Recist11Criteria(max_ne_between=2)
        assert bor([(42, "PR"), (84, "NE"), (126, "NE"), (168, "PR")], criteria=loose)[0] is R.PR

    def test_unconfirmed_best_response(self):
        assert bor([(42, "CR"), (84, "PD")]) == (R.SD, R.CR)
        assert bor([(42, "PR")]) == (R.SD, R.PR)

    def test_confirmed_pr_holds_through_later_sd(self):
        # RECIST FAQ: after a confirmed PR, a later rise that is not PD stays PR
        res = derive_subject_response(
            responses([(42, "PR"), (84, "PR"), (126, "SD"), (168, "NE"), (210, "PD")]), RECIST
        )
        overall = [tp.overall_response for tp in res.timepoints[1:]]
        assert overall == [R.PR, R.PR, R.PR, R.NE, R.PD]


class TestWindowAndSdMinimum:
    def test_only_assessments_up_to_first_pd_count(self):
        # CR, CR after a PD do not count: PD at day 42 then nothing counts
        assert bor([(42, "PD"), (84, "CR"), (126, "CR")])[0] is R.PD

    def test_assessments_before_treatment_start_do_not_count(self):
        # a scan 3 days before start (after baseline) is not a post-baseline assessment
        s = responses([(-3, "PR"), (42, "SD")])
        assert derive_subject_response(s, RECIST).best_overall_response is R.SD

    def test_no_post_baseline_assessment_is_ne(self):
        assert bor([]) == (R.NE, R.NE)

    def test_missing_response_counts_ne(self):
        assert bor([(42, None), (84, None)])[0] is R.NE

    def test_sd_minimum_is_inclusive(self):
        assert bor([(35, "SD")])[0] is R.SD
        assert bor([(34, "SD")])[0] is R.NE
        # SD too early, then PD: PD (RECIST Table 3 "otherwise PD")
        assert bor([(30, "SD"), (60, "PD")])[0] is R.PD
        assert bor([(34, "SD")], criteria=Recist11Criteria(sd_min_days=28))[0] is R.SD

    def test_non_target_only_subject_best_is_non_cr_non_pd(self):
        tl = Timeline.from_json(
            {
                "subjects": [
                    {
                        "subject": "S02",
                        "treatment_start": day(0),
                        "assessments": [
                            {
                                "date": day(-5),
                                "non_targets": [{"lesion": "NT1", "status": "present"}],
                            },
                            {
                                "date": day(42),
                                "non_targets": [{"lesion": "NT1", "status": "present"}],
                            },
                            {
                                "date": day(84),
                                "non_targets": [{"lesion": "NT1", "status": "present"}],
                            },
                        ],
                    }
                ]
            }
        )
        res = derive_subject_response(tl.subjects[0], RECIST)
        assert res.best_overall_response is R.NON_CR_NON_PD
        assert res.timepoints[1].target_response is None
        assert res.timepoints[1].overall_response is R.NON_CR_NON_PD


class TestTimesAndPfs:
    def test_ttr_dor_and_progression(self):
        # PR day 42 confirmed day 84, PD day 168: TTR 42, DOR 168 - 42 = 126 (event), PFS 168
        res = derive_subject_response(
            responses([(42, "PR"), (84, "PR"), (126, "PR"), (168, "PD")]), RECIST
        )
        assert res.first_response_date == START + dt.timedelta(days=42)
        assert res.time_to_response_days == 42
        assert (res.duration_of_response_days, res.dor_event) == (126, True)
        assert res.progression_date == START + dt.timedelta(days=168)
        assert (res.pfs_days, res.pfs_event) == (168, True)
        assert res.last_adequate_date == START + dt.timedelta(days=126)

    def test_first_response_date_is_first_assessment_of_confirmed_response(self):
        # PR day 42 (unconfirmed: SD follows), PR day 126, CR day 168, CR day 210:
        # the confirmed response starts at day 126 (PR confirmed by the CR), BOR CR
        res = derive_subject_response(
            responses([(42, "PR"), (84, "SD"), (126, "PR"), (168, "CR"), (210, "CR")]), RECIST
        )
        assert res.best_overall_response is R.CR
        assert res.time_to_response_days == 126
        # no progression: DOR censored at the last adequate assessment (day 210)
        assert (res.duration_of_response_days, res.dor_event) == (84, False)

    def test_no_first_response_date_without_confirmed_response(self):
        res = derive_subject_response(responses([(42, "PR"), (84, "SD")]), RECIST)
        assert res.first_response_date is None
        assert res.time_to_response_days is None and res.duration_of_response_days is None

    def test_pfs_censored_at_last_adequate_assessment(self):
        # FDA 2018: no progression -> censored at the date of last adequate assessment (an NE
        # assessment is not adequate)
        res = derive_subject_response(responses([(42, "SD"), (84, "SD"), (126, "NE")]), RECIST)
        assert (res.pfs_days, res.pfs_event, res.progression_date) == (84, False, None)

    def test_death_without_progression_is_an_event(self):
        res = derive_subject_response(responses([(42, "SD"), (84, "SD")], death=100), RECIST)
        assert (res.pfs_days, res.pfs_event) == (100, True)
        assert res.progression_date is None  # death is the PFS event
        assert (res.os_days, res.os_event) == (100, True)

    def test_event_after_two_missed_assessments_is_censored(self):
        # 6-weekly imaging: last adequate day 84; PD at day 210 follows 2 missed visits (126,
        # 168) -> censored at day 84 (FDA 2018). One missed visit (PD day 168) -> event.
        res = derive_subject_response(responses([(42, "SD"), (84, "SD"), (210, "PD")]), RECIST)
        assert (res.pfs_days, res.pfs_event) == (84, False)
        res = derive_subject_response(responses([(42, "SD"), (84, "SD"), (168, "PD")]), RECIST)
        assert (res.pfs_days, res.pfs_event) == (168, True)
        res = derive_subject_response(responses([(42, "SD"), (84, "SD")], death=300), RECIST)
        assert (res.pfs_days, res.pfs_event) == (84, False)

    def test_no_adequate_assessment_censored_at_start(self):
        res = derive_subject_response(responses([(42, "NE")]), RECIST)
        assert (res.pfs_days, res.pfs_event) == (0, False)
        # death within two intervals of start with no assessment: event at death
        res = derive_subject_response(responses([], death=30), RECIST)
        assert (res.pfs_days, res.pfs_event) == (30, True)

    def test_os_censored_at_last_known_alive(self):
        res = derive_subject_response(responses([(42, "SD")], alive=400), RECIST)
        assert (res.os_days, res.os_event) == (400, False)


def _meas(visits, criteria=RECIST):
    """Measurement subject: one liver target; visits = (day, diameter, new_lesions)."""
    assessments = []
    for d, diam, new in [(-5, 50.0, "none"), *visits]:
        assessments.append(
            {
                "date": day(d),
                "targets": [
                    {"lesion": "T1", "organ": "liver", "nodal": False, "diameter_mm": diam}
                ],
                "non_targets": [],
                "new_lesions": new,
            }
        )
    tl = Timeline.from_json(
        {"subjects": [{"subject": "S03", "treatment_start": day(0), "assessments": assessments}]}
    )
    return derive_subject_response(tl.subjects[0], criteria)


def test_equivocal_new_lesion_confirmed_dates_progression_back():
    # RECIST 1.1 4.3.3: equivocal new lesion at day 84, unequivocal at day 126 -> PD is dated
    # day 84 (the initial scan); day 84 itself is not PD
    res = _meas([(42, 45.0, "none"), (84, 45.0, "equivocal"), (126, 45.0, "unequivocal")])
    assert res.timepoints[2].overall_response is R.SD
    assert res.timepoints[3].overall_response is R.PD
    assert res.progression_date == START + dt.timedelta(days=84)
    assert (res.pfs_days, res.pfs_event) == (84, True)


def test_max_change_from_baseline_is_most_negative():
    res = _meas([(42, 40.0, "none"), (84, 30.0, "none"), (126, 37.0, "none")])
    # 30 of 50 mm = -40 %
    assert res.max_change_from_baseline_pct == pytest.approx(-40.0)


def test_mrecist_subject_without_enhancing_target_is_ne():
    # mRECIST: no typical arterially enhancing target at baseline -> NE by mRECIST
    tl = Timeline.from_json(
        {
            "subjects": [
                {
                    "subject": "S04",
                    "treatment_start": day(0),
                    "assessments": [
                        {
                            "date": day(-5),
                            "targets": [
                                {
                                    "lesion": "T1",
                                    "organ": "liver",
                                    "nodal": False,
                                    "diameter_mm": "absent",
                                }
                            ],
                        },
                        {
                            "date": day(42),
                            "targets": [
                                {
                                    "lesion": "T1",
                                    "organ": "liver",
                                    "nodal": False,
                                    "diameter_mm": "absent",
                                }
                            ],
                        },
                    ],
                }
            ]
        }
    )
    res = derive_subject_response(tl.subjects[0], MRecistCriteria())
    assert res.best_overall_response is R.NE and not res.evaluable
    assert res.timepoints[1].overall_response is R.NE


class TestReviewFindings:
    """Edges worked by hand from the rules (RECIST 1.1 Table 3, FDA 2018), added in review."""

    def test_pfs_gap_edge_is_inclusive(self):
        # last adequate day 84; 2 x 42 + 7 = 91 days later (day 175) is still the second
        # scheduled visit's window -> event; day 176 means two visits missed -> censored at 84
        res = derive_subject_response(responses([(42, "SD"), (84, "SD"), (175, "PD")]), RECIST)
        assert (res.pfs_days, res.pfs_event) == (175, True)
        res = derive_subject_response(responses([(42, "SD"), (84, "SD"), (176, "PD")]), RECIST)
        assert (res.pfs_days, res.pfs_event) == (84, False)
        assert res.progression_date == START + dt.timedelta(days=176)  # still reported

    def test_dor_censored_when_pd_follows_missed_assessments(self):
        # PR day 42 confirmed day 84, then PD day 200 (> 84 + 91): DOR censored at the last
        # adequate assessment: 84 - 42 = 42 days, no event
        res = derive_subject_response(responses([(42, "PR"), (84, "PR"), (200, "PD")]), RECIST)
        assert (res.duration_of_response_days, res.dor_event) == (42, False)

    def test_death_is_a_dor_event(self):
        # PR day 42 confirmed day 84, death day 120 (36 days after the last adequate): DOR 78
        res = derive_subject_response(responses([(42, "PR"), (84, "PR")], death=120), RECIST)
        assert (res.duration_of_response_days, res.dor_event) == (78, True)
        assert res.progression_date is None and (res.pfs_days, res.pfs_event) == (120, True)

    def test_os_uses_last_assessment_when_last_known_alive_is_earlier(self):
        # alive at the day-84 assessment even if last_known_alive says day 60
        res = derive_subject_response(responses([(42, "SD"), (84, "SD")], alive=60), RECIST)
        assert (res.os_days, res.os_event) == (84, False)

    def test_table_3_cr_then_reappearance_before_sd_minimum_is_pd(self):
        # Table 3 "CR | SD | SD provided minimum criteria for SD duration met, otherwise PD" and
        # footnote a: after a true CR any disease seen later is PD. Measured: CR day 21,
        # T1 back at 8 mm day 30 -> timepoint PD; CR at day 21 < 35 -> BOR PD
        tl = Timeline.from_json(
            {
                "subjects": [
                    {
                        "subject": "S05",
                        "treatment_start": day(0),
                        "assessments": [
                            {"date": day(-5), "targets": [_t(40.0)]},
                            {"date": day(21), "targets": [_t("absent")]},
                            {"date": day(30), "targets": [_t(8.0)]},
                        ],
                    }
                ]
            }
        )
        res = derive_subject_response(tl.subjects[0], RECIST)
        assert [tp.overall_response for tp in res.timepoints[1:]] == [R.CR, R.PD]
        assert res.best_overall_response is R.PD

    def test_ne_timepoint_is_not_the_nadir_for_bor(self):
        # 50 -> 30 (PR) day 42; day 84 T1 not evaluated (NE); day 126 36 mm: +20 %, +6 mm over
        # the 30 mm nadir -> PD; the PR at day 42 is unconfirmed (NE, then PD) -> BOR SD
        res = _meas([(42, 30.0, "none"), (84, None, "none"), (126, 36.0, "none")])
        assert [tp.overall_response for tp in res.timepoints[1:]] == [R.PR, R.NE, R.PD]
        assert res.best_overall_response is R.SD
        assert res.timepoints[3].change_from_nadir_pct == pytest.approx(20.0)


def _t(d):
    return {"lesion": "T1", "organ": "liver", "nodal": False, "diameter_mm": d}
