"""The "PACS" dock: query a subject on a DICOMweb PACS, pull a series with progress, open it.

The widget owns no state: it renders :class:`~napari_readerstation._pacs_controller.PacsController`
and turns gestures into its calls (the scripted equivalents are listed in that module). Network
work runs in napari ``thread_worker`` threads; the retrieval's progress callback runs in the
worker and reaches the progress bar through a Qt signal (queued onto the GUI thread). A pulled
series is opened by the Reading dock (:meth:`ReadingWidget.load_series`), exactly as a series
of a local folder: same layer, window, metadata panel and measuring.

Keyboard: Enter in the URL field connects, Enter in the subject field queries, Enter (or a
double-click) on a series pulls and opens it, Esc cancels a pull; Alt+O / Alt+Q / Alt+P press
Connect / Query / Pull & open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari.qt.threading import thread_worker
from napari.utils import notifications
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QFont
from qtpy.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_readerstation._pacs_controller import (
    PACS_URL_ENV,
    PacsController,
    PacsRow,
    PullJob,
    QueryResult,
    SourceFactory,
    check_connection,
    fetch_query,
)
from napari_readerstation._widget import ReadingWidget, _Failure, describe_phase
from readerstation.dicom.phase import Phase

__all__ = ["PacsWidget", "add_pacs_dock", "make_pacs_widget"]

_log = logging.getLogger(__name__)
_UID_ROLE = Qt.ItemDataRole.UserRole + 1
_COLUMNS = ("Date", "Visit", "Mod", "Description", "Images", "Phase", "Cache")
_DESCRIPTION_COLUMN = 3
_CACHE_COLUMN = 6
_ARTERIAL_BRUSH = QBrush(QColor(60, 110, 60))
_CACHED_COLOUR = QColor(120, 200, 120)
_ERROR_STYLE = "color: #ff8c69"


class _Relay(QObject):
    """Carries a worker thread's progress callback to the GUI thread (a queued connection)."""

    progress = Signal(int, int)


