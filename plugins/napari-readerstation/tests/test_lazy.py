"""SliceFiller: a planned series decoded slice by slice (no Qt). Values from ``dicom_builder``:
slice k holds HU ``10 * (k + 1)``, marker voxel (2, 3, 30) = ``MARKER_HU``."""

from __future__ import annotations

import threading

import numpy as np
from dicom_builder import MARKER_HU, write_ct_series
from napari_readerstation._lazy import SliceFiller, to_rescaled

from readerstation import dicom


def test_to_rescaled_by_hand():
    stored = np.array([[0, 100, 4095]], dtype=np.uint16)
    hu = np.zeros((1, 3), np.int16)
    to_rescaled(hu, stored, 1.0, -1024.0)
    assert hu.tolist() == [[-1024, -924, 3071]]
    out = np.zeros((1, 3), np.float32)
    to_rescaled(out, stored, 0.5, -10.0)
    assert out.tolist() == [[-10.0, 40.0, 2037.5]]


def test_to_rescaled_saturates_padding_instead_of_wrapping():
    # Signed CT padding stored as -32768 with intercept -1024 is -33792 HU: beyond int16. It must
    # show as the darkest value (-32768), never wrap round to a bright +31744.
    stored = np.array([[-32768, -1000, 32767]], dtype=np.int16)
    hu = np.zeros((1, 3), np.int16)
    to_rescaled(hu, stored, 1.0, -1024.0)
    assert hu.tolist() == [[-32768, -2024, 31743]]


def test_filler_decodes_on_demand_once_and_in_middle_out_order(tmp_path, monkeypatch):
    uid, _files = write_ct_series(tmp_path / "s", n_slices=6)
    plan = dicom.plan_series(tmp_path / "s", uid)
    filler = SliceFiller(plan)
    assert filler.fill_order() == [2, 1, 3, 0, 4, 5]  # middle (6 - 1) // 2 = 2, then outwards
    assert filler.n_done == 0 and not filler.complete
    assert filler.volume.array is filler.buffer
    assert filler.volume.sop_instance_uids == tuple(s.sop_instance_uid for s in plan.slices)
    decoded: list[str] = []
    original = dicom.load_stored_pixels
    monkeypatch.setattr(
        dicom, "load_stored_pixels", lambda p: decoded.append(str(p)) or original(p)
    )
    lazy = filler.to_dask()
    assert lazy.shape == (6, 32, 40) and lazy.chunks[0] == (1,) * 6
    assert int(lazy[2, 3, 30].compute()) == MARKER_HU  # only slice 2's file is read
    assert len(decoded) == 1 and filler.is_done(2) and filler.n_done == 1
    assert filler.fill(2) == 0  # already there: not decoded again
    threads = [threading.Thread(target=lambda k=k: filler.fill(k)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(decoded) == 6  # each file once, even when asked from two threads
    assert filler.complete
    assert [int(filler.buffer[k, 0, 0]) for k in range(6)] == [10, 20, 30, 40, 50, 60]
    np.testing.assert_array_equal(lazy.compute(), filler.buffer)
