"""RECIST 1.1 Tables 1-2 and the timepoint rules, each with a worked example from the papers.

Sources: Eisenhauer et al., Eur J Cancer 2009;45:228-247 (RECIST 1.1: section 4.3, Tables 1-2,
appendix I); Lencioni & Llovet, Semin Liver Dis 2010;30:52-60 (mRECIST). Expected answers are
read off those texts, not computed by the code under test.
"""

from __future__ import annotations

import pytest

from readerstation.criteria import (
    LesionKind,
    MRecistCriteria,
    NewLesionCall,
    NonTargetStatus,
    Recist11Criteria,
    Response,
    check_pd_increase,
    check_pr_decrease,
    compute_new_lesion_call,
    compute_non_target_response,
    compute_overall_response,
    compute_target_response,
    criteria_from_name,
)
from readerstation.errors import CriteriaError

R = Response
NONE, EQUIV, YES = NewLesionCall.NONE, NewLesionCall.EQUIVOCAL, NewLesionCall.UNEQUIVOCAL
RECIST = Recist11Criteria()
MREC = MRecistCriteria()

# RECIST 1.1 Table 1: subjects with target (+/- non-target) disease.
TABLE_1 = [
    # target, non-target, new lesions -> overall
    (R.CR, R.CR, NONE, R.CR),
    (R.CR, None, NONE, R.CR),  # no non-target lesions at baseline
    (R.CR, R.NON_CR_NON_PD, NONE, R.PR),
    (R.CR, R.NE, NONE, R.PR),  # "CR | Not evaluated | No | PR"
    (R.PR, R.NON_CR_NON_PD, NONE, R.PR),  # "PR | Non-PD or not all evaluated"
    (R.PR, R.NE, NONE, R.PR),
    (R.PR, R.CR, NONE, R.PR),
    (R.SD, R.NON_CR_NON_PD, NONE, R.SD),  # "SD | Non-PD or not all evaluated"
    (R.SD, R.NE, NONE, R.SD),
    (R.SD, R.CR, NONE, R.SD),
    (R.NE, R.NON_CR_NON_PD, NONE, R.NE),  # "Not all evaluated | Non-PD | No | NE"
    (R.NE, R.CR, NONE, R.NE),
    (R.PD, R.NON_CR_NON_PD, NONE, R.PD),  # "PD | Any | Yes or No | PD"
    (R.PD, R.NE, YES, R.PD),
    (R.CR, R.PD, NONE, R.PD),  # "Any | PD | Yes or No | PD"
    (R.PR, R.PD, NONE, R.PD),
    (R.NE, R.PD, NONE, R.PD),
    (R.CR, R.CR, YES, R.PD),  # "Any | Any | Yes | PD"
    (R.SD, R.NE, YES, R.PD),
    (R.NE, R.NE, YES, R.PD),
    (R.CR, R.CR, EQUIV, R.CR),  # equivocal new lesion: not PD (section 4.3.3)
]


@pytest.mark.parametrize(("target", "non_target", "new", "expected"), TABLE_1)
def test_table_1_overall_response(target, non_target, new, expected):
    assert compute_overall_response(target, non_target, new) is expected


# RECIST 1.1 Table 2: subjects with non-target disease only.
TABLE_2 = [
    (R.CR, NONE, R.CR),
    (R.NON_CR_NON_PD, NONE, R.NON_CR_NON_PD),
    (R.NE, NONE, R.NE),  # "Not all evaluated | No | NE"
    (R.PD, NONE, R.PD),  # "Unequivocal PD | Yes or No | PD"
    (R.PD, YES, R.PD),
    (R.CR, YES, R.PD),  # "Any | Yes | PD"
    (R.NON_CR_NON_PD, YES, R.PD),
    (R.NON_CR_NON_PD, EQUIV, R.NON_CR_NON_PD),
]


@pytest.mark.parametrize(("non_target", "new", "expected"), TABLE_2)
def test_table_2_non_target_only(non_target, new, expected):
    assert compute_overall_response(None, non_target, new) is expected


def _target(values, nodal=None, *, base, nadir, criteria=RECIST, after_cr=False):
    return compute_target_response(
        values,
        nodal or [False] * len(values),
        baseline_sum_mm=base,
        nadir_sum_mm=nadir,
        criteria=criteria,
        after_cr=after_cr,
    )


