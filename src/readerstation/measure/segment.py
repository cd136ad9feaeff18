"""Seeded liver-lesion segmentation on CT and the proposed RECIST / mRECIST diameters.

A click inside a lesion (a patient LPS point, mm) becomes a proposal: the longest axial diameter
of the whole lesion with its perpendicular short axis, and the longest diameter of its viable
(arterially enhancing) part, each with end points in LPS mm and the image they lie on.

Method (all thresholds are fields of :class:`SegmentationParams`)
-------------------------------------------------------------------
1. **Liver reference.** On the seed's slice, in a square of ``liver_roi_radius_mm`` around the
   seed, the Gaussian-smoothed HU of soft tissue (``liver_hu_range``) are histogrammed, leaving
   out the region connected to the seed with HU like the seed's (the clicked compartment); the
   mode is the liver parenchyma. It is reported again as the median of a ring just outside the
   final outline.
2. **Whole lesion per slice.** Smoothed HU (``smoothing_mm``) deviating from the liver by at least
   ``min_contrast_hu`` either way (hypodense necrosis down to ``min_tissue_hu``, which excludes
   fat and air; hyperdense viable tumour and lipiodol) are lesion candidates. Holes are filled:
   the partial-volume band where bright viable tumour meets dark necrosis has liver-like HU but
   lies inside the lesion (an optional closing, ``closing_mm``, off by default, would also bridge
   the lesion to structures a pixel away). The component at the seed is opened (``opening_mm``,
   cuts thin vessels and ducts) and then cut at necks narrower than twice ``neck_mm`` (a vessel
   touching the lesion), keeping the part at the seed. Slices above and below are followed
   while the next slice's component lies mostly on the previous one (``min_slice_overlap``),
   within ``slice_search_mm``.
3. **Outline at half maximum.** Each pixel gets a membership in [0, 1]: its HU scaled between
   the liver and the lesion's compartment level (10th percentile of the hypodense part, 90th of
   the viable part, or the lipiodol median when there is no viable part); the lesion outline is
   the 0.5 iso-contour (sub-pixel, see :mod:`readerstation.measure.diameters`), i.e. the
   half-maximum boundary, which is where a caliper on the displayed image puts the edge.
4. **Viable tumour.** Pixels of the lesion enhancing above the liver by at least
   ``enhancement_threshold_hu`` and below ``lipiodol_min_hu``, away from lipiodol by
   ``lipiodol_margin_mm`` (the partial-volume rim of dense lipiodol is not tumour); components
   smaller than ``min_viable_area_mm2`` are dropped and the largest is kept. Its outline is the
   half-maximum between its own level and its surroundings (necrosis or liver), measured in a
   ring outside it.
5. **Slice choice.** RECIST measures where the lesion is longest: from the seed's slice the
   choice climbs to the neighbouring followed slice while its whole-lesion diameter is longer
   (one maximum along z; a far slice where the outline leaked is not reached), slices within
   ``slice_tie_mm`` of that maximum count as equal and the one nearest the seed is proposed;
   the viable diameter likewise on the slice where the viable part is longest. Slices are
   visited every ``slice_step_mm`` and the skipped neighbours of the longest one measured after.

Limits: designed for the arterial phase of liver CT (HCC: hyper-enhancing viable tumour, hypodense
necrosis, hyperdense lipiodol) and tuned on the synthetic sample trial only. A lesion
iso-attenuating to liver is not found; one fused with a vessel or organ of similar HU over a
contact wider than twice ``neck_mm`` is not separated; a viable part touching liver directly on
a slice where the necrosis does not enclose it may split from the necrotic part. The reader
corrects the end points; the proposal's warnings flag outlines that reach the image edge or the
search limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage as ndi

from readerstation.errors import MeasurementError
from readerstation.geometry import Volume
from readerstation.measure.diameters import MaskDiameters, compute_diameters_from_mask
from readerstation.measure.lines import Line

__all__ = [
    "DiameterProposal",
    "LesionSegmentation",
    "SegmentationParams",
    "SliceSegmentation",
    "propose_diameters",
    "segment_lesion",
]


@dataclass(frozen=True)
class SegmentationParams:
    """Parameters of the seeded lesion segmentation and diameter proposal (CT, HU and mm).

    Parameters
    ----------
    smoothing_mm : float
        In-plane Gaussian sigma applied to HU before thresholding, mm. Default 0.4 (more
        smoothing mixes a thin necrotic rim with the lipiodol next to it into liver-like HU).
    min_contrast_hu : float
        Smallest deviation from the liver reference (either sign) that marks lesion tissue, HU.
        Default 30.
    min_tissue_hu : float
        Hypodense tissue below this is fat or air, never lesion, HU. Default -30.
    air_max_hu : float
        A seed below this lies on air (or lung/bowel gas), HU. Default -500.
    liver_hu_range : tuple of float
        (low, high) HU range searched for the liver parenchyma peak. Default (-10, 250).
    liver_roi_radius_mm : float
        Half-size of the square around the seed used to find the liver reference, mm. Default 80.
    max_diameter_mm : float
        Largest lesion the search region can hold, mm; larger (or leaking) outlines are cut at
        the region's edge with a warning. Default 120.
    closing_mm, opening_mm : float
        Radii of the morphological closing (bridges partial-volume gaps inside the lesion) and
        opening (cuts thin bridges to vessels), mm. Defaults 0 (off: holes are filled instead,
        which closes the partial-volume band between bright viable tumour and dark necrosis
        without bridging the lesion to nearby structures) and 2; 0 disables.
    neck_mm : float
        The lesion's component is opened with this radius and the part holding the seed is kept
        (grown back by one pixel): a blob joined by a neck narrower than twice this (a vessel
        touching the lesion) is cut off. Default 3; 0 disables.
    seed_search_mm : float
        If the seed pixel itself is not lesion tissue (a partial-volume pixel), the nearest lesion
        pixel within this distance is used, mm. Default 3.
    slice_search_mm : float
        Slices up to this distance from the seed's slice (along the normal) are followed, mm.
        Default 10.
    min_slice_overlap : float
        Fraction of a slice's component that must overlap the previous slice's for the lesion to
        be followed onto it. Default 0.5.
    slice_step_mm : float
        While following the lesion, slices are visited this far apart (at least every slice);
        the skipped neighbours of the longest slice are then measured too, mm. Default 2.
    slice_tie_mm : float
        Slices whose longest diameter is within this of the maximum count as equally long; the
        one nearest the seed is proposed, mm. Default 0.25.
    enhancement_threshold_hu : float
        Viable tumour enhances above the liver by at least this in the arterial phase, HU.
        Default 25.
    lipiodol_min_hu : float
        Lesion tissue at or above this is lipiodol (dense iodized oil after TACE), not viable
        tumour, HU. Default 200.
    lipiodol_margin_mm : float
        Pixels within this distance of lipiodol are not viable (partial-volume rim), mm. Default 3.
    min_viable_area_mm2 : float
        Enhancing components smaller than this are ignored (noise, vessels), mm^2. Default 10.
    """

    smoothing_mm: float = 0.4
    min_contrast_hu: float = 30.0
    min_tissue_hu: float = -30.0
    air_max_hu: float = -500.0
    liver_hu_range: tuple[float, float] = (-10.0, 250.0)
    liver_roi_radius_mm: float = 80.0
    max_diameter_mm: float = 120.0
    closing_mm: float = 0.0
    opening_mm: float = 2.0
    neck_mm: float = 3.0
    seed_search_mm: float = 3.0
    slice_search_mm: float = 10.0
    min_slice_overlap: float = 0.5
    slice_step_mm: float = 2.0
    slice_tie_mm: float = 0.25
    enhancement_threshold_hu: float = 25.0
    lipiodol_min_hu: float = 200.0
    lipiodol_margin_mm: float = 3.0
    min_viable_area_mm2: float = 10.0

    def __post_init__(self) -> None:
        nonneg = (
            "smoothing_mm", "closing_mm", "opening_mm", "neck_mm", "seed_search_mm",
            "slice_search_mm", "slice_step_mm",
            "slice_tie_mm", "lipiodol_margin_mm", "min_viable_area_mm2",
        )  # fmt: skip
        positive = (
            "min_contrast_hu", "liver_roi_radius_mm", "max_diameter_mm",
            "enhancement_threshold_hu",
        )  # fmt: skip
        for name in nonneg:
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise MeasurementError(f"SegmentationParams.{name} must be >= 0; received {v!r}")
        for name in positive:
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise MeasurementError(f"SegmentationParams.{name} must be > 0; received {v!r}")
        lo, hi = (float(v) for v in self.liver_hu_range)
        if not lo < hi:
            raise MeasurementError(
                f"SegmentationParams.liver_hu_range must be (low, high) with low < high; received "
                f"{self.liver_hu_range!r}"
            )
        object.__setattr__(self, "liver_hu_range", (lo, hi))
        if not 0 < self.min_slice_overlap <= 1:
            raise MeasurementError(
                f"SegmentationParams.min_slice_overlap must be in (0, 1]; received "
                f"{self.min_slice_overlap!r}"
            )
        if self.lipiodol_min_hu <= self.enhancement_threshold_hu:
            raise MeasurementError(
                "SegmentationParams.lipiodol_min_hu must be above enhancement_threshold_hu; "
                f"received {self.lipiodol_min_hu!r} and {self.enhancement_threshold_hu!r}"
            )


@dataclass(frozen=True, eq=False)
class SliceSegmentation:
    """The lesion on one axial slice (arrays are a crop of the slice starting at ``offset_rc``).

    Parameters
    ----------
    slice_index : int
    offset_rc : tuple of int
        (row, column) of the crop's first pixel on the slice.
    mask : ndarray of bool, shape (rows, columns) of the crop
        Whole lesion (viable + necrosis + lipiodol).
    membership : ndarray of float, same shape
        Half-maximum membership map of the whole lesion; its 0.5 iso-contour is the outline.
    viable_mask : ndarray of bool, same shape
        Viable (arterially enhancing, non-lipiodol) tumour; may be empty.
    viable_membership : ndarray of float, same shape
        Membership map of the viable part (zeros when there is none).
    lipiodol_mask : ndarray of bool, same shape
        Lipiodol inside the lesion.
    levels_hu : dict of str to float
        Smoothed HU levels of the compartments found: "hypodense" (10th percentile), "viable"
        (90th percentile), "lipiodol" (median), "viable_surround" (median of a ring).
    long_axis, viable_long_axis : MaskDiameters or None
        Longest diameter of the whole lesion and of the viable part on this slice (no short axis).
    """

    slice_index: int
    offset_rc: tuple[int, int]
    mask: NDArray[np.bool_]
    membership: NDArray[np.float32]
    viable_mask: NDArray[np.bool_]
    viable_membership: NDArray[np.float32]
    lipiodol_mask: NDArray[np.bool_]
    levels_hu: dict[str, float] = field(default_factory=dict)
    long_axis: MaskDiameters | None = None
    viable_long_axis: MaskDiameters | None = None

    def full_mask(self, shape_yx: tuple[int, int], which: str = "lesion") -> NDArray[np.bool_]:
        """The mask on the whole slice (``which`` = "lesion", "viable" or "lipiodol")."""
        src = {"lesion": self.mask, "viable": self.viable_mask, "lipiodol": self.lipiodol_mask}
        if which not in src:
            raise MeasurementError(f"which must be lesion, viable or lipiodol; received {which!r}")
        out = np.zeros(shape_yx, dtype=bool)
        r0, c0 = self.offset_rc
        m = src[which]
        out[r0 : r0 + m.shape[0], c0 : c0 + m.shape[1]] = m
        return out

    def __repr__(self) -> str:
        return (
            f"SliceSegmentation(slice_index={self.slice_index}, lesion_px={int(self.mask.sum())}, "
            f"viable_px={int(self.viable_mask.sum())}, lipiodol_px={int(self.lipiodol_mask.sum())})"
        )


@dataclass(frozen=True, eq=False)
class LesionSegmentation:
    """A seeded lesion segmentation: the lesion on the slices around the seed.

    Parameters
    ----------
    seed_lps : tuple of float
        The click, LPS mm.
    seed_slice_index : int
        Slice nearest the seed.
    liver_hu : float
        Liver parenchyma reference (median smoothed HU in a ring outside the seed-slice outline).
    slices : tuple of SliceSegmentation
        The lesion on every followed slice, ordered by slice index.
    params : SegmentationParams
    warnings : tuple of str
    """

    seed_lps: tuple[float, float, float]
    seed_slice_index: int
    liver_hu: float
    slices: tuple[SliceSegmentation, ...]
    params: SegmentationParams
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.slices:
            raise MeasurementError("LesionSegmentation needs at least the seed's slice")

    def at(self, slice_index: int) -> SliceSegmentation:
        """The lesion on one slice."""
        for s in self.slices:
            if s.slice_index == slice_index:
                return s
        raise MeasurementError(
            f"slice {slice_index} is not part of this segmentation (slices "
            f"{[s.slice_index for s in self.slices]})"
        )

    @property
    def slice_indices(self) -> tuple[int, ...]:
        """The followed slices."""
        return tuple(s.slice_index for s in self.slices)

    def __repr__(self) -> str:
        return (
            f"LesionSegmentation(seed_lps={tuple(round(v, 2) for v in self.seed_lps)}, "
            f"seed_slice_index={self.seed_slice_index}, slices={list(self.slice_indices)}, "
            f"liver_hu={self.liver_hu:.1f}, warnings={len(self.warnings)})"
        )


def _pts(a: NDArray[np.float64] | None) -> list[list[float]] | None:
    return None if a is None else [[float(v) for v in p] for p in a]


@dataclass(frozen=True, eq=False)
class DiameterProposal:
    """Proposed RECIST / mRECIST diameters for a seeded lesion (the reader may move the ends).

    Parameters
    ----------
    long_axis_mm : float
        Longest axial diameter of the whole lesion (viable + necrosis + lipiodol), mm.
    long_axis_points_lps : ndarray, shape (2, 3)
        Its end points, LPS mm.
    short_axis_mm : float
        Longest diameter perpendicular to it on the same slice, mm.
    short_axis_points_lps : ndarray, shape (2, 3) or None
    viable_long_axis_mm : float
        Longest diameter of the viable (arterially enhancing, non-lipiodol) tumour, mm; 0 when no
        enhancing tissue was found.
    viable_points_lps : ndarray, shape (2, 3) or None
    slice_index : int
        Slice of the long and short axis.
    sop_instance_uid : str or None
        SOPInstanceUID of that slice.
    viable_slice_index : int or None
        Slice of the viable diameter (where the viable part is longest).
    viable_sop_instance_uid : str or None
    series_uid : str or None
    liver_hu : float
        The liver reference used, HU.
    warnings : tuple of str
    segmentation : LesionSegmentation
    """

    long_axis_mm: float
    long_axis_points_lps: NDArray[np.float64]
    short_axis_mm: float
    short_axis_points_lps: NDArray[np.float64] | None
    viable_long_axis_mm: float
    viable_points_lps: NDArray[np.float64] | None
    slice_index: int
    sop_instance_uid: str | None
    viable_slice_index: int | None
    viable_sop_instance_uid: str | None
    series_uid: str | None
    liver_hu: float
    warnings: tuple[str, ...]
    segmentation: LesionSegmentation

    @property
    def long_axis_line(self) -> Line | None:
        """The long axis as a :class:`Line` (None when the slice has no SOPInstanceUID)."""
        return self._line(self.long_axis_points_lps, self.sop_instance_uid)

    @property
    def short_axis_line(self) -> Line | None:
        """The short axis as a :class:`Line` (None when absent or without SOPInstanceUID)."""
        return self._line(self.short_axis_points_lps, self.sop_instance_uid)

    @property
    def viable_line(self) -> Line | None:
        """The viable diameter as a :class:`Line` (None when there is no viable tumour)."""
        return self._line(self.viable_points_lps, self.viable_sop_instance_uid)

    def _line(self, pts: NDArray[np.float64] | None, uid: str | None) -> Line | None:
        if pts is None or not uid:
            return None
        p0 = (float(pts[0][0]), float(pts[0][1]), float(pts[0][2]))
        p1 = (float(pts[1][0]), float(pts[1][1]), float(pts[1][2]))
        return Line(p0, p1, sop_instance_uid=uid, series_uid=self.series_uid)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the ``readerstation measure --json`` contract)."""
        return {
            "long_axis_mm": round(self.long_axis_mm, 3),
            "short_axis_mm": round(self.short_axis_mm, 3),
            "viable_long_axis_mm": round(self.viable_long_axis_mm, 3),
            "long_axis_points_lps_mm": _pts(self.long_axis_points_lps),
            "short_axis_points_lps_mm": _pts(self.short_axis_points_lps),
            "viable_points_lps_mm": _pts(self.viable_points_lps),
            "slice_index": self.slice_index,
            "sop_instance_uid": self.sop_instance_uid,
            "viable_slice_index": self.viable_slice_index,
            "viable_sop_instance_uid": self.viable_sop_instance_uid,
            "series_uid": self.series_uid,
            "seed_lps_mm": list(self.segmentation.seed_lps),
            "liver_reference_hu": round(self.liver_hu, 1),
            "warnings": list(self.warnings),
        }

    def __repr__(self) -> str:
        return (
            f"DiameterProposal(long_axis_mm={self.long_axis_mm:.2f}, short_axis_mm="
            f"{self.short_axis_mm:.2f}, viable_long_axis_mm={self.viable_long_axis_mm:.2f}, "
            f"slice_index={self.slice_index}, viable_slice_index={self.viable_slice_index}, "
            f"liver_hu={self.liver_hu:.1f}, warnings={list(self.warnings)})"
        )


