"""The reading session's model: which folder, study and series are open, the Volume, the window.

Pure Python: no Qt and no napari. The dock widget renders this state and turns gestures into
calls of the methods below; every one of them is the scripted equivalent of a GUI action::

    controller = ReadingController()
    controller.open_folder("sample_dicom")        # "Open folder..."
    controller.open_series()                       # load the proposed arterial series
    controller.open_series(series_uid)             # double-click / Enter on a series
    controller.set_window("Abdomen")               # the "Abdomen" button / Alt+2

State changes are announced with psygnal signals (emitted on the caller's thread). Loading in the
background is split into steps so that a GUI can run the slow ones (:meth:`LoadJob.plan_now`,
:meth:`LoadJob.load_now`) in a worker thread and the state changes on the main thread.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from psygnal import Signal

from napari_readerstation._adapter import VolumeView, volume_from_geometry
from napari_readerstation._windows import STANDARD_WINDOWS, WindowPreset, find_window
from readerstation import dicom
from readerstation.errors import LoadCancelled, ReaderstationError, SeriesSelectionError
from readerstation.geometry import Volume

__all__ = [
    "LoadJob",
    "OpenSeries",
    "ReadingController",
    "StudyEntry",
    "derive_folder_subject",
    "derive_studies",
    "derive_subject_code",
    "is_cancellation",
    "iter_folder_index",
    "looks_like_dicom",
]

_log = logging.getLogger(__name__)

# A trial subject code in a folder name: letters, optional separator, digits ("HCC-001", "S12").
_SUBJECT_CODE = re.compile(r"^[A-Za-z]{2,}[-_]?\d+$")


def derive_subject_code(file: Path, root: Path) -> str:
    """The trial subject code of a file under ``root``, from folder names only.

    The first folder (from ``root`` itself down to the file's folder) that looks like a trial
    code (``HCC-001``) wins; then ``root``'s parent when it looks like one (a timepoint folder of
    a subject was opened); otherwise the first sub-folder of ``root``, otherwise ``root``'s name.
    DICOM patient name, ID and birth date are never used.
    """
    return derive_folder_subject(file.parent, root)


def derive_folder_subject(folder: Path, root: Path) -> str:
    """The trial subject code of the files of ``folder`` (``root`` or below), as
    :func:`derive_subject_code`."""
    root = root.resolve()
    try:
        rel_parts = folder.resolve().relative_to(root).parts
    except ValueError:
        rel_parts = ()
    for part in (root.name, *rel_parts):
        if _SUBJECT_CODE.match(part):
            return part
    if _SUBJECT_CODE.match(root.parent.name):
        return root.parent.name
    return rel_parts[0] if rel_parts else root.name


def _study_folder(series: Sequence[Any], root: Path) -> Path:
    """The deepest folder holding every file of ``series`` (``root`` when they have none)."""
    parents = {str(Path(f).resolve().parent) for info in series for f in info.files}
    if not parents:
        return root
    return Path(os.path.commonpath(sorted(parents)))


def looks_like_dicom(path: Path) -> bool:
    """Cheap check: a ``.dcm`` / ``DICOMDIR`` name or the ``DICM`` magic at byte 128."""
    if path.suffix.lower() in (".dcm", ".dicom", ".ima") or path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def iter_folder_index(folder: Path) -> Iterator[Any]:
    """Index ``folder`` subject by subject, yielding the growing index (headers only).

    When the folder's sub-folders are named like trial subject codes (``HCC-001``), each is
    indexed on its own, in name order, and the merged index is yielded after each one, so that
    the first subject can be shown before the whole trial is indexed (non-DICOM files next to
    them, like a README, are counted as skipped). Anything else (DICOM files directly in
    ``folder``, no subject folders, a series found in two sub-folders) is indexed in one go.
    The last index yielded is the complete one.
    """
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    subjects = [p for p in entries if p.is_dir() and _SUBJECT_CODE.match(p.name)]
    loose = [p for p in entries if p.is_file()]
    if not subjects or any(looks_like_dicom(p) for p in loose):
        yield dicom.index_folder(folder)
        return
    others = [p for p in entries if p.is_dir() and p not in subjects]
    series: list[Any] = []
    skipped: dict[str, int] = {"non_dicom": len(loose)}  # README, JSON next to the subjects
    problems: list[str] = []
    for part in (*subjects, *others):
        index = dicom.index_folder(part)
        seen = {s.series_uid for s in series}
        if any(s.series_uid in seen for s in index.series):
            yield dicom.index_folder(folder)  # a series spans sub-folders: index them together
            return
        series.extend(index.series)
        for key, n in index.skipped.items():
            skipped[key] = skipped.get(key, 0) + n
        problems.extend(index.problems)
        yield dicom.FolderIndex(
            series=tuple(series), skipped=dict(skipped), problems=tuple(problems)
        )


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` means the user cancelled a load (``readerstation.errors.LoadCancelled``)."""
    return isinstance(exc, LoadCancelled)


