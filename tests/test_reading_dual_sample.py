"""Both readers' reads of the sample trial: signed through the store, designed differences only."""

from __future__ import annotations

import pytest
from test_reading_support import (  # noqa: F401 - store_fixture is the store fixture
    FAST_KDF,
    PASSWORD,
    SAMPLE,
    login,
    store_fixture,
    truth,
)

from readerstation.reading.charter import AdjudicationVariable as V
from readerstation.reading.discrepancy import compare_reads
from readerstation.reading.dual_sample import SAMPLE_DUAL_DESIGN, seed_dual_reads
from readerstation.store import Store

DESIGNED = {
    "HCC-001": set(),
    "HCC-002": {V.PROGRESSION_DATE},
    "HCC-003": {V.BEST_OVERALL_RESPONSE, V.PROGRESSION_DATE},
}


@pytest.mark.parametrize("criteria", ["recist1.1", "mrecist"])
def test_signed_reads_differ_exactly_as_designed(store: Store, criteria: str) -> None:
    reads = seed_dual_reads(store, SAMPLE, password=PASSWORD, kdf=FAST_KDF)
    assert set(DESIGNED) == set(SAMPLE_DUAL_DESIGN)
    r1, r2 = reads["reader1"], reads["reader2"]
    assert all(r.is_signed for r in r1 + r2) and len(r1) == len(r2) == 12
    for code, designed in DESIGNED.items():
        a = [r for r in r1 if r.subject.code == code]
        b = [r for r in r2 if r.subject.code == code]
        comparison = compare_reads(a, b, criteria)
        assert set(comparison.variables) == designed, (code, comparison)
    # reader1 is the ground truth: its engine results are the ones ground_truth.json expects
    name = {"recist1.1": "RECIST 1.1", "mrecist": "mRECIST"}[criteria]
    for subject in truth()["subjects"]:
        a = [r for r in r1 if r.subject.code == subject["subject"]]
        result = compare_reads(a, a, criteria).result_1
        want = subject["expected"][name]["best_overall_response"]["confirmed"]
        assert result.best_overall_response.value == want
    # the lines are on the arterial images named by the ground truth, and the store kept them
    stored = login(store, "reader2").get_read(r2[0].read_id)
    t1 = stored.lesion("T1").measurement
    assert t1 is not None and t1.long_axis_line is not None
    assert (
        t1.long_axis_line.sop_instance_uid
        == truth()["subjects"][0]["timepoints"][0]["lesions"][0]["arterial_sop_instance_uid"]
    )
    assert login(store, "admin").verify_audit().intact
