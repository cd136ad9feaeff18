"""Screenshots of the docked Reading layout, for docs/screenshots/ (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \\
        plugins/napari-readerstation/scripts/take_screenshots.py [--sample sample_dicom]

Writes ``reading_dock.png`` (the sample trial, proposed arterial series, liver window), when
../shared/testdata is present ``sagittal_mr.png`` and ``gantry_tilt_ct.png`` to check that
non-axial and tilted stacks are shown the right way up, and ``drop_loading.png`` /
``drop_loaded.png``: a sample timepoint folder dropped on napari (reader path), while its slices
are decoded in the background and once complete (``--only drop`` for these two).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TESTDATA = REPO / ".." / "shared" / "testdata" / "dicom"


def _wait(app, predicate, timeout_s: float = 60.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _shoot(folder: Path, out: Path, size: tuple[int, int]) -> None:
    import napari
    from napari_readerstation.launch import launch
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="readerstation", show=True)
    viewer.window._qt_window.resize(*size)
    widget = launch(viewer, folder, REPO / "readerstation.sqlite")
    app = QApplication.instance()
    ok = _wait(app, lambda: widget.controller.current is not None and not widget._workers)
    if not ok:
        print(f"{folder}: not loaded ({widget.status.text()})")
    _wait(app, lambda: False, 0.8)  # let the canvas draw
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}")
    viewer.close()


def _shoot_drop(folder: Path, out_loading: Path, out_loaded: Path, size: tuple[int, int]) -> None:
    import napari
    from napari_readerstation._reader import active_loads
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="readerstation", show=True)
    viewer.window._qt_window.resize(*size)
    app = QApplication.instance()
    _wait(app, lambda: False, 0.5)
    viewer.open(str(folder), plugin="napari-readerstation")  # what a drop on the canvas does
    _wait(app, lambda: False, 0.3)  # the middle slice is drawn, the rest still decoding
    viewer.screenshot(str(out_loading), canvas_only=False)
    print(f"wrote {out_loading}")
    if not _wait(app, lambda: not active_loads()):
        print(f"{folder}: drop not complete")
    _wait(app, lambda: False, 0.8)
    viewer.screenshot(str(out_loaded), canvas_only=False)
    print(f"wrote {out_loaded}")
    viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=Path, default=REPO / "sample_dicom")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--only", choices=("drop",), help="only the drag-and-drop screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    size = (args.width, args.height)
    timepoint = args.sample / "HCC-001" / "TP0_baseline"
    if timepoint.is_dir():
        _shoot_drop(timepoint, args.out / "drop_loading.png", args.out / "drop_loaded.png", size)
    if args.only == "drop":
        return
    _shoot(args.sample, args.out / "reading_dock.png", size)
    for name, file in (
        ("mr_sagittal_supine_HFS", "sagittal_mr.png"),
        ("ct_gantry_tilt_uneven_spacing", "gantry_tilt_ct.png"),
    ):
        if (TESTDATA / name).is_dir():
            _shoot(TESTDATA / name, args.out / file, size)


if __name__ == "__main__":
    main()
