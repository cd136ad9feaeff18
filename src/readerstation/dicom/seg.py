"""Read a DICOM Segmentation (SEG) as boolean masks on the grid of a loaded image Volume.

Each SEG frame is placed on the Volume slice it was derived from (ReferencedSOPInstanceUID in
DerivationImageSequence / SourceImageSequence), or, when that reference is absent, on the slice
at its PlanePosition (which must then fall exactly on a slice of the grid).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray

from readerstation.errors import DicomError
from readerstation.geometry import Volume

__all__ = ["SegmentationMasks", "load_segmentation"]

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


@dataclass(frozen=True, eq=False)
class SegmentationMasks:
    """Boolean masks ``(z, y, x)`` on a Volume's grid, one per segment number.

    Parameters
    ----------
    masks : dict of int to ndarray of bool, shape (z, y, x)
        SegmentNumber -> mask on the Volume grid.
    labels : dict of int to str
        SegmentNumber -> SegmentLabel.
    series_uid : str
        SeriesInstanceUID of the SEG.
    warnings : tuple of str
        What did not match perfectly (frame of reference, frames placed by position).
    """

    masks: dict[int, NDArray[np.bool_]]
    labels: dict[int, str]
    series_uid: str
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        shapes = {m.shape for m in self.masks.values()}
        if len(shapes) > 1:
            raise DicomError(f"SegmentationMasks: masks of different shapes {shapes}")

    def __repr__(self) -> str:
        counts = {n: int(m.sum()) for n, m in self.masks.items()}
        return (
            f"SegmentationMasks(series_uid={self.series_uid!r}, labels={self.labels}, "
            f"voxels={counts}, warnings={len(self.warnings)})"
        )


def _first(item: Any, keyword: str) -> Any:
    seq = item.get(keyword) if item is not None else None
    return seq[0] if seq else None


def load_segmentation(path: str | os.PathLike[str], volume: Volume) -> SegmentationMasks:
    """Read a SEG file as boolean masks on ``volume``'s grid.

    Parameters
    ----------
    path : path-like
        The SEG file.
    volume : Volume
        The loaded image series the SEG was drawn on.

    Returns
    -------
    SegmentationMasks

    Raises
    ------
    DicomError
        Not a SEG, different image size, or a frame that matches no slice of the volume.
    """
    p = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(p)
        except Exception as exc:
            raise DicomError(f"{p}: cannot be read as DICOM ({exc})") from exc
    if str(ds.get("SOPClassUID", "")) != SEG_SOP_CLASS:
        raise DicomError(
            f"{p}: SOPClassUID {ds.get('SOPClassUID')!r} is not Segmentation Storage "
            f"({SEG_SOP_CLASS}); pass a DICOM SEG file"
        )
    _, rows, cols = volume.shape
    if (int(ds.Rows), int(ds.Columns)) != (rows, cols):
        raise DicomError(
            f"{p}: SEG frames are {ds.Rows}x{ds.Columns}; the volume slices are {rows}x{cols}. "
            "Load the image series the segmentation was drawn on"
        )
    notes: list[str] = []
    seg_for = str(ds.get("FrameOfReferenceUID", "")) or None
    if seg_for and volume.frame_of_reference_uid and seg_for != volume.frame_of_reference_uid:
        notes.append(
            f"SEG FrameOfReferenceUID {seg_for} differs from the volume's "
            f"{volume.frame_of_reference_uid}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pixels = np.asarray(ds.pixel_array)
        except Exception as exc:
            raise DicomError(f"{p}: SEG pixel data cannot be decoded ({exc})") from exc
    if pixels.ndim == 2:
        pixels = pixels[None]
    if str(ds.get("SegmentationType", "BINARY")) == "FRACTIONAL":
        max_value = float(ds.get("MaximumFractionalValue", 255) or 255)
        binary = pixels.astype(np.float32) >= 0.5 * max_value
    else:
        binary = pixels > 0
    labels = {
        int(s.SegmentNumber): str(s.get("SegmentLabel", f"segment {s.SegmentNumber}"))
        for s in ds.get("SegmentSequence", [])
    }
    masks = {n: np.zeros(volume.shape, dtype=bool) for n in labels}
    slice_of_sop = {
        (uid, frame): k
        for k, (uid, frame) in enumerate(
            zip(volume.sop_instance_uids, volume.frame_numbers, strict=True)
        )
    }
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    by_position = 0
    for i in range(binary.shape[0]):
        pf = per_frame[i] if i < len(per_frame) else None
        seg_id = _first(pf, "SegmentIdentificationSequence") or _first(
            shared, "SegmentIdentificationSequence"
        )
        number = int(seg_id.ReferencedSegmentNumber) if seg_id is not None else 1
        masks.setdefault(number, np.zeros(volume.shape, dtype=bool))
        source = _first(_first(pf, "DerivationImageSequence"), "SourceImageSequence")
        k: int | None = None
        if source is not None:
            uid = str(source.get("ReferencedSOPInstanceUID", ""))
            frame = int(source.get("ReferencedFrameNumber", 1) or 1)
            k = slice_of_sop.get((uid, frame))
        if k is None:
            position = _first(pf, "PlanePositionSequence")
            if position is None:
                raise DicomError(
                    f"{p}: frame {i + 1} has neither a source image reference nor a "
                    "PlanePosition; it cannot be placed on the volume"
                )
            ipp = np.array([float(v) for v in position.ImagePositionPatient])
            idx = volume.patient_to_index(ipp)
            k_round = round(float(idx[0]))
            if (
                np.max(np.abs(idx - [k_round, 0.0, 0.0])) > 0.01
                or not 0 <= k_round < volume.shape[0]
            ):
                raise DicomError(
                    f"{p}: frame {i + 1} at LPS {np.round(ipp, 2).tolist()} mm is not on a "
                    f"slice of the volume (fractional index {np.round(idx, 3).tolist()}); load "
                    "the image series the segmentation was drawn on"
                )
            k = k_round
            by_position += 1
        masks[number][k] |= binary[i]
    if by_position:
        notes.append(f"{by_position} SEG frame(s) placed by position (no source image reference)")
    return SegmentationMasks(
        masks=masks,
        labels=labels,
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        warnings=tuple(notes),
    )
