"""Measure how long napari's GUI thread stalls when a DICOM folder is dropped on it.

A 10 ms QTimer ticks only while the GUI thread's event loop runs; the longest gap between ticks
from the drop until the layer is complete is the worst freeze the user sees. ``--baseline`` also
measures the former, fully synchronous reader (index + decode every slice on the GUI thread).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \\
        plugins/napari-readerstation/scripts/measure_drop_stall.py --baseline \\
        sample_dicom/HCC-001/TP0_baseline sample_dicom

napari's own one-time costs (unit registry, first layer's GL set-up) are paid once before the
timing by adding and removing a small layer, as in a session that has shown an image before.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import napari
import numpy as np
from napari_readerstation import _reader
from napari_readerstation._adapter import VolumeView
from napari_readerstation._binding import to_layer_data
from napari_readerstation._controller import derive_studies
from napari_readerstation._windows import STANDARD_WINDOWS
from qtpy.QtCore import QEventLoop, QTimer
from qtpy.QtWidgets import QApplication

from readerstation import dicom

_LOADS: list[Any] = []
_original_init = _reader.DropLoad.__init__


def _recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    _LOADS.append(self)


_reader.DropLoad.__init__ = _recording_init  # type: ignore[method-assign]


def _pump(seconds: float) -> None:
    app = QApplication.instance()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def _synchronous_read(viewer: Any, folder: Path) -> None:
    """What the reader did before: index, load every slice and add the layer, all on this thread."""
    index = dicom.index_folder(folder)
    study = derive_studies(index, folder)[0]
    volume = dicom.load_series(dicom.plan_series(study.proposed))
    data, kwargs, _ = to_layer_data(
        study.subject, study.proposed, VolumeView.of(volume), STANDARD_WINDOWS[0], loaded=True
    )
    viewer.add_image(data, **kwargs)


def measure(folder: Path, *, baseline: bool) -> dict[str, float]:
    viewer = napari.Viewer(show=True)
    warm = viewer.add_image(np.zeros((3, 4, 4), np.int16), units=("mm",) * 3)
    _pump(0.3)
    viewer.layers.remove(warm)
    _pump(0.2)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    _pump(0.1)
    _LOADS.clear()
    t0 = time.perf_counter()
    if baseline:
        _synchronous_read(viewer, folder)
    else:
        viewer.open(str(folder), plugin="napari-readerstation")
    t_returned = time.perf_counter()
    first_layer = t_returned if len(viewer.layers) else None
    loop = QEventLoop()

    def poll() -> None:
        nonlocal first_layer
        if first_layer is None and len(viewer.layers):
            first_layer = time.perf_counter()
        if (len(viewer.layers) and not _reader.active_loads()) or time.perf_counter() - t0 > 120:
            loop.quit()

    poller = QTimer()
    poller.setInterval(20)
    poller.timeout.connect(poll)
    poller.start()
    loop.exec()
    poller.stop()
    t_done = time.perf_counter()
    timer.stop()
    stamps = [t0, *(t for t in ticks if t0 <= t <= t_done), t_done]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    layer = viewer.layers[0]
    fill_stall = 0.0
    if _LOADS and _LOADS[-1].started_at and _LOADS[-1].finished_at:
        a, b = _LOADS[-1].started_at, _LOADS[-1].finished_at
        inside = [a, *(t for t in ticks if a <= t <= b), b]
        fill_stall = max(y - x for x, y in itertools.pairwise(inside))
    result = {
        "fill_stall_ms": fill_stall * 1000,
        "returned_ms": (t_returned - t0) * 1000,
        "layer_ms": ((first_layer or t_done) - t0) * 1000,
        "complete_ms": (t_done - t0) * 1000,
        "max_stall_ms": max(gaps) * 1000,
        "stalls_over_100ms": sum(g > 0.1 for g in gaps),
        "loaded": float(layer.metadata["readerstation"].loaded),
    }
    viewer.close()
    _pump(0.2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--baseline", action="store_true", help="also time the synchronous read")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    modes = [False, True] if args.baseline else [False]
    for folder in args.folders:
        for baseline in modes:
            for _ in range(args.repeat):
                r = measure(folder, baseline=baseline)
                name = "synchronous (before)" if baseline else "lazy reader (now)"
                print(
                    f"{folder} | {name} | open returned {r['returned_ms']:.0f} ms | layer "
                    f"{r['layer_ms']:.0f} ms | complete {r['complete_ms']:.0f} ms | max GUI "
                    f"stall {r['max_stall_ms']:.0f} ms | max stall while slices decode in the "
                    f"background {r['fill_stall_ms']:.0f} ms | stalls >100 ms: "
                    f"{r['stalls_over_100ms']:.0f} | loaded {bool(r['loaded'])}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
