"""Indexing folders by headers only: grouping, skipping, problems, phases, JSON keys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pydicom
import pytest
from contracts import INDEX_KEYS
from dicom_factory import write_enhanced, write_series

from readerstation.dicom import Phase, index_folder
from readerstation.dicom import headers as headers_module
from readerstation.errors import DicomError, SeriesSelectionError


def _study(tmp_path: Path) -> dict[str, Any]:
    """A liver study: pre-contrast, then three contrast acquisitions named by timing only."""
    study = "1.2.826.0.1.3680043.8.498.1001"
    root = tmp_path / "study"
    specs = {
        "pre": write_series(
            root / "s1",
            shape=(3, 4, 4),
            study_uid=study,
            series_number=1,
            description="Abdomen 5mm",
            acquisition_time="100000",
        ),
        "art": write_series(
            root / "s2",
            shape=(3, 4, 4),
            study_uid=study,
            series_number=2,
            description="Abdomen 5mm",
            contrast_agent="IOMERON 400",
            bolus_start="100500",
            acquisition_time="100535",
        ),
        "pv": write_series(
            root / "s3",
            shape=(3, 4, 4),
            study_uid=study,
            series_number=3,
            description="Abdomen 5mm",
            contrast_agent="IOMERON 400",
            bolus_start="100500",
            acquisition_time="100610",
        ),
        "late": write_series(
            root / "s4",
            shape=(3, 4, 4),
            study_uid=study,
            series_number=4,
            description="Abdomen 5mm",
            contrast_agent="IOMERON 400",
            bolus_start="100500",
            acquisition_time="100800",
        ),
    }
    return {"root": root, **specs}


def test_groups_series_and_infers_phases_by_timing(tmp_path: Path) -> None:
    s = _study(tmp_path)
    idx = index_folder(s["root"])
    assert len(idx.series) == 4
    by_uid = {info.series_uid: info for info in idx.series}
    # bolus at 10:05:00; acquisitions 35 s, 70 s and 180 s later; the first had no agent
    assert by_uid[s["art"].series_uid].phase is Phase.ARTERIAL
    assert by_uid[s["pv"].series_uid].phase is Phase.PORTAL_VENOUS
    assert by_uid[s["late"].series_uid].phase is Phase.DELAYED
    assert by_uid[s["pre"].series_uid].phase is Phase.NON_CONTRAST
    assert [i.series_number for i in idx.series] == [1, 2, 3, 4]
    info = by_uid[s["art"].series_uid]
    assert info.n_images == 3 and (info.rows, info.columns) == (4, 4)
    assert info.pixel_spacing_mm == pytest.approx((0.7, 0.8))
    assert info.slice_thickness_mm == pytest.approx(2.5)
    assert info.orientation == pytest.approx((1, 0, 0, 0, 1, 0))
    assert info.contrast_agent == "IOMERON 400"
    assert info.acquisition_time == "100535"
    assert set(info.files) == set(s["art"].files)


def test_order_gives_phases_when_no_bolus_time(tmp_path: Path) -> None:
    study = "1.2.826.0.1.3680043.8.498.2002"
    for n, t in ((1, "101000"), (2, "100900"), (3, "101300")):
        write_series(
            tmp_path / f"s{n}",
            shape=(2, 4, 4),
            study_uid=study,
            series_number=n,
            contrast_agent="APPLIED",
            acquisition_time=t,
        )
    phases = {i.series_number: i.phase for i in index_folder(tmp_path).series}
    # acquisition order: series 2 (10:09), 1 (10:10), 3 (10:13)
    assert phases == {2: Phase.ARTERIAL, 1: Phase.PORTAL_VENOUS, 3: Phase.DELAYED}


def test_skips_and_counts_non_dicom_hidden_dicomdir_and_broken(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "d", shape=(3, 4, 4))
    (tmp_path / "d" / "notes.txt").write_text("not dicom")
    (tmp_path / "d" / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "d" / ".hidden_dir").mkdir()
    shutil.copy(spec.files[0], tmp_path / "d" / ".hidden_dir" / "x.dcm")
    (tmp_path / "d" / "DICOMDIR").write_bytes(b"\x00" * 200)
    (tmp_path / "d" / "empty.dcm").write_bytes(b"")
    (tmp_path / "d" / "garbage.dcm").write_bytes(b"\x01\x02" * 300)
    # a DICOMDIR-class file under another name is skipped as a DICOMDIR too
    ds = pydicom.dcmread(spec.files[0], stop_before_pixels=True)
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    ds.SOPClassUID = "1.2.840.10008.1.3.10"
    ds.save_as(tmp_path / "d" / "media_index")
    idx = index_folder(tmp_path / "d")
    assert idx.skipped == {"non_dicom": 1, "dicomdir": 2, "hidden": 2, "unreadable": 2}
    assert len(idx.series) == 1 and idx.series[0].n_images == 3
    assert any("empty.dcm: empty file" in p for p in idx.problems)
    assert any("garbage.dcm: not a readable DICOM file" in p for p in idx.problems)


def test_fast_index_reads_header_bytes_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import readerstation.dicom.fastheader as fast_module

    spec = write_series(tmp_path / "f", shape=(3, 64, 64))  # 8 KiB of pixels per file
    reads: list[tuple[int, int]] = []
    real_pread = os.pread

    def spy(fd: int, n: int, offset: int) -> bytes:
        reads.append((n, offset))
        return real_pread(fd, n, offset)

    monkeypatch.setattr(fast_module.os, "pread", spy)
    idx = index_folder(spec.folder)
    assert idx.series[0].n_images == 3
    assert reads == [(4096, 0)] * 3  # one 4 KiB read per file, smaller than the file
    assert all(f.stat().st_size > 8192 for f in spec.files)


def test_index_reads_headers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_series(tmp_path / "h", shape=(3, 4, 4))
    calls: list[dict[str, Any]] = []
    real = pydicom.dcmread

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(headers_module.pydicom, "dcmread", spy)
    # the pydicom path (files the minimal parser refuses): stop before the pixels
    monkeypatch.setattr(headers_module, "read_fast_file_header", lambda p: None)
    idx = index_folder(tmp_path / "h")
    assert len(calls) == 3
    assert all(c.get("stop_before_pixels") is True and c.get("specific_tags") for c in calls)
    assert "PixelData" not in str(calls[0]["specific_tags"])
    assert idx.series[0].n_images == 3


def test_colour_images_are_listed_as_non_image(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "rgb", shape=(1, 4, 4))
    ds = pydicom.dcmread(spec.files[0])
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(4 * 4 * 3)
    ds.save_as(spec.files[0])
    idx = index_folder(spec.folder)
    assert [s.is_image for s in idx.series] == [False] and idx.problems == ()


def test_enhanced_counts_frames(tmp_path: Path) -> None:
    write_enhanced(tmp_path / "e" / "ct.dcm", shape=(5, 6, 5))
    (info,) = index_folder(tmp_path / "e").series
    assert info.n_images == 5 and len(info.files) == 1


def test_to_json_has_contract_keys(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "j", shape=(2, 4, 4), description="LIVER ART")
    (info,) = index_folder(tmp_path / "j").series
    data = info.to_json()
    assert INDEX_KEYS <= set(data)
    assert data["phase"] == "arterial" and data["pixel_spacing_mm"] == [0.7, 0.8]
    assert sorted(data["files"]) == sorted(str(f) for f in spec.files)
    assert "LIVER ART" in repr(info)


def test_find_and_missing_path(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "f", shape=(2, 4, 4))
    idx = index_folder(tmp_path / "f")
    assert idx.find(spec.series_uid).series_uid == spec.series_uid
    with pytest.raises(SeriesSelectionError, match=spec.series_uid):
        idx.find("9.9.9")
    with pytest.raises(DicomError, match="does not exist"):
        index_folder(tmp_path / "nope")


def test_single_file_path(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "one", shape=(2, 4, 4))
    idx = index_folder(spec.files[0])
    assert len(idx.series) == 1 and idx.series[0].n_images == 1
