"""The ``response``, ``summary`` and ``plots`` commands as a trial system runs them (subprocess).

Expected values are worked by hand from RECIST 1.1: subject S01 has one 50 mm liver target and a
non-target; 35 mm at day 42 is -30 % (PR), 33 mm at day 84 confirms it (PR, >= 28 days later),
42 mm at day 126 is +27 % and +9 mm over the 33 mm nadir (PD). S02 has non-target disease only.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

START = dt.date(2022, 1, 10)
SUBJECT_KEYS = {
    "timepoints",
    "best_overall_response",
    "best_overall_response_unconfirmed",
    "first_response_date",
    "time_to_response_days",
    "duration_of_response_days",
    "dor_event",
    "progression_date",
    "pfs_days",
    "pfs_event",
    "max_change_from_baseline_pct",
}
TIMEPOINT_KEYS = {
    "date",
    "sum_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "target_response",
    "non_target_response",
    "new_lesions",
    "overall_response",
}


def day(n: int) -> str:
    return (START + dt.timedelta(days=n)).isoformat()


def _visit(d, diam, nt="present", new="none"):
    return {
        "date": day(d),
        "targets": [{"lesion": "T1", "organ": "liver", "nodal": False, "diameter_mm": diam}],
        "non_targets": [{"lesion": "NT1", "status": nt}],
        "new_lesions": new,
    }


TIMELINE = {
    "subjects": [
        {
            "subject": "S01",
            "treatment_start": day(0),
            "death_date": None,
            "last_known_alive": day(400),
            "assessments": [
                _visit(-5, 50.0),
                _visit(42, 35.0),
                _visit(84, 33.0),
                _visit(126, 42.0),
            ],
        },
        {
            "subject": "S02",
            "treatment_start": day(0),
            "death_date": day(300),
            "last_known_alive": None,
            "assessments": [
                {"date": day(-3), "non_targets": [{"lesion": "NT1", "status": "present"}]},
                {"date": day(42), "non_targets": [{"lesion": "NT1", "status": "present"}]},
                {"date": day(84), "non_targets": [{"lesion": "NT1", "status": "present"}]},
            ],
        },
    ]
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "readerstation", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture()
def timeline_file(tmp_path: Path) -> Path:
    p = tmp_path / "timeline.json"
    p.write_text(json.dumps(TIMELINE))
    return p


def test_response_json(timeline_file: Path):
    proc = run("response", str(timeline_file), "--criteria", "recist1.1", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    s1, s2 = out["subjects"]
    assert SUBJECT_KEYS <= set(s1)
    assert all(TIMEPOINT_KEYS <= set(tp) for tp in s1["timepoints"])
    base = s1["timepoints"][0]
    assert base["date"] == day(-5) and base["sum_mm"] == 50.0
    assert base["target_response"] is None and base["overall_response"] is None
    assert [tp["overall_response"] for tp in s1["timepoints"][1:]] == ["PR", "PR", "PD"]
    assert s1["timepoints"][1]["change_from_baseline_pct"] == -30.0
    assert s1["timepoints"][3]["change_from_nadir_pct"] == pytest.approx(27.27, abs=0.01)
    assert s1["timepoints"][1]["non_target_response"] == "NON-CR/NON-PD"
    assert s1["best_overall_response"] == "PR"
    assert s1["first_response_date"] == day(42)
    assert (s1["time_to_response_days"], s1["duration_of_response_days"]) == (42, 84)
    assert s1["dor_event"] is True and s1["progression_date"] == day(126)
    assert (s1["pfs_days"], s1["pfs_event"]) == (126, True)
    assert s1["max_change_from_baseline_pct"] == -34.0
    # non-target-only subject: no target response, BOR NON-CR/NON-PD; death at day 300 is 216
    # days after the last adequate assessment (> 2 x 42 + 7 days: two missed visits), so PFS is
    # censored at day 84 (FDA 2018)
    assert s2["timepoints"][1]["target_response"] is None
    assert s2["timepoints"][1]["sum_mm"] is None
    assert s2["best_overall_response"] == "NON-CR/NON-PD"
    assert (s2["pfs_days"], s2["pfs_event"]) == (84, False)


def test_confirm_days_option(timeline_file: Path):
    # 42 days between the two PRs: confirmed at --confirm-days 42, not at 43 (then SD)
    ok = json.loads(
        run(
            "response",
            str(timeline_file),
            "--criteria",
            "recist1.1",
            "--confirm-days",
            "42",
            "--json",
        ).stdout
    )
    assert ok["subjects"][0]["best_overall_response"] == "PR"
    no = json.loads(
        run(
            "response",
            str(timeline_file),
            "--criteria",
            "recist1.1",
            "--confirm-days",
            "43",
            "--json",
        ).stdout
    )
    assert no["subjects"][0]["best_overall_response"] == "SD"
    assert no["subjects"][0]["best_overall_response_unconfirmed"] == "PR"


def test_summary_json(timeline_file: Path):
    proc = run(
        "summary",
        str(timeline_file),
        "--criteria",
        "recist1.1",
        "--json",
        "--dcr-sd-min-days",
        "100",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 2
    assert out["counts"]["PR"] == 1 and out["counts"]["NON-CR/NON-PD"] == 1
    assert set(out["orr"]) >= {"n", "proportion", "ci95", "ci90_lower"}
    assert out["orr"]["n"] == 1 and out["orr"]["proportion"] == 0.5
    # S02's last assessment without progression is day 84 < 100: no disease control
    assert out["dcr"]["n"] == 1
    for key in ("pfs", "os"):
        assert set(out[key]) >= {"median_months", "median_ci95", "rates"}
        assert set(out[key]["rates"]) == {"12", "24", "36"}
    # OS: S02 died at day 300 (9.86 months), S01 censored at day 400
    assert out["os"]["rates"]["12"]["rate"] == 0.5


def test_mrecist_criteria_and_plain_text(timeline_file: Path):
    proc = run("summary", str(timeline_file), "--criteria", "mrecist")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mRECIST: n = 2")


def test_bad_input_one_line_exit_2(tmp_path: Path):
    bad = json.loads(json.dumps(TIMELINE))
    bad["subjects"][0]["assessments"][2]["targets"][0]["diameter_mm"] = "big"
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    proc = run("response", str(p), "--criteria", "recist1.1", "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""  # no partial output
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "subject S01, assessment 3" in lines[0] and "targets[0].diameter_mm" in lines[0]
    missing = run("response", str(tmp_path / "nope.json"), "--criteria", "recist1.1", "--json")
    assert missing.returncode == 2 and "nope.json" in missing.stderr


def test_plots_written(timeline_file: Path, tmp_path: Path):
    out = tmp_path / "plots"
    proc = run("plots", str(timeline_file), "--criteria", "recist1.1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for stem in ("waterfall", "spider", "swimmer", "km_pfs", "km_os"):
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:2000]


SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"


@pytest.mark.parametrize(
    ("criteria", "key", "filename"),
    [
        ("recist1.1", "RECIST 1.1", "timeline_recist.json"),
        ("mrecist", "mRECIST", "timeline_mrecist.json"),
    ],
)
def test_sample_trial_matches_its_ground_truth(criteria: str, key: str, filename: str):
    """The synthetic trial's ground truth (written independently by its generator) agrees with
    the engine on every timepoint response and best overall response."""
    timeline, truth_file = SAMPLE / filename, SAMPLE / "ground_truth.json"
    if not timeline.exists() or not truth_file.exists():
        pytest.skip(f"{timeline} absent: run `readerstation sample generate` (make sample) first")
    proc = run("response", str(timeline), "--criteria", criteria, "--json")
    assert proc.returncode == 0, proc.stderr
    mine = {s["subject"]: s for s in json.loads(proc.stdout)["subjects"]}
    truth = json.loads(truth_file.read_text())
    checked = 0
    for subject in truth["subjects"]:
        expected = subject["expected"][key]
        got = mine[subject["subject"]]
        bor = expected["best_overall_response"]
        assert got["best_overall_response"] == bor["confirmed"]
        assert got["best_overall_response_unconfirmed"] == bor["unconfirmed"]
        for exp_tp, tp in zip(expected["timepoints"], got["timepoints"], strict=True):
            assert tp["date"] == exp_tp["date"]
            assert tp["sum_mm"] == exp_tp["sum_mm"]
            # the ground truth uses the contract's strings (no translation)
            for field in (
                "target_response",
                "non_target_response",
                "new_lesions",
                "overall_response",
            ):
                assert tp[field] == exp_tp[field], (subject["subject"], tp["date"], field)
            checked += 1
    assert checked > 0
