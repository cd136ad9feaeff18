"""``readerstation measure`` as a subprocess on the sample trial (HCC-001, committed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"
TP1 = SAMPLE / "HCC-001" / "TP1_week06"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    if not TP1.is_dir():
        pytest.skip(f"{TP1} missing")
    return subprocess.run(
        [sys.executable, "-m", "readerstation", "measure", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _truth_t1_tp1() -> dict:
    truth = json.loads((SAMPLE / "ground_truth.json").read_text(encoding="utf-8"))
    hcc1 = next(s for s in truth["subjects"] if s["subject"] == "HCC-001")
    tp1 = next(t for t in hcc1["timepoints"] if t["timepoint"] == "TP1")
    return next(x for x in tp1["lesions"] if x["lesion"] == "T1")


def test_measure_json_on_the_study_folder_proposes_the_arterial_series() -> None:
    lesion = _truth_t1_tp1()  # 56 mm long, viable 24 mm, with lipiodol
    x, y, z = lesion["centre_lps_mm"]
    proc = _run(str(TP1), f"--seed={x},{y},{z}", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert abs(out["long_axis_mm"] - 56.0) <= 1.5
    assert abs(out["viable_long_axis_mm"] - 24.0) <= 1.5
    assert abs(out["short_axis_mm"] - lesion["short_axis_mm"]) <= 2.0
    for key in ("long_axis_points_lps_mm", "short_axis_points_lps_mm", "viable_points_lps_mm"):
        assert len(out[key]) == 2 and all(len(p) == 3 for p in out[key])
    assert out["sop_instance_uid"] == lesion["arterial_sop_instance_uid"]
    assert isinstance(out["slice_index"], int)
    assert any("proposed arterial series" in w for w in out["warnings"])


def test_measure_with_series_uid_and_text_output() -> None:
    truth = json.loads((SAMPLE / "ground_truth.json").read_text(encoding="utf-8"))
    tp1 = next(t for t in truth["subjects"][0]["timepoints"] if t["timepoint"] == "TP1")
    art = next(s for s in tp1["series"] if s["phase"] == "ARTERIAL")
    proc = _run(str(TP1), "--series", art["series_instance_uid"], "--seed=-70,-15,60")
    assert proc.returncode == 0, proc.stderr
    assert "long axis" in proc.stdout and "viable" in proc.stdout


@pytest.mark.parametrize(
    "seed, message",
    [("-70,-15,600", "lies outside the image"), ("-185,-175,60", "lies on air")],
)
def test_bad_seed_exits_2_with_one_line(seed: str, message: str) -> None:
    proc = _run(str(TP1), f"--seed={seed}", "--json")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
