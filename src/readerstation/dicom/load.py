"""Load one series into a :class:`~readerstation.geometry.Volume`: voxels in HU, geometry in LPS mm.

Two steps, so that a viewer can show an empty volume of the right shape while it fills:

1. :func:`plan_series` reads headers only, sorts the slices by their position along the slice
   normal (never by file name or InstanceNumber), checks them (orientation, size, duplicates,
   gaps, tilt) and fixes the geometry and the voxel dtype;
2. :func:`load_series` decodes every slice straight into one preallocated ``(z, y, x)`` array,
   applying RescaleSlope / RescaleIntercept (per frame for enhanced objects): native
   little-endian single-frame slices are read with ``os.preadv`` at the Pixel Data offset the
   header recorded and rescaled in place; everything else is decoded by pydicom with the plugin
   of :func:`derive_decoding_plugin`.

Slices keep their true positions (``Volume.slice_positions``): uneven gaps and gantry tilt are
represented exactly, with a warning, so a distance measured across slices is right in mm.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing as mp
import os
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pydicom.pixels
from numpy.typing import NDArray
from pydicom.uid import ImplicitVRLittleEndian

from readerstation.dicom.headers import FileHeader, FrameHeader, NotDicomError, read_file_header
from readerstation.dicom.index import FolderIndex, SeriesInfo, index_folder, propose_arterial
from readerstation.errors import DicomError, LoadCancelled, SeriesSelectionError
from readerstation.geometry import Volume

__all__ = [
    "GeometryCriteria",
    "SeriesPlan",
    "SliceSource",
    "derive_decoding_plugin",
    "load_series",
    "load_stored_pixels",
    "plan_series",
    "select_series",
]

ProgressCallback = Callable[[int, int], object]


@dataclass(frozen=True)
class GeometryCriteria:
    """Tolerances used when checking a stack of slices (explicit, not buried in the code).

    Parameters
    ----------
    duplicate_mm : float
        Slices closer than this along the normal are at the same position.
    orientation_tol : float
        Direction cosines differing by less than this are the same orientation.
    uneven_fraction, uneven_min_mm : float
        Gaps differing from the median gap by more than ``max(uneven_min_mm,
        uneven_fraction * median)`` make the stack non-uniform.
    missing_slice_factor : float
        A gap larger than this many median gaps is reported as possibly missing slices.
    shear_mm : float
        In-plane displacement between slices above this means a sheared (gantry-tilted) stack.
    """

    duplicate_mm: float = 0.01
    orientation_tol: float = 1e-3
    uneven_fraction: float = 0.01
    uneven_min_mm: float = 0.01
    missing_slice_factor: float = 1.5
    shear_mm: float = 0.05

    def __post_init__(self) -> None:
        for name in ("duplicate_mm", "orientation_tol", "uneven_fraction", "uneven_min_mm"):
            if not getattr(self, name) > 0:
                raise DicomError(f"GeometryCriteria.{name} must be > 0; got {getattr(self, name)}")
        if self.missing_slice_factor <= 1:
            raise DicomError("GeometryCriteria.missing_slice_factor must be > 1")


@dataclass(frozen=True)
class SliceSource:
    """Where slice ``k`` of a plan comes from: a file, a frame of it, and its rescale.

    ``pixel_offset`` / ``pixel_length`` (bytes) locate a native little-endian single-frame Pixel
    Data value in the file (from :class:`FileHeader`); with ``bits_allocated``,
    ``bits_stored`` and ``pixel_representation`` they let :func:`load_series` read the pixels
    straight into the output array. None: decode with pydicom.
    """

    path: Path
    frame_index: int
    rescale_slope: float
    rescale_intercept: float
    sop_instance_uid: str
    has_file_meta: bool = True
    compressed: bool = False
    transfer_syntax: str | None = None
    pixel_offset: int | None = None
    pixel_length: int | None = None
    bits_allocated: int | None = None
    bits_stored: int | None = None
    pixel_representation: int = 0


@dataclass(frozen=True, eq=False)
class SeriesPlan:
    """A series ready to load: headers read, slices sorted and checked, geometry fixed; no pixels.

    Parameters
    ----------
    info : SeriesInfo
        The series.
    shape : (int, int, int)
        Volume shape (z, y, x).
    dtype : numpy dtype
        int16 when every rescale is integral and the rescaled range fits, else float32.
    spacing : (float, float, float), (z, y, x) mm
        ``spacing[0]`` is the median gap along the slice normal.
    origin : (float, float, float), LPS mm
        Position of voxel [0, 0, 0].
    direction : ndarray (3, 3)
        Columns: LPS unit vectors of increasing x, y and z index (z = slice normal).
    slice_positions : ndarray (z, 3), LPS mm
        ImagePositionPatient of every slice in volume order.
    warnings : tuple of str
        What the checks found (tilt, uneven gaps, duplicates dropped, stacks, fallbacks).
    slices : tuple of SliceSource
        Source of every slice, in volume order.
    """

    info: SeriesInfo
    shape: tuple[int, int, int]
    dtype: np.dtype[Any]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: NDArray[np.float64]
    slice_positions: NDArray[np.float64]
    warnings: tuple[str, ...]
    slices: tuple[SliceSource, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.slices) != self.shape[0]:
            raise DicomError(
                f"SeriesPlan has {len(self.slices)} slice sources for shape {self.shape}"
            )
        if np.asarray(self.slice_positions).shape != (self.shape[0], 3):
            raise DicomError("SeriesPlan.slice_positions must have one LPS point per slice")
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def nbytes(self) -> int:
        """Memory the voxel array needs, in bytes."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def empty_array(self) -> NDArray[Any]:
        """A preallocated, zero-filled ``(z, y, x)`` array of the plan's dtype, for ``out=``."""
        return np.zeros(self.shape, dtype=self.dtype)

    def to_volume(self, array: NDArray[Any], extra_warnings: Sequence[str] = ()) -> Volume:
        """Wrap ``array`` (z, y, x), filled or being filled in plan order, as this plan's Volume.

        Geometry, identifiers and warnings come from the plan; ``extra_warnings`` are appended
        (e.g. from decoding).
        """
        return Volume(
            array=array,
            spacing=self.spacing,
            origin=self.origin,
            direction=self.direction,
            slice_positions=self.slice_positions,
            sop_instance_uids=tuple(s.sop_instance_uid for s in self.slices),
            frame_numbers=tuple(s.frame_index + 1 for s in self.slices),
            frame_of_reference_uid=self.info.frame_of_reference_uid,
            series_uid=self.info.series_uid,
            study_uid=self.info.study_uid,
            modality=self.info.modality,
            warnings=(*self.warnings, *extra_warnings),
        )

    def __repr__(self) -> str:
        return (
            f"SeriesPlan(series_uid={self.info.series_uid!r}, shape={self.shape}, "
            f"dtype={self.dtype}, spacing_mm={tuple(round(s, 4) for s in self.spacing)}, "
            f"warnings={len(self.warnings)})"
        )