class PacsWidget(QWidget):
    """Dock widget: DICOMweb PACS query, pull with progress and Cancel, open in the Reading dock.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (the Reading dock draws in it).
    reading : ReadingWidget
        The Reading dock that opens pulled series.
    controller : PacsController, optional
        The PACS session; by default one on ``reading.controller`` with ``url``, ``cache_dir``
        and ``source_factory``.
    url : str, optional
        DICOMweb base URL (default ``$READERSTATION_PACS_URL``).
    cache_dir : path-like, optional
        Cache root (default ``$READERSTATION_PACS_CACHE`` or ``var/pacs-cache``).
    source_factory : callable ``(url, cache_dir) -> DicomWebSource``, optional
        Builds the PACS client for a URL typed in the dock.
    """

    def __init__(
        self,
        napari_viewer: Any,
        reading: ReadingWidget,
        controller: PacsController | None = None,
        *,
        url: str | None = None,
        cache_dir: str | Path | None = None,
        source_factory: SourceFactory | None = None,
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.reading = reading
        self.controller = controller or PacsController(
            reading.controller, url=url, cache_dir=cache_dir, source_factory=source_factory
        )
        self._workers: list[Any] = []
        self._alive = True
        self._build()
        c = self.controller
        self._connections: list[tuple[Any, Callable[..., Any]]] = [
            (c.connected, self._on_connected),
            (c.queried, self._on_queried),
            (c.pull_started, self._on_pull_started),
            (c.pulled, self._on_pulled),
            (c.pull_cancelled, self._on_pull_cancelled),
            (c.failed, self._on_failed),
            (reading.controller.series_loaded, self._on_opened),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        self.destroyed.connect(_make_disconnector(self))
        if c.url:
            self.url_edit.setText(c.url)
        if c.result is not None:
            self._on_queried(c.result)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        font = self.font()
        font.setPointSizeF(max(font.pointSizeF(), 10.5))
        self.setFont(font)
        self.setMinimumWidth(560)  # the series description must be readable
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("http://127.0.0.1:8042/dicom-web")
        self.url_edit.setToolTip(
            f"DICOMweb base URL of the PACS (default ${PACS_URL_ENV}); Enter connects"
        )
        self.url_edit.returnPressed.connect(self.connect_pacs)
        self.connect_button = QPushButton("C&onnect")
        self.connect_button.setToolTip("Check that the PACS answers (Enter in the URL, Alt+O)")
        self.connect_button.clicked.connect(self.connect_pacs)
        url_label = QLabel("&PACS")
        url_label.setBuddy(self.url_edit)
        grid.addWidget(url_label, 0, 0)
        grid.addWidget(self.url_edit, 0, 1)
        grid.addWidget(self.connect_button, 0, 2)
        self.subject_edit = QLineEdit()
        self.subject_edit.setPlaceholderText("trial code, e.g. HCC-001")
        self.subject_edit.setToolTip(
            "The subject's trial code (PatientID on the PACS); Enter lists its series"
        )
        self.subject_edit.returnPressed.connect(self.query)
        self.query_button = QPushButton("&Query")
        self.query_button.setToolTip("List the subject's studies and series (Enter, Alt+Q)")
        self.query_button.clicked.connect(self.query)
        subject_label = QLabel("&Subject")
        subject_label.setBuddy(self.subject_edit)
        grid.addWidget(subject_label, 1, 0)
        grid.addWidget(self.subject_edit, 1, 1)
        grid.addWidget(self.query_button, 1, 2)
        layout.addLayout(grid)
        self.cache_label = QLabel(f"Cache: {self.controller.cache_dir.resolve()}")
        self.cache_label.setStyleSheet("color: gray")
        self.cache_label.setWordWrap(True)
        layout.addWidget(self.cache_label)

        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(False)
        vertical = self.table.verticalHeader()
        if vertical is not None:
            vertical.setVisible(False)
        header = self.table.horizontalHeader()
        if header is not None:
            for col in range(len(_COLUMNS)):
                mode = QHeaderView.ResizeMode.ResizeToContents
                if col == _DESCRIPTION_COLUMN:
                    mode = QHeaderView.ResizeMode.Stretch
                header.setSectionResizeMode(col, mode)
        tips = {
            1: "StudyID (the timepoint label)",
            4: "instances in the series",
            5: "contrast phase: a hint from the description (cached: from the headers); "
            "★ = first arterial series",
            6: "cached: opens without the PACS",
        }
        for col, tip in tips.items():
            item = self.table.horizontalHeaderItem(col)
            if item is not None:
                item.setToolTip(tip)
        self.table.setToolTip("Enter or double-click: pull and open the series (Esc cancels)")
        self.table.activated.connect(lambda index: self.pull_selected())
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.table)
        self._fit_table_height()

        actions = QHBoxLayout()
        self.pull_button = QPushButton("&Pull && open")
        self.pull_button.setToolTip(
            "Retrieve the selected series into the cache and open it in the Reading dock "
            "(Enter on the series, Alt+P); a cached series opens at once"
        )
        self.pull_button.clicked.connect(lambda: self.pull_selected())
        self.pull_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m images")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the pull; nothing is kept in the cache (Esc)")
        self.cancel_button.clicked.connect(self.controller.cancel_pull)
        actions.addWidget(self.pull_button)
        actions.addWidget(self.progress, 1)
        actions.addWidget(self.cancel_button)
        layout.addLayout(actions)

        self.status = QLabel(
            "Type the PACS URL and a subject's trial code, then Query."
            if not self.controller.url
            else "Type a subject's trial code and press Enter."
        )
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        layout.addStretch(1)  # the actions stay right under the table
        self._set_busy(False)
        self.table.itemSelectionChanged.connect(self._on_selection)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(_ERROR_STYLE if error else "")

    def _set_busy(self, busy: bool, *, indeterminate: bool = False) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy and not indeterminate)
        if indeterminate:
            self.progress.setRange(0, 0)

    def keyPressEvent(self, event: Any) -> None:
        """Esc anywhere in the dock (fields, table, buttons) cancels the pull in progress."""
        if event.key() == Qt.Key.Key_Escape and self.controller.cancel_pull():
            event.accept()
            return
        super().keyPressEvent(event)

    @property
    def busy(self) -> bool:
        """True while a connection check, query or pull runs in a worker thread."""
        return bool(self._workers)

    # ------------------------------------------------------------------ gestures -> controller
    def _take_url(self) -> bool:
        """Adopt the URL typed in the field; False (message shown) when it is unusable."""
        try:
            self.controller.set_url(self.url_edit.text())
        except Exception as exc:
            self.controller.report(exc)
            return False
        return True

    def connect_pacs(self) -> Any | None:
        """Check that the PACS at the typed URL answers (GUI: Connect). Returns the worker."""
        if not self._take_url():
            return None
        try:
            source = self.controller.source_for(None)
        except Exception as exc:
            self.controller.report(exc)
            return None
        self._say(f"Connecting to {source.url} …")
        self._set_busy(True, indeterminate=True)

        @thread_worker(start_thread=False)
        def check() -> Any:
            try:
                check_connection(source)
            except Exception as exc:
                return _Failure(exc)
            return source.url

        def done(result: Any) -> None:
            self._idle_unless_pulling()
            if isinstance(result, _Failure):
                self.controller.report(result.exc)
            else:
                self.controller.adopt_connection(str(result))

        return self._start(check(), done)

    def query(self, subject: str | None = None) -> Any | None:
        """List ``subject``'s (default: the typed one) series (GUI: Query). Returns the worker."""
        if subject is not None:
            self.subject_edit.setText(subject)
        if not self._take_url():
            return None
        try:
            query_source, pull_source, code = self.controller.prepare_query(
                self.subject_edit.text()
            )
        except Exception as exc:
            self.controller.report(exc)
            return None
        cache_dir = self.controller.cache_dir
        self._say(f"Querying {query_source.url} for {code} …")
        self._set_busy(True, indeterminate=True)

        @thread_worker(start_thread=False)
        def ask() -> Any:
            try:
                return fetch_query(query_source, pull_source, code, cache_dir)
            except Exception as exc:  # the cache could not be read, or a bug: a message
                return _Failure(exc)

        def done(result: Any) -> None:
            self._idle_unless_pulling()
            if isinstance(result, _Failure):
                self.controller.report(result.exc)
            else:
                self.controller.adopt_query(result)

        return self._start(ask(), done)

    def selected_series_uid(self) -> str | None:
        """SeriesInstanceUID of the selected row."""
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        uid = item.data(_UID_ROLE) if item is not None else None
        return str(uid) if uid else None

    def pull_selected(self, series_uid: str | None = None) -> Any | None:
        """Pull ``series_uid`` (default: the selected one) and open it (GUI: Pull & open).

        Returns the worker, or None when refused (message shown).
        """
        uid = series_uid or self.selected_series_uid()
        if uid is None:
            self._say("Select a series in the table first (query a subject to list them).")
            return None
        try:
            job = self.controller.start_pull(uid)
        except Exception as exc:
            self.controller.report(exc)
            return None
        relay = _Relay()
        relay.progress.connect(lambda done, total: self._on_progress(job, done, total))

        @thread_worker(start_thread=False)
        def pull() -> Any:
            try:
                job.pull_now(progress=relay.progress.emit)
            except BaseException as exc:  # LoadCancelled, PacsError, OSError ...
                return _Failure(exc)
            return None

        controller = self.controller  # the result reaches the model even after the dock closed

        def done(result: Any) -> None:
            relay.progress.disconnect()
            if isinstance(result, _Failure):
                controller.fail_pull(job, result.exc)
            else:
                controller.finish_pull(job)

        return self._start(pull(), done, needs_widget=False)

    def _start(self, worker: Any, done: Callable[[Any], None], needs_widget: bool = True) -> Any:
        """Start ``worker`` with ``done`` (guarded) on its result; keep it until it finishes."""
        controller = self.controller

        def on_returned(value: Any) -> None:
            if needs_widget and not self._alive:
                return
            try:
                done(value)
            except Exception as exc:  # never an exception in a Qt slot (aborts PyQt)
                _log.debug("PACS dock callback failed", exc_info=True)
                controller.report(exc)

        self._workers.append(worker)
        worker.returned.connect(on_returned)
        worker.finished.connect(
            lambda: self._workers.remove(worker) if worker in self._workers else None
        )
        worker.start()
        return worker

    def _idle_unless_pulling(self) -> None:
        if self.controller.job is None:
            self._set_busy(False)

    # ------------------------------------------------------------------ controller -> view
    def _on_connected(self, url: str) -> None:
        self._say(f"Connected to {url}. Type a subject's trial code and press Enter.")
        self.url_edit.setText(url)
        self.subject_edit.setFocus()

    def _render_rows(self, rows: tuple[PacsRow, ...]) -> PacsRow | None:
        """Fill the table with ``rows``; returns the proposed (first arterial) row."""
        self.table.setRowCount(0)
        proposed = self.controller.proposed_row()
        previous = None
        for row in rows:
            first_of_study = previous is None or previous.study_uid != row.study_uid
            is_proposed = proposed is not None and row.series_uid == proposed.series_uid
            self._add_row(row, is_proposed, first_of_study)
            previous = row
        self._fit_table_height()
        return proposed

    def _on_queried(self, result: QueryResult) -> None:
        proposed = self._render_rows(result.rows)
        n_studies = len({r.study_uid for r in result.rows})
        cached = sum(r.cached for r in result.rows)
        if not result.rows:
            self._say(f"{result.subject}: no studies on the PACS at {result.url}.")
        else:
            self._say(
                f"{result.subject}: {len(result.rows)} series in {n_studies} "
                f"stud{'y' if n_studies == 1 else 'ies'} ({cached} cached). Enter on a series "
                "pulls and opens it."
            )
        if proposed is not None or result.rows:
            target = proposed.series_uid if proposed is not None else result.rows[0].series_uid
            self._select(target)
            self.table.setFocus()
        self._on_selection()

    def _fit_table_height(self, max_rows: int = 14) -> None:
        """Size the table to its rows (4 to ``max_rows``; more scroll)."""
        header = self.table.horizontalHeader()
        head = header.height() if header is not None and header.height() > 0 else 28
        vertical = self.table.verticalHeader()
        row = vertical.defaultSectionSize() if vertical is not None else 28
        n = min(max(self.table.rowCount(), 4), max_rows)
        frame = 2 * self.table.frameWidth() + 4
        height = head + n * row + frame
        self.table.setMinimumHeight(height)
        self.table.setMaximumHeight(head + max_rows * row + frame)

    def _add_row(self, row: PacsRow, proposed: bool, first_of_study: bool = True) -> None:
        index = self.table.rowCount()
        self.table.insertRow(index)
        phase = describe_phase(row.phase)
        cache = "cached" if row.cached else ""
        if row.cached and not row.on_pacs:
            cache = "cached (offline)"
        values = (
            (row.study_date or "—") if first_of_study else "",  # one date per study
            (row.study_id or "—") if first_of_study else "",
            row.modality or "—",
            row.description or "(no description)",
            "" if row.n_images is None else str(row.n_images),
            ("★ " if proposed else "") + phase,
            cache,
        )
        tooltip = f"{row.label}\nSeriesInstanceUID {row.series_uid}\n" + (
            "in the local cache: opens without the PACS" if row.cached else "on the PACS only"
        )
        for col, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setToolTip(tooltip)
            if col in (4,):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if col == _CACHE_COLUMN and row.cached:
                item.setForeground(QBrush(_CACHED_COLOUR))
            if proposed and row.phase == Phase.ARTERIAL:
                font = QFont(self.font())
                font.setBold(True)
                item.setFont(font)
                item.setForeground(QBrush(QColor("white")))
                item.setBackground(_ARTERIAL_BRUSH)
            self.table.setItem(index, col, item)
        first = self.table.item(index, 0)
        if first is not None:
            first.setData(_UID_ROLE, row.series_uid)

    def _select(self, series_uid: str) -> None:
        for index in range(self.table.rowCount()):
            item = self.table.item(index, 0)
            if item is not None and item.data(_UID_ROLE) == series_uid:
                self.table.setCurrentCell(index, 0)
                return

    def _on_selection(self) -> None:
        uid = self.selected_series_uid()
        self.pull_button.setEnabled(uid is not None)
        if uid is None:
            return
        try:
            row = self.controller.find_row(uid)
        except Exception:  # the table and the model disagree for a moment: no label
            return
        self.pull_button.setText("&Open (cached)" if row.cached else "&Pull && open")

    def _on_pull_started(self, job: PullJob) -> None:
        self._set_busy(True)
        self.progress.setRange(0, job.total)  # (0, 0): busy bar while the count is unknown
        self.progress.setValue(0)
        verb = "Opening cached" if job.row.cached else "Pulling"
        self._say(f"{verb} {job.row.label} …")
        self._select(job.series_uid)

    def _on_progress(self, job: PullJob, done: int, total: int) -> None:
        if not self._alive or self.controller.job is not job:
            return
        self.progress.setMaximum(max(total, 0))  # 0 (PACS gave no count): a busy bar
        self.progress.setValue(done)

    def _on_pulled(self, job: PullJob) -> None:
        self._set_busy(False)
        self._render_rows(self.controller.rows)  # the row is marked cached now
        self._select(job.series_uid)
        self._say(f"{job.row.label}: {job.done} images in the cache; opening in the Reading dock …")
        self.reading.load_series(job.series_uid)

    def _on_opened(self, opened: Any) -> None:
        """The Reading dock shows a series: say so when it is the one just pulled."""
        files = getattr(opened.info, "files", ())
        cache = self.controller.cache_dir.resolve()
        if files and Path(files[0]).resolve().is_relative_to(cache) and self.controller.job is None:
            self._say(f"Showing {opened.layer_name} (from the cache, as a local series).")

    def _on_pull_cancelled(self, job: PullJob) -> None:
        self._set_busy(False)
        self._say(
            f"Pull of {job.row.label} cancelled after {job.done} of {job.total or '?'} images; "
            "nothing was kept in the cache."
        )

    def _on_failed(self, message: str) -> None:
        if self.controller.job is None:
            self._set_busy(False)
        self._say(f"⚠ {message}", error=True)
        notifications.show_error(message)


