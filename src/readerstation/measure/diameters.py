"""Longest in-plane diameter and its perpendicular (RECIST short axis) from a 2-D mask.

Convention (the half-voxel question)
------------------------------------
The outline of a lesion is the **0.5 iso-contour** of its mask on the slice, found by marching
squares (:func:`skimage.measure.find_contours`). For a binary mask this contour runs through the
midpoints between inside and outside pixel centres, i.e. along the **pixel edges**: a disk that
covers pixels measures edge to edge, as a radiologist's caliper on the displayed pixels reads
it (centre-to-centre distances would fall about one pixel short). A fractional mask (a
membership map in [0, 1], e.g. the HU scaled between the background and the lesion level) gives
the half-maximum boundary with sub-pixel interpolation; that is what the seeded proposal uses.

Distances are computed in millimetres in the image plane (column spacing along the row
direction, row spacing along the column direction, which are orthonormal in LPS) and the end
points are converted to patient LPS with :meth:`readerstation.geometry.Volume.index_to_patient`:
anisotropic pixels and oblique orientations are exact, pixel counts are never used.

* Long axis: the largest distance between two contour points (exact: the maximum over the
  vertices of their convex hull).
* Short axis: the longest chord perpendicular to the long axis, measured from the outermost to
  the outermost intersection of the outline with lines perpendicular to the long axis (exact over
  the polygon: the chord length is piecewise linear between vertices, so its maximum lies at a
  vertex position).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import ConvexHull, QhullError
from skimage import measure as skmeasure

from readerstation.errors import MeasurementError
from readerstation.geometry import Volume

__all__ = ["MaskDiameters", "compute_diameters_from_mask", "compute_outline_from_mask"]

#: at most this many candidate positions are tried for the short axis (evenly chosen vertices)
_MAX_SHORT_AXIS_CANDIDATES = 2048


@dataclass(frozen=True, eq=False)
class MaskDiameters:
    """Diameters of a 2-D outline on one slice, with their end points in patient space.

    Parameters
    ----------
    slice_index : int
        Slice (z index) of the mask.
    long_axis_mm : float
        Longest in-plane diameter, mm.
    long_axis_points_lps : ndarray, shape (2, 3)
        Its end points, LPS mm.
    short_axis_mm : float
        Longest diameter perpendicular to the long axis, mm (0 when not computed).
    short_axis_points_lps : ndarray, shape (2, 3) or None
        Its end points, LPS mm.
    area_mm2 : float
        Area of the pixels at or above the level, mm^2 (pixel count x pixel area).
    touches_edge : bool
        True when the mask reaches the border of the array (the outline is cut by the edge).
    """

    slice_index: int
    long_axis_mm: float
    long_axis_points_lps: NDArray[np.float64]
    short_axis_mm: float
    short_axis_points_lps: NDArray[np.float64] | None
    area_mm2: float
    touches_edge: bool

    def __repr__(self) -> str:
        return (
            f"MaskDiameters(slice_index={self.slice_index}, long_axis_mm={self.long_axis_mm:.2f}, "
            f"short_axis_mm={self.short_axis_mm:.2f}, area_mm2={self.area_mm2:.1f}, "
            f"touches_edge={self.touches_edge})"
        )


def compute_outline_from_mask(
    mask_2d: ArrayLike, *, level: float = 0.5
) -> tuple[list[NDArray[np.float64]], bool]:
    """Closed iso-contours of a 2-D mask, in fractional (row, column) indices.

    Parameters
    ----------
    mask_2d : array_like of bool or float, shape (rows, columns)
        Binary mask or membership map.
    level : float
        Iso-level; 0.5 = pixel edges for a binary mask.

    Returns
    -------
    (list of ndarray (n, 2), bool)
        Contours as (row, column) points (closed: the array is padded with zeros, so outlines
        cut by the border close along it) and whether the mask touches the border.
    """
    m = np.asarray(mask_2d)
    if m.ndim != 2:
        raise MeasurementError(f"mask_2d must be 2-D (rows, columns); received shape {m.shape}")
    mf = m.astype(np.float64, copy=False)
    if not np.all(np.isfinite(mf)):
        raise MeasurementError("mask_2d contains NaN or infinite values; pass a finite mask")
    touches = bool(
        np.any(mf[0] >= level)
        or np.any(mf[-1] >= level)
        or np.any(mf[:, 0] >= level)
        or np.any(mf[:, -1] >= level)
    )
    padded = np.pad(mf, 1, mode="constant", constant_values=min(0.0, float(mf.min())))
    contours = [c - 1.0 for c in skmeasure.find_contours(padded, level) if len(c) >= 2]
    return contours, touches


def compute_diameters_from_mask(
    mask_2d: ArrayLike,
    *,
    volume: Volume,
    slice_index: int,
    level: float = 0.5,
    with_short_axis: bool = True,
    offset_rc: tuple[int, int] = (0, 0),
) -> MaskDiameters:
    """Longest in-plane diameter and its perpendicular from a mask on one slice of ``volume``.

    Parameters
    ----------
    mask_2d : array_like of bool or float, shape (rows, columns)
        The lesion on slice ``slice_index``: a binary mask (measured edge to edge) or a
        membership map in [0, 1] (measured at its ``level`` iso-contour, sub-pixel). Either the
        whole slice (``volume.shape[1:]``) or a crop of it starting at ``offset_rc``.
    volume : Volume
        Gives the row/column spacing, the in-plane directions and the slice position.
    slice_index : int
        The slice (z index) the mask lies on.
    level : float
        Iso-level of the outline; 0.5 by default (see the module docstring).
    with_short_axis : bool
        Also compute the perpendicular short axis (the long axis alone is cheaper).
    offset_rc : tuple of int
        (row, column) of the crop's first pixel on the slice; (0, 0) for a whole slice.

    Returns
    -------
    MaskDiameters

    Raises
    ------
    MeasurementError
        Wrong shape, empty mask, or a slice index outside the volume.

    Examples
    --------
    >>> import numpy as np
    >>> from readerstation.geometry import Volume
    >>> vol = Volume(np.zeros((1, 5, 8)), spacing=(1, 2.0, 1.0), origin=(0, 0, 0),
    ...              direction=np.eye(3))
    >>> mask = np.zeros((5, 8), bool); mask[2, 2:6] = True     # 4 pixels in a row
    >>> d = compute_diameters_from_mask(mask, volume=vol, slice_index=0)
    >>> round(d.long_axis_mm, 3)                               # edge to edge: 4 x 1.0 mm
    4.0
    """
    m = np.asarray(mask_2d)
    nz, ny, nx = volume.shape
    r0, c0 = (int(v) for v in offset_rc)
    if m.ndim != 2 or r0 < 0 or c0 < 0 or r0 + m.shape[0] > ny or c0 + m.shape[1] > nx:
        raise MeasurementError(
            f"mask_2d has shape {m.shape} at offset (row, column) = ({r0}, {c0}); the volume's "
            f"slices are (rows, columns) = ({ny}, {nx}). Pass the mask of one slice of this "
            "volume, or a crop of it that fits."
        )
    if not (0 <= int(slice_index) < nz):
        raise MeasurementError(f"slice_index {slice_index} is outside the volume's 0..{nz - 1}")
    contours, touches = compute_outline_from_mask(m, level=level)
    if not contours:
        raise MeasurementError(
            f"the mask on slice {slice_index} is empty (no value reaches level {level}); "
            "there is nothing to measure"
        )
    dy, dx = volume.spacing[1], volume.spacing[2]
    scale = np.array([dy, dx])
    # in-plane millimetre coordinates (v along rows, u along columns): orthonormal in LPS
    polys = [c * scale for c in contours]
    pts = np.vstack(polys)
    try:
        hull_idx = ConvexHull(pts).vertices if len(pts) >= 3 else np.arange(len(pts))
    except QhullError:  # collinear points (a one-pixel-wide line)
        hull_idx = np.arange(len(pts))
    hull = pts[hull_idx]
    d2 = np.sum((hull[:, None, :] - hull[None, :, :]) ** 2, axis=-1)
    i, j = np.unravel_index(int(np.argmax(d2)), d2.shape)
    long_mm = float(np.sqrt(d2[i, j]))
    if long_mm <= 0:
        raise MeasurementError(f"the mask on slice {slice_index} has no extent; nothing to measure")
    p0, p1 = hull[i], hull[j]
    # order end points: first the one with the smaller column (then row) index, for stable output
    if (p0[1], p0[0]) > (p1[1], p1[0]):
        p0, p1 = p1, p0
    area = float(np.count_nonzero(m.astype(np.float64, copy=False) >= level)) * dy * dx

    def to_lps(vu: NDArray[np.float64]) -> NDArray[np.float64]:
        rc = np.atleast_2d(vu) / scale + np.array([r0, c0], dtype=np.float64)
        idx = np.column_stack([np.full(len(rc), float(slice_index)), rc[:, 0], rc[:, 1]])
        return np.asarray(volume.index_to_patient(idx), dtype=np.float64)

    long_pts = to_lps(np.array([p0, p1]))
    short_mm = 0.0
    short_pts: NDArray[np.float64] | None = None
    if with_short_axis:
        a = (p1 - p0) / long_mm
        n = np.array([-a[1], a[0]])
        s_all = [p @ a for p in polys]
        t_all = [p @ n for p in polys]
        # polygon edges (closed contours: find_contours repeats the first point at the end)
        s0 = np.concatenate([s[:-1] for s in s_all])
        s1 = np.concatenate([s[1:] for s in s_all])
        t0 = np.concatenate([t[:-1] for t in t_all])
        t1 = np.concatenate([t[1:] for t in t_all])
        cand = np.unique(np.concatenate(s_all))
        if len(cand) > _MAX_SHORT_AXIS_CANDIDATES:
            cand = cand[np.linspace(0, len(cand) - 1, _MAX_SHORT_AXIS_CANDIDATES).astype(int)]
        best = (0.0, 0.0, 0.0, 0.0)
        for chunk in np.array_split(cand, max(1, len(cand) // 256)):
            c = chunk[:, None]
            lo, hi = np.minimum(s0, s1)[None, :], np.maximum(s0, s1)[None, :]
            hit = (c >= lo) & (c <= hi) & (hi > lo)
            denom = np.where(s1 != s0, s1 - s0, 1.0)[None, :]
            tt = t0[None, :] + (c - s0[None, :]) / denom * (t1 - t0)[None, :]
            tmax = np.where(hit, tt, -np.inf).max(axis=1)
            tmin = np.where(hit, tt, np.inf).min(axis=1)
            chord = np.where(np.isfinite(tmax) & np.isfinite(tmin), tmax - tmin, 0.0)
            k = int(np.argmax(chord))
            if chord[k] > best[0]:
                best = (float(chord[k]), float(chunk[k]), float(tmin[k]), float(tmax[k]))
        short_mm, s_c, tmin_c, tmax_c = best
        if short_mm > 0:
            q0 = s_c * a + tmin_c * n
            q1 = s_c * a + tmax_c * n
            short_pts = to_lps(np.array([q0, q1]))
    return MaskDiameters(
        slice_index=int(slice_index),
        long_axis_mm=long_mm,
        long_axis_points_lps=long_pts,
        short_axis_mm=float(short_mm),
        short_axis_points_lps=short_pts,
        area_mm2=float(area),
        touches_edge=touches,
    )
