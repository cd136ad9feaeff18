"""One organ-grouping rule for the reading-time checks and the response engine.

RECIST 1.1 3.3.1: at most 2 targets per organ; RECIST 1.1 Q&A (EORTC, "Two target lesions"):
"Nodes are considered to be one organ". mRECIST (Lencioni & Llovet 2010): the viable diameter
is measured on HCC lesions in the liver; other lesions follow RECIST 1.1. Expected values are
read off those rules.
"""

from __future__ import annotations

import datetime as dt

import pytest

from readerstation.criteria import (
    MRecistCriteria,
    Recist11Criteria,
    organ_group,
    uses_viable_diameter,
)
from readerstation.criteria.checks import FindingCode, check_timepoint_read
from readerstation.engine import derive_timepoints
from readerstation.errors import CriteriaError
from readerstation.model import (
    Lesion,
    LesionAssessment,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
    to_subject_timeline,
)

SIGNED = dt.datetime(2024, 2, 1, 9, 0, tzinfo=dt.UTC)


def node(label, organ, short_mm):
    return LesionAssessment(
        Lesion(f"trk-{label}", label, "target", organ, nodal=True),
        Measurement("measured", long_axis_mm=short_mm + 10.0, short_axis_mm=short_mm),
    )


def signed(*lesions):
    return TimepointRead(
        Subject("HCC-010", dt.date(2024, 1, 8)),
        Timepoint("TP0", dt.date(2024, 1, 5)),
        "r1",
        lesions,
        status="signed",
        signed_at=SIGNED,
    )


@pytest.mark.parametrize(
    ("organ", "nodal", "group"),
    [
        ("mediastinum", True, "lymph_nodes"),
        ("porta_hepatis", True, "lymph_nodes"),
        ("lymph nodes", False, "lymph_nodes"),
        ("Lymph-Node", False, "lymph_nodes"),
        ("Liver", False, "liver"),
        ("adrenal gland", False, "adrenal_gland"),
    ],
)
def test_organ_group(organ, nodal, group):
    assert organ_group(organ, nodal) == group


def test_viable_diameter_only_for_intrahepatic_lesions_under_mrecist():
    m, r = MRecistCriteria(), Recist11Criteria()
    assert uses_viable_diameter(m, "liver", nodal=False)
    assert not uses_viable_diameter(m, "lung", nodal=False)
    assert not uses_viable_diameter(m, "porta_hepatis", nodal=True)
    assert not uses_viable_diameter(r, "liver", nodal=False)


def test_checks_and_engine_refuse_the_same_third_lymph_node_target():
    # 2 nodal targets + a third target on organ "lymph nodes" = 3 targets in one organ (> 2):
    # the checks block and the engine refuses, both naming the lymph-node group.
    third = LesionAssessment(
        Lesion("trk-N3", "N3", "target", "lymph nodes"),
        Measurement("measured", long_axis_mm=22.0),
    )
    read = signed(node("N1", "mediastinum", 20.0), node("N2", "retroperitoneum", 18.0), third)
    findings = check_timepoint_read(read, criteria=Recist11Criteria())
    assert [(f.code, f.lesion) for f in findings] == [(FindingCode.TOO_MANY_TARGETS_IN_ORGAN, None)]
    assert "3 targets in lymph nodes" in findings[0].message
    with pytest.raises(CriteriaError, match=r"per organ \(lymph_nodes\), received 3"):
        derive_timepoints(to_subject_timeline([read], "recist1.1"), Recist11Criteria())


def test_checks_and_engine_accept_the_same_two_nodes_and_a_lung_target():
    lung = LesionAssessment(
        Lesion("trk-T1", "T1", "target", "lung"), Measurement("measured", long_axis_mm=22.0)
    )
    read = signed(node("N1", "mediastinum", 20.0), node("N2", "lymph_node", 18.0), lung)
    assert check_timepoint_read(read, criteria=Recist11Criteria()) == []
    results, _ = derive_timepoints(to_subject_timeline([read], "recist1.1"), Recist11Criteria())
    assert results[0].sum_mm == 20.0 + 18.0 + 22.0
