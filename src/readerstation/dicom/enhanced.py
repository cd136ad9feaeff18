"""Enhanced multi-frame objects (Enhanced CT / MR, ...): per-frame geometry and rescale.

In enhanced objects the attributes that classic images carry at the top level live in functional
groups: a macro found in ``PerFrameFunctionalGroupsSequence[i]`` applies to frame ``i`` and
overrides the same macro in ``SharedFunctionalGroupsSequence[0]``, which applies to every frame.
Geometry: PlanePositionSequence (ImagePositionPatient), PlaneOrientationSequence
(ImageOrientationPatient), PixelMeasuresSequence (PixelSpacing, SliceThickness); values:
PixelValueTransformationSequence (RescaleSlope, RescaleIntercept), which may differ per frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset

if TYPE_CHECKING:
    from readerstation.dicom.headers import FrameHeader

__all__ = ["read_functional_groups"]

_FRAME_TYPE_SEQUENCES = (
    "MRImageFrameTypeSequence",
    "CTImageFrameTypeSequence",
    "PETFrameTypeSequence",
    "XAXRFFrameCharacteristicsSequence",
)


def _macro(per_frame: Dataset | None, shared: Dataset | None, keyword: str) -> Dataset | None:
    for group in (per_frame, shared):
        if group is not None and keyword in group:
            seq = group[keyword].value
            if seq:
                return seq[0]
    return None


def _floats(item: Dataset | None, keyword: str, n: int, where: str) -> tuple[float, ...] | None:
    if item is None or keyword not in item or item[keyword].value in (None, ""):
        return None
    try:
        values = tuple(float(v) for v in item[keyword].value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {keyword} {item[keyword].value!r} is not numeric") from exc
    if len(values) != n:
        raise ValueError(f"{where}: {keyword} has {len(values)} values; expected {n}")
    return values


def _float(item: Dataset | None, keyword: str, where: str) -> float | None:
    if item is None or keyword not in item or item[keyword].value in (None, ""):
        return None
    try:
        return float(item[keyword].value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {keyword} {item[keyword].value!r} is not numeric") from exc


def read_functional_groups(ds: Dataset, n_frames: int) -> list[FrameHeader]:
    """One :class:`FrameHeader` per frame of an enhanced multi-frame data set.

    Parameters
    ----------
    ds : pydicom Dataset
        Headers including SharedFunctionalGroupsSequence and PerFrameFunctionalGroupsSequence.
    n_frames : int
        NumberOfFrames.

    Raises
    ------
    ValueError
        When the per-frame sequence length disagrees with NumberOfFrames or a value is malformed.
    """
    from readerstation.dicom.headers import FrameHeader

    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared: Dataset | None = shared_seq[0] if shared_seq else None
    per_frame_seq: Any = ds.get("PerFrameFunctionalGroupsSequence") or []
    if per_frame_seq and len(per_frame_seq) != n_frames:
        raise ValueError(
            f"PerFrameFunctionalGroupsSequence has {len(per_frame_seq)} items for "
            f"NumberOfFrames {n_frames}"
        )
    top_slope = ds.get("RescaleSlope")
    top_intercept = ds.get("RescaleIntercept")
    frames: list[FrameHeader] = []
    for i in range(n_frames):
        where = f"frame {i + 1}"
        pf: Dataset | None = per_frame_seq[i] if per_frame_seq else None
        pos_item = _macro(pf, shared, "PlanePositionSequence")
        ori_item = _macro(pf, shared, "PlaneOrientationSequence")
        pix_item = _macro(pf, shared, "PixelMeasuresSequence")
        pvt_item = _macro(pf, shared, "PixelValueTransformationSequence")
        content = _macro(pf, shared, "FrameContentSequence")
        echo = _macro(pf, shared, "MREchoSequence")
        frame_type = ""
        for seq_name in _FRAME_TYPE_SEQUENCES:
            item = _macro(pf, shared, seq_name)
            if item is not None and "FrameType" in item:
                frame_type = "\\".join(str(v) for v in item.FrameType)
                break
        slope = _float(pvt_item, "RescaleSlope", where)
        intercept = _float(pvt_item, "RescaleIntercept", where)
        if slope is None and top_slope not in (None, ""):
            slope = float(top_slope)
        if intercept is None and top_intercept not in (None, ""):
            intercept = float(top_intercept)
        key = (
            str(content.get("TemporalPositionIndex", "")) if content is not None else "",
            str(echo.get("EffectiveEchoTime", "")) if echo is not None else "",
            frame_type,
            str(content.get("StackID", "")) if content is not None else "",
        )
        pos = _floats(pos_item, "ImagePositionPatient", 3, where)
        ori = _floats(ori_item, "ImageOrientationPatient", 6, where)
        spacing = _floats(pix_item, "PixelSpacing", 2, where)
        frames.append(
            FrameHeader(
                frame_index=i,
                position=(pos[0], pos[1], pos[2]) if pos else None,
                orientation=(ori[0], ori[1], ori[2], ori[3], ori[4], ori[5]) if ori else None,
                pixel_spacing=(spacing[0], spacing[1]) if spacing else None,
                slice_thickness=_float(pix_item, "SliceThickness", where),
                rescale_slope=1.0 if slope is None else slope,
                rescale_intercept=0.0 if intercept is None else intercept,
                stack_key=key,
            )
        )
    return frames
