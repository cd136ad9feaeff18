"""The reading workstation's layout and the reader's day in a real napari viewer (run under Xvfb).

What a radiologist reading case after case needs from the ``make run`` layout: the window fills
the screen, the Measure dock (worklist, lesion table, Sign) is whole and in front, the series
list has room, the prior / current grid cells hold the right layers even with the Reading dock's
own image in the viewer, and the dock's defaults (next task selected, next label proposed,
non-target status and new-lesion call) spare clicks. Structural checks only (no timing).

Truths: ``sample_dicom/ground_truth.json`` (lesion end points in LPS mm), the screen's geometry
as Qt reports it, and the store read back through a fresh Repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from napari_readerstation._measure_widget import MeasureWidget
from napari_readerstation._widget import TREE_MIN_ROWS
from napari_readerstation.launch import _fit_to_screen, launch, seed_demo_store
from qtpy.QtCore import QPoint, Qt
from qtpy.QtGui import QFontMetrics
from qtpy.QtWidgets import QApplication, QDockWidget
from sample_truth import load_sample_truth

from readerstation.model import NewLesionCall, NonTargetStatus
from readerstation.reading import DEMO_PASSWORD, LineKind
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
WAIT_MS = 30_000


def _timepoint(label: str) -> dict:
    doc = load_sample_truth()
    return next(t for t in doc["subjects"][0]["timepoints"] if t["timepoint"] == label)


def _dock_of(widget) -> QDockWidget:
    w = widget
    while w is not None and not isinstance(w, QDockWidget):
        w = w.parentWidget()
    assert w is not None
    return w


@pytest.fixture
def workstation(make_napari_viewer, tmp_path, qtbot):
    """``make run``: the launcher's layout on a demo store (seeded with cheap KDF parameters),
    the sample trial indexed and its proposed arterial series shown by the Reading dock."""
    _timepoint("TP0")
    db = tmp_path / "layout.sqlite"
    with open_store(f"sqlite:///{db}") as store:
        assert seed_demo_store(store, SAMPLE, kdf=FAST_KDF)
    viewer = make_napari_viewer(show=True)
    reading = launch(viewer, SAMPLE, db)
    _fit_to_screen(viewer)
    measure = next(w for w in QApplication.allWidgets() if isinstance(w, MeasureWidget))
    qtbot.waitUntil(
        lambda: reading.controller.current is not None and not reading._workers, timeout=WAIT_MS
    )
    yield viewer, reading, measure
    measure.store.close()


def _open(qtbot, widget: MeasureWidget, subject: str, timepoint: str) -> None:
    assert widget.open_task(subject, timepoint) is not None, widget.message_label.text()
    qtbot.waitUntil(lambda: not widget.busy, timeout=WAIT_MS)
    assert "opened" in widget.message_label.text(), widget.message_label.text()


def _read_baseline_in_the_dock(widget: MeasureWidget) -> None:
    """reader1's baseline of HCC-001 through the dock's methods: lesions, lines on the truth
    end points (the scripted equivalent of drawing), the non-target's status."""
    for les in _timepoint("TP0")["lesions"]:
        role = "target" if les["role"] == "TARGET" else "non_target"
        assert widget.add_lesion(
            les["lesion"], role, les["organ"], liver_segment=les["segment"], typical_hcc=True
        ), widget.message_label.text()
        if role == "target":
            uid = les["arterial_sop_instance_uid"]
            widget.session.set_line(les["lesion"], "long", *les["long_axis_endpoints_lps_mm"], uid)
            widget.session.set_line(les["lesion"], "viable", *les["viable_endpoints_lps_mm"], uid)
    widget.select_lesion("NT1")
    assert widget.set_state("present"), widget.message_label.text()


