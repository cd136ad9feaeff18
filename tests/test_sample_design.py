"""The sample trial's design: analytic diameters, deterministic UIDs, hand-computed responses.

Every expected number here is computed by hand from the designed diameters listed in
``sample_dicom/README.md`` (RECIST 1.1: Eisenhauer et al. 2009; mRECIST: Lencioni & Llovet 2010),
not taken from the generator.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from readerstation.errors import SampleDataError
from readerstation.sample import (
    Ellipsoid,
    LesionRole,
    derive_ground_truth,
    derive_timelines,
    derive_trial_design,
    derive_uid,
)

# (subject, criterion) -> target sums at TP0..TP3, worked out from the designed diameters.
HAND_SUMS = {
    ("HCC-001", "RECIST 1.1"): [60 + 40, 56 + 36, 42 + 22, 38 + 20],  # 100, 92, 64, 58
    ("HCC-001", "mRECIST"): [52 + 40, 24 + 14, 12 + 0, 8 + 0],  # 92, 38, 12, 8
    ("HCC-002", "RECIST 1.1"): [48 + 30, 50 + 31, 46 + 29, 49 + 31],  # 78, 81, 75, 80
    ("HCC-002", "mRECIST"): [40 + 30, 42 + 31, 38 + 29, 40 + 31],  # 70, 73, 67, 71
    ("HCC-003", "RECIST 1.1"): [36 + 28, 40 + 31, 46 + 36, 52 + 40],  # 64, 71, 82, 92
    ("HCC-003", "mRECIST"): [30 + 28, 34 + 31, 40 + 36, 46 + 40],  # 58, 65, 76, 86
}
# percent change from baseline, by hand: e.g. (92 - 100) / 100 = -8.0 %; (38 - 92) / 92 = -58.7 %
HAND_PCT_FROM_BASELINE = {
    ("HCC-001", "RECIST 1.1"): [-8.0, -36.0, -42.0],
    ("HCC-001", "mRECIST"): [-58.7, -87.0, -91.3],
    ("HCC-002", "RECIST 1.1"): [3.8, -3.8, 2.6],
    ("HCC-002", "mRECIST"): [4.3, -4.3, 1.4],
    ("HCC-003", "RECIST 1.1"): [10.9, 28.1, 43.8],
    ("HCC-003", "mRECIST"): [12.1, 31.0, 48.3],
}
# timepoint responses FU1..FU3 and confirmed best overall response
HAND_RESPONSES = {
    ("HCC-001", "RECIST 1.1"): (["SD", "PR", "PR"], "PR"),  # PR at -36 %, confirmed 6 weeks later
    ("HCC-001", "mRECIST"): (["PR", "PR", "PR"], "PR"),  # lipiodol replaces viable tumour
    ("HCC-002", "RECIST 1.1"): (["SD", "SD", "SD"], "SD"),  # FU3: (80 - 75) / 75 = +6.7 % < 20 %
    ("HCC-002", "mRECIST"): (["SD", "SD", "SD"], "SD"),  # FU3: (71 - 67) / 67 = +6.0 %
    ("HCC-003", "RECIST 1.1"): (["PD", "PD", "PD"], "PD"),  # new lesion NEW1 from FU1
    ("HCC-003", "mRECIST"): (["PD", "PD", "PD"], "PD"),
}


@pytest.fixture(scope="module")
def truth() -> dict:
    return derive_ground_truth(Path("/nonexistent/sample"), derive_trial_design())


def test_ellipsoid_long_axis_and_endpoints_are_analytic() -> None:
    e = Ellipsoid((10.0, 20.0, 30.0), (25.0, 15.0, 20.0), angle_deg=30.0)
    assert e.long_axis_mm == 50.0
    assert e.short_axis_mm == 30.0
    p0, p1 = np.array(e.long_axis_endpoints())
    assert np.linalg.norm(p1 - p0) == pytest.approx(50.0, abs=1e-2)
    # direction at 30 degrees from +x towards +y: (cos 30, sin 30) * 25 = (21.651, 12.5)
    assert p1.tolist() == pytest.approx([10 + 21.651, 20 + 12.5, 30.0], abs=1e-3)
    q0, q1 = np.array(e.short_axis_endpoints())
    cos = float(np.dot(p1 - p0, q1 - q0)) / (50.0 * 30.0)
    assert cos == pytest.approx(0.0, abs=1e-4)  # perpendicular (end points rounded to 1 um)
    # an end point lies on the surface, a point 1 mm further out does not
    x, y = np.array([p1[0]]), np.array([p1[1]])
    assert e.normalised_radius(x, y, 30.0)[0] == pytest.approx(1.0, abs=1e-4)
    far = p1 + (p1 - p0) / 50.0
    assert e.normalised_radius(np.array([far[0]]), np.array([far[1]]), 30.0)[0] > 1.0


def test_ellipsoid_refuses_minor_longer_than_major() -> None:
    with pytest.raises(SampleDataError, match="a >= b"):
        Ellipsoid((0, 0, 0), (10.0, 12.0, 5.0))


def test_derive_uid_is_deterministic_and_valid() -> None:
    a = derive_uid("HCC-001", "TP0", "study")
    assert a == derive_uid("HCC-001", "TP0", "study")
    assert a != derive_uid("HCC-001", "TP1", "study")
    assert a.startswith("2.25.") and len(a) <= 64
    assert int(a[5:]) < 2**128


def test_design_has_three_archetypes_and_valid_lesion_counts() -> None:
    subjects = derive_trial_design()
    assert [s.code for s in subjects] == ["HCC-001", "HCC-002", "HCC-003"]
    assert [s.archetype for s in subjects] == ["responder", "stable", "progressing"]
    for s in subjects:
        assert len(s.timepoints) == 4
        dates = [tp.study_date for tp in s.timepoints]
        assert all((b - a).days == 42 for a, b in itertools.pairwise(dates))
        for tp in s.timepoints:
            n = len(s.lesions_at(tp.index))
            assert 2 <= n <= 4, (s.code, tp.label, n)
        targets = [t for t in s.tracks if t.role is LesionRole.TARGET]
        assert len(targets) == 2  # at most 2 intrahepatic targets (mRECIST) / 2 per organ
        for t in targets:  # mRECIST: typical enhancing HCC with viable part >= 10 mm
            st0 = t.states[0]
            assert st0 is not None and st0.viable_long_axis_mm >= 10.0


def test_subject_count_out_of_range_is_refused() -> None:
    with pytest.raises(SampleDataError, match=r"1\.\.3"):
        derive_trial_design(4)


@pytest.mark.parametrize("key", sorted(HAND_SUMS))
def test_expected_sums_and_responses_match_hand_arithmetic(truth: dict, key) -> None:
    code, crit = key
    subj = next(s for s in truth["subjects"] if s["subject"] == code)
    exp = subj["expected"][crit]
    sums = [t["sum_mm"] for t in exp["timepoints"]]
    assert sums == [float(v) for v in HAND_SUMS[key]]
    pct = [t["change_from_baseline_pct"] for t in exp["timepoints"][1:]]
    assert pct == HAND_PCT_FROM_BASELINE[key]
    responses, bor = HAND_RESPONSES[key]
    assert [t["overall_response"] for t in exp["timepoints"][1:]] == responses
    assert exp["best_overall_response"]["confirmed"] == bor


# PD absolute minimum over the nadir: RECIST 1.1 4.3.1 "at least 5 mm"; mRECIST (Lencioni &
# Llovet 2010) has none. These are also the response engine's defaults.
PD_MIN_MM = {"RECIST 1.1": 5.0, "mRECIST": 0.0}


def test_response_margins_are_clear_of_thresholds(truth: dict) -> None:
    """A 1.5 mm error on each of two targets (3 mm on the sum) must not flip a call."""
    for subj in truth["subjects"]:
        for crit, exp in subj["expected"].items():
            base = exp["timepoints"][0]["sum_mm"]
            pd_min = PD_MIN_MM[crit]
            for tp in exp["timepoints"][1:]:
                s, nadir = tp["sum_mm"], tp["nadir_mm"]
                for delta in (-3.0, 3.0):
                    from_base = 100 * (s + delta - base) / base
                    from_nadir = 100 * (s + delta - nadir) / nadir
                    pr = from_base <= -30
                    pd_ = from_nadir >= 20 and s + delta - nadir >= pd_min
                    was_pr = tp["change_from_baseline_pct"] <= -30
                    was_pd = tp["change_from_nadir_pct"] >= 20 and s - nadir >= pd_min
                    assert (pr, pd_) == (was_pr, was_pd), (subj["subject"], crit, tp["date"])


def test_classic_tace_discordance_in_responder(truth: dict) -> None:
    subj = truth["subjects"][0]
    fu1 = subj["timepoints"][1]
    assert subj["expected"]["RECIST 1.1"]["timepoints"][1]["overall_response"] == "SD"
    assert subj["expected"]["mRECIST"]["timepoints"][1]["overall_response"] == "PR"
    assert any(les["lipiodol"] for les in fu1["lesions"])  # lipiodol after TACE
    t2_later = [
        les for tp in subj["timepoints"][2:] for les in tp["lesions"] if les["lesion"] == "T2"
    ]
    assert all(les["viable_long_axis_mm"] == 0.0 and les["lipiodol"] for les in t2_later)


def test_progressor_has_new_lesion_from_first_follow_up(truth: dict) -> None:
    subj = truth["subjects"][2]
    ids = [[les["lesion"] for les in tp["lesions"]] for tp in subj["timepoints"]]
    assert "NEW1" not in ids[0]
    assert all("NEW1" in i for i in ids[1:])
    new = next(les for les in subj["timepoints"][1]["lesions"] if les["lesion"] == "NEW1")
    assert new["role"] == "NEW" and new["viable_long_axis_mm"] >= 10.0


def test_ground_truth_geometry_is_consistent(truth: dict) -> None:
    for subj in truth["subjects"]:
        for tp in subj["timepoints"]:
            for les in tp["lesions"]:
                p0, p1 = np.array(les["long_axis_endpoints_lps_mm"])
                assert np.linalg.norm(p1 - p0) == pytest.approx(les["long_axis_mm"], abs=0.01)
                assert p0[2] == p1[2] == les["slice_z_mm"]
                # slice index from the grid: z = 100 - 2.5 k
                assert les["slice_index"] == round((100.0 - les["slice_z_mm"]) / 2.5)
                if les["viable_endpoints_lps_mm"] is not None:
                    v0, v1 = np.array(les["viable_endpoints_lps_mm"])
                    assert np.linalg.norm(v1 - v0) == pytest.approx(
                        les["viable_long_axis_mm"], abs=0.01
                    )
                    assert les["viable_long_axis_mm"] <= les["long_axis_mm"]
                assert les["segment"] in {"I", "II", "III", "IVa", "IVb", "V", "VI", "VII", "VIII"}


def test_timelines_follow_engine_input_format() -> None:
    tl = derive_timelines(derive_trial_design())
    recist, mrecist = tl["recist"], tl["mrecist"]
    s1 = recist["subjects"][0]
    assert s1["subject"] == "HCC-001"
    assert s1["treatment_start"] == "2024-01-12"
    assert s1["death_date"] is None
    assert dt.date.fromisoformat(s1["last_known_alive"]) > dt.date(2024, 5, 13)
    first = s1["assessments"][0]
    assert first["date"] == "2024-01-08"
    assert first["targets"][0] == {"lesion": "T1", "organ": "liver", "nodal": False,
                                   "diameter_mm": 60.0}  # fmt: skip
    assert first["non_targets"] == [{"lesion": "NT1", "status": "present"}]
    assert first["new_lesions"] == "none"
    m = mrecist["subjects"][0]["assessments"]
    assert [sum(t["diameter_mm"] for t in a["targets"]) for a in m] == [92.0, 38.0, 12.0, 8.0]
    prog = recist["subjects"][2]["assessments"]
    assert [a["new_lesions"] for a in prog] == ["none", "unequivocal", "unequivocal", "unequivocal"]
    for doc in (recist, mrecist):
        for s in doc["subjects"]:
            for a in s["assessments"]:
                assert a["new_lesions"] in {"none", "equivocal", "unequivocal"}
                for nt in a["non_targets"]:
                    assert nt["status"] in {"present", "absent", "unequivocal_progression",
                                            "not_evaluated"}  # fmt: skip
                assert all(math.isfinite(t["diameter_mm"]) for t in a["targets"])


def test_ground_truth_uses_the_engine_contract_and_defaults(truth: dict) -> None:
    """Category strings and new-lesion words of the CLI contract (docs/response-engine.md), and
    the thresholds of the criteria papers that are also the engine's defaults: RECIST 1.1 PD
    +20 % and +5 mm, mRECIST PD +20 % with no absolute minimum, PR -30 %, confirmation 28 days,
    SD minimum 35 days (6-weekly imaging minus a 7-day window)."""
    crit = truth["criteria"]
    for name, pd_min in PD_MIN_MM.items():
        c = crit[name]
        assert (c["pr_change_pct"], c["pd_change_pct"], c["pd_min_increase_mm"]) == (
            -30.0,
            20.0,
            pd_min,
        )
        assert (c["confirmation_min_days"], c["sd_min_days_from_treatment_start"]) == (28, 35)
    categories = {"CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD"}
    for subj in truth["subjects"]:
        for exp in subj["expected"].values():
            base, *fus = exp["timepoints"]
            assert base["new_lesions"] is None and base["overall_response"] is None
            for tp in fus:
                assert tp["new_lesions"] in {"none", "equivocal", "unequivocal"}
                for field in ("target_response", "non_target_response", "overall_response"):
                    assert tp[field] in categories, (subj["subject"], field, tp[field])
            assert set(exp["best_overall_response"].values()) <= categories
    hcc3 = truth["subjects"][2]["expected"]["RECIST 1.1"]["timepoints"]
    assert [tp["new_lesions"] for tp in hcc3] == [None, "unequivocal", "unequivocal", "unequivocal"]
    hcc1 = truth["subjects"][0]["expected"]["RECIST 1.1"]["timepoints"]
    assert hcc1[1]["non_target_response"] == "NON-CR/NON-PD"


def test_ground_truth_criteria_match_engine_defaults(truth: dict) -> None:
    """The generator's restated thresholds and the engine's parameter objects agree."""
    import readerstation.criteria.params as params

    for name, cls in (("RECIST 1.1", params.Recist11Criteria), ("mRECIST", params.MRecistCriteria)):
        c, e = truth["criteria"][name], cls()
        assert c["pr_change_pct"] == -e.pr_decrease_pct
        assert c["pd_change_pct"] == e.pd_increase_pct
        assert c["pd_min_increase_mm"] == e.pd_absolute_min_mm
        assert c["confirmation_min_days"] == e.confirm_days
        assert c["sd_min_days_from_treatment_start"] == e.sd_min_days


def test_changed_expected_responses_do_not_force_rewriting_series(tmp_path: Path) -> None:
    """Only what the pixels depend on marks a subject stale; new response rules do not."""
    import json

    from readerstation.sample import trial

    truth = derive_ground_truth(tmp_path, derive_trial_design())
    old = json.loads(json.dumps(truth))
    old["subjects"][0]["expected"]["RECIST 1.1"]["best_overall_response"]["confirmed"] = "SD"
    path = tmp_path / "ground_truth.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    assert trial._stale_subjects(path, truth) == set()
    old["subjects"][1]["timepoints"][0]["lesions"][0]["long_axis_mm"] += 1.0
    path.write_text(json.dumps(old), encoding="utf-8")
    assert trial._stale_subjects(path, truth) == {"HCC-002"}
