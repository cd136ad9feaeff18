"""The reader, the Reading dock and the launcher in a real napari viewer (run under Xvfb).

Expected positions are computed by hand from the headers written in ``dicom_builder``:
ImagePositionPatient of slice k = (-14, -11, 100 + 2.5 k), ImageOrientationPatient axial
(1, 0, 0, 0, 1, 0), PixelSpacing (row 0.7, column 0.8) mm, marker voxel (k=2, j=3, i=30).
"""

from __future__ import annotations

import numpy as np
import pytest
from dicom_builder import (
    MARKER_HU,
    SYNTHETIC_BIRTH_DATE,
    SYNTHETIC_NAME,
    write_three_phase_study,
)
from napari.utils.notifications import notification_manager
from napari_readerstation._adapter import from_layer
from napari_readerstation._controller import ReadingController
from napari_readerstation._widget import ReadingWidget
from napari_readerstation.launch import build_parser, launch, main, to_store_url
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication, QLabel

# voxel (2, 3, 30): L = -14 + 30 * 0.8, P = -11 + 3 * 0.7, S = 100 + 2 * 2.5
MARKER_INDEX = (2, 3, 30)
MARKER_LPS = (10.0, -8.9, 105.0)
MARKER_WORLD = (105.0, -8.9, 10.0)  # world axes (S, P, L)
WAIT_MS = 15000


def _messages_since(n: int) -> list[str]:
    return [str(r.message) for r in notification_manager.records[n:]]


def _dock(viewer, controller=None):
    widget = ReadingWidget(viewer, controller or ReadingController())
    viewer.window.add_dock_widget(widget, name="Reading", area="right")
    return widget


def _wait_loaded(qtbot, widget):
    qtbot.waitUntil(lambda: widget.controller.current is not None, timeout=WAIT_MS)
    return widget.binding.layer


def _dropped(qtbot, viewer, path) -> object:
    """``viewer.open(path)`` with the readerstation reader, then wait until the layer is complete."""
    layers = viewer.open(str(path), plugin="napari-readerstation")
    assert len(layers) == 1
    layer = layers[0]
    qtbot.waitUntil(lambda: layer.metadata["readerstation"].loaded, timeout=WAIT_MS)
    return layer


def test_reader_opens_folder_with_arterial_phase_in_mm(
    make_napari_viewer, qtbot, drops, three_phase
):
    root, uids = three_phase
    viewer = make_napari_viewer()
    layer = _dropped(qtbot, viewer, root)
    assert layer.name == "HCC-901 arterial AX ARTERIAL"
    record = layer.metadata["readerstation"]
    assert record.info.series_uid == uids["arterial"]
    assert tuple(layer.contrast_limits) == (15.0, 165.0)  # liver W150 / L90
    assert layer.colormap.name == "gray"
    assert isinstance(layer.data, np.ndarray)  # the complete array replaced the lazy one
    assert layer.data[MARKER_INDEX] == MARKER_HU
    np.testing.assert_allclose(layer.data_to_world(MARKER_INDEX), MARKER_WORLD, atol=1e-6)
    view = from_layer(layer)
    np.testing.assert_allclose(
        view.world_to_patient(layer.data_to_world(MARKER_INDEX)), MARKER_LPS, atol=1e-6
    )
    # napari starts on the middle slice (6 slices -> index 2, S = 100 + 2 * 2.5)
    assert viewer.dims.point[0] == pytest.approx(105.0)
    assert viewer.dims.displayed == (1, 2)  # axial: rows (P) down, columns (L) right


def test_reader_opens_the_series_of_a_single_file(
    make_napari_viewer, qtbot, drops, three_phase, tmp_path
):
    root, uids = three_phase
    one_file = next((root / "HCC-901" / "20240115" / "s3").glob("*.dcm"))
    viewer = make_napari_viewer()
    layer = _dropped(qtbot, viewer, one_file)
    assert layer.metadata["readerstation"].info.series_uid == uids["portal_venous"]
    assert layer.data.shape == (6, 32, 40)  # the whole series, not one slice
    from napari_readerstation._reader import get_reader

    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert get_reader(str(text)) is None


