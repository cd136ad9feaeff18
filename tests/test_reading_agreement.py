"""Agreement statistics against hand-computed values, statsmodels and numpy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from dual_reads import STABLE, read_subject
from statsmodels.stats.inter_rater import cohens_kappa

from readerstation.errors import ModelError
from readerstation.reading import PairOutcome, compare_reads, compute_agreement
from readerstation.reading.agreement import (
    compute_bland_altman,
    compute_icc_2_1,
    compute_kappa,
)


def test_kappa_hand_computed() -> None:
    # table [[20, 5], [10, 15]]: p_o = 0.7, p_e = 0.5 x 0.6 + 0.5 x 0.4 = 0.5, kappa = 0.4
    pairs = [("PR", "PR")] * 20 + [("PR", "SD")] * 5 + [("SD", "PR")] * 10 + [("SD", "SD")] * 15
    k = compute_kappa(pairs)
    assert k.n == 50 and k.categories == ("PR", "SD")
    assert k.table == ((20, 5), (10, 15))
    assert k.value == pytest.approx(0.4)
    ref = cohens_kappa(np.array([[20, 5], [10, 15]]))
    assert k.lower == pytest.approx(ref["kappa_low"]) and k.upper == pytest.approx(ref["kappa_upp"])
    assert k.lower is not None and k.upper is not None
    # asymptotic SE of kappa (Fleiss, Cohen & Everitt 1969) gives a CI around 0.4
    assert k.lower < 0.4 < k.upper


def test_kappa_square_table_over_the_union_of_categories() -> None:
    # reader 1 never says PD, reader 2 never says CR: the table is 4 x 4 all the same
    pairs = [("CR", "PR"), ("PR", "PR"), ("SD", "SD"), ("SD", "PD"), ("PR", "PR"), ("SD", "SD")]
    k = compute_kappa(pairs)
    assert k.categories == ("CR", "PD", "PR", "SD")
    table = np.array(k.table)
    assert table.shape == (4, 4) and table.sum() == 6
    p = table / 6
    p_o, p_e = np.trace(p), float(np.sum(p.sum(1) * p.sum(0)))
    assert k.value == pytest.approx((p_o - p_e) / (1 - p_e))


def test_kappa_undefined_is_none() -> None:
    assert compute_kappa([("SD", "SD")] * 10).value is None  # p_e = 1
    assert compute_kappa([("SD", "PR")]).value is None  # n < 2
    empty = compute_kappa([])
    assert empty.n == 0 and empty.value is None and empty.lower is None


def test_icc_2_1_hand_computed() -> None:
    # n = 3, k = 2: MSR = 8, MSC = 1.5, MSE = 0 -> 8 / (8 + 2 x 1.5 / 3) = 8 / 9
    assert compute_icc_2_1([[1, 2], [3, 4], [5, 6]]) == pytest.approx(8 / 9)
    # Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges, ICC(2,1) = 0.29
    sf = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    assert compute_icc_2_1(sf) == pytest.approx(0.2898, abs=5e-4)
    assert compute_icc_2_1([[1, 1], [2, 2], [3, 3]]) == pytest.approx(1.0)
    assert compute_icc_2_1([[5, 5], [5, 5]]) is None  # no variance at all
    assert compute_icc_2_1([[5, 6]]) is None  # n < 2


def test_bland_altman_hand_computed() -> None:
    ba = compute_bland_altman([(10.0, 8.0), (12.0, 12.0), (20.0, 17.0)])
    d = np.array([2.0, 0.0, 3.0])
    assert ba.n == 3 and ba.mean_difference == pytest.approx(5 / 3)
    assert ba.sd == pytest.approx(math.sqrt(42 / 18)) == pytest.approx(d.std(ddof=1))
    assert ba.lower_loa == pytest.approx(5 / 3 - 1.96 * math.sqrt(42 / 18))
    assert ba.upper_loa == pytest.approx(5 / 3 + 1.96 * math.sqrt(42 / 18))
    one = compute_bland_altman([(10.0, 9.0)])
    assert one.mean_difference == 1.0 and one.sd is None and one.lower_loa is None
    assert compute_bland_altman([]).to_dict() == {
        "n": 0,
        "mean_difference": None,
        "sd": None,
        "lower_loa": None,
        "upper_loa": None,
    }


def _outcomes() -> list[PairOutcome]:
    """Four subjects, readers ann/bob/cat; two adjudicated (one endorsed, one pending)."""
    agree = compare_reads(
        read_subject("a", STABLE, subject="S-1"),
        read_subject("b", STABLE, subject="S-1"),
        "recist1.1",
    )
    new = compare_reads(
        read_subject("a", STABLE, subject="S-2", new=[False, True, True, True]),
        read_subject("b", STABLE, subject="S-2"),
        "recist1.1",
    )
    nt = [
        "present",
        "unequivocal_progression",
        "unequivocal_progression",
        "unequivocal_progression",
    ]
    prog = compare_reads(
        read_subject("a", STABLE, subject="S-3"),
        read_subject("b", STABLE, subject="S-3", nt=nt),
        "recist1.1",
    )
    agree_4 = compare_reads(
        read_subject("a", STABLE, subject="S-4"),
        read_subject("b", STABLE, subject="S-4"),
        "recist1.1",
    )
    return [
        PairOutcome(agree, "ann", "bob"),
        PairOutcome(new, "ann", "bob", endorsed_slot=2),  # bob endorsed, ann lost
        PairOutcome(prog, "bob", "cat", endorsed_slot=None),  # pending
        PairOutcome(agree_4, "cat", "ann"),
    ]


def test_compute_agreement_counts_rates_and_readers() -> None:
    outcomes = _outcomes()
    report = compute_agreement(outcomes)
    c = report["recist1.1"]
    assert c.n_subjects == 4 and c.n_adjudicated == 2
    assert c.adjudication_rate == 0.5
    assert c.n_bor_disagreement == 2 and c.bor_disagreement_rate == 0.5  # PD vs SD twice
    readers = {r.reader: r for r in c.readers}
    ann, bob, cat = readers["ann"], readers["bob"], readers["cat"]
    assert (ann.n_subjects, ann.n_adjudicated, ann.n_decided, ann.n_endorsed) == (3, 1, 1, 0)
    assert ann.endorsement_rate == 0.0 and ann.rdi == pytest.approx(100 / 3)
    assert (bob.n_subjects, bob.n_adjudicated, bob.n_decided, bob.n_endorsed) == (3, 2, 1, 1)
    assert bob.endorsement_rate == 1.0 and bob.rdi == 0.0
    assert cat.endorsement_rate is None and cat.rdi == 0.0  # pending only
    # kappa on BOR: SD/SD, PD/SD, SD/PD, SD/SD -> p_o = 0.5, p_e = 0.25x0.25 + 0.75x0.75
    p_e = 0.25 * 0.25 + 0.75 * 0.75
    assert c.kappa_best_response.value == pytest.approx((0.5 - p_e) / (1 - p_e))
    bor_table = np.array(c.kappa_best_response.table)
    assert c.kappa_best_response.value == pytest.approx(cohens_kappa(bor_table)["kappa"])
    # timepoint response pairs: 3 follow-ups x 4 subjects
    assert c.kappa_timepoint_response.n == 12
    # identical target sums everywhere: ICC 1, Bland-Altman 0 +- 0
    assert c.n_sum_pairs == 16 and c.icc_sum_mm == pytest.approx(1.0)
    ba = c.bland_altman_sum_mm
    assert ba.mean_difference == 0.0 and ba.sd == 0.0 and ba.lower_loa == 0.0
    d = report.to_dict()
    text = json.dumps(d, allow_nan=False)  # never NaN
    assert json.loads(text)["criteria"]["recist1.1"]["readers"]["cat"]["endorsement_rate"] is None
    crit = d["criteria"]["recist1.1"]
    assert crit["adjudication_rate"] == 0.5
    assert crit["variables_differing"]["progression_date"] == 2
    assert set(crit["kappa_best_response"]) >= {"value", "ci_lower", "ci_upper"}
    out = report.to_text()
    assert "adjudicated            2 (50.0 %)" in out and "ann" in out
    assert "recist1.1: 4 subjects" in repr(report)


def test_measurement_agreement_from_noisy_sums() -> None:
    noisy = [[51.0, 40.0], [48.0, 40.0], [50.0, 42.0], [49.5, 39.5]]
    cmp = compare_reads(read_subject("a", STABLE), read_subject("b", noisy), "recist1.1")
    c = compute_agreement([PairOutcome(cmp, "ann", "bob")])["recist1.1"]
    # target sums 90, 89, 91, 90 vs 91, 88, 92, 89: MSR = 10/3, MSC = 0, MSE = 2/3, so
    # ICC(2,1) = (MSR - MSE) / (MSR + MSE + 2 (MSC - MSE) / 4) = 8/11; differences -1, 1, -1, 1
    assert c.icc_sum_mm == pytest.approx(8 / 11)
    assert c.bland_altman_sum_mm.mean_difference == pytest.approx(0.0, abs=1e-12)
    assert c.bland_altman_sum_mm.sd == pytest.approx(math.sqrt(4 / 3))
    assert c.kappa_best_response.value is None  # one subject


def test_empty_and_invalid_input() -> None:
    assert compute_agreement([]).to_dict() == {"criteria": {}}
    assert "nothing to compare" in compute_agreement([]).to_text()
    o = _outcomes()
    with pytest.raises(ModelError, match="S-1 appears twice"):
        compute_agreement([o[0], o[0]])
    with pytest.raises(ModelError, match="expected PairOutcome"):
        compute_agreement(["x"])  # type: ignore[list-item]
    cmp = o[0].comparison
    with pytest.raises(ModelError, match="read twice by 'ann'"):
        PairOutcome(cmp, "ann", "ann")
    with pytest.raises(ModelError, match="needs no adjudication"):
        PairOutcome(cmp, "ann", "bob", endorsed_slot=1)
    with pytest.raises(ModelError, match="expected 1, 2 or None"):
        PairOutcome(o[1].comparison, "ann", "bob", endorsed_slot=3)


def test_kappa_interval_stays_within_its_range() -> None:
    # three subjects: the Wald interval of statsmodels runs past 1; kappa's range is [-1, 1]
    k = compute_kappa([("PR", "PR"), ("SD", "SD"), ("PD", "SD")])
    assert k.value is not None and k.lower is not None and k.upper is not None
    assert -1.0 <= k.lower <= k.value <= k.upper == 1.0
