"""The Measure dock's reading tools in a real napari viewer (run under Xvfb): keyboard shortcuts,
window/level by right-mouse drag, window presets and the semi-automatic seed click.

Truths: ``sample_dicom/ground_truth.json`` (lesion centre, long axis and viable diameter in mm,
the arterial SOPInstanceUID of the lesion's slice), the CT window definitions (limits =
level -/+ width / 2) and hand arithmetic for a drag of so many pixels at 2 HU per pixel.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from napari_readerstation._measure_widget import SHORTCUTS, MeasureWidget
from napari_readerstation._windows import WindowPreset, derive_window_from_drag
from sample_truth import load_sample_truth

from readerstation.reading import DicomFolderSource, LineKind, seed_sample_trial
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "demo-tools-pw"
VOXEL_MM = 1.5


def _t1() -> dict:
    doc = load_sample_truth()
    tp = doc["subjects"][0]["timepoints"][0]
    return next(x for x in tp["lesions"] if x["lesion"] == "T1")


@pytest.fixture(scope="module")
def images() -> DicomFolderSource:
    _t1()
    return DicomFolderSource(SAMPLE)


@pytest.fixture
def opened(make_napari_viewer, tmp_path, images, qtbot):
    """reader1 with HCC-001/TP0 open and T1, T2 added."""
    store = open_store(f"sqlite:///{tmp_path / 'tools.sqlite'}")
    seed_sample_trial(store, SAMPLE, password=PASSWORD, kdf=FAST_KDF)
    viewer = make_napari_viewer()
    widget = MeasureWidget(viewer, store, images, user="reader1", kdf=FAST_KDF)
    viewer.window.add_dock_widget(widget, name="Measure", area="right")
    assert widget.login("reader1", PASSWORD)
    assert widget.open_task("HCC-001", "TP0") is not None
    qtbot.waitUntil(lambda: not widget.busy, timeout=30_000)
    assert widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    assert widget.add_lesion("T2", "target", "liver", liver_segment="VI", typical_hcc=True)
    yield viewer, widget, store
    store.close()


def test_drag_arithmetic_by_hand() -> None:
    liver = WindowPreset("Liver", width=150, level=90)
    w = derive_window_from_drag(liver, 50, 20)  # right 50 px, down 20 px, 2 HU / px
    assert (w.width, w.level) == (250.0, 130.0)
    assert w.contrast_limits == (5.0, 255.0)
    assert derive_window_from_drag(liver, -500, 0).width == 1.0  # never below 1 HU


def test_right_drag_changes_window_of_the_image(opened) -> None:
    _, widget, _ = opened
    layer = widget.binding.image_layer
    assert tuple(layer.contrast_limits) == (15.0, 165.0)  # Liver W150/L90
    event = SimpleNamespace(button=2, pos=(300.0, 200.0), type="mouse_press", position=None)
    gen = widget._on_mouse_drag(None, event)
    next(gen)
    event.type, event.pos = "mouse_move", (350.0, 220.0)
    next(gen)
    assert tuple(layer.contrast_limits) == (5.0, 255.0)  # W250/L130, by hand above
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(gen)
    assert "W250/L130" in widget.message_label.text()


def test_window_presets_apply_to_the_image(opened) -> None:
    _, widget, _ = opened
    widget.window_buttons["Lung"].click()
    assert tuple(widget.binding.image_layer.contrast_limits) == (-1350.0, 150.0)  # W1500/L-600
    widget.shortcuts["Alt+4"].activated.emit()
    assert tuple(widget.binding.image_layer.contrast_limits) == (-500.0, 1300.0)  # W1800/L400


def test_keyboard_shortcuts(opened) -> None:
    viewer, widget, _ = opened
    assert set(SHORTCUTS) <= set(widget.shortcuts)
    for key, kind in (("F3", LineKind.SHORT), ("F4", LineKind.VIABLE), ("F2", LineKind.LONG)):
        widget.shortcuts[key].activated.emit()
        layer = widget.binding.layers[kind]
        assert viewer.layers.selection.active is layer and layer.mode == "add_line"
        assert widget.kind_buttons[kind].isChecked()
    assert widget.binding.active_lesion == "T2"  # the last one added
    widget.shortcuts["PgDown"].activated.emit()
    assert widget.binding.active_lesion == "T1"  # wraps around
    widget.shortcuts["PgUp"].activated.emit()
    assert widget.binding.active_lesion == "T2"
    widget.shortcuts["F5"].activated.emit()
    assert widget.seed_mode and widget.seed_button.isChecked()
    assert widget.binding.layers[LineKind.LONG].mode == "pan_zoom"  # a click does not draw
    widget.shortcuts["F2"].activated.emit()  # drawing leaves seed mode
    assert not widget.seed_mode


def test_seed_click_proposes_lines_that_can_be_dragged(opened, qtbot) -> None:
    viewer, widget, store = opened
    t1 = _t1()
    widget.select_lesion("T1")
    widget.set_seed_mode(True)
    centre = np.asarray(t1["centre_lps_mm"], float)
    # a left click in seed mode, at the lesion centre (axial series: world = LPS reversed)
    event = SimpleNamespace(button=1, pos=(0, 0), type="mouse_press", position=centre[::-1])
    assert widget._on_mouse_drag(viewer, event) is not None  # a generator, run it
    for _ in widget._on_mouse_drag(viewer, event):
        pass
    assert "proposed long" in widget.message_label.text(), widget.message_label.text()
    repo = Repository.login(store, "reader1", PASSWORD, kdf=FAST_KDF)
    read = repo.get_read(repo.list_reads("HCC-001", latest_only=True)[0].read_id)
    m = read.lesion("T1").measurement
    assert m.long_axis_mm == pytest.approx(t1["long_axis_mm"], abs=VOXEL_MM)
    assert m.viable_long_axis_mm == pytest.approx(t1["viable_long_axis_mm"], abs=VOXEL_MM)
    assert m.long_axis_line.sop_instance_uid == t1["arterial_sop_instance_uid"]
    long_layer = widget.binding.layers[LineKind.LONG]
    assert len(long_layer.data) == 1 and len(widget.binding.layers[LineKind.SHORT].data) == 1
    # the reader drags one end point 5 mm along LPS +x: the saved length follows
    p0, p1 = (np.asarray(p, float) for p in (m.long_axis_line.start, m.long_axis_line.end))
    moved = p1 + np.array([5.0, 0.0, 0.0])
    data = [d.copy() for d in long_layer.data]
    data[0] = np.array([long_layer.world_to_data(p[::-1]) for p in (p0, moved)])
    long_layer.data = data
    read = repo.get_read(read.read_id)
    assert read.lesion("T1").measurement.long_axis_mm == pytest.approx(
        float(np.linalg.norm(moved - p0)), abs=1e-3
    )
