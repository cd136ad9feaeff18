"""Reading DICOM headers (never pixel data) into small typed records.

:func:`read_file_header` reads one file with ``stop_before_pixels=True`` and a fixed list of
``specific_tags`` and returns a :class:`FileHeader` whose :class:`FrameHeader` entries describe
every frame (one for classic single-frame images, ``NumberOfFrames`` for enhanced multi-frame
objects, whose geometry comes from the shared and per-frame functional groups; see
:mod:`readerstation.dicom.enhanced`).

Problems that make a file unusable for loading (unparseable geometry, truncated pixel data of an
uncompressed file) do not raise: they are recorded in ``FileHeader.error`` so that the index can
list the series and report the file.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

from readerstation.dicom.enhanced import read_functional_groups
from readerstation.dicom.fastheader import read_fast_file_header
from readerstation.errors import DicomError

__all__ = [
    "DICOMDIR_SOP_CLASS",
    "FileHeader",
    "FrameHeader",
    "NotDicomError",
    "derive_uid",
    "is_image_sop_class",
    "read_file_header",
]

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"

# SOP classes and modalities that are never image series for reading.
_NON_IMAGE_SOP_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports, key objects
    "1.2.840.10008.5.1.4.1.1.66",  # raw data, spatial registration, SEG, surface seg
    "1.2.840.10008.5.1.4.1.1.67",  # real world value mapping
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.481.",  # RT objects
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated documents
    "1.2.840.10008.5.1.4.1.1.9.",  # waveforms
)
_NON_IMAGE_MODALITIES = frozenset(
    {"SR", "SEG", "RWV", "PR", "KO", "REG", "RTSTRUCT", "RTPLAN", "RTRECORD", "DOC", "FID"}
)
_COMPRESSED_OK = frozenset(
    {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
    }
)

_TAGS: list[Any] = [
    Tag(k)
    for k in (
        "SOPClassUID",
        "SOPInstanceUID",
        "Modality",
        "SeriesInstanceUID",
        "StudyInstanceUID",
        "SeriesDescription",
        "SeriesNumber",
        "InstanceNumber",
        "AcquisitionNumber",
        "StudyDate",
        "SeriesTime",
        "AcquisitionTime",
        "ContentTime",
        "ContrastBolusAgent",
        "ContrastBolusStartTime",
        "FrameOfReferenceUID",
        "ImageType",
        "Rows",
        "Columns",
        "NumberOfFrames",
        "PixelSpacing",
        "SliceThickness",
        "SpacingBetweenSlices",
        "ImageOrientationPatient",
        "ImagePositionPatient",
        "RescaleSlope",
        "RescaleIntercept",
        "BitsAllocated",
        "BitsStored",
        "PixelRepresentation",
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "GantryDetectorTilt",
        "EchoNumbers",
        "TemporalPositionIdentifier",
        "PatientPosition",
        "SharedFunctionalGroupsSequence",
        "PerFrameFunctionalGroupsSequence",
    )
]


class NotDicomError(Exception):
    """Internal: the file is not DICOM at all (the index counts it as skipped)."""


@dataclass(frozen=True)
class FrameHeader:
    """Geometry and pixel transform of one frame (one 2-D image) of one file.

    ``position`` is ImagePositionPatient (LPS mm, centre of the first pixel), ``orientation``
    ImageOrientationPatient (6 direction cosines), ``pixel_spacing`` (row, column) mm.
    ``stack_key`` separates frames that share a position (temporal position, frame type, echo).
    """

    frame_index: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    rescale_slope: float
    rescale_intercept: float
    stack_key: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileHeader:
    """What one DICOM file says about itself, from its headers only.

    ``pixel_offset`` / ``pixel_length`` (bytes) locate the Pixel Data *value* in the file; they
    are set only for native (uncompressed) little-endian single-frame images whose pixel data is
    complete, so that a loader can read the pixels straight from the file. Otherwise None.
    """

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    modality: str
    series_uid: str
    study_uid: str
    description: str
    series_number: int | None
    instance_number: int | None
    study_date: str | None
    acquisition_time: str | None
    contrast_agent: str | None
    bolus_start_time: str | None
    frame_of_reference_uid: str | None
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    bits_stored: int | None
    pixel_representation: int
    samples_per_pixel: int
    photometric: str
    transfer_syntax: str | None
    gantry_tilt_deg: float | None
    spacing_between_slices: float | None
    is_multiframe: bool
    frames: tuple[FrameHeader, ...]
    has_file_meta: bool = True
    missing_uids: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    pixel_offset: int | None = None
    pixel_length: int | None = None

    def __post_init__(self) -> None:
        if (self.pixel_offset is None) != (self.pixel_length is None):
            raise DicomError(
                f"{self.path}: FileHeader.pixel_offset and pixel_length must both be set or both "
                f"be None; got {self.pixel_offset} and {self.pixel_length}"
            )
        if self.pixel_offset is not None and (
            self.pixel_offset < 0 or (self.pixel_length or 0) < 0
        ):
            raise DicomError(
                f"{self.path}: pixel_offset / pixel_length must be >= 0; got "
                f"{self.pixel_offset} / {self.pixel_length}"
            )

    @property
    def is_image(self) -> bool:
        """True for images that can become a Volume (not SR, SEG, RWVM, PR, ...)."""
        return (
            is_image_sop_class(self.sop_class_uid, self.modality)
            and self.rows is not None
            and self.columns is not None
            and self.samples_per_pixel == 1
        )

    @property
    def is_compressed(self) -> bool:
        """True when the pixel data needs a decoder (JPEG, JPEG-LS, JPEG 2000, RLE)."""
        return self.transfer_syntax is not None and self.transfer_syntax not in _COMPRESSED_OK


def is_image_sop_class(sop_class_uid: str, modality: str) -> bool:
    """Whether a SOP class / modality pair is an image that can be read as a volume."""
    if modality.upper() in _NON_IMAGE_MODALITIES:
        return False
    return not any(sop_class_uid.startswith(p) for p in _NON_IMAGE_SOP_PREFIXES)


def derive_uid(*parts: object) -> str:
    """A deterministic DICOM UID (``2.25.<int>``) from the given parts, for empty UIDs."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()[:16]
    return "2.25." + str(int.from_bytes(digest, "big"))


