"""The simulated 45-subject two-reader trial: compare_reads finds exactly the designed differences."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from typing import Any

import pytest

from readerstation.reading import AdjudicationVariable, Charter, DiscrepancyCause, compare_reads
from readerstation.sample.dual_trial import CASE_COUNTS, READERS, derive_dual_trial

ALL = Charter(variables=tuple(AdjudicationVariable))


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("criteria", ["recist1.1", "mrecist"])
def test_compare_reads_finds_exactly_the_designed_differences(seed: int, criteria: str) -> None:
    trial = derive_dual_trial(seed)
    by = trial.reads_by_reader()
    for case in trial.cases:
        expected = trial.expected[(case.subject, criteria)]
        a, b = by[(case.subject, READERS[0])], by[(case.subject, READERS[1])]
        full = compare_reads(a, b, criteria, ALL)
        where = f"{case} {criteria}"
        assert set(full.variables) == set(expected.variables), where
        assert full.cause_kinds == expected.causes, where
        assert full.result_1.evaluable and full.result_2.evaluable, where  # mRECIST too
        default = compare_reads(a, b, criteria)
        assert default.variables == expected.for_charter(Charter()), where
        if case.timepoint is not None:  # the first cause is where the design put it
            assert full.causes[0].timepoint == case.timepoint, where


def test_design_shape() -> None:
    trial = derive_dual_trial(0)
    assert len(trial.cases) == 45 == sum(CASE_COUNTS.values())
    assert trial.subjects == tuple(f"SIM-{i:03d}" for i in range(1, 46))
    assert Counter(c.case for c in trial.cases) == Counter(CASE_COUNTS)
    discordant = [c for c in trial.cases if c.deviating_reader is not None]
    assert len(discordant) == 18  # 40 %, as in published BICR adjudication rates
    assert {c.deviating_reader for c in discordant} == set(READERS)  # both readers deviate
    entries = trial.reads_json["reads"]
    assert [e["reader"] for e in entries[:2]] == list(READERS)
    assert len(entries) == 90
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_subject.setdefault(e["subject"], []).append(e)
    for case in trial.cases:
        e1, e2 = by_subject[case.subject]
        labels = [tp["label"] for tp in e1["timepoints"]]
        assert labels == [tp["label"] for tp in e2["timepoints"]]  # same timepoints
        assert 4 <= len(labels) <= 6 and len(labels) == case.n_timepoints
        dates = [dt.date.fromisoformat(tp["date"]) for tp in e1["timepoints"]]
        assert all((y - x).days == 42 for x, y in itertools.pairwise(dates))
        start = dt.date.fromisoformat(e1["treatment_start"])
        assert (
            start == dates[0] + dt.timedelta(days=3)
            and e2["treatment_start"] == e1["treatment_start"]
        )
        assert dt.date(2024, 1, 8) <= dates[0] <= dt.date(2024, 10, 5)
        # liver targets carry viable diameters (mRECIST evaluable) and their segment
        for tp in e1["timepoints"]:
            for les in tp["lesions"]:
                if les["organ"] == "liver":
                    assert les["viable_long_axis_mm"] is not None and les["liver_segment"]
                    assert les["viable_long_axis_mm"] <= les["long_axis_mm"]


def test_deterministic_by_seed() -> None:
    assert derive_dual_trial(3).reads_json == derive_dual_trial(3).reads_json
    assert derive_dual_trial(3).expected == derive_dual_trial(3).expected
    assert derive_dual_trial(3).reads_json != derive_dual_trial(4).reads_json


def test_exact_cases_are_identical_and_noise_cases_only_noise() -> None:
    trial = derive_dual_trial(0)
    by = {(e["subject"], e["reader"]): e for e in trial.reads_json["reads"]}
    for case in trial.cases:
        t1 = by[(case.subject, READERS[0])]["timepoints"]
        t2 = by[(case.subject, READERS[1])]["timepoints"]
        if case.case == "exact":
            assert t1 == t2
        elif case.case == "noise":
            assert t1 != t2
            for a, b in zip(t1, t2, strict=True):
                for la, lb in zip(a["lesions"], b["lesions"], strict=True):
                    assert la["lesion"] == lb["lesion"]
                    assert abs(la["long_axis_mm"] - lb["long_axis_mm"]) <= 1.5 + 0.051
                assert a["non_targets"] == b["non_targets"]
                assert a["new_lesions"] == b["new_lesions"]


def test_expected_variables_follow_the_case_table() -> None:
    trial = derive_dual_trial(0)
    v, c = AdjudicationVariable, DiscrepancyCause
    for case in trial.cases:
        e = trial.expected[(case.subject, "recist1.1")]
        assert e == trial.expected[(case.subject, "mrecist")]
        if case.case in ("exact", "noise"):
            assert not e.variables and not e.causes
        elif case.case == "target_choice":
            assert e.causes == {c.TARGET_SELECTION}
            assert e.variables == {v.BEST_OVERALL_RESPONSE, v.RESPONSE_DATE, v.TIMEPOINT_RESPONSE}
        elif case.case == "pd_one_visit":
            assert e.variables == {v.PROGRESSION_DATE, v.TIMEPOINT_RESPONSE}
    n_bor = sum(
        1
        for s in trial.subjects
        if v.BEST_OVERALL_RESPONSE in trial.expected[(s, "recist1.1")].variables
    )
    assert n_bor == 7  # 3 new lesions at TP1, 3 target choices, 1 non-target PD at TP1
    assert "18 discordant" in repr(trial)
