"""Reading from a DICOMweb PACS: query a subject, pull a series into the local cache, open it.

Pure Python: no Qt and no napari. The PACS dock (:mod:`napari_readerstation._pacs_widget`)
renders this state and turns gestures into the calls below; each is the scripted equivalent of a
GUI action::

    pacs = PacsController(reading, url="http://127.0.0.1:8042/dicom-web", cache_dir="cache")
    pacs.connect()                      # "Connect" (checks that the PACS answers)
    rows = pacs.query("HCC-001")        # "Query": the subject's series, with a "cached" mark
    pacs.pull_and_open(uid)             # "Pull & open": retrieve, then load as a local series

``reading`` is the Reading dock's :class:`~napari_readerstation._controller.ReadingController`:
a pulled series is handed to it as a local folder (:meth:`ReadingController.set_index`) and
loaded by its usual path, so it looks, measures and saves exactly like a series opened from disk.

The cache holds ``cache_dir/<subject code>/<SeriesInstanceUID>/`` (one
:class:`~readerstation.dicom.pacs.DicomWebSource` cache per subject), so the Reading dock names
the layer after the trial code taken from the folder, as for a local trial folder, and a cached
series keeps opening when the PACS is down: :meth:`PacsController.query` then lists the
subject's cached series from their headers and says so.

Slow steps are split for a GUI: :func:`fetch_query` and :meth:`PullJob.pull_now` may run in a
worker thread; :meth:`PacsController.adopt_query`, :meth:`PacsController.finish_pull` and
:meth:`PacsController.fail_pull` run on the thread that owns the controller.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from psygnal import Signal

from napari_readerstation._controller import ReadingController, _iso_date, describe_error
from readerstation import dicom
from readerstation.dicom.pacs import DicomWebSource
from readerstation.dicom.phase import Phase
from readerstation.errors import LoadCancelled, PacsError

__all__ = [
    "PACS_URL_ENV",
    "PacsController",
    "PacsRow",
    "PullJob",
    "QueryResult",
    "SourceFactory",
    "check_connection",
    "check_subject_code",
    "default_cache_dir",
    "describe_offline",
    "fetch_query",
]

PACS_URL_ENV = "READERSTATION_PACS_URL"
PACS_CACHE_ENV = "READERSTATION_PACS_CACHE"
# A subject code becomes a cache folder name: no separators, no leading dot.
_SAFE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A PatientID that no trial uses: the connection check asks for it and expects nothing.
_PROBE_SUBJECT = "readerstation-connection-check"

SourceFactory = Callable[[str, Path], DicomWebSource]
"""``factory(url, cache_dir) -> DicomWebSource``: how the controller talks to a PACS."""


def default_cache_dir() -> Path:
    """``$READERSTATION_PACS_CACHE``, else ``var/pacs-cache`` under the current folder."""
    return Path(os.environ.get(PACS_CACHE_ENV) or Path("var") / "pacs-cache")


def _default_factory(url: str, cache_dir: Path) -> DicomWebSource:
    return DicomWebSource(url, cache_dir=cache_dir, timeout=15.0)


def check_subject_code(subject: str) -> str:
    """The trial code ``subject`` stripped, or a :class:`PacsError` saying what is accepted.

    The code names a cache folder, so it must be letters, digits, ``-``, ``_`` or ``.``.
    """
    code = str(subject or "").strip()
    if not code:
        raise PacsError("type a subject's trial code (e.g. HCC-001) to query the PACS")
    if not _SAFE_CODE.match(code) or code in (".", ".."):
        raise PacsError(
            f"subject code {code!r} is not a trial code: use letters, digits, '-', '_' or '.' "
            "(e.g. HCC-001)"
        )
    return code


@dataclass(frozen=True)
class PacsRow:
    """One series a subject has on the PACS (or, offline, in the local cache).

    Parameters
    ----------
    subject : str
        Trial code (PatientID on the PACS). Patient names are never read.
    study_uid, series_uid : str
        StudyInstanceUID and SeriesInstanceUID.
    study_date : str or None
        ISO date (YYYY-MM-DD).
    study_id : str
        StudyID (the timepoint label in the sample trial), "" when unknown.
    modality, description : str
        Modality and SeriesDescription.
    n_images : int or None
        Instances in the series, when the PACS (or the cache) says.
    phase : Phase
        Contrast phase: a hint from the description for a PACS row, from the headers for a
        cached one.
    cached : bool
        The series is complete in the local cache (opens without the PACS).
    on_pacs : bool
        False for a row listed from the cache because the PACS could not be asked.
    """

    subject: str
    study_uid: str
    series_uid: str
    study_date: str | None = None
    study_id: str = ""
    modality: str = ""
    description: str = ""
    n_images: int | None = None
    phase: Phase = Phase.UNKNOWN
    cached: bool = False
    on_pacs: bool = True

    def __post_init__(self) -> None:
        if not self.series_uid or not self.study_uid:
            raise PacsError(
                f"a PACS row needs a StudyInstanceUID and a SeriesInstanceUID; got study "
                f"{self.study_uid!r}, series {self.series_uid!r}"
            )
        object.__setattr__(self, "phase", Phase(self.phase))

    @property
    def label(self) -> str:
        """``"HCC-001 TP0 2024-01-15 arterial AX ART"``: the row in one line (no names)."""
        parts = [self.subject, self.study_id, self.study_date or "", str(self.phase)]
        return " ".join(p for p in (*parts, self.description) if p)


@dataclass(frozen=True)
class QueryResult:
    """What a query found: the rows, and why the PACS was not asked when it could not be.

    Parameters
    ----------
    url : str
        The PACS URL asked.
    subject : str
        Trial code queried.
    rows : tuple of PacsRow
        By study date, then series number.
    error : str or None
        The PACS failure (down, refused) when the rows come from the cache only.
    """

    url: str
    subject: str
    rows: tuple[PacsRow, ...]
    error: str | None = None

    @property
    def offline(self) -> bool:
        """True when the PACS could not be asked and the rows are the cached series."""
        return self.error is not None

    def __repr__(self) -> str:
        state = "offline" if self.offline else "online"
        cached = sum(r.cached for r in self.rows)
        return f"QueryResult({self.subject!r}, {len(self.rows)} series, {cached} cached, {state})"


def _cached_rows(cache_dir: Path, subject: str) -> tuple[PacsRow, ...]:
    """The complete series of ``subject`` in ``cache_dir/<subject>`` (headers only)."""
    folder = cache_dir / subject
    if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
        return ()
    index = dicom.index_folder(folder)  # hidden ".partial-*" folders are skipped
    rows = [
        PacsRow(
            subject=subject,
            study_uid=info.study_uid,
            series_uid=info.series_uid,
            study_date=_iso_date(info.study_date),
            modality=str(info.modality),
            description=str(info.description or ""),
            n_images=int(info.n_images),
            phase=info.phase,
            cached=True,
            on_pacs=False,
        )
        for info in index.image_series()
    ]
    return tuple(sorted(rows, key=lambda r: (r.study_date or "9999", r.study_uid, r.description)))


def fetch_query(
    query_source: DicomWebSource, pull_source: DicomWebSource, subject: str, cache_dir: Path
) -> QueryResult:
    """Ask the PACS for ``subject``'s studies and series; fall back on the cache when it fails.

    Slow (network, headers): run it off the GUI thread. Never raises for a PACS failure: the
    result then carries the error and the cached series.

    Parameters
    ----------
    query_source : DicomWebSource
        The PACS to ask.
    pull_source : DicomWebSource
        The subject's cache (``cache_dir/<subject>``), for the "cached" mark.
    subject : str
        Trial code (a checked one: :func:`check_subject_code`).
    cache_dir : Path
        The cache root.
    """
    try:
        rows: list[PacsRow] = []
        for study in query_source.query_studies(subject):
            for series in query_source.query_series(study.study_uid):
                rows.append(
                    PacsRow(
                        subject=study.subject or subject,
                        study_uid=study.study_uid,
                        series_uid=series.series_uid,
                        study_date=_iso_date(study.study_date),
                        study_id=study.study_id,
                        modality=series.modality,
                        description=series.description,
                        n_images=series.n_instances,
                        phase=series.phase,
                        cached=pull_source.is_cached(series.series_uid),
                    )
                )
    except PacsError as exc:
        return QueryResult(
            url=query_source.url,
            subject=subject,
            rows=_cached_rows(cache_dir, subject),
            error=str(exc),
        )
    return QueryResult(url=query_source.url, subject=subject, rows=tuple(rows))


class PullJob:
    """One series being retrieved into the cache; shared between the GUI and one worker thread.

    The worker runs :meth:`pull_now`; the GUI thread reads ``done`` / ``total`` (or receives
    them through the ``progress`` callback given to :meth:`pull_now`) and calls :meth:`cancel`.

    Parameters
    ----------
    row : PacsRow
        The series to retrieve.
    source : DicomWebSource
        The PACS, with the subject's cache folder.
    """

    def __init__(self, row: PacsRow, source: DicomWebSource) -> None:
        self.row = row
        self.source = source
        self.done = 0
        self.total = int(row.n_images or 0)
        self.folder: Path | None = None
        self.index: Any | None = None
        self._cancel = threading.Event()

    @property
    def series_uid(self) -> str:
        """SeriesInstanceUID being retrieved."""
        return self.row.series_uid

    @property
    def cancel_event(self) -> threading.Event:
        """The event :meth:`cancel` sets (handed to ``DicomWebSource.retrieve_series``)."""
        return self._cancel

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop the retrieval before the next instance; nothing is kept in the cache."""
        self._cancel.set()

    def pull_now(self, progress: Callable[[int, int], object] | None = None) -> Path:
        """Retrieve the series (unless cached) and index the subject's cache folder (slow).

        Parameters
        ----------
        progress : callable ``(done, total)``, optional
            Called in this thread after each instance (post it to the GUI thread yourself).

        Raises
        ------
        LoadCancelled
            When cancelled (the cache is left as it was).
        PacsError
            The PACS is down, refuses or sent an incomplete series.
        """

        def on_progress(done: int, total: int) -> bool:
            self.done, self.total = int(done), int(total)
            if progress is not None:
                progress(self.done, self.total)
            return not self._cancel.is_set()

        folder = self.source.retrieve_series(
            self.row.series_uid,
            study_uid=self.row.study_uid if self.row.on_pacs else None,
            progress=on_progress,
            cancel=self._cancel,
        )
        if self._cancel.is_set():  # cancelled after the last instance: still honour it
            raise LoadCancelled(f"retrieval of series {self.series_uid} cancelled")
        self.index = dicom.index_folder(folder.parent)
        self.folder = folder
        return folder

    def __repr__(self) -> str:
        return (
            f"PullJob({self.row.label!r}, done={self.done}/{self.total}, "
            f"cancelled={self.cancelled})"
        )


