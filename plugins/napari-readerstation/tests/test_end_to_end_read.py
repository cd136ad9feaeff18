"""One reader's day in a real napari viewer (run under Xvfb), end to end through the Measure dock:
log in, open a sample case from the worklist, draw the long-axis and viable lines through the
layer API (the adapter path a real drawing takes), check the millimetres against the sample
trial's ground truth, sign with the password, reopen the case, try to change it (refused with a
message, nothing lost), and check the store's hash-chained audit trail.

Truths: ``sample_dicom/ground_truth.json`` (end points in LPS mm, diameters, the arterial
SOPInstanceUID of the lesion's slice), the adapter's documented convention for an axial series
(world axes (S, P, L) = LPS reversed) and the store's audit action names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from napari_readerstation._measure_widget import LESION_COLUMNS, MeasureWidget
from qtpy.QtCore import Qt
from sample_truth import load_sample_truth

from readerstation.model import ReadStatus
from readerstation.reading import DicomFolderSource, LineKind, seed_sample_trial
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "demo-e2e-password"
WAIT_MS = 30_000


def _truth() -> dict:
    doc = load_sample_truth()
    assert doc["subjects"][0]["subject"] == "HCC-001"
    return doc


def _voxel_mm(doc: dict) -> float:
    """One voxel's diagonal in the image plane (the tolerance of a hand-drawn end point)."""
    return float(np.hypot(*np.asarray(doc["grid"]["pixel_spacing_mm"], float)))


def _to_layer_data(layer, points_lps) -> np.ndarray:
    # axial series: napari world axes are (S, P, L), i.e. LPS reversed (see _adapter.py)
    return np.array([layer.world_to_data(np.asarray(p, float)[::-1]) for p in points_lps])


def _row(widget: MeasureWidget, label: str) -> dict[str, str]:
    t = widget.lesion_table
    for r in range(t.rowCount()):
        if t.item(r, 0).text() == label:
            return {c: t.item(r, i).text() for i, c in enumerate(LESION_COLUMNS)}
    raise AssertionError(f"no lesion row {label}")


def _worklist_row(widget: MeasureWidget, subject: str, timepoint: str) -> int:
    t = widget.worklist_table
    for r in range(t.rowCount()):
        if (t.item(r, 0).text(), t.item(r, 1).text()) == (subject, timepoint):
            return r
    raise AssertionError(f"{subject}/{timepoint} not in the worklist")


def _open_from_worklist(qtbot, widget: MeasureWidget, subject: str, timepoint: str) -> None:
    """Select the worklist row and press Open, as the reader does; wait until it is shown."""
    widget.worklist_table.selectRow(_worklist_row(widget, subject, timepoint))
    qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
    assert widget.busy, widget.message_label.text()
    qtbot.waitUntil(lambda: not widget.busy, timeout=WAIT_MS)
    assert "opened" in widget.message_label.text(), widget.message_label.text()


