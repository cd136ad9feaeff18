"""The "Measure" dock: log in, pick a task, add lesions, draw lines in mm, sign.

Every button calls one method of :class:`~readerstation.reading.ReadingSession` (through
:class:`MeasureWidget`'s methods of the same name, usable from scripts and tests); the session
autosaves every change in the store and the dock only redraws what the session holds. Errors
are shown in the dock, never as a traceback::

    widget = MeasureWidget(viewer, store, "sample_dicom")
    widget.login("reader1", "demo-password")
    widget.open_task("HCC-001", "TP0")   # in a background thread: wait for widget.busy False
    widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    widget.select_lesion("T1"); widget.select_kind("long")   # then draw on the "long axis" layer
    widget.sign("demo-password")
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtGui import QColor, QFontMetrics, QKeyEvent, QKeySequence
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QShortcut,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_readerstation._login import LoginBox
from napari_readerstation._measure_binding import MeasureBinding
from napari_readerstation._windows import (
    STANDARD_WINDOWS,
    WindowPreset,
    derive_window_from_drag,
)
from readerstation.errors import ReaderstationError, ReadingError
from readerstation.geometry import Volume
from readerstation.model import (
    LesionRole,
    LiverSegment,
    MeasurementState,
    NewLesionCall,
    NonTargetStatus,
    TimepointRead,
)
from readerstation.reading import DicomFolderSource, LineKind, ReadingSession
from readerstation.store import KdfParams, Repository, Store, WorkItem

__all__ = [
    "LESION_COLUMNS",
    "SHORTCUTS",
    "WORKLIST_COLUMNS",
    "WORK_STATUS_TEXT",
    "MeasureWidget",
    "to_words",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

WORKLIST_COLUMNS = ("Subject", "Timepoint", "Scan date", "Status")
#: How the worklist shows the store's task statuses.
WORK_STATUS_TEXT = {"locked": "locked", "todo": "to do", "draft": "draft", "signed": "signed"}
LESION_COLUMNS = ("Label", "Role", "Organ", "Long mm", "Short mm", "Viable mm", "State")
_ERROR_STYLE = "color: #ff6b6b;"
#: Rows the worklist and the lesion table always show (a subject's timepoints, its lesions).
WORKLIST_MIN_ROWS = 5
LESION_MIN_ROWS = 5
#: Lines of the criteria findings and of the message line shown before they scroll: a long
#: text (four blocking findings, a refused signature) must not grow the dock past the screen.
FINDINGS_LINES = 5
MESSAGE_LINES = 3

_PLACE = {"left": "on the left", "right": "on the right", "above": "above", "below": "below"}
_KIND_KEYS = {LineKind.LONG: "F2", LineKind.SHORT: "F3", LineKind.VIABLE: "F4"}
#: The usual label prefix of each lesion role (target T1, non-target NT1, new N1).
_LABEL_PREFIX = {"target": "T", "non_target": "NT", "new": "N"}

#: Keyboard shortcuts of the Measure dock (Qt notation) -> what they do. The window presets
#: (Alt+1..4, from ``_windows.STANDARD_WINDOWS``) are added when the dock owns them.
SHORTCUTS = {
    "F2": "draw the long axis of the selected lesion",
    "F3": "draw the short axis (nodes)",
    "F4": "draw the viable-enhancing diameter",
    "F5": "seed mode on/off: a click inside the lesion proposes its lines",
    "PgDown": "next lesion (and jump to it)",
    "PgUp": "previous lesion (and jump to it)",
    "Ctrl+J": "jump to the selected lesion's slice",
    "Alt+W": "focus the worklist (arrow keys to choose, Enter to open)",
}


def _warm_unit_registry() -> None:
    """Build pint's unit registry (0.6 s, once) here rather than in the first layer's creation
    on the GUI thread (napari parses the layers' ``units``)."""
    import pint

    _ = pint.get_application_registry().mm


def _style_table(table: QTableWidget, mode: QHeaderView.ResizeMode) -> None:
    header, rows = table.horizontalHeader(), table.verticalHeader()
    if header is not None:
        header.setSectionResizeMode(mode)
    if rows is not None:
        rows.setVisible(False)


def _mm(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def to_words(value: str) -> str:
    """ "non-target", "not evaluated", "unequivocal progression": a store word as a radiologist
    writes it (the tables and choices show these; the store keeps its own words)."""
    return {"non_target": "non-target"}.get(value, value.replace("_", " "))


def _scrolling(label: QLabel, lines: int, min_lines: int = 1) -> QScrollArea:
    """``label`` in a frameless scroll area ``min_lines`` to ``lines`` lines tall (more
    scrolls)."""
    area = QScrollArea()
    area.setWidget(label)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    line = QFontMetrics(label.font()).lineSpacing()
    area.setMinimumHeight(line * min_lines + 4)
    area.setMaximumHeight(line * lines + 4)
    return area


def _table_height(table: QTableWidget, rows: int) -> int:
    """Pixels for a table's header and ``rows`` rows."""
    header = table.horizontalHeader()
    row = table.verticalHeader()
    header_px = header.sizeHint().height() if header is not None else 24
    row_px = row.defaultSectionSize() if row is not None else 24
    return header_px + rows * row_px + 2 * table.frameWidth()


class EnterKeyFilter(QObject):
    """Runs ``action`` when Return / Enter is pressed in the watched widget (a table row opens
    with the keyboard as with a double click)."""

    def __init__(self, action: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._action = action

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if (
            event is not None
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            self._action()
            return True
        return False


class MeasureWidget(QWidget):
    """Dock widget driving a :class:`ReadingSession` for one logged-in reader.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    store : Store
        The trial store (the session's repository is opened on it at login).
    images : path-like or DicomFolderSource
        The trial's DICOM folder.
    user : str
        Prefilled user name (the launcher prefills a demo reader for the sample trial).
    password : str
        Prefilled password (demo stores only).
    kdf : KdfParams or None
        argon2id parameters of the store (tests use cheap ones).
    window_shortcuts : bool
        Bind the window presets' shortcuts (Alt+1..4) here. The launcher passes False: the
        Reading dock owns those keys and forwards its window changes to :meth:`apply_window`.

    Mouse: a right-button drag on the image changes the window (horizontal = width, vertical =
    level); in seed mode a left click inside a lesion proposes its lines (:meth:`seed_at`).
    """

    def __init__(
        self,
        napari_viewer: Any,
        store: Store,
        images: str | os.PathLike[str] | DicomFolderSource,
        *,
        user: str = "",
        password: str = "",
        kdf: KdfParams | None = None,
        window_shortcuts: bool = True,
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.store = store
        self.images = images if isinstance(images, DicomFolderSource) else DicomFolderSource(images)
        self._kdf = kdf
        self.session: ReadingSession | None = None
        self.binding: MeasureBinding | None = None
        self._tasks: list[WorkItem] = []
        self._hide_dates = False
        self._open_worker: Any | None = None
        #: (seconds in the background worker, seconds building the layers on the GUI thread)
        #: of the last case opened.
        self.last_open_seconds: tuple[float, float] | None = None
        self._open_started = 0.0
        self.seed_mode = False
        self._build(user, password, window_shortcuts)
        self.viewer.mouse_drag_callbacks.append(self._on_mouse_drag)
        self._refresh()

    # ------------------------------------------------------------------ layout
    def _build(self, user: str, password: str, window_shortcuts: bool) -> None:
        layout = QVBoxLayout(self)

        login_box = LoginBox("Reader", user, password, self.login)
        self.user_edit, self.password_edit = login_box.user_edit, login_box.password_edit
        self.login_button, self.user_label = login_box.login_button, login_box.user_label
        layout.addWidget(login_box)

        box = QGroupBox("Worklist")
        v = QVBoxLayout(box)
        self.worklist_table = QTableWidget(0, len(WORKLIST_COLUMNS))
        self.worklist_table.setHorizontalHeaderLabels(WORKLIST_COLUMNS)
        self.worklist_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.worklist_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        _style_table(self.worklist_table, QHeaderView.ResizeMode.Stretch)
        self.worklist_table.cellDoubleClicked.connect(lambda row, _c: self._open_row(row))
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(lambda: self._open_row(self.worklist_table.currentRow()))
        self._enter_filter = EnterKeyFilter(
            lambda: self._open_row(self.worklist_table.currentRow()), self.worklist_table
        )
        self.worklist_table.installEventFilter(self._enter_filter)
        self.worklist_table.setToolTip("arrow keys to choose, Enter to open (Alt+W: focus here)")
        self.worklist_table.setMinimumHeight(_table_height(self.worklist_table, WORKLIST_MIN_ROWS))
        v.addWidget(self.worklist_table)
        v.addWidget(self.open_button)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: a case is opening
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(8)
        self.busy_bar.setVisible(False)
        v.addWidget(self.busy_bar)
        layout.addWidget(box)

        box = QGroupBox("Lesions")
        v = QVBoxLayout(box)
        self.read_label = QLabel("no read open")
        v.addWidget(self.read_label)
        self.lesion_table = QTableWidget(0, len(LESION_COLUMNS))
        self.lesion_table.setHorizontalHeaderLabels(LESION_COLUMNS)
        self.lesion_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.lesion_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.lesion_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        _style_table(self.lesion_table, QHeaderView.ResizeMode.ResizeToContents)
        lesion_header = self.lesion_table.horizontalHeader()
        if lesion_header is not None:  # the State column takes the rest; long words elide
            lesion_header.setStretchLastSection(True)
        self.lesion_table.setMinimumHeight(_table_height(self.lesion_table, LESION_MIN_ROWS))
        self.lesion_table.itemSelectionChanged.connect(self._on_lesion_selected)
        v.addWidget(self.lesion_table)

        row = QHBoxLayout()
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("T1")
        self.label_edit.setToolTip("the new lesion's label (the next free one is proposed)")
        self.role_combo = QComboBox()
        for role in LesionRole:
            self.role_combo.addItem(to_words(role.value), role.value)
        self.role_combo.currentIndexChanged.connect(lambda _i: self._propose_label())
        self.organ_edit = QLineEdit("liver")
        self.segment_combo = QComboBox()
        self.segment_combo.addItems(["", *[s.value for s in LiverSegment]])
        self.hcc_check = QCheckBox("typical HCC")
        self.hcc_check.setChecked(True)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self._on_add_clicked)
        for w in (
            self.label_edit,
            self.role_combo,
            self.organ_edit,
            self.segment_combo,
            self.hcc_check,
            self.add_button,
        ):
            row.addWidget(w)
        v.addLayout(row)

        row = QHBoxLayout()
        row.addWidget(QLabel("Draw:"))
        self.kind_buttons: dict[LineKind, QPushButton] = {}
        for kind in LineKind:
            b = QPushButton(f"{kind.value} ({_KIND_KEYS[kind]})")
            b.setCheckable(True)
            b.clicked.connect(lambda _=False, k=kind: self.select_kind(k))
            self.kind_buttons[kind] = b
            row.addWidget(b)
        self.state_combo = QComboBox()
        self.state_combo.setToolTip(
            "a target's state when it cannot be measured, or a non-target's status (the "
            "choices follow the selected lesion)"
        )
        self._fill_state_choices(None)
        self.state_button = QPushButton("Set state")
        self.state_button.clicked.connect(
            lambda: self.set_state(str(self.state_combo.currentData()))
        )
        row.addWidget(self.state_combo)
        row.addWidget(self.state_button)
        v.addLayout(row)

        row = QHBoxLayout()
        self.seed_button = QPushButton("Seed (F5)")
        self.seed_button.setCheckable(True)
        self.seed_button.setToolTip("click inside the selected lesion to propose its lines")
        self.seed_button.clicked.connect(lambda on: self.set_seed_mode(bool(on)))
        row.addWidget(self.seed_button)
        row.addWidget(QLabel("Window:"))
        self.window_buttons: dict[str, QPushButton] = {}
        for preset in STANDARD_WINDOWS:
            b = QPushButton(preset.name)
            tip = f"{preset} ({preset.shortcut})" if window_shortcuts else str(preset)
            b.setToolTip(tip + "; right-drag on the image: horizontal = width, vertical = level")
            b.clicked.connect(lambda _=False, p=preset: self.apply_window(p))
            self.window_buttons[preset.name] = b
            row.addWidget(b)
        v.addLayout(row)
        layout.addWidget(box)

        keys: dict[str, Callable[[], object]] = {
            "F2": lambda: self.select_kind(LineKind.LONG),
            "F3": lambda: self.select_kind(LineKind.SHORT),
            "F4": lambda: self.select_kind(LineKind.VIABLE),
            "F5": lambda: self.set_seed_mode(not self.seed_mode),
            "PgDown": lambda: self.next_lesion(1),
            "PgUp": lambda: self.next_lesion(-1),
            "Ctrl+J": self.jump_to_lesion,
            "Alt+W": self.worklist_table.setFocus,
        }
        if window_shortcuts:
            for preset in STANDARD_WINDOWS:
                if preset.shortcut:
                    keys[preset.shortcut] = lambda p=preset: self.apply_window(p)
        self.shortcuts: dict[str, QShortcut] = {}
        for key, action in keys.items():
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(action)
            self.shortcuts[key] = sc

        box = QGroupBox("Criteria")
        v = QVBoxLayout(box)
        self.findings_label = QLabel("")
        self.findings_label.setWordWrap(True)
        self.findings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(_scrolling(self.findings_label, FINDINGS_LINES, min_lines=3))
        row = QHBoxLayout()
        row.addWidget(QLabel("New lesions:"))
        self.new_lesions_combo = QComboBox()
        for call in NewLesionCall:
            self.new_lesions_combo.addItem(to_words(call.value), call.value)
        self.new_lesions_combo.setToolTip("the new-lesion call of this timepoint")
        self.new_lesions_combo.activated.connect(
            lambda i: self.set_new_lesions(str(self.new_lesions_combo.itemData(i)))
        )
        row.addWidget(self.new_lesions_combo, 1)
        v.addLayout(row)
        self.sign_button = QPushButton("Sign...")
        self.sign_button.clicked.connect(self._on_sign_clicked)
        v.addWidget(self.sign_button)
        layout.addWidget(box)

        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(_scrolling(self.message_label, MESSAGE_LINES))
        layout.addStretch(1)

    # ------------------------------------------------------------------ helpers
    def say(self, text: str, error: bool = False) -> None:
        """Show a message in the dock (errors in red)."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet(_ERROR_STYLE if error else "")

    def _guard(self, action: Callable[[], _T]) -> _T | None:
        """Run a gesture; a readerstation error becomes a message in the dock."""
        try:
            return action()
        except ReaderstationError as exc:
            self.say(str(exc), error=True)
        except Exception as exc:  # never a traceback in a Qt slot
            _log.exception("unexpected error in the Measure dock")
            self.say(f"unexpected error: {type(exc).__name__}: {exc}", error=True)
        finally:
            self._refresh()
        return None

    def _require_session(self) -> ReadingSession:
        if self.session is None:
            raise ReadingError("log in first (user name and password above).")
        return self.session

    # ------------------------------------------------------------------ gestures
    def login(self, name: str, password: str) -> bool:
        """Log a reader in and show their worklist; False (with the message) when refused."""

        def run() -> bool:
            repo = Repository.login(self.store, name, password, kdf=self._kdf)
            if self.binding is not None:
                self.binding.clear()
            self.session = ReadingSession(repo, self.images)
            self.binding = MeasureBinding(self.viewer, self.session)
            self.binding.message.connect(self.say)
            self.binding.changed.connect(self._refresh)
            self.password_edit.clear()
            self._hide_dates = repo.get_charter().hide_visit_dates
            self._tasks = repo.worklist()
            todo = sum(1 for t in self._tasks if t.status in ("todo", "draft"))
            self.say(f"logged in as {name}; {len(self._tasks)} timepoints, {todo} to read")
            self.worklist_table.setFocus()
            return True

        ok = bool(self._guard(run))
        if ok:
            self.select_next_task()
        return ok

    def select_next_task(self) -> WorkItem | None:
        """Select (and focus) the first worklist timepoint still to read, so that Enter opens
        it; None when everything is signed (or locked)."""
        for row, task in enumerate(self._tasks):
            if task.status in ("draft", "todo"):
                self.worklist_table.setCurrentCell(row, 0)
                self.worklist_table.setFocus()
                return task
        return None

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self._tasks):
            t = self._tasks[row]
            self.open_task(t.subject, t.label)
        else:
            self.say("select a timepoint in the worklist first (arrow keys, then Enter).")

    def find_task(self, subject: str, timepoint: str) -> WorkItem | None:
        """The worklist item of ``subject`` / ``timepoint`` (stored or displayed label)."""
        for t in self._tasks:
            if t.subject == subject and timepoint in (t.label, t.display_label):
                return t
        return None

    def refresh_worklist(self) -> None:
        """Ask the store for the reader's worklist again (statuses change as reads are signed)."""
        if self.session is not None:
            self._tasks = self.session.repository.worklist()

    @property
    def busy(self) -> bool:
        """True while a case is opening in the background."""
        return self._open_worker is not None

    def open_task(self, subject: str, timepoint: str) -> Any | None:
        """Open a worklist task (the draft is restored) off the GUI thread, then show it.

        The store queries, the image decoding and, at a follow-up, the prior's image run in a
        napari ``thread_worker``; the viewer stays responsive and the dock shows a busy bar.
        When the worker returns, the image and lines are shown (:attr:`busy` becomes False).

        Returns
        -------
        napari FunctionWorker or None
            The started worker; None when refused at once (message in the dock).
        """
        from napari.qt.threading import create_worker

        if self.session is None or self.binding is None:
            self.say("log in first (user name and password above).", error=True)
            return None
        if self._open_worker is not None:
            self.say("a case is already opening; wait for it to appear.", error=True)
            return None
        task = self.find_task(subject, timepoint)
        if task is None:
            self.say(f"{subject}/{timepoint} is not in your worklist.", error=True)
            return None
        if task.status == "locked":
            previous = self._previous_task(task)
            self.say(
                f"{subject}/{task.display_label} is locked: timepoints are read in order, and it "
                "opens once your read of "
                + (f"{subject}/{previous.display_label}" if previous else "the previous timepoint")
                + " is signed.",
                error=True,
            )
            return None
        timepoint = task.label
        session = self.session

        def work() -> tuple[TimepointRead, Volume | None]:
            read = session.open(subject, timepoint)
            prior = session.load_prior_volume()
            _warm_unit_registry()
            return read, prior

        self.binding.suspend()  # no edit while the session changes case (layers are reused)
        worker = create_worker(work, _start_thread=False)
        worker.returned.connect(lambda result: self._on_opened(subject, timepoint, result))
        worker.errored.connect(self._on_open_failed)
        worker.finished.connect(self._on_open_finished)
        self._open_worker = worker
        self._open_started = time.perf_counter()
        self._set_busy(True)
        self.say(f"opening {subject}/{timepoint}…")
        worker.start()
        return worker

    def _previous_task(self, task: WorkItem) -> WorkItem | None:
        same = [t for t in self._tasks if t.subject == task.subject]
        k = same.index(task)
        return same[k - 1] if k > 0 else None

    def _set_busy(self, busy: bool) -> None:
        self.busy_bar.setVisible(busy)
        for w in (self.open_button, self.worklist_table, self.login_button, self.add_button):
            w.setEnabled(not busy)

    def _on_opened(
        self, subject: str, timepoint: str, result: tuple[TimepointRead, Volume | None]
    ) -> None:
        read, prior_volume = result
        shown_at = time.perf_counter()

        def run() -> None:
            session = self._require_session()
            if self.binding is None:
                raise ReadingError("log in first (user name and password above).")
            self.binding.show_read(prior_volume)
            self.refresh_worklist()
            self._propose_label()
            first = next((a.lesion.label for a in read.lesions), None)
            if first is not None:
                self.select_lesion(first)
            prior = session.prior_read
            where = self.binding.prior_position()
            beside = (
                f"; prior {prior.timepoint.label} (signed, read-only) {_PLACE.get(where, where)}"
                if prior is not None and prior_volume is not None and where
                else ""
            )
            self.say(
                f"{subject}/{timepoint} opened on series {session.series.description!r} "
                f"({session.series.phase.value}){beside}"
            )

        self._guard(run)
        done = time.perf_counter()
        self.last_open_seconds = (shown_at - self._open_started, done - shown_at)

    def _on_open_failed(self, exc: BaseException) -> None:
        if self.binding is not None:
            self.binding.clear()  # the frozen case is no longer the session's
        if isinstance(exc, ReaderstationError):
            self.say(str(exc), error=True)
        else:
            _log.error("unexpected error while opening a case", exc_info=exc)
            self.say(f"the case could not be opened ({type(exc).__name__}: {exc})", error=True)

    def _on_open_finished(self) -> None:
        self._open_worker = None
        self._set_busy(False)
        self._refresh()

    def add_lesion(self, label: str, role: str, organ: str, **kwargs: Any) -> bool:
        """Add a lesion (see :meth:`ReadingSession.add_lesion`) and select it."""

        def run() -> bool:
            les = self._require_session().add_lesion(label, role, organ, **kwargs)
            self.select_lesion(les.label)
            self.say(f"{les.label} added ({to_words(les.role.value)}, {les.organ})")
            self._propose_label()
            return True

        return bool(self._guard(run))

    def _on_add_clicked(self) -> None:
        organ = self.organ_edit.text().strip()
        segment = self.segment_combo.currentText() or None
        self.add_lesion(
            self.label_edit.text().strip(),
            str(self.role_combo.currentData()),
            organ,
            liver_segment=segment,
            typical_hcc=self.hcc_check.isChecked(),
        )

    def _propose_label(self) -> None:
        """Fill the label field with the next free label of the chosen role (T3, NT2, N1)."""
        session = self.session
        if session is None or not session.is_open:
            return
        prefix = _LABEL_PREFIX.get(str(self.role_combo.currentData()), "")
        taken = {a.lesion.label for a in session.read.lesions}
        n = 1
        while f"{prefix}{n}" in taken:
            n += 1
        self.label_edit.setText(f"{prefix}{n}")

    def select_lesion(self, label: str) -> None:
        """Make ``label`` the lesion new lines belong to, and show its slice."""
        if self.binding is None:
            return
        self.binding.active_lesion = label
        try:
            self._fill_state_choices(self.binding.session.assessment(label).lesion.role)
        except ReaderstationError:
            self._fill_state_choices(None)
        for r in range(self.lesion_table.rowCount()):
            item = self.lesion_table.item(r, 0)
            if item is not None and item.text() == label:
                self.lesion_table.blockSignals(True)
                self.lesion_table.selectRow(r)
                self.lesion_table.blockSignals(False)
        try:
            self.binding.jump_to(label)
        except ReaderstationError as exc:
            self.say(str(exc), error=True)

    def _on_lesion_selected(self) -> None:
        model = self.lesion_table.selectionModel()
        rows = model.selectedRows() if model is not None else []
        if rows:
            item = self.lesion_table.item(rows[0].row(), 0)
            if item is not None:
                self.select_lesion(item.text())

    def select_kind(self, kind: LineKind | str) -> None:
        """Select the layer of one line kind and put it in line-drawing mode."""
        k = LineKind(kind)
        if self.seed_mode:
            self.seed_mode = False
            self.seed_button.setChecked(False)
        for other, b in self.kind_buttons.items():
            b.setChecked(other is k)
        if self.binding is None or k not in self.binding.layers:
            return
        layer = self.binding.layers[k]
        self.viewer.layers.selection.active = layer
        layer.visible = True  # an empty line layer is hidden until drawn on
        layer.mode = "add_line"

    def _fill_state_choices(self, role: LesionRole | None) -> None:
        """The state choices for a lesion of ``role``: a non-target's status (present, absent,
        unequivocal progression, not evaluated), else a target's or new lesion's state when it
        cannot be measured (too small, absent, not evaluated)."""
        if role is LesionRole.NON_TARGET:
            words = [s.value for s in NonTargetStatus]
        else:
            words = [s.value for s in MeasurementState if s is not MeasurementState.MEASURED]
        combo = self.state_combo
        if [combo.itemData(i) for i in range(combo.count())] == words:
            return
        combo.clear()
        for word in words:
            combo.addItem(to_words(word), word)

    def set_state(self, state: str) -> bool:
        """Set the selected lesion's state: a target's or new lesion's ``too_small``,
        ``absent`` or ``not_evaluated``; a non-target's status (``present``, ``absent``,
        ``unequivocal_progression``, ``not_evaluated``)."""

        def run() -> bool:
            session = self._require_session()
            label = self.binding.active_lesion if self.binding else None
            if label is None:
                raise ReadingError("select a lesion in the table first.")
            if session.assessment(label).lesion.role is LesionRole.NON_TARGET:
                session.set_non_target_status(label, state)
            else:
                session.set_state(label, state)
            if self.binding is not None:
                self.binding.redraw()
            self.say(f"{label}: {to_words(state)}")
            return True

        return bool(self._guard(run))

    def set_new_lesions(self, call: str) -> bool:
        """Record the open read's new-lesion call (``none``, ``equivocal``, ``unequivocal``)."""

        def run() -> bool:
            read = self._require_session().set_new_lesions(call)
            self.say(f"new lesions: {to_words(read.new_lesion_call.value)}")
            return True

        return bool(self._guard(run))

    def next_lesion(self, step: int = 1) -> str | None:
        """Select the next (``step`` 1) or previous (-1) lesion of the table and jump to it."""
        session = self.session
        if session is None or not session.is_open or self.binding is None:
            return None
        labels = [a.lesion.label for a in session.read.lesions]
        if not labels:
            self.say("no lesion yet: add one first.", error=True)
            return None
        current = self.binding.active_lesion
        i = labels.index(current) + step if current in labels else (0 if step > 0 else -1)
        label = labels[i % len(labels)]
        self.select_lesion(label)
        return label

    def jump_to_lesion(self) -> None:
        """Show the selected lesion's slice (and the prior's slice at the same patient z)."""
        if self.binding is None or self.binding.active_lesion is None:
            self.say("select a lesion in the table first.", error=True)
            return
        self._guard(lambda: self._jump(self.binding.active_lesion if self.binding else None))

    def _jump(self, label: str | None) -> None:
        if self.binding is None or label is None:
            return
        if self.binding.jump_to(label) is None:
            self.say(f"{label} has no line yet (nor in the prior read) to jump to.")

    def apply_window(self, preset: WindowPreset) -> None:
        """Show the current (and prior) image with the CT window ``preset``."""
        if self.binding is None:
            return
        for layer in (self.binding.image_layer, self.binding.prior_image_layer):
            if layer is not None:
                layer.contrast_limits = preset.contrast_limits
        self.say(f"window {preset}")

    def current_window(self) -> WindowPreset | None:
        """The window of the current image (from its contrast limits), None when none is shown."""
        layer = self.binding.image_layer if self.binding is not None else None
        if layer is None:
            return None
        lo, hi = (float(v) for v in layer.contrast_limits)
        return WindowPreset("Custom", width=max(hi - lo, 1.0), level=(hi + lo) / 2)

    def set_seed_mode(self, on: bool) -> None:
        """Seed mode: a left click on the image proposes the selected lesion's lines."""
        self.seed_mode = bool(on)
        self.seed_button.setChecked(self.seed_mode)
        if self.binding is not None:
            for layer in self.binding.layers.values():
                if self.seed_mode:
                    layer.mode = "pan_zoom"
        if self.seed_mode:
            for b in self.kind_buttons.values():
                b.setChecked(False)
            self.say("seed mode: click inside the selected lesion (F5 to leave)")

    def seed_at(self, world: Any) -> bool:
        """Propose the selected lesion's lines from a click at napari ``world`` coordinates
        (mm, the current image's world axes): :meth:`ReadingSession.propose` at that point in
        patient LPS mm. The proposed lines appear and can be dragged."""

        def run() -> bool:
            session = self._require_session()
            binding = self.binding
            if binding is None or binding.view is None:
                raise ReadingError("open a task first.")
            label = binding.active_lesion
            if label is None:
                raise ReadingError("select a lesion in the table first, then click inside it.")
            w = np.asarray(world, float)[-3:]
            seed = binding.view.world_to_patient(w[None, :])[0]
            p = session.propose(label, seed)
            binding.redraw()
            self.say(
                f"{label}: proposed long {p.long_axis_mm:.1f} mm, short "
                f"{p.short_axis_mm:.1f} mm, viable "
                f"{p.viable_long_axis_mm:.1f} mm; drag the end points to adjust"
            )
            return True

        return bool(self._guard(run))

    def _on_mouse_drag(self, viewer: Any, event: Any) -> Any:
        """Right-drag: window/level; left click in seed mode: propose lines."""
        if self.binding is None or self.binding.image_layer is None:
            return
        if event.button == 2:
            start = self.current_window()
            if start is None:
                return
            x0, y0 = (float(v) for v in event.pos[:2])
            yield
            while event.type == "mouse_move":
                dx, dy = float(event.pos[0]) - x0, float(event.pos[1]) - y0
                w = derive_window_from_drag(start, dx, dy)
                for layer in (self.binding.image_layer, self.binding.prior_image_layer):
                    if layer is not None:
                        layer.contrast_limits = w.contrast_limits
                yield
            final = self.current_window()
            if final is not None:
                self.say(f"window W{final.width:.0f}/L{final.level:.0f}")
        elif event.button == 1 and self.seed_mode:
            if self.binding.is_prior_cell(getattr(event, "viewbox", None)):
                where = self.binding.prior_position() or "beside"
                self.say(
                    "that click was on the prior image, which is signed and read-only: click "
                    f"inside the lesion on the current image (the prior is {_PLACE.get(where, where)})",
                    error=True,
                )
                return
            self.seed_at(event.position)

    def _on_sign_clicked(self) -> None:
        password, ok = QInputDialog.getText(
            self, "Sign the read", "Your password, to sign:", QLineEdit.EchoMode.Password
        )
        if ok:
            self.sign(password)

    def sign(self, password: str) -> bool:
        """Sign the open read (asks the store to check the password again)."""

        def run() -> bool:
            signed = self._require_session().sign(password)
            self.refresh_worklist()
            self.say(
                f"{signed.subject.code}/{signed.timepoint.label} signed (v{signed.version}); it "
                "can no longer change"
            )
            return True

        ok = bool(self._guard(run))
        if ok:
            following = self.select_next_task()
            if following is not None:  # the worklist has it selected: Enter opens it
                self.say(
                    f"{self.message_label.text()}. Next: {following.subject}/"
                    f"{following.display_label} (Enter opens it)"
                )
        return ok

    # ------------------------------------------------------------------ session -> view
    def _draw_worklist(self) -> None:
        table = self.worklist_table
        row = table.currentRow()
        table.setRowCount(len(self._tasks))
        for r, t in enumerate(self._tasks):
            values = (
                t.subject,
                t.display_label if self._hide_dates else t.label,
                t.scan_date.isoformat() if t.scan_date else ("hidden" if self._hide_dates else ""),
                WORK_STATUS_TEXT.get(t.status, t.status),
            )
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if t.status == "locked":
                    item.setForeground(QColor("#8a8a8a"))
                    item.setToolTip("opens once the previous timepoint is signed")
                elif t.status == "signed":
                    item.setToolTip("signed: opens read-only")
                table.setItem(r, c, item)
        if 0 <= row < table.rowCount():
            table.setCurrentCell(row, 0)

    def _refresh(self) -> None:
        session = self.session
        self.user_label.setText(
            f"{session.repository.user.name} ({session.repository.user.role.value})"
            if session
            else "not logged in"
        )
        self._draw_worklist()
        open_read = session.read if session is not None and session.is_open else None
        lesions = open_read.lesions if open_read is not None else ()
        self.lesion_table.blockSignals(True)
        self.lesion_table.setRowCount(len(lesions))
        for r, a in enumerate(lesions):
            m = a.measurement
            state = (
                a.non_target_status.value
                if a.non_target_status is not None
                else (m.state.value if m is not None else "")
            )
            cells = (
                a.lesion.label,
                to_words(a.lesion.role.value),
                a.lesion.organ
                + (f" {a.lesion.liver_segment.value}" if a.lesion.liver_segment else ""),
                _mm(m.long_axis_mm if m else None),
                _mm(m.short_axis_mm if m else None),
                _mm(m.viable_long_axis_mm if m else None),
                to_words(state),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)  # a long state word is elided in its column
                self.lesion_table.setItem(r, c, item)
            if self.binding is not None and self.binding.active_lesion == a.lesion.label:
                self.lesion_table.selectRow(r)
        self.lesion_table.blockSignals(False)
        self.new_lesions_combo.setEnabled(open_read is not None and not open_read.is_signed)
        if open_read is not None:
            i = self.new_lesions_combo.findData(open_read.new_lesion_call.value)
            self.new_lesions_combo.blockSignals(True)
            self.new_lesions_combo.setCurrentIndex(max(i, 0))
            self.new_lesions_combo.blockSignals(False)
        if open_read is None or session is None:
            self.read_label.setText("no read open")
            self.findings_label.setText("")
            self.sign_button.setEnabled(False)
            return
        self.read_label.setText(
            f"{open_read.subject.code}/{open_read.timepoint.label}: "
            f"{open_read.status.value} v{open_read.version}"
        )
        try:
            findings = session.findings()
        except ReaderstationError as exc:
            self.findings_label.setText(str(exc))
            self.sign_button.setEnabled(False)
            return
        lines = [f"BLOCKING {m}" for m in findings.blocking]
        for f in findings.all:
            if f.blocking:
                continue
            text = f.message
            if f.lesion and not text.startswith(f.lesion):
                text = f"{f.lesion}: {text}"
            lines.append(f"warning {text}")
        lines = list(dict.fromkeys(lines))  # RECIST 1.1 and mRECIST often say the same thing
        empty = (
            "signed: the read can no longer change (amend to correct it)"
            if open_read.is_signed
            else "no findings: the read can be signed"
        )
        self.findings_label.setText("\n".join(lines) or empty)
        self.findings_label.setStyleSheet(_ERROR_STYLE if findings.blocking else "")
        self.sign_button.setEnabled(not open_read.is_signed and findings.can_sign)


def add_measure_dock(
    viewer: Any,
    folder: str | os.PathLike[str],
    db_url: str | None = None,
    *,
    window_shortcuts: bool = True,
    tabify: bool = False,
) -> MeasureWidget:
    """Dock a Measure widget on the store at ``db_url`` (default: ``READERSTATION_DB`` or
    the default SQLite file) reading images from ``folder``; with ``tabify``, as a tab (in
    front) beside the last dock on the right.

    When ``folder`` is the sample trial (it holds ``ground_truth.json``) and the store has no
    user yet, the store is set up as a demo (:func:`~readerstation.reading.seed_sample_trial`)
    and the login box is prefilled with the demo reader ``reader1``.
    """
    from napari_readerstation.launch import seed_demo_store
    from readerstation.reading import DEMO_PASSWORD
    from readerstation.store import open_store

    store = open_store(db_url)
    user = password = ""
    root = Path(folder)
    if (root / "ground_truth.json").is_file():
        seed_demo_store(store, root)  # no-op when set up before (or a real trial store)
        user, password = "reader1", DEMO_PASSWORD
    widget = MeasureWidget(
        viewer, store, root, user=user, password=password, window_shortcuts=window_shortcuts
    )
    dock = viewer.window.add_dock_widget(widget, name="Measure", area="right", tabify=tabify)
    if tabify:
        from qtpy.QtCore import QTimer

        dock.raise_()  # the Measure tab in front (again once Qt has laid the tabs out)
        QTimer.singleShot(0, dock.raise_)
    return widget


def make_measure_widget(napari_viewer: Any) -> MeasureWidget:
    """npe2 widget factory: the default store and ``READERSTATION_IMAGES`` (or sample_dicom)."""
    from readerstation.store import open_store

    folder = Path(os.environ.get("READERSTATION_IMAGES") or "sample_dicom")
    if not folder.is_dir():
        folder = Path.cwd()
    return MeasureWidget(napari_viewer, open_store(), folder)
