"""The "Measure" dock: log in, pick a task, add lesions, draw lines in mm, sign.

Every button calls one method of :class:`~readerstation.reading.ReadingSession` (through
:class:`MeasureWidget`'s methods of the same name, usable from scripts and tests); the session
autosaves every change in the store and the dock only redraws what the session holds. Errors
are shown in the dock, never as a traceback::

    widget = MeasureWidget(viewer, store, "sample_dicom")
    widget.login("reader1", "demo-password")
    widget.open_task("HCC-001", "TP0")
    widget.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    widget.select_lesion("T1"); widget.select_kind("long")   # then draw on the "long axis" layer
    widget.sign("demo-password")
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_readerstation._measure_binding import MeasureBinding
from readerstation.errors import ReaderstationError, ReadingError
from readerstation.model import LesionRole, LiverSegment, MeasurementState
from readerstation.reading import DicomFolderSource, LineKind, ReadingSession, ReadingTask
from readerstation.store import KdfParams, Repository, Store

__all__ = ["LESION_COLUMNS", "WORKLIST_COLUMNS", "MeasureWidget"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

WORKLIST_COLUMNS = ("Subject", "Timepoint", "Scan date", "Status")
LESION_COLUMNS = ("Label", "Role", "Organ", "Long mm", "Short mm", "Viable mm", "State")
_ERROR_STYLE = "color: #ff6b6b;"


def _style_table(table: QTableWidget, mode: QHeaderView.ResizeMode) -> None:
    header, rows = table.horizontalHeader(), table.verticalHeader()
    if header is not None:
        header.setSectionResizeMode(mode)
    if rows is not None:
        rows.setVisible(False)


def _mm(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


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
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.store = store
        self.images = images if isinstance(images, DicomFolderSource) else DicomFolderSource(images)
        self._kdf = kdf
        self.session: ReadingSession | None = None
        self.binding: MeasureBinding | None = None
        self._tasks: list[ReadingTask] = []
        self._build(user, password)
        self._refresh()

    # ------------------------------------------------------------------ layout
    def _build(self, user: str, password: str) -> None:
        layout = QVBoxLayout(self)

        box = QGroupBox("Reader")
        form = QFormLayout(box)
        self.user_edit = QLineEdit(user)
        self.password_edit = QLineEdit(password)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.login_button = QPushButton("Log in")
        self.login_button.clicked.connect(
            lambda: self.login(self.user_edit.text(), self.password_edit.text())
        )
        self.password_edit.returnPressed.connect(self.login_button.click)
        self.user_label = QLabel("not logged in")
        form.addRow("User", self.user_edit)
        form.addRow("Password", self.password_edit)
        form.addRow(self.login_button, self.user_label)
        layout.addWidget(box)

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
        v.addWidget(self.worklist_table)
        v.addWidget(self.open_button)
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
        self.lesion_table.itemSelectionChanged.connect(self._on_lesion_selected)
        v.addWidget(self.lesion_table)

        row = QHBoxLayout()
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("T1")
        self.role_combo = QComboBox()
        self.role_combo.addItems([r.value for r in LesionRole])
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
            b = QPushButton(kind.value)
            b.setCheckable(True)
            b.clicked.connect(lambda _=False, k=kind: self.select_kind(k))
            self.kind_buttons[kind] = b
            row.addWidget(b)
        self.state_combo = QComboBox()
        self.state_combo.addItems(
            [s.value for s in MeasurementState if s is not MeasurementState.MEASURED]
        )
        self.state_button = QPushButton("Set state")
        self.state_button.clicked.connect(lambda: self.set_state(self.state_combo.currentText()))
        row.addWidget(self.state_combo)
        row.addWidget(self.state_button)
        v.addLayout(row)
        layout.addWidget(box)

        box = QGroupBox("Criteria")
        v = QVBoxLayout(box)
        self.findings_label = QLabel("")
        self.findings_label.setWordWrap(True)
        self.findings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.findings_label)
        self.sign_button = QPushButton("Sign...")
        self.sign_button.clicked.connect(self._on_sign_clicked)
        v.addWidget(self.sign_button)
        layout.addWidget(box)

        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message_label)
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
            self._tasks = self.session.worklist()
            self.say(f"logged in as {name}; {len(self._tasks)} tasks")
            return True

        return bool(self._guard(run))

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self._tasks):
            t = self._tasks[row]
            self.open_task(t.subject, t.timepoint)

    def open_task(self, subject: str, timepoint: str) -> bool:
        """Open a worklist task (the draft is restored) and show its image and lines."""

        def run() -> bool:
            session = self._require_session()
            read = session.open(subject, timepoint)
            if self.binding is None:
                raise ReadingError("log in first (user name and password above).")
            self.binding.show_read()
            self._tasks = session.worklist()
            first = next((a.lesion.label for a in read.lesions), None)
            if first is not None:
                self.select_lesion(first)
            self.say(
                f"{subject}/{timepoint} opened on series {session.series.description!r} "
                f"({session.series.phase.value})"
            )
            return True

        return bool(self._guard(run))

    def add_lesion(self, label: str, role: str, organ: str, **kwargs: Any) -> bool:
        """Add a lesion (see :meth:`ReadingSession.add_lesion`) and select it."""

        def run() -> bool:
            les = self._require_session().add_lesion(label, role, organ, **kwargs)
            self.select_lesion(les.label)
            self.say(f"{les.label} added ({les.role.value}, {les.organ})")
            return True

        return bool(self._guard(run))

    def _on_add_clicked(self) -> None:
        organ = self.organ_edit.text().strip()
        segment = self.segment_combo.currentText() or None
        self.add_lesion(
            self.label_edit.text().strip(),
            self.role_combo.currentText(),
            organ,
            liver_segment=segment,
            typical_hcc=self.hcc_check.isChecked(),
        )

    def select_lesion(self, label: str) -> None:
        """Make ``label`` the lesion new lines belong to, and show its slice."""
        if self.binding is None:
            return
        self.binding.active_lesion = label
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
        for other, b in self.kind_buttons.items():
            b.setChecked(other is k)
        if self.binding is None or k not in self.binding.layers:
            return
        layer = self.binding.layers[k]
        self.viewer.layers.selection.active = layer
        layer.mode = "add_line"

    def set_state(self, state: str) -> bool:
        """Set the selected lesion's state (too_small, absent, not_evaluated)."""

        def run() -> bool:
            session = self._require_session()
            label = self.binding.active_lesion if self.binding else None
            if label is None:
                raise ReadingError("select a lesion in the table first.")
            session.set_state(label, state)
            if self.binding is not None:
                self.binding.redraw()
            self.say(f"{label}: {state}")
            return True

        return bool(self._guard(run))

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
            self._tasks = self._require_session().worklist()
            self.say(
                f"{signed.subject.code}/{signed.timepoint.label} signed (v{signed.version}); it "
                "can no longer change"
            )
            return True

        return bool(self._guard(run))

    # ------------------------------------------------------------------ session -> view
    def _refresh(self) -> None:
        session = self.session
        self.user_label.setText(
            f"{session.repository.user.name} ({session.repository.user.role.value})"
            if session
            else "not logged in"
        )
        self.worklist_table.setRowCount(len(self._tasks))
        for r, t in enumerate(self._tasks):
            values = (
                t.subject,
                t.timepoint,
                t.scan_date.isoformat() if t.scan_date else "",
                t.status.value + (f" v{t.version}" if t.version and t.version > 1 else ""),
            )
            for c, text in enumerate(values):
                self.worklist_table.setItem(r, c, QTableWidgetItem(text))
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
                a.lesion.role.value,
                a.lesion.organ
                + (f" {a.lesion.liver_segment.value}" if a.lesion.liver_segment else ""),
                _mm(m.long_axis_mm if m else None),
                _mm(m.short_axis_mm if m else None),
                _mm(m.viable_long_axis_mm if m else None),
                state,
            )
            for c, text in enumerate(cells):
                self.lesion_table.setItem(r, c, QTableWidgetItem(text))
            if self.binding is not None and self.binding.active_lesion == a.lesion.label:
                self.lesion_table.selectRow(r)
        self.lesion_table.blockSignals(False)
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
        lines += [f"warning {f.lesion or ''} {f.message}" for f in findings.all if not f.blocking]
        self.findings_label.setText("\n".join(lines) or "no findings: the read can be signed")
        self.findings_label.setStyleSheet(_ERROR_STYLE if findings.blocking else "")
        self.sign_button.setEnabled(not open_read.is_signed and findings.can_sign)


