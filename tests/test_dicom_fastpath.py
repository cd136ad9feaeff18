"""The fast paths of readerstation.dicom: one index pass, native pixels read at their offset,
int16 CT with saturation, explicit decoder choice. Truths come from the synthetic writer
(``dicom_factory``: known HU per voxel) and from values set by hand in these tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import write_series
from pydicom.uid import ImplicitVRLittleEndian

import readerstation.dicom.index as index_mod
from readerstation.dicom import (
    derive_decoding_plugin,
    load_series,
    plan_series,
    read_file_header,
)


def _rewrite_pixels(path: Path, stored: np.ndarray, **attrs: object) -> None:
    ds = pydicom.dcmread(path)
    for k, v in attrs.items():
        setattr(ds, k, v)
    ds.PixelData = stored.astype(stored.dtype.newbyteorder("<")).tobytes()
    ds.save_as(path)


def test_header_records_native_pixel_offset(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "s", shape=(2, 4, 6))
    h = read_file_header(spec.files[0])
    assert h.pixel_length == 4 * 6 * 2  # rows x cols x 2 bytes
    raw = spec.files[0].read_bytes()
    assert h.pixel_offset is not None
    # the 12-byte explicit-VR element header (7FE0,0010) OW precedes the value
    assert raw[h.pixel_offset - 12 : h.pixel_offset - 8] == b"\xe0\x7f\x10\x00"
    assert len(raw) == h.pixel_offset + h.pixel_length


def test_load_from_folder_reads_each_header_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_series(tmp_path / "s", shape=(6, 4, 4))
    calls: list[Path] = []
    real = index_mod.read_file_header

    def counting(path: Path) -> object:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(index_mod, "read_file_header", counting)
    vol = load_series(spec.folder)
    assert len(calls) == 6
    np.testing.assert_array_equal(vol.array, spec.hu)


def test_native_fast_path_implicit_vr_exact(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "i", shape=(4, 5, 3), transfer_syntax=ImplicitVRLittleEndian)
    plan = plan_series(spec.folder)
    assert all(s.pixel_offset is not None for s in plan.slices)
    vol = load_series(plan)
    assert vol.array.dtype == np.int16
    np.testing.assert_array_equal(vol.array, spec.hu)


def test_ct_int16_saturates_and_counts_clipped(tmp_path: Path) -> None:
    # signed 16-bit CT, intercept -1024: stored -32768 would be -33792 HU -> clipped to -32768
    spec = write_series(tmp_path / "c", shape=(3, 4, 4), rescale=(1.0, -1024.0))
    stored = (spec.hu[1] + 1024).astype(np.int16)
    stored[0, :3] = -32768  # 3 padding voxels
    _rewrite_pixels(spec.files[1], stored)
    plan = plan_series(spec.folder)
    assert plan.dtype == np.int16
    vol = load_series(plan)
    expected = spec.hu.copy()
    expected[1, 0, :3] = -32768
    np.testing.assert_array_equal(vol.array, expected)
    assert any(w.startswith("3 voxel(s) outside the int16 range") for w in vol.warnings)
    # nothing clipped: no warning
    clean = write_series(tmp_path / "d", shape=(2, 4, 4))
    assert not any("int16 range" in w for w in load_series(clean.folder).warnings)


def test_unused_high_bits_are_ignored_like_pydicom(tmp_path: Path) -> None:
    # BitsStored 12: the top 4 bits of each 16-bit word are not part of the value (PS3.5 8.1.1)
    twelve = {"BitsStored": 12, "HighBit": 11, "PixelRepresentation": 0}
    spec = write_series(tmp_path / "u", shape=(2, 4, 4), extra=twelve)
    stored = (spec.hu[0] + 1024).astype(np.uint16)
    _rewrite_pixels(spec.files[0], stored | np.uint16(0xF000))  # garbage in unused bits
    vol = load_series(spec.folder)
    np.testing.assert_array_equal(vol.array, spec.hu)
    # signed 12-bit: -5 is 0xFFB in 12 bits; the high nibble must be sign-extended, not kept
    signed = {"BitsStored": 12, "HighBit": 11, "PixelRepresentation": 1}
    spec2 = write_series(tmp_path / "s", shape=(2, 2, 2), rescale=(1.0, 0.0), extra=signed)
    raw = np.full((2, 2), 0x0FFB, dtype=np.uint16)  # high bits 0, value -5 in 12 bits
    _rewrite_pixels(spec2.files[0], raw)
    vol2 = load_series(spec2.folder)
    np.testing.assert_array_equal(vol2.array[0], np.full((2, 2), -5))
    np.testing.assert_array_equal(vol2.array[1], spec2.hu[1])


def test_float32_series_on_fast_path(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "f", shape=(2, 4, 4), rescale=(0.5, -1024.0))
    vol = load_series(spec.folder)
    assert vol.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array, spec.hu)


def test_truncated_native_file_is_named(tmp_path: Path) -> None:
    spec = write_series(tmp_path / "t", shape=(3, 4, 4))
    plan = plan_series(spec.folder)
    data = spec.files[2].read_bytes()
    spec.files[2].write_bytes(data[:-10])  # truncated after planning
    with pytest.raises(Exception, match=spec.files[2].name):
        load_series(plan)


def test_decoding_plugin_per_syntax() -> None:
    assert derive_decoding_plugin("1.2.840.10008.1.2.5") == "pylibjpeg"
    assert derive_decoding_plugin("1.2.840.10008.1.2.4.80") == "pyjpegls"
    assert derive_decoding_plugin("1.2.840.10008.1.2.4.90") == "pylibjpeg"
    assert derive_decoding_plugin("1.2.840.10008.1.2.1") == ""
    assert derive_decoding_plugin(None) == ""