@dataclass(frozen=True)
class StudyEntry:
    """One study (timepoint) of one subject as listed in the series browser.

    Parameters
    ----------
    subject : str
        Trial subject code taken from the folder names.
    study_uid : str
        StudyInstanceUID.
    study_date : str or None
        StudyDate as ISO date (YYYY-MM-DD) when known.
    series : tuple of SeriesInfo
        Image series of the study in series-number order.
    proposed : SeriesInfo or None
        The series :func:`readerstation.dicom.propose_arterial` proposes; None when unsure.
    """

    subject: str
    study_uid: str
    study_date: str | None
    series: tuple[Any, ...]
    proposed: Any | None

    def __post_init__(self) -> None:
        if not self.series:
            raise ReaderstationError(f"StudyEntry {self.study_uid}: a study needs image series.")

    @property
    def label(self) -> str:
        """``"HCC-001 · 2024-01-15"``: what the browser shows for the study."""
        return f"{self.subject} · {self.study_date or 'date unknown'}"


def _iso_date(value: str | None) -> str | None:
    """DICOM DA (YYYYMMDD) as an ISO date; other text unchanged."""
    if not value:
        return None
    text = str(value)
    if re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def derive_studies(index: Any, root: Path) -> tuple[StudyEntry, ...]:
    """Group the image series of a folder index into studies, ordered by subject then date.

    A study is one StudyInstanceUID; its subject code comes from the folder that holds all its
    series (:func:`derive_folder_subject`).

    Parameters
    ----------
    index : readerstation.dicom.FolderIndex
        Headers-only index of ``root``.
    root : Path
        The folder that was indexed (subject codes come from its sub-folder names).
    """
    by_study: dict[str, list[Any]] = {}
    for info in index.image_series():
        by_study.setdefault(info.study_uid, []).append(info)
    studies = []
    for study_uid, members in by_study.items():
        # the subject of a study comes from the folder holding all its series, so that the
        # series folders of a timepoint folder opened on its own are not taken for subjects
        subject = derive_folder_subject(_study_folder(members, root), root)
        members.sort(key=lambda s: (s.series_number is None, s.series_number or 0, s.description))
        studies.append(
            StudyEntry(
                subject=subject,
                study_uid=study_uid,
                study_date=_iso_date(members[0].study_date),
                series=tuple(members),
                proposed=dicom.propose_arterial(members),
            )
        )
    studies.sort(key=lambda s: (s.subject, s.study_date or "9999", s.study_uid))
    return tuple(studies)


