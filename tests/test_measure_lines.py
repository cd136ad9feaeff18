"""Measurement lines: length in mm from LPS points, placement on a series, bidirectional pairs.

Expected values are hand arithmetic (Pythagorean triples, spacing x index steps).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from readerstation.errors import MeasurementError
from readerstation.geometry import Volume
from readerstation.measure import (
    Line,
    LinePlacementCriteria,
    check_line_on_volume,
    compute_bidirectional,
    compute_line_length_mm,
)


def _volume() -> Volume:
    # 4 slices 2.5 mm apart, rows 0.9 mm, columns 0.6 mm, origin (-10, 20, 30) LPS, axial
    return Volume(
        np.zeros((4, 20, 30), np.int16),
        spacing=(2.5, 0.9, 0.6),
        origin=(-10.0, 20.0, 30.0),
        direction=np.eye(3),
        sop_instance_uids=("1.1", "1.2", "1.3", "1.4"),
        series_uid="9.9",
    )


def test_length_is_euclidean_in_mm() -> None:
    assert compute_line_length_mm([0, 0, 0], [3, 4, 0]) == pytest.approx(5.0)
    assert compute_line_length_mm([1, 2, 3], [1 + 2, 2 + 3, 3 + 6]) == pytest.approx(7.0)
    line = Line((10.0, 0.0, -5.0), (10.0, 5.0, 7.0), sop_instance_uid="1.2.3")
    assert line.length_mm == pytest.approx(13.0)
    assert "13.00" in repr(line)


def test_zero_length_line_is_refused_with_the_fix() -> None:
    with pytest.raises(MeasurementError, match="zero-length line: drag the end point away"):
        Line((1.0, 2.0, 3.0), (1.0, 2.0, 3.0), sop_instance_uid="1.2.3")


def test_non_finite_point_and_missing_uid_are_refused() -> None:
    with pytest.raises(MeasurementError, match="finite"):
        Line((math.nan, 0.0, 0.0), (1.0, 0.0, 0.0), sop_instance_uid="1.2.3")
    with pytest.raises(MeasurementError, match="sop_instance_uid"):
        Line((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), sop_instance_uid="")


def test_line_on_one_slice_is_accepted_and_its_length_uses_the_spacing() -> None:
    vol = _volume()
    # slice 1, from voxel (row 2, col 3) to (row 14, col 19): 12 rows x 0.9, 16 columns x 0.6
    p0 = vol.index_to_patient([1, 2, 3])
    p1 = vol.index_to_patient([1, 14, 19])
    line = Line(tuple(p0), tuple(p1), sop_instance_uid="1.2", series_uid="9.9")
    placement = check_line_on_volume(line, vol)
    assert placement.ok and placement.slice_index == 1
    assert line.length_mm == pytest.approx(math.hypot(12 * 0.9, 16 * 0.6))


def test_line_outside_the_image_is_refused() -> None:
    vol = _volume()
    p0 = vol.index_to_patient([0, 2, 3])
    p1 = vol.index_to_patient([0, 2, 45])  # column 45 of 30
    line = Line(tuple(p0), tuple(p1), sop_instance_uid="1.1")
    with pytest.raises(MeasurementError, match="the line's end point lies outside the image"):
        check_line_on_volume(line, vol)


def test_line_across_two_slices_is_refused() -> None:
    vol = _volume()
    p0 = vol.index_to_patient([1, 2, 3])
    p1 = vol.index_to_patient([2, 10, 3])
    line = Line(tuple(p0), tuple(p1), sop_instance_uid="1.2")
    with pytest.raises(
        MeasurementError, match="end points on two different slices: RECIST measures in the axial"
    ):
        check_line_on_volume(line, vol)


def test_line_from_another_series_is_refused() -> None:
    vol = _volume()
    p0, p1 = vol.index_to_patient([1, 2, 3]), vol.index_to_patient([1, 9, 3])
    with pytest.raises(MeasurementError, match="drawn on another series"):
        check_line_on_volume(Line(tuple(p0), tuple(p1), sop_instance_uid="7.7"), vol)
    with pytest.raises(MeasurementError, match="drawn on another series"):
        check_line_on_volume(
            Line(tuple(p0), tuple(p1), sop_instance_uid="1.2", series_uid="8.8"), vol
        )


def test_problems_can_be_returned_instead_of_raised() -> None:
    vol = _volume()
    p0, p1 = vol.index_to_patient([1, 2, 3]), vol.index_to_patient([1, 9, 3])
    placement = check_line_on_volume(
        Line(tuple(p0), tuple(p1), sop_instance_uid="1.3"), vol, raise_on_problem=False
    )
    assert placement.slice_index == 1
    assert len(placement.problems) == 1 and "slice 2" in placement.problems[0]
    with pytest.raises(MeasurementError):
        LinePlacementCriteria(plane_tolerance_mm=0)


def test_bidirectional_from_four_points() -> None:
    m = compute_bidirectional(
        [(0, 0, 0), (30, 40, 0)], [(27, -4, 0), (3, 14, 0)], sop_instance_uid="1.2"
    )  # long 50 mm along (3, 4); short 30 mm along (-4, 3): perpendicular
    assert m.long_axis_mm == pytest.approx(50.0)
    assert m.short_axis_mm == pytest.approx(30.0)
    assert m.angle_deg == pytest.approx(90.0)
    assert m.product_mm2 == pytest.approx(1500.0)


def test_bidirectional_refuses_lines_that_are_not_perpendicular() -> None:
    # 45 degrees apart
    with pytest.raises(MeasurementError, match="not perpendicular"):
        compute_bidirectional([(0, 0, 0), (20, 0, 0)], [(0, 0, 0), (5, 5, 0)], sop_instance_uid="1")
    # 80 degrees apart passes a 10 degree tolerance, fails a 5 degree one
    a = math.radians(80)
    short = [(0, 0, 0), (10 * math.cos(a), 10 * math.sin(a), 0)]
    assert compute_bidirectional(
        [(0, 0, 0), (20, 0, 0)], short, sop_instance_uid="1"
    ).angle_deg == (pytest.approx(80.0))
    with pytest.raises(MeasurementError, match="90 \\+- 5"):
        compute_bidirectional(
            [(0, 0, 0), (20, 0, 0)], short, sop_instance_uid="1", perpendicular_tolerance_deg=5
        )
    with pytest.raises(MeasurementError, match="different images"):
        compute_bidirectional(
            Line((0, 0, 0), (20, 0, 0), sop_instance_uid="1"),
            Line((10, -3, 0), (10, 3, 0), sop_instance_uid="2"),
        )