def test_make_run_fills_the_screen_with_the_measure_dock_whole_and_in_front(
    workstation, qtbot
) -> None:
    viewer, reading, measure = workstation
    window = viewer.window._qt_window
    screen = QApplication.primaryScreen().availableGeometry()
    qtbot.waitUntil(lambda: window.geometry().width() == screen.width(), timeout=5_000)
    assert window.geometry().height() <= screen.height()  # the bottom of the docks is on screen
    # the two docks are tabs of one area, the Measure one in front
    measure_dock, reading_dock = _dock_of(measure), _dock_of(reading)
    assert reading_dock in window.tabifiedDockWidgets(measure_dock)
    qtbot.waitUntil(lambda: not measure_dock.visibleRegion().isEmpty(), timeout=5_000)
    assert measure_dock.visibleRegion().isEmpty() is False
    # the Measure dock's essentials are within the window: Sign, a few worklist and lesion rows
    bottom = measure.sign_button.mapTo(window, QPoint(0, measure.sign_button.height())).y()
    assert measure.sign_button.isVisible() and bottom <= window.height()
    assert measure.worklist_table.height() >= measure.worklist_table.minimumHeight() > 0
    row = measure.worklist_table.verticalHeader().defaultSectionSize()
    assert measure.worklist_table.minimumHeight() >= 5 * row
    assert measure.lesion_table.minimumHeight() >= 5 * row
    # a long message (a refused signature lists every finding) scrolls in place: the window
    # stays on screen and the tables keep their rows
    measure.say("signing is blocked until these are fixed: " + "a finding; " * 300, error=True)
    measure.findings_label.setText("\n".join(f"BLOCKING finding {i}" for i in range(30)))
    qtbot.wait(200)
    assert window.geometry().height() <= screen.height()
    assert measure.lesion_table.height() >= measure.lesion_table.minimumHeight()
    bottom = measure.sign_button.mapTo(window, QPoint(0, measure.sign_button.height())).y()
    assert bottom <= window.height()
    # the series list has room for a study and its phases; the details fold away
    row_px = QFontMetrics(reading.tree.font()).height()
    assert reading.tree.minimumHeight() >= TREE_MIN_ROWS * row_px
    assert not reading.meta_box.isVisible()
    reading.show_details(True)
    assert reading.details_button.isChecked() and not reading.meta_box.isHidden()
    reading.details_button.click()
    assert reading.meta_box.isHidden()


def test_the_reading_day_in_the_make_run_layout(workstation, qtbot) -> None:
    viewer, reading, measure = workstation
    browse_layer = reading.binding.layer
    assert browse_layer is not None and browse_layer.visible
    # login: the first timepoint to read is selected, Enter opens it
    measure.password_edit.setText(DEMO_PASSWORD)
    measure.login_button.click()
    assert measure.worklist_table.currentRow() == 0
    assert measure.find_task("HCC-001", "TP0") is measure._tasks[0]
    qtbot.keyClick(measure.worklist_table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not measure.busy, timeout=WAIT_MS)
    assert "HCC-001/TP0 opened" in measure.message_label.text(), measure.message_label.text()
    binding = measure.binding
    # the Reading dock's image of the same series is hidden, not drawn under or over the read
    assert not browse_layer.visible and binding.image_layer.visible
    assert viewer.layers.selection.active is binding.image_layer
    assert measure.label_edit.text() == "T1"  # the next free label of the chosen role

    _read_baseline_in_the_dock(measure)
    # the lesion table speaks words, and the label field proposes the next one
    t = measure.lesion_table
    rows = {t.item(r, 0).text(): t.item(r, 1).text() for r in range(t.rowCount())}
    assert rows == {"T1": "target", "T2": "target", "NT1": "non-target"}
    assert measure.label_edit.text() == "T3"
    measure.role_combo.setCurrentIndex(measure.role_combo.findData("non_target"))
    assert measure.label_edit.text() == "NT2"
    assert measure.sign(DEMO_PASSWORD), measure.message_label.text()
    # signed: the next timepoint (now open to read) is selected and named
    assert "Next: HCC-001/TP1 (Enter opens it)" in measure.message_label.text()
    assert measure._tasks[measure.worklist_table.currentRow()].label == "TP1"

    # the follow-up: the prior's cell and the current cell hold their own layers only, although
    # the Reading dock's layer sits in the viewer (napari's grid fills cells by layer index)
    qtbot.keyClick(measure.worklist_table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not measure.busy, timeout=WAIT_MS)
    assert "prior TP0 (signed, read-only)" in measure.message_label.text()
    ours = binding.own_layers()
    assert list(viewer.layers)[: len(ours)] == ours
    assert not browse_layer.visible
    prior_cell, current_cell = (
        binding.cell_of(binding.prior_image_layer),
        binding.cell_of(binding.image_layer),
    )
    assert prior_cell is not None and current_cell is not None and prior_cell != current_cell
    # the follow-up has no line yet: its line layers are hidden until one is drawn on (F2)
    assert not any(layer.visible for layer in binding.layers.values())
    assert viewer.layers.selection.active is binding.image_layer
    measure.select_kind("long")
    long_layer = binding.layers[LineKind.LONG]
    assert long_layer.visible and long_layer.mode == "add_line"
    for layer in binding.layers.values():
        assert binding.cell_of(layer) in (current_cell, None), layer.name  # None: hidden
    assert binding.cell_of(long_layer) == current_cell
    for kind, layer in binding.prior_layers.items():
        # the baseline has long and viable lines, no short axis: that layer stays hidden (one
        # visible Shapes layer fewer to redraw when the layout changes)
        assert layer.visible is (kind is not LineKind.SHORT), layer.name
        if layer.visible:
            assert binding.cell_of(layer) == prior_cell, layer.name

    # a non-target's status and the new-lesion call from the dock
    measure.select_lesion("NT1")
    choices = [measure.state_combo.itemData(i) for i in range(measure.state_combo.count())]
    assert choices == [s.value for s in NonTargetStatus]
    measure.state_combo.setCurrentIndex(measure.state_combo.findData("absent"))
    measure.state_button.click()
    assert measure.message_label.text() == "NT1: absent"
    measure.select_lesion("T1")
    assert measure.state_combo.findData("too_small") >= 0  # a target's states again
    i = measure.new_lesions_combo.findData("equivocal")
    measure.new_lesions_combo.setCurrentIndex(i)
    measure.new_lesions_combo.activated.emit(i)
    assert measure.message_label.text() == "new lesions: equivocal"
    repo = Repository.login(measure.store, "reader1", DEMO_PASSWORD)
    summary = next(s for s in repo.list_reads("HCC-001", latest_only=True) if s.timepoint == "TP1")
    draft = repo.get_read(summary.read_id)
    assert draft.lesion("NT1").non_target_status is NonTargetStatus.ABSENT
    assert draft.new_lesion_call is NewLesionCall.EQUIVOCAL

    # back to a baseline: one view, the prior's layers hidden and their voxels dropped
    _open(qtbot, measure, "HCC-001", "TP0")
    assert not viewer.canvas.grid.enabled
    hidden_image, hidden_lines = binding._hidden_prior
    assert not hidden_image.visible and hidden_image.data.size == 1
    assert all(not layer.visible and len(layer.data) == 0 for layer in hidden_lines.values())
    assert binding.image_layer.visible and binding.prior_image_layer is None


