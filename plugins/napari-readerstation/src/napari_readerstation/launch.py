"""``napari-readerstation [FOLDER] [--db PATH] [--demo-dual]``: start the reading workstation.

Opens a napari viewer with the Reading dock, indexes FOLDER (default ``sample_dicom``), proposes
the arterial series of the first subject / timepoint and loads it in the background.

``--demo-dual`` opens the dual-reading demo instead: the sample trial read by ``reader1`` and
``reader2`` (signed, with the designed discrepancies), the Adjudication dock logged in as the
demo adjudicator and the Monitoring dock (store ``var/readerstation-dual.sqlite`` unless
``--db``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_readerstation import __version__

__all__ = [
    "DEMO_ADJUDICATOR",
    "build_parser",
    "launch",
    "launch_dual",
    "main",
    "seed_demo_store",
    "to_store_url",
]

DEFAULT_FOLDER = Path("sample_dicom")
DEFAULT_DUAL_DB = Path("var") / "readerstation-dual.sqlite"
#: The demo adjudicator's account name (password: ``readerstation.reading.DEMO_PASSWORD``).
DEMO_ADJUDICATOR = "adjudicator"
DOCK_AREA = "right"


def build_parser() -> argparse.ArgumentParser:
    """The launcher's command line."""
    parser = argparse.ArgumentParser(
        prog="napari-readerstation",
        description="Reading workstation for liver-cancer trials: napari with the Reading dock.",
    )
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=DEFAULT_FOLDER,
        help=f"DICOM folder to open (default: {DEFAULT_FOLDER}/)",
    )
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL_OR_FILE",
        help="trial store: a SQLAlchemy URL or a SQLite file (default: $READERSTATION_DB, else "
        "var/readerstation.sqlite under the current folder)",
    )
    parser.add_argument(
        "--version", action="version", version=f"napari-readerstation {__version__}"
    )
    parser.add_argument(
        "--demo-dual",
        action="store_true",
        help="dual-reading demo: the sample trial read twice and signed, the Adjudication and "
        f"Monitoring docks (store {DEFAULT_DUAL_DB} unless --db)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def to_store_url(db: str | os.PathLike[str] | None) -> str:
    """The store URL for ``--db``: a SQLAlchemy URL as is, a file path as a SQLite URL, and
    None as the store's embedded default (``READERSTATION_DB`` or ``var/readerstation.sqlite``
    under the current folder)."""
    from readerstation.store import default_url

    if db is None:
        return default_url()
    text = os.fspath(db)
    return text if "://" in text else f"sqlite:///{text}"


def launch(viewer: Any, folder: Path | None, db: str | os.PathLike[str] | None = None) -> Any:
    """Dock the Reading widget (and, with a folder, the Measure dock on the store ``db``: see
    :func:`to_store_url`) in ``viewer`` and start opening ``folder``; returns the Reading widget.
    """
    from sqlalchemy.engine import make_url

    from napari_readerstation._controller import ReadingController
    from napari_readerstation._widget import ReadingWidget

    url = to_store_url(db) if folder is not None else None
    shown = None if url is None else make_url(url).render_as_string(hide_password=True)
    widget = ReadingWidget(viewer, ReadingController(db_url=shown))
    viewer.window.add_dock_widget(widget, name="Reading", area=DOCK_AREA)
    if folder is not None:
        from napari_readerstation._measure_widget import add_measure_dock

        # a tab beside the Reading dock, in front: stacked, the two docks are taller than a
        # 1000-pixel screen (the Sign button falls off) and the series list shrinks to 3 rows
        measure = add_measure_dock(viewer, folder, url, window_shortcuts=False, tabify=True)
        # one set of window keys (Alt+1..4, the Reading dock's) for both docks' images
        widget.controller.window_changed.connect(measure.apply_window)
        widget.open_folder(folder, load_proposed=True)
    if os.environ.get("READERSTATION_PACS_URL"):
        from napari_readerstation._pacs_widget import add_pacs_dock

        # a site PACS is configured: its dock sits beside the Reading dock, opening into it
        add_pacs_dock(viewer, widget, area=DOCK_AREA)
    return widget


def seed_demo_store(store: Any, folder: Path, *, dual: bool = False, kdf: Any = None) -> bool:
    """Set up an empty store as the sample trial's demo: admin, reader1, reader2 and the
    adjudicator ``adjudicator`` (all with the demo password); with ``dual``, both readers'
    signed reads too (:func:`~readerstation.reading.dual_sample.seed_dual_reads`).

    Returns False (and changes nothing) when the store already has users.
    """
    from readerstation.errors import StoreError
    from readerstation.reading import DEMO_PASSWORD, seed_sample_trial
    from readerstation.store import Repository

    try:
        accounts = seed_sample_trial(store, folder, kdf=kdf)
    except StoreError:
        return False  # set up before (by an earlier launch, or a real trial store)
    admin = Repository.login(store, accounts.admin, DEMO_PASSWORD, kdf=kdf)
    admin.add_user(DEMO_ADJUDICATOR, "adjudicator", DEMO_PASSWORD)
    if dual:
        from readerstation.reading.dual_sample import seed_dual_reads

        seed_dual_reads(store, folder, kdf=kdf)
    return True


def launch_dual(viewer: Any, folder: Path, db: str | os.PathLike[str] | None = None) -> Any:
    """The dual-reading demo in ``viewer``: seed the store (if empty), dock Adjudication
    (logged in as the demo adjudicator) and Monitoring; returns the Adjudication widget."""
    from napari_readerstation._adjudication_widget import AdjudicationWidget
    from napari_readerstation._monitoring_widget import MonitoringWidget
    from readerstation.reading import DEMO_PASSWORD
    from readerstation.store import open_store

    if db is None:
        DEFAULT_DUAL_DB.parent.mkdir(parents=True, exist_ok=True)
        db = DEFAULT_DUAL_DB
    store = open_store(to_store_url(db))
    seed_demo_store(store, folder, dual=True)
    adjudication = AdjudicationWidget(viewer, store, folder, user=DEMO_ADJUDICATOR)
    dock = viewer.window.add_dock_widget(adjudication, name="Adjudication", area=DOCK_AREA)
    monitoring = MonitoringWidget(store, user=DEMO_ADJUDICATOR)
    viewer.window.add_dock_widget(monitoring, name="Monitoring", area=DOCK_AREA, tabify=True)
    adjudication.login(DEMO_ADJUDICATOR, DEMO_PASSWORD)
    monitoring.login(DEMO_ADJUDICATOR, DEMO_PASSWORD)
    from qtpy.QtCore import QTimer

    dock.raise_()  # the Adjudication tab in front (again once Qt has laid the tabs out)
    QTimer.singleShot(0, dock.raise_)
    return adjudication


def _fit_to_screen(viewer: Any) -> None:
    """Fill the screen (maximised where a window manager is running): the docks beside a
    default-sized window leave the image a narrow strip, and a window taller than the screen
    hides the bottom of the Measure dock (the Sign button). Call it once the docks are in."""
    from qtpy.QtWidgets import QApplication

    screen = QApplication.primaryScreen()
    if screen is None:
        return
    geometry = screen.availableGeometry()
    viewer.window.set_geometry(geometry.x(), geometry.y(), geometry.width(), geometry.height())
    qt_window = getattr(viewer.window, "_qt_window", None)  # napari has no public maximise
    if qt_window is not None:
        qt_window.showMaximized()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-readerstation`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.folder.is_dir():
        print(
            f"napari-readerstation: error: DICOM folder {args.folder} does not exist; "
            "run `make sample` to create sample_dicom/ or pass a folder.",
            file=sys.stderr,
        )
        return 2
    import napari

    viewer = napari.Viewer(title="readerstation")
    if args.demo_dual:
        launch_dual(viewer, args.folder, args.db)
    else:
        launch(viewer, args.folder, args.db)
    _fit_to_screen(viewer)
    napari.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
