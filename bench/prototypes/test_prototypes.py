"""Checks of the benchmark prototypes against real files no one here wrote.

Run: ``.venv/bin/pytest -q bench/prototypes/test_prototypes.py``

The reference is the files' own header values and pixel data as decoded by pydicom (an
independent implementation), on ``../shared/testdata/dicom`` (skipped when absent).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fast_header import read_fast_header  # noqa: E402
from fast_load import DecodePool, _decode, derive_fast_plan, load_fast  # noqa: E402

TESTDATA = HERE.parents[1] / ".." / "shared" / "testdata" / "dicom"
pytestmark = pytest.mark.skipif(
    not TESTDATA.is_dir(), reason=f"real DICOM test data not found at {TESTDATA}"
)

_BIG_OR_DEFLATE = {"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}


def _files(name: str) -> list[Path]:
    return sorted(p for p in (TESTDATA / name).iterdir() if p.is_file() and p.name != "DICOMDIR")


@pytest.mark.parametrize(
    "folder",
    ["mr_one_image_nine_transfer_syntaxes", "ct_abdomen_jpeg2000", "ct_liver_3slice_with_seg"],
)
def test_header_values_and_pixel_offset_match_the_file(folder: str) -> None:
    files = _files(folder)
    assert files, f"no files in {folder}"
    for path in files:
        ds = pydicom.dcmread(path)
        ts = str(ds.file_meta.TransferSyntaxUID)
        h = read_fast_header(str(path))
        if ts in _BIG_OR_DEFLATE:
            assert h is None, f"{path.name}: {ts} must be refused (caller falls back to pydicom)"
            continue
        assert h is not None, f"{path.name}: {ts} was not parsed"
        assert h.transfer_syntax == ts
        assert h.get("rows") == ds.Rows and h.get("columns") == ds.Columns
        assert h.get("series_uid") == (ds.get("SeriesInstanceUID") or "")
        if "ImagePositionPatient" in ds:
            assert h.get("position") == pytest.approx([float(v) for v in ds.ImagePositionPatient])
        elem = ds.get_item("PixelData")
        if "PixelData" in ds:
            # where pydicom found the Pixel Data value in the file
            assert h.pixel_offset == elem.value_tell, path.name
            encapsulated = ds.file_meta.TransferSyntaxUID.is_compressed
            assert (h.pixel_length == -1) == encapsulated


def test_native_load_equals_pydicom_hu() -> None:
    # GE LightSpeed, implicit VR little endian, 3 contiguous slices (plus a SEG, left out)
    ct = [p for p in _files("ct_liver_3slice_with_seg") if "seg" not in p.name.lower()]
    plan = derive_fast_plan(ct)
    arr = load_fast(plan)
    refs = sorted((pydicom.dcmread(p) for p in ct), key=lambda d: float(d.ImagePositionPatient[2]))
    expected = np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in refs]
    )
    assert arr.shape == (3, 512, 512)
    np.testing.assert_array_equal(arr.astype(np.float64), expected)


@pytest.mark.parametrize("name", ["4.dcm", "7.dcm", "8.dcm", "9.dcm"])  # RLE, JPEG-LS x2, J2K
def test_compressed_frame_decodes_to_the_uncompressed_pixels(name: str) -> None:
    # dcm_qa_ts: one Siemens MR image stored in 9 transfer syntaxes, pixels bit-identical
    folder = TESTDATA / "mr_one_image_nine_transfer_syntaxes"
    truth = pydicom.dcmread(folder / "1.dcm").pixel_array  # explicit VR little endian
    h = read_fast_header(str(folder / name))
    assert h is not None and h.pixel_length == -1
    rows, cols = truth.shape
    got = _decode(h.transfer_syntax, h.path, h.pixel_offset, rows, cols, "<u2")
    np.testing.assert_array_equal(got, truth)


def test_pool_load_of_real_jpeg2000_ct_equals_pydicom_hu() -> None:
    # TotalSegmentator example CT: 20 slices, JPEG 2000 lossless, rescale -1024 / 1
    files = _files("ct_abdomen_jpeg2000")
    plan = derive_fast_plan(files)
    with DecodePool(2) as pool:
        arr = load_fast(plan, pool=pool)
    refs = sorted(
        (pydicom.dcmread(p) for p in files), key=lambda d: float(d.ImagePositionPatient[2])
    )
    expected = np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in refs]
    )
    assert arr.shape == (20, 512, 512) and arr.dtype == np.int16
    np.testing.assert_array_equal(arr.astype(np.float64), expected)
