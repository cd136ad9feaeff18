"""npe2 reader: a DICOM folder (or one DICOM file) dropped on napari, without freezing it.

napari calls a reader on its GUI thread and waits for the layer data, so the reader does as
little as it can there:

* **A study-sized folder** (at most :data:`SYNC_MAX_FILES` files, e.g. one timepoint with its
  phases) is indexed by headers only, the arterial series of the first subject / timepoint is
  chosen and planned (headers), and only its middle slice is decoded. napari gets a lazy dask
  array (one chunk per slice, decoded from its file the first time it is shown) and draws the
  middle slice at once; a napari ``thread_worker`` decodes the other slices, from the middle
  outwards, with a napari progress bar, then swaps the complete numpy array into the layer and
  marks its :class:`~napari_readerstation._binding.SeriesRecord` ``loaded``.
* **A larger folder** (a subject or a whole trial) returns napari's "nothing to add" sentinel
  ``[(None,)]`` at once; a worker indexes it subject by subject, stops after the first subject
  with image series, and adds that subject's first-timepoint arterial layer to the viewer the
  reader was called from, which then fills as above.

When the arterial series cannot be told, nothing is loaded: a notification says so and offers
to open the folder in the Reading dock, where the reader picks the series. Bad input gives a
napari notification with the reason, never a traceback.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_readerstation._adapter import LAYER_METADATA_KEY, VolumeView
from napari_readerstation._binding import SeriesRecord, to_layer_data
from napari_readerstation._controller import (
    StudyEntry,
    derive_layer_name,
    derive_studies,
    describe_error,
    iter_folder_index,
    looks_like_dicom,
)
from napari_readerstation._lazy import SliceFiller
from napari_readerstation._windows import STANDARD_WINDOWS, compute_display_limits
from readerstation import dicom

__all__ = [
    "SYNC_MAX_FILES",
    "DropLoad",
    "active_loads",
    "get_reader",
    "looks_like_dicom",
    "read_dicom",
]

_log = logging.getLogger(__name__)
_NULL_LAYER: list[Any] = [(None,)]  # napari's "read fine, nothing to show" sentinel
_MAX_PROBE = 200  # files probed when deciding whether a folder holds DICOM

#: Folders with at most this many files are indexed on napari's GUI thread so that the reader
#: can return the layer (one timepoint of 3 phases x 61 slices = 183 files: about 0.3-0.7 s of
#: header reading here); larger ones are indexed in a worker thread.
SYNC_MAX_FILES = 300

_GIL_BREATHER_S = 0.002  # pause of the loading thread after each decoded file (s)
_FIND_LAYER_ATTEMPTS = 25  # x 20 ms: how long a load waits for napari to add its layer
_ACTIVE: set[DropLoad] = set()  # loads running (kept alive until they finish)
_ACTIVE_OPENS: list[Any] = []  # background indexing workers running


def active_loads() -> tuple[Any, ...]:
    """Drops being indexed or decoded in the background (empty once every layer is complete)."""
    return (*_ACTIVE, *_ACTIVE_OPENS)


def _folder_has_dicom(folder: Path) -> bool:
    probed = 0
    for path in folder.rglob("*"):
        if path.is_file():
            if looks_like_dicom(path):
                return True
            probed += 1
            if probed >= _MAX_PROBE:
                return False
    return False


def _count_files(folder: Path, limit: int) -> int:
    """Files under ``folder`` (hidden ones excluded), counting stops past ``limit``."""
    n = 0
    for _dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        n += sum(1 for f in filenames if not f.startswith("."))
        if n > limit:
            break
    return n


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[Any]] | None:
    """npe2 ``get_reader``: :func:`read_dicom` for a DICOM folder or file, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir():
        return read_dicom if _folder_has_dicom(p) else None
    if p.is_file() and looks_like_dicom(p):
        return read_dicom
    return None


