"""Loading synthetic series with known geometry: every value checked against the factory's truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import expected_hu, write_enhanced, write_series
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from readerstation.dicom import (
    index_folder,
    load_series,
    load_stored_pixels,
    plan_series,
)
from readerstation.errors import DicomError, LoadCancelled, ReaderstationError, SeriesSelectionError


def _order_by(spec_positions: np.ndarray, normal: np.ndarray) -> np.ndarray:
    return np.argsort(spec_positions @ normal)


def test_shuffled_names_sorted_by_position(tmp_path: Path) -> None:
    spec = write_series(
        tmp_path / "s", shape=(6, 8, 6), spacing=(2.5, 0.7, 0.8), names="shuffled", seed=3
    )
    vol = load_series(tmp_path / "s")
    assert vol.shape == (6, 8, 6)
    assert vol.spacing == pytest.approx((2.5, 0.7, 0.8))
    np.testing.assert_allclose(vol.slice_positions, spec.positions, atol=1e-6)
    np.testing.assert_array_equal(vol.array, spec.hu)
    assert vol.sop_instance_uids == spec.sop_uids
    assert vol.origin == pytest.approx((-50.0, -60.0, -100.0))
    np.testing.assert_allclose(vol.direction, np.eye(3), atol=1e-12)
    assert vol.is_uniform and vol.warnings == ()


def test_reversed_names_and_instance_numbers_do_not_matter(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "r", shape=(5, 4, 4), names="reversed")
    vol = load_series(spec.folder)
    # Slice k of the truth sits k * 2.5 mm along +z; the volume must be in that order.
    np.testing.assert_array_equal(vol.array, spec.hu)
    assert vol.slice_offsets_mm == pytest.approx([0, 2.5, 5.0, 7.5, 10.0])


def test_descending_positions_are_sorted_along_the_normal(tmp_path: Path) -> None:
    # Slices written from head to feet: offsets go negative along the normal.
    spec = write_series(tmp_path / "d", shape=(4, 4, 4), offsets=[0.0, -3.0, -6.0, -9.0])
    vol = load_series(spec.folder)
    np.testing.assert_allclose(vol.slice_positions, spec.positions[::-1], atol=1e-6)
    np.testing.assert_array_equal(vol.array, spec.hu[::-1])
    assert vol.origin[2] == pytest.approx(-109.0)


def test_oblique_orientation_index_to_patient_by_hand(tmp_path: Path) -> None:
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    iop = (c, s, 0.0, 0.0, 0.0, -1.0)  # oblique coronal-ish plane
    spec = write_series(tmp_path / "o", shape=(4, 5, 6), spacing=(3.0, 0.9, 1.1), orientation=iop)
    vol = load_series(spec.folder)
    row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
    normal = np.cross(row_dir, col_dir)
    np.testing.assert_allclose(vol.direction[:, 0], row_dir, atol=1e-7)
    np.testing.assert_allclose(vol.direction[:, 1], col_dir, atol=1e-7)
    np.testing.assert_allclose(vol.direction[:, 2], normal, atol=1e-7)
    order = _order_by(spec.positions, normal)
    # DICOM: P(r, c) = IPP + c * colspacing * row_dir + r * rowspacing * col_dir
    k, r, col = 2, 3, 4
    expected = spec.positions[order[k]] + col * 1.1 * row_dir + r * 0.9 * col_dir
    np.testing.assert_allclose(vol.index_to_patient([k, r, col]), expected, atol=1e-6)
    np.testing.assert_allclose(vol.patient_to_index(expected), [k, r, col], atol=1e-6)
    np.testing.assert_array_equal(vol.array[k], spec.hu[order[k]])


def test_gantry_tilt_keeps_true_positions_and_warns(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "t", shape=(8, 6, 6), spacing=(5.0, 0.5, 0.5), tilt_deg=15.0)
    vol = load_series(spec.folder)
    np.testing.assert_allclose(vol.slice_positions, spec.positions, atol=1e-5)
    # distance between voxel [1, 2, 3] and [6, 4, 1] equals the hand-computed patient distance
    p1 = spec.positions[1] + 3 * 0.5 * np.array([1, 0, 0]) + 2 * 0.5 * np.array([0, 1, 0])
    p2 = spec.positions[6] + 1 * 0.5 * np.array([1, 0, 0]) + 4 * 0.5 * np.array([0, 1, 0])
    got = np.linalg.norm(vol.index_to_patient([6, 4, 1]) - vol.index_to_patient([1, 2, 3]))
    assert got == pytest.approx(float(np.linalg.norm(p2 - p1)), abs=1e-5)
    # nominal spacing along the normal is 5 mm * cos(15 deg)
    assert vol.spacing[0] == pytest.approx(5.0 * np.cos(np.radians(15.0)), abs=1e-5)
    assert any("tilt" in w and "15.0 deg" in w for w in vol.warnings)
    assert not vol.is_uniform


def test_uneven_gaps_keep_each_slice_position(tmp_path: Path) -> None:
    offsets = [0.0, 1.0, 2.0, 5.0, 6.0, 13.0]
    spec = write_series(tmp_path / "u", shape=(6, 4, 4), offsets=offsets)
    vol = load_series(spec.folder)
    assert vol.slice_offsets_mm == pytest.approx(offsets)
    assert vol.spacing[0] == pytest.approx(1.0)  # median gap of 1, 1, 3, 1, 7
    assert any("uneven slice spacing" in w for w in vol.warnings)
    assert any("missing slices" in w for w in vol.warnings)
    # A point 1.5 mm above slice 3 (offset 5) lies a quarter of the way to slice 4? No: slice 4
    # is 1 mm above slice 3, slice 5 is 7 mm above slice 4; 6 + 3.5 = 9.5 -> index 4.5.
    point = spec.positions[0] + np.array([0, 0, 9.5])
    assert vol.patient_to_index(point)[0] == pytest.approx(4.5)
    np.testing.assert_allclose(vol.index_to_patient([3, 0, 0]), spec.positions[3], atol=1e-6)


def test_copies_of_one_instance_are_dropped_with_a_warning(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "c", shape=(3, 4, 4))
    shutil.copy(spec.files[1], tmp_path / "c" / "copy_of_2.dcm")
    vol = load_series(spec.folder)
    assert vol.shape[0] == 3
    np.testing.assert_array_equal(vol.array, spec.hu)
    assert any("duplicate copies" in w for w in vol.warnings)


def test_distinct_images_at_one_position_refused(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "dup", shape=(3, 4, 4), offsets=[0.0, 2.0, 2.0])
    with pytest.raises(DicomError, match=r"distinct position.*0 mm") as err:
        load_series(spec.folder)
    assert "0002.dcm" in str(err.value) or "0003.dcm" in str(err.value)


def test_temporal_stacks_load_the_first(tmp_path: Path) -> None:
    uid, study = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"
    first = write_series(
        tmp_path / "t" / "a",
        shape=(3, 4, 4),
        series_uid=uid,
        study_uid=study,
        extra={"TemporalPositionIdentifier": 1},
    )
    write_series(
        tmp_path / "t" / "b",
        shape=(3, 4, 4),
        series_uid=uid,
        study_uid=study,
        extra={"TemporalPositionIdentifier": 2},
    )
    vol = load_series(tmp_path / "t")
    assert vol.shape == (3, 4, 4)
    assert vol.sop_instance_uids == first.sop_uids
    assert any("2 stacks" in w and "temporal position" in w for w in vol.warnings)


def test_mixed_orientations_refused_naming_them(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.77"
    write_series(tmp_path / "m" / "ax", shape=(3, 4, 4), series_uid=uid, study_uid="1.2.3")
    write_series(
        tmp_path / "m" / "sag",
        shape=(3, 4, 4),
        series_uid=uid,
        study_uid="1.2.3",
        orientation=(0, 1, 0, 0, 0, -1),
    )
    with pytest.raises(DicomError, match=r"mixes 2 slice orientations"):
        load_series(tmp_path / "m")


def test_localizer_in_the_series_is_left_out(tmp_path: Path) -> None:
    uid = "1.2.826.0.1.3680043.8.498.78"
    spec = write_series(
        tmp_path / "l" / "ax",
        shape=(3, 4, 4),
        series_uid=uid,
        study_uid="1.2.3",
        extra={"ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"]},
    )
    write_series(
        tmp_path / "l" / "scout",
        shape=(1, 4, 4),
        series_uid=uid,
        study_uid="1.2.3",
        orientation=(1, 0, 0, 0, 0, -1),
        extra={"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]},
    )
    vol = load_series(tmp_path / "l")
    assert vol.sop_instance_uids == spec.sop_uids
    assert any("1 localizer (scout) image(s) left out" in w for w in vol.warnings)


@pytest.mark.parametrize(
    ("ts", "shape"),
    [(RLELossless, (3, 8, 6)), (JPEGLSLossless, (3, 8, 6)), (JPEG2000Lossless, (3, 32, 32))],
)
def test_compressed_transfer_syntaxes_give_identical_hu(
    tmp_path: Path, ts: str, shape: tuple[int, int, int]
) -> None:
    spec = write_series(tmp_path / "c", shape=shape, transfer_syntax=ts, names="shuffled")
    assert pydicom.dcmread(spec.files[0]).file_meta.TransferSyntaxUID == ts
    vol = load_series(spec.folder)
    np.testing.assert_array_equal(vol.array, spec.hu)


def test_dtype_int16_when_rescale_integral_and_range_fits(tmp_path: Path) -> None:
    # 12-bit unsigned stored values (0..4095) minus 1024 fit int16
    twelve = {"BitsStored": 12, "HighBit": 11, "PixelRepresentation": 0}
    spec = write_series(tmp_path / "a", shape=(2, 4, 4), extra=twelve)
    plan = plan_series(spec.folder)
    assert plan.dtype == np.int16
    vol = load_series(plan)
    assert vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, spec.hu)
    # non-integral slope -> float32, values still exact for this pattern (multiples of 0.5)
    spec2 = write_series(tmp_path / "b", shape=(2, 4, 4), rescale=(0.5, -1024.0))
    vol2 = load_series(spec2.folder)
    assert vol2.array.dtype == np.float32
    np.testing.assert_array_equal(vol2.array, spec2.hu)
    # CT, 16-bit signed minus 1024: the type's range does not fit int16, but HU outside
    # [-32768, 32767] do not exist physically -> int16 (values are clipped, with a warning)
    spec3 = write_series(tmp_path / "c", shape=(2, 4, 4), rescale=(1.0, -1024.0))
    assert plan_series(spec3.folder).dtype == np.int16


def test_progress_out_and_cancel(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "p", shape=(5, 4, 4), rescale=(1.0, 0.0))
    plan = plan_series(spec.folder)
    out = plan.empty_array()
    calls: list[tuple[int, int]] = []
    vol = load_series(plan, out=out, progress=lambda d, t: calls.append((d, t)))
    assert np.shares_memory(vol.array, out)
    np.testing.assert_array_equal(out, spec.hu)
    assert calls[-1] == (5, 5) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    with pytest.raises(LoadCancelled, match="cancelled after 2 of 5"):
        load_series(plan, progress=lambda d, t: d < 2)
    with pytest.raises(DicomError, match="empty_array"):
        load_series(plan, out=np.zeros((5, 4, 3), dtype=plan.dtype))
    assert issubclass(LoadCancelled, ReaderstationError)


def test_progress_and_cancel_with_thread_pool(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "p", shape=(6, 8, 6), transfer_syntax=RLELossless)
    plan = plan_series(spec.folder)
    seen: list[int] = []
    vol = load_series(plan, progress=lambda d, t: seen.append(d))
    np.testing.assert_array_equal(vol.array, spec.hu)
    assert seen[-1] == 6
    with pytest.raises(LoadCancelled):
        load_series(plan, progress=lambda d, t: False)


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_parallel_executors_give_the_same_volume(tmp_path: Path, executor: str) -> None:
    spec = write_series(
        tmp_path / "p", shape=(9, 8, 6), transfer_syntax=RLELossless, names="shuffled"
    )
    seen: list[int] = []
    vol = load_series(spec.folder, executor=executor, progress=lambda d, t: seen.append(d))
    np.testing.assert_array_equal(vol.array, spec.hu)
    assert seen[-1] == 9 and seen == sorted(seen)
    with pytest.raises(DicomError, match="executor must be one of"):
        load_series(spec.folder, executor="gpu")


def test_one_broken_file_is_named_and_does_not_hide_other_series(tmp_path: Path) -> None:
    bad = write_series(tmp_path / "f" / "bad", shape=(4, 8, 8), series_number=1)
    good = write_series(tmp_path / "f" / "good", shape=(3, 8, 8), series_number=2)
    data = bad.files[2].read_bytes()
    bad.files[2].write_bytes(data[:-60])  # cut the end of the pixel data
    idx = index_folder(tmp_path / "f")
    assert {s.series_uid for s in idx.series} == {bad.series_uid, good.series_uid}
    assert len(idx.problems) == 1 and bad.files[2].name in idx.problems[0]
    assert "truncated" in idx.problems[0]
    with pytest.raises(DicomError, match=bad.files[2].name) as err:
        load_series(tmp_path / "f", bad.series_uid)
    assert "3 file(s) are readable" in str(err.value)
    vol = load_series(tmp_path / "f", good.series_uid)
    np.testing.assert_array_equal(vol.array, good.hu)


def test_corrupt_compressed_pixel_data_named_at_load(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "j", shape=(2, 32, 32), transfer_syntax=JPEG2000Lossless)
    ds = pydicom.dcmread(spec.files[1])
    frames = pydicom.encaps.generate_fragmented_frames(ds.PixelData)
    first = b"".join(next(frames))
    ds.PixelData = pydicom.encaps.encapsulate([first[: len(first) // 3]])
    ds.save_as(spec.files[1])
    with pytest.raises(DicomError, match=rf"{spec.files[1].name}: pixel data cannot be decoded"):
        load_series(spec.folder)


def test_missing_optional_tags(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "m", shape=(3, 4, 4), acquisition_time=None, description="")
    for f in spec.files:
        ds = pydicom.dcmread(f)
        for kw in ("SliceThickness", "SeriesNumber", "StudyDate", "FrameOfReferenceUID"):
            delattr(ds, kw)
        ds.save_as(f)
    idx = index_folder(spec.folder)
    (info,) = idx.series
    assert info.slice_thickness_mm is None and info.series_number is None
    vol = load_series(info)
    assert vol.spacing == pytest.approx((2.5, 0.7, 0.8))
    np.testing.assert_array_equal(vol.array, spec.hu)


def test_empty_uids_fall_back_with_warning(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "e", shape=(3, 4, 4), series_uid="", study_uid="")
    (info,) = index_folder(spec.folder).series
    assert info.series_uid.startswith("2.25.") and info.study_uid.startswith("2.25.")
    assert any("empty UIDs" in w for w in info.warnings)
    vol = load_series(info)
    np.testing.assert_array_equal(vol.array, spec.hu)
    assert vol.series_uid == info.series_uid


def test_enhanced_multiframe_per_frame_rescale_and_order(tmp_path: Path) -> None:
    spec = write_enhanced(tmp_path / "enh" / "ct.dcm", shape=(4, 6, 5), frame_order=[2, 0, 3, 1])
    (info,) = index_folder(spec.folder).series
    assert info.n_images == 4
    assert info.pixel_spacing_mm == pytest.approx((0.5, 0.6))
    vol = load_series(info)
    assert vol.spacing == pytest.approx((3.0, 0.5, 0.6))
    np.testing.assert_allclose(vol.slice_positions, spec.positions, atol=1e-9)
    np.testing.assert_array_equal(vol.array, spec.hu)
    # slice k came from frame number (1-based) where it was stored
    assert vol.frame_numbers == (2, 4, 1, 3)


def test_file_without_meta_is_read_as_implicit_little_endian(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "nm", shape=(2, 4, 4))
    for f in spec.files:
        ds = pydicom.dcmread(f)
        del ds.file_meta
        ds.preamble = None
        ds.save_as(f, implicit_vr=True, little_endian=True, enforce_file_format=False)
        assert f.read_bytes()[:2] == b"\x08\x00"  # no preamble, starts with group 0008
    vol = load_series(spec.folder)
    np.testing.assert_array_equal(vol.array, spec.hu)
    assert any("no File Meta" in w for w in vol.warnings)


def test_single_image_uses_slice_thickness(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "one", shape=(1, 4, 4), spacing=(1.25, 0.5, 0.5))
    vol = load_series(spec.folder)
    assert vol.shape == (1, 4, 4) and vol.spacing == pytest.approx((1.25, 0.5, 0.5))


def test_several_series_selection(tmp_path: Path) -> None:
    a = write_series(tmp_path / "x" / "a", shape=(2, 4, 4), description="Abdomen", series_number=1)
    b = write_series(tmp_path / "x" / "b", shape=(3, 4, 4), description="Abdomen", series_number=2)
    with pytest.raises(SeriesSelectionError) as err:
        plan_series(tmp_path / "x")
    assert a.series_uid in str(err.value) and b.series_uid in str(err.value)
    assert load_series(tmp_path / "x", b.series_uid).shape == (3, 4, 4)
    with pytest.raises(SeriesSelectionError, match="No series with SeriesInstanceUID"):
        plan_series(tmp_path / "x", "1.2.3.4.5")
    write_series(
        tmp_path / "x" / "c",
        shape=(4, 4, 4),
        description="LIVER ART",
        series_number=3,
        study_uid=a.study_uid,
    )
    plan = plan_series(tmp_path / "x")
    assert plan.shape == (4, 4, 4)
    assert any("chose the proposed arterial series" in w for w in plan.warnings)


def test_load_stored_pixels_matches_pattern(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "s", shape=(1, 5, 7), rescale=(1.0, 0.0))
    stored = load_stored_pixels(spec.files[0])
    assert stored.shape == (1, 5, 7)
    np.testing.assert_array_equal(stored[0], expected_hu(0, 5, 7))


def test_non_image_series_refused(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "sr", shape=(1, 4, 4))
    ds = pydicom.dcmread(spec.files[0])
    ds.Modality = "SEG"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.66.4"
    ds.save_as(spec.files[0])
    (info,) = index_folder(spec.folder).series
    assert not info.is_image
    with pytest.raises(DicomError, match="not an image series"):
        plan_series(info)