def test_adjudicator_gets_the_next_discrepancy_selected_and_the_decision_in_view(
    make_napari_viewer, tmp_path, qtbot
) -> None:
    from napari_readerstation._adjudication_widget import AdjudicationWidget
    from qtpy.QtWidgets import QScrollArea

    from readerstation.reading import DicomFolderSource

    _timepoint("TP0")
    store = open_store(f"sqlite:///{tmp_path / 'dual.sqlite'}")
    assert seed_demo_store(store, SAMPLE, dual=True, kdf=FAST_KDF)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    widget = AdjudicationWidget(viewer, store, DicomFolderSource(SAMPLE), kdf=FAST_KDF)
    viewer.window.add_dock_widget(widget, name="Adjudication", area="right")
    try:
        assert widget.login("adjudicator", DEMO_PASSWORD)
        # the first open discrepancy is selected: Enter opens its packet
        row = widget.discrepancy_table.currentRow()
        assert row == 0 and widget.discrepancies[0].status == "open"
        subject, criteria = widget.discrepancies[0].subject, widget.discrepancies[0].criteria
        qtbot.keyClick(widget.discrepancy_table, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not widget.busy, timeout=WAIT_MS)
        assert widget.packet is not None and widget.packet["subject"] == subject
        # the dock scrolled to the packet: the decision (Sign) is within the visible part
        scroll = widget.findChild(QScrollArea)
        qtbot.waitUntil(
            lambda: (
                scroll.verticalScrollBar().value() > 0 or scroll.verticalScrollBar().maximum() == 0
            ),
            timeout=5_000,
        )
        panel = widget.panels[criteria]
        viewport = scroll.viewport()
        top = panel.sign_button.mapTo(viewport, QPoint(0, 0)).y()
        assert 0 <= top and top + panel.sign_button.height() <= viewport.height()
        # after a signed adjudication the next open discrepancy is selected
        assert widget.adjudicate(criteria, "A", "reader_error", "layout test", DEMO_PASSWORD)
        following = widget.discrepancies[widget.discrepancy_table.currentRow()]
        assert following.status == "open"
        assert (following.subject, following.criteria) != (subject, criteria)
    finally:
        store.close()