def _make_disconnector(widget: PacsWidget) -> Callable[..., None]:
    """A callback that unhooks ``widget`` from its controller once its Qt object is destroyed;
    a pull in progress is cancelled (its worker ends with the next instance)."""
    controller, connections = widget.controller, widget._connections

    def disconnect(*_: Any) -> None:
        widget._alive = False
        controller.cancel_pull()
        for signal, slot in connections:
            signal.disconnect(slot, missing_ok=True)
        connections.clear()

    return disconnect


def _find_or_add_reading_dock(viewer: Any, area: str = "right") -> ReadingWidget:
    """The viewer's Reading dock, docked in ``area`` when it has none."""
    docks = getattr(getattr(viewer, "window", None), "dock_widgets", {})
    reading = next((w for w in docks.values() if isinstance(w, ReadingWidget)), None)
    if reading is None:
        reading = ReadingWidget(viewer)
        viewer.window.add_dock_widget(reading, name="Reading", area=area)
    return reading


def add_pacs_dock(
    viewer: Any,
    reading: ReadingWidget | None = None,
    *,
    url: str | None = None,
    cache_dir: str | Path | None = None,
    source_factory: SourceFactory | None = None,
    area: str = "right",
) -> PacsWidget:
    """Dock a PACS widget in ``viewer`` next to ``reading`` (found, or docked when absent)."""
    if reading is None:
        reading = _find_or_add_reading_dock(viewer, area)
    widget = PacsWidget(
        viewer, reading, url=url, cache_dir=cache_dir, source_factory=source_factory
    )
    viewer.window.add_dock_widget(widget, name="PACS", area=area, tabify=True)
    return widget


def make_pacs_widget(napari_viewer: Any) -> PacsWidget:
    """npe2 widget factory: the PACS dock on the viewer's Reading dock (docked when absent),
    URL from ``$READERSTATION_PACS_URL``, cache from ``$READERSTATION_PACS_CACHE``."""
    return PacsWidget(napari_viewer, _find_or_add_reading_dock(napari_viewer))
