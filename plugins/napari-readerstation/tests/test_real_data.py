"""Real files no one here wrote (../shared/testdata): non-axial and tilted stacks in napari.

Expected positions come straight from each file's ImagePositionPatient, ImageOrientationPatient
and PixelSpacing, read here with pydicom: P(k, j, i) = IPP_k + j * dr * col + i * dc * row.
Sources: dcm_qa_decubitus (sagittal phantom, BSD-2), dcm_qa_ct (GE tilted head CT, BSD-2),
TotalSegmentator example (abdominal CT, Apache-2.0).
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from conftest import shared_testdata
from napari_readerstation._adapter import from_layer
from napari_readerstation._binding import ViewerBinding
from napari_readerstation._controller import ReadingController
from napari_readerstation._widget import ReadingWidget


def _header_position(volume, folder, k, j, i):
    """LPS of voxel (k, j, i) computed by hand from the DICOM file of slice k."""
    uid = volume.sop_instance_uids[k]
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if ds.SOPInstanceUID == uid:
            ipp = np.array([float(v) for v in ds.ImagePositionPatient])
            iop = [float(v) for v in ds.ImageOrientationPatient]
            dr, dc = (float(v) for v in ds.PixelSpacing)
            return ipp + j * dr * np.array(iop[3:]) + i * dc * np.array(iop[:3])
    raise AssertionError(f"no file with SOPInstanceUID {uid} in {folder}")


def _open(viewer, folder, series_uid=None):
    controller = ReadingController()
    binding = ViewerBinding(viewer, controller)
    controller.open_folder(folder)
    uid = series_uid or controller.studies[0].series[0].series_uid
    opened = controller.open_series(uid)
    return opened, binding.layer


@pytest.mark.parametrize("name", ["mr_sagittal_supine_HFS", "mr_sagittal_decubitus_HFDL"])
def test_sagittal_stack_is_head_up_face_left_at_header_positions(make_napari_viewer, name):
    folder = shared_testdata(name)
    viewer = make_napari_viewer()
    opened, layer = _open(viewer, folder)
    view = from_layer(layer)
    # ImageOrientationPatient [0, 1, 0, 0, 0, -1]: columns run to P, rows run to I
    assert view.geometry.axis_labels == ("L", "I", "P")
    assert viewer.dims.axis_labels == ("L", "I", "P")
    top, left = (
        view.geometry.world_axes[1].opposite_label,
        view.geometry.world_axes[2].opposite_label,
    )
    assert (top, left) == ("S", "A")
    # MR has no HU scale: display limits come from the data, not the liver window
    data = np.asarray(layer.data)
    low, high = layer.contrast_limits
    assert (low, high) != (15.0, 165.0)
    assert data.min() <= low < high <= data.max()
    nz, ny, nx = opened.volume.shape
    for k, j, i in [(0, 0, 0), (nz - 1, ny - 1, nx - 1), (nz // 2, 10, 20)]:
        lps = view.world_to_patient(layer.data_to_world((k, j, i)))
        np.testing.assert_allclose(lps, _header_position(opened.volume, folder, k, j, i), atol=1e-3)


def test_gantry_tilted_ct_keeps_true_positions(make_napari_viewer):
    folder = shared_testdata("ct_gantry_tilt_uneven_spacing")
    viewer = make_napari_viewer()
    opened, layer = _open(viewer, folder)
    view = from_layer(layer)
    assert view.geometry.axis_labels == ("S", "P", "L")
    assert not view.geometry.exact  # shown on the nominal grid, converted exactly
    assert opened.volume.warnings  # tilt / uneven gaps are reported
    nz, ny, _nx = opened.volume.shape
    for k, j, i in [(0, 0, 0), (nz - 1, ny - 1, 0), (nz // 2, 100, 200), (3, 511, 511)]:
        lps = view.world_to_patient(layer.data_to_world((k, j, i)))
        np.testing.assert_allclose(lps, _header_position(opened.volume, folder, k, j, i), atol=1e-3)


def test_real_abdominal_ct_axial_in_liver_window(make_napari_viewer):
    folder = shared_testdata("ct_abdomen_jpeg2000")
    viewer = make_napari_viewer()
    opened, layer = _open(viewer, folder)
    view = from_layer(layer)
    assert view.geometry.axis_labels == ("S", "P", "L")
    assert view.geometry.exact
    assert tuple(layer.contrast_limits) == (15.0, 165.0)
    np.testing.assert_allclose(opened.volume.spacing, (2.0, 0.977, 0.977), atol=1e-3)
    k, j, i = 7, 256, 300
    expected = _header_position(opened.volume, folder, k, j, i)
    np.testing.assert_allclose(layer.data_to_world((k, j, i)), expected[::-1], atol=1e-3)


@pytest.mark.parametrize(
    ("name", "words"),
    [("sliceorientation", "orientations"), ("notavolume", "position")],
)
def test_mixed_series_gets_a_message_not_a_crash(make_napari_viewer, qtbot, name, words):
    # dicom2nifti test headers (MIT): one series mixing two orientations; 4 images at 1 position
    folder = shared_testdata(f"should_fail_or_warn/{name}")
    viewer = make_napari_viewer()
    widget = ReadingWidget(viewer, ReadingController())
    viewer.window.add_dock_widget(widget, name="Reading")
    widget.open_folder(folder)  # one series: loaded without asking, and refused by the loader
    qtbot.waitUntil(lambda: widget.status.text().startswith("⚠"), timeout=15000)
    assert words in widget.status.text()
    assert "Traceback" not in widget.status.text()
    assert len(viewer.layers) == 0
    assert widget.progress.isHidden()


@pytest.mark.parametrize("name", ["mr_sagittal_supine_HFS", "mr_enhanced_multiframe_philips"])
def test_dropped_real_mr_has_header_values_and_positions(make_napari_viewer, qtbot, drops, name):
    """Drag and drop of real MR (one file per slice, and one 64-frame enhanced file): every slice
    shown is the stored frame times its own rescale, at its ImagePositionPatient (pydicom)."""
    folder = shared_testdata(name)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(folder), plugin="napari-readerstation")
    qtbot.waitUntil(lambda: layer.metadata["readerstation"].loaded, timeout=30000)
    volume = from_layer(layer).volume
    assert isinstance(layer.data, np.ndarray) and layer.data.shape == volume.shape
    low, high = layer.contrast_limits  # MR: robust limits from the data, not the liver window
    assert (low, high) != (15.0, 165.0) and layer.data.min() <= low < high <= layer.data.max()
    files = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        ds = pydicom.dcmread(path)
        files[ds.SOPInstanceUID] = ds
    nz = volume.shape[0]
    for k in sorted({0, nz // 2, nz - 1}):
        ds = files[volume.sop_instance_uids[k]]
        frames = ds.pixel_array if int(ds.get("NumberOfFrames", 1)) > 1 else ds.pixel_array[None]
        f = volume.frame_numbers[k] - 1
        if "PerFrameFunctionalGroupsSequence" in ds:
            group = ds.PerFrameFunctionalGroupsSequence[f]
            pvt = group.PixelValueTransformationSequence[0]
            slope, intercept = float(pvt.RescaleSlope), float(pvt.RescaleIntercept)
            ipp = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        else:
            slope = float(ds.get("RescaleSlope", 1))
            intercept = float(ds.get("RescaleIntercept", 0))
            ipp = [float(v) for v in ds.ImagePositionPatient]
        expected = frames[f].astype(np.float64) * slope + intercept
        np.testing.assert_allclose(layer.data[k], expected, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(volume.slice_positions[k], ipp, atol=1e-3)
