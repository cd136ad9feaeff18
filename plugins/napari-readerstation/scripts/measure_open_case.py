"""Measure opening a case in the Measure dock: time in the background worker, time building or
updating the layers on the GUI thread, and the longest GUI freeze (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \\
        plugins/napari-readerstation/scripts/measure_open_case.py [--repeat 3]

On a throw-away store seeded with the sample trial, reader1's baseline of HCC-001 is signed,
then the dock opens TP1 (follow-up: prior beside it) and TP0 alternately, ``--repeat`` times
each (or ``--sequence TP1,TP1,TP0``). Switching between a follow-up (prior beside it, napari grid
on) and a baseline (grid off) rebuilds napari's view boxes and recompiles their shaders on the next
draw: that, not the layers, is most of the freeze when the grid toggles. A 10 ms QTimer ticks only while the GUI thread's event loop runs: the longest gap between
ticks from the click to the case shown is the freeze the reader feels. The first open pays
napari's one-time costs (shaders, first layers); the later ones are what a reading day sees.

Two counts per open explain the freeze and, unlike the times, do not depend on the machine's
load: ``programs``, the vispy shader programs (re)built at the next draws (each visible napari
Shapes layer has four, an image one; they are rebuilt whenever a layer moves to another view,
i.e. when the grid toggles), and ``scene``, napari's scene-graph rebuilds (one per layer
visibility change, grid change or reorder). The last line gives the medians of the later opens.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from take_screenshots import _sign_sample_baseline, _wait

REPO = Path(__file__).resolve().parents[3]


def _count_calls(counts: collections.Counter[str]) -> None:
    """Count vispy shader program builds and napari scene-graph rebuilds in ``counts``
    (instrumentation of this script only; wraps the two methods of the installed versions)."""
    from napari._vispy import canvas as vispy_canvas
    from vispy.visuals.shaders import program

    build = program.ModularProgram._build
    update = vispy_canvas.VispyCanvas._update_scenegraph

    def counted_build(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["programs"] += 1
        return build(self, *args, **kwargs)

    def counted_update(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts["scene"] += 1
        return update(self, *args, **kwargs)

    program.ModularProgram._build = counted_build
    vispy_canvas.VispyCanvas._update_scenegraph = counted_update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=Path, default=REPO / "sample_dicom")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--sequence",
        default="",
        help="timepoints of HCC-001 to open in this order, comma-separated (default: TP1,TP0 "
        "alternately, --repeat times: the worst case, the grid toggles every time)",
    )
    args = parser.parse_args()
    from napari_readerstation._measure_widget import add_measure_dock

    from readerstation.reading import DEMO_PASSWORD
    from readerstation.store import open_store

    counts: collections.Counter[str] = collections.Counter()
    _count_calls(counts)  # before the viewer: its canvas connects the methods it has then
    rows: list[tuple[str, float, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="readerstation-open-") as tmp:
        db = Path(tmp) / "open.sqlite"
        viewer = napari.Viewer(title="readerstation", show=True)
        viewer.window._qt_window.resize(1600, 1000)
        app = QApplication.instance()
        widget = add_measure_dock(viewer, args.sample, f"sqlite:///{db}")
        with open_store(f"sqlite:///{db}") as store:
            _sign_sample_baseline(store, args.sample)
        widget.login("reader1", DEMO_PASSWORD)
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        print("open       worker_s  gui_s   longest_gui_gap_s  programs  scene")
        sequence = args.sequence.split(",") if args.sequence else ["TP1", "TP0"] * args.repeat
        for timepoint in sequence:
            ticks.clear()
            counts.clear()
            t0 = time.perf_counter()
            widget.open_task("HCC-001", timepoint)
            _wait(app, lambda: not widget.busy)
            t1 = time.perf_counter()
            _wait(app, lambda: False, 0.3)
            inside = [t0, *(t for t in ticks if t <= t1 + 0.05), t1]
            gap = max(b - a for a, b in itertools.pairwise(inside))
            worker_s, gui_s = widget.last_open_seconds or (float("nan"), float("nan"))
            programs, scene = counts["programs"], counts["scene"]
            print(
                f"{timepoint:<10} {worker_s:8.3f}  {gui_s:6.3f}  {gap:8.3f}"
                f"           {programs:4d}  {scene:4d}"
            )
            rows.append((timepoint, gap, programs, scene))
        timer.stop()
        viewer.close()
    for timepoint in dict.fromkeys(t for t, *_ in rows):
        later = [r for r in rows[1:] if r[0] == timepoint]  # the first open pays one-time costs
        if later:
            print(
                f"median of later {timepoint} opens: longest gap "
                f"{statistics.median(r[1] for r in later):.3f} s, "
                f"{statistics.median(r[2] for r in later):.0f} programs, "
                f"{statistics.median(r[3] for r in later):.0f} scene rebuilds"
            )


if __name__ == "__main__":
    main()
