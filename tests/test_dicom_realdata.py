"""The loader on real DICOM files nobody on this project wrote (../shared/testdata/dicom).

Sources (see testdata/README.md and testdata/licenses/): TotalSegmentator example CT (Apache-2.0),
dcm_qa_ct / dcm_qa_ts / dcm_qa_enh / dcm_qa_decubitus (BSD-2), dicom2nifti test headers (MIT),
dcmqi and highdicom SR/SEG (BSD-style / MIT). Expected values come from the README and from the
headers read directly with pydicom, never from readerstation's own output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from readerstation.dicom import (
    Phase,
    index_folder,
    load_segmentation,
    load_series,
    load_stored_pixels,
    plan_series,
)
from readerstation.errors import DicomError

pytestmark = pytest.mark.realdata


def _headers(folder: Path) -> list[pydicom.Dataset]:
    return [
        pydicom.dcmread(f, stop_before_pixels=True)
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    ]


# ------------------------------------------------------------------ contrast abdomen, JPEG 2000
def test_abdomen_jpeg2000_hu_spacing_and_order(dicom_testdata: Path) -> None:
    folder = dicom_testdata / "ct_abdomen_jpeg2000"
    idx = index_folder(folder)
    (info,) = idx.series
    assert (info.modality, info.n_images, info.rows, info.columns) == ("CT", 20, 512, 512)
    assert info.slice_thickness_mm == pytest.approx(3.0)
    # ContrastBolusStartTime 14:02:16.69, first AcquisitionTime 14:03:52.46 -> 95.8 s
    assert info.phase is Phase.PORTAL_VENOUS
    vol = load_series(folder)
    assert vol.shape == (20, 512, 512)
    assert vol.spacing == pytest.approx((2.0, 0.9765625, 0.9765625))  # README: (2.0, 0.977, 0.977)
    # slices in position order: z of ImagePositionPatient ascending along the normal (+z)
    by_z = sorted(_headers(folder), key=lambda d: float(d.ImagePositionPatient[2]))
    assert vol.origin == pytest.approx([float(v) for v in by_z[0].ImagePositionPatient])
    assert vol.sop_instance_uids == tuple(str(d.SOPInstanceUID) for d in by_z)
    np.testing.assert_allclose(
        vol.slice_positions, [[float(v) for v in d.ImagePositionPatient] for d in by_z]
    )
    # HU = stored - 1024 (RescaleSlope 1, RescaleIntercept -1024), pixels decoded by pydicom
    k = 7
    path = next(f for f in folder.iterdir() if f.name.startswith(f"CT.{by_z[k].SOPInstanceUID}"))
    stored = pydicom.dcmread(path).pixel_array.astype(np.int32)
    np.testing.assert_array_equal(vol.array[k], stored - 1024)
    assert vol.array.dtype == np.int16  # BitsStored 12 unsigned - 1024 fits int16
    assert vol.array.min() == -1024  # air / padding


def test_abdomen_empty_uids_same_volume_with_warning(dicom_testdata: Path) -> None:
    idx = index_folder(dicom_testdata / "ct_abdomen_empty_uids")
    (info,) = idx.series
    assert info.series_uid.startswith("2.25.")
    assert any("empty UIDs" in w for w in info.warnings)
    vol = load_series(info)
    ref = load_series(dicom_testdata / "ct_abdomen_jpeg2000")
    np.testing.assert_array_equal(vol.array, ref.array)
    assert vol.spacing == pytest.approx(ref.spacing)
    assert any("empty UIDs" in w for w in vol.warnings)
    # SOP UIDs missing in the data set are taken from the file meta
    assert vol.sop_instance_uids == ref.sop_instance_uids


# ------------------------------------------------------------------ CT + SEG in one folder
def test_liver_ct_with_seg(dicom_testdata: Path) -> None:
    folder = dicom_testdata / "ct_liver_3slice_with_seg"
    idx = index_folder(folder)
    kinds = sorted((s.modality, s.is_image, s.n_images) for s in idx.series)
    assert kinds == [("CT", True, 3), ("SEG", False, 3)]
    vol = load_series(folder)  # the only image series: the SEG is ignored
    assert vol.modality == "CT" and vol.shape == (3, 512, 512)
    # IPP z = -126.69, -127.69, -128.69 (1 mm apart); sorted along +z the first is -128.69
    assert vol.spacing == pytest.approx((1.0, 0.810547, 0.810547), abs=1e-6)
    assert vol.origin[2] == pytest.approx(-128.690002)
    ds = pydicom.dcmread(folder / "03.dcm")  # z = -128.69
    np.testing.assert_array_equal(vol.array[0], ds.pixel_array.astype(np.int32) - 1024)


def test_liver_seg_as_mask_on_the_ct_grid(dicom_testdata: Path, tmp_path: Path) -> None:
    folder = dicom_testdata / "ct_liver_3slice_with_seg"
    vol = load_series(folder)
    seg = pydicom.dcmread(folder / "liver_seg.dcm")
    masks = load_segmentation(folder / "liver_seg.dcm", vol)
    assert masks.labels == {1: "Liver"}
    mask = masks.masks[1]
    assert mask.shape == vol.shape and mask.dtype == bool
    # each SEG frame lands on the CT slice at its PlanePosition (z), voxel for voxel
    for i, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        z = float(item.PlanePositionSequence[0].ImagePositionPatient[2])
        k = int(np.argmin(np.abs(vol.slice_positions[:, 2] - z)))
        assert vol.slice_positions[k, 2] == pytest.approx(z, abs=1e-4)
        np.testing.assert_array_equal(mask[k], seg.pixel_array[i] > 0)
    assert int(mask.sum()) == int(seg.pixel_array.sum())
    # without source references the frames are placed by position, with the same result
    for item in seg.PerFrameFunctionalGroupsSequence:
        del item.DerivationImageSequence
    seg.save_as(tmp_path / "seg_noref.dcm")
    by_pos = load_segmentation(tmp_path / "seg_noref.dcm", vol)
    np.testing.assert_array_equal(by_pos.masks[1], mask)
    assert any("placed by position" in w for w in by_pos.warnings)
    # on another CT (same 512x512 size) the frames fall on no slice: refused
    other = load_series(dicom_testdata / "ct_abdomen_jpeg2000")
    with pytest.raises(DicomError, match="not on a slice"):
        load_segmentation(tmp_path / "seg_noref.dcm", other)
    with pytest.raises(DicomError, match="not Segmentation Storage"):
        load_segmentation(folder / "01.dcm", vol)


# ------------------------------------------------------------------ gantry tilt, uneven spacing
def test_gantry_tilt_true_millimetres(dicom_testdata: Path) -> None:
    folder = dicom_testdata / "ct_gantry_tilt_uneven_spacing"
    vol = load_series(folder)
    headers = _headers(folder)
    ipp = np.array([[float(v) for v in d.ImagePositionPatient] for d in headers])
    iop = np.array([float(v) for v in headers[0].ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    order = np.argsort(ipp @ normal)
    assert vol.shape == (28, 512, 512)
    np.testing.assert_allclose(vol.slice_positions, ipp[order], atol=1e-6)
    # a distance measured between slices 3 and 20 equals the ImagePositionPatient distance
    d_vol = np.linalg.norm(vol.index_to_patient([20, 0, 0]) - vol.index_to_patient([3, 0, 0]))
    assert d_vol == pytest.approx(float(np.linalg.norm(ipp[order[20]] - ipp[order[3]])), abs=1e-6)
    # and a point inside the image: column 100, row 200 of slice 20, by the DICOM formula
    ps = [float(v) for v in headers[0].PixelSpacing]
    p = ipp[order[20]] + 100 * ps[1] * iop[:3] + 200 * ps[0] * iop[3:]
    # (IOP is stored with 7 decimals; normalising it moves points by < 1e-5 mm)
    np.testing.assert_allclose(vol.index_to_patient([20, 200, 100]), p, atol=1e-4)
    np.testing.assert_allclose(vol.patient_to_index(p), [20, 200, 100], atol=1e-4)
    # the README's gaps: about 1.08, 4.0 and 7.0 mm along the slice normal
    gaps = np.round(np.diff(vol.slice_offsets_mm), 2)
    assert set(gaps.tolist()) <= {1.08, 4.0, 7.0}
    assert any("tilt" in w and "18.5" in w for w in vol.warnings)
    assert any("uneven slice spacing" in w for w in vol.warnings)
    assert not vol.is_uniform


# ------------------------------------------------------------------ one MR image, 9 encodings
def test_nine_transfer_syntaxes_same_pixels_and_no_zero_spacing(dicom_testdata: Path) -> None:
    folder = dicom_testdata / "mr_one_image_nine_transfer_syntaxes"
    syntaxes = {
        pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID
        for f in folder.glob("*.dcm")
    }
    assert len(syntaxes) == 7  # 9 files; JPEG lossless and JPEG-LS twice each
    reference = pydicom.dcmread(folder / "1.dcm").pixel_array  # explicit VR little endian
    for f in sorted(folder.glob("*.dcm")):
        np.testing.assert_array_equal(load_stored_pixels(f)[0], reference, err_msg=f.name)
    (info,) = index_folder(folder).series
    assert info.n_images == 9
    with pytest.raises(DicomError, match=r"9 images at only 1 distinct position.*0 mm"):
        plan_series(folder)


# ------------------------------------------------------------------ enhanced multi-frame MR
def test_enhanced_siemens_functional_groups(dicom_testdata: Path) -> None:
    folder = dicom_testdata / "mr_enhanced_multiframe_siemens"
    (info,) = index_folder(folder).series
    assert info.n_images == 24  # 4 files x 6 frames
    assert info.pixel_spacing_mm == pytest.approx((3.375, 3.375))  # only in functional groups
    vol = load_series(folder)
    # 6 slice positions z = -5.40356 ... 6.59644 (2.4 mm), 4 temporal positions
    assert vol.shape == (6, 64, 64)
    assert vol.spacing == pytest.approx((2.4, 3.375, 3.375), abs=1e-4)
    assert vol.origin == pytest.approx((-109.79, -58.4773, -5.40356), abs=1e-4)
    assert any("4 stacks" in w and "temporal position" in w for w in vol.warnings)
    frames = pydicom.dcmread(folder / "6_1.dcm").pixel_array
    np.testing.assert_array_equal(vol.array, frames)  # slope 1, intercept 0


def test_enhanced_philips_per_frame_rescale(dicom_testdata: Path) -> None:
    path = dicom_testdata / "mr_enhanced_multiframe_philips" / "IM_0027_fMAP.dcm"
    ds = pydicom.dcmread(path)
    vol = load_series(path.parent)
    assert vol.shape == (32, 64, 64)
    assert vol.spacing == pytest.approx((4.0, 4.0, 4.0), abs=1e-4)
    # magnitude frames 1..32 carry RescaleSlope 1.27985347985347, intercept 0 per frame
    pvt = ds.PerFrameFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    slope = float(pvt.RescaleSlope)
    assert slope == pytest.approx(1.27985347985347)
    expected = ds.pixel_array[:32].astype(np.float64) * slope
    np.testing.assert_allclose(vol.array, expected, rtol=1e-6)
    # the field-map frames (slope 0.2442, intercept -500) are the second stack, not mixed in
    assert any("2 stacks" in w for w in vol.warnings)
    assert vol.frame_numbers == tuple(range(1, 33))


# ------------------------------------------------------------------ sagittal HFS / HFDL
@pytest.mark.parametrize("name", ["mr_sagittal_supine_HFS", "mr_sagittal_decubitus_HFDL"])
def test_sagittal_patient_coordinates(dicom_testdata: Path, name: str) -> None:
    folder = dicom_testdata / name
    vol = load_series(folder)
    headers = _headers(folder)
    iop = np.array([float(v) for v in headers[0].ImageOrientationPatient])
    np.testing.assert_allclose(iop, [0, 1, 0, 0, 0, -1])
    np.testing.assert_allclose(vol.direction[:, 0], [0, 1, 0], atol=1e-9)  # columns go posterior
    np.testing.assert_allclose(vol.direction[:, 1], [0, 0, -1], atol=1e-9)  # rows go inferior
    np.testing.assert_allclose(vol.direction[:, 2], [-1, 0, 0], atol=1e-9)  # slices go right
    ipp = np.array([[float(v) for v in d.ImagePositionPatient] for d in headers])
    order = np.argsort(-ipp[:, 0])  # along the normal (-x): decreasing x
    np.testing.assert_allclose(vol.slice_positions, ipp[order], atol=1e-6)
    assert vol.shape == (35, 256, 256)
    assert vol.spacing[1:] == pytest.approx((1.015625, 1.015625))


# ------------------------------------------------------------------ built to break converters
def test_should_fail_or_warn(dicom_testdata: Path) -> None:
    base = dicom_testdata / "should_fail_or_warn"
    idx = index_folder(base)
    assert idx.skipped["unreadable"] == 1 and "2.dcm: empty file" in idx.problems[0]

    tilt = load_series(base / "gantrytilting")
    assert any("gantry tilt" in w for w in tilt.warnings)

    inc1 = load_series(base / "sliceincrement" / "001")
    assert inc1.slice_offsets_mm == pytest.approx([0, 5, 10, 20], abs=1e-4)  # IPP z 18.1..38.1
    assert any("uneven" in w for w in inc1.warnings)
    assert any("missing slices" in w for w in inc1.warnings)

    inc2 = load_series(base / "sliceincrement" / "002")
    assert any("gantry tilt" in w for w in inc2.warnings)
    assert any("uneven" in w for w in inc2.warnings)

    with pytest.raises(DicomError, match=r"4 images at only 1 distinct position"):
        plan_series(base / "notavolume")

    two = load_series(base / "slicecount")
    assert two.shape[0] == 2 and any("only 2 slices" in w for w in two.warnings)
    assert two.spacing[0] == pytest.approx(1.0)  # IPP x -103.79 -> -102.79, normal -x... 1 mm

    with pytest.raises(DicomError, match=r"mixes 2 slice orientations"):
        plan_series(base / "sliceorientation")


def test_sr_and_seg_listed_as_non_image(dicom_testdata: Path) -> None:
    idx = index_folder(dicom_testdata / "sr_and_seg")
    by_modality: dict[str, list[bool]] = {}
    for s in idx.series:
        by_modality.setdefault(s.modality, []).append(s.is_image)
    assert by_modality["SR"] == [False, False, False]
    assert set(by_modality["SEG"]) == {False} and len(by_modality["SEG"]) == 6
    assert by_modality["RWV"] == [False]
    assert by_modality["CT"] == [True]
    # ct_image.dcm and sr_document.dcm share a SeriesInstanceUID: find() gives the image
    ct_uid = str(pydicom.dcmread(dicom_testdata / "sr_and_seg" / "ct_image.dcm").SeriesInstanceUID)
    assert idx.find(ct_uid).modality == "CT"
    assert all(s.phase is Phase.UNKNOWN for s in idx.series if not s.is_image)
