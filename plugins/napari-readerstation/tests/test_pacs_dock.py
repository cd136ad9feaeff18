"""The PACS dock against a real Orthanc (DICOMweb), in a real napari viewer under Xvfb.

The test process starts its own throw-away Orthanc with ``scripts/orthanc.sh`` (127.0.0.1,
temporary storage, free port) and stops it at the end; sample subject HCC-001 (two timepoints)
and a synthetic subject HCC-903 whose PatientName is a (fake) name are stored on it with STOW-RS.
Without Orthanc the tests skip, except under ``CI`` where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_builder import SYNTHETIC_NAME, write_three_phase_study
from napari_readerstation._pacs_controller import PacsController
from napari_readerstation._pacs_widget import PacsWidget, add_pacs_dock, make_pacs_widget
from napari_readerstation._widget import ReadingWidget
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QApplication, QLabel, QLineEdit, QPushButton

from readerstation.dicom import load_series
from readerstation.dicom.pacs import DicomWebSource

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "orthanc.sh"
SUBJECT = ROOT / "sample_dicom" / "HCC-001"
TIMEPOINTS = ("TP0_baseline", "TP1_week06")
N_SLICES = 61
WAIT_MS = 30000


# --------------------------------------------------------------------------- the PACS
def _start_orthanc(folder: Path) -> str:
    proc = subprocess.run(
        ["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, check=False
    )
    if proc.returncode == 3:
        reason = f"Orthanc is not installed ({proc.stderr.strip()})"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}; .ci/run must install it", pytrace=False)
        pytest.skip(reason)
    if proc.returncode != 0:
        pytest.fail(f"could not start Orthanc: {proc.stderr}", pytrace=False)
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def orthanc_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DICOMweb URL of an Orthanc started for these tests (stopped afterwards)."""
    folder = tmp_path_factory.mktemp("orthanc") / "server"
    url = _start_orthanc(folder)
    try:
        yield url
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], check=False, capture_output=True)


