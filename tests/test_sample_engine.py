"""The response engine, run on the sample's timelines, gives the sample's designed responses.

Two independent statements of RECIST 1.1 / mRECIST must agree on this data: the engine
(readerstation.engine) and the ground truth (whose numbers test_sample_design.py checks by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

engine_model = pytest.importorskip("readerstation.engine.model")
engine_trial = pytest.importorskip("readerstation.engine.trial")
criteria_params = pytest.importorskip("readerstation.criteria.params")

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
        assert [_value(tp.overall_response) for tp in got.timepoints[1:]] == [
            t["overall_response"] for t in exp["timepoints"][1:]
        ], subj["subject"]
        assert _value(got.best_overall_response) == exp["best_overall_response"]["confirmed"]
