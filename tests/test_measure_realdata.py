"""Measurement lines on real CT (../shared/testdata/dicom/ct_abdomen_jpeg2000).

Real contrast-enhanced upper-abdominal CT, Siemens, 20 slices 512 x 512, 0.977 mm pixels, 3 mm
thick every 2 mm, JPEG 2000 lossless; from the TotalSegmentator repository's example
(Apache-2.0), see ../shared/testdata/README.md. The expected distances are computed here by hand
from the header values (PixelSpacing, ImagePositionPatient, ImageOrientationPatient) read with
pydicom, independent of readerstation's geometry.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest

from readerstation.dicom import load_series
from readerstation.errors import MeasurementError
from readerstation.measure import Line, check_line_on_volume


def _by_position(folder: Path) -> list[pydicom.Dataset]:
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in folder.iterdir() if f.is_file()]
    return sorted(headers, key=lambda d: float(d.ImagePositionPatient[2]))


def _lps(ds: pydicom.Dataset, row: int, col: int) -> tuple[float, float, float]:
    """Patient position of pixel (row, col) from the header (DICOM PS3.3 C.7.6.2.1.1)."""
    ipp = np.array([float(v) for v in ds.ImagePositionPatient])
    iop = [float(v) for v in ds.ImageOrientationPatient]
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    p = ipp + col * col_spacing * np.array(iop[:3]) + row * row_spacing * np.array(iop[3:])
    return (float(p[0]), float(p[1]), float(p[2]))


def test_hand_drawn_line_between_known_voxels(dicom_testdata: Path) -> None:
    folder = dicom_testdata / "ct_abdomen_jpeg2000"
    headers = _by_position(folder)
    k = 9
    ds = headers[k]
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    assert (row_spacing, col_spacing) == pytest.approx((0.9765625, 0.9765625))
    # from pixel (row 120, col 140) to (row 330, col 400) on slice 9: by hand
    expected = math.hypot((330 - 120) * row_spacing, (400 - 140) * col_spacing)
    assert expected == pytest.approx(math.hypot(210, 260) * 0.9765625)  # 326.43 mm
    line = Line(
        _lps(ds, 120, 140), _lps(ds, 330, 400), sop_instance_uid=str(ds.SOPInstanceUID),
        series_uid=str(ds.SeriesInstanceUID),
    )  # fmt: skip
    assert line.length_mm == pytest.approx(expected, abs=1e-6)
    vol = load_series(folder)
    placement = check_line_on_volume(line, vol)
    assert placement.slice_index == k
    np.testing.assert_allclose(placement.index_zyx, [[k, 120, 140], [k, 330, 400]], atol=1e-6)


def test_line_between_two_real_slices_is_refused(dicom_testdata: Path) -> None:
    folder = dicom_testdata / "ct_abdomen_jpeg2000"
    headers = _by_position(folder)
    # slices 4 and 5 are 2 mm apart along z (3 mm thick, every 2 mm)
    gap = float(headers[5].ImagePositionPatient[2]) - float(headers[4].ImagePositionPatient[2])
    assert gap == pytest.approx(2.0, abs=0.01)
    line = Line(
        _lps(headers[4], 200, 200), _lps(headers[5], 260, 300),
        sop_instance_uid=str(headers[4].SOPInstanceUID),
    )  # fmt: skip
    assert line.length_mm == pytest.approx(
        math.sqrt((60 * 0.9765625) ** 2 + (100 * 0.9765625) ** 2 + gap**2), abs=1e-6
    )
    vol = load_series(folder)
    with pytest.raises(MeasurementError, match="end points on two different slices"):
        check_line_on_volume(line, vol)
    off = Line(
        _lps(headers[4], 200, 200), _lps(headers[4], 200, 530),
        sop_instance_uid=str(headers[4].SOPInstanceUID),
    )  # fmt: skip
    with pytest.raises(MeasurementError, match="end point lies outside the image"):
        check_line_on_volume(off, vol)