@pytest.fixture(scope="module")
def uploaded(orthanc_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Series folders stored on the Orthanc, by name (``TP0_baseline/3_arterial``,
    ``HCC-903/arterial``)."""
    if not SUBJECT.is_dir():
        pytest.skip(f"{SUBJECT} missing: run `make sample`")
    folders = {f"{tp}/{f.name}": f for tp in TIMEPOINTS for f in sorted((SUBJECT / tp).iterdir())}
    named = tmp_path_factory.mktemp("named")
    uids = write_three_phase_study(named, "HCC-903")  # PatientName = SYNTHETIC_NAME
    folders["HCC-903/arterial"] = named / "HCC-903" / "20240115" / "s2"
    result = DicomWebSource(orthanc_url).push(
        [*(v for k, v in folders.items() if not k.startswith("HCC-903")), named]
    )
    assert len(result.stored) == N_SLICES * 6 + 3 * 6
    assert uids["arterial"] == _uid(folders["HCC-903/arterial"])
    return folders


def _uid(folder: Path) -> str:
    return str(
        pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID
    )


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return f"http://127.0.0.1:{port}/dicom-web"  # nothing listens there any more


# --------------------------------------------------------------------------- the docks
@pytest.fixture
def docks(make_napari_viewer, qtbot):
    """``make(url, cache_dir)`` -> (viewer, ReadingWidget, PacsWidget), docked; at teardown
    every worker of every dock made is waited for (a worker outliving its viewer aborts PyQt)."""
    made: list[tuple[ReadingWidget, PacsWidget]] = []

    def make(url: str | None, cache_dir: Path):
        viewer = make_napari_viewer()
        reading = ReadingWidget(viewer)
        viewer.window.add_dock_widget(reading, name="Reading", area="right")
        pacs = PacsWidget(viewer, reading, url=url, cache_dir=cache_dir)
        viewer.window.add_dock_widget(pacs, name="PACS", area="right", tabify=True)
        made.append((reading, pacs))
        return viewer, reading, pacs

    yield make
    for reading, pacs in made:
        pacs.controller.cancel_pull()
        reading.controller.cancel_loading()
    qtbot.waitUntil(lambda: all(not p.busy and not r._workers for r, p in made), timeout=WAIT_MS)


def _query(qtbot, pacs: PacsWidget, subject: str) -> None:
    """Type ``subject`` and press Enter in the subject field; wait for the answer."""
    with qtbot.waitSignal(pacs.controller.queried, timeout=WAIT_MS):
        pacs.subject_edit.setText(subject)
        qtbot.keyClick(pacs.subject_edit, Qt.Key.Key_Return)


def _cell(pacs: PacsWidget, row: int, col: int) -> str:
    item = pacs.table.item(row, col)
    return item.text() if item is not None else ""


def _row_of(pacs: PacsWidget, series_uid: str) -> int:
    return next(r for r, row in enumerate(pacs.controller.rows) if row.series_uid == series_uid)


def _texts(widget) -> list[str]:
    """Every text and tooltip the dock shows (labels, fields, buttons, table cells, headers)."""
    out = [widget.toolTip()]
    for child in widget.findChildren((QLabel, QLineEdit, QPushButton)):
        out += [child.text(), child.toolTip()]
    if isinstance(widget, PacsWidget):
        for r in range(widget.table.rowCount()):
            for c in range(widget.table.columnCount()):
                item = widget.table.item(r, c)
                out += [item.text(), item.toolTip()] if item is not None else []
    return out


def _wait_opened(qtbot, reading: ReadingWidget, series_uid: str):
    qtbot.waitUntil(
        lambda: (
            reading.controller.current is not None
            and reading.controller.current.info.series_uid == series_uid
        ),
        timeout=WAIT_MS,
    )
    return reading.binding.layer


# --------------------------------------------------------------------------- tests
def test_query_lists_the_subjects_series_and_proposes_arterial(
    docks, qtbot, orthanc_url, uploaded, tmp_path
):
    viewer, _reading, pacs = docks(None, tmp_path / "cache")
    assert pacs.controller.url is None
    # the URL typed in the dock, Enter connects
    pacs.url_edit.setText(orthanc_url + "/")
    with qtbot.waitSignal(pacs.controller.connected, timeout=WAIT_MS):
        qtbot.keyClick(pacs.url_edit, Qt.Key.Key_Return)
    assert pacs.controller.url == orthanc_url
    assert "Connected to " + orthanc_url in pacs.status.text()
    _query(qtbot, pacs, "HCC-001")
    assert pacs.table.rowCount() == 6
    # one date and visit per study (the rows below it belong to it)
    assert [_cell(pacs, r, 1) for r in range(6)] == ["TP0", "", "", "TP1", "", ""]
    dates = [_cell(pacs, r, 0) for r in (0, 3)]
    assert dates == sorted(dates) and all(len(d) == 10 and d[4] == "-" for d in dates)
    assert [_cell(pacs, r, 0) for r in (1, 2, 4, 5)] == [""] * 4
    assert [r.study_date for r in pacs.controller.rows] == [dates[0]] * 3 + [dates[1]] * 3
    assert {_cell(pacs, r, 2) for r in range(6)} == {"CT"}
    assert [_cell(pacs, r, 4) for r in range(6)] == [str(N_SLICES)] * 6
    phases = [_cell(pacs, r, 5) for r in range(6)]
    assert phases == [
        "non-contrast",
        "★ arterial",
        "portal venous",
        "non-contrast",
        "arterial",
        "portal venous",
    ]
    assert [_cell(pacs, r, 6) for r in range(6)] == [""] * 6  # nothing cached yet
    # the proposed series (first arterial) is selected and the table has the focus: Enter pulls
    assert pacs.selected_series_uid() == _uid(uploaded["TP0_baseline/3_arterial"])
    assert pacs.pull_button.isEnabled() and "Pull" in pacs.pull_button.text()
    assert "HCC-001: 6 series in 2 studies (0 cached)" in pacs.status.text()
    assert len(viewer.layers) == 0  # a query never loads anything

    _query(qtbot, pacs, "HCC-999")
    assert pacs.table.rowCount() == 0 and "no studies" in pacs.status.text()
    pacs.subject_edit.setText("../etc")  # a subject code names a cache folder: refused
    assert pacs.query() is None
    assert "not a trial code" in pacs.status.text()


def test_pull_and_open_shows_the_series_as_if_loaded_from_disk(
    docks, qtbot, orthanc_url, uploaded, tmp_path
):
    _viewer, reading, pacs = docks(orthanc_url, tmp_path / "cache")
    folder = uploaded["TP0_baseline/3_arterial"]
    uid = _uid(folder)
    _query(qtbot, pacs, "HCC-001")
    seen: list[tuple[int, int, bool]] = []
    original = pacs._on_progress

    def record(job, done, total):
        seen.append((done, total, threading.current_thread() is threading.main_thread()))
        original(job, done, total)

    pacs._on_progress = record  # the relay looks the slot up at each call
    assert pacs.selected_series_uid() == uid
    with qtbot.waitSignal(pacs.controller.pulled, timeout=WAIT_MS):
        qtbot.keyClick(pacs.table, Qt.Key.Key_Return)  # Enter on the proposed series
    layer = _wait_opened(qtbot, reading, uid)
    # progress reached the GUI thread, instance by instance
    assert [(d, t) for d, t, _ in seen] == [(k, N_SLICES) for k in range(N_SLICES + 1)]
    assert all(main for *_, main in seen)
    # in the cache under the subject's code, nothing else there
    cache = tmp_path / "cache" / "HCC-001"
    assert sorted(p.name for p in cache.iterdir()) == [uid]
    assert len(list((cache / uid).iterdir())) == N_SLICES
    # the same layer as from disk: name, voxels, scale, translate, affine (world = patient mm)
    assert layer.name == "HCC-001 arterial " + reading.controller.current.info.description
    assert tuple(layer.contrast_limits) == (15.0, 165.0)  # the Reading dock's liver window
    pulled = {
        "data": np.array(layer.data),
        "scale": np.array(layer.scale),
        "translate": np.array(layer.translate),
        "affine": np.array(layer.affine.affine_matrix),
        "world": np.array(layer.data_to_world((30, 100, 200))),
        "name": layer.name,
    }
    assert reading.controller.folder == cache  # before the disk load replaces the browser
    assert pacs.status.text() == f"Showing {layer.name} (from the cache, as a local series)."
    assert reading.meta["Subject"].text() == "HCC-001"
    with qtbot.waitSignal(reading.controller.folder_indexed, timeout=WAIT_MS):
        reading.open_folder(folder.parent, load_proposed=False)
    reading.load_series(uid)
    qtbot.waitUntil(lambda: reading.controller.job is None, timeout=WAIT_MS)
    disk = reading.binding.layer
    assert disk is not layer and reading.controller.current.info.files[0].is_relative_to(folder)
    assert disk.name == pulled["name"]
    assert np.array_equal(np.asarray(disk.data), pulled["data"])
    np.testing.assert_allclose(disk.scale, pulled["scale"])
    np.testing.assert_allclose(disk.translate, pulled["translate"])
    np.testing.assert_allclose(disk.affine.affine_matrix, pulled["affine"])
    np.testing.assert_allclose(disk.data_to_world((30, 100, 200)), pulled["world"])
    # the row is marked cached, and opens again without a transfer
    assert _cell(pacs, _row_of(pacs, uid), 6) == "cached"
    assert pacs.pull_button.text() == "&Open (cached)"


def test_cancel_mid_pull_keeps_nothing_and_the_viewer_responds(
    docks, qtbot, orthanc_url, uploaded, tmp_path, monkeypatch
):
    from readerstation.dicom import pacs as pacs_module

    original = pacs_module._write_part

    def slow_write(*args, **kwargs):
        time.sleep(0.08)  # 61 instances: about 5 s, time to press Esc
        return original(*args, **kwargs)

    monkeypatch.setattr(pacs_module, "_write_part", slow_write)
    viewer, reading, pacs = docks(orthanc_url, tmp_path / "cache")
    uid = _uid(uploaded["TP1_week06/3_arterial"])
    _query(qtbot, pacs, "HCC-001")
    worker = pacs.pull_selected(uid)
    assert worker is not None and not pacs.cancel_button.isHidden()
    qtbot.waitUntil(lambda: pacs.progress.value() >= 5, timeout=WAIT_MS)
    # the GUI thread runs while the pull goes on: a timer fires, the viewer moves
    ticks: list[int] = []
    QTimer.singleShot(0, lambda: ticks.append(pacs.progress.value()))
    viewer.dims.ndim = 3
    viewer.dims.set_point(0, 1.0)
    qtbot.waitUntil(lambda: bool(ticks), timeout=WAIT_MS)
    assert ticks[0] < N_SLICES and viewer.dims.point[0] == 1.0
    with qtbot.waitSignal(pacs.controller.pull_cancelled, timeout=WAIT_MS):
        qtbot.keyClick(pacs.table, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not pacs.busy, timeout=WAIT_MS)
    assert "cancelled after" in pacs.status.text() and "nothing was kept" in pacs.status.text()
    cache = tmp_path / "cache" / "HCC-001"
    assert not cache.exists() or list(cache.iterdir()) == []  # no series folder, no .partial-*
    assert not pacs.progress.isVisible() and not not pacs.cancel_button.isHidden()
    assert len(viewer.layers) == 0 and reading.controller.current is None
    assert _cell(pacs, _row_of(pacs, uid), 6) == ""
    # and the dock keeps working: the next query answers
    _query(qtbot, pacs, "HCC-001")
    assert pacs.table.rowCount() == 6


def test_pacs_down_says_so_and_cached_series_still_open(
    docks, qtbot, orthanc_url, uploaded, tmp_path
):
    cache = tmp_path / "cache"
    uid = _uid(uploaded["TP0_baseline/3_arterial"])
    # an earlier session pulled the arterial series (scripted equivalent, no GUI)
    DicomWebSource(orthanc_url, cache_dir=cache / "HCC-001").retrieve_series(uid)
    dead = _dead_url()
    _viewer, reading, pacs = docks(dead, cache)
    assert pacs.url_edit.text() == dead
    with qtbot.waitSignal(pacs.controller.failed, timeout=WAIT_MS) as blocker:
        pacs.connect_pacs()
    assert dead in blocker.args[0] and "cannot connect" in blocker.args[0]
    qtbot.waitUntil(lambda: not pacs.busy, timeout=WAIT_MS)
    assert dead in pacs.status.text() and pacs.status.styleSheet()

    with qtbot.waitSignal(pacs.controller.failed, timeout=WAIT_MS) as blocker:
        pacs.subject_edit.setText("HCC-001")
        qtbot.keyClick(pacs.subject_edit, Qt.Key.Key_Return)
    message = blocker.args[0]
    assert message.startswith("PACS unavailable") and dead in message
    assert "cached series of HCC-001 listed below still open" in message
    assert message in pacs.status.text()
    # the cached series is offered, with what its headers say
    assert pacs.table.rowCount() == 1
    assert _cell(pacs, 0, 6) == "cached (offline)"
    assert _cell(pacs, 0, 5) == "★ arterial" and _cell(pacs, 0, 4) == str(N_SLICES)
    assert pacs.pull_button.text() == "&Open (cached)"
    with qtbot.waitSignal(pacs.controller.pulled, timeout=WAIT_MS):
        qtbot.keyClick(pacs.table, Qt.Key.Key_Return)
    layer = _wait_opened(qtbot, reading, uid)
    assert layer.name.startswith("HCC-001 arterial")
    assert np.array_equal(
        np.asarray(layer.data), load_series(uploaded["TP0_baseline/3_arterial"]).array
    )
    # nothing cached for that subject: the message says so, nothing to list
    controller = PacsController(reading.controller, url=dead, cache_dir=tmp_path / "empty")
    result = controller.query("HCC-001")
    assert result.offline and result.rows == ()


def test_refusing_pacs_gets_a_clear_message(docks, qtbot, orthanc_url, uploaded, tmp_path):
    wrong = orthanc_url.replace("/dicom-web", "/no-such-root")
    _viewer, _reading, pacs = docks(wrong, tmp_path / "cache")
    with qtbot.waitSignal(pacs.controller.failed, timeout=WAIT_MS) as blocker:
        pacs.query("HCC-001")
    message = blocker.args[0]
    assert wrong in message and "HTTP 404" in message and "/dicom-web" in message
    assert "No series of HCC-001 is in the local cache" in message
    qtbot.waitUntil(lambda: not pacs.busy, timeout=WAIT_MS)
    assert pacs.table.rowCount() == 0 and not pacs.pull_button.isEnabled()
    assert "Traceback" not in pacs.status.text()


def test_patient_names_never_appear(docks, qtbot, orthanc_url, uploaded, tmp_path):
    viewer, reading, pacs = docks(orthanc_url, tmp_path / "cache")
    _query(qtbot, pacs, "HCC-903")
    assert pacs.table.rowCount() == 3
    uid = _uid(uploaded["HCC-903/arterial"])
    assert pacs.selected_series_uid() == uid  # the arterial hint from the description
    with qtbot.waitSignal(pacs.controller.pulled, timeout=WAIT_MS):
        pacs.pull_selected()
    layer = _wait_opened(qtbot, reading, uid)
    shown = _texts(pacs) + _texts(reading) + [layer.name] + [w.name for w in viewer.layers]
    for part in SYNTHETIC_NAME.split("^"):
        assert not any(part.lower() in text.lower() for text in shown if text), part
    assert layer.name.startswith("HCC-903 arterial")


def test_scripted_query_and_pull_and_open(orthanc_url, uploaded, tmp_path):
    from napari_readerstation._controller import ReadingController

    reading = ReadingController()
    pacs = PacsController(reading, url=orthanc_url, cache_dir=tmp_path / "cache")
    assert pacs.connect() == orthanc_url
    result = pacs.query("HCC-001")
    assert not result.offline and len(result.rows) == 6
    proposed = pacs.proposed_row()
    assert proposed is not None and proposed.study_id == "TP0"
    opened = pacs.pull_and_open(proposed.series_uid)
    assert opened.subject == "HCC-001" and opened.info.series_uid == proposed.series_uid
    assert opened.volume.shape[0] == N_SLICES
    assert pacs.find_row(proposed.series_uid).cached and pacs.job is None
    assert "1 cached" in repr(pacs.result)


def test_dock_from_npe2_and_launcher_helper_finds_the_reading_dock(
    make_napari_viewer, qtbot, monkeypatch, tmp_path
):
    monkeypatch.setenv("READERSTATION_PACS_URL", "http://127.0.0.1:1/dicom-web")
    monkeypatch.setenv("READERSTATION_PACS_CACHE", str(tmp_path / "c"))
    viewer = make_napari_viewer()
    widget = make_pacs_widget(viewer)  # no Reading dock yet: it is docked too
    reading = viewer.window.dock_widgets["Reading"]
    assert widget.reading is reading
    assert widget.url_edit.text() == "http://127.0.0.1:1/dicom-web"
    assert widget.controller.cache_dir == tmp_path / "c"
    other = add_pacs_dock(viewer, url="http://example.org/dicom-web")
    assert other.reading is reading and viewer.window.dock_widgets["PACS"] is other
    # the launcher docks it beside its Reading dock when a site PACS is configured
    from napari_readerstation.launch import launch

    second = make_napari_viewer()
    launched = launch(second, None)
    pacs = second.window.dock_widgets["PACS"]
    assert pacs.reading is launched and pacs.url_edit.text() == "http://127.0.0.1:1/dicom-web"
    # tooltips document the keys
    assert "Enter" in widget.url_edit.toolTip() and "Esc" in widget.table.toolTip()
    assert "Alt+P" in widget.pull_button.toolTip()
    QApplication.processEvents()
