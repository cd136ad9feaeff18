"""The reads JSON format <-> TimepointRead: exact round trips and located errors."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest

from readerstation.errors import ModelError
from readerstation.model import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)
from readerstation.model.reads_json import reads_from_json, reads_to_json
from readerstation.sample.dual_trial import derive_dual_trial

SIGNED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def _line(x: float, length: float, uid: str = "1.2.3.4.5") -> LinePoints:
    return LinePoints((x, 10.0, 20.0), (x + length, 10.0, 20.0), uid)


def _rich_reads() -> list[TimepointRead]:
    """Reads with every optional field: lines, nodes, new lesions, special kinds, a draft."""
    subject = Subject("HCC-007", dt.date(2024, 1, 5))
    t1 = Lesion("L-1", "T1", "target", "liver", "segment 7 dome", "VII", typical_hcc=True)
    t2 = Lesion("L-2", "T2", "target", "porta_hepatis", nodal=True)
    nt1 = Lesion("L-3", "NT1", "non_target", "liver", liver_segment="II")
    nt2 = Lesion("L-4", "NT2", "non_target", "portal vein", kind="portal_vein_thrombosis")
    nt3 = Lesion("NT3", "NT3", "non_target", "pleura", kind="effusion")
    base = TimepointRead(
        subject,
        Timepoint("TP0", dt.date(2024, 1, 2), "1.2.3", "1.2.3.1", "arterial"),
        "reader1",
        lesions=(
            LesionAssessment(
                t1,
                Measurement(
                    "measured",
                    42.5,
                    None,
                    30.0,
                    _line(0.0, 42.5),
                    None,
                    _line(5.0, 30.0, "1.2.3.4.6"),
                ),
            ),
            LesionAssessment(t2, Measurement("measured", 25.0, 21.0, None)),
            LesionAssessment(nt1, non_target_status="present"),
            LesionAssessment(nt2, non_target_status="present"),
            LesionAssessment(nt3, non_target_status="present", cytology_confirmed=True),
        ),
        status="signed",
        signed_at=SIGNED,
    )
    new = Lesion("L-9", "NL1", "new", "lung")
    new2 = Lesion("NL2", "NL2", "new", "liver", liver_segment="III", typical_hcc=False)
    follow = TimepointRead(
        subject,
        Timepoint("TP1", dt.date(2024, 2, 13), None, "1.2.3.2"),
        "reader1",
        lesions=(
            # roles interleaved on purpose: the round trip keeps the read's own order
            LesionAssessment(nt1, non_target_status="unequivocal_progression"),
            LesionAssessment(t1, Measurement("too_small")),
            LesionAssessment(new, Measurement("measured", 12.0)),
            LesionAssessment(t2, Measurement("not_evaluated")),
            LesionAssessment(nt2, non_target_status="not_evaluated"),
            LesionAssessment(nt3, non_target_status="absent"),
            LesionAssessment(new2),
        ),
        new_lesion_call="unequivocal",
        status="signed",
        version=2,
        signed_at=SIGNED + dt.timedelta(days=1),
    )
    draft = TimepointRead(
        subject,
        Timepoint("TP2", dt.date(2024, 3, 26)),
        "reader1",
        lesions=(LesionAssessment(t1, Measurement("absent")),),
    )
    other = TimepointRead(
        Subject("HCC-008"),
        Timepoint("TP10", None),
        "reader2",
        lesions=(
            LesionAssessment(Lesion("T1", "T1", "target", "lung"), Measurement("measured", 18.0)),
        ),
        status="signed",
        signed_at=SIGNED,
    )
    return [follow, other, draft, base]


def test_round_trip_of_every_field_is_exact() -> None:
    reads = _rich_reads()
    doc = reads_to_json(reads)
    back = reads_from_json(json.loads(json.dumps(doc)))
    # grouped by (subject, reader) in first-seen order, then by scan date
    assert [(r.subject.code, r.timepoint.label) for r in back] == [
        ("HCC-007", "TP0"),
        ("HCC-007", "TP1"),
        ("HCC-007", "TP2"),
        ("HCC-008", "TP10"),
    ]
    by_key = {(r.subject.code, r.timepoint.label): r for r in reads}
    for r in back:
        assert r == by_key[(r.subject.code, r.timepoint.label)]
    assert reads_to_json(back) == doc


def test_written_format_uses_the_issue_keys() -> None:
    doc = reads_to_json(_rich_reads())
    first = doc["reads"][0]
    assert first["subject"] == "HCC-007" and first["reader"] == "reader1"
    assert first["treatment_start"] == "2024-01-05"
    tp0 = first["timepoints"][0]
    assert tp0["label"] == "TP0" and tp0["date"] == "2024-01-02" and tp0["series_uid"] == "1.2.3.1"
    assert tp0["new_lesions"] == "none"
    t1 = tp0["lesions"][0]
    assert t1["lesion"] == "T1" and t1["role"] == "target" and t1["state"] == "measured"
    assert t1["long_axis_mm"] == 42.5 and t1["viable_long_axis_mm"] == 30.0
    assert t1["long_axis_points"] == [[0.0, 10.0, 20.0], [42.5, 10.0, 20.0]]
    assert t1["sop_instance_uid"] == "1.2.3.4.5"
    assert t1["viable_sop_instance_uid"] == "1.2.3.4.6"  # drawn on another image
    assert t1["tracking_id"] == "L-1" and t1["liver_segment"] == "VII"
    assert tp0["non_targets"][0] == {
        "lesion": "NT1",
        "status": "present",
        "organ": "liver",
        "tracking_id": "L-3",
        "liver_segment": "II",
    }
    assert "position" not in t1  # role-grouped read: no positions needed
    tp1 = first["timepoints"][1]
    assert tp1["version"] == 2 and tp1["new_lesions"] == "unequivocal"
    assert [x["position"] for x in tp1["lesions"]] == [1, 2, 3, 6]
    assert first["timepoints"][2]["status"] == "draft"
    assert "signed_at" not in first["timepoints"][2]


def test_hidden_dates() -> None:
    doc = reads_to_json(_rich_reads(), include_dates=False)
    first = doc["reads"][0]
    assert "treatment_start" not in first
    assert all(tp["date"] is None for e in doc["reads"] for tp in e["timepoints"])
    back = reads_from_json(doc)
    assert all(r.timepoint.scan_date is None and r.subject.treatment_start is None for r in back)


def test_minimal_issue_format_imports_as_signed_reads() -> None:
    doc = {
        "reads": [
            {
                "subject": "SIM-001",
                "reader": "reader1",
                "timepoints": [
                    {
                        "label": "TP0",
                        "date": "2024-01-02",
                        "series_uid": "1.2.3",
                        "lesions": [
                            {
                                "lesion": "T1",
                                "role": "target",
                                "organ": "lung",
                                "nodal": False,
                                "long_axis_mm": 20.0,
                                "short_axis_mm": None,
                                "viable_long_axis_mm": None,
                                "state": "measured",
                            },
                            {
                                "lesion": "T2",
                                "role": "target",
                                "organ": "liver",
                                "nodal": False,
                                "long_axis_mm": 52.0,
                                "short_axis_mm": None,
                                "viable_long_axis_mm": 31.0,
                                "state": "measured",
                            },
                        ],
                        "non_targets": [{"lesion": "NT1", "status": "present"}],
                        "new_lesions": "none",
                    }
                ],
            }
        ]
    }
    (read,) = reads_from_json(doc, signed_at=SIGNED)
    assert read.is_signed and read.signed_at == SIGNED and read.version == 1
    assert read.subject.treatment_start is None
    assert read.lesion("T1").lesion.tracking_id == "T1"
    assert read.lesion("NT1").lesion.organ == "unspecified"
    assert read.lesion("T1").diameter_mm("recist1.1") == 20.0
    # the issue's format carries no liver segment: imported as not recorded
    assert read.lesion("T2").lesion.liver_segment is None
    assert read.lesion("T2").diameter_mm("mrecist") == 31.0
    # without signed_at the import time is used
    (now,) = reads_from_json(doc)
    assert now.signed_at is not None
    assert abs((now.signed_at - dt.datetime.now(dt.UTC)).total_seconds()) < 3600


def test_dual_trial_reads_round_trip() -> None:
    trial = derive_dual_trial(0)
    reads = trial.to_reads()
    assert len(reads) == sum(len(e["timepoints"]) for e in trial.reads_json["reads"])
    doc = reads_to_json(reads)
    for e in doc["reads"]:
        for tp in e["timepoints"]:
            assert tp.pop("signed_at") == "2025-01-01T00:00:00+00:00"
    assert doc == trial.reads_json
    assert reads_from_json(reads_to_json(reads)) == reads


def _doc() -> dict[str, Any]:
    return reads_to_json(_rich_reads())


def _set(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(_doc())
    obj: Any = doc
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["reads", 0, "timepoints", 1, "lesions", 0, "state"],
            "gone",
            "reads[0].timepoints[1].lesions[0].state: expected measured, too_small, absent or "
            "not_evaluated, received 'gone'",
        ),
        (
            ["reads", 0, "timepoints", 0, "non_targets", 1, "status"],
            "worse",
            "reads[0].timepoints[0].non_targets[1].status: expected present, absent, "
            "unequivocal_progression or not_evaluated, received 'worse'",
        ),
        (
            ["reads", 0, "timepoints", 0, "new_lesions"],
            "maybe",
            "reads[0].timepoints[0].new_lesions: expected none, equivocal or unequivocal",
        ),
        (
            ["reads", 0, "timepoints", 0, "lesions", 0, "role"],
            "non_target",
            "reads[0].timepoints[0].lesions[0].role: expected target or new",
        ),
        (
            ["reads", 0, "timepoints", 0, "date"],
            "02/01/2024",
            "reads[0].timepoints[0].date: expected an ISO date",
        ),
        (
            ["reads", 0, "timepoints", 0, "lesions", 0, "long_axis_mm"],
            -3.0,
            "reads[0].timepoints[0].lesions[0]: Measurement.long_axis_mm",
        ),
        (
            ["reads", 0, "timepoints", 0, "lesions", 0, "long_axis_points"],
            [[0, 0, 0]],
            "reads[0].timepoints[0].lesions[0].long_axis_points: expected two LPS points",
        ),
        (
            ["reads", 0, "timepoints", 0, "lesions", 0, "long_axis_mm"],
            40.0,
            "reads[0].timepoints[0].lesions[0]: Measurement.long_axis_mm: expected the length "
            "of long_axis_line (42.50 mm)",
        ),
        (
            ["reads", 0, "timepoints", 0, "lesions", 0, "liver_segment"],
            "IX",
            "reads[0].timepoints[0].lesions[0]: Lesion T1.liver_segment",
        ),
        (
            ["reads", 0, "timepoints", 0, "lesions", 0, "long_axis"],
            40.0,
            "reads[0].timepoints[0].lesions[0]: unknown key(s) 'long_axis'",
        ),
        (["reads", 1, "reader"], "", "reads[1].reader: expected a non-empty string"),
        (
            ["reads", 0, "timepoints", 0, "signed_at"],
            "2024-06-01T12:00:00",
            "reads[0].timepoints[0].signed_at: expected an ISO UTC time",
        ),
    ],
)
def test_errors_name_the_json_location(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(ModelError) as err:
        reads_from_json(_set(path, value))
    assert message in str(err.value)


def test_structural_errors() -> None:
    with pytest.raises(ModelError, match="expected an object with a 'reads' list"):
        reads_from_json([])
    doc = _doc()
    doc["reads"].append(copy.deepcopy(doc["reads"][0]))
    with pytest.raises(ModelError, match=r"reads\[2\]: subject 'HCC-007' by reader 'reader1' "):
        reads_from_json(doc)
    doc = _doc()
    doc["reads"][0]["timepoints"][1]["label"] = "TP0"
    doc["reads"][0]["timepoints"][1]["version"] = 1
    with pytest.raises(ModelError, match=r"timepoints\[1\]\.label: 'TP0' \(version 1\) appears"):
        reads_from_json(doc)
    doc = _doc()
    del doc["reads"][0]["timepoints"][1]["lesions"][0]["position"]
    with pytest.raises(ModelError, match="'position' must be given on every lesion"):
        reads_from_json(doc)
    with pytest.raises(ModelError, match="expected TimepointRead items"):
        reads_to_json(["x"])  # type: ignore[list-item]