def _notify(
    kind: str, message: str, actions: tuple[tuple[str, Callable[..., None]], ...] = ()
) -> None:
    from napari.utils.notifications import (
        Notification,
        NotificationSeverity,
        notification_manager,
    )

    severity = {
        "info": NotificationSeverity.INFO,
        "warning": NotificationSeverity.WARNING,
    }.get(kind, NotificationSeverity.ERROR)
    notification_manager.dispatch(Notification(message, severity=severity, actions=actions))


def _current_viewer() -> Any | None:
    try:
        from napari import current_viewer

        return current_viewer()
    except Exception:  # no Qt window
        return None


class _Refusal(Exception):
    """Nothing to show: ``message`` says why; ``ask_folder`` when the reader must pick."""

    def __init__(self, kind: str, message: str, ask_folder: Path | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.ask_folder = kind, message, ask_folder


@dataclass(frozen=True)
class _Failure:
    """An exception carried out of a worker as a value (superqt re-raises a returned or raised
    exception, and napari would show it with its traceback)."""

    exc: BaseException


@dataclass(frozen=True)
class _Choice:
    """The series a drop shows, its middle slice already decoded."""

    study: StudyEntry
    info: Any
    filler: SliceFiller
    folder: Path
    n_studies: int


def _choose(target: Path, folder: Path, index: Any) -> tuple[StudyEntry, Any, int]:
    """The study and series to show for ``target`` (a folder or one file of ``folder``)."""
    studies = derive_studies(index, folder)
    if not studies:
        raise _Refusal(
            "error",
            f"No image series found in {folder} ({sum(index.skipped.values())} file(s) skipped"
            + (f"; {'; '.join(list(index.problems)[:3])}" if index.problems else "")
            + "). Choose a folder that contains CT or MR DICOM images.",
        )
    if target.is_file():
        chosen = [
            (study, info)
            for study in studies
            for info in study.series
            if any(Path(f).resolve() == target.resolve() for f in info.files)
        ]
        if not chosen:
            raise _Refusal(
                "error", f"{target.name} is not part of an image series that can be shown."
            )
        study, info = chosen[0]
        return study, info, len(studies)
    study = studies[0]
    if study.proposed is not None:
        return study, study.proposed, len(studies)
    if len(study.series) == 1:  # nothing to choose from
        return study, study.series[0], len(studies)
    raise _Refusal(
        "warning",
        f"{study.subject}: could not tell which of the {len(study.series)} series is the "
        "arterial phase, so nothing was loaded. Open the folder in the Reading dock "
        "(Plugins > readerstation > Reading, or the button here) and pick the series to read.",
        ask_folder=folder,
    )


def _prepare(target: Path, folder: Path, index: Any) -> _Choice:
    """Choose, plan (headers) and decode the middle slice of the series to show."""
    study, info, n_studies = _choose(target, folder, index)
    filler = SliceFiller(dicom.plan_series(info))
    filler.fill(filler.fill_order()[0])
    return _Choice(study=study, info=info, filler=filler, folder=folder, n_studies=n_studies)


def _index_first_subject(folder: Path) -> Any:
    """Index ``folder`` subject by subject and stop at the first part with image series."""
    parts: Iterator[Any] = iter_folder_index(folder)
    index = None
    try:
        for index in parts:
            if index.image_series():
                break
    finally:
        close = getattr(parts, "close", None)
        if close is not None:
            close()
    return index


def _open_in_dock(viewer: Any, folder: Path) -> None:
    """Open the Reading dock in ``viewer`` with ``folder`` listed (nothing loaded: the reader
    picks the series)."""
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-readerstation", "Reading")
    widget.open_folder(folder, load_proposed=False)


def _refuse(refusal: _Refusal, viewer: Any | None) -> None:
    actions: tuple[tuple[str, Callable[..., None]], ...] = ()
    folder = refusal.ask_folder
    if folder is not None and viewer is not None and getattr(viewer, "window", None) is not None:
        actions = (("Open in Reading dock", lambda *_: _open_in_dock(viewer, folder)),)
    _notify(refusal.kind, refusal.message, actions)


def _notify_failure(exc: BaseException) -> None:
    _notify("error", describe_error(exc))


def _have_qt_app() -> bool:
    try:
        from qtpy.QtWidgets import QApplication
    except Exception:
        return False
    return QApplication.instance() is not None


class DropLoad:
    """One dropped series: a lazy layer now, decoded in a worker thread, complete at the end.

    Create it on the GUI thread with the chosen series (middle slice decoded), give napari
    :attr:`layer_data`, then call :meth:`start`. Progress shows in napari's activity dock.

    Parameters
    ----------
    choice : _Choice
        The series and its :class:`SliceFiller`.
    viewer : napari.Viewer or None
        The viewer the layer goes to (found again by the layer's metadata record).
    """

    def __init__(self, choice: _Choice, viewer: Any | None) -> None:
        self.subject = choice.study.subject
        self.info = choice.info
        self.filler = choice.filler
        self.viewer = viewer
        self.view = VolumeView.of(self.filler.volume)
        window = STANDARD_WINDOWS[0]
        _, kwargs, kind = to_layer_data(self.subject, self.info, self.view, window, loaded=False)
        if str(self.info.modality).upper() != "CT":  # robust limits from the decoded slice
            mid = self.filler.fill_order()[0]
            kwargs["contrast_limits"] = compute_display_limits(
                self.filler.buffer[mid : mid + 1], self.info.modality, window
            )
        self.record: SeriesRecord = kwargs["metadata"][LAYER_METADATA_KEY]
        self.layer_data: tuple[Any, dict[str, Any], str] = (self.filler.to_dask(), kwargs, kind)
        self.layer: Any | None = None
        self.worker: Any | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._pbar: Any | None = None
        self.started_at: float | None = None  # time.perf_counter() of the worker start / end
        self.finished_at: float | None = None

    @property
    def name(self) -> str:
        """The layer name (subject, phase, description)."""
        return derive_layer_name(self.subject, self.info)

    @property
    def done(self) -> bool:
        """True once the started load finished, failed or stopped."""
        return self.finished_at is not None

    def start(self, layer: Any | None = None) -> None:
        """Decode the remaining slices in a napari ``thread_worker``."""
        from napari.qt.threading import thread_worker
        from qtpy.QtCore import QTimer

        self.layer = layer
        filler, stop = self.filler, self._stop
        order = filler.fill_order()

        @thread_worker(start_thread=False)
        def fill() -> Any:
            for k in order:
                if stop.is_set():
                    return "stopped"
                try:
                    if filler.fill(k):
                        yield filler.n_done
                except Exception as exc:  # reported on the GUI thread, never a traceback
                    return _Failure(exc)
                # The decoders hold the GIL for a whole slice: release it after each one so
                # that the GUI thread runs between slices instead of queueing behind them.
                time.sleep(_GIL_BREATHER_S)
            return None

        worker = fill()
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_returned)
        self.worker = worker
        _ACTIVE.add(self)
        # Start once napari has added the layer (the reader returns first): decoding in
        # parallel with napari's layer set-up would slow both down.
        QTimer.singleShot(0, self._start_worker)

    def _start_worker(self, attempt: int = 0) -> None:
        from napari.utils import progress
        from qtpy.QtCore import QTimer

        if self._find_layer() is None and attempt < _FIND_LAYER_ATTEMPTS:
            # napari calls processEvents while it adds layers: the layer may not be in yet
            QTimer.singleShot(20, lambda: self._start_worker(attempt + 1))
            return
        self.started_at = time.perf_counter()
        if self.layer is not None and self.viewer is not None:  # stop at once when removed
            self.viewer.layers.events.removed.connect(self._on_layer_removed)
            # napari pins the contrast slider's range to the given window: open it to every
            # preset now (and to the data's range once complete)
            window = tuple(self.layer.contrast_limits)
            presets = [w.contrast_limits for w in STANDARD_WINDOWS]
            lo, hi = min(p[0] for p in presets), max(p[1] for p in presets)
            self.layer.contrast_limits_range = (min(lo, window[0]), max(hi, window[1]))
            self.layer.contrast_limits = window
        self._pbar = progress(total=self.filler.n_slices, desc=f"Loading {self.name}")
        self._pbar.update(self.filler.n_done)
        if self.worker is not None:
            self.worker.start()

    def _on_layer_removed(self, event: Any) -> None:
        if getattr(event, "value", None) is self.layer:
            self.stop()

    def stop(self) -> None:
        """Stop decoding after the current slice (the layer was removed)."""
        self._stop.set()

    def _find_layer(self) -> Any | None:
        if self.layer is not None:
            return self.layer
        for viewer in (self.viewer, _current_viewer()):
            for layer in getattr(viewer, "layers", ()):
                if layer.metadata.get(LAYER_METADATA_KEY) is self.record:
                    self.layer, self.viewer = layer, viewer
                    return layer
        return None

    def _layer_gone(self) -> bool:
        layer = self._find_layer()
        return layer is not None and layer not in getattr(self.viewer, "layers", (layer,))

    def _on_progress(self, n_done: int) -> None:
        if self._pbar is not None:
            self._pbar.update(n_done - self._pbar.n)
        if self._layer_gone():
            self.stop()

    def _finish(self) -> None:
        self.finished_at = time.perf_counter()
        _ACTIVE.discard(self)
        layers = getattr(self.viewer, "layers", None)
        if layers is not None:
            layers.events.removed.disconnect(self._on_layer_removed)
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None

    def _on_returned(self, result: Any) -> None:
        try:
            self._complete(result)
        except Exception as exc:  # a Qt slot must not raise
            _notify_failure(exc)
        finally:
            self._finish()

    def _complete(self, result: Any) -> None:
        layer = self._find_layer()
        if isinstance(result, _Failure | BaseException):
            exc = result.exc if isinstance(result, _Failure) else result
            self.error = describe_error(exc)
            _notify("error", f"{self.name}: {self.error}")
            viewer = self.viewer
            if layer is not None and viewer is not None and layer in viewer.layers:
                viewer.layers.remove(layer)  # a half-decoded series must not be read
            return
        if result == "stopped" or layer is None or not self.filler.complete:
            return
        layer.metadata = {
            LAYER_METADATA_KEY: SeriesRecord(self.subject, self.info, self.view, loaded=True)
        }
        window = layer.contrast_limits
        buffer = self.filler.buffer
        presets = [w.contrast_limits for w in STANDARD_WINDOWS]
        lo = min(min(p[0] for p in presets), float(buffer.min()))
        hi = max(max(p[1] for p in presets), float(buffer.max()))
        layer.data = buffer  # the complete numpy array replaces the lazy one
        layer.contrast_limits_range = (lo, hi)
        if str(self.info.modality).upper() != "CT":
            window = compute_display_limits(buffer, self.info.modality, STANDARD_WINDOWS[0])
        layer.contrast_limits = window

    def __repr__(self) -> str:
        return f"DropLoad({self.name!r}, {self.filler.n_done}/{self.filler.n_slices} slices)"


