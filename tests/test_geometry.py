"""Volume geometry against values computed by hand and against SimpleITK's own conventions."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from readerstation.errors import GeometryError
from readerstation.geometry import Volume, from_itk_index, to_itk_index


def _axial(shape=(4, 5, 6), spacing=(2.5, 0.6, 0.8), origin=(-100.0, -50.0, 30.0)) -> Volume:
    return Volume(np.zeros(shape, np.int16), spacing=spacing, origin=origin, direction=np.eye(3))


def test_non_cubic_shape_matches_itk_size_reversed() -> None:
    arr = np.zeros((4, 5, 6), np.int16)
    image = sitk.GetImageFromArray(arr)
    assert image.GetSize() == (6, 5, 4)
    assert to_itk_index((4, 5, 6)) == (6, 5, 4)
    assert from_itk_index((6, 5, 4)) == (4, 5, 6)


def test_pixel_spacing_is_row_then_column() -> None:
    # PixelSpacing (0.6 between rows, 0.8 between columns): one step in x (column index) moves
    # 0.8 mm along the row direction; one step in y (row index) 0.6 mm along the column direction.
    vol = _axial(spacing=(2.5, 0.6, 0.8))
    p0 = vol.index_to_patient([0, 0, 0])
    assert np.allclose(vol.index_to_patient([0, 0, 1]) - p0, [0.8, 0, 0])
    assert np.allclose(vol.index_to_patient([0, 1, 0]) - p0, [0, 0.6, 0])
    assert np.allclose(vol.index_to_patient([1, 0, 0]) - p0, [0, 0, 2.5])


def test_index_to_patient_agrees_with_simpleitk_for_oblique_volume() -> None:
    # A rotation of 20 degrees about the z axis, then 10 degrees about x: an oblique stack.
    a, b = np.deg2rad(20), np.deg2rad(10)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    direction = rx @ rz
    vol = Volume(
        np.zeros((7, 9, 11), np.int16),
        spacing=(3.0, 0.7, 0.9),
        origin=(12.0, -34.0, 56.0),
        direction=direction,
    )
    image = sitk.GetImageFromArray(vol.array)
    image.SetSpacing(to_itk_index(vol.spacing))
    image.SetOrigin(vol.origin)
    image.SetDirection(direction.ravel().tolist())  # row-major; columns are the axis directions
    for idx in [(0, 0, 0), (6, 8, 10), (3, 2, 7), (1.5, 4.25, 0.5)]:
        expected = image.TransformContinuousIndexToPhysicalPoint(to_itk_index(idx))
        assert np.allclose(vol.index_to_patient(idx), expected, atol=1e-9)
        assert np.allclose(vol.patient_to_index(expected), idx, atol=1e-9)


def test_non_uniform_stack_keeps_true_slice_positions() -> None:
    # Gantry-tilt-like stack: planes are axial, but each slice origin shifts in y as z advances and
    # the gaps are uneven (1, 4 and 7 mm).
    z = np.array([0.0, 1.0, 5.0, 12.0])
    positions = np.column_stack([np.full(4, -10.0), -20.0 + 0.3 * z, z])
    vol = Volume(
        np.zeros((4, 8, 8), np.int16),
        spacing=(4.0, 1.0, 1.0),
        origin=tuple(positions[0]),
        direction=np.eye(3),
        slice_positions=positions,
    )
    assert not vol.is_uniform
    assert np.allclose(vol.slice_offsets_mm, z)
    # Voxel [3, 2, 1] is at slice 3's origin + 1 mm in x + 2 mm in y.
    p = vol.index_to_patient([3, 2, 1])
    assert np.allclose(p, [-9.0, -20.0 + 3.6 + 2.0, 12.0])
    # The distance between voxel [0, 0, 0] and [3, 0, 0] is the true one, not 3 x 4 mm.
    d = np.linalg.norm(vol.index_to_patient([3, 0, 0]) - vol.index_to_patient([0, 0, 0]))
    assert d == pytest.approx(np.hypot(12.0, 3.6))
    # Half way between slices 2 and 3 in patient z maps to fractional slice 2.5.
    assert vol.patient_to_index([-10.0, -20.0 + 0.3 * 8.5, 8.5])[0] == pytest.approx(2.5)
    assert np.allclose(vol.patient_to_index(p), [3, 2, 1])


def test_nearest_index_refuses_points_off_the_volume() -> None:
    vol = _axial()
    assert vol.nearest_index(vol.index_to_patient([2, 3, 4])) == (2, 3, 4)
    with pytest.raises(GeometryError, match="outside the volume"):
        vol.nearest_index([1000.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spacing": (0.0, 1.0, 1.0)}, "spacing"),
        ({"direction": np.diag([1.0, 1.0, 2.0])}, "unit vectors"),
        ({"direction": np.array([[1.0, 0.6, 0], [0, 0.8, 0], [0, 0, 1.0]])}, "perpendicular"),
        ({"slice_positions": np.zeros((2, 3))}, "slice_positions"),
        ({"slice_positions": np.zeros((3, 3))}, "strictly ordered"),
    ],
)
def test_invalid_geometry_is_refused(kwargs: dict, message: str) -> None:
    base = {
        "array": np.zeros((3, 4, 5), np.int16),
        "spacing": (1.0, 1.0, 1.0),
        "origin": (0.0, 0.0, 0.0),
        "direction": np.eye(3),
    }
    base.update(kwargs)
    with pytest.raises(GeometryError, match=message):
        Volume(**base)