def add_measure_dock(
    viewer: Any, folder: str | os.PathLike[str], db_url: str | None = None
) -> MeasureWidget:
    """Dock a Measure widget on the store at ``db_url`` (default: ``READERSTATION_DB`` or
    the default SQLite file) reading images from ``folder``.

    When ``folder`` is the sample trial (it holds ``ground_truth.json``) and the store has no
    user yet, the store is set up as a demo (:func:`~readerstation.reading.seed_sample_trial`)
    and the login box is prefilled with the demo reader ``reader1``.
    """
    from readerstation.errors import StoreError
    from readerstation.reading import DEMO_PASSWORD, seed_sample_trial
    from readerstation.store import open_store

    store = open_store(db_url)
    user = password = ""
    root = Path(folder)
    if (root / "ground_truth.json").is_file():
        try:
            seed_sample_trial(store, root)
        except StoreError:
            pass  # set up before (by an earlier launch, or a real trial store)
        user, password = "reader1", DEMO_PASSWORD
    widget = MeasureWidget(viewer, store, root, user=user, password=password)
    viewer.window.add_dock_widget(widget, name="Measure", area="right")
    return widget


def make_measure_widget(napari_viewer: Any) -> MeasureWidget:
    """npe2 widget factory: the default store and ``READERSTATION_IMAGES`` (or sample_dicom)."""
    from readerstation.store import open_store

    folder = Path(os.environ.get("READERSTATION_IMAGES") or "sample_dicom")
    if not folder.is_dir():
        folder = Path.cwd()
    return MeasureWidget(napari_viewer, open_store(), folder)
