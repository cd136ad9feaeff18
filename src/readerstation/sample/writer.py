"""Write synthetic CT slices as DICOM CT Image Storage files with deterministic UIDs.

Pixels are stored unsigned, 12 bits stored in 16 allocated, ``HU = stored * 1 - 1024``
(RescaleIntercept -1024, RescaleSlope 1). Files are written to a temporary name and renamed, so an
interrupted run never leaves a truncated ``.dcm`` behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels.encoders.base import get_encoder
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

from readerstation.errors import SampleDataError
from readerstation.sample.design import ContrastPhase

__all__ = [
    "SUPPORTED_TRANSFER_SYNTAXES",
    "CTSliceHeader",
    "check_encoder_available",
    "check_series_complete",
    "derive_uid",
    "save_dataset",
    "to_ct_dataset",
    "update_ct_slice",
]

_log = logging.getLogger(__name__)

#: Transfer syntaxes the writer can produce.
SUPPORTED_TRANSFER_SYNTAXES: tuple[UID, ...] = (
    ExplicitVRLittleEndian,
    RLELossless,
    JPEGLSLossless,
    JPEG2000Lossless,
)
#: Namespace of the sample trial's name-based UUIDs (fixed forever: changing it changes every UID).
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:readerstation:sample:v1")


def derive_uid(*parts: object) -> str:
    """A deterministic DICOM UID ``2.25.<UUID as integer>`` derived from ``parts``.

    The UUID is a name-based (version 5) UUID of the parts, so the same parts always give the
    same UID (pydicom's ``generate_uid(prefix=None)`` ignores ``entropy_srcs`` and is random).

    Examples
    --------
    >>> derive_uid("HCC-001", "TP0") == derive_uid("HCC-001", "TP0")
    True
    >>> derive_uid("HCC-001", "TP0") != derive_uid("HCC-001", "TP1")
    True
    >>> derive_uid("x").startswith("2.25.")
    True
    """
    name = "\x1f".join(map(str, parts))
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


@dataclass(frozen=True)
class CTSliceHeader:
    """Everything that goes in the header of one synthetic CT slice except the pixels.

    Parameters
    ----------
    patient_id : str
        Trial code (also used as PatientName: no names).
    study_uid, series_uid, sop_uid, frame_of_reference_uid : str
        Identifiers.
    study_date : datetime.date
        Scan date.
    study_time, acquisition_time : datetime.time
        Study start and acquisition time of the series.
    phase : ContrastPhase
        Sets the contrast tags.
    bolus_start_time : datetime.time or None
        ContrastBolusStartTime for contrast series.
    series_number, instance_number : int
    series_description, study_description : str
    position_lps_mm : tuple of float
        ImagePositionPatient (centre of the first pixel).
    pixel_spacing_mm : tuple of float
        (row spacing, column spacing).
    slice_thickness_mm : float
    accession_number, timepoint_id, timepoint_description : str
    """

    patient_id: str
    study_uid: str
    series_uid: str
    sop_uid: str
    frame_of_reference_uid: str
    study_date: dt.date
    study_time: dt.time
    acquisition_time: dt.time
    phase: ContrastPhase
    bolus_start_time: dt.time | None
    series_number: int
    instance_number: int
    series_description: str
    study_description: str
    position_lps_mm: tuple[float, float, float]
    pixel_spacing_mm: tuple[float, float]
    slice_thickness_mm: float
    accession_number: str = ""
    timepoint_id: str = ""
    timepoint_description: str = ""

    def __post_init__(self) -> None:
        if self.phase is not ContrastPhase.NON_CONTRAST and self.bolus_start_time is None:
            raise SampleDataError(
                f"Series {self.series_description!r} is {self.phase.value} but has no bolus start "
                "time; contrast series need bolus_start_time."
            )


def _tm(t: dt.time) -> str:
    return t.strftime("%H%M%S")


def to_ct_dataset(header: CTSliceHeader, hu: NDArray[np.integer]) -> Dataset:
    """Build an uncompressed (Explicit VR Little Endian) CT Image Storage data set.

    Parameters
    ----------
    header : CTSliceHeader
    hu : ndarray of int, shape (rows, columns)
        Hounsfield units; stored as ``hu + 1024`` (clipped to 0..4095).
    """
    arr = np.asarray(hu)
    if arr.ndim != 2:
        raise SampleDataError(
            f"A CT slice must be 2-D (rows, columns); received shape {arr.shape}."
        )
    stored = np.clip(arr.astype(np.int32) + 1024, 0, 4095).astype(np.uint16)
    h = header
    date = h.study_date.strftime("%Y%m%d")
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(h.sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "READERSTATION_01"
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = h.sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date
    ds.StudyTime = _tm(h.study_time)
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = _tm(h.acquisition_time)
    ds.AccessionNumber = h.accession_number
    ds.Modality = "CT"
    ds.Manufacturer = "readerstation (synthetic phantom)"
    ds.InstitutionName = "Synthetic"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = h.study_description
    ds.SeriesDescription = h.series_description
    ds.ManufacturerModelName = "readerstation.sample"
    ds.PatientName = h.patient_id
    ds.PatientID = h.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.ClinicalTrialSponsorName = "readerstation sample trial (synthetic)"
    ds.ClinicalTrialProtocolID = "RS-SAMPLE-HCC"
    ds.ClinicalTrialSiteID = "01"
    ds.ClinicalTrialSiteName = "Synthetic site"
    ds.ClinicalTrialSubjectID = h.patient_id
    ds.ClinicalTrialTimePointID = h.timepoint_id
    ds.ClinicalTrialTimePointDescription = h.timepoint_description
    if h.phase is not ContrastPhase.NON_CONTRAST and h.bolus_start_time is not None:
        ds.ContrastBolusAgent = "Iopamidol 370 mgI/mL"
        ds.ContrastBolusRoute = "IV"
        ds.ContrastBolusVolume = "100"
        ds.ContrastBolusStartTime = _tm(h.bolus_start_time)
        ds.ContrastFlowRate = ["4"]
        ds.ContrastBolusIngredient = "IODINE"
        ds.ContrastBolusIngredientConcentration = "370"
    ds.BodyPartExamined = "ABDOMEN"
    ds.ScanOptions = "HELICAL MODE"
    ds.SliceThickness = f"{h.slice_thickness_mm:g}"
    ds.KVP = "120"
    ds.SpacingBetweenSlices = f"{h.slice_thickness_mm:g}"
    ds.ReconstructionDiameter = f"{h.pixel_spacing_mm[1] * arr.shape[1]:g}"
    ds.ConvolutionKernel = "STANDARD"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = h.study_uid
    ds.SeriesInstanceUID = h.series_uid
    ds.StudyID = h.timepoint_id or "1"
    ds.SeriesNumber = h.series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = h.instance_number
    ds.ImagePositionPatient = [_fmt_ds(v) for v in h.position_lps_mm]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = h.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = _fmt_ds(h.position_lps_mm[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(arr.shape[0]), int(arr.shape[1])
    ds.PixelSpacing = [f"{v:g}" for v in h.pixel_spacing_mm]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.WindowCenter = "60"
    ds.WindowWidth = "400"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.PixelData = stored.tobytes()
    return ds


def _fmt_ds(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


def update_ct_slice(
    ds: Dataset,
    *,
    sop_uid: str,
    instance_number: int,
    position_lps_mm: tuple[float, float, float],
    hu: NDArray[np.integer],
) -> Dataset:
    """Turn a data set from :func:`to_ct_dataset` (possibly already saved, hence compressed) into
    another slice of the same series, in place (cheaper than rebuilding every header).

    Returns
    -------
    Dataset
        ``ds`` itself, uncompressed (Explicit VR Little Endian), ready for :func:`save_dataset`.
    """
    arr = np.asarray(hu)
    if arr.shape != (ds.Rows, ds.Columns):
        raise SampleDataError(
            f"Slice shape {arr.shape} differs from the series' {(ds.Rows, ds.Columns)}."
        )
    ds.SOPInstanceUID = sop_uid
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.InstanceNumber = instance_number
    ds.ImagePositionPatient = [_fmt_ds(v) for v in position_lps_mm]
    ds.SliceLocation = _fmt_ds(position_lps_mm[2])
    ds.PixelData = np.clip(arr.astype(np.int32) + 1024, 0, 4095).astype(np.uint16).tobytes()
    ds["PixelData"].VR = "OW"
    ds["PixelData"].is_undefined_length = False
    return ds


def save_dataset(ds: Dataset, path: Path, transfer_syntax: str = JPEGLSLossless) -> int:
    """Encode ``ds`` with ``transfer_syntax`` and write it atomically to ``path``.

    Returns
    -------
    int
        Bytes written.
    """
    ts = UID(transfer_syntax)
    if ts not in SUPPORTED_TRANSFER_SYNTAXES:
        raise SampleDataError(
            f"transfer_syntax must be one of {[t.name for t in SUPPORTED_TRANSFER_SYNTAXES]}; "
            f"received {ts!r} ({ts.name})."
        )
    if ts != ExplicitVRLittleEndian:
        ds.compress(ts, generate_instance_uid=False)
    tmp = path.with_name(path.name + ".part")
    ds.save_as(tmp, enforce_file_format=True)
    os.replace(tmp, path)
    return path.stat().st_size


def check_encoder_available(transfer_syntax: str) -> str:
    """The transfer syntax to write: ``transfer_syntax`` when this environment can encode it,
    else JPEG 2000 Lossless (same pixels, another codec) with a logged warning.

    JPEG-LS encoding needs the ``pyjpegls`` package; JPEG 2000 needs ``pylibjpeg-openjpeg``.
    """
    ts = UID(transfer_syntax)
    if ts == ExplicitVRLittleEndian:
        return ts
    encoder = get_encoder(ts)
    if encoder.is_available:
        return ts
    fallback = get_encoder(JPEG2000Lossless)
    if ts != JPEG2000Lossless and fallback.is_available:
        _log.warning(
            "no encoder for %s in this environment (install pyjpegls for JPEG-LS); "
            "writing JPEG 2000 Lossless instead",
            ts.name,
        )
        return JPEG2000Lossless
    raise SampleDataError(
        f"Cannot encode {ts.name}: no encoding plugin is installed (JPEG-LS needs pyjpegls, "
        "JPEG 2000 needs pylibjpeg-openjpeg). Install one, or choose Explicit VR Little Endian."
    )


def check_series_complete(folder: Path, n_files: int) -> bool:
    """Whether ``folder`` holds exactly the files ``0001.dcm .. {n_files:04d}.dcm``."""
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir() if p.suffix == ".dcm"}
    return names == {f"{i:04d}.dcm" for i in range(1, n_files + 1)}


def instance_file_names(n: int) -> Sequence[str]:
    """File names of a series of ``n`` slices."""
    return [f"{i:04d}.dcm" for i in range(1, n + 1)]