def test_login_measure_sign_reopen_immutable_audited(make_napari_viewer, qtbot, tmp_path) -> None:
    doc = _truth()
    tp0 = next(t for t in doc["subjects"][0]["timepoints"] if t["timepoint"] == "TP0")
    t1 = next(x for x in tp0["lesions"] if x["lesion"] == "T1")
    voxel = _voxel_mm(doc)
    store = open_store(f"sqlite:///{tmp_path / 'e2e.sqlite'}")
    seed_sample_trial(store, SAMPLE, password=PASSWORD, kdf=FAST_KDF)
    viewer = make_napari_viewer()
    widget = MeasureWidget(viewer, store, DicomFolderSource(SAMPLE), kdf=FAST_KDF)
    viewer.window.add_dock_widget(widget, name="Measure", area="right")

    # -- log in through the dock (typing, then Enter in the password field); a typo first
    qtbot.keyClicks(widget.user_edit, "reader1")
    qtbot.keyClicks(widget.password_edit, PASSWORD + "x")
    qtbot.mouseClick(widget.login_button, Qt.MouseButton.LeftButton)
    assert "wrong password" in widget.message_label.text()
    assert widget.user_label.text() == "not logged in" and widget.worklist_table.rowCount() == 0
    widget.password_edit.clear()
    qtbot.keyClicks(widget.password_edit, PASSWORD)
    qtbot.keyClick(widget.password_edit, Qt.Key.Key_Return)
    assert widget.user_label.text() == "reader1 (reader)", widget.message_label.text()
    assert widget.password_edit.text() == ""  # never left in the field
    row = _worklist_row(widget, "HCC-001", "TP0")
    assert widget.worklist_table.item(row, 3).text() == "to do"

    # -- open the baseline and measure T1 through the layer API
    _open_from_worklist(qtbot, widget, "HCC-001", "TP0")
    assert widget.binding.image_layer in viewer.layers
    assert widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    for kind, key in (
        (LineKind.LONG, "long_axis_endpoints_lps_mm"),
        (LineKind.VIABLE, "viable_endpoints_lps_mm"),
    ):
        widget.select_kind(kind)
        layer = widget.binding.layers[kind]
        assert viewer.layers.selection.active is layer and layer.mode == "add_line"
        layer.add_lines([_to_layer_data(layer, t1[key])])
    shown = _row(widget, "T1")
    assert float(shown["Long mm"]) == pytest.approx(t1["long_axis_mm"], abs=voxel)
    assert float(shown["Viable mm"]) == pytest.approx(t1["viable_long_axis_mm"], abs=voxel)
    repo = Repository.login(store, "reader1", PASSWORD, kdf=FAST_KDF)
    (summary,) = repo.list_reads("HCC-001", latest_only=True)
    draft = repo.get_read(summary.read_id)
    assert draft.status is ReadStatus.DRAFT  # autosaved before any sign
    m = draft.lesion("T1").measurement
    assert m.long_axis_mm == pytest.approx(t1["long_axis_mm"], abs=voxel)
    assert m.viable_long_axis_mm == pytest.approx(t1["viable_long_axis_mm"], abs=voxel)
    assert m.long_axis_line.sop_instance_uid == t1["arterial_sop_instance_uid"]

    # -- sign: a wrong password is refused, the right one locks the read
    assert "can be signed" in widget.findings_label.text()
    assert not widget.sign("not my password")
    assert "wrong password" in widget.message_label.text()
    assert widget.sign(PASSWORD)
    assert "signed" in widget.read_label.text()
    assert widget.worklist_table.item(row, 3).text() == "signed"
    signed = repo.get_read(repo.list_reads("HCC-001", latest_only=True)[0].read_id)
    assert signed.status is ReadStatus.SIGNED and signed.signed_at is not None

    # -- reopen the case (another task first, as after a break): the signed read comes back
    _open_from_worklist(qtbot, widget, "HCC-002", "TP0")
    _open_from_worklist(qtbot, widget, "HCC-001", "TP0")
    assert "signed" in widget.read_label.text()
    assert not widget.sign_button.isEnabled()
    long_layer = widget.binding.layers[LineKind.LONG]
    assert len(long_layer.data) == 1
    assert float(_row(widget, "T1")["Long mm"]) == pytest.approx(t1["long_axis_mm"], abs=voxel)

    # -- every kind of edit is refused with a message, and nothing is lost
    p0, p1 = (np.asarray(p, float) for p in t1["long_axis_endpoints_lps_mm"])
    data = [d.copy() for d in long_layer.data]
    data[0] = _to_layer_data(long_layer, [p0, p1 + np.array([8.0, 0.0, 0.0])])
    long_layer.data = data  # drag an end point
    assert "immutable" in widget.message_label.text()
    short_layer = widget.binding.layers[LineKind.SHORT]
    short_layer.add_lines([_to_layer_data(short_layer, t1["short_axis_endpoints_lps_mm"])])
    assert "immutable" in widget.message_label.text()
    assert not widget.add_lesion("T9", "target", "liver", liver_segment="II", typical_hcc=True)
    assert "immutable" in widget.message_label.text()
    assert "Traceback" not in widget.message_label.text()
    assert len(long_layer.data) == 1 and len(short_layer.data) == 0  # snapped back
    latest = repo.list_reads("HCC-001", latest_only=True)[0]
    assert latest.read_id == summary.read_id and latest.version == 1
    assert repo.get_read(latest.read_id) == signed
    assert [r.label for r in [a.lesion for a in signed.lesions]] == ["T1"]

    # -- the audit trail is intact and tells the story in order
    admin = Repository.login(store, "admin", PASSWORD, kdf=FAST_KDF)
    check = admin.verify_audit()
    assert check.intact, check
    events = [e for e in admin.list_audit() if e.actor == "reader1"]
    actions = [e.action for e in events]
    assert (events[0].action, events[0].outcome) == ("login", "refused"), actions
    assert "read.save_draft" in actions
    signs = [e for e in events if e.action == "read.sign"]
    # the wrong password first (refused, audited), then the one signature
    assert [e.outcome for e in signs] == ["refused", "ok"], [(e.action, e.outcome) for e in events]
    assert signs[1].entity_id == str(summary.read_id)
    drafts = [
        e for e in events if e.action == "read.save_draft" and e.entity_id == str(summary.read_id)
    ]
    assert drafts and all(e.seq < signs[1].seq for e in drafts)  # nothing written after signing
    # the refused edits of the signed read never reached the store as writes
    assert not [
        e
        for e in events
        if e.seq > signs[1].seq
        and e.entity_id == str(summary.read_id)
        and e.outcome == "ok"
        and e.action != "read.get"
    ]
    store.close()
