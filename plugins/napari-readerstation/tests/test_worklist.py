"""The reader's worklist in the Measure dock (real napari viewer under Xvfb, real SQLite store):
status per timepoint from the store (locked / to do / draft / signed), TP0.. labels and no dates
when the charter hides visit dates, a locked timepoint refused with a message, and the keyboard
path (arrow keys + Enter) that opens a case.

Truths: the store's worklist (``Repository.worklist``) and the charter the admin set.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from napari_readerstation._measure_widget import SHORTCUTS, MeasureWidget
from qtpy.QtCore import Qt

from readerstation.reading import DicomFolderSource, seed_sample_trial
from readerstation.reading.charter import Charter
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "demo-worklist-pw"
WAIT_MS = 30_000


@pytest.fixture
def dock(make_napari_viewer, tmp_path):
    if not (SAMPLE / "ground_truth.json").is_file():
        pytest.skip("sample_dicom missing: run `make sample`")
    store = open_store(f"sqlite:///{tmp_path / 'worklist.sqlite'}")
    seed_sample_trial(store, SAMPLE, password=PASSWORD, kdf=FAST_KDF)
    admin = Repository.login(store, "admin", PASSWORD, kdf=FAST_KDF)
    admin.set_charter(Charter(hide_visit_dates=True))
    viewer = make_napari_viewer()
    widget = MeasureWidget(viewer, store, DicomFolderSource(SAMPLE), kdf=FAST_KDF)
    viewer.window.add_dock_widget(widget, name="Measure", area="right")
    yield viewer, widget, store
    store.close()


def _table(widget: MeasureWidget) -> list[tuple[str, ...]]:
    t = widget.worklist_table
    return [tuple(t.item(r, c).text() for c in range(4)) for r in range(t.rowCount())]


def test_worklist_statuses_hidden_dates_locked_and_keyboard(dock, qtbot) -> None:
    _, widget, store = dock
    assert widget.login("reader1", PASSWORD)
    rows = _table(widget)
    assert len(rows) == 12  # 3 subjects x 4 timepoints
    assert rows[:4] == [
        ("HCC-001", "TP0", "hidden", "to do"),
        ("HCC-001", "TP1", "hidden", "locked"),
        ("HCC-001", "TP2", "hidden", "locked"),
        ("HCC-001", "TP3", "hidden", "locked"),
    ]
    # the store says the same
    items = Repository.login(store, "reader1", PASSWORD, kdf=FAST_KDF).worklist()
    assert [i.status for i in items[:4]] == ["todo", "locked", "locked", "locked"]
    assert all(i.scan_date is None for i in items)

    # a locked timepoint is refused with a message, from the keyboard too
    widget.worklist_table.setCurrentCell(1, 0)
    qtbot.keyClick(widget.worklist_table, Qt.Key.Key_Return)
    assert not widget.busy
    text = widget.message_label.text()
    assert "HCC-001/TP1 is locked" in text and "HCC-001/TP0 is signed" in text, text
    assert widget.open_task("HCC-001", "TP2") is None
    assert "locked" in widget.message_label.text()

    # arrow up + Enter opens the baseline: it becomes a draft
    qtbot.keyClick(widget.worklist_table, Qt.Key.Key_Up)
    assert widget.worklist_table.currentRow() == 0
    qtbot.keyClick(widget.worklist_table, Qt.Key.Key_Enter)
    assert widget.busy
    qtbot.waitUntil(lambda: not widget.busy, timeout=WAIT_MS)
    assert "opened" in widget.message_label.text(), widget.message_label.text()
    assert _table(widget)[0][3] == "draft"
    assert "Alt+W" in SHORTCUTS and "Alt+W" in widget.shortcuts