def _read_now(target: Path, folder: Path) -> list[Any]:
    """The GUI-thread path: index, choose, plan, decode the middle slice, start the rest."""
    viewer = _current_viewer()
    try:
        choice = _prepare(target, folder, dicom.index_folder(folder))
    except _Refusal as refusal:
        _refuse(refusal, viewer)
        return _NULL_LAYER
    except Exception as exc:  # every failure becomes a message, never a traceback
        _notify_failure(exc)
        return _NULL_LAYER
    for warning in choice.filler.volume.warnings:
        _notify("warning", f"{derive_layer_name(choice.study.subject, choice.info)}: {warning}")
    load = DropLoad(choice, viewer)
    if not _have_qt_app():  # no event loop to load in the background: load it all now
        for k in choice.filler.fill_order():
            choice.filler.fill(k)
        return [to_layer_data(load.subject, load.info, load.view, STANDARD_WINDOWS[0], loaded=True)]
    load.start()
    return [load.layer_data]


def _read_in_background(folder: Path) -> list[Any]:
    """The large-folder path: return at once, index and prepare in a worker, then add the layer."""
    from napari.qt.threading import thread_worker
    from napari.utils import progress

    viewer = _current_viewer()
    if viewer is None:  # nowhere to add the layer later: read on this thread
        return _read_now(folder, folder)

    @thread_worker(start_thread=False)
    def prepare() -> Any:
        try:
            index = _index_first_subject(folder)
            return _prepare(folder, folder, index)
        except Exception as exc:  # _Refusal included: handled on the GUI thread
            return _Failure(exc)

    pbar = progress(total=0, desc=f"Indexing {folder.name} (readerstation)")
    worker = prepare()

    def on_returned(result: Any) -> None:
        pbar.close()
        try:
            _show_prepared(result, viewer)
        except Exception as exc:  # a Qt slot must not raise
            _notify_failure(exc)
        finally:  # only now: the load that follows is registered by _show_prepared
            if worker in _ACTIVE_OPENS:
                _ACTIVE_OPENS.remove(worker)

    worker.returned.connect(on_returned)
    worker.errored.connect(on_returned)
    _ACTIVE_OPENS.append(worker)
    worker.start()
    _notify(
        "info",
        f"Indexing {folder} in the background; the arterial series of the first "
        "subject will appear when it is found.",
    )
    return _NULL_LAYER


