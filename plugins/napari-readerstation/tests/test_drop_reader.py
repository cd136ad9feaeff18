"""Drag and drop (napari's reader path) keeps the viewer responsive while a series loads.

Known truths come from ``dicom_builder``: slice k of every series holds HU ``10 * (k + 1)``
(marker voxel (2, 3, 30) = ``MARKER_HU``), ImagePositionPatient of slice k is
(-14, -11, 100 + 2.5 k), PixelSpacing (0.7, 0.8) mm, axial; world axes (S, P, L).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from dicom_builder import MARKER_HU, write_ct_series, write_three_phase_study
from napari.utils.notifications import notification_manager
from napari_readerstation._reader import active_loads
from napari_readerstation._widget import ReadingWidget
from qtpy.QtCore import QTimer

N_SLICES = 6
MARKER_INDEX = (2, 3, 30)
MARKER_WORLD = (105.0, -8.9, 10.0)  # S = 100 + 2 * 2.5, P = -11 + 3 * 0.7, L = -14 + 30 * 0.8
WAIT_MS = 30000


class TickCounter:
    """A 10 ms Qt timer: it only ticks while the GUI thread's event loop runs."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))
        self.timer.start()

    def between(self, t0: float, t1: float) -> int:
        return sum(t0 <= t < t1 for t in self.times)

    def max_gap(self, t0: float, t1: float) -> float:
        """Longest time (s) the GUI thread did not tick between ``t0`` and ``t1``."""
        ts = [t0, *(t for t in self.times if t0 <= t <= t1), t1]
        return max(b - a for a, b in itertools.pairwise(ts))


def _messages_since(n: int) -> list[str]:
    return [str(r.message) for r in notification_manager.records[n:]]


def test_drop_returns_after_one_slice_and_fills_in_the_background(
    make_napari_viewer, qtbot, drops, three_phase, slow_decoding
):
    root, uids = three_phase
    viewer = make_napari_viewer()
    ticks = TickCounter()
    (layer,) = viewer.open(str(root), plugin="napari-readerstation")
    t_returned = time.perf_counter()
    # before returning, the middle slice was decoded (and at most the one napari draws before it
    # moves to the middle), not the 6 slices of the series
    assert 1 <= sum(t < t_returned for _, t in slow_decoding.calls) <= 2
    record = layer.metadata["readerstation"]
    assert record.info.series_uid == uids["arterial"]
    assert not record.loaded
    assert not isinstance(layer.data, np.ndarray)  # the lazy (dask) array
    assert viewer.dims.point[0] == pytest.approx(105.0)  # middle slice, S = 100 + 2 * 2.5
    assert int(np.asarray(layer.data[2, 0, 0])) == 30  # shown at once: HU 10 * (2 + 1)
    # the rest arrives while the GUI thread keeps running its event loop
    qtbot.waitUntil(lambda: not active_loads(), timeout=WAIT_MS)
    t_done = time.perf_counter()
    assert sum(t < t_returned for _, t in slow_decoding.calls) <= 2  # the rest: in a thread
    assert len(slow_decoding.calls) == N_SLICES  # each file once
    assert ticks.between(t_returned, t_done) >= 10  # 10 ms timer: the viewer was never frozen
    assert ticks.max_gap(t_returned, t_done) < 1.0
    # complete: numpy array, every slice's HU, metadata marked loaded, geometry in mm
    assert isinstance(layer.data, np.ndarray)
    assert layer.metadata["readerstation"].loaded
    assert layer.metadata["readerstation"].view is record.view  # the same Volume and placement
    assert [int(layer.data[k, 0, 0]) for k in range(N_SLICES)] == [10, 20, 30, 40, 50, 60]
    assert layer.data[MARKER_INDEX] == MARKER_HU
    np.testing.assert_allclose(layer.data_to_world(MARKER_INDEX), MARKER_WORLD, atol=1e-6)
    np.testing.assert_allclose(
        record.view.volume.slice_positions[:, 2], [100 + 2.5 * k for k in range(N_SLICES)]
    )
    assert tuple(layer.contrast_limits) == (15.0, 165.0)  # liver window kept
    # slider range: every preset (lung W1500/L-600 from -1350, bone W1800/L400 to 1300 HU)
    # and the data (10..1000 HU)
    assert tuple(layer.contrast_limits_range) == (-1350.0, 1300.0)


def test_scrolling_while_loading_shows_the_true_slice(
    make_napari_viewer, qtbot, drops, three_phase, slow_decoding
):
    root, _ = three_phase
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(root), plugin="napari-readerstation")
    viewer.dims.set_point(0, 112.5)  # last slice, S = 100 + 5 * 2.5: decoded on demand
    assert int(np.asarray(layer.data[5, 0, 0])) == 60
    qtbot.waitUntil(lambda: not active_loads(), timeout=WAIT_MS)
    assert int(layer.data[5, 0, 0]) == 60


def test_removing_the_layer_stops_the_background_load(
    make_napari_viewer, qtbot, drops, three_phase, slow_decoding
):
    root, _ = three_phase
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(root), plugin="napari-readerstation")
    qtbot.waitUntil(lambda: len(slow_decoding.calls) >= 3, timeout=WAIT_MS)
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: not active_loads(), timeout=WAIT_MS)
    assert len(slow_decoding.calls) < N_SLICES  # stopped before decoding the whole series
    assert len(viewer.layers) == 0


