"""Measurement lines in patient space: length in mm, placement on a series, bidirectional pairs.

A line is two patient LPS points (mm) and the SOPInstanceUID of the image it was drawn on. Lengths
are Euclidean distances between the LPS points: never pixel counts, so anisotropic pixels and
oblique orientations are handled by the geometry that produced the points
(:meth:`readerstation.geometry.Volume.index_to_patient`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from readerstation.errors import MeasurementError
from readerstation.geometry import Volume

__all__ = [
    "BidirectionalMeasurement",
    "Line",
    "LinePlacement",
    "LinePlacementCriteria",
    "check_line_on_volume",
    "compute_bidirectional",
    "compute_line_length_mm",
]

#: lines shorter than this (mm) are treated as zero length (a click without a drag)
MIN_LINE_LENGTH_MM = 1e-3


def _point(value: ArrayLike, name: str) -> tuple[float, float, float]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (3,):
        raise MeasurementError(
            f"{name} must be one LPS point (x, y, z) in mm; received {np.asarray(value).tolist()!r}"
        )
    if not np.all(np.isfinite(arr)):
        raise MeasurementError(
            f"{name} must be finite LPS mm; received {arr.tolist()}. The point was not placed on "
            "the image: draw the line again."
        )
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def compute_line_length_mm(p0_lps: ArrayLike, p1_lps: ArrayLike) -> float:
    """Euclidean distance (mm) between two patient LPS points (mm).

    Parameters
    ----------
    p0_lps, p1_lps : array_like, shape (3,), LPS mm

    Returns
    -------
    float
        Length in mm.

    Examples
    --------
    >>> compute_line_length_mm([0, 0, 0], [3, 4, 0])
    5.0
    """
    a = np.asarray(_point(p0_lps, "p0_lps"))
    b = np.asarray(_point(p1_lps, "p1_lps"))
    return float(np.linalg.norm(b - a))


@dataclass(frozen=True)
class Line:
    """A measurement line: two patient LPS end points (mm) and the image it was drawn on.

    Parameters
    ----------
    start_lps, end_lps : tuple of float, LPS mm
        End points. Must be finite and distinct (at least ``MIN_LINE_LENGTH_MM`` apart).
    sop_instance_uid : str
        SOPInstanceUID of the image (slice) the line was drawn on.
    series_uid : str, optional
        SeriesInstanceUID of that image, when known.

    Raises
    ------
    MeasurementError
        Non-finite points, zero length, or an empty SOPInstanceUID.

    Examples
    --------
    >>> Line((0, 0, 10), (30, 40, 10), sop_instance_uid="1.2.3").length_mm
    50.0
    """

    start_lps: tuple[float, float, float]
    end_lps: tuple[float, float, float]
    sop_instance_uid: str
    series_uid: str | None = None

    def __post_init__(self) -> None:
        start = _point(self.start_lps, "Line.start_lps")
        end = _point(self.end_lps, "Line.end_lps")
        if not isinstance(self.sop_instance_uid, str) or not self.sop_instance_uid.strip():
            raise MeasurementError(
                "Line.sop_instance_uid must name the image the line was drawn on; received "
                f"{self.sop_instance_uid!r}. Draw the line on a loaded image."
            )
        length = float(np.linalg.norm(np.subtract(end, start)))
        if length < MIN_LINE_LENGTH_MM:
            raise MeasurementError(
                f"zero-length line: drag the end point away from the start point (both ends at "
                f"LPS {[round(v, 2) for v in start]} mm)"
            )
        object.__setattr__(self, "start_lps", start)
        object.__setattr__(self, "end_lps", end)

    @property
    def length_mm(self) -> float:
        """Length in mm (Euclidean distance of the LPS end points)."""
        return compute_line_length_mm(self.start_lps, self.end_lps)

    @property
    def points(self) -> NDArray[np.float64]:
        """End points as an array, shape (2, 3), LPS mm."""
        return np.array([self.start_lps, self.end_lps], dtype=np.float64)

    @property
    def direction(self) -> NDArray[np.float64]:
        """Unit vector from start to end (LPS)."""
        d = np.subtract(self.end_lps, self.start_lps)
        return np.asarray(d / np.linalg.norm(d), dtype=np.float64)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: ``points_lps_mm`` (two [x, y, z]), ``length_mm``, UIDs."""
        return {
            "points_lps_mm": [list(self.start_lps), list(self.end_lps)],
            "length_mm": self.length_mm,
            "sop_instance_uid": self.sop_instance_uid,
            "series_uid": self.series_uid,
        }

    def __repr__(self) -> str:
        s = tuple(round(v, 2) for v in self.start_lps)
        e = tuple(round(v, 2) for v in self.end_lps)
        return (
            f"Line(length_mm={self.length_mm:.2f}, start_lps={s}, end_lps={e}, "
            f"sop_instance_uid={self.sop_instance_uid!r})"
        )