# ---------------------------------------------------------------------------------- value parsing
def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value).strip()
    return str(value).strip()


def _float(ds: Dataset, keyword: str) -> float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, pydicom.multival.MultiValue):
            value = value[0]
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{keyword} {value!r} is not a number") from exc
    return out


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, pydicom.multival.MultiValue):
            value = value[0]
        return int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{keyword} {value!r} is not an integer") from exc


def _floats(ds: Dataset, keyword: str, n: int) -> tuple[float, ...] | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        items = [float(v) for v in (value if isinstance(value, list | tuple) else list(value))]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{keyword} {value!r} is not {n} numbers") from exc
    if len(items) != n:
        raise ValueError(f"{keyword} has {len(items)} values; expected {n}")
    return tuple(items)


def _looks_like_dicom_without_preamble(path: Path) -> bool:
    """A data set written without preamble/meta starts with a group 0x0008 tag."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return len(head) == 4 and head[:2] == b"\x08\x00" and head[3:4] == b"\x00"


# ---------------------------------------------------------------------------------- reading
def read_file_header(path: str | os.PathLike[str], *, fast: bool = True) -> FileHeader:
    """Read the headers of one file (no pixel data).

    Parameters
    ----------
    path : path-like
        The file.
    fast : bool
        Try the minimal parser (:mod:`readerstation.dicom.fastheader`, 10-40x faster) first;
        files it refuses are read with pydicom. False: always pydicom. Both give the same record.

    Returns
    -------
    FileHeader
        With ``error`` set when the header is readable but unusable for loading.

    Raises
    ------
    NotDicomError
        When the file is not DICOM (no ``DICM`` prefix and no recognisable data set).
    OSError
        When the file cannot be read at all.
    """
    p = Path(path)
    if fast:
        header = read_fast_file_header(p)
        if header is not None:
            return header
    has_meta = True
    with warnings.catch_warnings(), open(p, "rb") as fh:
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(fh, stop_before_pixels=True, specific_tags=_TAGS)
        except InvalidDicomError as exc:
            if not _looks_like_dicom_without_preamble(p):
                raise NotDicomError(
                    "no 'DICM' prefix at byte 128 and no data set at the start of the file"
                ) from exc
            fh.seek(0)
            try:
                ds = pydicom.dcmread(fh, stop_before_pixels=True, specific_tags=_TAGS, force=True)
            except Exception as exc2:  # pydicom raises many types on garbage
                raise NotDicomError(f"no DICOM data set could be parsed ({exc2})") from exc2
            has_meta = False
        except EOFError as exc:
            raise NotDicomError(f"file ends inside the header ({exc})") from exc
        pixel_offset = fh.tell()
        return _header_from_dataset(p, ds, has_meta, pixel_offset)


_NATIVE_LE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})


def _read_pixel_element(path: Path, offset: int, ts: str) -> tuple[int, int] | None:
    """Read the Pixel Data element header at ``offset``: (value offset, value length) or None.

    None when the file ends there or another element follows (e.g. Float Pixel Data). The length
    is 0xFFFFFFFF for encapsulated data.
    """
    big = ts == "1.2.840.10008.1.2.2"
    implicit = ts == "1.2.840.10008.1.2"
    with open(path, "rb") as fh:
        fh.seek(offset)
        head = fh.read(12)
    if len(head) < 8:
        return None
    tag = (b"\x7f\xe0\x00\x10") if big else (b"\xe0\x7f\x10\x00")
    if head[:4] != tag:
        return None
    raw = head[4:8] if implicit else head[8:12]
    length = int.from_bytes(raw, "big") if big else int.from_bytes(raw, "little")
    return offset + (8 if implicit else 12), length


def check_pixel_value(
    size: int, value_offset: int, length: int, rows: int, cols: int, n_frames: int, bits: int
) -> str | None:
    """Whether a native Pixel Data value of ``length`` bytes at ``value_offset`` is complete.

    Parameters
    ----------
    size : int
        File size in bytes.
    value_offset, length : int
        Where the value starts and its declared length, in bytes (0xFFFFFFFF: encapsulated,
        not checked here: fragments are only checked when decoding).
    rows, cols, n_frames, bits : int
        Image size and BitsAllocated (samples folded into ``n_frames``).

    Returns
    -------
    str or None
        The problem, or None when the value is complete.
    """
    if length == 0xFFFFFFFF:
        return None
    needed = rows * cols * n_frames * bits // 8
    if value_offset + length > size:
        return (
            f"pixel data truncated: the element declares {length} bytes but the file holds "
            f"only {size - value_offset}"
        )
    if length < needed:
        return (
            f"pixel data too short: {length} bytes for {rows}x{cols}x{n_frames} pixels at "
            f"{bits} bits, which need {needed}"
        )
    return None


def _check_pixel_data(
    path: Path,
    offset: int,
    ts: str,
    rows: int,
    cols: int,
    n_frames: int,
    bits: int,
    known: tuple[int, int, int] | None = None,
) -> tuple[str | None, tuple[int, int] | None]:
    """Cheap integrity check of the Pixel Data element without reading it.

    Reads the element header at ``offset`` (where header parsing stopped) and compares the
    declared length with the file size and the image size. Returns (problem or None, (value
    offset, length) for a complete native little-endian value, else None).
    """
    if ts == "1.2.840.10008.1.2.1.99":  # deflated: offsets are in the inflated stream
        return None, None
    if known is not None:  # (value offset, length, file size) already parsed by the caller
        start, length, size = known
        problem = check_pixel_value(size, start, length, rows, cols, n_frames, bits)
        native = problem is None and length != 0xFFFFFFFF and ts in _NATIVE_LE
        return problem, ((start, length) if native else None)
    size = path.stat().st_size
    found = _read_pixel_element(path, offset, ts)
    if found is None:
        with open(path, "rb") as fh:
            fh.seek(offset)
            if len(fh.read(8)) < 8:
                return (
                    f"no Pixel Data element: the file ends at byte {size}, after the header",
                    None,
                )
        return None, None  # something else follows the header (e.g. float pixel data)
    start, length = found
    problem = check_pixel_value(size, start, length, rows, cols, n_frames, bits)
    native = problem is None and length != 0xFFFFFFFF and ts in _NATIVE_LE
    return problem, ((start, length) if native else None)


def _header_from_dataset(
    path: Path,
    ds: Any,
    has_meta: bool,
    pixel_offset: int,
    known: tuple[int, int, int] | None = None,
) -> FileHeader:
    """Build the FileHeader from a pydicom Dataset (or the fast parser's look-alike)."""
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not ts and not has_meta:
        ts = "1.2.840.10008.1.2"  # DICOM default when no meta: implicit VR little endian
    media_sop = str(meta.get("MediaStorageSOPInstanceUID", "")) if meta is not None else ""
    media_class = str(meta.get("MediaStorageSOPClassUID", "")) if meta is not None else ""
    sop_class = _text(ds, "SOPClassUID") or media_class
    modality = _text(ds, "Modality").upper()
    if not sop_class and not modality and "Rows" not in ds:
        raise NotDicomError("no SOP class, modality or image size: not a DICOM object")

    missing: list[str] = []
    series_uid = _text(ds, "SeriesInstanceUID")
    study_uid = _text(ds, "StudyInstanceUID")
    sop_uid = _text(ds, "SOPInstanceUID") or media_sop
    if not series_uid:
        missing.append("SeriesInstanceUID")
    if not study_uid:
        missing.append("StudyInstanceUID")
    if not _text(ds, "SOPInstanceUID"):
        missing.append("SOPInstanceUID")
    if not sop_uid:
        sop_uid = derive_uid("sop", path.resolve())

    error: str | None = None
    notes: list[str] = []
    if not has_meta:
        notes.append("no File Meta Information; read as implicit VR little endian")

    def safe(fn: Any, *args: Any) -> Any:
        nonlocal error
        try:
            return fn(*args)
        except ValueError as exc:
            if error is None:
                error = str(exc)
            return None

    rows = safe(_int, ds, "Rows")
    cols = safe(_int, ds, "Columns")
    n_frames_raw = safe(_int, ds, "NumberOfFrames")
    n_frames = 1 if n_frames_raw is None else n_frames_raw
    bits_alloc = safe(_int, ds, "BitsAllocated")
    bits_stored = safe(_int, ds, "BitsStored") or bits_alloc
    pixel_rep = safe(_int, ds, "PixelRepresentation") or 0
    samples = safe(_int, ds, "SamplesPerPixel") or 1

    frames: list[FrameHeader] = []
    is_mf = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    if is_mf:
        try:
            frames = list(read_functional_groups(ds, n_frames))
        except ValueError as exc:
            error = error or f"functional groups: {exc}"
            frames = []
    else:
        pos = safe(_floats, ds, "ImagePositionPatient", 3)
        ori = safe(_floats, ds, "ImageOrientationPatient", 6)
        spacing = safe(_floats, ds, "PixelSpacing", 2)
        slope = safe(_float, ds, "RescaleSlope")
        intercept = safe(_float, ds, "RescaleIntercept")
        key = (
            _text(ds, "TemporalPositionIdentifier"),
            _text(ds, "EchoNumbers"),
            _text(ds, "ImageType"),
            _text(ds, "AcquisitionNumber"),
        )
        for i in range(max(n_frames, 1)):
            frames.append(
                FrameHeader(
                    frame_index=i,
                    position=pos,
                    orientation=ori,
                    pixel_spacing=spacing,
                    slice_thickness=safe(_float, ds, "SliceThickness"),
                    rescale_slope=1.0 if slope is None else slope,
                    rescale_intercept=0.0 if intercept is None else intercept,
                    stack_key=key,
                )
            )
        if n_frames > 1:
            notes.append(
                f"legacy multi-frame image with {n_frames} frames and one ImagePositionPatient"
            )

    is_image = (
        is_image_sop_class(sop_class, modality)
        and rows is not None
        and cols is not None
        and samples == 1  # colour screenshots / dose reports are not read as volumes
    )
    located: tuple[int, int] | None = None
    if is_image and error is None and bits_alloc and rows and cols:
        error, located = _check_pixel_data(
            path, pixel_offset, ts, rows, cols, max(n_frames, 1) * samples, bits_alloc, known
        )
    if is_mf or n_frames > 1:
        located = None  # the fast pixel path reads single-frame images only
    return FileHeader(
        path=path,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_uid,
        modality=modality,
        series_uid=series_uid,
        study_uid=study_uid,
        description=_text(ds, "SeriesDescription"),
        series_number=safe(_int, ds, "SeriesNumber"),
        instance_number=safe(_int, ds, "InstanceNumber"),
        study_date=_text(ds, "StudyDate") or None,
        acquisition_time=_text(ds, "AcquisitionTime") or _text(ds, "ContentTime") or None,
        contrast_agent=_text(ds, "ContrastBolusAgent") or None,
        bolus_start_time=_text(ds, "ContrastBolusStartTime") or None,
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID") or None,
        rows=rows,
        columns=cols,
        bits_allocated=bits_alloc,
        bits_stored=bits_stored,
        pixel_representation=int(pixel_rep),
        samples_per_pixel=int(samples),
        photometric=_text(ds, "PhotometricInterpretation"),
        transfer_syntax=ts or None,
        gantry_tilt_deg=safe(_float, ds, "GantryDetectorTilt"),
        spacing_between_slices=safe(_float, ds, "SpacingBetweenSlices"),
        is_multiframe=is_mf or n_frames > 1,
        frames=tuple(frames),
        has_file_meta=has_meta,
        missing_uids=tuple(missing),
        error=error,
        notes=tuple(notes),
        pixel_offset=None if located is None else located[0],
        pixel_length=None if located is None else located[1],
    )
