"""Measurements in patient space: line lengths, bidirectional diameters, seeded proposals.

* :mod:`~readerstation.measure.lines`: :class:`Line` (two LPS points + SOPInstanceUID),
  :func:`compute_line_length_mm`, :func:`check_line_on_volume`, :func:`compute_bidirectional`.
* :mod:`~readerstation.measure.diameters`: :func:`compute_diameters_from_mask` (longest in-plane
  diameter and its perpendicular, edge to edge, end points in LPS mm).
* :mod:`~readerstation.measure.segment`: :func:`segment_lesion` and :func:`propose_diameters`
  (a click inside a liver lesion -> long axis, short axis and viable-enhancing diameter).

Every length is computed from patient LPS coordinates (mm), never from pixel counts.
"""

from readerstation.measure.diameters import (
    MaskDiameters,
    compute_diameters_from_mask,
    compute_outline_from_mask,
)
from readerstation.measure.lines import (
    BidirectionalMeasurement,
    Line,
    LinePlacement,
    LinePlacementCriteria,
    check_line_on_volume,
    compute_bidirectional,
    compute_line_length_mm,
)
from readerstation.measure.segment import (
    DiameterProposal,
    LesionSegmentation,
    SegmentationParams,
    SliceSegmentation,
    propose_diameters,
    segment_lesion,
)

__all__ = [
    "BidirectionalMeasurement",
    "DiameterProposal",
    "LesionSegmentation",
    "Line",
    "LinePlacement",
    "LinePlacementCriteria",
    "MaskDiameters",
    "SegmentationParams",
    "SliceSegmentation",
    "check_line_on_volume",
    "compute_bidirectional",
    "compute_diameters_from_mask",
    "compute_line_length_mm",
    "compute_outline_from_mask",
    "propose_diameters",
    "segment_lesion",
]
