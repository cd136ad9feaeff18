"""The "Reading" dock: series browser, series metadata, window presets, loading progress.

The widget owns no clinical state: it renders :class:`ReadingController` and turns gestures into
its methods (the scripted equivalents are listed in :mod:`napari_readerstation._controller`).
Slow work (indexing a folder, decoding a series) runs in napari ``thread_worker`` threads so the
viewer never freezes; errors appear in the status line and as a napari notification.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari.qt.threading import thread_worker
from napari.utils import notifications
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QBrush, QColor, QFont, QFontMetrics, QKeySequence
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QShortcut,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_readerstation._binding import ViewerBinding
from napari_readerstation._controller import (
    LoadJob,
    OpenSeries,
    ReadingController,
    StudyEntry,
    _iso_date,
    iter_folder_index,
)
from napari_readerstation._windows import WindowPreset
from readerstation import dicom

__all__ = ["TREE_MIN_ROWS", "ReadingWidget", "describe_orientation", "describe_phase"]

_log = logging.getLogger(__name__)
_SERIES_UID_ROLE = Qt.ItemDataRole.UserRole + 1
_PROPOSED_BRUSH = QBrush(QColor(60, 110, 60))
_PROGRESS_MS = 120
_COLUMNS = ("Phase", "Description", "Slices", "mm")
_DESCRIPTION_COLUMN = 1
#: Rows of the series list that are always visible (a study and its phases, with room).
TREE_MIN_ROWS = 8


def describe_phase(phase: Any) -> str:
    """ "portal venous", "non-contrast", "arterial": a phase as a radiologist writes it."""
    return {"non_contrast": "non-contrast"}.get(str(phase), str(phase).replace("_", " "))


@dataclass(frozen=True)
class _Failure:
    """An exception carried out of a worker as a value (a returned or raised exception would be
    re-raised by the worker and shown by napari with its traceback)."""

    exc: BaseException


def describe_orientation(orientation: Any) -> str:
    """ "axial", "coronal", "sagittal" or "oblique" from ImageOrientationPatient (6 cosines)."""
    try:
        cos = [float(v) for v in orientation]
    except (TypeError, ValueError):
        return "unknown"
    if len(cos) != 6:
        return "unknown"
    row, col = cos[:3], cos[3:]
    normal = [
        row[1] * col[2] - row[2] * col[1],
        row[2] * col[0] - row[0] * col[2],
        row[0] * col[1] - row[1] * col[0],
    ]
    axis = max(range(3), key=lambda i: abs(normal[i]))
    name = ("sagittal", "coronal", "axial")[axis]
    return name if abs(normal[axis]) > 0.95 else f"oblique (near {name})"


def _fmt_mm(values: Any, digits: int = 3) -> str:
    if values is None:
        return "—"
    try:
        return " × ".join(f"{float(v):.{digits}g}" for v in values)
    except TypeError:
        return f"{float(values):.{digits}g}"


def _fmt_pixel_and_thickness(info: Any) -> str:
    """``"0.7×0.8/2.5"`` (row × column pixel spacing / slice thickness, mm); one value for
    square pixels."""
    pixel = info.pixel_spacing_mm
    if pixel is None:
        text = "—"
    elif abs(float(pixel[0]) - float(pixel[1])) < 1e-6:
        text = f"{float(pixel[0]):.3g}"
    else:
        text = _fmt_mm(pixel)
    if info.slice_thickness_mm:
        text = f"{text} / {float(info.slice_thickness_mm):.3g}"
    return text.replace(" / ", "/").replace(" × ", "×")


class ReadingWidget(QWidget):
    """Dock widget of the reading workstation.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer to show series in (given by napari, or by the launcher).
    controller : ReadingController, optional
        The reading session; a new one when omitted.
    """

    def __init__(self, napari_viewer: Any, controller: ReadingController | None = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.controller = controller if controller is not None else ReadingController()
        self.binding = ViewerBinding(napari_viewer, self.controller)
        self._workers: list[Any] = []
        self._alive = True  # False once the Qt widget is destroyed: late worker results are dropped
        self._series_items: dict[str, QTreeWidgetItem] = {}
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(_PROGRESS_MS)
        self._timer.timeout.connect(self._on_tick)
        c = self.controller
        c.folder_indexed.connect(self._on_indexed)
        c.loading_started.connect(self._on_loading_started)
        c.series_planned.connect(self._on_planned)
        c.series_loaded.connect(self._on_loaded)
        c.loading_cancelled.connect(self._on_cancelled)
        c.failed.connect(self._on_failed)
        c.window_changed.connect(self._on_window)
        self._on_window(c.window)
        if c.studies:
            self._on_indexed(c.studies)
        self.destroyed.connect(_make_disconnector(self))

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        font = self.font()
        font.setPointSizeF(max(font.pointSizeF(), 10.5))
        self.setFont(font)
        self.setMinimumWidth(480)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        top = QHBoxLayout()
        self.folder_label = QLabel("No folder open")
        self.folder_label.setWordWrap(True)
        self.open_button = QPushButton("Open folder…")
        self.open_button.setToolTip("Index a DICOM folder (headers only) and list its series")
        self.open_button.clicked.connect(self._ask_folder)
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.open_button)
        layout.addLayout(top)
        self.db_label = QLabel(self._db_text())
        self.db_label.setStyleSheet("color: gray")
        layout.addWidget(self.db_label)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(_COLUMNS))
        self.tree.setHeaderLabels(list(_COLUMNS))
        header_item = self.tree.headerItem()
        if header_item is not None:
            header_item.setToolTip(3, "pixel spacing (row × column) / slice thickness, mm")
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        header = self.tree.header()
        if header is not None:  # always, for a QTreeWidget
            header.setStretchLastSection(False)
            for col in range(len(_COLUMNS)):
                mode = QHeaderView.ResizeMode.ResizeToContents
                if col == _DESCRIPTION_COLUMN:
                    mode = QHeaderView.ResizeMode.Stretch
                header.setSectionResizeMode(col, mode)
            # the study rows span all columns: size the phase column on phase words only
            bold = QFont(self.font())
            bold.setBold(True)
            phase_width = QFontMetrics(bold).horizontalAdvance("★ portal venous")
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(0, phase_width + self.tree.indentation() + 8)
        self.tree.setToolTip("Double-click or press Enter to load a series; ★ = proposed arterial")
        self.tree.itemActivated.connect(self._on_item_activated)
        # room for a study and its phases (~8 rows) however the docks are arranged
        row_height = QFontMetrics(self.font()).height() + 6
        self.tree.setMinimumHeight(int(row_height * (TREE_MIN_ROWS + 1.5)))
        layout.addWidget(self.tree, 3)

        self.status = QLabel("Open a DICOM folder to start.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        prog = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m slices")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel_button)
        layout.addLayout(prog)
        self._set_busy(False)

        win_box = QGroupBox("Window")
        win_layout = QHBoxLayout(win_box)
        win_layout.setContentsMargins(4, 4, 4, 4)
        self.window_buttons: dict[str, QPushButton] = {}
        for preset in self.controller.windows:
            button = QPushButton(preset.name)
            button.setCheckable(True)
            button.setToolTip(f"{preset} ({preset.shortcut})" if preset.shortcut else str(preset))
            button.clicked.connect(lambda _=False, p=preset: self._apply_window(p))
            win_layout.addWidget(button)
            self.window_buttons[preset.name] = button
            if preset.shortcut:
                shortcut = QShortcut(QKeySequence(preset.shortcut), self)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(lambda p=preset: self._apply_window(p))
        self.window_label = QLabel()
        self.window_label.setStyleSheet("color: gray")
        layout.addWidget(win_box)
        layout.addWidget(self.window_label)

        # the series details fold away (the list above already says phase, description, slices
        # and spacing); they unfold by themselves when the series has warnings
        self.details_button = QToolButton()
        self.details_button.setText("Series details")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setAutoRaise(True)
        self.details_button.setToolTip("Show or hide the series' DICOM details")
        self.details_button.toggled.connect(self.show_details)
        layout.addWidget(self.details_button)
        meta_box = QGroupBox("Series")
        self.meta_box = meta_box
        self.meta_form = QFormLayout(meta_box)
        self.meta_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.meta: dict[str, QLabel] = {}
        for key in (
            "Subject",
            "Study date",
            "Modality",
            "Phase",
            "Description",
            "Shape z×y×x",
            "Spacing mm",
            "Thickness mm",
            "Orientation",
            "Display",
            "Warnings",
        ):
            value = QLabel("—")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.meta_form.addRow(key, value)
            self.meta[key] = value
        layout.addWidget(meta_box, 2)
        meta_box.setVisible(False)
        layout.addStretch(0)

    def show_details(self, visible: bool = True) -> None:
        """Unfold (or fold) the series details below the series list."""
        self.meta_box.setVisible(visible)
        self.details_button.setArrowType(
            Qt.ArrowType.DownArrow if visible else Qt.ArrowType.RightArrow
        )
        if self.details_button.isChecked() != visible:
            self.details_button.setChecked(visible)

    def _say(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` in the status line (errors in a warning colour)."""
        self.status.setText(text)
        self.status.setStyleSheet("color: #ff8c69" if error else "")

    def _db_text(self) -> str:
        db = self.controller.db_url
        return f"Store: {db}" if db else "Store: none (no Measure dock)"

    # ------------------------------------------------------------------ gestures -> controller
    def _on_cancel_clicked(self) -> None:
        self.controller.cancel_loading()

    def _apply_window(self, preset: WindowPreset) -> None:
        self.controller.set_window(preset)

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if folder:
            self.open_folder(folder, load_proposed=True)

    def open_folder(self, folder: str | Path, *, load_proposed: bool = True) -> Any:
        """Index ``folder`` in a worker thread, list its series, then load the proposal.

        Returns the worker (tests wait on its ``finished`` signal).
        """
        folder = Path(folder)
        self._say(f"Indexing {folder} …")
        self._set_busy(True, indeterminate=True)

        @thread_worker(start_thread=False)
        def index() -> Any:
            try:
                yield from iter_folder_index(folder)
            except Exception as exc:  # reported on the main thread, never a traceback
                return _Failure(exc)
            return None

        state: dict[str, Any] = {"shown": False, "last": None}

        def on_part(part: Any) -> None:  # a growing index: show what is there, load once
            state["last"] = part
            if any(s.is_image for s in part.series):
                self._on_index_result(folder, part, load_proposed and not state["shown"])
                state["shown"] = True

        def on_done(result: Any) -> None:
            if self.controller.job is None:
                self._set_busy(False)
            if isinstance(result, _Failure):
                self.controller.fail_loading(None, result.exc)
            elif not state["shown"]:  # no image series anywhere: say so
                empty = dicom.FolderIndex(series=(), skipped={}, problems=())
                self._on_index_result(folder, state["last"] or empty, load_proposed)

        worker = index()
        worker.yielded.connect(self._guarded(on_part))
        worker.returned.connect(self._guarded(on_done))
        self._start(worker, quit_on_close=True)
        return worker

    def _on_index_result(self, folder: Path, result: Any, load_proposed: bool) -> None:
        if self.controller.job is None:
            self._set_busy(False)
        try:
            self.controller.set_index(folder, result)
        except Exception as exc:
            self.controller.fail_loading(None, exc)
            return
        if not load_proposed:
            return
        study = self.controller.studies[0]
        if self.controller.proposed is None and len(study.series) == 1:
            self.load_series(study.series[0].series_uid)  # nothing to choose from
            return
        if self.controller.proposed is None:  # the status line asks (see _on_indexed)
            notifications.show_info(
                f"{study.subject}: pick the arterial series in the Reading dock."
            )
            return
        self.load_series(self.controller.proposed.series_uid)

    def _on_item_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        uid = item.data(0, _SERIES_UID_ROLE)
        if uid:
            self.load_series(str(uid))

    def load_series(self, series_uid: str | None = None) -> Any | None:
        """Load a series in a worker thread (GUI equivalent of ``controller.open_series``).

        Returns the worker, or None when the request was refused (message shown).
        """
        try:
            job = self.controller.start_loading(series_uid)
        except Exception as exc:
            self.controller.fail_loading(None, exc)
            return None

        @thread_worker(start_thread=False)
        def load() -> Any:
            try:
                job.plan_now()
            except Exception as exc:
                return _Failure(exc)
            yield job
            try:
                job.load_now()
            except Exception as exc:
                return _Failure(exc)
            return None

        worker = load()
        controller = self.controller  # the results reach the model even after the dock closed
        worker.yielded.connect(
            self._guarded(lambda _job: controller.finish_planning(job), needs_widget=False)
        )
        worker.returned.connect(
            self._guarded(lambda result: _adopt_load_result(controller, job, result), False)
        )
        self._start(worker)
        return worker

    def _guarded(
        self, callback: Callable[[Any], None], needs_widget: bool = True
    ) -> Callable[[Any], None]:
        """Wrap a worker callback: an unexpected error becomes a message instead of an exception
        in a Qt slot (which aborts PyQt5); callbacks that draw in the dock are dropped once it
        is destroyed."""
        controller = self.controller

        def run(value: Any = None) -> None:
            if needs_widget and not self._alive:
                return
            try:
                callback(value)
            except Exception as exc:
                controller.fail_loading(None, exc)

        return run

    def _start(self, worker: Any, quit_on_close: bool = False) -> None:
        """Start ``worker``; an indexing worker (``quit_on_close``) is stopped when the dock
        closes, a loading one is cancelled through its job so that its result still reaches the
        controller."""
        worker.quit_on_close = quit_on_close
        self._workers.append(worker)
        worker.finished.connect(
            lambda: self._workers.remove(worker) if worker in self._workers else None
        )
        worker.start()

    # ------------------------------------------------------------------ controller -> view
    def _set_busy(self, busy: bool, *, indeterminate: bool = False) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy and not indeterminate)
        if indeterminate:
            self.progress.setRange(0, 0)

    def _on_indexed(self, studies: tuple[StudyEntry, ...]) -> None:
        folder = self.controller.folder
        n_series = sum(len(s.series) for s in studies)
        self.folder_label.setText(f"<b>{folder.name if folder else ''}</b>  ({folder})")
        self.tree.clear()
        self._series_items.clear()
        bold = QFont(self.font())
        bold.setBold(True)
        for study in studies:
            top = QTreeWidgetItem([study.label] + [""] * (len(_COLUMNS) - 1))
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)  # works only once the item is in the tree
            for info in study.series:
                proposed = (
                    study.proposed is not None and study.proposed.series_uid == info.series_uid
                )
                phase = ("★ " if proposed else "") + describe_phase(info.phase)
                spacing = _fmt_pixel_and_thickness(info)
                item = QTreeWidgetItem(
                    [phase, info.description or "(no description)", str(info.n_images), spacing]
                )
                item.setData(0, _SERIES_UID_ROLE, info.series_uid)
                item.setToolTip(
                    0,
                    f"{info.modality} series {info.series_number}: {info.description}\n"
                    f"pixel spacing {spacing} mm (row × column / thickness)",
                )
                if proposed:
                    for col in range(len(_COLUMNS)):
                        item.setFont(col, bold)
                        item.setForeground(col, QBrush(QColor("white")))
                        item.setBackground(col, _PROPOSED_BRUSH)
                top.addChild(item)
                self._series_items[info.series_uid] = item
            top.setExpanded(study.subject == studies[0].subject)
        skipped = sum(getattr(self.controller.index, "skipped", {}).values())
        counts = (
            f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}, {n_series} image series"
            + (f", {skipped} file(s) skipped" if skipped else "")
            + "."
        )
        current = self.controller.current
        job = self.controller.job
        shown_uid = job.series_uid if job else (current.info.series_uid if current else None)
        if shown_uid in self._series_items:
            self.tree.setCurrentItem(self._series_items[shown_uid])
        if job is None and current is not None:
            self._say(f"Showing {current.layer_name}. {counts}")
        elif job is None and self.controller.proposed is None:
            self._say(
                f"{studies[0].subject}: could not tell which series is the arterial phase. "
                f"Pick the series to read (double-click or Enter). {counts}"
            )
        elif job is None:
            self._say(counts)

    def _on_loading_started(self, job: LoadJob) -> None:
        self._say(f"Reading headers of {job.info.description or job.series_uid} …")
        self._set_busy(True)
        self.progress.setRange(0, max(job.total, 1))
        self.progress.setValue(0)
        item = self._series_items.get(job.series_uid)
        if item is not None:
            self.tree.setCurrentItem(item)
        self._timer.start()

    def _on_planned(self, job: LoadJob) -> None:
        self._say(f"Loading {self.binding.layer.name if self.binding.layer else ''} …")
        self.progress.setRange(0, max(job.total, 1))

    def _on_tick(self) -> None:
        job = self.controller.job
        if job is None:
            self._timer.stop()
            return
        self.progress.setMaximum(max(job.total, 1))
        if self.progress.value() != job.done:
            self.progress.setValue(job.done)
            self.binding.refresh()

    def _on_loaded(self, opened: OpenSeries) -> None:
        self._timer.stop()
        self._set_busy(False)
        self._say(f"Showing {opened.layer_name}.")
        self._show_metadata(opened)
        if str(opened.info.modality).upper() != "CT":  # the binding used data limits, not HU
            for button in self.window_buttons.values():
                button.setChecked(False)
            self.window_label.setText(
                f"Auto window: {opened.info.modality} has no HU scale (buttons apply HU windows)"
            )
        for warning in opened.volume.warnings:
            notifications.show_warning(f"{opened.layer_name}: {warning}")

    def _on_cancelled(self, job: LoadJob) -> None:
        self._timer.stop()
        self._set_busy(False)
        self._say(f"Loading of {job.info.description or job.series_uid} cancelled.")

    def _on_failed(self, message: str) -> None:
        if self.controller.job is None:  # else a folder failed to open while a series loads
            self._timer.stop()
            self._set_busy(False)
        self._say(f"⚠ {message}", error=True)
        notifications.show_error(message)

    def _on_window(self, preset: WindowPreset) -> None:
        for name, button in self.window_buttons.items():
            button.setChecked(name == preset.name)
        self.window_label.setText(f"{preset}  ·  shortcuts Alt+1…{len(self.window_buttons)}")

    def _show_metadata(self, opened: OpenSeries) -> None:
        info, volume = opened.info, opened.volume
        geometry = opened.view.geometry
        axes = geometry.world_axes
        display = f"top {axes[1].opposite_label}, left {axes[2].opposite_label}" + (
            "" if geometry.exact else " (nominal grid)"
        )
        warnings = list(volume.warnings) or list(getattr(info, "warnings", ()) or ())
        values = {
            "Subject": opened.subject,
            "Study date": _iso_date(info.study_date) or "—",
            "Modality": str(info.modality),
            "Phase": describe_phase(info.phase),
            "Description": str(info.description or "—"),
            "Shape z×y×x": " × ".join(str(n) for n in volume.shape),
            "Spacing mm": _fmt_mm(volume.spacing, 4),
            "Thickness mm": _fmt_mm(info.slice_thickness_mm, 3),
            "Orientation": describe_orientation(info.orientation),
            "Display": display,
            "Warnings": "\n".join(warnings) if warnings else "none",
        }
        for key, value in values.items():
            self.meta[key].setText(value)
        if warnings:
            self.show_details(True)


def _adopt_load_result(controller: ReadingController, job: LoadJob, result: Any) -> None:
    """Hand a load worker's result to the controller (on the main thread)."""
    if isinstance(result, _Failure):
        controller.fail_loading(job, result.exc)
    else:
        controller.finish_loading(job)


def _make_disconnector(widget: ReadingWidget) -> Any:
    """A callback that unhooks ``widget`` from its controller once its Qt object is destroyed."""
    c, binding = widget.controller, widget.binding
    pairs: list[tuple[Any, Any]] = [
        (c.folder_indexed, widget._on_indexed),
        (c.loading_started, widget._on_loading_started),
        (c.series_planned, widget._on_planned),
        (c.series_loaded, widget._on_loaded),
        (c.loading_cancelled, widget._on_cancelled),
        (c.failed, widget._on_failed),
        (c.window_changed, widget._on_window),
    ]

    def disconnect(*_: Any) -> None:
        widget._alive = False
        for worker in list(widget._workers):
            if getattr(worker, "quit_on_close", False):
                worker.quit()  # the indexing generator stops after its current sub-folder
        c.cancel_loading()
        binding.disconnect()
        for signal, slot in pairs:
            signal.disconnect(slot, missing_ok=True)
        pairs.clear()

    return disconnect
