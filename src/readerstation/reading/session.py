"""A reader's session: every reading gesture as a scripted call, autosaved as a draft.

:class:`ReadingSession` is the pure-Python equivalent of what a reader does in the viewer: pick a
task from the worklist, open it (the draft is restored, or a new one started with the prior
timepoint's lesions carried forward), draw lines, record states, look at the criteria findings,
and sign. It holds no clinical state of its own: every change builds a new
:class:`~readerstation.model.TimepointRead` and saves it through
:meth:`Repository.save_draft <readerstation.store.Repository.save_draft>` (one transaction)
before the session adopts it, so the stored draft is always the truth and a crash loses at most
the gesture in progress. A gesture that fails (a line off the image, a lesion the model refuses)
raises a :class:`~readerstation.errors.ReaderstationError` and leaves both the session and the
store unchanged.

Two workstations of the same reader may have the same read open. Every save names the revision
of the stored draft it was edited from (:meth:`Repository.save_draft_at
<readerstation.store.Repository.save_draft_at>`), so the later of two conflicting saves is
refused instead of silently overwriting the other: the session then raises
:class:`~readerstation.errors.ConcurrentEditError` ("... reload ..."), reloads the stored draft
(what the other workstation saved; the viewer redraws it) and keeps the refused edit in
:attr:`ReadingSession.unsaved`, to redo by hand or re-apply with
:meth:`ReadingSession.reapply_unsaved`. The refused content is also in the audit trail.

Examples
--------
>>> session = ReadingSession(repo, "sample_dicom")              # doctest: +SKIP
>>> session.worklist()[0]                                        # doctest: +SKIP
ReadingTask(HCC-001/TP0 2024-01-08 baseline, not_started)
>>> session.open("HCC-001", "TP0")                               # doctest: +SKIP
>>> session.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
...                                                              # doctest: +SKIP
>>> session.set_line("T1", "long", p0, p1, sop_uid)              # doctest: +SKIP
>>> session.sign("the reader's password")                        # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from readerstation.criteria.checks import Finding, check_timepoint_read
from readerstation.criteria.enums import LesionKind, NewLesionCall, NonTargetStatus
from readerstation.criteria.organs import normalise_organ
from readerstation.errors import (
    ConcurrentEditError,
    MeasurementError,
    ModelError,
    ReaderstationError,
    ReadingError,
    ReadLockedError,
    SeriesSelectionError,
)
from readerstation.measure.lines import Line, check_line_on_volume
from readerstation.model.entities import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Timepoint,
    TimepointRead,
)
from readerstation.model.enums import LesionRole, LiverSegment, MeasurementState, ReadStatus
from readerstation.reading.images import DicomFolderSource

if TYPE_CHECKING:
    import datetime as dt

    from readerstation.dicom.index import SeriesInfo
    from readerstation.geometry import Volume
    from readerstation.measure.segment import DiameterProposal, SegmentationParams
    from readerstation.store.repository import ReadSummary, Repository

__all__ = [
    "DEFAULT_CRITERIA",
    "LineKind",
    "ReadingFindings",
    "ReadingSession",
    "ReadingTask",
    "TaskStatus",
]

DEFAULT_CRITERIA: tuple[str, ...] = ("recist1.1", "mrecist")
"""The criteria a read is checked against (and must satisfy to be signed), by CLI name."""

_CRITERIA_TITLES = {"recist1.1": "RECIST 1.1", "mrecist": "mRECIST"}
_TRACKING = re.compile(r"^L-(\d+)$")


class TaskStatus(StrEnum):
    """Where a reader is with one timepoint task."""

    NOT_STARTED = "not_started"
    DRAFT = "draft"
    SIGNED = "signed"


class LineKind(StrEnum):
    """Which measurement line of a lesion."""

    LONG = "long"
    """Long axis (RECIST 1.1 diameter of a non-nodal lesion)."""
    SHORT = "short"
    """Short axis, perpendicular to the long axis (RECIST 1.1 diameter of a lymph node)."""
    VIABLE = "viable"
    """Longest diameter of the viable, arterially enhancing part (mRECIST)."""


_LINE_FIELDS: dict[LineKind, tuple[str, str]] = {
    LineKind.LONG: ("long_axis_mm", "long_axis_line"),
    LineKind.SHORT: ("short_axis_mm", "short_axis_line"),
    LineKind.VIABLE: ("viable_long_axis_mm", "viable_line"),
}


@dataclass(frozen=True, slots=True)
class ReadingTask:
    """One timepoint of an assigned subject, as the reader's worklist shows it.

    Attributes
    ----------
    subject : str
        Trial code.
    timepoint : str
        Blinded timepoint label.
    scan_date : datetime.date or None
    is_baseline : bool
        The subject's first timepoint (by scan date).
    status : TaskStatus
        Of the latest version of the reader's read.
    read_id : int or None
        The latest version's id (None when not started).
    version : int or None
        The latest version number (2+ after an amendment).
    """

    subject: str
    timepoint: str
    scan_date: dt.date | None
    is_baseline: bool
    status: TaskStatus
    read_id: int | None = None
    version: int | None = None

    def __repr__(self) -> str:
        date = self.scan_date.isoformat() if self.scan_date else "no date"
        base = " baseline" if self.is_baseline else ""
        ver = f" v{self.version}" if self.version else ""
        return (
            f"ReadingTask({self.subject}/{self.timepoint} {date}{base}, {self.status.value}{ver})"
        )


@dataclass(frozen=True, slots=True)
class ReadingFindings:
    """The criteria findings of the open read, per criteria name.

    Attributes
    ----------
    by_criteria : tuple of (str, tuple of Finding)
        ``("recist1.1", findings)``, ``("mrecist", findings)``, in the session's criteria order.
    """

    by_criteria: tuple[tuple[str, tuple[Finding, ...]], ...]

    @property
    def all(self) -> tuple[Finding, ...]:
        """Every finding of every criteria."""
        return tuple(f for _, fs in self.by_criteria for f in fs)

    @property
    def blocking(self) -> tuple[str, ...]:
        """The blocking findings as messages prefixed with their criteria (``"mRECIST: ..."``)."""
        return tuple(
            f"{_CRITERIA_TITLES.get(name, name)}: {f.lesion + ' ' if f.lesion else ''}{f.message}"
            for name, fs in self.by_criteria
            for f in fs
            if f.blocking
        )

    @property
    def can_sign(self) -> bool:
        """True when no finding blocks signing."""
        return not self.blocking

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{_CRITERIA_TITLES.get(n, n)}: {sum(f.blocking for f in fs)} blocking / "
            f"{sum(not f.blocking for f in fs)} warnings"
            for n, fs in self.by_criteria
        )
        return f"ReadingFindings({parts})"


def _lesion_number(tracking_id: str) -> int:
    m = _TRACKING.match(tracking_id)
    return int(m.group(1)) if m else 0


def _carry_forward(prior: TimepointRead) -> tuple[LesionAssessment, ...]:
    """The prior read's lesions, same ids, labels and roles, nothing measured yet."""
    out: list[LesionAssessment] = []
    for a in prior.lesions:
        role = a.lesion.role
        if role is LesionRole.TARGET:
            out.append(LesionAssessment(a.lesion, Measurement(MeasurementState.NOT_EVALUATED)))
        elif role is LesionRole.NON_TARGET:
            out.append(LesionAssessment(a.lesion, non_target_status=NonTargetStatus.NOT_EVALUATED))
        else:
            out.append(LesionAssessment(a.lesion))
    return tuple(out)


