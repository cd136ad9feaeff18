"""Real SDTM RS records (pharmaversesdtm ``rs_onco_recist.csv``, Apache-2.0) through the engine.

The file holds accepted overall responses (``RSACPTFL`` = Y) of 8 subjects with known quirks
(a partial date). Treatment start is not in RS: we take the WEEK 3 visit date minus 21 days. The
expected best responses are worked by hand from RECIST 1.1 Table 3 with the defaults (28-day
confirmation, SD >= 35 days after start, at most one NE between), not from the code.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from readerstation.criteria import Recist11Criteria
from readerstation.engine import Timeline, derive_subject_responses
from readerstation.errors import CriteriaError

RS = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "testdata"
    / "sdtm"
    / "rs_onco_recist.csv"
)

pytestmark = pytest.mark.realdata


def _timeline(drop_partial_dates: bool) -> dict:
    if not RS.exists():
        pytest.skip(f"{RS} absent (shared test data not installed)")
    with RS.open(newline="") as f:
        rows = [
            r for r in csv.DictReader(f) if r["RSTESTCD"] == "OVRLRESP" and r["RSACPTFL"] == "Y"
        ]
    by_subject: dict[str, list[dict]] = {}
    for r in rows:
        by_subject.setdefault(r["USUBJID"], []).append(r)
    subjects = []
    for usubjid, recs in by_subject.items():
        recs.sort(key=lambda r: float(r["VISITNUM"]))
        week3 = dt.date.fromisoformat(next(r["RSDTC"] for r in recs if r["VISIT"] == "WEEK 3"))
        start = week3 - dt.timedelta(days=21)
        assessments = [{"date": (start - dt.timedelta(days=1)).isoformat()}]
        for r in recs:
            if drop_partial_dates and len(r["RSDTC"]) != 10:
                continue
            assessments.append({"date": r["RSDTC"], "overall_response": r["RSSTRESC"]})
        subjects.append(
            {"subject": usubjid, "treatment_start": start.isoformat(), "assessments": assessments}
        )
    return {"subjects": subjects}


def test_partial_date_is_refused_with_subject_assessment_and_field():
    with pytest.raises(CriteriaError, match=r"subject 01-701-1015, assessment 3, field date"):
        Timeline.from_json(_timeline(drop_partial_dates=False))


def test_best_overall_response_from_accepted_rs_records():
    tl = Timeline.from_json(_timeline(drop_partial_dates=True))
    got = {
        r.subject: (r.best_overall_response.value, r.best_overall_response_unconfirmed.value)
        for r in derive_subject_responses(tl, Recist11Criteria())
    }
    assert got == {
        # SD day 21 (< 35), CR day 63 unconfirmed -> counts as SD
        "01-701-1015": ("SD", "CR"),
        # SD day 21 (< 35) then PD day 42 -> PD
        "01-701-1028": ("PD", "PD"),
        # NON-CR/NON-PD at day 42 (>= 35)
        "01-701-1034": ("NON-CR/NON-PD", "NON-CR/NON-PD"),
        # only day 21 (< 35), no PD -> NE
        "01-701-1097": ("NE", "NE"),
        # PR day 42, CR day 63 only 21 days later: not confirmed -> SD
        "01-701-1115": ("SD", "CR"),
        # PR day 42, NE day 63, PR day 84 (42 days, one NE between) -> confirmed PR
        "01-701-1118": ("PR", "PR"),
        # SD day 42 then PD day 63 -> SD
        "01-701-1130": ("SD", "SD"),
        # CR day 42 then PD day 63 -> SD (Table 3: CR, PD -> SD when the SD minimum is met)
        "01-701-1133": ("SD", "CR"),
    }