@dataclass(frozen=True)
class LinePlacementCriteria:
    """Tolerances for accepting a line on a series.

    Parameters
    ----------
    plane_tolerance_mm : float
        Largest distance (mm) of an end point from the plane of its slice; default 0.5 mm (a
        viewer snaps points onto the displayed slice, so anything larger is another slice).
    edge_margin_voxels : float
        How far (in voxels) beyond the centre of the outermost pixel an end point may lie; default
        0.5, the outer edge of that pixel.
    """

    plane_tolerance_mm: float = 0.5
    edge_margin_voxels: float = 0.5

    def __post_init__(self) -> None:
        if not (self.plane_tolerance_mm > 0 and math.isfinite(self.plane_tolerance_mm)):
            raise MeasurementError(
                f"plane_tolerance_mm must be a positive number of mm; received "
                f"{self.plane_tolerance_mm!r}"
            )
        if not (self.edge_margin_voxels >= 0 and math.isfinite(self.edge_margin_voxels)):
            raise MeasurementError(
                f"edge_margin_voxels must be >= 0; received {self.edge_margin_voxels!r}"
            )


@dataclass(frozen=True)
class LinePlacement:
    """Where a line lies on a volume: its slice, fractional indices and any problems.

    Parameters
    ----------
    slice_index : int or None
        The slice both end points lie on (None when they do not share one).
    index_zyx : ndarray, shape (2, 3)
        Fractional voxel indices (z, y, x) of the start and end point.
    problems : tuple of str
        Empty when the line can be used as a measurement on this volume.
    """

    slice_index: int | None
    index_zyx: NDArray[np.float64]
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return not self.problems

    def __repr__(self) -> str:
        return f"LinePlacement(slice_index={self.slice_index}, problems={list(self.problems)})"


def check_line_on_volume(
    line: Line,
    volume: Volume,
    *,
    criteria: LinePlacementCriteria | None = None,
    raise_on_problem: bool = True,
) -> LinePlacement:
    """Check that a line lies on one axial slice of ``volume``, inside the image.

    Problems looked for, each with a message naming the fix: an end point outside the image;
    a line drawn on another series (SeriesInstanceUID or SOPInstanceUID not in ``volume``); end
    points on two different slices (RECIST measures in the image plane); a SOPInstanceUID that is
    not the slice the points lie on.

    Parameters
    ----------
    line : Line
    volume : Volume
    criteria : LinePlacementCriteria, optional
        Tolerances; defaults to ``LinePlacementCriteria()``.
    raise_on_problem : bool
        Raise :class:`MeasurementError` listing every problem (default); with False, return
        them in :attr:`LinePlacement.problems`.

    Returns
    -------
    LinePlacement

    Raises
    ------
    MeasurementError
        When ``raise_on_problem`` and the line cannot be used on this volume.
    """
    crit = criteria or LinePlacementCriteria()
    problems: list[str] = []
    if line.series_uid and volume.series_uid and line.series_uid != volume.series_uid:
        problems.append(
            f"drawn on another series: the line belongs to series {line.series_uid}, the image "
            f"shown is series {volume.series_uid}; draw it again on this series"
        )
    idx = volume.patient_to_index(line.points)
    for name, i, p in (("start", idx[0], line.start_lps), ("end", idx[1], line.end_lps)):
        if not volume.contains_index(i, margin=crit.edge_margin_voxels):
            problems.append(
                f"the line's {name} point lies outside the image (LPS "
                f"{[round(v, 2) for v in p]} mm, voxel z, y, x = {np.round(i, 2).tolist()}, image "
                f"shape {list(volume.shape)}); drag it back onto the image"
            )
    offsets = volume.slice_offsets_mm
    normal = volume.normal
    dist = (line.points - volume.slice_positions[0]) @ normal
    nearest = [int(np.argmin(np.abs(offsets - d))) for d in dist]
    off_plane = [abs(float(d - offsets[k])) for d, k in zip(dist, nearest, strict=True)]
    slice_index: int | None = None
    if nearest[0] != nearest[1] or abs(float(dist[1] - dist[0])) > crit.plane_tolerance_mm:
        problems.append(
            f"end points on two different slices: RECIST measures in the axial plane (start near "
            f"slice {nearest[0]}, end near slice {nearest[1]}, {abs(float(dist[1] - dist[0])):.2f} "
            "mm apart along the slice normal); draw both ends on one slice"
        )
    elif max(off_plane) > crit.plane_tolerance_mm:
        problems.append(
            f"the line lies {max(off_plane):.2f} mm from the nearest slice plane (tolerance "
            f"{crit.plane_tolerance_mm} mm): it was not drawn on an image of this series; draw it "
            "on a displayed slice"
        )
    else:
        slice_index = nearest[0]
    uids = volume.sop_instance_uids
    if uids:
        if line.sop_instance_uid not in uids:
            problems.append(
                f"drawn on another series: SOPInstanceUID {line.sop_instance_uid} is not an image "
                f"of series {volume.series_uid}; draw the line on this series"
            )
        elif slice_index is not None and uids[slice_index] != line.sop_instance_uid:
            problems.append(
                f"the line's SOPInstanceUID {line.sop_instance_uid} is slice "
                f"{uids.index(line.sop_instance_uid)}, but its points lie on slice {slice_index} "
                f"({uids[slice_index]}); record the UID of the slice it was drawn on"
            )
    placement = LinePlacement(slice_index=slice_index, index_zyx=idx, problems=tuple(problems))
    if problems and raise_on_problem:
        raise MeasurementError("; ".join(problems))
    return placement