class PacsController:
    """A PACS session: URL, subject query, pulls into the cache, hand-over to the Reading dock.

    Parameters
    ----------
    reading : ReadingController
        The Reading dock's controller; pulled series are opened through it.
    url : str, optional
        DICOMweb base URL; default ``$READERSTATION_PACS_URL`` (None: set it with
        :meth:`connect`).
    cache_dir : path-like, optional
        Cache root (default :func:`default_cache_dir`); series land in
        ``cache_dir/<subject>/<series uid>/``.
    source_factory : callable ``(url, cache_dir) -> DicomWebSource``, optional
        Builds the PACS client (e.g. with an authenticated ``requests.Session``).

    Signals
    -------
    connected(str)             the PACS answered at this URL
    queried(QueryResult)       rows to list (offline: the cached ones, with the error)
    pull_started(PullJob)
    pulled(PullJob)            the series is in the cache and the Reading dock lists it
    pull_cancelled(PullJob)
    failed(str)                a user-facing message (never a traceback)
    """

    connected = Signal(str)
    queried = Signal(object)
    pull_started = Signal(object)
    pulled = Signal(object)
    pull_cancelled = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        reading: ReadingController,
        *,
        url: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        source_factory: SourceFactory | None = None,
    ) -> None:
        self.reading = reading
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._factory: SourceFactory = source_factory or _default_factory
        self._url: str | None = (url or os.environ.get(PACS_URL_ENV) or "").strip() or None
        self._sources: dict[tuple[str, str], DicomWebSource] = {}
        self._result: QueryResult | None = None
        self._job: PullJob | None = None

    # ------------------------------------------------------------------ read-only state
    @property
    def url(self) -> str | None:
        """The DICOMweb base URL in use (None until one is given)."""
        return self._url

    @property
    def result(self) -> QueryResult | None:
        """The last query's result."""
        return self._result

    @property
    def rows(self) -> tuple[PacsRow, ...]:
        """The rows of the last query."""
        return self._result.rows if self._result is not None else ()

    @property
    def job(self) -> PullJob | None:
        """The pull in progress, if any."""
        return self._job

    def find_row(self, series_uid: str) -> PacsRow:
        """The row of ``series_uid`` in the last query."""
        for row in self.rows:
            if row.series_uid == series_uid:
                return row
        raise PacsError(
            f"series {series_uid!r} is not in the last query's list; query the subject again "
            "and pick a series from the table"
        )

    def proposed_row(self) -> PacsRow | None:
        """The first arterial series of the earliest study (what the reader reads first)."""
        return next((r for r in self.rows if r.phase == Phase.ARTERIAL), None)

    # ------------------------------------------------------------------ sources
    def set_url(self, url: str) -> str:
        """Use ``url`` from now on (validated, not contacted). Raises PacsError when unusable."""
        text = str(url or "").strip().rstrip("/")
        if not text:
            raise PacsError(
                "type the PACS' DICOMweb URL (e.g. http://127.0.0.1:8042/dicom-web) or set "
                f"{PACS_URL_ENV}"
            )
        self.source_for(None, url=text)  # raises PacsError for a malformed URL
        if text != self._url:
            self._url, self._result = text, None
        return text

    def source_for(self, subject: str | None, *, url: str | None = None) -> DicomWebSource:
        """The client of the PACS; with ``subject``, the one caching into ``cache_dir/subject``."""
        url = url or self._url
        if not url:
            raise PacsError(
                "no PACS URL: type the DICOMweb URL (e.g. http://127.0.0.1:8042/dicom-web) and "
                f"press Connect, or set {PACS_URL_ENV}"
            )
        key = (url, subject or "")
        if key not in self._sources:
            folder = self.cache_dir / subject if subject else self.cache_dir
            self._sources[key] = self._factory(url, folder)
        return self._sources[key]

    # ------------------------------------------------------------------ connect
    def connect(self, url: str | None = None) -> str:
        """Check that the PACS answers (GUI: Connect). Returns the URL; raises PacsError."""
        source = self.source_for(None, url=self.set_url(url) if url else None)
        check_connection(source)
        self.adopt_connection(source.url)
        return source.url

    def adopt_connection(self, url: str) -> None:
        """Announce that the PACS at ``url`` answered (on the controller's thread)."""
        self.connected.emit(url)

    # ------------------------------------------------------------------ query
    def prepare_query(self, subject: str) -> tuple[DicomWebSource, DicomWebSource, str]:
        """Check ``subject`` and the URL; the sources :func:`fetch_query` needs, and the code."""
        code = check_subject_code(subject)
        return self.source_for(None), self.source_for(code), code

    def query(self, subject: str) -> QueryResult:
        """List ``subject``'s series on the PACS (GUI: Query); offline, the cached ones."""
        query_source, pull_source, code = self.prepare_query(subject)
        return self.adopt_query(fetch_query(query_source, pull_source, code, self.cache_dir))

    def adopt_query(self, result: QueryResult) -> QueryResult:
        """Show ``result`` (computed elsewhere, e.g. in a worker thread)."""
        self._result = result
        self.queried.emit(result)
        if result.offline:
            self.failed.emit(describe_offline(result))
        return result

    # ------------------------------------------------------------------ pull
    def start_pull(self, series_uid: str) -> PullJob:
        """Begin retrieving ``series_uid`` from the last query (cancels a pull in progress).

        Run ``job.pull_now()`` (any thread), then :meth:`finish_pull` or :meth:`fail_pull` on
        this thread. :meth:`pull_and_open` does it all synchronously.
        """
        row = self.find_row(series_uid)
        if self._job is not None:
            self._job.cancel()
        job = PullJob(row, self.source_for(row.subject))
        self._job = job
        self.pull_started.emit(job)
        return job

    def finish_pull(self, job: PullJob) -> bool:
        """Hand the pulled series' folder to the Reading dock; False for a superseded job."""
        if job is not self._job or job.folder is None or job.index is None:
            return False
        self._job = None
        self.reading.set_index(job.folder.parent, job.index)
        if self._result is not None:  # the row is cached now
            rows = tuple(
                replace(r, cached=True) if r.series_uid == job.series_uid else r
                for r in self._result.rows
            )
            self._result = replace(self._result, rows=rows)
        self.pulled.emit(job)
        return True

    def fail_pull(self, job: PullJob, exc: BaseException) -> str | None:
        """Record that ``job`` stopped with ``exc``: ``pull_cancelled`` or ``failed``.

        Returns the message shown (None for a cancellation or a superseded job).
        """
        if job is not self._job:
            return None
        self._job = None
        if isinstance(exc, LoadCancelled) or job.cancelled:
            self.pull_cancelled.emit(job)
            return None
        message = describe_error(exc)
        if isinstance(exc, PacsError):
            cached = [r for r in self.rows if r.cached]
            if cached:
                message += f" ({len(cached)} cached series of {job.row.subject} still open.)"
        self.failed.emit(message)
        return message

    def report(self, exc: BaseException) -> str:
        """Show ``exc`` as a user-facing message (``failed``) and return it."""
        message = describe_error(exc)
        self.failed.emit(message)
        return message

    def cancel_pull(self) -> bool:
        """Stop the pull in progress (GUI: Cancel / Esc). False when nothing was being pulled."""
        if self._job is None:
            return False
        self._job.cancel()
        return True

    def pull_and_open(self, series_uid: str) -> Any:
        """Retrieve ``series_uid`` and open it in the Reading controller, synchronously.

        Returns the :class:`~napari_readerstation._controller.OpenSeries`.
        """
        job = self.start_pull(series_uid)
        try:
            job.pull_now()
        except Exception as exc:
            self.fail_pull(job, exc)
            raise
        self.finish_pull(job)
        return self.reading.open_series(series_uid)

    def __repr__(self) -> str:
        return (
            f"PacsController(url={self._url!r}, cache_dir={str(self.cache_dir)!r}, "
            f"result={self._result!r}, job={self._job!r})"
        )


def check_connection(source: DicomWebSource) -> None:
    """Ask the PACS a study query that matches nothing; raises PacsError when it cannot answer."""
    source.query_studies(_PROBE_SUBJECT)


def describe_offline(result: QueryResult) -> str:
    """The message for a query the PACS could not answer, saying what still opens."""
    n = len(result.rows)
    if n:
        cached = (
            f"The {n} cached series of {result.subject} listed below still open (double-click "
            "or Enter)."
        )
    else:
        cached = f"No series of {result.subject} is in the local cache; local folders still open."
    return f"PACS unavailable: {result.error}. {cached}"