# ---------------------------------------------------------------------------------- selection
def select_series(
    index: FolderIndex, series_uid: str | None = None
) -> tuple[SeriesInfo, tuple[str, ...]]:
    """Choose the series to load from a folder index.

    With ``series_uid`` that series; otherwise the only image series, or the proposed arterial
    series (with a warning saying so) when there are several.

    Returns
    -------
    (SeriesInfo, tuple of str)
        The series and the warnings about the choice.

    Raises
    ------
    SeriesSelectionError
        Unknown UID, no image series, or several image series and no clear arterial one.
    """
    if series_uid:
        return index.find(series_uid), ()
    images = index.image_series()
    if len(images) == 1:
        return images[0], ()
    if not images:
        others = ", ".join(f"{s.modality} {s.series_uid}" for s in index.series) or "none"
        extra = f"; problems: {index.problems[0]}" if index.problems else ""
        raise SeriesSelectionError(
            f"No image series to load (non-image series: {others}; skipped: "
            f"{ {k: v for k, v in index.skipped.items() if v} }{extra}). "
            "Point to a folder with CT or MR images."
        )
    proposed = propose_arterial(images)
    if proposed is not None:
        return proposed, (
            f"{len(images)} image series found; chose the proposed arterial series "
            f"{proposed.series_uid} ({proposed.description!r}, {proposed.phase_reason}); "
            "pass a series UID to load another",
        )
    listing = "; ".join(
        f"{s.series_uid} ({s.modality}, {s.description!r}, {s.phase.value}, {s.n_images} images)"
        for s in images
    )
    raise SeriesSelectionError(
        f"{len(images)} image series and no clear arterial phase; choose one by SeriesInstanceUID: "
        f"{listing}"
    )


def _resolve_info(
    source: str | os.PathLike[str] | SeriesInfo, series_uid: str | None
) -> tuple[SeriesInfo, tuple[str, ...]]:
    if isinstance(source, SeriesInfo):
        if series_uid and series_uid != source.series_uid:
            raise SeriesSelectionError(
                f"series_uid {series_uid!r} does not match the SeriesInfo given "
                f"({source.series_uid!r}); pass one or the other"
            )
        return source, ()
    return select_series(index_folder(source), series_uid)


# ---------------------------------------------------------------------------------- planning
def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _fmt(values: Sequence[float], nd: int = 3) -> str:
    return "[" + ", ".join(f"{v:.{nd}f}" for v in values) + "]"


