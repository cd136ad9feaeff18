"""The napari <-> patient adapter, against positions computed by hand (no display needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from napari_readerstation._adapter import VolumeView, derive_layer_geometry

from readerstation.geometry import Volume


def _volume(shape, spacing, origin, row, col, slice_positions=None):
    row = np.asarray(row, float)
    col = np.asarray(col, float)
    normal = np.cross(row, col)
    direction = np.column_stack([row, col, normal])
    return Volume(
        np.zeros(shape, np.int16),
        spacing=spacing,
        origin=origin,
        direction=direction,
        slice_positions=slice_positions,
    )


def test_axial_world_is_lps_reversed():
    vol = _volume((3, 4, 5), (2.5, 0.7, 0.8), (10, 20, 30), (1, 0, 0), (0, 1, 0))
    view = VolumeView.of(vol)
    assert view.geometry.axis_labels == ("S", "P", "L")
    assert view.geometry.exact
    # voxel (z=1, y=2, x=3): L = 10 + 3*0.8, P = 20 + 2*0.7, S = 30 + 1*2.5
    np.testing.assert_allclose(view.geometry.data_to_world([1, 2, 3]), [32.5, 21.4, 12.4])
    np.testing.assert_allclose(view.data_to_patient([1, 2, 3]), [12.4, 21.4, 32.5])
    np.testing.assert_allclose(view.world_to_patient([32.5, 21.4, 12.4]), [12.4, 21.4, 32.5])
    np.testing.assert_allclose(view.patient_to_data([12.4, 21.4, 32.5]), [1, 2, 3], atol=1e-9)


def test_oblique_in_plane_rotation_is_exact_and_round_trips():
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    vol = _volume((4, 6, 7), (3.0, 0.5, 0.6), (-100, 50, 20), (c, s, 0), (-s, c, 0))
    view = VolumeView.of(vol)
    assert view.geometry.axis_labels == ("S", "P", "L")
    assert view.geometry.exact
    # voxel (2, 3, 4): origin + 4*0.6*row + 3*0.5*col + 2*3*(0, 0, 1), by hand:
    # row*2.4 = (2.078461, 1.2, 0); col*1.5 = (-0.75, 1.299038, 0)
    expected_lps = [-100 + 2.078461 - 0.75, 50 + 1.2 + 1.299038, 26.0]
    np.testing.assert_allclose(view.data_to_patient([2, 3, 4]), expected_lps, atol=1e-5)
    world = view.geometry.data_to_world([2, 3, 4])
    np.testing.assert_allclose(world, expected_lps[::-1], atol=1e-5)  # world = (S, P, L)
    points = np.array([[0.3, 1.7, 5.2], [3.0, 0.0, 0.0], [1.5, 4.4, 2.2]])
    lps = view.data_to_patient(points)
    np.testing.assert_allclose(view.patient_to_data(lps), points, atol=1e-9)
    np.testing.assert_allclose(view.world_to_patient(view.patient_to_world(lps)), lps, atol=1e-9)


@pytest.mark.parametrize(
    ("row", "col", "labels", "top", "left"),
    [
        ((1, 0, 0), (0, 1, 0), ("S", "P", "L"), "A", "R"),  # axial: anterior up, patient right left
        ((0, 1, 0), (0, 0, -1), ("L", "I", "P"), "S", "A"),  # sagittal: head up, face left
        ((1, 0, 0), (0, 0, -1), ("P", "I", "L"), "S", "R"),  # coronal: head up, patient right left
    ],
)
def test_display_is_the_right_way_up(row, col, labels, top, left):
    vol = _volume((3, 4, 5), (2.0, 1.0, 1.0), (0, 0, 0), row, col)
    geometry = derive_layer_geometry(vol)
    assert geometry.axis_labels == labels
    # napari draws world axis 1 downwards and world axis 2 rightwards: the top of the image is
    # the direction opposite to axis 1, the left side opposite to axis 2.
    assert geometry.world_axes[1].opposite_label == top
    assert geometry.world_axes[2].opposite_label == left
    # and increasing row / column indices move down / right on screen (no flip)
    assert geometry.affine[1, 1] > 0 and geometry.affine[2, 2] > 0


def test_non_uniform_stack_converts_through_true_slice_positions():
    # slices at S = 0, 2, 5, 10 mm (gaps 2, 3, 5): nominal spacing is the median 3 mm
    positions = np.array([[0, 0, 0], [0, 0, 2], [0, 0, 5], [0, 0, 10]], float)
    vol = _volume((4, 4, 4), (3.0, 1.0, 1.0), (0, 0, 0), (1, 0, 0), (0, 1, 0), positions)
    view = VolumeView.of(vol)
    assert not view.geometry.exact
    # displayed on the nominal grid: slice 2 at world S = 2 * 3 = 6 mm ...
    world = view.geometry.data_to_world([2, 1, 3])
    np.testing.assert_allclose(world, [6.0, 1.0, 3.0])
    # ... but its patient position is the true one, S = 5 mm
    np.testing.assert_allclose(view.world_to_patient(world), [3.0, 1.0, 5.0])
    # half-way between slices 2 and 3 (world 7.5) is half-way between S = 5 and 10
    np.testing.assert_allclose(view.world_to_patient([7.5, 0, 0]), [0, 0, 7.5])
    np.testing.assert_allclose(view.patient_to_world([3.0, 1.0, 5.0]), world, atol=1e-9)


def test_gantry_tilt_shows_flat_slices_and_keeps_true_positions():
    tilt = math.radians(18.5)
    col = (0.0, math.cos(tilt), -math.sin(tilt))  # as in the GE head CT (0, 0.948, -0.317)
    # table moves along S by 5 mm per slice; slice normal distance = 5 * cos(tilt)
    positions = np.array([[-50.0, -60.0, 5.0 * k] for k in range(5)])
    vol = _volume(
        (5, 8, 8), (5 * math.cos(tilt), 0.5, 0.5), (-50, -60, 0), (1, 0, 0), col, positions
    )
    geometry = derive_layer_geometry(vol)
    assert geometry.axis_labels == ("S", "P", "L")
    assert not geometry.exact
    # napari can only slice planes that do not mix the slice axis with the image plane
    np.testing.assert_allclose(geometry.affine[0, 1:3], 0)
    np.testing.assert_allclose(geometry.affine[1:3, 0], 0)
    # in-plane distances stay true: one row step is 0.5 mm on screen, not 0.5 * cos(tilt)
    np.testing.assert_allclose(np.linalg.norm(geometry.affine[1:3, 1]), 0.5)
    view = VolumeView(vol, geometry)
    # voxel (k=3, j=4, i=2): origin_k + 4*0.5*col + 2*0.5*row, by hand
    expected = [-50 + 1.0, -60 + 2.0 * math.cos(tilt), 15.0 - 2.0 * math.sin(tilt)]
    np.testing.assert_allclose(view.world_to_patient(geometry.data_to_world([3, 4, 2])), expected)
