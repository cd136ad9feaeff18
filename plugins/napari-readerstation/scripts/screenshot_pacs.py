"""Screenshot of the PACS dock with a query result and a pull in progress (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \\
        plugins/napari-readerstation/scripts/screenshot_pacs.py [--out docs/screenshots]

Starts a throw-away Orthanc (``scripts/orthanc.sh``) in a temporary folder, stores the sample
subject HCC-001 on it, pulls and opens its baseline arterial series, queries HCC-001 again and
starts pulling the week-6 arterial series slowed down (so that the shot catches the progress
bar), writes ``pacs_dock.png``, cancels, and stops the server. The cache is temporary too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from take_screenshots import _wait

REPO = Path(__file__).resolve().parents[3]


def _shoot(url: str, cache: Path, out: Path, size: tuple[int, int]) -> None:
    import napari
    from napari_readerstation._pacs_widget import add_pacs_dock
    from napari_readerstation._widget import ReadingWidget
    from qtpy.QtWidgets import QApplication

    from readerstation.dicom import pacs as pacs_module

    viewer = napari.Viewer(title="readerstation", show=True)
    viewer.window._qt_window.resize(*size)
    reading = ReadingWidget(viewer)
    viewer.window.add_dock_widget(reading, name="Reading", area="right")
    pacs = add_pacs_dock(viewer, reading, url=url, cache_dir=cache)
    app = QApplication.instance()
    pacs.query("HCC-001")
    _wait(app, lambda: pacs.table.rowCount() > 0 and not pacs.busy)
    pacs.pull_selected()  # the proposed baseline arterial series
    _wait(app, lambda: reading.controller.current is not None and not reading._workers)
    original = pacs_module._write_part

    def slow(*args, **kwargs):
        time.sleep(0.15)
        return original(*args, **kwargs)

    pacs_module._write_part = slow
    week6 = next(r for r in pacs.controller.rows if r.study_id == "TP1" and r.phase == "arterial")
    pacs.pull_selected(week6.series_uid)
    _wait(app, lambda: pacs.progress.value() >= 25)
    pacs.parent().raise_()  # the PACS tab in front of the Reading one
    _wait(app, lambda: False, 0.5)
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}")
    pacs.controller.cancel_pull()
    _wait(app, lambda: not pacs.busy)
    pacs_module._write_part = original
    viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--size", default="1500x950", help="window size WxH")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    from readerstation.dicom.pacs import DicomWebSource

    with tempfile.TemporaryDirectory(prefix="pacs-shot-") as tmp:
        server = Path(tmp) / "orthanc"
        script = REPO / "scripts" / "orthanc.sh"
        url = subprocess.run(
            ["bash", str(script), "start", str(server)], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        try:
            subject = REPO / "sample_dicom" / "HCC-001"
            DicomWebSource(url).push([subject / "TP0_baseline", subject / "TP1_week06"])
            _shoot(url, Path(tmp) / "cache", args.out / "pacs_dock.png", (size[0], size[1]))
        finally:
            subprocess.run(["bash", str(script), "stop", str(server)], check=False)


if __name__ == "__main__":
    main()
