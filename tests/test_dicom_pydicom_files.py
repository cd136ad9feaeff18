"""Corrupt and unusual files that ship with pydicom (``pydicom.data.get_testdata_file``).

Files from the separate ``pydicom-data`` package are used only when that package is installed
(never downloaded during tests); otherwise those tests skip with the reason, and stand-ins
cover the same failures: test_real_jpeg2000_with_short_codestream here, and
test_dicom_load.py::test_enhanced_multiframe_per_frame_rescale_and_order. Each expected value
is read from the file's own header or from pydicom's test_files/README.txt, not from
readerstation.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from readerstation.dicom import index_folder, load_series, load_stored_pixels, plan_series
from readerstation.errors import DicomError


def _copy(name: str, dest: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            src = get_testdata_file(name, download=False)  # never reach the network in tests
        except Exception as exc:  # pragma: no cover - network errors vary
            pytest.skip(f"pydicom test file {name} unavailable ({exc})")
    if src is None:
        pytest.skip(
            f"pydicom test file {name} is in the pydicom-data package, which is not installed "
            "(pip install pydicom-data to run this test)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / name
    shutil.copy(src, out)
    return out


def test_mr_truncated_reported_and_refused(tmp_path: Path) -> None:
    path = _copy("MR_truncated.dcm", tmp_path / "t")
    # Rows 64 x Columns 64 x 16 bits = 8192 bytes declared; the file stops 62 bytes short.
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert (ds.Rows, ds.Columns, ds.BitsAllocated) == (64, 64, 16)
    idx = index_folder(path.parent)
    assert len(idx.series) == 1  # the series is still listed
    assert len(idx.problems) == 1 and "MR_truncated.dcm: pixel data truncated" in idx.problems[0]
    assert "8192" in idx.problems[0]
    with pytest.raises(DicomError, match=r"MR_truncated\.dcm: pixel data truncated"):
        load_series(path.parent)


def test_bad_vr_number_of_frames(tmp_path: Path) -> None:
    path = _copy("badVR.dcm", tmp_path / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert str(pydicom.dcmread(path).NumberOfFrames) == "1A"  # not an integer string
    idx = index_folder(path.parent)
    assert any("NumberOfFrames '1A' is not an integer" in p for p in idx.problems)
    (info,) = idx.series
    assert info.modality == "RTDOSE" and not info.is_image


def test_no_meta_reported_as_unreadable(tmp_path: Path) -> None:
    path = _copy("no_meta.dcm", tmp_path / "n")
    # The copy in pydicom starts with a stray 0x20 byte before (0008,0005): no DICM prefix, no
    # data set at byte 0. It must be skipped and reported, not crash the scan.
    assert path.read_bytes()[:3] == b" \x08\x00"
    idx = index_folder(path.parent)
    assert idx.skipped["unreadable"] == 1 and idx.series == ()
    assert "no_meta.dcm: not a readable DICOM file" in idx.problems[0]
    with pytest.raises(DicomError, match="No image series"):
        plan_series(path.parent)


def test_deflated_image_without_geometry(tmp_path: Path) -> None:
    path = _copy("image_dfl.dcm", tmp_path / "d")
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1.99"  # deflated explicit LE
    vol = load_series(path.parent)
    assert vol.shape == (1, 512, 512)
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array)
    assert any("PixelSpacing is missing" in w for w in vol.warnings)
    assert any("no ImagePositionPatient" in w for w in vol.warnings)


def test_rtplan_truncated_is_listed_as_non_image(tmp_path: Path) -> None:
    path = _copy("rtplan_truncated.dcm", tmp_path / "r")
    idx = index_folder(path.parent)
    assert [s.modality for s in idx.series] == ["RTPLAN"]
    assert not idx.series[0].is_image


def test_big_endian_and_rle_match_little_endian(tmp_path: Path) -> None:
    ref = _copy("MR_small.dcm", tmp_path / "le")
    big = _copy("MR_small_bigendian.dcm", tmp_path / "be")
    rle = _copy("MR_small_RLE.dcm", tmp_path / "rle")
    expected = pydicom.dcmread(ref).pixel_array
    for path in (big, rle):
        np.testing.assert_array_equal(load_stored_pixels(path)[0], expected)
        vol = load_series(path.parent)
        np.testing.assert_array_equal(vol.array[0], expected)  # MR: no rescale


def test_jpeg2000_too_short_from_pydicom_data(tmp_path: Path) -> None:
    path = _copy("emri_small_jpeg_2k_lossless_too_short.dcm", tmp_path / "j")
    with pytest.raises(DicomError, match=r"emri_small_jpeg_2k_lossless_too_short\.dcm"):
        load_series(path.parent)


def test_enhanced_ct_supplemental_from_pydicom_data(tmp_path: Path) -> None:
    path = _copy("eCT_Supplemental.dcm", tmp_path / "e")
    ds = pydicom.dcmread(path)
    vol = load_series(path.parent)
    assert vol.shape[0] == int(ds.NumberOfFrames)
    assert vol.shape[1:] == (ds.Rows, ds.Columns)


def test_real_jpeg2000_with_short_codestream(dicom_testdata: Path, tmp_path: Path) -> None:
    """Stand-in for emri_small_jpeg_2k_lossless_too_short: a real J2K slice cut short."""
    src = next(iter(sorted((dicom_testdata / "ct_abdomen_jpeg2000").iterdir())))
    ds = pydicom.dcmread(src)
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = pydicom.encaps.encapsulate([frame[: len(frame) // 4]])
    out = tmp_path / "short" / "cut.dcm"
    out.parent.mkdir()
    ds.save_as(out)
    with pytest.raises(DicomError, match=r"cut.dcm: pixel data cannot be decoded"):
        load_series(out.parent)