@dataclass(frozen=True)
class BidirectionalMeasurement:
    """A long axis and the perpendicular short axis on one image (RECIST nodes, bidimensional).

    Parameters
    ----------
    long_axis : Line
    short_axis : Line
    angle_deg : float
        Angle between the two lines, degrees (90 = perpendicular).
    """

    long_axis: Line
    short_axis: Line
    angle_deg: float

    @property
    def long_axis_mm(self) -> float:
        """Long axis length, mm."""
        return self.long_axis.length_mm

    @property
    def short_axis_mm(self) -> float:
        """Short axis length, mm."""
        return self.short_axis.length_mm

    @property
    def product_mm2(self) -> float:
        """Product of the two diameters (WHO bidimensional), mm^2."""
        return self.long_axis_mm * self.short_axis_mm

    def __repr__(self) -> str:
        return (
            f"BidirectionalMeasurement(long_axis_mm={self.long_axis_mm:.2f}, "
            f"short_axis_mm={self.short_axis_mm:.2f}, angle_deg={self.angle_deg:.1f})"
        )


def compute_bidirectional(
    long_axis: Line | Sequence[ArrayLike],
    short_axis: Line | Sequence[ArrayLike],
    *,
    sop_instance_uid: str | None = None,
    perpendicular_tolerance_deg: float = 10.0,
) -> BidirectionalMeasurement:
    """Long and short axis from four points (two lines), checked for perpendicularity.

    Parameters
    ----------
    long_axis, short_axis : Line or pair of LPS points (mm)
        The lines; when given as point pairs, ``sop_instance_uid`` is required.
    sop_instance_uid : str, optional
        Image of both lines when they are given as points.
    perpendicular_tolerance_deg : float
        Largest departure from 90 degrees accepted between the lines; default 10.

    Returns
    -------
    BidirectionalMeasurement

    Raises
    ------
    MeasurementError
        Lines on different images, not perpendicular within tolerance, or a short axis longer
        than the long axis.

    Examples
    --------
    >>> m = compute_bidirectional([(0, 0, 0), (20, 0, 0)], [(10, -5, 0), (10, 5, 0)],
    ...                           sop_instance_uid="1.2.3")
    >>> (m.long_axis_mm, m.short_axis_mm, m.angle_deg)
    (20.0, 10.0, 90.0)
    """
    if not (0 <= perpendicular_tolerance_deg <= 90):
        raise MeasurementError(
            f"perpendicular_tolerance_deg must be within 0..90; received "
            f"{perpendicular_tolerance_deg!r}"
        )

    def as_line(value: Line | Sequence[ArrayLike], name: str) -> Line:
        if isinstance(value, Line):
            return value
        pts = list(value)
        if len(pts) != 2:
            raise MeasurementError(
                f"{name} must be a Line or two LPS points; got {len(pts)} points"
            )
        if not sop_instance_uid:
            raise MeasurementError(
                f"{name} given as points needs sop_instance_uid (the image it was drawn on)"
            )
        return Line(_point(pts[0], name), _point(pts[1], name), sop_instance_uid)

    long_line = as_line(long_axis, "long_axis")
    short_line = as_line(short_axis, "short_axis")
    if long_line.sop_instance_uid != short_line.sop_instance_uid:
        raise MeasurementError(
            "long and short axis drawn on different images (SOPInstanceUID "
            f"{long_line.sop_instance_uid} vs {short_line.sop_instance_uid}); draw both on the "
            "slice where the lesion is longest"
        )
    cos = float(abs(long_line.direction @ short_line.direction))
    angle = math.degrees(math.acos(min(1.0, cos)))
    if 90.0 - angle > perpendicular_tolerance_deg + 1e-9:
        raise MeasurementError(
            f"short axis is not perpendicular to the long axis: {angle:.1f} degrees between them, "
            f"expected 90 +- {perpendicular_tolerance_deg:g}; redraw the short axis at right "
            "angles to the long axis"
        )
    if short_line.length_mm > long_line.length_mm + 1e-9:
        raise MeasurementError(
            f"short axis ({short_line.length_mm:.1f} mm) is longer than the long axis "
            f"({long_line.length_mm:.1f} mm); swap the two lines"
        )
    return BidirectionalMeasurement(long_axis=long_line, short_axis=short_line, angle_deg=angle)
