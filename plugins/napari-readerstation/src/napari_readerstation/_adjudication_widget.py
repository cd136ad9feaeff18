"""The "Adjudication" dock: open discrepancies, a blinded packet, endorse A or B, sign.

Every gesture is one call of the store (:class:`~readerstation.store.Repository`, logged in as
an adjudicator) through the method of the same name on :class:`AdjudicationWidget`, usable
from scripts and tests; the dock keeps no clinical state of its own (the packet is re-read
from the store after each decision)::

    widget = AdjudicationWidget(viewer, store, "sample_dicom")
    widget.login("adjudicator", "demo-password")
    widget.open_packet("HCC-003")
    widget.show_timepoint("TP1")          # in a background thread: wait for widget.busy False
    widget.adjudicate("recist1.1", "A", "new_lesion_call", "NL1 clearly enhancing", "pw")

Reads are "Read A" and "Read B" (the store's per-case random order); no reader name appears.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QBrush, QColor, QKeySequence
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
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
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from napari_readerstation._adjudication_binding import (
    OUTCOME_FIELDS,
    READ_COLOURS,
    AdjudicationBinding,
    derive_lesion_rows,
    derive_outcome_rows,
    derive_timeline_rows,
    derive_timepoint_labels,
)
from napari_readerstation._login import LoginBox
from napari_readerstation._measure_widget import EnterKeyFilter, _mm
from readerstation.errors import ReaderstationError, ReadingError
from readerstation.geometry import Volume
from readerstation.reading import DicomFolderSource
from readerstation.reading.charter import AdjudicationReason
from readerstation.store import DiscrepancyInfo, KdfParams, Repository, Store

__all__ = [
    "DISCREPANCY_COLUMNS",
    "SHORTCUTS",
    "TIMELINE_COLUMNS",
    "AdjudicationWidget",
    "make_adjudication_widget",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

DISCREPANCY_COLUMNS = ("Subject", "Criteria", "Differs on", "Status")
TIMELINE_COLUMNS = ("TP", "Date", "Sum A", "Sum B", "Resp. A", "Resp. B")
LESION_COLUMNS = ("Read", "Lesion", "Role", "Long mm", "Viable mm", "State")
OUTCOME_COLUMNS = ("Outcome", "Read A", "Read B")
_CRITERIA_NAMES = {"recist1.1": "RECIST 1.1", "mrecist": "mRECIST"}
_VARIABLE_NAMES = {
    "best_overall_response": "BOR",
    "progression_date": "progression date",
    "response_date": "response date",
    "timepoint_response": "timepoint response",
}
_ERROR_STYLE = "color: #ff6b6b;"
_DIFF_BRUSH = QBrush(QColor(150, 90, 0))  # amber: a value that differs between A and B
_FLAG_BRUSH = QBrush(QColor(170, 40, 40))  # red: a charter variable that differs

#: Keyboard shortcuts of the Adjudication dock (Qt notation) -> what they do.
SHORTCUTS = {
    "Alt+D": "focus the discrepancy list (arrow keys to choose, Enter to open the packet)",
    "Ctrl+PgDown": "show the next timepoint's image",
    "Ctrl+PgUp": "show the previous timepoint's image",
}


def _style_table(table: QTableWidget, rows_shown: int = 0) -> None:
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setWordWrap(False)
    header, rows = table.horizontalHeader(), table.verticalHeader()
    if header is not None:
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
    if rows is not None:
        rows.setVisible(False)
        if rows_shown:
            table.setMinimumHeight(rows.defaultSectionSize() * (rows_shown + 1) + 4)


class _CriteriaPanel(QWidget):
    """One criteria's side-by-side view and decision inside the packet tabs."""

    def __init__(self, criteria: str, sign: Callable[[str], None]) -> None:
        super().__init__()
        self.criteria = criteria
        v = QVBoxLayout(self)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        v.addWidget(self.status_label)
        self.timeline = QTableWidget(0, len(TIMELINE_COLUMNS))
        self.timeline.setHorizontalHeaderLabels(TIMELINE_COLUMNS)
        _style_table(self.timeline, rows_shown=4)
        v.addWidget(self.timeline)
        self.outcomes = QTableWidget(0, len(OUTCOME_COLUMNS))
        self.outcomes.setHorizontalHeaderLabels(OUTCOME_COLUMNS)
        _style_table(self.outcomes, rows_shown=len(OUTCOME_FIELDS))
        v.addWidget(self.outcomes)
        self.causes_label = QLabel("")
        self.causes_label.setWordWrap(True)
        self.causes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.causes_label)

        form = QFormLayout()
        # no default: a preselected read would nudge the adjudicator; both must be chosen
        self.endorse_combo = QComboBox()
        self.endorse_combo.addItems(["A", "B"])
        self.endorse_combo.setPlaceholderText("choose A or B")
        self.endorse_combo.setCurrentIndex(-1)
        self.reason_combo = QComboBox()
        for r in AdjudicationReason:
            self.reason_combo.addItem(r.value.replace("_", " "), r.value)
        self.reason_combo.setPlaceholderText("choose a reason")
        self.reason_combo.setCurrentIndex(-1)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("why (free text, optional)")
        self.sign_button = QPushButton(f"Sign {_CRITERIA_NAMES.get(criteria, criteria)}...")
        self.sign_button.clicked.connect(lambda: sign(criteria))
        form.addRow("Endorse read", self.endorse_combo)
        form.addRow("Reason", self.reason_combo)
        form.addRow("Note", self.note_edit)
        form.addRow(self.sign_button)
        v.addLayout(form)

    def show_packet(self, packet: Mapping[str, Any]) -> None:
        entry = packet["criteria"][self.criteria]
        rows = derive_timeline_rows(packet, self.criteria)
        self.timeline.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (
                row.timepoint,
                row.date or "",
                _mm(row.sum_a),
                _mm(row.sum_b),
                (row.response_a or "") + (" (new)" if row.new_lesions_a == "unequivocal" else ""),
                (row.response_b or "") + (" (new)" if row.new_lesions_b == "unequivocal" else ""),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if row.differs and c >= 4:
                    item.setBackground(_DIFF_BRUSH)
                    item.setToolTip("the timepoint responses differ")
                self.timeline.setItem(r, c, item)
        outcomes = derive_outcome_rows(packet, self.criteria)
        self.outcomes.setRowCount(len(outcomes))
        for r, o in enumerate(outcomes):
            for c, text in enumerate((o.label + (" *" if o.flagged else ""), o.value_a, o.value_b)):
                item = QTableWidgetItem(text)
                if o.flagged:
                    item.setBackground(_FLAG_BRUSH)
                    item.setToolTip("a charter variable that differs: to adjudicate")
                elif o.differs:
                    item.setBackground(_DIFF_BRUSH)
                self.outcomes.setItem(r, c, item)
        causes = entry.get("causes") or []
        self.causes_label.setText(
            "Why they differ: " + "; ".join(str(c.get("detail") or c["kind"]) for c in causes)
            if causes
            else ""
        )
        variables = [_VARIABLE_NAMES.get(v, v) for v in entry.get("variables") or []]
        decision = entry.get("adjudication")
        open_ = entry.get("status") == "open"
        if decision is not None:
            text = (
                f"adjudicated: read {decision['endorsed']} endorsed ({decision['reason']}"
                + (f": {decision['note']}" if decision.get("note") else "")
                + ")"
            )
        elif open_:
            text = "to adjudicate: the reads differ on " + ", ".join(variables)
        else:
            text = "the reads agree on the charter variables: nothing to adjudicate"
        self.status_label.setText(text)
        for w in (self.endorse_combo, self.reason_combo, self.note_edit, self.sign_button):
            w.setEnabled(open_)
        self.endorse_combo.setCurrentIndex(-1)
        self.reason_combo.setCurrentIndex(-1)


class AdjudicationWidget(QWidget):
    """Dock widget for one logged-in adjudicator.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    store : Store
        The trial store (the adjudicator's repository is opened on it at login).
    images : path-like or DicomFolderSource
        The trial's DICOM folder.
    user, password : str
        Prefilled user name and password (demo stores only).
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
        self.repository: Repository | None = None
        self.binding = AdjudicationBinding(napari_viewer, self.images)
        self.binding.message.connect(self.say)
        self.discrepancies: list[DiscrepancyInfo] = []
        self.packet: dict[str, Any] | None = None
        self._lesion_rows: list[Any] = []
        self._worker: Any | None = None
        self._build(user, password)

    # ------------------------------------------------------------------ layout
    def _build(self, user: str, password: str) -> None:
        # the dock scrolls rather than growing the window past the screen
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        scroll.setWidget(inner)
        outer.addWidget(scroll)
        self._scroll = scroll
        self.setMinimumWidth(500)
        layout = QVBoxLayout(inner)
        login_box = LoginBox("Adjudicator", user, password, self.login)
        self.user_edit, self.password_edit = login_box.user_edit, login_box.password_edit
        self.login_button, self.user_label = login_box.login_button, login_box.user_label
        layout.addWidget(login_box)

        box = QGroupBox("Discrepancies")
        v = QVBoxLayout(box)
        self.discrepancy_table = QTableWidget(0, len(DISCREPANCY_COLUMNS))
        self.discrepancy_table.setHorizontalHeaderLabels(DISCREPANCY_COLUMNS)
        _style_table(self.discrepancy_table, rows_shown=4)
        self.discrepancy_table.setToolTip("arrow keys to choose, Enter to open the packet")
        self.discrepancy_table.cellDoubleClicked.connect(lambda row, _c: self._open_row(row))
        self._enter_filter = EnterKeyFilter(
            lambda: self._open_row(self.discrepancy_table.currentRow()), self.discrepancy_table
        )
        self.discrepancy_table.installEventFilter(self._enter_filter)
        v.addWidget(self.discrepancy_table)
        self.open_button = QPushButton("Open packet")
        self.open_button.clicked.connect(
            lambda: self._open_row(self.discrepancy_table.currentRow())
        )
        v.addWidget(self.open_button)
        layout.addWidget(box)

        self.packet_box = QGroupBox("Packet")
        v = QVBoxLayout(self.packet_box)
        row = QHBoxLayout()
        legend = QLabel(
            f'<span style="color:{READ_COLOURS["A"]}">&#9632; Read A</span>&nbsp;&nbsp;'
            f'<span style="color:{READ_COLOURS["B"]}">&#9632; Read B</span>'
        )
        row.addWidget(legend)
        row.addStretch(1)
        row.addWidget(QLabel("Image:"))
        self.timepoint_combo = QComboBox()
        self.timepoint_combo.setToolTip("the timepoint whose image and lines are shown")
        self.timepoint_combo.activated.connect(
            lambda i: self.show_timepoint(self.timepoint_combo.itemText(i))
        )
        row.addWidget(self.timepoint_combo)
        v.addLayout(row)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(8)
        self.busy_bar.setVisible(False)
        v.addWidget(self.busy_bar)
        self.lesion_table = QTableWidget(0, len(LESION_COLUMNS))
        self.lesion_table.setHorizontalHeaderLabels(LESION_COLUMNS)
        _style_table(self.lesion_table, rows_shown=4)
        self.lesion_table.setToolTip(
            "both reads' lesions at the shown timepoint; Enter or a click shows the lesion"
        )
        self.lesion_table.cellClicked.connect(lambda row, _c: self.show_lesion_row(row))
        self._lesion_enter = EnterKeyFilter(
            lambda: self.show_lesion_row(self.lesion_table.currentRow()), self.lesion_table
        )
        self.lesion_table.installEventFilter(self._lesion_enter)
        v.addWidget(self.lesion_table)
        self.tabs = QTabWidget()
        self.panels: dict[str, _CriteriaPanel] = {}
        v.addWidget(self.tabs)
        layout.addWidget(self.packet_box)
        self.packet_box.setEnabled(False)

        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message_label)
        layout.addStretch(1)

        keys: dict[str, Callable[[], object]] = {
            "Alt+D": self.discrepancy_table.setFocus,
            "Ctrl+PgDown": lambda: self.step_timepoint(1),
            "Ctrl+PgUp": lambda: self.step_timepoint(-1),
        }
        self.shortcuts: dict[str, QShortcut] = {}
        for key, action in keys.items():
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(action)
            self.shortcuts[key] = sc

    # ------------------------------------------------------------------ helpers
    def say(self, text: str, error: bool = False) -> None:
        """Show a message in the dock (errors in red)."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet(_ERROR_STYLE if error else "")

    def _guard(self, action: Callable[[], _T]) -> _T | None:
        try:
            return action()
        except ReaderstationError as exc:
            self.say(str(exc), error=True)
        except Exception as exc:  # never a traceback in a Qt slot
            _log.exception("unexpected error in the Adjudication dock")
            self.say(f"unexpected error: {type(exc).__name__}: {exc}", error=True)
        return None

    def _require_repo(self) -> Repository:
        if self.repository is None:
            raise ReadingError("log in first (adjudicator name and password above).")
        return self.repository

    @property
    def busy(self) -> bool:
        """True while a timepoint's image is loading in the background."""
        return self._worker is not None

    # ------------------------------------------------------------------ gestures
    def login(self, name: str, password: str) -> bool:
        """Log an adjudicator in and list the discrepancies; False (with the message) when
        refused."""

        def run() -> bool:
            repo = Repository.login(self.store, name, password, kdf=self._kdf)
            self.password_edit.clear()
            self.user_edit.setText(name)
            self.repository = repo
            self.user_label.setText(f"{repo.user.name} ({repo.user.role.value})")
            self.refresh_discrepancies()
            n_open = sum(1 for d in self.discrepancies if d.status == "open")
            self.say(f"logged in as {name}; {n_open} open discrepancies")
            self.discrepancy_table.setFocus()
            self.select_next_discrepancy()
            return True

        return bool(self._guard(run))

    def select_next_discrepancy(self) -> DiscrepancyInfo | None:
        """Select the first open discrepancy in the list (Enter opens its packet); None when
        none is open."""
        for row, d in enumerate(self.discrepancies):
            if d.status == "open":
                self.discrepancy_table.setCurrentCell(row, 0)
                return d
        return None

    def scroll_to_packet(self) -> None:
        """Scroll the dock so that the packet box starts at its top: the lesions, both
        timelines and the decision (endorse, reason, Sign) in view rather than below the
        discrepancy list."""
        bar = self._scroll.verticalScrollBar()
        if bar is not None:
            bar.setValue(min(self.packet_box.y(), bar.maximum()))

    def refresh_discrepancies(self) -> list[DiscrepancyInfo]:
        """Re-read the discrepancies from the store (open first) and redraw the list."""
        items = self._require_repo().list_discrepancies()
        items.sort(key=lambda d: (d.status != "open", d.subject, d.criteria))
        self.discrepancies = items
        t = self.discrepancy_table
        t.setRowCount(len(items))
        for r, d in enumerate(items):
            cells = (
                d.subject,
                _CRITERIA_NAMES.get(d.criteria, d.criteria),
                ", ".join(_VARIABLE_NAMES.get(v, v) for v in d.variables),
                d.status,
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if d.status != "open":
                    item.setForeground(QColor("#8a8a8a"))
                t.setItem(r, c, item)
        return items

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.discrepancies):
            self.open_packet(self.discrepancies[row].subject, self.discrepancies[row].criteria)
        else:
            self.say("select a discrepancy first (arrow keys, then Enter).", error=True)

    def open_packet(self, subject: str, criteria: str | None = None) -> bool:
        """Read the blinded packet of ``subject`` from the store and show it (the tab of
        ``criteria`` in front), then start showing its first timepoint where the reads differ."""

        def run() -> bool:
            packet = self._require_repo().adjudication_packet(subject)
            self.packet = packet
            self._show_packet(criteria)
            labels = derive_timepoint_labels(packet)
            first = self._first_differing_timepoint(criteria) or (labels[0] if labels else None)
            self.say(f"packet {subject} opened: Read A and Read B, blinded")
            if first is not None:
                self.show_timepoint(first)
            self.scroll_to_packet()
            QTimer.singleShot(0, self.scroll_to_packet)  # again once the packet is laid out
            return True

        return bool(self._guard(run))

    def _show_packet(self, criteria: str | None) -> None:
        packet = self.packet
        if packet is None:
            return
        self.packet_box.setTitle(f"Packet {packet['subject']}")
        self.packet_box.setEnabled(True)
        self.timepoint_combo.clear()
        self.timepoint_combo.addItems(derive_timepoint_labels(packet))
        current = criteria or (self.tabs.tabText(self.tabs.currentIndex()) or None)
        self.tabs.clear()
        self.panels = {}
        for name in packet["criteria"]:
            panel = _CriteriaPanel(name, self._on_sign_clicked)
            panel.show_packet(packet)
            self.panels[name] = panel
            entry = packet["criteria"][name]
            mark = " *" if entry.get("status") == "open" else ""
            self.tabs.addTab(panel, _CRITERIA_NAMES.get(name, name) + mark)
        names = list(self.panels)
        if current in names:
            self.tabs.setCurrentIndex(names.index(current))

    def _first_differing_timepoint(self, criteria: str | None) -> str | None:
        packet = self.packet
        if packet is None:
            return None
        for name in [criteria] if criteria else list(packet["criteria"]):
            if name is None:
                continue
            for cause in packet["criteria"][name].get("causes") or []:
                if cause.get("timepoint"):
                    return str(cause["timepoint"])
            for row in derive_timeline_rows(packet, name):
                if row.differs:
                    return row.timepoint
        return None

    def show_timepoint(self, label: str) -> Any | None:
        """Show timepoint ``label`` of the open packet: its image is decoded in a background
        thread, then both reads' lines are drawn (:attr:`busy` is True meanwhile)."""
        from napari.qt.threading import create_worker

        packet = self.packet
        if packet is None:
            self.say("open a packet first.", error=True)
            return None
        if self._worker is not None:
            self.say("an image is already loading; wait for it.", error=True)
            return None
        if label not in derive_timepoint_labels(packet):
            self.say(f"the packet has no timepoint {label!r}.", error=True)
            return None
        i = self.timepoint_combo.findText(label)
        if i >= 0:
            self.timepoint_combo.setCurrentIndex(i)
        binding = self.binding

        def work() -> Volume:
            return binding.load_volume(packet, label)

        worker = create_worker(work, _start_thread=False)
        worker.returned.connect(lambda volume: self._on_loaded(packet, label, volume))
        worker.errored.connect(
            lambda exc: self.say(
                str(exc) if isinstance(exc, ReaderstationError) else f"image not shown: {exc}",
                error=True,
            )
        )
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.busy_bar.setVisible(True)
        worker.start()
        return worker

    def _on_loaded(self, packet: dict[str, Any], label: str, volume: Volume) -> None:
        if packet is not self.packet:
            return  # another packet was opened meanwhile

        def run() -> None:
            self.binding.show(packet, label, volume)
            n_a, n_b = (len(self.binding._lines.get(k, [])) for k in ("A", "B"))
            self.say(
                f"{packet['subject']}/{label}: read A {n_a} lines (blue), read B {n_b} lines "
                "(orange) on the same image"
            )

        self._guard(run)
        self._draw_lesions(packet, label)

    def _draw_lesions(self, packet: Mapping[str, Any], label: str) -> None:
        rows = derive_lesion_rows(packet, label)
        self._lesion_rows = rows
        t = self.lesion_table
        t.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (
                row.read,
                row.lesion,
                row.role,
                _mm(row.long_axis_mm),
                _mm(row.viable_long_axis_mm),
                row.state,
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setForeground(QColor(READ_COLOURS[row.read]))
                if row.only_in_one_read:
                    item.setBackground(_DIFF_BRUSH)
                    item.setToolTip("only this read has this lesion at this timepoint")
                t.setItem(r, c, item)
        # show first what only one read has (the new lesion one reader called, another target)
        first = next(
            (i for i, row in enumerate(rows) if row.only_in_one_read and row.points is not None),
            None,
        )
        if first is not None:
            t.setCurrentCell(first, 0)
            self.show_lesion_row(first)

    def show_lesion_row(self, row: int) -> None:
        """Show the slice of a lesion of the lesion table, centred on its line."""
        rows = self._lesion_rows
        if not 0 <= row < len(rows):
            return
        line = rows[row].points
        if line is None:
            self.say(f"read {rows[row].read} {rows[row].lesion}: no line to show (not measured)")
            return
        self.binding.centre_on(line)

    def _on_finished(self) -> None:
        self._worker = None
        self.busy_bar.setVisible(False)

    def step_timepoint(self, step: int) -> None:
        """Show the next (``step`` 1) or previous (-1) timepoint of the packet."""
        n = self.timepoint_combo.count()
        if self.packet is None or n == 0:
            return
        i = (self.timepoint_combo.currentIndex() + step) % n
        self.show_timepoint(self.timepoint_combo.itemText(i))

    def _on_sign_clicked(self, criteria: str) -> None:
        panel = self.panels[criteria]
        endorse, reason = panel.endorse_combo.currentText(), panel.reason_combo.currentData()
        if not endorse or not reason:
            self.say(
                f"{_CRITERIA_NAMES.get(criteria, criteria)}: choose the read to endorse (A or B) "
                "and a reason before signing.",
                error=True,
            )
            return
        password, ok = QInputDialog.getText(
            self,
            "Sign the adjudication",
            f"Endorse read {panel.endorse_combo.currentText()} for "
            f"{_CRITERIA_NAMES.get(criteria, criteria)}.\nYour password, to sign:",
            QLineEdit.EchoMode.Password,
        )
        if ok:
            self.adjudicate(criteria, endorse, reason, panel.note_edit.text(), password)

    def adjudicate(
        self, criteria: str, endorse: str, reason: str, note: str, password: str
    ) -> bool:
        """Endorse read ``endorse`` ("A"/"B") of the open packet under ``criteria`` with a
        reason (one of the six words) and a note, and sign with the password (asked again)."""

        def run() -> bool:
            repo = self._require_repo()
            if self.packet is None:
                raise ReadingError("open a packet first.")
            subject = str(self.packet["subject"])
            info = repo.adjudicate(subject, criteria, endorse, reason, note, password=password)
            self.packet = repo.adjudication_packet(subject)
            self._show_packet(criteria)
            self.refresh_discrepancies()
            self.select_next_discrepancy()
            self.say(
                f"{subject} {_CRITERIA_NAMES.get(criteria, criteria)}: read {info.endorsed} "
                f"endorsed ({info.reason}) and signed; it is now the accepted read"
            )
            return True

        return bool(self._guard(run))


def add_adjudication_dock(
    viewer: Any,
    folder: str | os.PathLike[str],
    db_url: str | None = None,
    *,
    user: str = "",
    password: str = "",
) -> AdjudicationWidget:
    """Dock an Adjudication widget on the store at ``db_url`` reading images from ``folder``."""
    from readerstation.store import open_store

    widget = AdjudicationWidget(viewer, open_store(db_url), folder, user=user, password=password)
    viewer.window.add_dock_widget(widget, name="Adjudication", area="right")
    return widget


def make_adjudication_widget(napari_viewer: Any) -> AdjudicationWidget:
    """npe2 widget factory: the default store and ``READERSTATION_IMAGES`` (or sample_dicom)."""
    from pathlib import Path

    from readerstation.store import open_store

    folder = Path(os.environ.get("READERSTATION_IMAGES") or "sample_dicom")
    if not folder.is_dir():
        folder = Path.cwd()
    return AdjudicationWidget(napari_viewer, open_store(), folder)