class TestTargetResponse:
    def test_pr_is_at_least_30_percent_below_baseline(self):
        # 50 mm -> 35 mm is exactly -30 %: PR (section 4.3.1 "at least a 30% decrease")
        assert _target([20.0, 15.0], base=50.0, nadir=50.0) is R.PR
        assert _target([20.0, 16.0], base=50.0, nadir=50.0) is R.SD  # -28 %

    def test_pd_needs_20_percent_and_5_mm_over_nadir(self):
        # nadir 20 mm -> 24 mm is +20 % but only +4 mm: not PD by RECIST 1.1 (4.3.1)
        assert _target([24.0], base=30.0, nadir=20.0) is R.SD
        # nadir 20 mm -> 25 mm: +25 % and +5 mm: PD
        assert _target([25.0], base=30.0, nadir=20.0) is R.PD
        # nadir 40 -> 47.9 is +19.75 %: not PD; 48 is +20 %, +8 mm: PD
        assert _target([47.9], base=60.0, nadir=40.0) is R.SD
        assert _target([48.0], base=60.0, nadir=40.0) is R.PD

    def test_pd_is_relative_to_nadir_not_baseline(self):
        # baseline 100, nadir 40, now 50: -50 % from baseline but +25 % / +10 mm over nadir: PD
        assert _target([50.0], base=100.0, nadir=40.0) is R.PD

    def test_cr_allows_nodes_below_10_mm_short_axis(self):
        # non-nodal lesion gone, node 8 mm short axis: CR although the sum is 8 mm (4.3.1)
        assert _target([0.0, 8.0], [False, True], base=40.0, nadir=40.0) is R.CR
        # node still 10 mm: not normal, so not CR (sum 10 of 40 = -75 %: PR)
        assert _target([0.0, 10.0], [False, True], base=40.0, nadir=40.0) is R.PR

    def test_too_small_counts_5_mm_and_is_not_cr(self):
        # a lesion "too small to measure" counts 5 mm (appendix I): 5 of 50 mm -> PR, not CR
        assert _target([RECIST.too_small_mm], base=50.0, nadir=50.0) is R.PR
        assert RECIST.too_small_mm == 5.0

    def test_missing_target_is_ne(self):
        assert _target([30.0, None], base=50.0, nadir=50.0) is R.NE

    def test_missing_target_but_remaining_already_pd(self):
        # appendix I: baseline 50 mm (3 lesions), only two assessed at follow-up, sum 80 mm: PD
        assert _target([40.0, 40.0, None], base=50.0, nadir=50.0) is R.PD

    def test_reappearance_after_cr_is_pd(self):
        # RECIST FAQ: after CR any reappearing lesion is PD, even 3 mm (5 mm rule not needed)
        assert _target([3.0], base=40.0, nadir=0.0, after_cr=True) is R.PD
        assert _target([0.0], base=40.0, nadir=0.0, after_cr=True) is R.CR

    def test_mrecist_pd_has_no_absolute_minimum(self):
        # viable sum nadir 20 mm -> 24 mm: +20 %: PD by mRECIST (no 5 mm rule), SD by RECIST 1.1
        assert _target([24.0], base=30.0, nadir=20.0, criteria=MREC) is R.PD
        assert _target([24.0], base=30.0, nadir=20.0, criteria=RECIST) is R.SD

    def test_mrecist_cr_is_no_enhancement_in_any_target(self):
        # mRECIST CR: "disappearance of any intratumoral arterial enhancement in all targets"
        assert _target([0.0, 0.0], base=60.0, nadir=60.0, criteria=MREC) is R.CR
        # viable sum 60 -> 42 mm = -30 %: PR of the viable sum
        assert _target([30.0, 12.0], base=60.0, nadir=60.0, criteria=MREC) is R.PR

    def test_mrecist_pd_absolute_minimum_is_a_parameter(self):
        strict = MRecistCriteria(pd_absolute_min_mm=5.0)
        assert _target([24.0], base=30.0, nadir=20.0, criteria=strict) is R.SD

    def test_threshold_helpers(self):
        assert check_pr_decrease(35.0, 50.0, RECIST)
        assert not check_pd_increase(0.0, 0.0, MREC)  # no change from a 0 nadir is not PD
        assert check_pd_increase(5.0, 0.0, RECIST)


