"""The Measure dock in a real napari viewer (run under Xvfb): lines drawn through the layer API
become LPS mm in the reader's draft, errors are shown in the dock, signing locks the read.

Truths: ``sample_dicom/ground_truth.json`` (end points in LPS mm, diameters), the adapter's
documented convention for an axial series (world axes (S, P, L) = LPS reversed), and hand
arithmetic for a dragged end point.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from napari_readerstation._measure_widget import LESION_COLUMNS, MeasureWidget
from sample_truth import load_sample_truth

from readerstation.reading import DicomFolderSource, LineKind, seed_sample_trial
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "demo-measure-pw"
VOXEL_MM = 1.5


def _truth_lesion(label: str) -> dict:
    doc = load_sample_truth()
    tp = doc["subjects"][0]["timepoints"][0]
    assert (doc["subjects"][0]["subject"], tp["timepoint"]) == ("HCC-001", "TP0")
    return next(x for x in tp["lesions"] if x["lesion"] == label)


@pytest.fixture(scope="module")
def images() -> DicomFolderSource:
    _truth_lesion("T1")
    return DicomFolderSource(SAMPLE)


@pytest.fixture
def dock(make_napari_viewer, tmp_path, images):
    store = open_store(f"sqlite:///{tmp_path / 'measure.sqlite'}")
    seed_sample_trial(store, SAMPLE, password=PASSWORD, kdf=FAST_KDF)
    viewer = make_napari_viewer()
    widget = MeasureWidget(viewer, store, images, user="reader1", kdf=FAST_KDF)
    viewer.window.add_dock_widget(widget, name="Measure", area="right")
    yield viewer, widget, store
    store.close()


def _lps_to_layer_data(layer, points_lps) -> np.ndarray:
    # axial series: napari world axes are (S, P, L), i.e. LPS reversed (see _adapter.py)
    return np.array([layer.world_to_data(np.asarray(p, float)[::-1]) for p in points_lps])


def _stored_t1(store):
    repo = Repository.login(store, "reader1", PASSWORD, kdf=FAST_KDF)
    latest = repo.list_reads("HCC-001", latest_only=True)[0]
    return repo.get_read(latest.read_id).lesion("T1")


def _open(qtbot, widget, subject: str, timepoint: str) -> None:
    """Open a task (off the GUI thread) and wait until it is shown."""
    assert widget.open_task(subject, timepoint) is not None, widget.message_label.text()
    qtbot.waitUntil(lambda: not widget.busy, timeout=30_000)
    assert "opened" in widget.message_label.text(), widget.message_label.text()


def _row(widget, label: str) -> dict[str, str]:
    t = widget.lesion_table
    for r in range(t.rowCount()):
        if t.item(r, 0).text() == label:
            return {c: t.item(r, i).text() for i, c in enumerate(LESION_COLUMNS)}
    raise AssertionError(f"no row {label}")


def test_login_refused_shows_message(dock, qtbot) -> None:
    _, widget, _ = dock
    assert not widget.login("reader1", "wrong password!")
    assert "wrong password" in widget.message_label.text()
    assert widget.worklist_table.rowCount() == 0
    assert widget.login("reader1", PASSWORD)
    assert widget.worklist_table.rowCount() == 12  # 3 subjects x 4 timepoints
    assert widget.worklist_table.item(0, 3).text() == "to do"


def test_lines_through_layer_api_are_saved_in_mm(dock, qtbot) -> None:
    viewer, widget, store = dock
    assert widget.login("reader1", PASSWORD)
    _open(qtbot, widget, "HCC-001", "TP0")
    assert widget.binding.image_layer in viewer.layers
    assert set(widget.binding.layers) == set(LineKind)
    assert widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)

    t1 = _truth_lesion("T1")
    long_layer = widget.binding.layers[LineKind.LONG]
    widget.select_kind("long")
    assert viewer.layers.selection.active is long_layer
    long_layer.add_lines([_lps_to_layer_data(long_layer, t1["long_axis_endpoints_lps_mm"])])
    saved = _stored_t1(store).measurement
    assert saved.long_axis_mm == pytest.approx(t1["long_axis_mm"], abs=VOXEL_MM)
    assert np.allclose(saved.long_axis_line.start, t1["long_axis_endpoints_lps_mm"][0], atol=1e-3)
    assert saved.long_axis_line.sop_instance_uid == t1["arterial_sop_instance_uid"]
    assert _row(widget, "T1")["Long mm"] == "60.0"

    viable_layer = widget.binding.layers[LineKind.VIABLE]
    viable_layer.add_lines([_lps_to_layer_data(viable_layer, t1["viable_endpoints_lps_mm"])])
    assert _stored_t1(store).measurement.viable_long_axis_mm == pytest.approx(52.0, abs=VOXEL_MM)
    assert _row(widget, "T1")["Viable mm"] == "52.0"

    # drag the end point 6 mm further left (LPS +x): hand-computed new length
    p0, p1 = (np.array(p) for p in t1["long_axis_endpoints_lps_mm"])
    moved = p1 + np.array([6.0, 0.0, 0.0])
    data = [d.copy() for d in long_layer.data]
    data[0] = _lps_to_layer_data(long_layer, [p0, moved])
    long_layer.data = data
    assert _stored_t1(store).measurement.long_axis_mm == pytest.approx(
        math.dist(p0, moved), abs=1e-3
    )
    assert len(long_layer.data) == 1


def test_bad_lines_are_refused_in_the_dock(dock, qtbot) -> None:
    _, widget, store = dock
    widget.login("reader1", PASSWORD)
    _open(qtbot, widget, "HCC-001", "TP0")
    widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    t1 = _truth_lesion("T1")
    layer = widget.binding.layers[LineKind.LONG]
    layer.add_lines([_lps_to_layer_data(layer, t1["long_axis_endpoints_lps_mm"])])
    before = _stored_t1(store)
    good = np.array(layer.data[0])

    p0, p1 = t1["long_axis_endpoints_lps_mm"]
    for bad, words in (
        ([p0, [p1[0], p1[1], p1[2] + 5.0]], "two different slices"),
        ([[p0[0] - 400.0, p0[1], p0[2]], p1], "outside the image"),
    ):
        layer.add_lines([_lps_to_layer_data(layer, bad)])
        assert words in widget.message_label.text()
        assert "Traceback" not in widget.message_label.text()
        assert _stored_t1(store) == before
        assert len(layer.data) == 1 and np.allclose(layer.data[0], good)

    widget.binding.active_lesion = None
    layer.add_lines([_lps_to_layer_data(layer, t1["long_axis_endpoints_lps_mm"])])
    assert "no lesion is selected" in widget.message_label.text()


def test_sign_locks_the_read(dock, qtbot) -> None:
    _, widget, store = dock
    widget.login("reader1", PASSWORD)
    _open(qtbot, widget, "HCC-001", "TP0")
    widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    t1 = _truth_lesion("T1")
    for kind, key in (
        (LineKind.LONG, "long_axis_endpoints_lps_mm"),
        (LineKind.VIABLE, "viable_endpoints_lps_mm"),
    ):
        layer = widget.binding.layers[kind]
        layer.add_lines([_lps_to_layer_data(layer, t1[key])])
    assert "can be signed" in widget.findings_label.text()
    assert widget.sign_button.isEnabled()
    assert not widget.sign("not the password")
    assert "wrong password" in widget.message_label.text()
    assert widget.sign(PASSWORD)
    assert "signed" in widget.read_label.text()
    assert widget.worklist_table.item(0, 3).text() == "signed"
    layer = widget.binding.layers[LineKind.SHORT]
    layer.add_lines([_lps_to_layer_data(layer, t1["short_axis_endpoints_lps_mm"])])
    assert "immutable" in widget.message_label.text()
    assert _stored_t1(store).measurement.short_axis_mm is None


def test_line_drawn_with_the_mouse_is_saved(dock, qtbot) -> None:
    """The path of a real drawing gesture: press, drag, release in ``add_line`` mode."""
    from napari.utils._test_utils import read_only_mouse_event
    from napari.utils.interactions import (
        mouse_move_callbacks,
        mouse_press_callbacks,
        mouse_release_callbacks,
    )

    viewer, widget, store = dock
    widget.login("reader1", PASSWORD)
    _open(qtbot, widget, "HCC-001", "TP0")
    widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    t1 = _truth_lesion("T1")
    p0, p1 = (np.asarray(p, float) for p in t1["long_axis_endpoints_lps_mm"])
    viewer.dims.set_point(0, p0[2])  # world axis 0 is S: show the lesion's slice
    widget.select_kind("long")
    layer = widget.binding.layers[LineKind.LONG]
    assert layer.mode == "add_line"
    # world positions (S, P, L) = LPS reversed for this axial series
    for kind, pos in (("mouse_press", p0), ("mouse_move", p1), ("mouse_release", p1)):
        event = read_only_mouse_event(
            type=kind,
            is_dragging=kind == "mouse_move",
            position=tuple(pos[::-1]),
            dims_displayed=[1, 2],
        )
        {
            "mouse_press": mouse_press_callbacks,
            "mouse_move": mouse_move_callbacks,
            "mouse_release": mouse_release_callbacks,
        }[kind](layer, event)
    saved = _stored_t1(store).measurement
    assert saved.long_axis_mm == pytest.approx(t1["long_axis_mm"], abs=VOXEL_MM)
    assert saved.long_axis_line.sop_instance_uid == t1["arterial_sop_instance_uid"]
    assert len(layer.data) == 1