def test_large_folder_is_indexed_in_the_background(
    make_napari_viewer, qtbot, drops, tmp_path, monkeypatch
):
    from napari_readerstation import _reader

    root = tmp_path / "trial"
    uids = write_three_phase_study(root, "HCC-901")
    write_three_phase_study(root, "HCC-902")
    monkeypatch.setattr(_reader, "SYNC_MAX_FILES", 10)  # 36 files: "large"
    viewer = make_napari_viewer()
    n = len(notification_manager.records)
    ticks = TickCounter()
    assert viewer.open(str(root), plugin="napari-readerstation") == []  # returns at once
    t_returned = time.perf_counter()
    assert len(viewer.layers) == 0
    qtbot.waitUntil(lambda: len(viewer.layers) == 1 and not active_loads(), timeout=WAIT_MS)
    t_done = time.perf_counter()
    assert ticks.between(t_returned, t_done) >= 1
    (layer,) = viewer.layers
    assert layer.name == "HCC-901 arterial AX ARTERIAL"  # the first subject's arterial phase
    assert layer.metadata["readerstation"].info.series_uid == uids["arterial"]
    assert layer.metadata["readerstation"].loaded
    assert layer.data[MARKER_INDEX] == MARKER_HU
    np.testing.assert_allclose(layer.data_to_world(MARKER_INDEX), MARKER_WORLD, atol=1e-6)
    messages = _messages_since(n)
    assert any("in the background" in m for m in messages)
    assert any("Reading" in m and "HCC-901" in m for m in messages)


def test_undecodable_slice_found_in_the_background_removes_the_layer(
    make_napari_viewer, qtbot, drops, tmp_path, monkeypatch
):
    from readerstation import dicom
    from readerstation.errors import DicomError

    root = tmp_path / "HCC-903"
    _, files = write_ct_series(root / "s", subject="HCC-903", n_slices=5, description="AX ART")
    bad = files[0]  # slice 0 (S = 100): decoded in the background, not at once
    original = dicom.load_stored_pixels

    def decode(path):  # a decoder failure the header check cannot see (e.g. corrupt JPEG)
        if Path(path) == bad:
            raise DicomError(f"{path}: pixel data cannot be decoded (corrupt codestream)")
        return original(path)

    monkeypatch.setattr(dicom, "load_stored_pixels", decode)
    viewer = make_napari_viewer()
    n = len(notification_manager.records)
    assert len(viewer.open(str(root), plugin="napari-readerstation")) == 1  # middle one is fine
    qtbot.waitUntil(lambda: not active_loads(), timeout=WAIT_MS)
    assert len(viewer.layers) == 0  # a half-decoded series is not left on screen
    messages = _messages_since(n)
    assert any(bad.name in m and "cannot be decoded" in m for m in messages), messages
    assert not any("Traceback" in m for m in messages)


def test_unsure_phase_offers_the_reading_dock(make_napari_viewer, qtbot, drops, unsure_folder):
    root, _uids = unsure_folder
    viewer = make_napari_viewer()
    n = len(notification_manager.records)
    assert viewer.open(str(root), plugin="napari-readerstation") == []
    (note,) = [r for r in notification_manager.records[n:] if "arterial" in str(r.message)]
    label, action = note.actions[0]
    assert label == "Open in Reading dock"
    action(None)  # the button on the notification
    (widget,) = viewer.window._qt_window.findChildren(ReadingWidget)
    qtbot.waitUntil(lambda: widget.tree.topLevelItemCount() == 1, timeout=WAIT_MS)
    listed = {widget.tree.topLevelItem(0).child(i).text(1) for i in range(2)}
    assert listed == {"SERIES A", "SERIES B"}
    assert len(viewer.layers) == 0  # nothing loaded until the reader picks


def test_dropping_a_real_timepoint_keeps_the_viewer_responsive(make_napari_viewer, qtbot, drops):
    from conftest import REPO

    folder = REPO / "sample_dicom" / "HCC-001" / "TP0_baseline"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent; run `make sample`")
    viewer = make_napari_viewer()
    ticks = TickCounter()
    (layer,) = viewer.open(str(folder), plugin="napari-readerstation")
    t_returned = time.perf_counter()
    assert layer.name == "HCC-001 arterial Abd 2.5mm ARTERIAL"
    qtbot.waitUntil(lambda: not active_loads(), timeout=WAIT_MS)
    t_done = time.perf_counter()
    # 61 JPEG-LS slices decoded in a thread; the GUI thread ran between them
    assert ticks.between(t_returned, t_done) >= 3
    assert layer.metadata["readerstation"].loaded and layer.data.shape == (61, 256, 256)
    # header truths (sample_dicom/README.md): 61 x 2.5 mm, z from -50 (slice 0) to +100 mm
    np.testing.assert_allclose(layer.metadata["readerstation"].view.volume.spacing, (2.5, 1.5, 1.5))
    np.testing.assert_allclose(layer.data_to_world((0, 0, 0))[0], -50.0, atol=1e-6)
    np.testing.assert_allclose(layer.data_to_world((60, 0, 0))[0], 100.0, atol=1e-6)
    assert float(layer.data[30, 0, 0]) == pytest.approx(-1000, abs=1)  # air outside the body
