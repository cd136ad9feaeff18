"""Small synthetic CT series with known geometry for the plugin's tests (pydicom only).

Every value a test checks is written here by hand: the geometry of :func:`write_ct_series` is
``ImagePositionPatient = origin + k * slice_step`` and ImageOrientationPatient as given; pixel
values are ``HU = 10 * k`` with one marker voxel (``MARKER_HU``) per series. Patient identifiers
are trial codes only (plus an obviously fake name and birth date that must never show).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

MARKER_HU = 1000
# Obviously fake name and birth date, written to check that the plugin never displays them.
SYNTHETIC_NAME = "SYNTHETIC^NOTAPATIENT"
SYNTHETIC_BIRTH_DATE = "19000101"
INTERCEPT = -1024.0


def write_ct_series(
    folder: Path,
    *,
    subject: str = "HCC-901",
    study_uid: str | None = None,
    description: str = "AX ART",
    series_number: int = 2,
    n_slices: int = 6,
    rows: int = 32,
    columns: int = 40,
    pixel_spacing: tuple[float, float] = (0.7, 0.8),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    origin: Sequence[float] = (-14.0, -11.0, 100.0),
    slice_step: Sequence[float] = (0.0, 0.0, 2.5),
    slice_thickness: float = 2.5,
    positions: Sequence[Sequence[float]] | None = None,
    contrast: str | None = "IOPAMIDOL",
    acquisition_time: str = "101530",
    bolus_start: str | None = "101500",
    study_date: str = "20240115",
    marker: tuple[int, int, int] = (2, 3, 30),
    shuffle_names: bool = True,
) -> tuple[str, list[Path]]:
    """Write one CT series, one file per slice, and return its SeriesInstanceUID and files.

    Parameters
    ----------
    positions : sequence of (x, y, z) LPS mm, optional
        ImagePositionPatient of every slice; default ``origin + k * slice_step``.
    marker : (k, j, i)
        Slice, row and column of the ``MARKER_HU`` voxel.
    shuffle_names : bool
        Name files in reverse slice order so that sorting by name is wrong.
    """
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = generate_uid()
    frame_uid = generate_uid()
    if positions is None:
        positions = [
            tuple(float(o) + k * float(s) for o, s in zip(origin, slice_step, strict=True))
            for k in range(n_slices)
        ]
    files = []
    for k, pos in enumerate(positions):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        name = f"IM{(len(positions) - k) if shuffle_names else k + 1:04d}.dcm"
        path = folder / name
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = "CT"
        ds.PatientID = subject
        ds.PatientName = SYNTHETIC_NAME  # must never be displayed
        ds.PatientBirthDate = SYNTHETIC_BIRTH_DATE
        ds.StudyDate = study_date
        ds.SeriesDate = study_date
        ds.StudyTime = "100000"
        ds.AcquisitionTime = acquisition_time
        ds.SeriesDescription = description
        ds.SeriesNumber = series_number
        ds.InstanceNumber = len(positions) - k  # deliberately reversed: sort by position
        if contrast:
            ds.ContrastBolusAgent = contrast
            if bolus_start:
                ds.ContrastBolusStartTime = bolus_start
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in pos]
        ds.PixelSpacing = [f"{pixel_spacing[0]:g}", f"{pixel_spacing[1]:g}"]
        ds.SliceThickness = f"{slice_thickness:g}"
        ds.Rows = rows
        ds.Columns = columns
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = f"{INTERCEPT:g}"
        ds.RescaleSlope = "1"
        hu = np.full((rows, columns), 10 * (k + 1), dtype=np.int16)
        if k == marker[0]:
            hu[marker[1], marker[2]] = MARKER_HU
        ds.PixelData = (hu - int(INTERCEPT)).astype(np.int16).tobytes()
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return series_uid, files


def write_three_phase_study(
    root: Path, subject: str = "HCC-901", **kwargs: object
) -> dict[str, str]:
    """A study with non-contrast, arterial and portal-venous series; returns phase -> series UID."""
    study_uid = generate_uid()
    folder = root / subject / "20240115"
    uids = {}
    uids["non_contrast"], _ = write_ct_series(
        folder / "s1",
        subject=subject,
        study_uid=study_uid,
        description="AX NON CONTRAST",
        series_number=1,
        contrast=None,
        bolus_start=None,
        acquisition_time="100500",
        **kwargs,  # type: ignore[arg-type]
    )
    uids["arterial"], _ = write_ct_series(
        folder / "s2",
        subject=subject,
        study_uid=study_uid,
        description="AX ARTERIAL",
        series_number=2,
        acquisition_time="101535",
        **kwargs,  # type: ignore[arg-type]
    )
    uids["portal_venous"], _ = write_ct_series(
        folder / "s3",
        subject=subject,
        study_uid=study_uid,
        description="AX PORTAL VENOUS",
        series_number=3,
        acquisition_time="101630",
        **kwargs,  # type: ignore[arg-type]
    )
    return uids