class LoadJob:
    """One series being loaded. Shared between the main thread and one loading thread.

    The loading thread runs :meth:`plan_now` then :meth:`load_now`; the main thread reads
    ``done`` / ``total`` to show progress and calls :meth:`cancel`. Plain attribute reads and
    writes of ints and bools are atomic in CPython, which is all the sharing there is.

    Parameters
    ----------
    info : SeriesInfo
        The series to load.
    subject : str
        Trial subject code (for the layer name).
    """

    def __init__(self, info: Any, subject: str) -> None:
        self.info = info
        self.subject = subject
        self.plan: Any | None = None
        self.out: NDArray[np.generic] | None = None
        self.view: VolumeView | None = None  # over ``out`` while loading
        self.volume: Volume | None = None
        self.done = 0
        self.total = int(getattr(info, "n_images", 0) or 0)
        self._cancel = threading.Event()

    @property
    def series_uid(self) -> str:
        """SeriesInstanceUID of the series being loaded."""
        return str(self.info.series_uid)

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the loading thread to stop at the next slice."""
        self._cancel.set()

    def plan_now(self) -> Any:
        """Read the series' headers and allocate the voxel buffer (slow: run off the GUI thread)."""
        plan = dicom.plan_series(self.info)
        out = plan.empty_array()
        view = VolumeView.of(
            volume_from_geometry(
                out,
                spacing=plan.spacing,
                origin=plan.origin,
                direction=plan.direction,
                slice_positions=plan.slice_positions,
            )
        )
        self.plan, self.out, self.view = plan, out, view
        self.total = int(plan.shape[0])
        return plan

    def load_now(self) -> Volume:
        """Decode the slices into ``out`` in place (slow: run off the GUI thread)."""
        plan = self.plan if self.plan is not None else self.plan_now()
        self.volume = dicom.load_series(plan, progress=self._progress, out=self.out)
        return self.volume

    def _progress(self, done: int, total: int) -> bool:
        self.done, self.total = int(done), int(total)
        return not self._cancel.is_set()

    def __repr__(self) -> str:
        return (
            f"LoadJob(subject={self.subject!r}, phase={self.info.phase!s}, "
            f"done={self.done}/{self.total}, cancelled={self.cancelled})"
        )


@dataclass(frozen=True, eq=False)
class OpenSeries:
    """A loaded series: what the viewer shows and the other widgets read.

    Parameters
    ----------
    subject : str
        Trial subject code.
    info : SeriesInfo
        Headers summary of the series.
    view : VolumeView
        The Volume and its placement in napari.
    """

    subject: str
    info: Any
    view: VolumeView

    @property
    def volume(self) -> Volume:
        """The loaded Volume (HU for CT)."""
        return self.view.volume

    @property
    def layer_name(self) -> str:
        """``"HCC-001 arterial AX ART 2.5mm"``: subject, phase and series description."""
        return derive_layer_name(self.subject, self.info)

    def __repr__(self) -> str:
        return f"OpenSeries({self.layer_name!r}, shape={self.volume.shape})"


def derive_layer_name(subject: str, info: Any) -> str:
    """Layer name: subject code, phase and series description."""
    parts = [subject, str(info.phase)]
    if info.description:
        parts.append(str(info.description))
    return " ".join(parts)


@dataclass
class _State:
    folder: Path | None = None
    db_url: str | None = None
    index: Any | None = None
    studies: tuple[StudyEntry, ...] = ()
    current: OpenSeries | None = None
    job: LoadJob | None = None
    window: WindowPreset = field(default_factory=lambda: STANDARD_WINDOWS[0])


