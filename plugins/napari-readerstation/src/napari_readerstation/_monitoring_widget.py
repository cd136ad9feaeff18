"""The "Monitoring" dock: reader agreement and adjudication figures, per criteria.

Shows :meth:`Repository.agreement` (admin or adjudicator) as it is: adjudication rate, BOR
disagreement, Cohen's kappa on best and timepoint response with their 95 % CI, ICC(2,1) and
Bland-Altman limits of agreement on the sum of diameters, and per reader the endorsement rate
and the Reader Disagreement Index, with a Bland-Altman plot (matplotlib). Nothing is computed
here; :meth:`MonitoringWidget.refresh` re-reads the store::

    widget = MonitoringWidget(store)
    widget.login("admin", "demo-password")     # then widget.report holds the AgreementReport
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QShortcut,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_readerstation._login import LoginBox
from readerstation.errors import ReaderstationError, ReadingError
from readerstation.store import KdfParams, Repository, Store

__all__ = ["FIGURE_ROWS", "READER_COLUMNS", "MonitoringWidget", "make_monitoring_widget"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_ERROR_STYLE = "color: #ff6b6b;"
_CRITERIA_NAMES = {"recist1.1": "RECIST 1.1", "mrecist": "mRECIST"}

#: The figure table's rows: (label, function of CriteriaAgreement -> text).
FIGURE_ROWS = (
    "Subjects with two signed reads",
    "Adjudication rate",
    "BOR disagreement",
    "Kappa, best response (95% CI)",
    "Kappa, timepoint response (95% CI)",
    "ICC(2,1), sum of diameters",
    "Bland-Altman mean difference (mm)",
    "Bland-Altman limits of agreement (mm)",
)
READER_COLUMNS = ("Reader", "Subjects", "Adjudicated", "Endorsed", "Endorsement rate", "RDI")


def _header(table: QTableWidget, *, vertical: bool) -> QHeaderView:
    header = table.verticalHeader() if vertical else table.horizontalHeader()
    if header is None:  # pragma: no cover - a QTableWidget always has both
        raise ReadingError("table without a header")
    return header


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def _num(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _kappa(k: Any) -> str:
    if k.value is None:
        return f"n/a (n={k.n})"
    ci = "" if k.lower is None else f" ({k.lower:.2f} to {k.upper:.2f})"
    return f"{k.value:.2f}{ci}, n={k.n}"


def derive_figure_texts(c: Any) -> list[str]:
    """The figure table's texts of one :class:`CriteriaAgreement` (in :data:`FIGURE_ROWS`
    order)."""
    ba = c.bland_altman_sum_mm
    return [
        str(c.n_subjects),
        f"{_pct(c.adjudication_rate)} ({c.n_adjudicated}/{c.n_subjects})",
        f"{_pct(c.bor_disagreement_rate)} ({c.n_bor_disagreement}/{c.n_subjects})",
        _kappa(c.kappa_best_response),
        _kappa(c.kappa_timepoint_response),
        f"{_num(c.icc_sum_mm, 3)} (n={c.n_sum_pairs})",
        _num(ba.mean_difference),
        "n/a"
        if ba.lower_loa is None
        else f"{ba.lower_loa:.1f} to {ba.upper_loa:.1f} (SD {_num(ba.sd, 1)}, n={ba.n})",
    ]


class MonitoringWidget(QWidget):
    """Dock widget showing the store's agreement report for an admin or adjudicator.

    Parameters
    ----------
    store : Store
    user, password : str
        Prefilled (demo stores only).
    kdf : KdfParams or None
        argon2id parameters of the store (tests use cheap ones).
    """

    def __init__(
        self,
        store: Store,
        *,
        user: str = "",
        password: str = "",
        kdf: KdfParams | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self._kdf = kdf
        self.repository: Repository | None = None
        self.report: Any | None = None
        self._build(user, password)

    def _build(self, user: str, password: str) -> None:
        layout = QVBoxLayout(self)
        login_box = LoginBox("Monitor (admin or adjudicator)", user, password, self.login)
        self.user_edit, self.password_edit = login_box.user_edit, login_box.password_edit
        self.login_button, self.user_label = login_box.login_button, login_box.user_label
        layout.addWidget(login_box)

        row = QHBoxLayout()
        row.addWidget(QLabel("Criteria:"))
        self.criteria_combo = QComboBox()
        self.criteria_combo.currentIndexChanged.connect(lambda _i: self._draw())
        row.addWidget(self.criteria_combo, 1)
        self.refresh_button = QPushButton("Refresh (F5)")
        self.refresh_button.clicked.connect(self.refresh)
        row.addWidget(self.refresh_button)
        layout.addLayout(row)

        self.figures = QTableWidget(len(FIGURE_ROWS), 1)
        self.figures.setVerticalHeaderLabels(FIGURE_ROWS)
        self.figures.setHorizontalHeaderLabels(["Value"])
        _header(self.figures, vertical=False).setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        side = _header(self.figures, vertical=True)
        side.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.figures.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.figures.setWordWrap(False)
        self.figures.setMinimumHeight(side.defaultSectionSize() * (len(FIGURE_ROWS) + 1) + 8)
        layout.addWidget(self.figures)

        self.readers = QTableWidget(0, len(READER_COLUMNS))
        self.readers.setHorizontalHeaderLabels(READER_COLUMNS)
        top = _header(self.readers, vertical=False)
        top.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        top.setStretchLastSection(True)
        side = _header(self.readers, vertical=True)
        side.setVisible(False)
        self.readers.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.readers.setMaximumHeight(side.defaultSectionSize() * 5)
        layout.addWidget(self.readers)
        self.readers_note = QLabel("")
        self.readers_note.setWordWrap(True)
        layout.addWidget(self.readers_note)

        self.canvas: Any | None = None
        self.axes: Any | None = None
        try:
            from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
            from matplotlib.figure import Figure

            figure = Figure(figsize=(4.5, 3.0), layout="constrained")
            self.axes = figure.add_subplot(1, 1, 1)
            self.canvas = FigureCanvasQTAgg(figure)
            self.canvas.setMinimumHeight(240)
            layout.addWidget(self.canvas)
        except ImportError:  # pragma: no cover - matplotlib is a napari dependency
            layout.addWidget(QLabel("matplotlib is not installed: no Bland-Altman plot"))

        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        sc = QShortcut(QKeySequence("F5"), self)
        sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        sc.activated.connect(self.refresh)
        self.shortcuts = {"F5": sc}

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
            _log.exception("unexpected error in the Monitoring dock")
            self.say(f"unexpected error: {type(exc).__name__}: {exc}", error=True)
        return None

    def login(self, name: str, password: str) -> bool:
        """Log in (admin or adjudicator) and show the report; False when refused."""

        def run() -> bool:
            repo = Repository.login(self.store, name, password, kdf=self._kdf)
            self.password_edit.clear()
            self.user_edit.setText(name)
            self.repository = repo
            self.user_label.setText(f"{repo.user.name} ({repo.user.role.value})")
            return self.refresh()

        return bool(self._guard(run))

    def refresh(self) -> bool:
        """Ask the store for the agreement report again and redraw."""

        def run() -> bool:
            if self.repository is None:
                raise ReadingError("log in first (an admin or adjudicator account).")
            report = self.repository.agreement()
            self.report = report
            names = [c.criteria for c in report.criteria]
            current = self.criteria_combo.currentData()
            self.criteria_combo.blockSignals(True)
            self.criteria_combo.clear()
            for n in names:
                self.criteria_combo.addItem(_CRITERIA_NAMES.get(n, n), n)
            if current in names:
                self.criteria_combo.setCurrentIndex(names.index(current))
            self.criteria_combo.blockSignals(False)
            self._draw()
            self.say(
                "no subject has two signed reads yet"
                if not names
                else f"agreement of {report.criteria[0].n_subjects} subjects read twice"
            )
            return True

        return bool(self._guard(run))

    def _draw(self) -> None:
        report, name = self.report, self.criteria_combo.currentData()
        if report is None or name is None:
            return
        c = report[name]
        for r, text in enumerate(derive_figure_texts(c)):
            self.figures.setItem(r, 0, QTableWidgetItem(text))
        self.readers.setRowCount(len(c.readers))
        self.readers.setVisible(bool(c.readers))
        self.readers_note.setText(
            ""
            if c.readers or not c.n_subjects
            else "per-reader figures (endorsement rate, RDI) are shown to admins only"
        )
        for r, reader in enumerate(c.readers):
            cells = (
                reader.reader,
                str(reader.n_subjects),
                str(reader.n_adjudicated),
                f"{reader.n_endorsed}/{reader.n_decided}",
                _pct(reader.endorsement_rate),
                _num(reader.rdi),
            )
            for col, text in enumerate(cells):
                self.readers.setItem(r, col, QTableWidgetItem(text))
        self._plot(c)

    def _plot(self, c: Any) -> None:
        """Bland-Altman plot of the sums of diameters (slot-1 vs slot-2 read)."""
        if self.axes is None or self.canvas is None:
            return
        ax = self.axes
        ax.clear()
        pairs = np.asarray(getattr(c, "sum_pairs", ()) or (), float).reshape(-1, 2)
        ba = c.bland_altman_sum_mm
        label = _CRITERIA_NAMES.get(c.criteria, c.criteria)
        if len(pairs):
            mean = pairs.mean(axis=1)
            diff = pairs[:, 0] - pairs[:, 1]
            ax.scatter(mean, diff, s=12, alpha=0.7, color="#33a3ff")
        if ba.mean_difference is not None:
            ax.axhline(ba.mean_difference, color="#444444", lw=1, label="mean difference")
        if ba.lower_loa is not None:
            for y in (ba.lower_loa, ba.upper_loa):
                ax.axhline(y, color="#ff6a3d", lw=1, ls="--")
            ax.axhline(ba.upper_loa, color="#ff6a3d", lw=1, ls="--", label="95 % limits")
        ax.set_xlabel("mean of the two reads' sums (mm)")
        ax.set_ylabel("read 1 - read 2 (mm)")
        ax.set_title(f"Bland-Altman, sum of diameters ({label}, n={ba.n})", fontsize=9)
        if ba.mean_difference is not None:
            ax.legend(fontsize=7, loc="best")
        self.canvas.draw_idle()


def make_monitoring_widget(napari_viewer: Any) -> MonitoringWidget:
    """npe2 widget factory: the default store (``READERSTATION_DB`` or the embedded file)."""
    from readerstation.store import open_store

    _ = napari_viewer  # the panel shows figures, not images
    return MonitoringWidget(open_store())
