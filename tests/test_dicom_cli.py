"""The ``readerstation index`` / ``info`` command-line contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from contracts import INDEX_KEYS, INFO_KEYS
from dicom_factory import write_series

from readerstation.cli import main


def test_index_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_series(tmp_path / "a", shape=(3, 8, 6), description="LIVER ART 1mm")
    (tmp_path / "a" / "readme.txt").write_text("x")
    assert main(["index", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and len(data) == 1
    row = data[0]
    assert INDEX_KEYS <= set(row)
    assert row["series_uid"] == spec.series_uid
    assert (row["n_images"], row["rows"], row["columns"]) == (3, 8, 6)
    assert row["pixel_spacing_mm"] == [0.7, 0.8] and row["slice_thickness_mm"] == 2.5
    assert row["phase"] == "arterial"
    assert sorted(row["files"]) == sorted(str(f) for f in spec.files)


def test_index_table_for_humans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_series(tmp_path / "a", shape=(2, 4, 4), description="PV 5mm")
    (tmp_path / "a" / "broken.dcm").write_bytes(b"")
    assert main(["index", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "portal_venous" in out and "PV 5mm" in out and "broken.dcm" in out


def test_info_json_with_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_series(
        tmp_path / "s",
        shape=(4, 8, 6),
        spacing=(2.5, 0.7, 0.8),
        origin=(-50.0, -60.0, -100.0),
        names="shuffled",
    )
    # voxel [z=2, y=5, x=3] sits at (-50 + 3*0.8, -60 + 5*0.7, -100 + 2*2.5) = (-47.6, -56.5, -95)
    argv = [
        "info",
        str(tmp_path),
        "--json",
        "--sample=-47.6,-56.5,-95",
        "--sample=-47.5,-56.4,-95.2",
        "--sample=500,0,0",
    ]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert INFO_KEYS <= set(data)
    assert data["series_uid"] == spec.series_uid
    assert data["shape"] == [4, 8, 6]
    assert data["spacing_mm"] == pytest.approx([2.5, 0.7, 0.8])
    assert data["origin_lps_mm"] == pytest.approx([-50.0, -60.0, -100.0])
    assert np.allclose(data["direction"], np.eye(3))
    assert data["hu_min"] == spec.hu.min() and data["hu_max"] == spec.hu.max()
    s0, s1, s2 = data["samples"]
    assert s0["index_zyx"] == [2, 5, 3] and s0["hu"] == spec.hu[2, 5, 3]
    assert s1["index_zyx"] == [2, 5, 3]  # nearest voxel
    assert s2["index_zyx"] is None and any("outside the volume" in w for w in data["warnings"])
    assert "slice_positions_mm" not in data  # uniform stack


def test_info_non_uniform_lists_slice_positions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_series(tmp_path / "u", shape=(4, 4, 4), offsets=[0, 2, 4, 9])
    assert main(["info", str(tmp_path / "u"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(data["slice_positions_mm"], spec.positions, atol=1e-6)
    assert any("uneven" in w for w in data["warnings"])


def test_info_picks_arterial_or_lists_uids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = "1.2.826.0.1.3680043.8.498.3003"
    pv = write_series(tmp_path / "x" / "pv", shape=(2, 4, 4), description="PV", study_uid=study)
    other = write_series(
        tmp_path / "x" / "o", shape=(2, 4, 4), description="Abdomen", study_uid=study
    )
    assert main(["info", str(tmp_path / "x"), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and pv.series_uid in err and other.series_uid in err
    art = write_series(tmp_path / "x" / "a", shape=(3, 4, 4), description="ART", study_uid=study)
    assert main(["info", str(tmp_path / "x"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["series_uid"] == art.series_uid
    assert any("chose the proposed arterial series" in w for w in data["warnings"])
    assert main(["info", str(tmp_path / "x"), "--series", pv.series_uid, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["series_uid"] == pv.series_uid


def test_bad_series_one_line_error_no_traceback(tmp_path: Path) -> None:
    write_series(tmp_path / "d", shape=(3, 4, 4), offsets=[0, 2, 2])
    proc = subprocess.run(
        [sys.executable, "-m", "readerstation", "info", str(tmp_path / "d"), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "distinct position" in lines[0]


def test_info_human_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_series(tmp_path / "h", shape=(2, 4, 4), tilt_deg=10.0)
    assert main(["info", str(tmp_path / "h")]) == 0
    out = capsys.readouterr().out
    assert "shape" in out and "spacing" in out and "gantry tilt" in out


def test_sample_needs_three_numbers(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["info", str(tmp_path), "--sample=1,2"])