class ReadingController:
    """The reading session: folder -> studies -> series -> Volume, and the display window.

    Parameters
    ----------
    windows : tuple of WindowPreset
        Window presets offered; the first is the initial window (liver).
    db_url : str, optional
        The trial store's SQLAlchemy URL (password hidden), shown in the dock; the Measure dock
        reads and writes the store.

    Signals
    -------
    folder_indexed(tuple[StudyEntry, ...])
    loading_started(LoadJob)       the job exists, its plan not yet read
    series_planned(LoadJob)        plan known, empty buffer allocated (show it while it fills)
    series_loaded(OpenSeries)
    loading_cancelled(LoadJob)
    failed(str)                    a user-facing message (never a traceback)
    window_changed(WindowPreset)
    """

    folder_indexed = Signal(object)
    loading_started = Signal(object)
    series_planned = Signal(object)
    series_loaded = Signal(object)
    loading_cancelled = Signal(object)
    failed = Signal(str)
    window_changed = Signal(object)

    def __init__(
        self,
        windows: Sequence[WindowPreset] = STANDARD_WINDOWS,
        db_url: str | None = None,
    ) -> None:
        self.windows: tuple[WindowPreset, ...] = tuple(windows)
        if not self.windows:
            raise ReaderstationError("ReadingController needs at least one WindowPreset.")
        self._state = _State(window=self.windows[0])
        self._state.db_url = db_url

    # ------------------------------------------------------------------ read-only state
    @property
    def folder(self) -> Path | None:
        """The DICOM folder open in the browser."""
        return self._state.folder

    @property
    def db_url(self) -> str | None:
        """The trial store's URL (password hidden), or None when no store is attached."""
        return self._state.db_url

    @property
    def studies(self) -> tuple[StudyEntry, ...]:
        """Studies of the open folder, by subject code then date."""
        return self._state.studies

    @property
    def index(self) -> Any | None:
        """The :class:`readerstation.dicom.FolderIndex` of the open folder."""
        return self._state.index

    @property
    def current(self) -> OpenSeries | None:
        """The series shown, once fully loaded."""
        return self._state.current

    @property
    def job(self) -> LoadJob | None:
        """The load in progress, if any."""
        return self._state.job

    @property
    def window(self) -> WindowPreset:
        """The current display window."""
        return self._state.window

    @property
    def proposed(self) -> Any | None:
        """The arterial series proposed for the first subject / timepoint (None when unsure)."""
        return self.studies[0].proposed if self.studies else None

    def find_series(self, series_uid: str) -> tuple[StudyEntry, Any]:
        """The study and SeriesInfo of ``series_uid`` in the open folder."""
        for study in self.studies:
            for info in study.series:
                if info.series_uid == series_uid:
                    return study, info
        raise SeriesSelectionError(
            f"Series {series_uid!r} is not an image series of the open folder "
            f"{self.folder}; pick one from the series browser."
        )

    # ------------------------------------------------------------------ actions
    def open_folder(self, folder: str | Path) -> tuple[StudyEntry, ...]:
        """Index ``folder`` (headers only) and list its studies. GUI: "Open folder...".

        Raises
        ------
        ReaderstationError
            When the folder is missing, unreadable or holds no image series.
        """
        folder = Path(folder)
        if not folder.is_dir():
            return self.set_index(folder.parent, dicom.index_folder(folder))
        *_, index = iter_folder_index(folder)  # the last index yielded is the complete one
        return self.set_index(folder, index)

    def set_index(self, folder: Path, index: Any) -> tuple[StudyEntry, ...]:
        """Adopt an index computed elsewhere (e.g. in a worker thread) for ``folder``."""
        studies = derive_studies(index, folder)
        if not studies:
            skipped = sum(getattr(index, "skipped", {}).values())
            problems = list(getattr(index, "problems", ()))[:3]
            raise SeriesSelectionError(
                f"No image series found in {folder} ({skipped} file(s) skipped"
                + (f"; {'; '.join(problems)}" if problems else "")
                + "). Choose a folder that contains CT or MR DICOM images."
            )
        self._state.folder, self._state.index, self._state.studies = folder, index, studies
        self.folder_indexed.emit(studies)
        return studies

    def start_loading(self, series_uid: str | None = None) -> LoadJob:
        """Begin loading ``series_uid`` (default: the proposed arterial series).

        Cancels a load already running. Returns the job; run ``job.plan_now()`` and
        ``job.load_now()`` (on any thread), then :meth:`finish_planning` and :meth:`finish_loading`
        on this thread. :meth:`open_series` does all of it synchronously.
        """
        if not self.studies:
            raise SeriesSelectionError(
                "No folder is open; call open_folder(path) (GUI: Open folder...) first."
            )
        if series_uid is None:
            info = self.proposed
            if info is None:
                raise SeriesSelectionError(
                    "Could not tell which series is the arterial phase "
                    f"({len(self.studies[0].series)} image series in the first study); "
                    "pick the series to read in the series browser."
                )
            study = self.studies[0]
        else:
            study, info = self.find_series(series_uid)
        if self._state.job is not None:
            self._state.job.cancel()
        job = LoadJob(info, study.subject)
        self._state.job = job
        self.loading_started.emit(job)
        return job

    def finish_planning(self, job: LoadJob) -> None:
        """Announce that ``job``'s plan and empty buffer exist (show them while they fill)."""
        if job is self._state.job and job.plan is not None:
            self.series_planned.emit(job)

    def finish_loading(self, job: LoadJob) -> OpenSeries | None:
        """Adopt ``job``'s Volume as the open series; ignored for a superseded job."""
        if job is not self._state.job or job.volume is None:
            return None
        opened = OpenSeries(subject=job.subject, info=job.info, view=VolumeView.of(job.volume))
        self._state.current, self._state.job = opened, None
        self.series_loaded.emit(opened)
        return opened

    def fail_loading(self, job: LoadJob | None, exc: BaseException) -> str | None:
        """Record that ``job`` (or an indexing step when None) stopped with ``exc``.

        Emits ``loading_cancelled`` for a cancellation, otherwise ``failed`` with a user-facing
        message, and returns that message (None for a superseded job or a cancellation).
        """
        if job is not None and job is not self._state.job:
            return None
        if job is not None:
            self._state.job = None
        if job is not None and (is_cancellation(exc) or job.cancelled):
            self.loading_cancelled.emit(job)
            return None
        message = describe_error(exc)
        self.failed.emit(message)
        return message

    def cancel_loading(self) -> bool:
        """Stop the load in progress (GUI: Cancel). Returns False when nothing was loading."""
        job = self._state.job
        if job is None:
            return False
        job.cancel()
        return True

    def open_series(self, series_uid: str | None = None) -> OpenSeries:
        """Load a series synchronously (scripted equivalent of picking it in the browser).

        Raises
        ------
        ReaderstationError
            When the series cannot be loaded (the message says why and what to do).
        """
        job = self.start_loading(series_uid)
        try:
            job.plan_now()
            self.finish_planning(job)
            job.load_now()
        except Exception as exc:
            self.fail_loading(job, exc)
            raise
        opened = self.finish_loading(job)
        if opened is None:  # pragma: no cover - only when superseded from another thread
            raise ReaderstationError("The load was superseded by another one; open it again.")
        return opened

    def set_window(self, window: str | WindowPreset) -> WindowPreset:
        """Change the display window (GUI: a window button or its shortcut)."""
        preset = find_window(window, self.windows)
        self._state.window = preset
        self.window_changed.emit(preset)
        return preset

    def __repr__(self) -> str:
        current = self.current.layer_name if self.current else None
        return (
            f"ReadingController(folder={self.folder}, studies={len(self.studies)}, "
            f"current={current!r}, window={self.window})"
        )


def describe_error(exc: BaseException) -> str:
    """A one-paragraph message for the user; unexpected errors are logged with their traceback."""
    if isinstance(exc, ReaderstationError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"Cannot read {exc.filename or 'the file'}: {exc.strerror or exc}."
    _log.error("Unexpected error while reading DICOM", exc_info=exc)
    return (
        f"Unexpected error ({type(exc).__name__}: {exc}). The data could not be shown; "
        "check the files or report this message."
    )
