"""compare_reads on hand-built reads: one test per cause and per charter variable."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest
from dual_reads import BASE, STABLE, read_subject

from readerstation.criteria.enums import Response
from readerstation.errors import ModelError
from readerstation.reading import (
    AdjudicationReason,
    AdjudicationVariable,
    Charter,
    DiscrepancyCause,
    compare_reads,
)
from readerstation.reading.discrepancy import Cause

V = AdjudicationVariable
C = DiscrepancyCause
ALL = Charter(variables=tuple(AdjudicationVariable))


def _kinds(cmp: Any) -> set[DiscrepancyCause]:
    return {c.kind for c in cmp.causes}


@pytest.mark.parametrize("criteria", ["recist1.1", "mrecist"])
def test_identical_reads_agree(criteria: str) -> None:
    cmp = compare_reads(read_subject("a", STABLE), read_subject("b", STABLE), criteria, ALL)
    assert cmp.variables == () and cmp.causes == ()
    assert not cmp.needs_adjudication
    assert cmp.result_1.best_overall_response is Response.SD
    assert cmp.criteria == criteria and cmp.subject == "SIM-900"
    assert cmp.labels == ("TP0", "TP1", "TP2", "TP3")


def test_measurement_noise_is_no_cause() -> None:
    noisy = [[51.2, 38.9], [48.1, 41.0], [51.0, 40.2], [48.4, 41.7]]
    cmp = compare_reads(read_subject("a", STABLE), read_subject("b", noisy), "recist1.1", ALL)
    assert cmp.variables == () and cmp.causes == ()


@pytest.mark.parametrize("criteria", ["recist1.1", "mrecist"])
def test_sum_difference_moves_the_response_date(criteria: str) -> None:
    # reader 1: -37.5 % at TP1 (PR, confirmed at TP2); reader 2: -18.8 % at TP1 (SD), PR from TP2
    r1 = [[50.0, 30.0], [30.0, 20.0], [30.0, 20.0], [29.0, 20.0]]
    r2 = [[50.0, 30.0], [40.0, 25.0], [30.0, 20.0], [29.0, 20.0]]
    cmp = compare_reads(read_subject("a", r1), read_subject("b", r2), criteria, ALL)
    assert cmp.variables == (V.RESPONSE_DATE, V.TIMEPOINT_RESPONSE)
    assert cmp.result_1.first_response_date == BASE + dt.timedelta(days=42)
    assert cmp.result_2.first_response_date == BASE + dt.timedelta(days=84)
    assert cmp.result_1.best_overall_response is cmp.result_2.best_overall_response is Response.PR
    (cause,) = cmp.causes
    assert cause.kind is C.SUM_DIFFERENCE and cause.timepoint == "TP1"
    text = cause.text()
    assert "-37.5 %" in text and "-18.8 %" in text and "changes differ by 18.8 points" in text
    if criteria == "recist1.1":
        assert "read 1 50.0 mm" in text and "read 2 65.0 mm" in text
    else:  # viable diameters, 0.8 x long
        assert "read 1 40.0 mm" in text and "read 2 52.0 mm" in text
    # default charter: BOR, PD date, response date
    assert compare_reads(read_subject("a", r1), read_subject("b", r2), criteria).variables == (
        V.RESPONSE_DATE,
    )


def test_only_the_viable_diameter_differs_mrecist_only() -> None:
    r = [[50.0, 40.0], [50.0, 40.0], [50.0, 40.0], [50.0, 40.0]]
    viable_1 = [[40.0, 30.0], [24.0, 18.0], [24.0, 18.0], [24.0, 18.0]]  # -40 %: PR
    viable_2 = [[40.0, 30.0], [34.0, 26.0], [34.0, 26.0], [34.0, 26.0]]  # -14 %: SD
    a, b = read_subject("a", r, viable=viable_1), read_subject("b", r, viable=viable_2)
    assert compare_reads(a, b, "recist1.1", ALL).variables == ()
    m = compare_reads(a, b, "mrecist", ALL)
    assert m.variables == (V.BEST_OVERALL_RESPONSE, V.RESPONSE_DATE, V.TIMEPOINT_RESPONSE)
    assert _kinds(m) == {C.SUM_DIFFERENCE}
    assert [c.timepoint for c in m.causes] == ["TP1", "TP2", "TP3"]


@pytest.mark.parametrize("criteria", ["recist1.1", "mrecist"])
def test_new_lesion_call_at_tp1_changes_bor_and_pd_date(criteria: str) -> None:
    a = read_subject("a", STABLE, new=[False, True, True, True])
    b = read_subject("b", STABLE)
    cmp = compare_reads(a, b, criteria)
    assert cmp.variables == (V.BEST_OVERALL_RESPONSE, V.PROGRESSION_DATE)
    assert cmp.result_1.best_overall_response is Response.PD
    assert cmp.result_1.progression_date == BASE + dt.timedelta(days=42)
    assert cmp.result_2.best_overall_response is Response.SD
    assert cmp.result_2.progression_date is None
    assert _kinds(cmp) == {C.NEW_LESION_CALL}
    assert [c.timepoint for c in cmp.causes] == ["TP1", "TP2", "TP3"]
    assert cmp.causes[0].text() == "TP1: new lesions read 1 unequivocal, read 2 none"


def test_new_lesion_seen_one_visit_later_changes_the_pd_date_only() -> None:
    a = read_subject("a", STABLE, new=[False, False, True, True])
    b = read_subject("b", STABLE, new=[False, False, False, True])
    cmp = compare_reads(a, b, "recist1.1", ALL)
    assert cmp.variables == (V.PROGRESSION_DATE, V.TIMEPOINT_RESPONSE)
    assert [(c.kind, c.timepoint) for c in cmp.causes] == [(C.NEW_LESION_CALL, "TP2")]


@pytest.mark.parametrize("criteria", ["recist1.1", "mrecist"])
def test_non_target_progression_by_one_reader(criteria: str) -> None:
    nt = ["present", "present", "unequivocal_progression", "unequivocal_progression"]
    cmp = compare_reads(read_subject("a", STABLE), read_subject("b", STABLE, nt=nt), criteria, ALL)
    assert cmp.variables == (V.PROGRESSION_DATE, V.TIMEPOINT_RESPONSE)  # BOR SD for both
    assert cmp.result_2.progression_date == BASE + dt.timedelta(days=84)
    assert [(c.kind, c.timepoint) for c in cmp.causes] == [
        (C.NON_TARGET_CALL, "TP2"),
        (C.NON_TARGET_CALL, "TP3"),
    ]
    assert "read 1 NON-CR/NON-PD, read 2 PD" in cmp.causes[0].text()


@pytest.mark.parametrize("criteria", ["recist1.1", "mrecist"])
def test_different_target_organ_is_target_selection(criteria: str) -> None:
    # reader 1: two responding liver lesions (PR); reader 2: one of them and a stable lung lesion
    r1 = [[50.0, 40.0], [28.0, 22.0], [26.0, 21.0], [26.0, 21.0]]
    r2 = [[50.0, 40.0], [28.0, 40.0], [26.0, 40.0], [26.0, 40.0]]
    cmp = compare_reads(
        read_subject("a", r1), read_subject("b", r2, organs=("liver", "lung")), criteria, ALL
    )
    assert V.BEST_OVERALL_RESPONSE in cmp.variables
    assert _kinds(cmp) == {C.TARGET_SELECTION}  # the sums differ, but by the selection
    (cause,) = cmp.causes
    assert cause.timepoint == "TP0"
    assert "read 1 2 (liver" in cause.text() and "lung 40" in cause.text()


def test_different_target_count_is_target_selection() -> None:
    one = [[d[0]] for d in STABLE]
    cmp = compare_reads(read_subject("a", STABLE), read_subject("b", one), "recist1.1", ALL)
    assert _kinds(cmp) == {C.TARGET_SELECTION}


def test_same_organ_clearly_different_size_is_target_selection() -> None:
    other = [[50.0, 20.0], [49.0, 20.0], [50.0, 20.5], [49.5, 20.0]]  # 40 mm vs 20 mm lesion
    cmp = compare_reads(read_subject("a", STABLE), read_subject("b", other), "recist1.1", ALL)
    assert _kinds(cmp) == {C.TARGET_SELECTION}
    assert cmp.variables == ()  # informative only: both SD


def test_target_selection_by_line_position() -> None:
    # same organs and sizes, but reader 2's T2 lies 200 mm away: another lesion
    a = read_subject("a", STABLE, lines_x=[0.0, 100.0])
    b = read_subject("b", STABLE, lines_x=[0.0, 300.0])
    assert _kinds(compare_reads(a, b, "recist1.1")) == {C.TARGET_SELECTION}
    # the same lesions drawn a few mm apart, with sizes 30 % apart: still the same lesions
    bigger = [[d[0], d[1] * 1.3] for d in STABLE]
    c = read_subject("c", bigger, lines_x=[2.0, 104.0])
    cmp = compare_reads(a, c, "recist1.1")
    assert C.TARGET_SELECTION not in _kinds(cmp)


def test_timepoint_response_only_in_charters_that_ask() -> None:
    # an unconfirmed PR at the last timepoint: BOR SD for both, only TP3 differs
    r1 = [[50.0, 40.0], [49.0, 40.0], [50.0, 41.0], [33.0, 25.0]]  # -36.7 %
    r2 = [[50.0, 40.0], [49.0, 40.0], [50.0, 41.0], [40.0, 30.0]]  # -22.2 %
    a, b = read_subject("a", r1), read_subject("b", r2)
    default = compare_reads(a, b, "recist1.1")
    assert default.variables == () and not default.needs_adjudication
    assert _kinds(default) == {C.SUM_DIFFERENCE}  # causes stay informative
    assert compare_reads(a, b, "recist1.1", ALL).variables == (V.TIMEPOINT_RESPONSE,)
    order = Charter(variables=("timepoint_response", "best_overall_response"))
    assert compare_reads(a, b, "recist1.1", order).variables == (V.TIMEPOINT_RESPONSE,)


def test_to_dict_uses_the_given_labels_and_no_reader_names() -> None:
    a = read_subject("reader-one", STABLE, new=[False, True, True, True])
    b = read_subject("reader-two", STABLE)
    cmp = compare_reads(a, b, "recist1.1")
    d = cmp.to_dict(("B", "A"))
    text = json.dumps(d)
    assert "reader-one" not in text and "reader-two" not in text
    assert set(d["results"]) == {"A", "B"}
    assert d["results"]["B"]["best_overall_response"] == "PD"
    assert d["results"]["B"]["timepoints"][1]["timepoint"] == "TP1"
    assert d["variables"] == ["best_overall_response", "progression_date"]
    assert d["causes"][0] == {
        "kind": "new_lesion_call",
        "timepoint": "TP1",
        "detail": "TP1: new lesions read B unequivocal, read A none",
    }
    assert d["needs_adjudication"] is True
    assert "best_overall_response" in repr(cmp)


def test_treatment_start_override() -> None:
    a, b = read_subject("a", STABLE), read_subject("b", STABLE)
    start = BASE + dt.timedelta(days=20)
    cmp = compare_reads(a, b, "recist1.1", treatment_start=start)
    assert cmp.result_1.treatment_start == cmp.result_2.treatment_start == start


def test_refusals() -> None:
    a = read_subject("a", STABLE)
    with pytest.raises(ModelError, match="only reader 1 read TP3, only reader 2 read none"):
        compare_reads(a, read_subject("b", STABLE[:3]), "recist1.1")
    with pytest.raises(ModelError, match="expected the reads of one subject"):
        compare_reads(a, read_subject("b", STABLE, subject="SIM-901"), "recist1.1")
    with pytest.raises(ModelError, match="reads_2 holds no reads"):
        compare_reads(a, [], "recist1.1")
    with pytest.raises(ModelError, match=r"expected .recist1\.1. or .mrecist."):
        compare_reads(a, a, "who")
    with pytest.raises(ModelError, match=r"Cause\.kind"):
        Cause("typo", None, "x")  # type: ignore[arg-type]


def test_charter_round_trip_and_errors() -> None:
    c = Charter(
        variables=("timepoint_response", "best_overall_response"),
        default_accepted_slot=2,
        hide_visit_dates=True,
        criteria=("mrecist",),
    )
    assert c.variables == (V.TIMEPOINT_RESPONSE, V.BEST_OVERALL_RESPONSE)
    d = c.to_dict()
    assert d == {
        "variables": ["timepoint_response", "best_overall_response"],
        "default_accepted_slot": 2,
        "hide_visit_dates": True,
        "criteria": ["mrecist"],
    }
    assert Charter.from_dict(json.loads(json.dumps(d))) == c
    assert Charter.from_dict({}) == Charter()
    assert Charter().variables == (
        V.BEST_OVERALL_RESPONSE,
        V.PROGRESSION_DATE,
        V.RESPONSE_DATE,
    )
    assert [r.value for r in AdjudicationReason] == [
        "lesion_selection",
        "measurement_variability",
        "new_lesion_call",
        "non_target_progression",
        "image_quality",
        "reader_error",
    ]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"variables": ["bor"]}, "Charter.variables: expected words from"),
        ({"variables": []}, "expected at least one variable"),
        ({"variables": "best_overall_response"}, "Charter.variables: expected a list"),
        ({"variables": ["response_date", "response_date"]}, "listed twice"),
        ({"default_accepted_slot": 3}, "Charter.default_accepted_slot: expected 1 or 2"),
        ({"default_accepted_slot": True}, "Charter.default_accepted_slot"),
        ({"hide_visit_dates": "yes"}, "Charter.hide_visit_dates: expected true or false"),
        ({"criteria": ["recist"]}, "Charter.criteria: expected 'recist1.1' or 'mrecist'"),
        ({"criteria": []}, "expected at least one"),
        ({"charter": 1}, "unknown key"),
    ]
    for data, message in bad:
        with pytest.raises(ModelError, match=message):
            Charter.from_dict(data)
    with pytest.raises(ModelError, match="expected an object"):
        Charter.from_dict([])  # type: ignore[arg-type]


def test_pure_modules_do_not_load_the_reading_session() -> None:
    code = (
        "import sys, readerstation.reading as r; from readerstation.reading import Charter, "
        "compare_reads; import readerstation.reading.agreement; "
        "print(sorted(m for m in ('readerstation.reading.session', 'readerstation.store', "
        "'readerstation.measure', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # the session's names are still there, on first use
    from readerstation.reading import ReadingSession

    assert ReadingSession.__name__ == "ReadingSession"
