"""The Adjudication dock in a real napari viewer (under Xvfb) on a real SQLite store holding the
sample trial read twice (``reader1`` / ``reader2``, signed through the store; the designed
differences are in ``readerstation.reading.dual_sample.SAMPLE_DUAL_DESIGN``).

Truths: the store's discrepancies and blinded packet (``Repository.list_discrepancies`` /
``adjudication_packet``), the lines' LPS end points in the packet, the designed discrepancies
(HCC-002 and HCC-003 need adjudication under both criteria, HCC-001 does not), and the store's
audit chain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from napari_readerstation._adjudication_binding import READ_COLOURS, derive_timeline_rows
from napari_readerstation._adjudication_widget import SHORTCUTS, AdjudicationWidget
from napari_readerstation.launch import DEMO_ADJUDICATOR, seed_demo_store
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QLineEdit, QTableWidget

from readerstation.reading import DEMO_PASSWORD, DicomFolderSource
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
WAIT_MS = 30_000


@pytest.fixture
def dual(make_napari_viewer, tmp_path):
    if not (SAMPLE / "ground_truth.json").is_file():
        pytest.skip("sample_dicom missing: run `make sample`")
    store = open_store(f"sqlite:///{tmp_path / 'dual.sqlite'}")
    assert seed_demo_store(store, SAMPLE, dual=True, kdf=FAST_KDF)
    viewer = make_napari_viewer()
    widget = AdjudicationWidget(viewer, store, DicomFolderSource(SAMPLE), kdf=FAST_KDF)
    viewer.window.add_dock_widget(widget, name="Adjudication", area="right")
    yield viewer, widget, store
    store.close()


def _texts(widget) -> list[str]:
    """Every text the dock shows (labels, fields, table cells)."""
    out = [w.text() for w in widget.findChildren(QLabel)]
    out += [w.text() for w in widget.findChildren(QLineEdit)]
    for t in widget.findChildren(QTableWidget):
        out += [
            t.item(r, c).text()
            for r in range(t.rowCount())
            for c in range(t.columnCount())
            if t.item(r, c) is not None
        ]
    return out


def _row_of(table: QTableWidget, *cells: str) -> int:
    for r in range(table.rowCount()):
        if tuple(table.item(r, c).text() for c in range(len(cells))) == cells:
            return r
    raise AssertionError(f"no row {cells}")


def test_reader_cannot_use_the_adjudication_dock(dual) -> None:
    _, widget, _ = dual
    assert not widget.login("reader1", DEMO_PASSWORD)  # the store refuses the list
    assert "adjudicator" in widget.message_label.text(), widget.message_label.text()
    assert widget.discrepancy_table.rowCount() == 0
    assert not widget.open_packet("HCC-003")
    assert widget.packet is None


def test_packet_is_blinded_drawn_in_two_colours_and_adjudicated(dual, qtbot) -> None:
    viewer, widget, store = dual
    qtbot.keyClicks(widget.user_edit, DEMO_ADJUDICATOR)
    qtbot.keyClicks(widget.password_edit, DEMO_PASSWORD)
    qtbot.keyClick(widget.password_edit, Qt.Key.Key_Return)
    assert widget.user_label.text() == "adjudicator (adjudicator)", widget.message_label.text()
    repo = Repository.login(store, DEMO_ADJUDICATOR, DEMO_PASSWORD, kdf=FAST_KDF)
    expected = {(d.subject, d.criteria) for d in repo.list_discrepancies()}
    assert expected == {(s, c) for s in ("HCC-002", "HCC-003") for c in ("recist1.1", "mrecist")}
    t = widget.discrepancy_table
    assert t.rowCount() == 4
    assert {(t.item(r, 0).text(), t.item(r, 3).text()) for r in range(4)} == {
        ("HCC-002", "open"),
        ("HCC-003", "open"),
    }

    # keyboard: choose HCC-003 RECIST 1.1, Enter opens the packet and its differing timepoint
    t.setCurrentCell(_row_of(t, "HCC-003", "RECIST 1.1"), 0)
    qtbot.keyClick(t, Qt.Key.Key_Return)
    assert widget.packet is not None and widget.packet["subject"] == "HCC-003"
    qtbot.waitUntil(lambda: not widget.busy, timeout=WAIT_MS)
    assert widget.binding.shown == ("HCC-003", "TP1")  # the missed new lesion's timepoint
    assert [lay.name for lay in viewer.layers] == [
        "HCC-003/TP1 adjudication",
        "Read A lines",
        "Read B lines",
    ]

    # blinded: no reader name anywhere in the dock, the layers or the packet
    for text in [*_texts(widget), *(lay.name for lay in viewer.layers)]:
        assert "reader1" not in text and "reader2" not in text, text
    assert "reader" not in repr(widget.packet).replace("reader_", "")

    # two colours, and each read's lines where the packet puts them (LPS mm, 1e-3)
    colours = {k: widget.binding.line_layers[k].edge_color for k in "AB"}
    for k in "AB":
        expected_rgb = np.array([int(READ_COLOURS[k][i : i + 2], 16) / 255 for i in (1, 3, 5)])
        assert np.allclose(colours[k][:, :3], expected_rgb, atol=1e-2)
        tp = next(x for x in widget.packet["reads"][k]["timepoints"] if x["label"] == "TP1")
        want = [
            np.asarray(les[key], float)
            for les in tp["lesions"]
            for key in ("long_axis_points", "short_axis_points", "viable_points")
            if les.get(key)
        ]
        got = [pts for _, _, pts in widget.binding.line_points(k)]
        assert len(got) == len(want) > 0
        for g, w in zip(got, want, strict=True):
            assert np.allclose(g, w, atol=1e-3)
    # only one read called the new lesion: flagged in the lesion table and shown first
    lt = widget.lesion_table
    flagged = [
        (lt.item(r, 0).text(), lt.item(r, 1).text())
        for r in range(lt.rowCount())
        if lt.item(r, 0).toolTip()
    ]
    assert len(flagged) == 1 and flagged[0][1].startswith(("NEW", "NL")), flagged
    assert lt.currentRow() >= 0 and lt.item(lt.currentRow(), 1).text() == flagged[0][1]

    # the side-by-side timeline: the differing TP1 responses are highlighted
    panel = widget.panels["recist1.1"]
    rows = derive_timeline_rows(widget.packet, "recist1.1")
    assert [panel.timeline.item(r, 0).text() for r in range(len(rows))] == [
        r.timepoint for r in rows
    ]
    differing = [r for r in range(len(rows)) if panel.timeline.item(r, 4).toolTip()]
    assert [rows[r].timepoint for r in differing] == ["TP1"]
    flagged_outcomes = {
        panel.outcomes.item(r, 0).text()
        for r in range(panel.outcomes.rowCount())
        if panel.outcomes.item(r, 0).toolTip()
    }
    assert flagged_outcomes == {"Best overall response *", "Date of progression *"}

    # the reads are read-only here: an edit snaps back with a message
    layer = widget.binding.line_layers["A"]
    before = [d.copy() for d in layer.data]
    layer.add_lines([before[0] + np.array([0.0, 5.0, 5.0])])
    assert "cannot change" in widget.message_label.text()
    assert len(layer.data) == len(before)

    # another timepoint from the keyboard shortcut's method
    widget.step_timepoint(1)
    qtbot.waitUntil(lambda: not widget.busy, timeout=WAIT_MS)
    assert widget.binding.shown == ("HCC-003", "TP2")

    # nothing is preselected (a default read would nudge the adjudicator): Sign asks to choose
    panel = widget.panels["recist1.1"]
    assert panel.endorse_combo.currentText() == "" and panel.reason_combo.currentData() is None
    assert panel.reason_combo.itemText(0) == "lesion selection"  # words, not stored codes
    widget._on_sign_clicked("recist1.1")
    assert "choose the read to endorse (A or B) and a reason" in widget.message_label.text()
    # endorse A with a reason and a note; the wrong password first
    assert not widget.adjudicate("recist1.1", "A", "new_lesion_call", "NL seen", "wrong pw")
    assert "wrong password" in widget.message_label.text()
    assert widget.adjudicate("recist1.1", "A", "new_lesion_call", "NL seen at TP1", DEMO_PASSWORD)
    assert "read A endorsed" in widget.message_label.text()
    assert "adjudicated: read A endorsed" in widget.panels["recist1.1"].status_label.text()
    assert not widget.panels["recist1.1"].sign_button.isEnabled()
    assert widget.panels["mrecist"].sign_button.isEnabled()  # still open
    status = {(d.subject, d.criteria): d.status for d in repo.list_discrepancies()}
    assert status[("HCC-003", "recist1.1")] == "resolved"
    assert status[("HCC-003", "mrecist")] == "open"
    r = _row_of(t, "HCC-003", "RECIST 1.1")
    assert t.item(r, 3).text() == "resolved"

    admin = Repository.login(store, "admin", DEMO_PASSWORD, kdf=FAST_KDF)
    accepted = {a.subject: a for a in admin.accepted_reads("recist1.1")}
    assert accepted["HCC-003"].basis == "adjudication"
    assert accepted["HCC-001"].basis == "charter"
    check = admin.verify_audit()
    assert check.intact, check
    events = [e for e in admin.list_audit() if e.actor == DEMO_ADJUDICATOR]
    assert [e.outcome for e in events if e.action == "adjudicate"] == ["refused", "ok"]
    assert "Alt+D" in SHORTCUTS and set(SHORTCUTS) == set(widget.shortcuts)


def test_launcher_demo_dual_docks_adjudication_and_monitoring(make_napari_viewer, tmp_path):
    """``napari-readerstation --demo-dual``: seeded store, both docks, demo adjudicator in."""
    from napari_readerstation._monitoring_widget import MonitoringWidget
    from napari_readerstation.launch import build_parser, launch_dual

    if not (SAMPLE / "ground_truth.json").is_file():
        pytest.skip("sample_dicom missing: run `make sample`")
    assert build_parser().parse_args(["--demo-dual"]).demo_dual
    viewer = make_napari_viewer()
    widget = launch_dual(viewer, SAMPLE, tmp_path / "demo-dual.sqlite")
    assert widget.user_label.text() == "adjudicator (adjudicator)"
    assert widget.discrepancy_table.rowCount() == 4
    (monitoring,) = [
        w for w in viewer.window.dock_widgets.values() if isinstance(w, MonitoringWidget)
    ]
    assert monitoring.report is not None
    # a second launch on the same store does not seed again
    again = launch_dual(make_napari_viewer(), SAMPLE, tmp_path / "demo-dual.sqlite")
    assert again.discrepancy_table.rowCount() == 4