def _with(read: TimepointRead, **changes: object) -> TimepointRead:
    fields = {
        "subject": read.subject,
        "timepoint": read.timepoint,
        "reader": read.reader,
        "lesions": read.lesions,
        "new_lesion_call": read.new_lesion_call,
        "status": read.status,
        "version": read.version,
        "signed_at": read.signed_at,
        "read_id": read.read_id,
    }
    fields.update(changes)
    return TimepointRead(**fields)  # type: ignore[arg-type]


class ReadingSession:
    """One reader's work on their worklist: open a timepoint, measure, check, sign.

    Parameters
    ----------
    repository : Repository
        An authenticated reader's repository (``Repository.login``); every read and write goes
        through it, so roles, blinding and the audit trail apply.
    images : path-like or DicomFolderSource
        The folder of the trial's DICOM files (or an image source to share between sessions).
    criteria : sequence of str
        Criteria names checked by :meth:`findings` and required at signing (default
        :data:`DEFAULT_CRITERIA`: RECIST 1.1 and mRECIST).
    """

    def __init__(
        self,
        repository: Repository,
        images: str | os.PathLike[str] | DicomFolderSource,
        *,
        criteria: Sequence[str] = DEFAULT_CRITERIA,
    ) -> None:
        self.repository = repository
        self.images = images if isinstance(images, DicomFolderSource) else DicomFolderSource(images)
        self.criteria = tuple(criteria)
        for name in self.criteria:
            if name not in _CRITERIA_TITLES:
                raise ReadingError(
                    f"ReadingSession.criteria: expected names among {sorted(_CRITERIA_TITLES)}, "
                    f"received {name!r}."
                )
        self._read: TimepointRead | None = None
        self._baseline: TimepointRead | None = None
        self._prior: TimepointRead | None = None
        self._series: SeriesInfo | None = None
        self._series_choices: tuple[SeriesInfo, ...] = ()
        self._volume: Volume | None = None
        self._min_next_lesion = 1
        self._revision: int | None = None
        self._unsaved: TimepointRead | None = None

    def __repr__(self) -> str:
        what = repr(self._read) if self._read is not None else "no read open"
        return f"ReadingSession(reader={self.repository.user.name}, {what})"

    # -- state ------------------------------------------------------------------------------

    @property
    def read(self) -> TimepointRead:
        """The open read, as last saved (raise :class:`ReadingError` when none is open)."""
        if self._read is None:
            raise ReadingError(
                "no read is open; call open(subject, timepoint) with a task from worklist()."
            )
        return self._read

    @property
    def is_open(self) -> bool:
        """True when a read is open."""
        return self._read is not None

    @property
    def revision(self) -> int | None:
        """The store revision of the open read as last loaded or saved (None: not stored yet).

        Every save passes it to :meth:`Repository.save_draft_at
        <readerstation.store.Repository.save_draft_at>`, so a save based on a draft another
        workstation changed since is refused, never silently overwriting it.
        """
        return self._revision

    @property
    def unsaved(self) -> TimepointRead | None:
        """The reader's last edit that the store refused because another workstation saved the
        same read first (None when there is none).

        Kept until :meth:`reapply_unsaved`, :meth:`discard_unsaved`, :meth:`open` or
        :meth:`close`; after the refusal :attr:`read` shows what the other workstation stored.
        """
        return self._unsaved

    @property
    def volume(self) -> Volume:
        """The image the open read is measured on (the chosen series)."""
        if self._volume is None:
            raise ReadingError("no image is loaded; open a read first.")
        return self._volume

    @property
    def series(self) -> SeriesInfo:
        """The chosen series of the open read."""
        if self._series is None:
            raise ReadingError("no series is chosen; open a read first.")
        return self._series

    @property
    def series_choices(self) -> tuple[SeriesInfo, ...]:
        """The image series of the open timepoint's study (the reader may choose another)."""
        return self._series_choices

    @property
    def baseline_read(self) -> TimepointRead | None:
        """The reader's signed baseline read of the subject (None when the open read is it)."""
        return self._baseline

    @property
    def prior_read(self) -> TimepointRead | None:
        """The reader's signed read of the previous timepoint (None at baseline)."""
        return self._prior

    def load_prior_volume(self) -> Volume | None:
        """The image the reader's signed prior read was measured on (None at baseline).

        Loaded from the prior timepoint's study and the series recorded in the prior read, so
        its lines (drawn on that series) can be shown beside the current image. Slow on first
        call (the series is decoded; cached by :attr:`images` afterwards): call it off the GUI
        thread.

        Raises
        ------
        SeriesSelectionError
            The prior read names no study or series, or its series is no longer in the folder.
        """
        prior = self._prior
        if prior is None:
            return None
        tp = prior.timepoint
        where = f"{prior.subject.code}/{tp.label}"
        if tp.study_uid is None or tp.series_uid is None:
            raise SeriesSelectionError(
                f"prior {where}: the signed read records no study or series UID, so its image "
                "cannot be shown; open that read to check it."
            )
        found = [
            s
            for s in self.images.study_series(prior.subject.code, tp.study_uid)
            if s.series_uid == tp.series_uid
        ]
        if not found:
            raise SeriesSelectionError(
                f"prior {where}: series {tp.series_uid} it was measured on is not in the image "
                f"folder {self.images.root}; restore the files to see the prior."
            )
        return self.images.load(found[0])

    # -- worklist and opening ---------------------------------------------------------------

    def worklist(self) -> list[ReadingTask]:
        """The reader's timepoint tasks, by trial code then scan date, with their status."""
        tps = self.repository.list_assigned_timepoints()
        latest = {(r.subject, r.timepoint): r for r in self.repository.list_reads(latest_only=True)}
        seen: set[str] = set()
        out: list[ReadingTask] = []
        for subj, tp in tps:
            first = subj.code not in seen
            seen.add(subj.code)
            r = latest.get((subj.code, tp.label))
            status = TaskStatus.NOT_STARTED if r is None else TaskStatus(r.status.value)
            out.append(
                ReadingTask(
                    subj.code,
                    tp.label,
                    tp.scan_date,
                    first,
                    status,
                    None if r is None else r.read_id,
                    None if r is None else r.version,
                )
            )
        return out

    def _signed_latest(self, summaries: list[ReadSummary], label: str) -> ReadSummary | None:
        signed = [r for r in summaries if r.timepoint == label and r.status is ReadStatus.SIGNED]
        return max(signed, key=lambda r: r.version) if signed else None

    def open(self, subject: str, timepoint: str, *, series_uid: str | None = None) -> TimepointRead:
        """Open a timepoint task: restore its draft (or signed read), or start a new draft.

        Opening saves no edit of the reader's, only the series chosen (and, for a new draft, the
        lesions carried forward): when another workstation of the same reader creates or saves
        the draft at that moment, the store refuses this save and the read is opened again as
        the other workstation stored it.

        A new follow-up draft carries forward the lesions of the reader's own signed read of the
        previous timepoint, with their tracking ids, labels and roles (targets ``not_evaluated``
        and non-targets ``not_evaluated`` until the reader measures or assesses them). The series
        read is ``series_uid``, else the one the draft recorded, else the proposed arterial
        series of the timepoint's study; it is recorded in the draft.

        Raises
        ------
        ReadingError
            Not in the worklist; a follow-up whose baseline the reader has not signed.
        SeriesSelectionError
            The study's images are missing, or no clear arterial series (pass ``series_uid``).
        """
        try:
            return self._open(subject, timepoint, series_uid)
        except ConcurrentEditError:
            # another workstation of this reader started or changed this draft at the same
            # moment: open what it stored (nothing the reader entered here is at stake)
            return self._open(subject, timepoint, series_uid)

    def _open(self, subject: str, timepoint: str, series_uid: str | None) -> TimepointRead:
        tasks = self.repository.list_assigned_timepoints(subject)
        match = [(s, t) for s, t in tasks if t.label == timepoint]
        if not match:
            listing = ", ".join(t.label for _, t in tasks) or "none (subject not assigned)"
            raise ReadingError(
                f"open: {subject}/{timepoint} is not in your worklist (timepoints of {subject} "
                f"assigned to you: {listing}); pick a task from worklist()."
            )
        subj, tp = match[0]
        if tp.study_uid is None:
            raise ReadingError(
                f"open: timepoint {subject}/{timepoint} has no StudyInstanceUID in the store, so "
                "its images cannot be found; ask an admin to record the study."
            )
        position = [t.label for _, t in tasks].index(timepoint)
        summaries = self.repository.list_reads(subject)
        baseline = prior = None
        if position > 0:
            base_label = tasks[0][1].label
            bsum = self._signed_latest(summaries, base_label)
            if bsum is None:
                raise ReadingError(
                    f"open: {subject}/{timepoint} is a follow-up and your baseline read "
                    f"{subject}/{base_label} is not signed; read and sign the baseline first."
                )
            baseline = self.repository.get_read(bsum.read_id)
            for _, earlier in reversed(tasks[:position]):
                psum = self._signed_latest(summaries, earlier.label)
                if psum is not None:
                    prior = (
                        baseline
                        if psum.read_id == bsum.read_id
                        else self.repository.get_read(psum.read_id)
                    )
                    break
        mine = [r for r in summaries if r.timepoint == timepoint]
        latest = max(mine, key=lambda r: r.version) if mine else None
        revision: int | None = None
        if latest is not None:
            loaded = self.repository.load_read(latest.read_id)
            read, revision = loaded.read, loaded.revision
        else:
            carried = _carry_forward(prior) if prior is not None else ()
            call = (
                prior.new_lesion_call
                if prior is not None and any(a.lesion.role is LesionRole.NEW for a in carried)
                else NewLesionCall.NONE
            )
            read = TimepointRead(
                subj,
                Timepoint(tp.label, tp.scan_date, tp.study_uid, tp.series_uid, tp.phase),
                self.repository.user.name,
                carried,
                call,
            )
        choices = self.images.study_series(subject, tp.study_uid)
        wanted = series_uid or read.timepoint.series_uid or tp.series_uid
        if wanted:
            found = [s for s in choices if s.series_uid == wanted]
            if not found:
                raise SeriesSelectionError(
                    f"open: series {wanted} is not an image series of {subject}/{timepoint}; "
                    "choose one of: "
                    + "; ".join(f"{s.series_uid} ({s.description!r})" for s in choices)
                )
            series = found[0]
        else:
            series = self.images.propose_series(choices)
        volume = self.images.load(series)
        if read.status is ReadStatus.DRAFT:
            self._check_lines_on(read, volume)
            if read.read_id is None or read.timepoint.series_uid != series.series_uid:
                chosen = Timepoint(
                    tp.label, tp.scan_date, tp.study_uid, series.series_uid, series.phase
                )
                saved = self.repository.save_draft_at(_with(read, timepoint=chosen), revision)
                read, revision = saved.read, saved.revision
        numbers = [_lesion_number(a.lesion.tracking_id) for a in read.lesions]
        for r in (baseline, prior):
            if r is not None:
                numbers += [_lesion_number(a.lesion.tracking_id) for a in r.lesions]
        self._read, self._baseline, self._prior = read, baseline, prior
        self._series, self._series_choices, self._volume = series, choices, volume
        self._min_next_lesion = max(numbers, default=0) + 1
        self._revision, self._unsaved = revision, None
        return read

    @staticmethod
    def _check_lines_on(read: TimepointRead, volume: Volume) -> None:
        uids = set(volume.sop_instance_uids)
        for a in read.lesions:
            m = a.measurement
            if m is None:
                continue
            for line in (m.long_axis_line, m.short_axis_line, m.viable_line):
                if line is not None and line.sop_instance_uid not in uids:
                    raise SeriesSelectionError(
                        f"open: lesion {a.lesion.label} has a line drawn on another series "
                        f"(image {line.sop_instance_uid}); open the read on the series it was "
                        f"measured on ({read.timepoint.series_uid}), or set the lesion's state "
                        "to clear its lines first."
                    )

    def close(self) -> None:
        """Forget the open read (it is already saved; an :attr:`unsaved` edit is dropped)."""
        self._read = self._baseline = self._prior = None
        self._series, self._series_choices, self._volume = None, (), None
        self._revision = self._unsaved = None

    def reload(self) -> TimepointRead:
        """Re-read the open read from the store: the latest version, as last saved anywhere.

        Called by the session itself when a save or a signature is refused because another
        workstation changed the read; :attr:`unsaved` is kept. When the stored draft is on
        another series of the study, that series is loaded.

        Raises
        ------
        ReadingError
            No read is open.
        SeriesSelectionError
            The stored draft's series is not in the image folder.
        """
        current = self.read
        code, label = current.subject.code, current.timepoint.label
        mine = [r for r in self.repository.list_reads(code) if r.timepoint == label]
        if not mine:  # pragma: no cover - a stored read is never deleted
            raise ReadingError(
                f"reload: {code}/{label} has no stored read; open the task again from the worklist."
            )
        latest = max(mine, key=lambda r: r.version)
        loaded = self.repository.load_read(latest.read_id)
        wanted = loaded.read.timepoint.series_uid
        if self._series is not None and wanted and wanted != self._series.series_uid:
            found = [s for s in self._series_choices if s.series_uid == wanted]
            if not found:
                raise SeriesSelectionError(
                    f"reload: {code}/{label} is now read on series {wanted}, which is not in the "
                    f"image folder {self.images.root}; restore its files and open the task again."
                )
            self._series, self._volume = found[0], self.images.load(found[0])
        self._read, self._revision = loaded.read, loaded.revision
        return loaded.read

    def reapply_unsaved(self) -> TimepointRead:
        """Save the refused edit (:attr:`unsaved`) over what the other workstation stored.

        The reader has seen the other workstation's version (:attr:`read`, reloaded after the
        refusal) and chooses theirs: their lesions replace it, knowingly (the other version stays
        in the audit trail). Refused again if the draft changed once more meanwhile.

        Raises
        ------
        ReadingError
            Nothing unsaved, or the stored read is now another version of the read.
        ReadLockedError
            The read was signed meanwhile: amend it first.
        ConcurrentEditError
            Another workstation saved again; the read is reloaded and the edit kept.
        """
        pending = self._unsaved
        if pending is None:
            raise ReadingError("reapply_unsaved: there is no refused edit to re-apply.")
        read = self._editable()
        if (pending.subject.code, pending.timepoint.label, pending.version) != (
            read.subject.code,
            read.timepoint.label,
            read.version,
        ):
            raise ReadingError(
                f"reapply_unsaved: the refused edit is of {pending.subject.code}/"
                f"{pending.timepoint.label} v{pending.version}, the open read is "
                f"{read.subject.code}/{read.timepoint.label} v{read.version}; redo the change on "
                "the open read, or discard_unsaved()."
            )
        saved = self._save(
            _with(pending, timepoint=read.timepoint, read_id=read.read_id, signed_at=None)
        )
        self._unsaved = None
        return saved

    def discard_unsaved(self) -> None:
        """Forget the refused edit (:attr:`unsaved`); the stored draft stays as it is."""
        self._unsaved = None

    # -- editing ----------------------------------------------------------------------------

    def _editable(self) -> TimepointRead:
        read = self.read
        if read.is_signed:
            raise ReadLockedError(
                f"{read.subject.code}/{read.timepoint.label} v{read.version} is signed and "
                "immutable; call amend() to start a corrected version."
            )
        return read

    def _save(self, read: TimepointRead) -> TimepointRead:
        try:
            saved = self.repository.save_draft_at(read, self._revision)
        except ConcurrentEditError as exc:
            self._unsaved = read
            self._reload_after(exc)
            raise ConcurrentEditError(
                f"{exc} This workstation now shows the read as the other session saved it; "
                "redo your last change on it (it is also kept in the audit trail)."
            ) from exc
        self._read, self._revision = saved.read, saved.revision
        return saved.read

    def _reload_after(self, exc: ConcurrentEditError) -> None:
        """Adopt what is stored after a refused write (the refusal is raised in any case)."""
        try:
            self.reload()
        except ReaderstationError:
            # cannot reload now (store or images unavailable): keep the old state; the next
            # save is refused again and retries the reload
            pass

    def assessment(self, lesion: str | Lesion) -> LesionAssessment:
        """The open read's assessment of a lesion, by label, tracking id or Lesion."""
        key = lesion.tracking_id if isinstance(lesion, Lesion) else lesion
        for a in self.read.lesions:
            if key in (a.lesion.label, a.lesion.tracking_id):
                return a
        labels = ", ".join(a.lesion.label for a in self.read.lesions) or "none yet"
        raise ReadingError(
            f"no lesion {key!r} in {self.read.subject.code}/{self.read.timepoint.label} "
            f"(lesions: {labels}); add it with add_lesion or pick an existing label."
        )

    def _replace(self, read: TimepointRead, new: LesionAssessment) -> TimepointRead:
        tid = new.lesion.tracking_id
        lesions = tuple(new if a.lesion.tracking_id == tid else a for a in read.lesions)
        return _with(read, lesions=lesions)

    def add_lesion(
        self,
        label: str,
        role: LesionRole | str,
        organ: str,
        *,
        location: str = "",
        liver_segment: LiverSegment | str | None = None,
        nodal: bool = False,
        typical_hcc: bool | None = None,
        kind: LesionKind | str = LesionKind.LESION,
        non_target_status: NonTargetStatus | str = NonTargetStatus.PRESENT,
        tracking_id: str | None = None,
    ) -> Lesion:
        """Add a lesion to the open draft (a target starts ``not_evaluated`` until measured).

        Parameters
        ----------
        label : str
            ``"T1"``, ``"NT1"``, ``"NEW1"``... (unique in the read).
        role : LesionRole or str
            ``target``, ``non_target`` or ``new``. A new lesion needs
            :meth:`set_new_lesions` (``equivocal`` / ``unequivocal``) first.
        organ, location, liver_segment, nodal, typical_hcc, kind
            As in :class:`~readerstation.model.Lesion`.
        non_target_status : NonTargetStatus or str
            Status of a non-target (default ``present``); ignored for other roles.
        tracking_id : str or None
            Default: the next free ``L-NNNN`` of this subject for this reader.

        Raises
        ------
        ModelError
            An invalid lesion (for example a liver lesion without its segment) or a duplicate
            label; nothing is saved.
        ReadingError
            A new lesion while the new-lesion call is ``none``.
        """
        read = self._editable()
        if isinstance(organ, str) and normalise_organ(organ) == "liver" and liver_segment is None:
            raise ModelError(
                f"Lesion {label}.liver_segment: expected the Couinaud segment (I-VIII) of a liver "
                "lesion, received None; pick the segment that holds most of the lesion."
            )
        if tracking_id is None:
            used = [_lesion_number(a.lesion.tracking_id) for a in read.lesions]
            n = max([self._min_next_lesion - 1, *used]) + 1
            tracking_id = f"L-{n:04d}"
        les = Lesion(
            tracking_id,
            label,
            role,  # type: ignore[arg-type]
            organ,
            location,
            liver_segment,  # type: ignore[arg-type]
            nodal,
            typical_hcc,
            kind,  # type: ignore[arg-type]
        )
        if les.role is LesionRole.TARGET:
            a = LesionAssessment(les, Measurement(MeasurementState.NOT_EVALUATED))
        elif les.role is LesionRole.NON_TARGET:
            a = LesionAssessment(les, non_target_status=non_target_status)  # type: ignore[arg-type]
        else:
            if read.new_lesion_call is NewLesionCall.NONE:
                raise ReadingError(
                    f"add_lesion {label}: the new-lesion call is 'none'; call "
                    "set_new_lesions('equivocal') or set_new_lesions('unequivocal') first."
                )
            a = LesionAssessment(les)
        self._save(_with(read, lesions=(*read.lesions, a)))
        return les

    def update_lesion(self, lesion: str | Lesion, **changes: object) -> Lesion:
        """Change a lesion's description (label, organ, segment, typical_hcc...), keeping its id.

        Raises
        ------
        ModelError
            The changed lesion is invalid, or a measurement no longer fits it; nothing saved.
        """
        read = self._editable()
        a = self.assessment(lesion)
        if "tracking_id" in changes:
            raise ReadingError(
                "update_lesion: the tracking id never changes (it follows the lesion across "
                "timepoints); remove the lesion and add another instead."
            )
        old = a.lesion
        fields: dict[str, object] = {
            "tracking_id": old.tracking_id,
            "label": old.label,
            "role": old.role,
            "organ": old.organ,
            "location": old.location,
            "liver_segment": old.liver_segment,
            "nodal": old.nodal,
            "typical_hcc": old.typical_hcc,
            "kind": old.kind,
        }
        unknown = set(changes) - set(fields)
        if unknown:
            raise ReadingError(
                f"update_lesion: unknown field(s) {sorted(unknown)}; expected some of "
                f"{sorted(fields)}."
            )
        fields.update(changes)
        new = Lesion(**fields)  # type: ignore[arg-type]
        updated = LesionAssessment(new, a.measurement, a.non_target_status, a.cytology_confirmed)
        self._save(self._replace(read, updated))
        return new

    def remove_lesion(self, lesion: str | Lesion) -> None:
        """Remove a lesion from the open draft."""
        read = self._editable()
        tid = self.assessment(lesion).lesion.tracking_id
        self._save(
            _with(read, lesions=tuple(a for a in read.lesions if a.lesion.tracking_id != tid))
        )

    def _measurement_with(
        self, a: LesionAssessment, updates: dict[LineKind, tuple[float | None, LinePoints | None]]
    ) -> LesionAssessment:
        if a.lesion.role is LesionRole.NON_TARGET:
            raise MeasurementError(
                f"lesion {a.lesion.label} is a non-target: non-targets are not measured "
                "(RECIST 1.1 4.3.2); set its status instead, or make it a target."
            )
        m = a.measurement
        values: dict[LineKind, tuple[float | None, LinePoints | None]] = {}
        for k, (vname, lname) in _LINE_FIELDS.items():
            if m is not None and m.state is MeasurementState.MEASURED:
                values[k] = (getattr(m, vname), getattr(m, lname))
            else:
                values[k] = (None, None)
        values.update(updates)
        try:
            if all(v is None for v, _ in values.values()):
                new_m = (
                    None
                    if a.lesion.role is LesionRole.NEW
                    else Measurement(MeasurementState.NOT_EVALUATED)
                )
            else:
                new_m = Measurement(
                    MeasurementState.MEASURED,
                    values[LineKind.LONG][0],
                    values[LineKind.SHORT][0],
                    values[LineKind.VIABLE][0],
                    values[LineKind.LONG][1],
                    values[LineKind.SHORT][1],
                    values[LineKind.VIABLE][1],
                )
            return LesionAssessment(a.lesion, new_m, a.non_target_status, a.cytology_confirmed)
        except ModelError as exc:
            raise MeasurementError(f"lesion {a.lesion.label}: {exc}") from exc

    def _line(
        self,
        p0_lps: ArrayLike,
        p1_lps: ArrayLike,
        sop_instance_uid: str,
        series_uid: str | None,
    ) -> LinePoints:
        line = Line(p0_lps, p1_lps, sop_instance_uid, series_uid)  # type: ignore[arg-type]
        check_line_on_volume(line, self.volume)
        try:
            return LinePoints(line.start_lps, line.end_lps, line.sop_instance_uid)
        except ModelError as exc:
            raise MeasurementError(str(exc)) from exc

    def set_line(
        self,
        lesion: str | Lesion,
        kind: LineKind | str,
        p0_lps: ArrayLike,
        p1_lps: ArrayLike,
        sop_instance_uid: str,
        *,
        series_uid: str | None = None,
    ) -> LesionAssessment:
        """Record a measurement line of a lesion (and its length in mm) in the draft.

        Parameters
        ----------
        lesion : str or Lesion
            Label or tracking id.
        kind : LineKind or str
            ``long``, ``short`` or ``viable``.
        p0_lps, p1_lps : array_like, shape (3,), LPS mm
            End points in patient coordinates (x, y, z).
        sop_instance_uid : str
            SOPInstanceUID of the slice the line was drawn on.
        series_uid : str or None
            SeriesInstanceUID of the image drawn on, when known (checked against the open one).

        Returns
        -------
        LesionAssessment
            The lesion's assessment as saved.

        Raises
        ------
        MeasurementError
            The line is off the image, on another series, across two slices, of zero length, or
            the measurement it makes is invalid (a node's short axis longer than its long axis, a
            line on a non-target...). The message says what to do; the draft and the session
            keep the previous value.
        """
        read = self._editable()
        try:
            k = LineKind(kind)
        except ValueError:
            raise MeasurementError(
                f"set_line: kind must be one of {[x.value for x in LineKind]}, received {kind!r}."
            ) from None
        a = self.assessment(lesion)
        lp = self._line(p0_lps, p1_lps, sop_instance_uid, series_uid)
        new = self._measurement_with(a, {k: (lp.length_mm, lp)})
        saved = self._save(self._replace(read, new))
        return next(x for x in saved.lesions if x.lesion.tracking_id == a.lesion.tracking_id)

    def clear_line(self, lesion: str | Lesion, kind: LineKind | str) -> LesionAssessment:
        """Remove one line of a lesion (a target with no line left is ``not_evaluated``)."""
        read = self._editable()
        a = self.assessment(lesion)
        new = self._measurement_with(a, {LineKind(kind): (None, None)})
        saved = self._save(self._replace(read, new))
        return next(x for x in saved.lesions if x.lesion.tracking_id == a.lesion.tracking_id)

    def propose(
        self,
        lesion: str | Lesion,
        seed_lps: ArrayLike,
        *,
        params: SegmentationParams | None = None,
    ) -> DiameterProposal:
        """Segment the lesion under a seed click and record the proposed lines in the draft.

        The long axis, its perpendicular short axis and the viable-enhancing diameter of
        :func:`~readerstation.measure.propose_diameters` replace the lesion's lines (a viable
        diameter of 0 is recorded without a line). The reader may then move the end points with
        :meth:`set_line`.

        Raises
        ------
        MeasurementError
            Segmentation failed (seed outside a lesion...) or the proposal cannot be recorded;
            nothing is saved.
        """
        from readerstation.measure.segment import propose_diameters

        read = self._editable()
        a = self.assessment(lesion)
        volume = self.volume
        p = propose_diameters(volume, seed_lps, params=params)
        if p.sop_instance_uid is None:
            raise MeasurementError(
                "propose: the proposed slice has no SOPInstanceUID, so the lines cannot name "
                "their image; draw the lines by hand."
            )
        sid = volume.series_uid
        updates: dict[LineKind, tuple[float | None, LinePoints | None]] = {}
        long = self._line(
            p.long_axis_points_lps[0], p.long_axis_points_lps[1], p.sop_instance_uid, sid
        )
        updates[LineKind.LONG] = (long.length_mm, long)
        if p.short_axis_points_lps is not None:
            short = self._line(
                p.short_axis_points_lps[0], p.short_axis_points_lps[1], p.sop_instance_uid, sid
            )
            updates[LineKind.SHORT] = (short.length_mm, short)
        if p.viable_points_lps is not None and p.viable_sop_instance_uid is not None:
            viable = self._line(
                p.viable_points_lps[0], p.viable_points_lps[1], p.viable_sop_instance_uid, sid
            )
            updates[LineKind.VIABLE] = (viable.length_mm, viable)
        else:
            updates[LineKind.VIABLE] = (0.0, None)
        self._save(self._replace(read, self._measurement_with(a, updates)))
        return p

    def set_state(self, lesion: str | Lesion, state: MeasurementState | str) -> LesionAssessment:
        """Record that a target or new lesion is ``too_small``, ``absent`` or ``not_evaluated``.

        Setting such a state removes the lesion's lines. ``measured`` is reached by drawing a
        line (:meth:`set_line`); asking for it without lines is refused.
        """
        read = self._editable()
        a = self.assessment(lesion)
        st = MeasurementState(state)
        if a.lesion.role is LesionRole.NON_TARGET:
            raise ReadingError(
                f"set_state: {a.lesion.label} is a non-target; use set_non_target_status "
                "(present, absent, unequivocal_progression, not_evaluated)."
            )
        if st is MeasurementState.MEASURED:
            if a.measurement is not None and a.measurement.state is MeasurementState.MEASURED:
                return a
            raise ReadingError(
                f"set_state: {a.lesion.label} becomes 'measured' when a line is drawn; draw its "
                "long axis (short axis for a node) with set_line."
            )
        new = LesionAssessment(a.lesion, Measurement(st), None, a.cytology_confirmed)
        self._save(self._replace(read, new))
        return new

    def set_non_target_status(
        self, lesion: str | Lesion, status: NonTargetStatus | str
    ) -> LesionAssessment:
        """Record a non-target lesion's status (present, absent, unequivocal_progression...)."""
        read = self._editable()
        a = self.assessment(lesion)
        if a.lesion.role is not LesionRole.NON_TARGET:
            raise ReadingError(
                f"set_non_target_status: {a.lesion.label} is a {a.lesion.role.value} lesion; "
                "only non-targets have a status (measure targets with set_line)."
            )
        new = LesionAssessment(a.lesion, None, status, a.cytology_confirmed)  # type: ignore[arg-type]
        self._save(self._replace(read, new))
        return new

    def set_new_lesions(self, call: NewLesionCall | str) -> TimepointRead:
        """Record the new-lesion call (``none``, ``equivocal``, ``unequivocal``).

        Raises
        ------
        ModelError
            ``none`` while new lesions are listed (remove them first); nothing saved.
        """
        read = self._editable()
        return self._save(_with(read, new_lesion_call=call))

    # -- criteria, signing ------------------------------------------------------------------

    def _check(self, read: TimepointRead) -> ReadingFindings:
        thickness = self._series.slice_thickness_mm if self._series is not None else None
        base = self._baseline
        out = []
        for name in self.criteria:
            fs = check_timepoint_read(
                read,
                criteria=name,
                baseline=base,
                slice_thickness_mm=thickness if thickness and thickness > 0 else None,
            )
            out.append((name, tuple(fs)))
        return ReadingFindings(tuple(out))

    def findings(self) -> ReadingFindings:
        """The criteria findings of the open read (baseline rules, or follow-up vs baseline)."""
        return self._check(self.read)

    def sign(self, password: str) -> TimepointRead:
        """Sign the open draft after re-entering the password; it is then immutable.

        Raises
        ------
        CriteriaError
            Blocking findings exist (the messages list them); the read stays a draft.
        AuthenticationError
            Wrong password; the read stays a draft.
        """
        read = self._editable()
        if read.read_id is None:
            read = self._save(read)
        rid = read.read_id
        if rid is None:  # pragma: no cover - save_draft always returns an id
            raise ReadingError("sign: the draft has no id after saving; reopen the read.")
        check: Callable[[TimepointRead], Sequence[str]] = lambda r: self._check(r).blocking  # noqa: E731
        try:
            signed = self.repository.sign_read(
                rid, password, blockers=check, expected_revision=self._revision
            )
        except ConcurrentEditError as exc:
            self._reload_after(exc)
            raise ConcurrentEditError(
                f"{exc} This workstation now shows the read as the other session saved it."
            ) from exc
        self._read = signed
        return signed

    def amend(self) -> TimepointRead:
        """Start a corrected version of the signed open read (the signed one is kept)."""
        read = self.read
        if not read.is_signed or read.read_id is None:
            raise ReadingError(
                f"amend: {read.subject.code}/{read.timepoint.label} is still a draft; edit it "
                "directly."
            )
        amended = self.repository.amend_read(read.read_id)
        loaded = self.repository.load_read(amended.read_id) if amended.read_id else None
        self._read = amended if loaded is None else loaded.read
        self._revision = None if loaded is None else loaded.revision
        return self._read