def _choose_dtype(
    headers: Sequence[FileHeader], frames: Sequence[FrameHeader], modality: str = ""
) -> np.dtype[Any]:
    """int16 when every rescale is integral and the values fit, else float32.

    CT with an integral rescale is always int16: HU outside [-32768, 32767] do not exist
    physically (only padding values can get there), so :func:`load_series` saturates such voxels
    and says how many it clipped, instead of doubling the memory with float32.
    """
    lo_hi: list[tuple[float, float]] = []
    for h in headers:
        bits = h.bits_stored or h.bits_allocated or 16
        if h.pixel_representation == 1:
            lo_hi.append((-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
        else:
            lo_hi.append((0, 2**bits - 1))
    stored_lo = min(lo for lo, _ in lo_hi)
    stored_hi = max(hi for _, hi in lo_hi)
    integral = all(
        float(f.rescale_slope).is_integer() and float(f.rescale_intercept).is_integer()
        for f in frames
    )
    if not integral:
        return np.dtype(np.float32)
    if modality.upper() == "CT":
        return np.dtype(np.int16)
    info = np.iinfo(np.int16)
    for f in frames:
        a = stored_lo * f.rescale_slope + f.rescale_intercept
        b = stored_hi * f.rescale_slope + f.rescale_intercept
        if min(a, b) < info.min or max(a, b) > info.max:
            return np.dtype(np.float32)
    return np.dtype(np.int16)


def _split_stacks(
    items: list[tuple[FileHeader, FrameHeader, float]], crit: GeometryCriteria, uid: str
) -> tuple[list[tuple[FileHeader, FrameHeader, float]], list[str]]:
    """Resolve frames that share a position: drop exact copies, split stacks, or refuse."""

    def has_duplicates(group: list[tuple[FileHeader, FrameHeader, float]]) -> bool:
        d = np.sort(np.array([x[2] for x in group]))
        return bool(len(d) > 1 and np.any(np.diff(d) < crit.duplicate_mm))

    if not has_duplicates(items):
        return items, []
    notes: list[str] = []
    # 1. The same SOP instance (and frame) stored twice: keep one copy.
    seen: dict[tuple[str, int], tuple[FileHeader, FrameHeader, float]] = {}
    for it in items:
        seen.setdefault((it[0].sop_instance_uid, it[1].frame_index), it)
    if len(seen) < len(items):
        notes.append(f"{len(items) - len(seen)} duplicate copies of the same SOP instance ignored")
        items = list(seen.values())
        if not has_duplicates(items):
            return items, notes
    # 2. Several stacks at the same positions (temporal positions, echoes, image types, ...).
    first = min(
        items,
        key=lambda it: (
            it[0].instance_number if it[0].instance_number is not None else 1 << 30,
            str(it[0].path),
            it[1].frame_index,
        ),
    )
    n_components = max(len(it[1].stack_key) for it in items)
    for comp in [*range(n_components), None]:

        def key_of(it: tuple[FileHeader, FrameHeader, float], comp: int | None = comp) -> Any:
            k = it[1].stack_key
            return k if comp is None else (k[comp] if comp < len(k) else "")

        groups: dict[Any, list[tuple[FileHeader, FrameHeader, float]]] = {}
        for it in items:
            groups.setdefault(key_of(it), []).append(it)
        if len(groups) > 1 and not any(has_duplicates(g) for g in groups.values()):
            chosen_key = key_of(first)
            chosen = groups[chosen_key]
            if len(chosen) < 2:
                # One image per "stack" (repeated scans at one table position): a time series
                # of a single slice, not a volume.
                continue
            sizes = ", ".join(f"{k!r}: {len(g)}" for k, g in groups.items())
            what = _KEY_NAMES.get(comp, _ALL_KEYS) if comp is not None else _ALL_KEYS
            notes.append(
                f"series {uid} holds {len(groups)} stacks at the same positions, told apart by "
                f"{what} ({sizes}); loaded the stack of the first image, {chosen_key!r} "
                f"({len(chosen)} images)"
            )
            return chosen, notes
    # 3. Nothing separates them: this is not one volume.
    d = sorted(items, key=lambda x: x[2])
    pairs = [(a, b) for a, b in itertools.pairwise(d) if b[2] - a[2] < crit.duplicate_mm]
    a, b = pairs[0]
    n_pos = len({round(x[2] / crit.duplicate_mm) for x in items})
    raise DicomError(
        f"Series {uid} has {len(items)} images at only {n_pos} distinct position(s) along the "
        f"slice normal (e.g. {a[0].path.name} and {b[0].path.name} both at {a[2]:.2f} mm), and "
        "no temporal position, echo, image type or acquisition number separates them into "
        "stacks of several slices: it is not one volume, and a stack of them would have 0 mm "
        "between slices. Load the images one at a time, or export one acquisition per series."
    )


def _is_localizer(frame: FrameHeader) -> bool:
    image_type = frame.stack_key[2] if len(frame.stack_key) > 2 else ""
    return "LOCALIZER" in image_type.upper()


_KEY_NAMES = {
    0: "temporal position",
    1: "echo",
    2: "image / frame type",
    3: "acquisition number / stack ID",
}
_ALL_KEYS = "temporal position, echo, image type and acquisition number together"


def plan_series(
    source: str | os.PathLike[str] | SeriesInfo,
    series_uid: str | None = None,
    *,
    criteria: GeometryCriteria | None = None,
) -> SeriesPlan:
    """Read the headers of one series, sort and check its slices and fix its geometry.

    Parameters
    ----------
    source : path-like or SeriesInfo
        A folder (indexed, then the series chosen as by :func:`select_series`), one file, or a
        :class:`SeriesInfo` from :func:`~readerstation.dicom.index.index_folder`.
    series_uid : str, optional
        SeriesInstanceUID to load when ``source`` is a path.
    criteria : GeometryCriteria, optional
        Tolerances for duplicates, orientation, gaps and tilt.

    Returns
    -------
    SeriesPlan

    Raises
    ------
    SeriesSelectionError
        When the series cannot be chosen.
    DicomError
        Non-image series, broken files (named), mixed orientations or sizes, duplicate positions
        that are not separable stacks, images without position when there are several.
    """
    crit = criteria or GeometryCriteria()
    info, select_warnings = _resolve_info(source, series_uid)
    uid = info.series_uid
    if not info.is_image:
        raise DicomError(
            f"Series {uid} is {info.modality or 'a non-image object'} ({info.description!r}), "
            "not an image series; choose a CT or MR series to load"
        )
    headers = list(info.headers)
    if not headers:
        for file in info.files:
            try:
                headers.append(read_file_header(file))
            except (NotDicomError, OSError) as exc:
                raise DicomError(
                    f"{file}: cannot be read as DICOM ({exc}); remove it from the series folder"
                ) from exc
    broken = [h for h in headers if h.error]
    if broken:
        others = f" (and {len(broken) - 1} more file(s))" if len(broken) > 1 else ""
        raise DicomError(
            f"{broken[0].path}: {broken[0].error}{others}. Series {uid} cannot be loaded with "
            "this file; replace it with an intact copy or remove it (the other "
            f"{len(headers) - len(broken)} file(s) are readable)"
        )
    warns: list[str] = [*select_warnings, *info.warnings]
    items_raw = [(h, f) for h in headers for f in h.frames]
    if not items_raw:
        raise DicomError(f"Series {uid} has no image frames to load")
    localizers = [(h, f) for h, f in items_raw if _is_localizer(f)]
    if localizers and len(localizers) < len(items_raw):
        items_raw = [(h, f) for h, f in items_raw if not _is_localizer(f)]
        warns.append(
            f"{len(localizers)} localizer (scout) image(s) left out of the volume, e.g. "
            f"{localizers[0][0].path.name}"
        )

    # --- image size, spacing and orientation must be shared by every slice
    sizes = Counter((h.rows, h.columns) for h, _ in items_raw)
    if len(sizes) > 1:
        listing = ", ".join(f"{r}x{c}: {n} images" for (r, c), n in sizes.items())
        raise DicomError(
            f"Series {uid} mixes image sizes ({listing}); it is not one volume. "
            "Export each reconstruction as its own series."
        )
    rows, cols = next(iter(sizes))
    if rows is None or cols is None:
        raise DicomError(f"Series {uid}: Rows / Columns missing; the headers are incomplete")

    no_geometry = [h for h, f in items_raw if f.position is None or f.orientation is None]
    if no_geometry and len(items_raw) > 1:
        raise DicomError(
            f"{no_geometry[0].path}: ImagePositionPatient or ImageOrientationPatient is missing, "
            f"so the {len(items_raw)} images of series {uid} cannot be ordered in space. "
            "Re-export the series with its geometry."
        )
    orientations: dict[tuple[float, ...], list[tuple[FileHeader, FrameHeader]]] = {}
    for h, f in items_raw:
        ori = f.orientation or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
        match = next(
            (
                k
                for k in orientations
                if max(abs(a - b) for a, b in zip(k, ori, strict=True)) < crit.orientation_tol
            ),
            None,
        )
        orientations.setdefault(match or ori, []).append((h, f))
    if len(orientations) > 1:
        listing = "; ".join(
            f"{_fmt(k, 4)} in {len(v)} image(s), e.g. {v[0][0].path.name}"
            for k, v in orientations.items()
        )
        raise DicomError(
            f"Series {uid} mixes {len(orientations)} slice orientations ({listing}); its images "
            "are not one stack, and stacking them would give a wrong slice spacing. Load one "
            "orientation at a time (export each stack as its own series)."
        )
    iop = np.array(next(iter(orientations)), dtype=np.float64)
    iop_text = _fmt(iop.tolist(), 4)
    row_dir, col_dir = iop[:3], iop[3:]
    if (
        abs(float(np.linalg.norm(row_dir)) - 1) > 0.01
        or abs(float(np.linalg.norm(col_dir)) - 1) > 0.01
    ):
        raise DicomError(
            f"{items_raw[0][0].path}: ImageOrientationPatient {iop_text} is not two unit "
            "vectors; the header is corrupt"
        )
    row_dir, col_dir = _unit(row_dir), _unit(col_dir)
    if abs(float(row_dir @ col_dir)) > crit.orientation_tol:
        raise DicomError(
            f"{items_raw[0][0].path}: ImageOrientationPatient row and column directions are not "
            f"perpendicular ({iop_text}); the header is corrupt"
        )
    normal = _unit(np.cross(row_dir, col_dir))

    spacings = Counter(f.pixel_spacing for _, f in items_raw)
    pixel_spacing = spacings.most_common(1)[0][0]
    if (
        len(spacings) > 1
        and pixel_spacing is not None
        and all(
            s is not None and np.allclose(s, pixel_spacing, rtol=1e-4, atol=0) for s in spacings
        )
    ):
        spacings = Counter({pixel_spacing: len(items_raw)})  # rounding differences only
    if len(spacings) > 1:
        raise DicomError(
            f"Series {uid} mixes pixel spacings {sorted(str(s) for s in spacings)}; load one "
            "reconstruction at a time"
        )
    if pixel_spacing is None or min(pixel_spacing) <= 0:
        warns.append(
            f"PixelSpacing is missing or not positive ({pixel_spacing}); assumed 1 mm x 1 mm: "
            "distances in mm on this series are NOT reliable"
        )
        pixel_spacing = (1.0, 1.0)

    # --- positions along the normal; duplicates and stacks
    items = [
        (h, f, float(np.asarray(f.position or (0.0, 0.0, 0.0)) @ normal)) for h, f in items_raw
    ]
    items, stack_notes = _split_stacks(items, crit, uid)
    warns.extend(stack_notes)
    items.sort(key=lambda it: it[2])
    positions = np.array([it[1].position or (0.0, 0.0, 0.0) for it in items], dtype=np.float64)
    along = np.array([it[2] for it in items])
    nz = len(items)
    first_h = items[0][0]

    if no_geometry:
        warns.append(
            "the image has no ImagePositionPatient / ImageOrientationPatient: placed at the "
            "origin with identity orientation; patient coordinates are not meaningful"
        )
    if nz > 1:
        gaps = np.diff(along)
        z_spacing = float(np.median(gaps))
        tol = max(crit.uneven_min_mm, crit.uneven_fraction * z_spacing)
        if np.any(np.abs(gaps - z_spacing) > tol):
            warns.append(
                f"uneven slice spacing: gaps from {gaps.min():.3f} to {gaps.max():.3f} mm (median "
                f"{z_spacing:.3f} mm); each slice keeps its true position (slice_positions), "
                "so distances across slices are exact"
            )
        big = np.nonzero(gaps > crit.missing_slice_factor * z_spacing)[0]
        if big.size:
            k = int(big[0])
            warns.append(
                f"possible missing slices: {big.size} gap(s) wider than "
                f"{crit.missing_slice_factor} x the median, e.g. {gaps[k]:.3f} mm between slices "
                f"{k} and {k + 1} ({items[k][0].path.name}, {items[k + 1][0].path.name})"
            )
        if nz == 2:
            warns.append("only 2 slices: a thin stack, check that the series is complete")
        # Shear: displacement within the image plane from one slice to the next (gantry tilt).
        rel = positions - positions[0]
        in_plane = rel - np.outer(along - along[0], normal)
        shear = float(np.max(np.linalg.norm(in_plane, axis=1)))
        if shear > crit.shear_mm:
            stack_dir = _unit(rel[-1])
            angle = math.degrees(math.acos(min(1.0, abs(float(stack_dir @ normal)))))
            tilt = first_h.gantry_tilt_deg
            warns.append(
                f"gantry tilt / sheared stack: slices advance {angle:.1f} deg off the slice normal"
                + (f" (GantryDetectorTilt {tilt:g} deg)" if tilt else "")
                + "; each slice keeps its true position (slice_positions), so mm measurements are"
                " exact, but the regular grid (affine) is only approximate"
            )
    else:
        z_spacing = float(first_h.spacing_between_slices or items[0][1].slice_thickness or 0.0)
        if z_spacing <= 0:
            z_spacing = 1.0
            warns.append("single image without SliceThickness: slice spacing set to 1 mm")
    if (
        first_h.gantry_tilt_deg
        and abs(first_h.gantry_tilt_deg) > 0.01
        and not any("gantry tilt" in w for w in warns)
    ):
        warns.append(f"GantryDetectorTilt is {first_h.gantry_tilt_deg:g} deg")
    if any(h.photometric == "MONOCHROME1" for h in headers):
        warns.append("MONOCHROME1: low values are displayed white; voxel values are unchanged")

    direction = np.column_stack([row_dir, col_dir, normal]) + 0.0  # no negative zeros
    slices = tuple(
        SliceSource(
            path=h.path,
            frame_index=f.frame_index,
            rescale_slope=f.rescale_slope,
            rescale_intercept=f.rescale_intercept,
            sop_instance_uid=h.sop_instance_uid,
            has_file_meta=h.has_file_meta,
            compressed=h.is_compressed,
            transfer_syntax=h.transfer_syntax,
            pixel_offset=h.pixel_offset,
            pixel_length=h.pixel_length,
            bits_allocated=h.bits_allocated,
            bits_stored=h.bits_stored,
            pixel_representation=h.pixel_representation,
        )
        for h, f, _ in items
    )
    used_headers = list({id(h): h for h, _, _ in items}.values())
    dtype = _choose_dtype(used_headers, [f for _, f, _ in items], info.modality)
    return SeriesPlan(
        info=info,
        shape=(nz, int(rows), int(cols)),
        dtype=dtype,
        spacing=(z_spacing, float(pixel_spacing[0]), float(pixel_spacing[1])),
        origin=(float(positions[0][0]), float(positions[0][1]), float(positions[0][2])),
        direction=direction,
        slice_positions=positions,
        warnings=tuple(dict.fromkeys(warns)),
        slices=slices,
    )


# ---------------------------------------------------------------------------------- decoding
_PLUGIN_FOR_SYNTAX = {
    "1.2.840.10008.1.2.5": "pylibjpeg",  # RLE Lossless: pylibjpeg-rle
    "1.2.840.10008.1.2.4.80": "pyjpegls",  # JPEG-LS Lossless: CharLS
    "1.2.840.10008.1.2.4.81": "pyjpegls",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90": "pylibjpeg",  # JPEG 2000 Lossless: OpenJPEG
    "1.2.840.10008.1.2.4.91": "pylibjpeg",  # JPEG 2000
}


def derive_decoding_plugin(transfer_syntax: str | None) -> str:
    """The pydicom decoding plugin measured fastest here for a transfer syntax ("" = default).

    pylibjpeg-rle for RLE, CharLS (pyjpegls) for JPEG-LS and OpenJPEG (pylibjpeg) for JPEG 2000
    (pydicom's default order would pick GDCM, about 2x slower for JPEG-LS; see
    ``bench/README.md``). Other syntaxes keep pydicom's order.
    """
    return _PLUGIN_FOR_SYNTAX.get(transfer_syntax or "", "")


def load_stored_pixels(path: str | os.PathLike[str], *, decoding_plugin: str = "") -> NDArray[Any]:
    """Decode the stored pixel values of one file (no rescale), shape ``(frames, rows, columns)``.

    Any transfer syntax pydicom and the installed pylibjpeg / pyjpegls plugins can decode
    (explicit / implicit / big endian, deflated, RLE, JPEG lossless, JPEG-LS, JPEG 2000).
    ``decoding_plugin`` names the pydicom plugin to try first (e.g. ``"pyjpegls"``); if it is
    missing or fails, pydicom's default order is used.

    Raises
    ------
    DicomError
        Naming the file and what is wrong when the pixel data cannot be decoded.
    """
    p = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                arr = None
                if decoding_plugin:
                    try:
                        arr = pydicom.pixels.pixel_array(p, decoding_plugin=decoding_plugin)
                    except (AttributeError, KeyError):
                        raise
                    except Exception:  # plugin missing or unable: pydicom's default order
                        arr = None
                if arr is None:
                    arr = pydicom.pixels.pixel_array(p)
            except (AttributeError, KeyError):
                # No file meta (no Transfer Syntax UID): DICOM's default is implicit VR LE.
                ds = pydicom.dcmread(p, force=True)
                ds.file_meta = getattr(ds, "file_meta", None) or pydicom.dataset.FileMetaDataset()
                if "TransferSyntaxUID" not in ds.file_meta:
                    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
                arr = ds.pixel_array
    except Exception as exc:  # decoders raise many types on corrupt data
        raise DicomError(
            f"{p}: pixel data cannot be decoded ({type(exc).__name__}: {exc}). The file is "
            "truncated or corrupt, or its transfer syntax has no installed decoder; replace it "
            "with an intact copy"
        ) from exc
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DicomError(
            f"{p}: decoded pixel data has shape {arr.shape}; expected (rows, columns) or "
            "(frames, rows, columns) greyscale"
        )
    return arr


_I16_MIN, _I16_MAX = -32768, 32767


def rescale_into(
    dst: NDArray[Any],
    src: NDArray[Any],
    slope: float,
    intercept: float,
    stored_range: tuple[int, int] | None = None,
) -> int:
    """Rescale ``src`` (stored values) into ``dst`` in place: HU = stored * slope + intercept.

    ``src`` may be ``dst`` itself (stored values already read into the output row). For an
    int16 ``dst`` (integral rescale) the arithmetic stays in int16 when the slice's values
    cannot overflow; otherwise it goes through int32 and saturates to [-32768, 32767].

    ``stored_range`` (lo, hi): the values ``src`` can hold (from BitsStored) when narrower than
    its dtype's range.

    Returns
    -------
    int
        Number of voxels clipped to the int16 range (0 for float32 ``dst``).
    """
    if not src.dtype.isnative:  # e.g. big endian from pydicom: the int16 view needs native order
        src = src.astype(src.dtype.newbyteorder("="))
    if dst.dtype != np.int16:
        np.multiply(src, np.float32(slope), out=dst, casting="unsafe")
        if intercept:
            dst += np.float32(intercept)
        return 0
    a, b = int(slope), int(intercept)
    if src.dtype.itemsize <= 2 and src.dtype.kind in "iu":
        info = np.iinfo(src.dtype)
        lo, hi = (int(info.min), int(info.max)) if stored_range is None else stored_range
        ends = (lo * a + b, hi * a + b)
        fits = min(ends) >= _I16_MIN and max(ends) <= _I16_MAX and hi <= _I16_MAX
        if not fits:
            # The type's range could overflow; the slice's actual values usually do not.
            # One reduction decides (e.g. signed CT with intercept -1024: only the minimum).
            if a == 1 and b <= 0 and hi <= _I16_MAX:
                lo = int(src.min())
            elif a == 1 and b >= 0 and lo >= _I16_MIN:
                hi = int(src.max())
            else:
                lo, hi = int(src.min()), int(src.max())
            ends = (lo * a + b, hi * a + b)
            fits = min(ends) >= _I16_MIN and max(ends) <= _I16_MAX and hi <= _I16_MAX
        if fits:
            s16 = src.view(np.int16) if src.dtype.itemsize == 2 else src
            if a == 1:
                if b == 0:
                    if not np.shares_memory(s16, dst):
                        np.copyto(dst, s16, casting="unsafe")
                else:
                    np.add(s16, np.int16(b), out=dst, casting="unsafe")
            else:
                np.multiply(s16, np.int16(a), out=dst, casting="unsafe")
                if b:
                    dst += np.int16(b)
            return 0
    tmp = src.astype(np.int64)
    if a != 1:
        tmp *= a
    if b:
        tmp += b
    clipped = int(np.count_nonzero((tmp < _I16_MIN) | (tmp > _I16_MAX)))
    np.clip(tmp, _I16_MIN, _I16_MAX, out=tmp)
    np.copyto(dst, tmp, casting="unsafe")
    return clipped


_NATIVE_LE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})


