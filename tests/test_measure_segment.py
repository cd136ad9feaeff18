"""Seeded segmentation on a small synthetic CT built here, with analytic diameters.

The phantom is independent of the sample trial's generator: liver parenchyma (80 HU) with an
ellipsoidal HCC (necrosis 25 HU, an eccentric viable part 150 HU, a lipiodol deposit 700 HU),
rotated 30 degrees in the axial plane, on anisotropic pixels (rows 0.9 mm, columns 0.6 mm),
rasterised at pixel centres, blurred with a [1 2 1]/4 kernel (partial volume) plus Gaussian noise
(SD 5 HU). On the central slice the true diameters are the analytic 2a = 30 mm, 2b = 20 mm and
viable 2 x 7 = 14 mm.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from readerstation.errors import MeasurementError
from readerstation.geometry import Volume
from readerstation.measure import SegmentationParams, propose_diameters

SPACING = (2.0, 0.9, 0.6)  # z, rows, columns (mm)
SHAPE = (21, 120, 160)
CENTRE = (48.0, 54.0, 20.0)  # LPS mm (x, y, z) = column 80, row 60, slice 10
ANGLE = math.radians(30.0)


def _ellipsoid(x, y, z, centre_offset, semi):
    """Inside test in the lesion's frame: offset along the major axis, semi-axes (a, b, c)."""
    cx = CENTRE[0] + centre_offset * math.cos(ANGLE)
    cy = CENTRE[1] + centre_offset * math.sin(ANGLE)
    u = (x - cx) * math.cos(ANGLE) + (y - cy) * math.sin(ANGLE)
    v = -(x - cx) * math.sin(ANGLE) + (y - cy) * math.cos(ANGLE)
    w = z - CENTRE[2]
    return (u / semi[0]) ** 2 + (v / semi[1]) ** 2 + (w / semi[2]) ** 2 <= 1.0


def _phantom(with_lipiodol: bool = True, noise_sd: float = 5.0) -> Volume:
    nz, ny, nx = SHAPE
    z = (np.arange(nz) * SPACING[0])[:, None, None]
    y = (np.arange(ny) * SPACING[1])[None, :, None]
    x = (np.arange(nx) * SPACING[2])[None, None, :]
    hu = np.full(SHAPE, 80.0)
    hu[_ellipsoid(x, y, z, 0.0, (15.0, 10.0, 9.0)) & np.ones(SHAPE, bool)] = 25.0
    hu[_ellipsoid(x, y, z, 6.0, (7.0, 6.0, 6.0)) & np.ones(SHAPE, bool)] = 150.0
    if with_lipiodol:
        hu[_ellipsoid(x, y, z, -9.0, (3.5, 3.0, 3.0)) & np.ones(SHAPE, bool)] = 700.0
    p = np.pad(hu, ((0, 0), (1, 1), (1, 1)), mode="edge")
    r = (p[:, :-2, :] + 2 * p[:, 1:-1, :] + p[:, 2:, :]) / 4
    hu = (r[:, :, :-2] + 2 * r[:, :, 1:-1] + r[:, :, 2:]) / 4
    hu += np.random.default_rng(7).normal(0.0, noise_sd, SHAPE)
    return Volume(
        np.rint(hu).astype(np.int16),
        spacing=SPACING,
        origin=(0.0, 0.0, 0.0),
        direction=np.eye(3),
        sop_instance_uids=tuple(f"1.2.3.{k + 1}" for k in range(SHAPE[0])),
        series_uid="1.2.3",
    )


@pytest.fixture(scope="module")
def phantom() -> Volume:
    return _phantom()


def test_diameters_on_anisotropic_pixels_within_one_voxel(phantom: Volume) -> None:
    p = propose_diameters(phantom, CENTRE)
    voxel = max(SPACING[1:])
    assert p.slice_index == 10 and p.sop_instance_uid == "1.2.3.11"
    assert abs(p.long_axis_mm - 30.0) <= voxel, p
    assert abs(p.short_axis_mm - 20.0) <= voxel, p
    assert abs(p.viable_long_axis_mm - 14.0) <= voxel, p
    # the long axis runs along the 30 degree major axis, through the centre (the maximum is flat
    # near the tips, so each end may slide by about a voxel: atan(2 x 0.9 / 30) = 3.4 degrees)
    d = p.long_axis_points_lps[1] - p.long_axis_points_lps[0]
    angle = math.degrees(math.atan2(d[1], d[0])) % 180.0
    assert abs(angle - 30.0) <= 5.0
    mid = p.long_axis_points_lps.mean(axis=0)
    assert np.linalg.norm(mid[:2] - np.array(CENTRE[:2])) <= voxel
    # the viable diameter is the eccentric enhancing part (centred 6 mm along the major axis)
    vmid = p.viable_points_lps.mean(axis=0)
    expected = np.array(CENTRE[:2]) + 6.0 * np.array([math.cos(ANGLE), math.sin(ANGLE)])
    assert np.linalg.norm(vmid[:2] - expected) <= voxel


def test_seed_on_lipiodol_or_off_slice_finds_the_same_lesion(phantom: Volume) -> None:
    on_oil = (
        CENTRE[0] - 9.0 * math.cos(ANGLE),
        CENTRE[1] - 9.0 * math.sin(ANGLE),
        CENTRE[2],
    )
    p = propose_diameters(phantom, on_oil)
    assert abs(p.long_axis_mm - 30.0) <= 0.9
    assert abs(p.viable_long_axis_mm - 14.0) <= 0.9  # the oil is not viable tumour
    off = (CENTRE[0] + 2.0, CENTRE[1] - 1.0, CENTRE[2] + 4.0)  # two slices above the centre
    q = propose_diameters(phantom, off)
    assert q.slice_index == 10
    assert abs(q.long_axis_mm - 30.0) <= 0.9


def test_without_enhancing_tissue_the_viable_diameter_is_zero_with_a_warning() -> None:
    vol = _phantom()
    arr = np.array(vol.array)
    arr[arr > 110] = np.where(arr[arr > 110] >= 300, arr[arr > 110], 25)  # viable -> necrosis
    dead = Volume(arr, spacing=SPACING, origin=(0.0, 0.0, 0.0), direction=np.eye(3))
    p = propose_diameters(dead, CENTRE)
    assert p.viable_long_axis_mm == 0.0 and p.viable_points_lps is None
    assert any("no enhancing tissue found" in w for w in p.warnings)
    assert abs(p.long_axis_mm - 30.0) <= 0.9


def test_seed_in_liver_is_refused(phantom: Volume) -> None:
    with pytest.raises(MeasurementError, match="not inside a lesion"):
        propose_diameters(phantom, (10.0, 10.0, 20.0))


def test_params_are_validated() -> None:
    with pytest.raises(MeasurementError, match="min_contrast_hu"):
        SegmentationParams(min_contrast_hu=0)
    with pytest.raises(MeasurementError, match="liver_hu_range"):
        SegmentationParams(liver_hu_range=(100.0, 50.0))
    with pytest.raises(MeasurementError, match="lipiodol_min_hu"):
        SegmentationParams(lipiodol_min_hu=20.0)
