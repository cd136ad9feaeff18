"""Fallback generator of the benchmark CT series (used when ``readerstation.sample`` lacks one).

The benchmark prefers ``readerstation.sample.write_ct_series`` / ``write_study``; this module
mirrors their signatures so that ``bench_dicom.py`` can call either. The content is a simple
abdominal-like phantom (body ellipse, liver, spine, a lung base, air outside) with smoothed noise of
about 10 HU inside the body, so that lossless codecs see CT-like entropy (compression ratio ~2-3).

Files are classic single-frame CT Image Storage, 12 bits stored in 16, unsigned, rescale
intercept -1024 HU, axial, slices head to feet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

__all__ = ["TRANSFER_SYNTAXES", "compute_slice", "write_ct_series", "write_study"]

#: Short names used by the benchmark -> transfer syntax UID.
TRANSFER_SYNTAXES: dict[str, str] = {
    "uncompressed": str(ExplicitVRLittleEndian),
    "rle": str(RLELossless),
    "jpegls": str(JPEGLSLossless),
    "j2k": str(JPEG2000Lossless),
}

_PLUGIN = {"rle": "pylibjpeg", "jpegls": "pyjpegls", "j2k": "pylibjpeg"}


def compute_slice(k: int, n: int, rows: int, cols: int, *, seed: int = 0) -> NDArray[np.uint16]:
    """Stored values (HU + 1024) of slice ``k`` of ``n``, shape (rows, cols)."""
    rng = np.random.default_rng(seed * 100_003 + k)
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cy, cx = rows / 2, cols / 2
    t = k / max(n - 1, 1)
    hu = np.full((rows, cols), -1000.0, dtype=np.float32)
    body = ((xx - cx) / (0.42 * cols)) ** 2 + ((yy - cy) / (0.32 * rows)) ** 2 <= 1
    hu[body] = -90.0
    inner = ((xx - cx) / (0.38 * cols)) ** 2 + ((yy - cy) / (0.28 * rows)) ** 2 <= 1
    hu[inner] = 45.0
    liver = ((xx - cx + 0.12 * cols) / (0.2 * cols)) ** 2 + (
        (yy - cy + 0.04 * rows) / (0.16 * rows * (1.2 - t))
    ) ** 2 <= 1
    hu[liver] = 80.0
    if t < 0.25:  # lung bases at the top of the volume
        lung = ((np.abs(xx - cx) - 0.18 * cols) / (0.12 * cols)) ** 2 + (
            (yy - cy + 0.05 * rows) / (0.15 * rows * (0.25 - t) * 4 + 1)
        ) ** 2 <= 1
        hu[lung & inner] = -850.0
    spine = ((xx - cx) / (0.05 * cols)) ** 2 + ((yy - cy - 0.18 * rows) / (0.05 * rows)) ** 2 <= 1
    hu[spine] = 700.0
    noise = rng.normal(0.0, 16.0, (rows, cols)).astype(np.float32)
    # 3x3 box blur of the noise: spatially correlated, ~16 HU SD everywhere
    pad = np.pad(noise, 1, mode="edge")
    blurred = sum(pad[i : i + rows, j : j + cols] for i in range(3) for j in range(3)) / 3.0
    hu += blurred  # scanners show noise in the air too
    return np.clip(np.rint(hu + 1024.0), 0, 4095).astype(np.uint16)


def write_ct_series(
    out_dir: str | Path,
    *,
    shape: tuple[int, int, int] = (400, 512, 512),
    spacing: tuple[float, float, float] = (1.25, 0.78125, 0.78125),
    transfer_syntax: str = str(ExplicitVRLittleEndian),
    study_uid: str | None = None,
    series_number: int = 1,
    seed: int = 0,
) -> list[Path]:
    """Write one axial CT series, one file per slice; return the paths in slice order.

    Parameters
    ----------
    out_dir : path
        Folder to create (must not hold DICOM files already).
    shape : tuple of int
        (z, y, x) voxels.
    spacing : tuple of float
        (z, y, x) mm.
    transfer_syntax : str
        Transfer syntax UID (see :data:`TRANSFER_SYNTAXES`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n, rows, cols = shape
    short = {v: k for k, v in TRANSFER_SYNTAXES.items()}[str(transfer_syntax)]
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    for_uid = generate_uid()
    paths: list[Path] = []
    for k in range(n):
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = for_uid
        ds.PatientName = "BENCH^PHANTOM"
        ds.PatientID = "BENCH-001"
        ds.StudyDate = "20260101"
        ds.StudyTime = "080000"
        ds.Modality = "CT"
        ds.SeriesDescription = f"bench {short}"
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [
            -cols * spacing[2] / 2,
            -rows * spacing[1] / 2,
            -k * spacing[0],
        ]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.Rows = rows
        ds.Columns = cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = 60
        ds.WindowWidth = 400
        arr = compute_slice(k, n, rows, cols, seed=seed)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        if short == "uncompressed":
            ds.PixelData = arr.tobytes()
        else:
            ds.compress(transfer_syntax, arr, encoding_plugin=_PLUGIN[short])
        path = out / f"IM{k + 1:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_study(
    out_dir: str | Path,
    *,
    series_dirs: Sequence[str | Path],
) -> list[Path]:
    """Make a study folder holding several series by hard-linking (or copying) series folders.

    Each series folder becomes a sub-folder ``S<k>``. Returns the created file paths.
    """
    out = Path(out_dir)
    made: list[Path] = []
    for k, src in enumerate(series_dirs):
        dst = out / f"S{k + 1}"
        dst.mkdir(parents=True, exist_ok=True)
        for f in sorted(Path(src).iterdir()):
            target = dst / f.name
            if not target.exists():
                try:
                    target.hardlink_to(f)
                except OSError:
                    target.write_bytes(f.read_bytes())
            made.append(target)
    return made


if __name__ == "__main__":  # pragma: no cover - manual check
    import sys

    paths = write_ct_series(sys.argv[1], shape=(3, 64, 64))
    print(pydicom.dcmread(paths[0]))