def test_reader_refuses_bad_folders_with_a_message(
    make_napari_viewer, drops, corrupt_folder, no_image_folder
):
    viewer = make_napari_viewer()
    n = len(notification_manager.records)
    assert viewer.open(str(corrupt_folder), plugin="napari-readerstation") == []
    messages = _messages_since(n)
    assert messages and "Traceback" not in messages[-1]
    assert any("b.dcm" in m or "truncat" in m.lower() or "corrupt" in m.lower() for m in messages)
    from napari_readerstation._reader import get_reader

    assert get_reader(str(no_image_folder)) is None  # not offered for folders without DICOM
    assert len(viewer.layers) == 0


def test_dock_loads_proposed_series_and_shows_metadata(make_napari_viewer, qtbot, three_phase):
    root, uids = three_phase
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_folder(root)
    layer = _wait_loaded(qtbot, widget)
    assert layer.name == "HCC-901 arterial AX ARTERIAL"
    assert widget.controller.current.info.series_uid == uids["arterial"]
    np.testing.assert_allclose(layer.data_to_world(MARKER_INDEX), MARKER_WORLD, atol=1e-6)
    assert viewer.dims.point[0] == pytest.approx(105.0)
    assert viewer.dims.axis_labels == ("S", "P", "L")
    # series browser: one study, three series, the arterial one marked as proposed
    top = widget.tree.topLevelItem(0)
    assert top.text(0) == "HCC-901 · 2024-01-15"
    rows = [[top.child(i).text(c) for c in range(4)] for i in range(top.childCount())]
    assert rows == [  # phase, description, slices, PixelSpacing row × column / thickness (mm)
        ["non-contrast", "AX NON CONTRAST", "6", "0.7×0.8/2.5"],
        ["★ arterial", "AX ARTERIAL", "6", "0.7×0.8/2.5"],
        ["portal venous", "AX PORTAL VENOUS", "6", "0.7×0.8/2.5"],
    ]
    # metadata panel, straight from the headers
    meta = {k: v.text() for k, v in widget.meta.items()}
    assert meta["Subject"] == "HCC-901"
    assert meta["Modality"] == "CT"
    assert meta["Phase"] == "arterial"
    assert meta["Shape z×y×x"] == "6 × 32 × 40"
    assert meta["Spacing mm"] == "2.5 × 0.7 × 0.8"
    assert meta["Thickness mm"] == "2.5"
    assert meta["Orientation"] == "axial"
    assert meta["Display"] == "top A, left R"
    assert not any("HCC-901" in v for k, v in meta.items() if k != "Subject")
    # PatientName and PatientBirthDate are in the files but shown nowhere
    shown = [lbl.text() for lbl in widget.findChildren(QLabel)]
    shown += [layer.name, viewer.title, widget.status.text()]
    top_items = [widget.tree.topLevelItem(i) for i in range(widget.tree.topLevelItemCount())]
    for study_item in top_items:
        shown.append(study_item.text(0))
        shown += [
            study_item.child(i).text(c) for i in range(study_item.childCount()) for c in range(4)
        ]
    for secret in ("SYNTHETIC", "NOTAPATIENT", SYNTHETIC_BIRTH_DATE, "1900-01-01"):
        assert not any(secret in text for text in shown), secret
    assert SYNTHETIC_NAME not in repr(layer.metadata)