class TestNonTargetResponse:
    S = NonTargetStatus

    def test_categories(self):
        s = self.S
        assert compute_non_target_response([s.ABSENT, s.ABSENT], criteria=RECIST) is R.CR
        assert (
            compute_non_target_response([s.ABSENT, s.PRESENT], criteria=RECIST) is R.NON_CR_NON_PD
        )
        assert compute_non_target_response([s.PRESENT, s.NOT_EVALUATED], criteria=RECIST) is R.NE
        assert compute_non_target_response([], criteria=RECIST) is None

    def test_mrecist_incomplete_response_is_non_cr_non_pd(self):
        # mRECIST non-target "incomplete response/SD": persistence of intratumoral arterial
        # enhancement in one or more non-targets -> reported as NON-CR/NON-PD; CR when none
        s = self.S
        assert compute_non_target_response([s.PRESENT, s.ABSENT], criteria=MREC) is R.NON_CR_NON_PD
        assert compute_non_target_response([s.ABSENT], criteria=MREC) is R.CR

    def test_unequivocal_progression_is_pd_even_if_others_not_evaluated(self):
        s = self.S
        got = compute_non_target_response(
            [s.UNEQUIVOCAL_PROGRESSION, s.NOT_EVALUATED], criteria=RECIST
        )
        assert got is R.PD

    def test_present_again_after_cr_is_pd(self):
        assert compute_non_target_response([self.S.PRESENT], criteria=RECIST, after_cr=True) is R.PD

    def test_mrecist_effusion_needs_cytology(self):
        # mRECIST: an effusion that appears or worsens is PD only with cytopathologic proof
        s = self.S
        kinds = [LesionKind.EFFUSION]
        got = compute_non_target_response(
            [s.UNEQUIVOCAL_PROGRESSION], kinds=kinds, cytology_confirmed=[False], criteria=MREC
        )
        assert got is R.NON_CR_NON_PD
        got = compute_non_target_response(
            [s.UNEQUIVOCAL_PROGRESSION], kinds=kinds, cytology_confirmed=[True], criteria=MREC
        )
        assert got is R.PD
        # RECIST 1.1 has no such requirement
        got = compute_non_target_response(
            [s.UNEQUIVOCAL_PROGRESSION], kinds=kinds, cytology_confirmed=[False], criteria=RECIST
        )
        assert got is R.PD

    def test_mrecist_portal_vein_thrombosis_is_a_non_target(self):
        # malignant PVT is non-measurable: its unequivocal progression is non-target PD
        got = compute_non_target_response(
            [self.S.UNEQUIVOCAL_PROGRESSION],
            kinds=[LesionKind.PORTAL_VEIN_THROMBOSIS],
            criteria=MREC,
        )
        assert got is R.PD


class TestNewLesions:
    def test_mrecist_typical_hcc_of_1_cm_is_pd(self):
        # mRECIST: a new lesion is HCC if >= 1 cm with the typical vascular pattern
        call = compute_new_lesion_call(diameter_mm=12.0, typical_hcc=True, criteria=MREC)
        assert call is YES
        call = compute_new_lesion_call(diameter_mm=10.0, typical_hcc=True, criteria=MREC)
        assert call is YES

    def test_mrecist_small_or_atypical_is_equivocal(self):
        assert compute_new_lesion_call(diameter_mm=8.0, typical_hcc=True, criteria=MREC) is EQUIV
        assert compute_new_lesion_call(diameter_mm=15.0, typical_hcc=False, criteria=MREC) is EQUIV

    def test_mrecist_equivocal_confirmed_by_1_cm_growth(self):
        # "atypical lesions can be diagnosed as HCC by at least 1-cm interval growth"
        grown = compute_new_lesion_call(
            diameter_mm=18.0, typical_hcc=False, first_seen_diameter_mm=8.0, criteria=MREC
        )
        assert grown is YES
        not_yet = compute_new_lesion_call(
            diameter_mm=15.0, typical_hcc=False, first_seen_diameter_mm=8.0, criteria=MREC
        )
        assert not_yet is EQUIV

    def test_mrecist_new_effusion_needs_cytology_and_new_pvt_is_pd(self):
        eff = LesionKind.EFFUSION
        assert compute_new_lesion_call(kind=eff, criteria=MREC) is EQUIV
        assert compute_new_lesion_call(kind=eff, cytology_confirmed=True, criteria=MREC) is YES
        pvt = LesionKind.PORTAL_VEIN_THROMBOSIS
        assert compute_new_lesion_call(kind=pvt, criteria=MREC) is YES

    def test_mrecist_extrahepatic_new_lesion_follows_recist(self):
        got = compute_new_lesion_call(intrahepatic=False, diameter_mm=6.0, criteria=MREC)
        assert got is YES

    def test_recist_new_lesion_is_unequivocal_unless_flagged(self):
        assert compute_new_lesion_call(diameter_mm=4.0, criteria=RECIST) is YES
        assert compute_new_lesion_call(equivocal=True, criteria=RECIST) is EQUIV


