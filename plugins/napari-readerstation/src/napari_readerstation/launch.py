"""``napari-readerstation [FOLDER] [--db PATH]``: start the reading workstation.

Opens a napari viewer with the Reading dock, indexes FOLDER (default ``sample_dicom``), proposes
the arterial series of the first subject / timepoint and loads it in the background.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_readerstation import __version__

__all__ = ["build_parser", "launch", "main"]

DEFAULT_FOLDER = Path("sample_dicom")
DEFAULT_DB = Path("readerstation.sqlite")
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
        type=Path,
        default=DEFAULT_DB,
        metavar="PATH",
        help=f"trial database file (default: {DEFAULT_DB}; shown only until the store exists)",
    )
    parser.add_argument(
        "--version", action="version", version=f"napari-readerstation {__version__}"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def launch(viewer: Any, folder: Path | None, db_path: Path | None = None) -> Any:
    """Dock the Reading widget in ``viewer`` and start opening ``folder``; returns the widget."""
    from napari_readerstation._controller import ReadingController
    from napari_readerstation._widget import ReadingWidget

    controller = ReadingController(db_path=db_path)
    widget = ReadingWidget(viewer, controller)
    viewer.window.add_dock_widget(widget, name="Reading", area=DOCK_AREA)
    if folder is not None:
        from napari_readerstation._measure_widget import add_measure_dock

        add_measure_dock(viewer, folder, None if db_path is None else f"sqlite:///{db_path}")
        widget.open_folder(folder, load_proposed=True)
    return widget


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
    launch(viewer, args.folder, args.db)
    napari.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