def test_dock_opens_from_the_plugins_menu(make_napari_viewer, qtbot, three_phase):
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-readerstation", "Reading")
    assert isinstance(widget, ReadingWidget)
    assert widget.status.text() == "Open a DICOM folder to start."
    widget.open_folder(three_phase[0])  # napari handed it (a proxy of) this viewer
    _wait_loaded(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == ["HCC-901 arterial AX ARTERIAL"]


def test_trial_folder_shows_first_subject_while_the_rest_is_indexed(
    make_napari_viewer, qtbot, tmp_path
):
    root = tmp_path / "trial"
    uids = write_three_phase_study(root, "HCC-901")
    write_three_phase_study(root, "HCC-902")
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_folder(root)
    qtbot.waitUntil(lambda: widget.tree.topLevelItemCount() == 2, timeout=WAIT_MS)
    layer = _wait_loaded(qtbot, widget)
    assert widget.controller.current.info.series_uid == uids["arterial"]  # HCC-901's
    assert [lay.name for lay in viewer.layers] == [layer.name]  # loaded once, not per part
    assert widget.tree.topLevelItem(1).text(0).startswith("HCC-902")
    assert widget.tree.currentItem().data(0, Qt.ItemDataRole.UserRole + 1) == uids["arterial"]


def test_clicking_another_series_loads_it(make_napari_viewer, qtbot, three_phase):
    root, uids = three_phase
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_folder(root)
    _wait_loaded(qtbot, widget)
    item = widget.tree.topLevelItem(0).child(2)
    widget.tree.itemActivated.emit(item, 0)  # double-click or Enter
    qtbot.waitUntil(
        lambda: widget.controller.current.info.series_uid == uids["portal_venous"], timeout=WAIT_MS
    )
    assert [layer.name for layer in viewer.layers] == ["HCC-901 portal_venous AX PORTAL VENOUS"]


def test_window_buttons_and_shortcuts_set_contrast_limits(make_napari_viewer, qtbot, three_phase):
    root, _ = three_phase
    viewer = make_napari_viewer(show=True)
    widget = _dock(viewer)
    widget.open_folder(root)
    layer = _wait_loaded(qtbot, widget)
    assert tuple(layer.contrast_limits) == (15.0, 165.0)
    widget.window_buttons["Abdomen"].click()
    assert tuple(layer.contrast_limits) == (-150.0, 250.0)  # W400 / L50
    assert widget.window_buttons["Abdomen"].isChecked()
    assert not widget.window_buttons["Liver"].isChecked()
    widget.window_buttons["Bone"].click()
    assert tuple(layer.contrast_limits) == (-500.0, 1300.0)  # W1800 / L400
    qt_window = viewer.window._qt_window
    QApplication.setActiveWindow(qt_window)  # Xvfb has no window manager to activate it
    qtbot.waitUntil(qt_window.isActiveWindow, timeout=3000)
    qtbot.keyClick(QApplication.focusWidget() or qt_window, Qt.Key_3, Qt.AltModifier)
    qtbot.waitUntil(lambda: tuple(layer.contrast_limits) == (-1350.0, 150.0), timeout=3000)  # lung
    widget.controller.set_window("liver")  # the scripted equivalent
    assert tuple(layer.contrast_limits) == (15.0, 165.0)
    assert widget.window_buttons["Liver"].isChecked()


def test_first_slices_show_before_the_series_has_loaded(
    make_napari_viewer, qtbot, three_phase, slow_loading
):
    root, uids = three_phase
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_folder(root, load_proposed=False)
    qtbot.waitUntil(lambda: bool(widget.controller.studies), timeout=WAIT_MS)
    ticks = []
    viewer.dims.events.point.connect(lambda e: ticks.append(1))
    widget.load_series(uids["arterial"])
    qtbot.waitUntil(
        lambda: (
            widget.binding.layer is not None
            and widget.controller.job is not None
            and 2 <= widget.controller.job.done < 6
        ),
        timeout=WAIT_MS,
    )
    layer = widget.binding.layer
    # slice 0 holds HU 10 already, the last slice is still the zero-filled buffer
    assert int(layer.data[0, 0, 0]) == 10
    assert int(layer.data[5, 0, 0]) == 0
    assert not widget.progress.isHidden() and 0 < widget.progress.value() < 6
    # the GUI thread is free while slices are decoded: it can move the slider
    viewer.dims.set_point(0, 102.5)
    assert ticks
    _wait_loaded(qtbot, widget)
    assert int(layer.data[5, 0, 0]) == 60
    assert widget.progress.isHidden()


def test_cancel_stops_loading_and_leaves_viewer_usable(
    make_napari_viewer, qtbot, three_phase, slow_loading
):
    root, uids = three_phase
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_folder(root, load_proposed=False)
    qtbot.waitUntil(lambda: bool(widget.controller.studies), timeout=WAIT_MS)
    widget.load_series(uids["arterial"])
    qtbot.waitUntil(
        lambda: widget.controller.job is not None and widget.controller.job.done >= 1,
        timeout=WAIT_MS,
    )
    assert not widget.cancel_button.isHidden()
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: widget.controller.job is None, timeout=WAIT_MS)
    assert "cancelled" in widget.status.text()
    assert len(viewer.layers) == 0  # a half-filled series is not left on screen
    assert widget.controller.current is None
    assert widget.progress.isHidden()
    widget.load_series(uids["portal_venous"])  # and the next load works
    layer = _wait_loaded(qtbot, widget)
    assert layer.name.endswith("AX PORTAL VENOUS")


