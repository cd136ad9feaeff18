"""Longest diameter and perpendicular short axis from masks, against analytic shapes.

A shape is rasterised by testing pixel centres (binary) or by 8 x 8 supersampling (area
fractions); the true diameters are the analytic 2a and 2b of the ellipse. Binary masks are
measured edge to edge, so they must agree within one voxel; fractional masks within a fifth of a
voxel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from readerstation.errors import MeasurementError
from readerstation.geometry import Volume
from readerstation.measure import compute_diameters_from_mask


def _rotation(deg_about_z: float, deg_about_x: float = 0.0) -> np.ndarray:
    a, b = math.radians(deg_about_z), math.radians(deg_about_x)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return rz @ rx


def _ellipse(
    shape: tuple[int, int],
    spacing_yx: tuple[float, float],
    centre_vu: tuple[float, float],
    a: float,
    b: float,
    angle_deg: float,
    supersample: int = 1,
) -> np.ndarray:
    """Mask (or area fraction) of an ellipse given in in-plane mm (v = row mm, u = column mm)."""
    ny, nx = shape
    s = supersample
    off = (np.arange(s) + 0.5) / s - 0.5
    rows = (np.arange(ny)[:, None] + off[None, :]).reshape(-1)
    cols = (np.arange(nx)[:, None] + off[None, :]).reshape(-1)
    v = rows[:, None] * spacing_yx[0] - centre_vu[0]
    u = cols[None, :] * spacing_yx[1] - centre_vu[1]
    t = math.radians(angle_deg)
    x1 = u * math.cos(t) + v * math.sin(t)
    y1 = -u * math.sin(t) + v * math.cos(t)
    inside = (x1 / a) ** 2 + (y1 / b) ** 2 <= 1.0
    return inside.reshape(ny, s, nx, s).mean(axis=(1, 3)) if s > 1 else inside


def _vol(shape: tuple[int, int], spacing_yx: tuple[float, float], direction=None) -> Volume:
    return Volume(
        np.zeros((1, *shape), np.int16),
        spacing=(1.0, *spacing_yx),
        origin=(12.0, -30.0, 85.0),
        direction=np.eye(3) if direction is None else direction,
    )


def test_row_of_pixels_measures_edge_to_edge() -> None:
    vol = _vol((9, 12), (0.9, 0.6))
    mask = np.zeros((9, 12), bool)
    mask[4, 2:9] = True  # 7 pixels of 0.6 mm along a row
    d = compute_diameters_from_mask(mask, volume=vol, slice_index=0)
    assert d.long_axis_mm == pytest.approx(7 * 0.6)
    assert d.area_mm2 == pytest.approx(7 * 0.6 * 0.9)


def test_disk_diameter_within_one_voxel() -> None:
    vol = _vol((80, 80), (0.7, 0.7))
    r = 15.0
    mask = _ellipse((80, 80), (0.7, 0.7), (28.0, 27.6), r, r, 0.0)
    d = compute_diameters_from_mask(mask, volume=vol, slice_index=0)
    assert abs(d.long_axis_mm - 2 * r) <= 0.7
    assert abs(d.short_axis_mm - 2 * r) <= 0.7
    frac = _ellipse((80, 80), (0.7, 0.7), (28.0, 27.6), r, r, 0.0, supersample=8)
    d2 = compute_diameters_from_mask(frac, volume=vol, slice_index=0)
    assert abs(d2.long_axis_mm - 2 * r) <= 0.14
    assert abs(d2.short_axis_mm - 2 * r) <= 0.14


@pytest.mark.parametrize("supersample, tol_voxels", [(1, 1.0), (8, 0.2)])
def test_rotated_ellipse_with_anisotropic_pixels(supersample: int, tol_voxels: float) -> None:
    spacing = (0.9, 0.6)  # rows 0.9 mm, columns 0.6 mm
    shape = (70, 100)
    a, b, angle = 22.0, 12.0, 30.0
    centre = (31.0, 29.5)
    mask = _ellipse(shape, spacing, centre, a, b, angle, supersample)
    vol = _vol(shape, spacing)
    d = compute_diameters_from_mask(mask, volume=vol, slice_index=0)
    tol = tol_voxels * max(spacing)
    assert abs(d.long_axis_mm - 2 * a) <= tol
    assert abs(d.short_axis_mm - 2 * b) <= tol
    # end points: the ellipse's major vertices, in LPS (axial identity direction)
    t = math.radians(angle)
    ends = [
        np.array(
            [12.0 + centre[1] + k * a * math.cos(t), -30.0 + centre[0] + k * a * math.sin(t), 85.0]
        )
        for k in (-1, 1)
    ]
    got = d.long_axis_points_lps
    err = min(
        max(np.linalg.norm(got[0] - ends[0]), np.linalg.norm(got[1] - ends[1])),
        max(np.linalg.norm(got[0] - ends[1]), np.linalg.norm(got[1] - ends[0])),
    )
    # the maximum is flat near the tips (curvature radius b^2/a), so an end may slide along the
    # tip by more than the length error: one voxel for the position of the ends
    assert err <= max(spacing)
    # the short axis is perpendicular to the long axis
    la = got[1] - got[0]
    sa = d.short_axis_points_lps[1] - d.short_axis_points_lps[0]
    assert abs(la @ sa) / (np.linalg.norm(la) * np.linalg.norm(sa)) < 1e-9


def test_oblique_orientation_gives_the_same_mm_and_rotated_end_points() -> None:
    spacing = (0.9, 0.6)
    shape = (70, 100)
    mask = _ellipse(shape, spacing, (31.0, 29.5), 22.0, 12.0, 30.0, supersample=8)
    rot = _rotation(25.0, 20.0)
    axial = compute_diameters_from_mask(mask, volume=_vol(shape, spacing), slice_index=0)
    oblique = compute_diameters_from_mask(mask, volume=_vol(shape, spacing, rot), slice_index=0)
    assert oblique.long_axis_mm == pytest.approx(axial.long_axis_mm, abs=1e-9)
    assert oblique.short_axis_mm == pytest.approx(axial.short_axis_mm, abs=1e-9)
    origin = np.array([12.0, -30.0, 85.0])
    # the oblique end points are the axial ones rotated about the origin
    expected = (axial.long_axis_points_lps - origin) @ rot.T + origin
    assert np.allclose(oblique.long_axis_points_lps, expected, atol=1e-9)
    # and their distance is the length (measured in patient space, not pixels)
    p = oblique.long_axis_points_lps
    assert float(np.linalg.norm(p[1] - p[0])) == pytest.approx(oblique.long_axis_mm)
    assert abs(oblique.long_axis_mm - 44.0) <= 0.2 * 0.9


def test_crop_offset_places_points_on_the_slice() -> None:
    vol = _vol((50, 60), (1.0, 1.0))
    crop = np.zeros((10, 10), bool)
    crop[5, 2:6] = True
    d = compute_diameters_from_mask(crop, volume=vol, slice_index=0, offset_rc=(20, 30))
    assert d.long_axis_mm == pytest.approx(4.0)
    # columns 31.5 .. 35.5 (edges), row 25 -> LPS x = 12 + col, y = -30 + row
    xs = sorted(float(x) for x in d.long_axis_points_lps[:, 0])
    assert xs == pytest.approx([12 + 31.5, 12 + 35.5])
    assert d.long_axis_points_lps[:, 1] == pytest.approx([-5.0, -5.0])


def test_empty_or_misshaped_mask_is_refused() -> None:
    vol = _vol((10, 10), (1.0, 1.0))
    with pytest.raises(MeasurementError, match="empty"):
        compute_diameters_from_mask(np.zeros((10, 10), bool), volume=vol, slice_index=0)
    with pytest.raises(MeasurementError, match="shape"):
        compute_diameters_from_mask(np.ones((11, 10), bool), volume=vol, slice_index=0)