# ---------------------------------------------------------------------------------- helpers
def _px(mm: float, spacing_yx: tuple[float, float]) -> tuple[float, float]:
    return (mm / spacing_yx[0], mm / spacing_yx[1])


def _seed_in_plane(volume: Volume, seed: NDArray[np.float64], k: int) -> tuple[float, float]:
    """Fractional (row, column) of the seed projected onto slice ``k`` along the normal."""
    rel = seed - volume.slice_positions[k]
    col = float(rel @ volume.direction[:, 0]) / volume.spacing[2]
    row = float(rel @ volume.direction[:, 1]) / volume.spacing[1]
    return row, col


def _mode_hu(values: NDArray[np.float32], lo: float, hi: float) -> float | None:
    v = values[(values >= lo) & (values <= hi)]
    if v.size < 50:
        return None
    hist, edges = np.histogram(v, bins=math.ceil((hi - lo) / 2.0), range=(lo, hi))
    smooth = ndi.gaussian_filter1d(hist.astype(np.float64), 1.5)
    i = int(np.argmax(smooth))
    centre = 0.5 * (edges[i] + edges[i + 1])
    near = v[np.abs(v - centre) <= 6.0]
    return float(np.median(near)) if near.size else float(centre)


def _nearest_true(
    mask: NDArray[np.bool_], rc: tuple[int, int], radius_px: tuple[float, float]
) -> tuple[int, int] | None:
    r, c = rc
    if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1] and mask[r, c]:
        return rc
    ry, rx = (max(1, math.ceil(v)) for v in radius_px)
    r0, r1 = max(0, r - ry), min(mask.shape[0], r + ry + 1)
    c0, c1 = max(0, c - rx), min(mask.shape[1], c + rx + 1)
    rows, cols = np.nonzero(mask[r0:r1, c0:c1])
    if rows.size == 0:
        return None
    d = ((rows + r0 - r) / max(radius_px[0], 1e-9)) ** 2 + (
        (cols + c0 - c) / max(radius_px[1], 1e-9)
    ) ** 2
    i = int(np.argmin(d))
    if d[i] > 1.0 + 1e-9:
        return None
    return int(rows[i] + r0), int(cols[i] + c0)


