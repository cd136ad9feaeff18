"""The response engine, run on the sample's timelines, gives the sample's designed responses.

Two independent statements of RECIST 1.1 / mRECIST must agree on this data: the engine
(readerstation.engine) and the ground truth (whose numbers test_sample_design.py checks by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import readerstation.criteria.params as criteria_params
import readerstation.engine.model as engine_model
import readerstation.engine.trial as engine_trial

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"


def _value(x: object) -> object:
    return getattr(x, "value", x)


@pytest.mark.parametrize(
    ("timeline", "name", "truth_key"),
    [("timeline_recist.json", "recist1.1", "RECIST 1.1"),
     ("timeline_mrecist.json", "mrecist", "mRECIST")],
)  # fmt: skip
def test_engine_reproduces_designed_responses(timeline: str, name: str, truth_key: str) -> None:
    path = SAMPLE / timeline
    truth_path = SAMPLE / "ground_truth.json"
    if not (path.is_file() and truth_path.is_file()):
        pytest.skip(f"{path} or {truth_path} missing: run `readerstation sample generate`")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    results = engine_trial.derive_subject_responses(
        engine_model.load_timeline(path), criteria_params.criteria_from_name(name)
    )
    by_subject = {r.subject: r for r in results}
    assert set(by_subject) == {s["subject"] for s in truth["subjects"]}
    for subj in truth["subjects"]:
        exp = subj["expected"][truth_key]
        got = by_subject[subj["subject"]]
        assert [tp.sum_mm for tp in got.timepoints] == [t["sum_mm"] for t in exp["timepoints"]]
        for field in ("target_response", "non_target_response", "new_lesions", "overall_response"):
            assert [_value(getattr(tp, field)) for tp in got.timepoints] == [
                t[field] for t in exp["timepoints"]
            ], (subj["subject"], field)
        assert [tp.change_from_baseline_pct for tp in got.timepoints] == pytest.approx(
            [t["change_from_baseline_pct"] for t in exp["timepoints"]], abs=0.05
        )
        assert _value(got.best_overall_response) == exp["best_overall_response"]["confirmed"]
        assert (
            _value(got.best_overall_response_unconfirmed)
            == exp["best_overall_response"]["unconfirmed"]
        )
