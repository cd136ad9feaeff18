"""Write small synthetic DICOM series with known geometry and known voxel values, for tests.

Every series is built from a ground truth the test knows independently of readerstation:
slice positions are ``origin + offsets[k] * stack_direction``, voxel values are a closed-form
function of (k, row, column), so a test can assert exact HU and exact millimetres.

>>> spec = write_series(tmp_path, shape=(5, 8, 6), spacing=(2.5, 0.7, 0.8))   # doctest: +SKIP
>>> spec.positions[3], spec.hu[3, 2, 1]                                     # doctest: +SKIP

Reusable by any test: ``from dicom_factory import write_series, write_enhanced`` (pytest's default
"prepend" import mode puts ``tests/`` on ``sys.path`` for the test modules in it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"

__all__ = ["SeriesSpec", "expected_hu", "write_enhanced", "write_series"]


@dataclass(frozen=True)
class SeriesSpec:
    """What was written: files, the truth per slice (in acquisition order k), the UIDs."""

    folder: Path
    files: tuple[Path, ...]  # files[k] holds slice k
    positions: NDArray[np.float64]  # (n, 3) LPS mm, ImagePositionPatient of slice k
    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, float]
    hu: NDArray[np.int32]  # (n, rows, cols) rescaled values of slice k
    series_uid: str
    study_uid: str
    sop_uids: tuple[str, ...]


def expected_hu(k: int, rows: int, cols: int) -> NDArray[np.int32]:
    """The HU pattern of slice ``k``: unique per slice, varies along rows and columns."""
    r = np.arange(rows, dtype=np.int32)[:, None]
    c = np.arange(cols, dtype=np.int32)[None, :]
    return ((k * 97 + r * 7 + c * 3) % 1500 - 500).astype(np.int32)


def _base_dataset(
    *,
    modality: str,
    sop_class: str,
    series_uid: str,
    study_uid: str,
    frame_of_reference_uid: str,
    description: str,
    series_number: int,
    rows: int,
    cols: int,
    transfer_syntax: str,
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.PatientID = "TRIAL-001"  # a trial code, never a real identifier
    ds.PatientName = "TRIAL^001"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_of_reference_uid
    ds.SeriesDescription = description
    ds.SeriesNumber = series_number
    ds.StudyDate = "20240101"
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _finish(ds: Dataset, path: Path, transfer_syntax: str) -> None:
    ts = transfer_syntax
    if ts in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        ds.save_as(
            path,
            implicit_vr=ts == ImplicitVRLittleEndian,
            little_endian=True,
            enforce_file_format=True,
        )
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.compress(ts)
        ds.save_as(path, enforce_file_format=True)


def write_series(
    folder: Path,
    *,
    shape: tuple[int, int, int] = (5, 8, 6),
    spacing: tuple[float, float, float] = (2.5, 0.7, 0.8),
    origin: Sequence[float] = (-50.0, -60.0, -100.0),
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    offsets: Sequence[float] | None = None,
    tilt_deg: float = 0.0,
    modality: str = "CT",
    rescale: tuple[float, float] = (1.0, -1024.0),
    description: str = "synthetic",
    series_number: int = 1,
    series_uid: str | None = None,
    study_uid: str | None = None,
    contrast_agent: str | None = None,
    bolus_start: str | None = None,
    acquisition_time: str | None = "120000",
    transfer_syntax: str = ExplicitVRLittleEndian,
    names: str = "ordered",
    seed: int = 0,
    extra: dict[str, object] | None = None,
) -> SeriesSpec:
    """Write one single-frame series and return its ground truth.

    Parameters
    ----------
    shape : (n, rows, cols)
        Number of slices and image size.
    spacing : (z, y, x) mm
        Slice step along the stack direction and PixelSpacing (row, column).
    orientation : 6 floats
        ImageOrientationPatient (row direction, column direction).
    offsets : sequence of float, optional
        Distance (mm) of slice k from the first along the stack direction; defaults to
        ``k * spacing[0]`` (pass uneven values for non-uniform gaps).
    tilt_deg : float
        Gantry tilt: the stack advances along the patient axis that the normal makes this angle
        with (positions sheared in-plane), and GantryDetectorTilt is written.
    names : {"ordered", "shuffled", "reversed"}
        File naming: ``ordered`` names follow k, ``shuffled`` random names, ``reversed`` names
        in the opposite order (and InstanceNumber reversed too).
    transfer_syntax : str
        UID; compressed syntaxes are encoded by pydicom (RLE, JPEG-LS, JPEG 2000 lossless).
    """
    folder.mkdir(parents=True, exist_ok=True)
    n, rows, cols = shape
    row_dir = np.array(orientation[:3], dtype=np.float64)
    col_dir = np.array(orientation[3:], dtype=np.float64)
    normal = np.cross(row_dir, col_dir)
    if tilt_deg:
        # The stack advances along the normal rotated by tilt_deg within the (col_dir, normal)
        # plane: in-plane shear along the column direction, as a tilted gantry produces.
        t = np.radians(tilt_deg)
        stack_dir = np.cos(t) * normal - np.sin(t) * col_dir
    else:
        stack_dir = normal
    offs = np.asarray(offsets if offsets is not None else np.arange(n) * spacing[0], float)
    positions = np.asarray(origin, float)[None, :] + offs[:, None] * stack_dir[None, :]
    series_uid = series_uid if series_uid is not None else generate_uid()
    study_uid = study_uid if study_uid is not None else generate_uid()
    for_uid = generate_uid()
    sop_class = CT_IMAGE if modality == "CT" else MR_IMAGE
    slope, intercept = rescale
    order = list(range(n))
    rng = random.Random(seed)
    if names == "shuffled":
        labels = [f"img_{rng.randrange(10**8):08d}_{i}.dcm" for i in range(n)]
    elif names == "reversed":
        labels = [f"{n - k:04d}.dcm" for k in order]
    else:
        labels = [f"{k + 1:04d}.dcm" for k in order]
    files: list[Path] = []
    sops: list[str] = []
    hu = (
        np.stack([expected_hu(k, rows, cols) for k in range(n)]) if n else np.zeros((0, rows, cols))
    )
    for k in range(n):
        ds = _base_dataset(
            modality=modality,
            sop_class=sop_class,
            series_uid=series_uid,
            study_uid=study_uid,
            frame_of_reference_uid=for_uid,
            description=description,
            series_number=series_number,
            rows=rows,
            cols=cols,
            transfer_syntax=transfer_syntax,
        )
        sop = generate_uid()
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.InstanceNumber = (n - k) if names == "reversed" else k + 1
        ds.ImagePositionPatient = [f"{v:.6f}" for v in positions[k]]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in orientation]
        ds.PixelSpacing = [f"{spacing[1]:g}", f"{spacing[2]:g}"]
        ds.SliceThickness = f"{spacing[0]:g}"
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        if tilt_deg:
            ds.GantryDetectorTilt = f"{tilt_deg:g}"
        if contrast_agent is not None:
            ds.ContrastBolusAgent = contrast_agent
        if bolus_start is not None:
            ds.ContrastBolusStartTime = bolus_start
        if acquisition_time is not None:
            ds.AcquisitionTime = acquisition_time
        for key, value in (extra or {}).items():
            setattr(ds, key, value)
        stored = np.rint((hu[k] - intercept) / slope).astype(np.int16)
        ds.PixelData = stored.tobytes()
        path = folder / labels[k]
        _finish(ds, path, transfer_syntax)
        files.append(path)
        sops.append(sop)
    return SeriesSpec(
        folder=folder,
        files=tuple(files),
        positions=positions,
        orientation=tuple(float(v) for v in orientation),
        pixel_spacing=(spacing[1], spacing[2]),
        hu=np.asarray(hu, dtype=np.int32),
        series_uid=series_uid,
        study_uid=study_uid,
        sop_uids=tuple(sops),
    )


def write_enhanced(
    path: Path,
    *,
    shape: tuple[int, int, int] = (4, 6, 5),
    spacing: tuple[float, float, float] = (3.0, 0.5, 0.6),
    origin: Sequence[float] = (10.0, 20.0, 30.0),
    rescales: Sequence[tuple[float, float]] | None = None,
    frame_order: Sequence[int] | None = None,
) -> SeriesSpec:
    """Write one Enhanced CT multi-frame file with geometry only in the functional groups.

    PixelMeasures and PlaneOrientation are shared; PlanePosition and PixelValueTransformation
    are per frame (``rescales[k]`` for slice k, default ``(1 + k, -1000 + 10 k)`` so every frame has
    its own slope and intercept). ``frame_order`` stores slice ``frame_order[i]`` as frame i.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    n, rows, cols = shape
    rescales = list(rescales or [(1.0 + k, -1000.0 + 10 * k) for k in range(n)])
    order = list(frame_order if frame_order is not None else range(n))
    positions = np.asarray(origin, float)[None, :] + np.arange(n)[:, None] * np.array(
        [0.0, 0.0, spacing[0]]
    )
    series_uid, study_uid = generate_uid(), generate_uid()
    ds = _base_dataset(
        modality="CT",
        sop_class=ENHANCED_CT,
        series_uid=series_uid,
        study_uid=study_uid,
        frame_of_reference_uid=generate_uid(),
        description="enhanced synthetic",
        series_number=7,
        rows=rows,
        cols=cols,
        transfer_syntax=ExplicitVRLittleEndian,
    )
    sop = generate_uid()
    ds.SOPInstanceUID = sop
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.NumberOfFrames = n
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = [f"{spacing[1]:g}", f"{spacing[2]:g}"]
    pm.SliceThickness = f"{spacing[0]:g}"
    shared.PixelMeasuresSequence = DicomSequence([pm])
    po = Dataset()
    po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = DicomSequence([po])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    hu = np.stack([expected_hu(k, rows, cols) for k in range(n)])
    stored_frames = []
    for k in order:
        item = Dataset()
        pp = Dataset()
        pp.ImagePositionPatient = [f"{v:g}" for v in positions[k]]
        item.PlanePositionSequence = DicomSequence([pp])
        pvt = Dataset()
        slope, intercept = rescales[k]
        pvt.RescaleSlope = f"{slope:g}"
        pvt.RescaleIntercept = f"{intercept:g}"
        pvt.RescaleType = "HU"
        item.PixelValueTransformationSequence = DicomSequence([pvt])
        fc = Dataset()
        fc.DimensionIndexValues = [1, k + 1]
        item.FrameContentSequence = DicomSequence([fc])
        per_frame.append(item)
        # Make the truth exactly representable: HU = stored * slope + intercept.
        stored = np.floor((hu[k] - intercept) / slope).astype(np.int16)
        hu[k] = stored.astype(np.int32) * int(slope) + int(intercept)
        stored_frames.append(stored)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.PixelData = np.stack(stored_frames).tobytes()
    ds.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=True)
    return SeriesSpec(
        folder=path.parent,
        files=(path,),
        positions=positions,
        orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        pixel_spacing=(spacing[1], spacing[2]),
        hu=np.asarray(hu, dtype=np.int32),
        series_uid=series_uid,
        study_uid=study_uid,
        sop_uids=(sop,),
    )