def test_corrupt_folder_shows_message_and_viewer_stays_usable(
    make_napari_viewer, qtbot, corrupt_folder, three_phase
):
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    n = len(notification_manager.records)
    widget.open_folder(corrupt_folder)
    qtbot.waitUntil(lambda: widget.status.text().startswith("⚠"), timeout=WAIT_MS)
    message = widget.status.text()
    assert "Traceback" not in message
    assert (
        "truncat" in message.lower() or "corrupt" in message.lower() or "cannot" in message.lower()
    )
    assert any(message[2:] in m for m in _messages_since(n))  # the same words as a notification
    assert len(viewer.layers) == 0
    widget.open_folder(three_phase[0])  # the viewer is still usable
    layer = _wait_loaded(qtbot, widget)
    assert layer.name == "HCC-901 arterial AX ARTERIAL"


def test_folder_without_images_is_explained(make_napari_viewer, qtbot, no_image_folder):
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_folder(no_image_folder)
    qtbot.waitUntil(lambda: widget.status.text().startswith("⚠"), timeout=WAIT_MS)
    assert "No image series found" in widget.status.text()
    assert len(viewer.layers) == 0


def test_unsure_phase_asks_the_reader(make_napari_viewer, qtbot, drops, unsure_folder):
    root, _uids = unsure_folder
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_folder(root)
    qtbot.waitUntil(lambda: "pick the series" in widget.status.text().lower(), timeout=WAIT_MS)
    assert len(viewer.layers) == 0
    assert "★" not in widget.tree.topLevelItem(0).child(0).text(0)
    # the reader plugin gives napari nothing to show, with the same request
    n = len(notification_manager.records)
    assert viewer.open(str(root), plugin="napari-readerstation") == []
    assert any("arterial" in m for m in _messages_since(n))


def test_launcher_docks_widget_and_loads_first_subject(
    make_napari_viewer, qtbot, three_phase, tmp_path
):
    root, uids = three_phase
    viewer = make_napari_viewer()
    widget = launch(viewer, root, tmp_path / "trial.sqlite")
    assert "Reading" in viewer.window.dock_widgets
    layer = _wait_loaded(qtbot, widget)
    assert layer.metadata["readerstation"].info.series_uid == uids["arterial"]
    assert widget.db_label.text() == f"Store: sqlite:///{tmp_path / 'trial.sqlite'}"
    assert (tmp_path / "trial.sqlite").is_file()  # the Measure dock opened (created) it


def test_launcher_default_store_is_the_embedded_default(monkeypatch):
    monkeypatch.delenv("READERSTATION_DB", raising=False)
    assert to_store_url(None) == "sqlite:///var/readerstation.sqlite"
    assert build_parser().parse_args([]).db is None
    monkeypatch.setenv("READERSTATION_DB", "postgresql://u:secret@db/trial")
    assert to_store_url(None) == "postgresql://u:secret@db/trial"
    assert to_store_url("x/trial.sqlite") == "sqlite:///x/trial.sqlite"


def test_launcher_refuses_missing_folder(tmp_path, capsys):
    assert main([str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_closing_the_dock_while_loading_does_not_crash(
    make_napari_viewer, qtbot, three_phase, slow_loading
):
    root, uids = three_phase
    viewer = make_napari_viewer()
    widget = ReadingWidget(viewer, ReadingController())
    dock = viewer.window.add_dock_widget(widget, name="Reading")
    widget.open_folder(root, load_proposed=False)
    qtbot.waitUntil(lambda: bool(widget.controller.studies), timeout=WAIT_MS)
    controller = widget.controller
    worker = widget.load_series(uids["arterial"])
    qtbot.waitUntil(
        lambda: controller.job is not None and controller.job.done >= 1, timeout=WAIT_MS
    )
    viewer.window.remove_dock_widget(dock)
    with qtbot.waitSignal(widget.destroyed, timeout=WAIT_MS):
        widget.deleteLater()
    qtbot.waitUntil(lambda: not worker.is_running, timeout=WAIT_MS)  # stopped, nothing raised
    qtbot.wait(100)  # let its queued results arrive at the (deleted) widget
    assert controller.job is None and controller.current is None  # the load was cancelled
    assert len(viewer.layers) == 0  # and its half-filled layer removed
    viewer.add_points([[0, 0, 0]])  # the viewer is still usable
    assert len(viewer.layers) == 1