def _native_dtype(s: SliceSource) -> np.dtype[Any] | None:
    """Stored dtype of a slice the fast path can read, or None (decode with pydicom)."""
    if (
        s.pixel_offset is None
        or s.pixel_length is None
        or s.frame_index != 0
        or s.compressed
        or s.transfer_syntax not in _NATIVE_LE
        or s.bits_allocated not in (8, 16)
    ):
        return None
    stored = s.bits_stored or s.bits_allocated
    if not 1 <= stored <= s.bits_allocated:
        return None
    kind = "i" if s.pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{s.bits_allocated // 8}")


def _read_native(
    s: SliceSource, dst: NDArray[Any], stored: np.dtype[Any], scratch: dict[str, NDArray[Any]]
) -> int:
    """Read one native slice at its known offset straight into ``dst`` and rescale it in place.

    The bytes go into ``dst`` itself when it has the stored item size (int16 output of 16-bit
    data), else into a reused scratch row. Unused high bits are corrected as pydicom does
    (shift left, then right: masks unsigned, sign-extends signed values).

    Returns
    -------
    int
        Voxels clipped to the int16 range.
    """
    rows, cols = dst.shape
    nbytes = rows * cols * stored.itemsize
    if (s.pixel_length or 0) < nbytes:
        raise DicomError(
            f"{s.path}: pixel data holds {s.pixel_length} bytes; {rows}x{cols} pixels of "
            f"{stored.itemsize} byte(s) need {nbytes}. The file is truncated; replace it"
        )
    if dst.dtype.itemsize == stored.itemsize and dst.flags.c_contiguous:
        target = dst.view(stored)
    else:
        key = stored.str
        if key not in scratch or scratch[key].shape != (rows, cols):
            scratch[key] = np.empty((rows, cols), dtype=stored)
        target = scratch[key]
    fd = os.open(s.path, os.O_RDONLY)
    try:
        got = os.preadv(fd, [target.data.cast("B")], s.pixel_offset or 0)
    finally:
        os.close(fd)
    if got != nbytes:
        raise DicomError(
            f"{s.path}: read {got} of {nbytes} pixel bytes at offset {s.pixel_offset}; the file "
            "changed or is truncated; replace it"
        )
    bits = s.bits_stored or s.bits_allocated or 0
    shift = (s.bits_allocated or 0) - bits
    if shift > 0 and stored.kind == "u":  # the same as pydicom's shift left then right
        np.bitwise_and(target, stored.type((1 << bits) - 1), out=target)
    elif shift > 0:  # signed: sign-extend from BitsStored
        np.left_shift(target, shift, out=target)
        np.right_shift(target, shift, out=target)
    if stored.kind == "u":
        known = (0, (1 << bits) - 1)
    else:
        known = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return rescale_into(dst, target, s.rescale_slope, s.rescale_intercept, known)


_CHUNK_FILES = 4  # files per process-pool task: amortises pickling and scheduling
_EXECUTORS = ("auto", "serial", "thread", "process")


def _decode_chunk(paths: list[Path], plugins: list[str] | None = None) -> list[NDArray[Any]]:
    """Worker-process task: stored pixels of a few files (module level so it pickles)."""
    plugins = plugins or [""] * len(paths)
    return [load_stored_pixels(p, decoding_plugin=g) for p, g in zip(paths, plugins, strict=True)]


def _choose_executor(executor: str, workers: int, paths: list[Path], plan: SeriesPlan) -> str:
    if executor not in _EXECUTORS:
        raise DicomError(f"executor must be one of {_EXECUTORS}; received {executor!r}")
    if workers < 1:
        raise DicomError(f"workers must be >= 1; received {workers}")
    if workers == 1 or len(paths) < 2:
        return "serial"
    if executor != "auto":
        return executor
    # A process pool started per load was slower than decoding here in 11 of 12 measured cases
    # and cost 2-3x the memory (bench/README.md): auto decodes in the calling thread.
    return "serial"


def load_series(
    source: str | os.PathLike[str] | SeriesInfo | SeriesPlan,
    series_uid: str | None = None,
    *,
    progress: ProgressCallback | None = None,
    out: NDArray[Any] | None = None,
    workers: int = 2,
    executor: str = "auto",
) -> Volume:
    """Load one series into a :class:`Volume` (HU for CT), slices in position order.

    Parameters
    ----------
    source : path-like, SeriesInfo or SeriesPlan
        What to load; paths and SeriesInfo are planned with :func:`plan_series` first.
    series_uid : str, optional
        SeriesInstanceUID when ``source`` is a folder.
    progress : callable ``(done, total) -> object``, optional
        Called (in the calling thread) each time slices land in the array. Returning ``False``
        stops the load and raises :class:`~readerstation.errors.LoadCancelled`.
    out : ndarray (z, y, x), optional
        Array to decode into, e.g. ``plan.empty_array()`` already shown in a viewer; the
        returned Volume wraps it. Shape and dtype must match the plan.
    workers : int
        Parallel decoders for compressed files (1 = decode in the calling thread).
    executor : {"auto", "serial", "thread", "process"}
        How to decode. ``auto`` (default) = ``serial``: the calling thread, native
        little-endian slices read straight into ``out`` at their Pixel Data offset, compressed
        ones decoded with the plugin of :func:`derive_decoding_plugin` (a process pool started
        per load was slower and cost 2-3x the memory on this 2-core machine). ``process`` uses
        ``workers`` spawned processes for this load; if they cannot start, decoding finishes in
        the calling thread with a warning. CT with an integral rescale is int16; voxels whose
        rescaled value falls outside [-32768, 32767] are clipped and counted in a warning.

    Returns
    -------
    Volume
        ``array`` (z, y, x) in rescaled units, ``spacing`` (z, y, x) mm, ``origin`` and
        ``direction`` in LPS, true ``slice_positions``, SOPInstanceUID and frame of every slice.

    Raises
    ------
    DicomError
        A file of the series cannot be decoded (the message names it), or a bad ``out``.
    LoadCancelled
        When ``progress`` returned False.
    """
    plan = source if isinstance(source, SeriesPlan) else plan_series(source, series_uid)
    if out is None:
        arr = plan.empty_array()
    else:
        if tuple(out.shape) != plan.shape or out.dtype != plan.dtype:
            raise DicomError(
                f"out has shape {tuple(out.shape)} and dtype {out.dtype}; the plan needs shape "
                f"{plan.shape} and dtype {plan.dtype}. Use plan.empty_array()."
            )
        arr = out
    rows, cols = plan.shape[1], plan.shape[2]
    by_file: dict[Path, list[tuple[int, SliceSource]]] = {}
    for k, s in enumerate(plan.slices):
        by_file.setdefault(s.path, []).append((k, s))
    total = plan.shape[0]
    done = 0
    clipped = [0]
    plugins = {s.path: derive_decoding_plugin(s.transfer_syntax) for s in plan.slices}

    def place(path: Path, pixels: NDArray[Any]) -> int:
        for k, s in by_file[path]:
            if s.frame_index >= pixels.shape[0]:
                raise DicomError(
                    f"{path}: has {pixels.shape[0]} decoded frame(s); frame {s.frame_index + 1} "
                    "is missing. The file is truncated; replace it"
                )
            frame = pixels[s.frame_index]
            if frame.shape != (rows, cols):
                raise DicomError(
                    f"{path}: decoded frame is {frame.shape[0]}x{frame.shape[1]}; the header says "
                    f"{rows}x{cols}. The file is corrupt; replace it"
                )
            clipped[0] += rescale_into(arr[k], frame, s.rescale_slope, s.rescale_intercept)
        return len(by_file[path])

    per_thread = threading.local()  # scratch rows, one set per decoding thread

    def place_native(path: Path) -> int | None:
        """Read a native single-frame file at its known offset; None: use pydicom."""
        sources = by_file[path]
        if len(sources) != 1:
            return None
        k, s = sources[0]
        stored = _native_dtype(s)
        if stored is None:
            return None
        scratch = getattr(per_thread, "scratch", None)
        if scratch is None:
            scratch = per_thread.scratch = {}
        clipped[0] += _read_native(s, arr[k], stored, scratch)
        return 1

    def decode(path: Path) -> NDArray[Any]:
        return load_stored_pixels(path, decoding_plugin=plugins[path])

    def place_any(path: Path) -> int:
        n = place_native(path)
        return place(path, decode(path)) if n is None else n

    def report(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None and progress(done, total) is False:
            raise LoadCancelled(
                f"Loading series {plan.info.series_uid} was cancelled after {done} of {total} "
                "slices; the partial array is incomplete, load again to see the series"
            )

    paths = list(by_file)
    extra_warnings: list[str] = []
    mode = _choose_executor(executor, workers, paths, plan)
    if mode == "serial":
        for path in paths:
            report(place_any(path))
    elif mode == "thread":
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rs-decode") as tpool:
            pending: set[Future[int]] = {tpool.submit(place_any, p) for p in paths}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        report(fut.result())
            finally:
                for fut in pending:
                    fut.cancel()
    else:
        # Decoders hold the GIL, so compressed series decode in worker processes; the pixels
        # come back pickled and are rescaled into ``arr`` here, in the calling thread.
        chunks = [paths[i : i + _CHUNK_FILES] for i in range(0, len(paths), _CHUNK_FILES)]
        placed: set[Path] = set()
        ppool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
        try:
            jobs: dict[Future[list[NDArray[Any]]], list[Path]] = {
                ppool.submit(_decode_chunk, chunk, [plugins[p] for p in chunk]): chunk
                for chunk in chunks
            }
            waiting: set[Future[list[NDArray[Any]]]] = set(jobs)
            while waiting:
                finished_p, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for fut_p in finished_p:
                    for path, pixels in zip(jobs[fut_p], fut_p.result(), strict=True):
                        placed.add(path)
                        report(place(path, pixels))
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            # Worker processes could not start or died (e.g. a script without an
            # ``if __name__ == "__main__"`` guard under the spawn start method): finish here.
            extra_warnings.append(
                f"parallel decoding unavailable ({type(exc).__name__}: {exc}); "
                "decoded in the calling thread"
            )
            for path in paths:
                if path not in placed:
                    report(place_any(path))
        finally:
            ppool.shutdown(wait=False, cancel_futures=True)

    if clipped[0]:
        extra_warnings.append(
            f"{clipped[0]} voxel(s) outside the int16 range [-32768, 32767] after rescale were "
            "clipped to it (HU there do not exist physically: padding or corrupt values); "
            "measurements are unaffected"
        )
    return plan.to_volume(arr, extra_warnings)