def _show_prepared(result: Any, viewer: Any) -> None:
    """Add the layer of a background-prepared drop to ``viewer`` (GUI thread)."""
    if isinstance(result, _Failure):
        result = result.exc
    if isinstance(result, _Refusal):
        _refuse(result, viewer)
        return
    if isinstance(result, BaseException):
        _notify_failure(result)
        return
    choice: _Choice = result
    for warning in choice.filler.volume.warnings:
        _notify("warning", f"{derive_layer_name(choice.study.subject, choice.info)}: {warning}")
    load = DropLoad(choice, viewer)
    data, kwargs, _kind = load.layer_data
    layer = viewer.add_image(data, **kwargs)
    load.start(layer)
    _notify(
        "info",
        f"Showing {load.name} ({choice.study.label}), the first timepoint of the first subject "
        f"in {choice.folder.name}. To browse every subject and timepoint, open the folder in "
        "Plugins > readerstation > Reading.",
    )


def read_dicom(path: str | list[str]) -> list[Any]:
    """Read the proposed arterial series of a DICOM folder as napari layer data, lazily.

    Parameters
    ----------
    path : str or list of one str
        A folder (indexed recursively) or one DICOM file (its series, from its folder).

    Returns
    -------
    list of LayerDataTuple
        One image layer ``(dask array (z, y, x) HU, kwargs, "image")`` with affine in mm, liver
        window and the :class:`SeriesRecord` in ``metadata["readerstation"]`` (``loaded`` False
        until the background decode swaps in the numpy array); napari's empty sentinel
        ``[(None,)]`` after a notification when there is nothing to show, and for folders of
        more than :data:`SYNC_MAX_FILES` files, whose layer is added when it is ready.
    """
    if isinstance(path, list):
        path = path[0]
    target = Path(path)
    folder = target if target.is_dir() else target.parent
    if target.is_dir() and _count_files(folder, SYNC_MAX_FILES) > SYNC_MAX_FILES:
        return _read_in_background(folder)
    return _read_now(target, folder)
