"""Benchmark series writer: every transfer syntax decodes to the same HU, geometry as asked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from readerstation.errors import SampleDataError
from readerstation.sample import ContrastPhase
from readerstation.sample.bench import write_ct_series, write_study

SHAPE = (6, 80, 96)  # non-cubic on purpose: z, rows, columns
SPACING = (3.0, 4.5, 4.5)


def _volume(folder: Path) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    dss = [pydicom.dcmread(f) for f in folder.glob("*.dcm")]
    dss.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    hu = np.stack(
        [
            d.pixel_array.astype(np.int32) * int(d.RescaleSlope) + int(d.RescaleIntercept)
            for d in dss
        ]
    )
    return hu, dss


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    out = tmp_path_factory.mktemp("bench_ref")
    write_ct_series(out, shape=SHAPE, spacing=SPACING, transfer_syntax=ExplicitVRLittleEndian,
                    workers=1)  # fmt: skip
    return _volume(out)[0]


@pytest.mark.parametrize("ts", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_compressed_series_decode_to_the_uncompressed_hu(
    tmp_path: Path, reference: np.ndarray, ts: str
) -> None:
    r = write_ct_series(tmp_path, shape=SHAPE, spacing=SPACING, transfer_syntax=ts, workers=2)
    assert r.n_files == 6 and r.shape == SHAPE
    hu, dss = _volume(tmp_path)
    assert all(d.file_meta.TransferSyntaxUID == ts for d in dss)
    np.testing.assert_array_equal(hu, reference)  # lossless


def test_geometry_and_content(tmp_path: Path, reference: np.ndarray) -> None:
    write_ct_series(tmp_path, shape=SHAPE, spacing=SPACING, workers=1)
    hu, dss = _volume(tmp_path)
    assert hu.shape == SHAPE  # (slices, rows, columns)
    d0 = dss[0]
    assert (d0.Rows, d0.Columns) == (80, 96)
    assert [float(v) for v in d0.PixelSpacing] == [4.5, 4.5]
    z = [float(d.ImagePositionPatient[2]) for d in dss]
    assert np.diff(z) == pytest.approx([3.0] * 5)
    assert hu.min() == -1000  # air around the body
    assert np.percentile(hu, 99) > 300  # bone
    assert len({d.SOPInstanceUID for d in dss}) == 6


def test_same_files_whatever_the_worker_count(tmp_path: Path) -> None:
    def digest(folder: Path) -> list[str]:
        return [hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*.dcm"))]

    write_ct_series(tmp_path / "a", shape=SHAPE, spacing=SPACING, transfer_syntax=RLELossless,
                    workers=1)  # fmt: skip
    write_ct_series(tmp_path / "b", shape=SHAPE, spacing=SPACING, transfer_syntax=RLELossless,
                    workers=2)  # fmt: skip
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_study_has_one_study_and_frame_of_reference(tmp_path: Path) -> None:
    series = write_study(tmp_path, shape=(3, 40, 40), spacing=(5.0, 9.0, 9.0), workers=1)
    assert len(series) == 3
    heads = [pydicom.dcmread(next(s.folder.glob("*.dcm")), stop_before_pixels=True) for s in series]
    assert len({h.StudyInstanceUID for h in heads}) == 1
    assert len({h.FrameOfReferenceUID for h in heads}) == 1
    assert len({h.SeriesInstanceUID for h in heads}) == 3
    assert "ContrastBolusAgent" not in heads[0]
    assert heads[1].SeriesDescription.endswith("ARTERIAL") and heads[1].ContrastBolusAgent


def test_refuses_non_square_pixels(tmp_path: Path) -> None:
    with pytest.raises(SampleDataError, match="square pixels"):
        write_ct_series(tmp_path, shape=(2, 32, 32), spacing=(1.0, 0.7, 0.8))


def test_phase_changes_attenuation(tmp_path: Path) -> None:
    a = write_ct_series(tmp_path / "art", shape=(1, 128, 128), spacing=(1.0, 3.0, 3.0),
                        phase=ContrastPhase.ARTERIAL, workers=1)  # fmt: skip
    n = write_ct_series(tmp_path / "non", shape=(1, 128, 128), spacing=(1.0, 3.0, 3.0),
                        phase=ContrastPhase.NON_CONTRAST, workers=1)  # fmt: skip
    art, _ = _volume(a.folder)
    non, _ = _volume(n.folder)
    # aorta at LPS (22, 32): column (22 - x0) / 3, row (32 - y0) / 3, image centre (0, 10)
    x0, y0 = -127 / 2 * 3.0, 10 - 127 / 2 * 3.0
    col, row = round((22 - x0) / 3.0), round((32 - y0) / 3.0)
    assert art[0, row, col] > 200 > non[0, row, col]
