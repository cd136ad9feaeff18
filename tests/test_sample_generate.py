"""The generator is deterministic, idempotent and cheap when up to date; the CLI behaves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pydicom
import pytest

from readerstation.cli import main
from readerstation.sample import SMALL_GRID, generate_trial


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small_a")
    summary = generate_trial(out, n_subjects=1, grid=SMALL_GRID, workers=1)
    assert summary.series_written == 12
    return out


def test_two_runs_give_identical_files_and_uids(small_trial: Path, tmp_path: Path) -> None:
    other = tmp_path / "small_b"
    generate_trial(other, n_subjects=1, grid=SMALL_GRID, workers=2)  # other worker count
    a, b = _digest(small_trial), _digest(other)
    # 4 timepoints x 3 series x 31 slices + ground truth + 2 timelines
    assert len(a) == 4 * 3 * 31 + 3
    assert a == b


def test_layout_and_headers_of_small_subject(small_trial: Path) -> None:
    files = sorted((small_trial / "HCC-001").rglob("*.dcm"))
    assert len(files) == 372
    series_uids, study_uids, sop_uids = set(), set(), set()
    for f in files[::31]:
        ds = pydicom.dcmread(f)
        assert ds.Rows == ds.Columns == 96
        assert [float(v) for v in ds.PixelSpacing] == [4.0, 4.0]
        assert ds.pixel_array.shape == (96, 96)
        series_uids.add(ds.SeriesInstanceUID)
        study_uids.add(ds.StudyInstanceUID)
    for f in files:
        sop_uids.add(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
    assert len(series_uids) == 12 and len(study_uids) == 4
    assert len(sop_uids) == 372  # every instance has its own UID
    truth = json.loads((small_trial / "ground_truth.json").read_text())
    assert truth["grid"]["rows"] == 96 and truth["grid"]["n_slices"] == 31


def test_second_run_writes_nothing_and_repairs_a_missing_file(small_trial: Path) -> None:
    before = _digest(small_trial)
    s = generate_trial(small_trial, n_subjects=1, grid=SMALL_GRID, workers=1)
    assert s.series_written == 0 and s.json_written == ()
    assert "up to date" in str(s)
    victim = next((small_trial / "HCC-001" / "TP2_week12" / "3_arterial").glob("*.dcm"))
    victim.unlink()
    s = generate_trial(small_trial, n_subjects=1, grid=SMALL_GRID, workers=1)
    assert s.series_written == 1
    assert _digest(small_trial) == before


def test_cli_generate_small_then_up_to_date(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli"
    assert main(["sample", "generate", "--out", str(out), "--subjects", "1", "--small",
                 "--workers", "1"]) == 0  # fmt: skip
    first = capsys.readouterr().out.strip().splitlines()
    assert len(first) == 1 and "wrote 12/12 series" in first[0]
    assert main(["sample", "generate", "--out", str(out), "--subjects", "1", "--small"]) == 0
    second = capsys.readouterr().out.strip().splitlines()
    assert len(second) == 1 and "up to date" in second[0]
    # the full grid into the small folder is refused (would mix grids), one line, exit 2
    assert main(["sample", "generate", "--out", str(out), "--subjects", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another grid" in err[0] and "--force" in err[0]


def test_cli_rejects_bad_subject_count(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["sample", "generate", "--out", str(tmp_path), "--subjects", "7"]) == 2
    err = capsys.readouterr().err
    assert "1..3" in err and "received 7" in err
    assert not any(tmp_path.iterdir())


def test_out_must_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["sample", "generate", "--out", str(f), "--small"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_falls_back_to_jpeg2000_without_a_jpegls_encoder(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

    from readerstation.sample import writer

    real = writer.get_encoder

    class _Missing:
        is_available = False

    monkeypatch.setattr(
        writer, "get_encoder", lambda uid: _Missing() if uid == JPEGLSLossless else real(uid)
    )
    with caplog.at_level("WARNING"):
        assert writer.check_encoder_available(JPEGLSLossless) == JPEG2000Lossless
    assert "pyjpegls" in caplog.text
    assert writer.check_encoder_available(JPEG2000Lossless) == JPEG2000Lossless


def test_files_of_another_generator_version_are_rewritten(small_trial: Path) -> None:
    gt_path = small_trial / "ground_truth.json"
    original = gt_path.read_text()
    doc = json.loads(original)
    doc["generator_version"] = "readerstation.sample/0"
    gt_path.write_text(json.dumps(doc))
    s = generate_trial(small_trial, n_subjects=1, grid=SMALL_GRID, workers=1)
    assert s.series_written == 12 and s.json_written == ("ground_truth.json",)
    assert gt_path.read_text() == original
