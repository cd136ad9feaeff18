"""Screenshots of the docked Reading layout, for docs/screenshots/ (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \\
        plugins/napari-readerstation/scripts/take_screenshots.py [--sample sample_dicom]

Writes ``reading_dock.png`` (the sample trial, proposed arterial series, liver window),
``make_run.png`` (the launcher's layout after reader1's login: Measure tab in front), when
../shared/testdata is present ``sagittal_mr.png`` and ``gantry_tilt_ct.png`` to check that
non-axial and tilted stacks are shown the right way up, and ``drop_loading.png`` /
``drop_loaded.png``: a sample timepoint folder dropped on napari (reader path), while its slices
are decoded in the background and once complete (``--only drop`` for these two), and
``measure_dock.png`` / ``measure_followup.png`` (``--only measure``): the Measure dock on a
throw-away store in a temporary folder, with the sample trial's baseline of HCC-001 measured on
its ground-truth end points and signed (shown), then the week-6 follow-up open with the signed
prior beside it; ``adjudication.png`` / ``monitoring.png`` (``--only dual``): the dual-reading
demo (``napari-readerstation --demo-dual``) with HCC-003's blinded packet open, and the
agreement panel. The demo users log in before the shots, so the password fields are empty.
No database is ever created in the repository.
"""

from __future__ import annotations

import argparse
import tempfile
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


def _shoot(folder: Path, out: Path, size: tuple[int, int], db: Path) -> None:
    import napari
    from napari_readerstation.launch import launch
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="readerstation", show=True)
    viewer.window._qt_window.resize(*size)
    widget = launch(viewer, folder, db)
    app = QApplication.instance()
    ok = _wait(app, lambda: widget.controller.current is not None and not widget._workers)
    if not ok:
        print(f"{folder}: not loaded ({widget.status.text()})")
    _raise_dock(widget)  # the launcher puts the Measure tab in front
    widget.show_details(True)  # the series' DICOM details, folded by default
    _wait(app, lambda: False, 0.8)  # let the canvas draw
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}")
    viewer.close()


def _raise_dock(widget) -> None:
    """Bring the dock tab holding ``widget`` to the front."""
    from qtpy.QtWidgets import QDockWidget

    while widget is not None and not isinstance(widget, QDockWidget):
        widget = widget.parentWidget()
    if widget is not None:
        widget.raise_()


def _shoot_make_run(sample: Path, out: Path, size: tuple[int, int], db: Path) -> None:
    """``make_run.png``: the ``make run`` layout (the launcher's docks, window filling a
    ``size`` screen) once reader1 has logged in: the Measure tab in front, the first timepoint
    to read selected in the worklist."""
    import napari
    from napari_readerstation._measure_widget import MeasureWidget
    from napari_readerstation.launch import launch
    from qtpy.QtWidgets import QApplication

    from readerstation.reading import DEMO_PASSWORD

    viewer = napari.Viewer(title="readerstation", show=True)
    viewer.window._qt_window.resize(*size)
    app = QApplication.instance()
    reading = launch(viewer, sample, db)
    measure = next(w for w in QApplication.allWidgets() if isinstance(w, MeasureWidget))
    _wait(app, lambda: reading.controller.current is not None and not reading._workers)
    measure.password_edit.setText(DEMO_PASSWORD)
    measure.login_button.click()  # clears the password field
    _wait(app, lambda: False, 0.8)
    assert not measure.password_edit.text(), "a password would show in the screenshot"
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}")
    viewer.close()


def _sign_sample_baseline(store, sample: Path) -> None:
    """reader1's baseline read of HCC-001 drawn on the ground truth end points, signed."""
    import json

    from readerstation.reading import DEMO_PASSWORD, ReadingSession
    from readerstation.store import Repository

    doc = json.loads((sample / "ground_truth.json").read_text(encoding="utf-8"))
    tp0 = doc["subjects"][0]["timepoints"][0]
    session = ReadingSession(Repository.login(store, "reader1", DEMO_PASSWORD), sample)
    session.open("HCC-001", "TP0")
    for les in tp0["lesions"]:
        role = "target" if les["role"] == "TARGET" else "non_target"
        session.add_lesion(
            les["lesion"], role, les["organ"], liver_segment=les["segment"], typical_hcc=True
        )
        if role == "target":
            uid = les["arterial_sop_instance_uid"]
            session.set_line(les["lesion"], "long", *les["long_axis_endpoints_lps_mm"], uid)
            session.set_line(les["lesion"], "viable", *les["viable_endpoints_lps_mm"], uid)
    session.set_non_target_status("NT1", "present")
    session.sign(DEMO_PASSWORD)


