"""Screenshots of the docked Reading layout, for docs/screenshots/ (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \\
        plugins/napari-readerstation/scripts/take_screenshots.py [--sample sample_dicom]

Writes ``reading_dock.png`` (the sample trial, proposed arterial series, liver window) and, when
../shared/testdata is present, ``sagittal_mr.png`` and ``gantry_tilt_ct.png`` to check that
non-axial and tilted stacks are shown the right way up.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=Path, default=REPO / "sample_dicom")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    size = (args.width, args.height)
    _shoot(args.sample, args.out / "reading_dock.png", size)
    for name, file in (
        ("mr_sagittal_supine_HFS", "sagittal_mr.png"),
        ("ct_gantry_tilt_uneven_spacing", "gantry_tilt_ct.png"),
    ):
        if (TESTDATA / name).is_dir():
            _shoot(TESTDATA / name, args.out / file, size)


if __name__ == "__main__":
    main()