class TestCriteriaObjects:
    def test_defaults_and_sources(self):
        # RECIST 1.1: 30 % PR, 20 % + 5 mm PD, 5 targets, 2 per organ, 28-day confirmation
        r = Recist11Criteria()
        assert (r.pr_decrease_pct, r.pd_increase_pct, r.pd_absolute_min_mm) == (30.0, 20.0, 5.0)
        assert (r.max_targets, r.max_targets_per_organ, r.confirm_days) == (5, 2, 28)
        # mRECIST 2010: no absolute minimum, 2 intrahepatic targets, porta hepatis nodes >= 2 cm
        m = MRecistCriteria()
        assert (m.pd_absolute_min_mm, m.max_intrahepatic_targets) == (0.0, 2)
        assert m.porta_hepatis_node_min_mm == 20.0
        assert m.sd_min_days == 35 and m.effective_dcr_sd_min_days == 35

    def test_frozen_and_validated(self):
        with pytest.raises(CriteriaError, match="confirm_days"):
            Recist11Criteria(confirm_days=-1)
        with pytest.raises(AttributeError):
            Recist11Criteria().confirm_days = 30  # type: ignore[misc]

    def test_from_name(self):
        assert isinstance(criteria_from_name("recist1.1", confirm_days=30), Recist11Criteria)
        assert criteria_from_name("mrecist", sd_min_days=None).sd_min_days == 35
        with pytest.raises(CriteriaError, match=r"recist1\.1"):
            criteria_from_name("who")


class TestReviewFindings:
    """Cases found in the independent review (each failed before its fix)."""

    def test_reappearance_after_cr_is_pd_even_with_a_target_not_evaluated(self):
        # RECIST FAQ / issue 4: any lesion reappearing after an overall CR is PD. T1 is back at
        # 3 mm (below the 5 mm absolute rule), T2 was not imaged: the missing lesion cannot undo
        # the progression -> PD, not NE
        got = _target([3.0, None], base=50.0, nadir=0.0, after_cr=True)
        assert got is R.PD
        # nothing reappeared and T2 missing: NE (cannot tell CR)
        assert _target([0.0, None], base=50.0, nadir=0.0, after_cr=True) is R.NE

    def test_pd_edges_are_inclusive(self):
        # RECIST 1.1 4.3.1 "at least a 20 % increase ... an absolute increase of at least 5 mm":
        # nadir 25 mm -> 30 mm is exactly +20 % and exactly +5 mm: PD
        assert _target([30.0], base=40.0, nadir=25.0) is R.PD
        # nadir 25 -> 29.9 mm: +19.6 %, +4.9 mm: not PD, and -25.25 % from 40 is not PR: SD
        assert _target([29.9], base=40.0, nadir=25.0) is R.SD
        # PR edge: 100 -> 70 mm is exactly -30 %: PR; 70.1 mm is not
        assert _target([70.0], base=100.0, nadir=100.0) is R.PR
        assert _target([70.1], base=100.0, nadir=100.0) is R.SD

    def test_node_at_exactly_10_mm_is_not_normal(self):
        # RECIST 1.1 4.3.1: CR needs every node "reduction in short axis to < 10 mm"
        assert _target([0.0, 9.9], [False, True], base=40.0, nadir=40.0) is R.CR
        assert _target([0.0, 10.0], [False, True], base=40.0, nadir=40.0) is R.PR