def _dilate(
    mask: NDArray[np.bool_], r_mm: float, spacing: tuple[float, float]
) -> NDArray[np.bool_]:
    """Dilation by a Euclidean disk of radius ``r_mm`` (distance transform; exact disks in mm)."""
    if r_mm <= 0 or not mask.any():
        return mask.copy()
    return np.asarray(ndi.distance_transform_edt(~mask, sampling=spacing) <= r_mm)


def _erode(mask: NDArray[np.bool_], r_mm: float, spacing: tuple[float, float]) -> NDArray[np.bool_]:
    """Erosion by a Euclidean disk of radius ``r_mm`` (outside the array counts as inside)."""
    if r_mm <= 0 or not mask.any():
        return mask.copy()
    return np.asarray(ndi.distance_transform_edt(mask, sampling=spacing) > r_mm)


def _open(mask: NDArray[np.bool_], r_mm: float, spacing: tuple[float, float]) -> NDArray[np.bool_]:
    return _dilate(_erode(mask, r_mm, spacing), r_mm, spacing)


def _fill_holes(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Fill the background regions not connected to the array border (4-connected)."""
    bg, n = ndi.label(~mask)
    if n == 0:
        return mask.copy()
    border = np.unique(np.concatenate([bg[0], bg[-1], bg[:, 0], bg[:, -1]]))
    hole = np.ones(n + 1, dtype=bool)
    hole[border] = False
    hole[0] = False
    return np.asarray(mask | hole[bg])


@dataclass(frozen=True)
class _SliceContext:
    spacing_yx: tuple[float, float]
    liver_hu: float
    params: SegmentationParams
    one: NDArray[np.bool_]
    margin_px: int


def _candidates(sm: NDArray[np.float32], ctx: _SliceContext) -> NDArray[np.bool_]:
    p = ctx.params
    liver = ctx.liver_hu
    hypo = (sm <= liver - p.min_contrast_hu) & (sm >= p.min_tissue_hu)
    hyper = sm >= liver + p.min_contrast_hu
    return np.asarray(hypo | hyper)


def _filled(cand: NDArray[np.bool_], ctx: _SliceContext) -> NDArray[np.bool_]:
    p = ctx.params
    closed = cand
    if p.closing_mm > 0:
        closed = cand | _erode(
            _dilate(cand, p.closing_mm, ctx.spacing_yx), p.closing_mm, ctx.spacing_yx
        )
    return _fill_holes(closed)


def _choose(
    labels: NDArray[np.int32],
    hit: tuple[int, int] | None,
    prev: NDArray[np.bool_] | None,
    radius_px: tuple[float, float],
) -> tuple[int, tuple[int, int] | None]:
    """Label of the component at the seed (``hit``, searched within ``radius_px``), or of the one
    overlapping ``prev`` most; 0 when there is none."""
    if prev is None:
        if hit is None:
            return 0, None
        at = _nearest_true(labels > 0, hit, radius_px)
        return (0, None) if at is None else (int(labels[at]), at)
    counts = np.bincount(labels[prev], minlength=int(labels.max()) + 1)
    counts[0] = 0
    return int(np.argmax(counts)), None


def _cut_necks(
    comp: NDArray[np.bool_],
    ctx: _SliceContext,
    hit: tuple[int, int] | None,
    prev: NDArray[np.bool_] | None,
) -> NDArray[np.bool_]:
    """Drop blobs joined to the lesion by a neck narrower than 2 x ``neck_mm`` (a vessel)."""
    p = ctx.params
    if p.neck_mm <= 0:
        return comp
    big = _open(comp, p.neck_mm, ctx.spacing_yx)
    if not big.any():
        return comp
    lab, n = ndi.label(big)
    if n == 1:
        keep = lab == 1
    elif prev is not None:
        counts = np.bincount(lab[prev], minlength=n + 1)
        counts[0] = 0
        keep = lab == int(np.argmax(counts)) if counts.max() > 0 else lab > 0
    else:
        if hit is None:
            return comp
        reach = _px(3.0 * p.neck_mm, ctx.spacing_yx)
        near = _nearest_true(big, hit, reach)
        if near is None:
            return comp
        keep = lab == lab[near]
    return np.asarray(comp & ndi.binary_dilation(keep, structure=ctx.one))


def _segment_slice(
    sm: NDArray[np.float32],
    comp: NDArray[np.bool_],
    filled: NDArray[np.bool_],
    k: int,
    offset: tuple[int, int],
    ctx: _SliceContext,
) -> SliceSegmentation:
    p = ctx.params
    liver = ctx.liver_hu
    sp = ctx.spacing_yx
    inner = ndi.binary_erosion(comp, structure=ctx.one)
    core = inner if inner.any() else comp
    levels: dict[str, float] = {}
    # compartment levels from the lesion's own pixels (a thin necrotic shell may have no pixel
    # away from the edge, so the whole component; the percentiles resist partial volume)
    hypo = comp & (sm <= liver - p.min_contrast_hu)
    lip_all = comp & (sm >= p.lipiodol_min_hu)
    hyper = comp & (sm >= liver + p.min_contrast_hu) & ~lip_all
    member = np.zeros(sm.shape, dtype=np.float32)
    if hypo.any():
        levels["hypodense"] = float(np.percentile(sm[hypo], 10))
        span = max(liver - levels["hypodense"], 1.0)
        member = np.maximum(member, np.clip((liver - sm) / span, 0.0, 1.0))
    if hyper.any():
        levels["viable"] = float(np.percentile(sm[hyper], 90))
    if (core & lip_all).any():
        levels["lipiodol"] = float(np.median(sm[core & lip_all]))
    hi_level = levels.get("viable", levels.get("lipiodol"))
    if hi_level is not None:
        span = max(hi_level - liver, 1.0)
        member = np.maximum(member, np.clip((sm - liver) / span, 0.0, 1.0))
    # inside: 1; the lesion's own pixels and plain surroundings keep their membership (sub-pixel
    # edge); other structures next to it (other components, opened-away bridges) count as outside
    near = ndi.binary_dilation(comp, structure=ctx.one, iterations=2)
    others = filled & ~comp
    membership = np.where(
        inner, np.float32(1.0), np.where(comp | (near & ~others), member, np.float32(0.0))
    ).astype(np.float32)

    # viable tumour: enhancing, not lipiodol, away from the partial-volume rim of lipiodol
    lip_zone = _dilate(lip_all, p.lipiodol_margin_mm, sp)
    enh = comp & (sm >= liver + p.enhancement_threshold_hu) & (sm < p.lipiodol_min_hu) & ~lip_zone
    viable = np.zeros_like(comp)
    v_member = np.zeros(sm.shape, dtype=np.float32)
    if enh.any():
        vl, _n = ndi.label(enh)
        areas = np.bincount(vl.ravel())[1:] * sp[0] * sp[1]
        best = int(np.argmax(areas))
        if areas[best] >= p.min_viable_area_mm2:
            viable = vl == best + 1
            v_inner = ndi.binary_erosion(viable, structure=ctx.one)
            v_level = float(np.percentile(sm[v_inner if v_inner.any() else viable], 90))
            grown = ndi.binary_dilation(viable, structure=ctx.one)
            ring = _dilate(grown, 2.0, sp) & ~grown & ~lip_zone & (sm > p.min_tissue_hu)
            surround = float(np.median(sm[ring])) if ring.any() else liver
            surround = min(surround, liver)
            levels["viable_surround"] = surround
            span = max(v_level - surround, 1.0)
            vm = np.clip((sm - surround) / span, 0.0, 1.0)
            v_near = ndi.binary_dilation(viable, structure=ctx.one, iterations=2)
            keep = viable | (v_near & ~enh & ~lip_zone)
            v_member = np.where(
                v_inner, np.float32(1.0), np.where(keep, vm, np.float32(0.0))
            ).astype(np.float32)
    return SliceSegmentation(
        slice_index=k,
        offset_rc=offset,
        mask=comp,
        membership=membership,
        viable_mask=viable,
        viable_membership=v_member,
        lipiodol_mask=lip_all,
        levels_hu=levels,
    )


def _bbox(mask: NDArray[np.bool_], margin: int) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1 = max(0, int(rows[0]) - margin), min(mask.shape[0], int(rows[-1]) + margin + 1)
    c0, c1 = max(0, int(cols[0]) - margin), min(mask.shape[1], int(cols[-1]) + margin + 1)
    return slice(r0, r1), slice(c0, c1)


# ---------------------------------------------------------------------------------- public
def segment_lesion(
    volume: Volume, seed_lps: ArrayLike, *, params: SegmentationParams | None = None
) -> LesionSegmentation:
    """Segment the lesion under a seed click, on the seed's axial slice and its neighbours.

    Parameters
    ----------
    volume : Volume
        CT series in HU, ideally the arterial phase (see the module docstring).
    seed_lps : array_like, shape (3,), LPS mm
        A point inside the lesion.
    params : SegmentationParams, optional
        Defaults to ``SegmentationParams()``.

    Returns
    -------
    LesionSegmentation

    Raises
    ------
    MeasurementError
        Seed outside the image, on air, or on tissue that does not differ from the liver (not
        inside a lesion), or no liver reference found around it.
    """
    p = params or SegmentationParams()
    seed = np.asarray(seed_lps, dtype=np.float64).reshape(-1)
    if seed.shape != (3,) or not np.all(np.isfinite(seed)):
        raise MeasurementError(
            f"seed must be one finite LPS point (x, y, z) in mm; received {np.asarray(seed_lps)!r}"
        )
    nz, ny, nx = volume.shape
    idx = volume.patient_to_index(seed)
    if not volume.contains_index(idx):
        raise MeasurementError(
            f"seed {np.round(seed, 2).tolist()} (LPS mm) lies outside the image (voxel z, y, x = "
            f"{np.round(idx, 1).tolist()}, image shape {list(volume.shape)}); click inside the "
            "lesion on a displayed slice"
        )
    k_seed = int(np.clip(np.rint(idx[0]), 0, nz - 1))
    spacing_yx = (volume.spacing[1], volume.spacing[2])
    warnings: list[str] = []

    # region of interest (a square crop of every slice around the seed)
    row_f, col_f = _seed_in_plane(volume, seed, k_seed)
    half = p.max_diameter_mm / 2.0 + 2.0 * max(p.smoothing_mm, 1.0) + 3.0 * max(spacing_yx)
    hr, hc = (math.ceil(h) for h in _px(half, spacing_yx))
    r_seed = min(max(round(row_f), 0), ny - 1)
    c_seed = min(max(round(col_f), 0), nx - 1)
    r0, r1 = max(0, r_seed - hr), min(ny, r_seed + hr + 1)
    c0, c1 = max(0, c_seed - hc), min(nx, c_seed + hc + 1)
    sigma = _px(p.smoothing_mm, spacing_yx)

    def smooth(k: int, rr0: int, rr1: int, cc0: int, cc1: int) -> NDArray[np.float32]:
        a = np.asarray(volume.array[k, rr0:rr1, cc0:cc1], dtype=np.float32)
        if p.smoothing_mm > 0:
            a = ndi.gaussian_filter(a, sigma=sigma, mode="nearest")
        return np.asarray(a, dtype=np.float32)

    sm0 = smooth(k_seed, r0, r1, c0, c1)
    rs, cs = r_seed - r0, c_seed - c0
    seed_hu = float(np.median(sm0[max(0, rs - 1) : rs + 2, max(0, cs - 1) : cs + 2]))
    if seed_hu <= p.air_max_hu:
        raise MeasurementError(
            f"seed {np.round(seed, 2).tolist()} (LPS mm) lies on air ({seed_hu:.0f} HU, below "
            f"{p.air_max_hu:g} HU); click inside the lesion"
        )

    # liver reference: mode of soft tissue around the seed, leaving out the clicked compartment
    lr_r, lr_c = (math.ceil(h) for h in _px(p.liver_roi_radius_mm, spacing_yx))
    lr0, lr1 = max(0, r_seed - lr_r), min(ny, r_seed + lr_r + 1)
    lc0, lc1 = max(0, c_seed - lr_c), min(nx, c_seed + lr_c + 1)
    big = smooth(k_seed, lr0, lr1, lc0, lc1)
    like_seed = np.abs(big - seed_hu) < p.min_contrast_hu
    lab, _n = ndi.label(like_seed)
    seed_label = int(lab[r_seed - lr0, c_seed - lc0])
    exclude = np.zeros(big.shape, dtype=bool)
    if seed_label:
        region = lab == seed_label
        on_border = region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any()
        if not on_border:  # an enclosed compartment (the lesion), not the parenchyma itself
            exclude = ndi.binary_dilation(region, iterations=2)
    liver = _mode_hu(big[~exclude][::2], *p.liver_hu_range)
    if liver is None:
        raise MeasurementError(
            f"no liver parenchyma ({p.liver_hu_range[0]:g}..{p.liver_hu_range[1]:g} HU) found "
            f"within {p.liver_roi_radius_mm:g} mm of the seed; this tool proposes diameters of "
            "liver lesions on CT: measure this one by hand"
        )

    ctx = _SliceContext(
        spacing_yx=spacing_yx,
        liver_hu=liver,
        params=p,
        one=ndi.generate_binary_structure(2, 1),
        margin_px=math.ceil(max(p.lipiodol_margin_mm, 2.0, p.neck_mm) / min(spacing_yx)) + 4,
    )
    seed_radius = _px(p.seed_search_mm, spacing_yx)
    roi_shape = (r1 - r0, c1 - c0)

    def run(
        k: int, prev: NDArray[np.bool_] | None
    ) -> tuple[SliceSegmentation, NDArray[np.bool_]] | None:
        """The lesion on slice k (seeded, or followed from ``prev``, a ROI-sized mask)."""
        sm = sm0 if k == k_seed else smooth(k, r0, r1, c0, c1)
        filled = _filled(_candidates(sm, ctx), ctx)
        labels0, _n = ndi.label(filled)
        hit = None
        if prev is None:
            rr, cc = _seed_in_plane(volume, seed, k)
            hit = (round(rr) - r0, round(cc) - c0)
        label0, hit = _choose(labels0, hit, prev, seed_radius)
        if label0 == 0:
            return None
        # open and cut necks on the component's bounding box only (plus a margin)
        rs_, cs_ = _bbox(labels0 == label0, ctx.margin_px)
        blob = labels0[rs_, cs_] == label0
        opened = _open(blob, p.opening_mm, spacing_yx)
        labels1, _n = ndi.label(opened)
        local_hit = None if hit is None else (hit[0] - rs_.start, hit[1] - cs_.start)
        local_prev = None if prev is None else prev[rs_, cs_]
        label1, local_hit = _choose(labels1, local_hit, local_prev, seed_radius)
        if label1 == 0:
            return None
        comp = labels1 == label1
        if local_prev is not None:
            overlap = int(np.count_nonzero(comp & local_prev))
            if overlap < p.min_slice_overlap * int(np.count_nonzero(comp)):
                return None
        comp = _cut_necks(comp, ctx, local_hit, local_prev)
        seg = _segment_slice(
            sm[rs_, cs_], comp, filled[rs_, cs_], k, (r0 + rs_.start, c0 + cs_.start), ctx
        )
        full = np.zeros(roi_shape, dtype=bool)
        full[rs_, cs_] = comp
        return seg, full

    first_run = run(k_seed, None)
    if first_run is None:
        what = "fat" if seed_hu < p.min_tissue_hu else "liver parenchyma"
        raise MeasurementError(
            f"seed {np.round(seed, 2).tolist()} (LPS mm) is not inside a lesion: {seed_hu:.0f} HU "
            f"looks like {what} (liver reference {liver:.0f} HU; lesion tissue differs from it by "
            f"at least {p.min_contrast_hu:g} HU and none lies within {p.seed_search_mm:g} mm of "
            "the seed); click inside the lesion"
        )
    first, first_roi = first_run
    found: dict[int, SliceSegmentation] = {k_seed: first}
    roi_masks: dict[int, NDArray[np.bool_]] = {k_seed: first_roi}
    offsets = volume.slice_offsets_mm
    stride = max(1, math.floor(p.slice_step_mm / volume.spacing[0] + 1e-6))
    for direction in (-1, 1):
        prev = first_roi
        k = k_seed + direction * stride
        while 0 <= k < nz and abs(offsets[k] - offsets[k_seed]) <= p.slice_search_mm + 1e-6:
            got = run(k, prev)
            if got is None:
                break
            found[k], roi_masks[k] = got
            prev = got[1]
            k += direction * stride

    def measure(s: SliceSegmentation) -> SliceSegmentation:
        long_d = _long_axis(volume, s, viable=False)
        viable_d = _long_axis(volume, s, viable=True)
        return SliceSegmentation(
            **{**s.__dict__, "long_axis": long_d, "viable_long_axis": viable_d}
        )

    measured = {k: measure(s) for k, s in found.items()}
    if stride > 1:  # evaluate the skipped neighbours of the longest slices too
        for key in ("long_axis", "viable_long_axis"):
            best_k = _pick_slice(measured, key, offsets, k_seed, p.slice_tie_mm)
            if best_k is None:
                continue
            for k in range(best_k - stride + 1, best_k + stride):
                if k in measured or not 0 <= k < nz:
                    continue
                if abs(offsets[k] - offsets[k_seed]) > p.slice_search_mm + 1e-6:
                    continue
                near_k = min(roi_masks, key=lambda j: abs(j - k))
                got = run(k, roi_masks[near_k])
                if got is not None:
                    measured[k] = measure(got[0])
                    roi_masks[k] = got[1]
    slices = [measured[k] for k in sorted(measured)]

    # liver reference reported from a ring outside the seed-slice outline
    grown = ndi.binary_dilation(first_roi, structure=ctx.one, iterations=2)
    ring = _dilate(grown, 5.0, spacing_yx) & ~grown
    ring_vals = sm0[ring & (np.abs(sm0 - liver) < p.min_contrast_hu)]
    liver_ring = float(np.median(ring_vals)) if ring_vals.size >= 20 else liver

    def edges(m: NDArray[np.bool_]) -> tuple[bool, bool, bool, bool]:
        return (bool(m[0].any()), bool(m[-1].any()), bool(m[:, 0].any()), bool(m[:, -1].any()))

    at_box = [False, False, False, False]
    for m in roi_masks.values():
        at_box = [x or y for x, y in zip(at_box, edges(m), strict=True)]
    image_side = (r0 == 0, r1 == ny, c0 == 0, c1 == nx)
    if any(b and i for b, i in zip(at_box, image_side, strict=True)):
        warnings.append("lesion touches the image edge: its diameter may be cut; check the ends")
    if any(b and not i for b, i in zip(at_box, image_side, strict=True)):
        warnings.append(
            f"the outline reaches the search limit ({p.max_diameter_mm:g} mm across): the lesion "
            "is larger or the outline leaked into a neighbouring structure; check the end points"
        )
    return LesionSegmentation(
        seed_lps=(float(seed[0]), float(seed[1]), float(seed[2])),
        seed_slice_index=k_seed,
        liver_hu=liver_ring,
        slices=tuple(slices),
        params=p,
        warnings=tuple(warnings),
    )


def _long_axis(volume: Volume, s: SliceSegmentation, *, viable: bool) -> MaskDiameters | None:
    m = s.viable_membership if viable else s.membership
    if viable and not s.viable_mask.any():
        return None
    try:
        return compute_diameters_from_mask(
            m, volume=volume, slice_index=s.slice_index, offset_rc=s.offset_rc,
            with_short_axis=False,
        )  # fmt: skip
    except MeasurementError:
        return None


def _pick_slice(
    slices: dict[int, SliceSegmentation],
    key: str,
    offsets: NDArray[np.float64],
    k_seed: int,
    tie_mm: float,
) -> int | None:
    """The slice where the ``key`` diameter is longest, found by climbing from the seed's slice.

    From the seed's slice, move to the longest of the two measured slices on either side while
    it is longer: the
    lesion's diameter rises to one maximum along the slice normal, and a far slice where the
    outline leaked into a vessel (after the diameter has started to fall) is never reached.
    Among the slices climbed through, those within ``tie_mm`` of the maximum count as equally
    long and the one nearest the seed is returned.
    """
    values = {k: getattr(s, key) for k, s in slices.items() if getattr(s, key) is not None}
    if not values:
        return None
    order = sorted(values)
    length = {k: float(values[k].long_axis_mm) for k in order}
    current = min(order, key=lambda k: (abs(offsets[k] - offsets[k_seed]), k))
    path = [current]
    while True:
        i = order.index(current)
        # look two measured slices ahead on each side, so a noise dip of a tenth of a millimetre
        # on one slice does not stop the climb
        neighbours = [order[j] for j in (i - 2, i - 1, i + 1, i + 2) if 0 <= j < len(order)]
        best = max(neighbours, key=lambda k: length[k], default=current)
        if length[best] <= length[current]:
            break
        current = best
        path.append(current)
    top = length[current]
    near = [k for k in path if length[k] >= top - tie_mm]
    return min(near, key=lambda k: (abs(offsets[k] - offsets[k_seed]), k))


def propose_diameters(
    volume: Volume, seed_lps: ArrayLike, *, params: SegmentationParams | None = None
) -> DiameterProposal:
    """Propose the long axis, short axis and viable diameter of the lesion under a seed click.

    Parameters
    ----------
    volume : Volume
        CT series in HU (arterial phase for the viable diameter).
    seed_lps : array_like, shape (3,), LPS mm
        A point inside the lesion (need not be on the slice where it is longest).
    params : SegmentationParams, optional
        Defaults to ``SegmentationParams()``.

    Returns
    -------
    DiameterProposal
        Long and short axis on the followed slice where the lesion is longest; viable diameter
        on the slice where the viable part is longest (0 with a warning when none enhances).

    Raises
    ------
    MeasurementError
        See :func:`segment_lesion`.
    """
    seg = segment_lesion(volume, seed_lps, params=params)
    p = seg.params
    warnings = list(seg.warnings)
    by_k = {s.slice_index: s for s in seg.slices}
    offsets = volume.slice_offsets_mm
    best_k = _pick_slice(by_k, "long_axis", offsets, seg.seed_slice_index, p.slice_tie_mm)
    if best_k is None:
        raise MeasurementError(
            "the lesion outline is empty on every slice near the seed; click inside the lesion"
        )
    best = by_k[best_k]
    d = compute_diameters_from_mask(
        best.membership, volume=volume, slice_index=best.slice_index, offset_rc=best.offset_rc
    )
    uids = volume.sop_instance_uids
    viable_mm = 0.0
    viable_pts: NDArray[np.float64] | None = None
    viable_k = _pick_slice(by_k, "viable_long_axis", offsets, seg.seed_slice_index, p.slice_tie_mm)
    if viable_k is not None:
        vd = by_k[viable_k].viable_long_axis
        if vd is not None:
            viable_mm, viable_pts = vd.long_axis_mm, vd.long_axis_points_lps
        if viable_mm > d.long_axis_mm + max(volume.spacing[1:]):
            warnings.append(
                "the viable diameter exceeds the whole-lesion long axis (measured on another "
                "slice); check both"
            )
    else:
        warnings.append(
            "no enhancing tissue found: viable diameter 0 / not measurable (no tissue enhancing "
            f">= {p.enhancement_threshold_hu:g} HU above the liver outside lipiodol)"
        )
    return DiameterProposal(
        long_axis_mm=d.long_axis_mm,
        long_axis_points_lps=d.long_axis_points_lps,
        short_axis_mm=d.short_axis_mm,
        short_axis_points_lps=d.short_axis_points_lps,
        viable_long_axis_mm=viable_mm,
        viable_points_lps=viable_pts,
        slice_index=best.slice_index,
        sop_instance_uid=uids[best.slice_index] if uids else None,
        viable_slice_index=viable_k,
        viable_sop_instance_uid=uids[viable_k] if (uids and viable_k is not None) else None,
        series_uid=volume.series_uid,
        liver_hu=seg.liver_hu,
        warnings=tuple(warnings),
        segmentation=seg,
    )