def _shoot_measure(sample: Path, out: Path, size: tuple[int, int], db: Path) -> None:
    import napari
    from napari_readerstation._measure_binding import camera
    from napari_readerstation._measure_widget import add_measure_dock
    from qtpy.QtWidgets import QApplication

    from readerstation.reading import DEMO_PASSWORD
    from readerstation.store import open_store

    viewer = napari.Viewer(title="readerstation", show=True)
    viewer.window._qt_window.resize(*size)
    app = QApplication.instance()
    widget = add_measure_dock(viewer, sample, f"sqlite:///{db}")  # seeds the demo trial
    with open_store(f"sqlite:///{db}") as store:
        _sign_sample_baseline(store, sample)
    widget.login("reader1", DEMO_PASSWORD)  # clears the password field before any shot
    for subject, timepoint, name in (
        ("HCC-001", "TP0", "measure_dock.png"),
        ("HCC-001", "TP1", "measure_followup.png"),
    ):
        widget.open_task(subject, timepoint)
        if not _wait(app, lambda: not widget.busy):
            print(f"{subject}/{timepoint}: not opened ({widget.message_label.text()})")
        widget.select_kind("long")
        if widget.binding is not None and widget.binding.prior_image_layer is None:
            camera(viewer).zoom *= 1.6  # one image: zoom on the lesion (the prior grid is fitted)
        widget.select_lesion("T1")
        _wait(app, lambda: False, 0.8)
        assert not widget.password_edit.text(), "a password would show in the screenshot"
        viewer.screenshot(str(out / name), canvas_only=False)
        print(f"wrote {out / name}")
    viewer.close()


def _shoot_dual(sample: Path, out: Path, size: tuple[int, int], db: Path) -> None:
    """``adjudication.png`` and ``monitoring.png``: the dual-reading demo (launcher's
    ``--demo-dual``) on a throw-away store, HCC-003's packet open at its differing timepoint."""
    import napari
    from napari_readerstation._measure_binding import camera
    from napari_readerstation.launch import launch_dual
    from qtpy.QtWidgets import QApplication, QDockWidget

    def raise_dock(w) -> None:
        while w is not None and not isinstance(w, QDockWidget):
            w = w.parentWidget()
        if w is not None:
            w.raise_()

    viewer = napari.Viewer(title="readerstation", show=True)
    viewer.window._qt_window.resize(*size)
    app = QApplication.instance()
    widget = launch_dual(viewer, sample, db)
    widget.open_packet("HCC-003", "recist1.1")
    if not _wait(app, lambda: not widget.busy):
        print(f"packet not shown ({widget.message_label.text()})")
    camera(viewer).zoom *= 2.0  # the lesion the reads differ on, up close
    widget.show_lesion_row(max(widget.lesion_table.currentRow(), 0))
    raise_dock(widget)
    _wait(app, lambda: False, 0.8)
    assert not widget.password_edit.text(), "a password would show in the screenshot"
    viewer.screenshot(str(out / "adjudication.png"), canvas_only=False)
    print(f"wrote {out / 'adjudication.png'}")
    monitoring = next(
        w for w in QApplication.allWidgets() if type(w).__name__ == "MonitoringWidget"
    )
    from readerstation.reading import DEMO_PASSWORD

    monitoring.login("admin", DEMO_PASSWORD)  # the admin also sees the per-reader figures
    raise_dock(monitoring)
    _wait(app, lambda: False, 0.8)
    viewer.screenshot(str(out / "monitoring.png"), canvas_only=False)
    print(f"wrote {out / 'monitoring.png'}")
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
    parser.add_argument(
        "--only",
        choices=("drop", "measure", "dual"),
        help="only the drag-and-drop screenshots, the Measure dock ones, or the dual-reading "
        "ones (adjudication.png, monitoring.png)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    size = (args.width, args.height)
    with tempfile.TemporaryDirectory(prefix="readerstation-screens-") as tmp:
        _main(args, size, Path(tmp))


def _main(args: argparse.Namespace, size: tuple[int, int], tmp: Path) -> None:
    if args.only == "measure":
        _shoot_measure(args.sample, args.out, size, tmp / "measure.sqlite")
        return
    if args.only == "dual":
        _shoot_dual(args.sample, args.out, size, tmp / "dual.sqlite")
        return
    timepoint = args.sample / "HCC-001" / "TP0_baseline"
    if timepoint.is_dir():
        _shoot_drop(timepoint, args.out / "drop_loading.png", args.out / "drop_loaded.png", size)
    if args.only == "drop":
        return
    _shoot(args.sample, args.out / "reading_dock.png", size, tmp / "reading.sqlite")
    _shoot_make_run(args.sample, args.out / "make_run.png", size, tmp / "make_run.sqlite")
    _shoot_measure(args.sample, args.out, size, tmp / "measure.sqlite")
    _shoot_dual(args.sample, args.out, size, tmp / "dual.sqlite")
    for name, file in (
        ("mr_sagittal_supine_HFS", "sagittal_mr.png"),
        ("ct_gantry_tilt_uneven_spacing", "gantry_tilt_ct.png"),
    ):
        if (TESTDATA / name).is_dir():
            _shoot(TESTDATA / name, args.out / file, size, tmp / f"{name}.sqlite")


if __name__ == "__main__":
    main()
