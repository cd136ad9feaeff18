"""Dual reading in the store: charter, balanced assignment, worklists, import/export, discrepancies,
blinded adjudication, accepted reads and reader agreement.

:class:`DualReadingMixin` is inherited by :class:`~readerstation.store.repository.Repository`; it
reuses the Repository's transaction, role and audit helpers, so every method here checks roles
and blinding first, audits every write and every refusal, and runs in one transaction.

Who may do what (in addition to the Repository's table):

========================  ======  ===========  =====
action                    reader  adjudicator  admin
========================  ======  ===========  =====
get_charter               yes     yes          yes
set_charter (no reads)                         yes
assign_balanced,                               yes
list_assignments
list_own_assignments      own
worklist                  own
import_reads                                   yes
export_reads_json         own                  all
list_discrepancies                no identity  yes
adjudication_packet               yes
adjudicate                        yes
accepted_reads, summary                        yes
agreement                         no readers   yes
========================  ======  ===========  =====

Evaluation
----------
A subject is *complete* when both of its slots (1 and 2) have a signed read of every timepoint
of the subject. When a signature (:meth:`Repository.sign_read`) or an import completes a
subject, or changes the read versions compared, the two readers' latest signed reads are
compared with :func:`~readerstation.reading.discrepancy.compare_reads` under each charter
criteria. A difference on a charter variable opens a discrepancy; otherwise the charter's
default slot is accepted (basis ``charter``). Re-evaluation (chosen behaviour): when a later
signature (an amendment) changes the read versions compared, the previous evaluation of that
subject and criteria is marked ``superseded`` (its adjudication, if any, stays in the trail,
immutable) and the new comparison decides again: a new open discrepancy, or a charter
acceptance. An evaluation on the same read versions is never repeated.

Blinding
--------
* Readers see only their own tasks and reads; with the charter's ``hide_visit_dates`` every read,
  worklist item and export they get carries no scan date and no treatment start, and worklist
  items are labelled ``TP0``, ``TP1``... in scan-date order.
* The adjudicator sees reads as "A" and "B" in an order drawn once per subject with
  :mod:`secrets` and stored (``case_orders``), shared by both criteria; packets and discrepancy
  listings carry no reader name, user id or read id. Cause texts in a packet are computed with
  the reads in A/B order, so the order of mention reveals nothing either.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from readerstation.errors import (
    AuthenticationError,
    ModelError,
    ReaderstationError,
    ReadLockedError,
    StoreError,
)
from readerstation.model.entities import Subject, Timepoint, TimepointRead
from readerstation.model.enums import LesionRole, ReadStatus, UserRole
from readerstation.store._queries import latest_signed_row, timepoint_order
from readerstation.store.schema import (
    AcceptanceRow,
    AdjudicationRow,
    Assignment,
    CaseOrderRow,
    CharterRow,
    DiscrepancyRow,
    ReadRow,
    SubjectRow,
    TimepointRow,
    User,
    utc_now,
)

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from readerstation.engine.trial import TrialSummary
    from readerstation.reading.agreement import AgreementReport
    from readerstation.reading.charter import Charter
    from readerstation.reading.discrepancy import Comparison
    from readerstation.store.engine import Store
    from readerstation.store.passwords import KdfParams
    from readerstation.store.repository import UserInfo

__all__ = [
    "AcceptedRead",
    "AdjudicationInfo",
    "AssignmentInfo",
    "DiscrepancyInfo",
    "DualReadingMixin",
    "ImportReport",
    "WorkItem",
    "derive_balanced_assignment",
]

_T = TypeVar("_T")

WORK_STATUSES = ("locked", "todo", "draft", "signed")


# ----------------------------------------------------------------------------- result objects


@dataclass(frozen=True, slots=True)
class AssignmentInfo:
    """One reader's assignment to a subject, in a slot (1 or 2)."""

    subject: str
    reader: str
    slot: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"subject": self.subject, "reader": self.reader, "slot": self.slot}


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One timepoint of a reader's worklist.

    Attributes
    ----------
    subject, label : str
        Trial code and stored timepoint label.
    display_label : str
        ``TP0``, ``TP1``... in scan-date order (what a reader with hidden dates sees).
    scan_date : datetime.date or None
        None when the charter hides visit dates.
    series_uid : str or None
    status : str
        ``locked`` (the previous timepoint is not signed), ``todo``, ``draft`` or ``signed``.
    read_id : int or None
        The reader's latest read version of the timepoint.
    """

    subject: str
    label: str
    display_label: str
    scan_date: dt.date | None
    series_uid: str | None
    status: str
    read_id: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "subject": self.subject,
            "label": self.label,
            "display_label": self.display_label,
            "scan_date": None if self.scan_date is None else self.scan_date.isoformat(),
            "series_uid": self.series_uid,
            "status": self.status,
            "read_id": self.read_id,
        }


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What :meth:`DualReadingMixin.import_reads` did."""

    n_subjects: int
    n_reads: int
    n_unchanged: int
    n_evaluated: int
    n_discrepancies: int
    n_accepted: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "n_subjects": self.n_subjects,
            "n_reads": self.n_reads,
            "n_unchanged": self.n_unchanged,
            "n_evaluated": self.n_evaluated,
            "n_discrepancies": self.n_discrepancies,
            "n_accepted": self.n_accepted,
        }

    def __str__(self) -> str:
        return (
            f"imported {self.n_reads} signed reads of {self.n_subjects} subjects "
            f"({self.n_unchanged} unchanged); evaluated {self.n_evaluated} subject-criteria "
            f"pairs: {self.n_discrepancies} discrepancies opened, {self.n_accepted} accepted"
        )


@dataclass(frozen=True, slots=True)
class DiscrepancyInfo:
    """A subject and criteria whose two reads differ on a charter variable.

    ``readers`` and ``read_ids`` (by slot) are given to admins only; an adjudicator gets them as
    None, and causes without their text (the packet has the texts with A/B labels).
    """

    subject: str
    criteria: str
    variables: tuple[str, ...]
    status: str
    causes: tuple[Mapping[str, Any], ...]
    created_at: dt.datetime
    resolved_at: dt.datetime | None = None
    readers: Mapping[str, str] | None = None
    read_ids: Mapping[str, Sequence[int]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"subject", "criteria", "variables", "status", "causes", "created_at",
        "resolved_at"}`` (+ ``readers`` and ``read_ids`` for admins)."""
        out: dict[str, Any] = {
            "subject": self.subject,
            "criteria": self.criteria,
            "variables": list(self.variables),
            "status": self.status,
            "causes": [dict(c) for c in self.causes],
            "created_at": self.created_at.isoformat(),
            "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
        }
        if self.readers is not None:
            out["readers"] = dict(self.readers)
        if self.read_ids is not None:
            out["read_ids"] = {k: list(v) for k, v in self.read_ids.items()}
        return out


@dataclass(frozen=True, slots=True)
class AdjudicationInfo:
    """A signed adjudication as the adjudicator sees it (letter, never slot or reader)."""

    subject: str
    criteria: str
    endorsed: str
    reason: str
    note: str
    signed_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "subject": self.subject,
            "criteria": self.criteria,
            "endorsed": self.endorsed,
            "reason": self.reason,
            "note": self.note,
            "signed_at": self.signed_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class AcceptedRead:
    """The accepted read of a subject under one criteria (admin view)."""

    subject: str
    criteria: str
    reader_slot: int
    basis: str
    reads: tuple[TimepointRead, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"subject", "criteria", "reader_slot", "basis", "read_ids"}``."""
        return {
            "subject": self.subject,
            "criteria": self.criteria,
            "reader_slot": self.reader_slot,
            "basis": self.basis,
            "read_ids": [r.read_id for r in self.reads],
        }


# ----------------------------------------------------------------------------- pure helpers


def derive_balanced_assignment(
    subjects: Sequence[str],
    readers: Sequence[str],
    existing: Mapping[str, Mapping[int, str]] | None = None,
) -> list[tuple[str, str, int]]:
    """Give every subject two different readers (slots 1 and 2), balancing reader load.

    Deterministic: subjects are taken in the given order; slot 1 goes to the reader with the
    fewest slot-1 assignments (then fewest in all, then name), slot 2 to the reader with the
    fewest assignments in all (then fewest slot-2, then name) other than slot 1's. Existing
    assignments are kept and counted. From an empty start, reader totals and slot-1 counts
    differ by at most one (tested for pools of 2 to 7 readers).

    Parameters
    ----------
    subjects : sequence of str
        Trial codes to complete to two readers each.
    readers : sequence of str
        The reader pool (at least two distinct names).
    existing : mapping, optional
        ``subject -> {slot: reader}`` already assigned (any subject, counted in the loads).

    Returns
    -------
    list of (subject, reader, slot)
        The new assignments only.

    Raises
    ------
    ModelError
        Fewer than two readers.
    """
    pool = sorted(dict.fromkeys(readers))
    if len(pool) < 2:
        raise ModelError(
            f"assign: dual reading needs at least two readers, the pool has {len(pool)} "
            f"({', '.join(pool) or 'none'}); add readers with 'readerstation user add NAME "
            "--role reader'."
        )
    existing = existing or {}
    total = dict.fromkeys(pool, 0)
    by_slot: dict[int, dict[str, int]] = {1: dict.fromkeys(pool, 0), 2: dict.fromkeys(pool, 0)}
    for slots in existing.values():
        for slot, reader in slots.items():
            if reader in total:
                total[reader] += 1
                if slot in by_slot:
                    by_slot[slot][reader] += 1
    out: list[tuple[str, str, int]] = []
    for subject in subjects:
        taken = dict(existing.get(subject, {}))
        for slot in (1, 2):
            if slot in taken:
                continue
            used = set(taken.values())
            free = [r for r in pool if r not in used]
            if not free:
                raise ModelError(
                    f"assign: subject {subject!r} has no free reader for slot {slot} (pool "
                    f"{', '.join(pool)}); add readers."
                )
            if slot == 1:
                reader = min(free, key=lambda r: (by_slot[1][r], total[r], r))
            else:
                reader = min(free, key=lambda r: (total[r], by_slot[2][r], r))
            taken[slot] = reader
            total[reader] += 1
            by_slot[slot][reader] += 1
            out.append((subject, reader, slot))
    return out


def _selection(read: TimepointRead) -> list[tuple[str, str]]:
    """The baseline lesion selection: (tracking id, role) of targets and non-targets."""
    return sorted(
        (a.lesion.tracking_id, a.lesion.role.value)
        for a in read.lesions
        if a.lesion.role in (LesionRole.TARGET, LesionRole.NON_TARGET)
    )


def _without_dates(read: TimepointRead) -> TimepointRead:
    return replace(
        read,
        subject=replace(read.subject, treatment_start=None),
        timepoint=replace(read.timepoint, scan_date=None),
    )


def _letters(a_slot: int) -> dict[int, str]:
    """slot -> letter, given which slot is "A"."""
    return {a_slot: "A", 3 - a_slot: "B"}


# ----------------------------------------------------------------------------- the mixin


class DualReadingMixin:
    """Dual-reading methods of :class:`~readerstation.store.repository.Repository`."""

    if TYPE_CHECKING:  # provided by Repository
        _store: Store
        _user_id: int
        _kdf: KdfParams
        user: UserInfo

        def _tx(self) -> AbstractContextManager[Session]: ...
        def _run(self, fn: Callable[[Session], _T]) -> _T: ...
        def _run_read(self, fn: Callable[[Session], _T]) -> _T: ...
        def _refuse(
            self, action: str, entity_type: str, entity_id: object, message: str
        ) -> NoReturn: ...
        def _require(
            self,
            action: str,
            *roles: UserRole,
            entity_type: str = "store",
            entity_id: object = None,
        ) -> None: ...
        def _audit(
            self, s: Session, action: str, entity_type: str, entity_id: object, **kw: Any
        ) -> None: ...
        def _subject_row(self, s: Session, code: str) -> SubjectRow: ...
        def export_reads(self, subject_code: str | None = None) -> list[TimepointRead]: ...

    # -- charter ----------------------------------------------------------------------------

    def _charter(self, s: Session) -> Charter:
        from readerstation.reading.charter import Charter

        row = s.get(CharterRow, 1)
        return Charter() if row is None else Charter.from_dict(json.loads(row.content))

    def _hide_dates(self, s: Session) -> bool:
        return self.user.role is UserRole.READER and self._charter(s).hide_visit_dates

    def _blind(self, s: Session, read: TimepointRead) -> TimepointRead:
        """``read`` as this user may see it (no dates for a reader when the charter hides them)."""
        return _without_dates(read) if self._hide_dates(s) else read

    def _require_own_subject(self, s: Session, subject_code: str | None, action: str) -> None:
        """A reader who names a subject must be assigned to it: otherwise AccessDenied (audited),
        with the same answer whether the subject exists or not (issue 5: asking for another
        reader's data is refused, not answered with an empty list)."""
        if subject_code is None or self.user.role is not UserRole.READER:
            return
        found = s.execute(
            select(Assignment.id)
            .join(SubjectRow, SubjectRow.id == Assignment.subject_id)
            .where(SubjectRow.code == subject_code, Assignment.reader_id == self._user_id)
            .limit(1)
        ).first()
        if found is None:
            self._refuse(
                action,
                "subject",
                subject_code,
                f"{action}: subject {subject_code!r} is not in your worklist; you can see only "
                "the subjects assigned to you (ask an admin to assign it).",
            )

    def get_charter(self) -> Charter:
        """The trial's charter (the default :class:`Charter` until an admin sets one; any role)."""
        return self._run(self._charter)

    def set_charter(self, charter: Charter) -> Charter:
        """Set the charter (admin only, and only while the store holds no read).

        Raises
        ------
        AccessDenied
            Not an admin (audited).
        StoreError
            Reads exist already: the charter decides how they are compared, so it is fixed once
            reading started.
        """
        from readerstation.reading.charter import Charter

        if not isinstance(charter, Charter):
            raise ModelError(f"set_charter: expected a Charter, received {charter!r}.")

        def run(s: Session) -> Charter:
            self._require("charter.set", UserRole.ADMIN, entity_type="charter", entity_id=1)
            n = s.execute(select(func.count()).select_from(ReadRow)).scalar_one()
            if n:
                raise StoreError(
                    f"charter set: the store already holds {n} read(s); the charter is fixed once "
                    "reading started (set it before the first read or import)."
                )
            row = s.get(CharterRow, 1)
            content = json.dumps(charter.to_dict(), sort_keys=True)
            before = None if row is None else row.content
            if row is None:
                s.add(CharterRow(id=1, content=content, updated_at=utc_now()))
            else:
                row.content = content
                row.updated_at = utc_now()
            self._audit(s, "charter.set", "charter", 1, before=before, after=content)
            return charter

        return self._run(run)

    # -- assignments ------------------------------------------------------------------------

    def list_assignments(self) -> list[AssignmentInfo]:
        """Every assignment, by subject then slot (admin only)."""

        def run(s: Session) -> list[AssignmentInfo]:
            self._require("assign.list", UserRole.ADMIN, entity_type="assignment")
            q = (
                select(SubjectRow.code, User.name, Assignment.slot)
                .join(SubjectRow, SubjectRow.id == Assignment.subject_id)
                .join(User, User.id == Assignment.reader_id)
                .order_by(SubjectRow.code, Assignment.slot)
            )
            return [AssignmentInfo(c, n, slot) for c, n, slot in s.execute(q)]

        return self._run(run)

    def list_own_assignments(self) -> list[AssignmentInfo]:
        """This reader's own assignments (their slot on each subject), by subject (reader only).

        What a reader exporting their own reads needs for their trial role (``Reader 1`` /
        ``Reader 2``); the other reader of a subject is never named (the SQL selects only the
        reader's own rows).
        """

        def run(s: Session) -> list[AssignmentInfo]:
            self._require("assign.list_own", UserRole.READER, entity_type="assignment")
            q = (
                select(SubjectRow.code, Assignment.slot)
                .join(SubjectRow, SubjectRow.id == Assignment.subject_id)
                .where(Assignment.reader_id == self._user_id)
                .order_by(SubjectRow.code)
            )
            return [AssignmentInfo(c, self.user.name, slot) for c, slot in s.execute(q)]

        return self._run(run)

    def assign_balanced(
        self, subjects: Iterable[str] | None = None, readers: Iterable[str] | None = None
    ) -> list[AssignmentInfo]:
        """Give every subject two readers from the pool, balanced (admin only; audited).

        Parameters
        ----------
        subjects : iterable of str, optional
            Trial codes (default: every subject with fewer than two readers), by code.
        readers : iterable of str, optional
            The pool (default: every active reader).

        Returns
        -------
        list of AssignmentInfo
            The new assignments (see :func:`derive_balanced_assignment`).
        """

        def run(s: Session) -> list[AssignmentInfo]:
            self._require("assign", UserRole.ADMIN, entity_type="assignment")
            users = {
                u.name: u
                for u in s.execute(
                    select(User).where(User.role == UserRole.READER.value, User.active.is_(True))
                ).scalars()
            }
            pool = sorted(users) if readers is None else list(dict.fromkeys(readers))
            unknown = [r for r in pool if r not in users]
            if unknown:
                raise StoreError(
                    f"assign: {', '.join(unknown)} is not an active reader of this store; add "
                    "the user with role reader."
                )
            existing: dict[str, dict[int, str]] = {}
            for code, name, slot in s.execute(
                select(SubjectRow.code, User.name, Assignment.slot)
                .join(SubjectRow, SubjectRow.id == Assignment.subject_id)
                .join(User, User.id == Assignment.reader_id)
            ):
                existing.setdefault(code, {})[slot] = name
            codes = {c: i for c, i in s.execute(select(SubjectRow.code, SubjectRow.id))}
            if subjects is None:
                todo = sorted(c for c in codes if len(existing.get(c, {})) < 2)
            else:
                todo = list(dict.fromkeys(subjects))
                missing = [c for c in todo if c not in codes]
                if missing:
                    raise StoreError(
                        f"assign: subject(s) {', '.join(missing)} do not exist; add them first."
                    )
            new = derive_balanced_assignment(todo, pool, existing)
            for code, name, slot in new:
                s.add(Assignment(subject_id=codes[code], reader_id=users[name].id, slot=slot))
                self._audit(s, "assign", "subject", code, after={"reader": name, "slot": slot})
            return [AssignmentInfo(c, n, slot) for c, n, slot in new]

        return self._run(run)

    # -- worklist and gating ----------------------------------------------------------------

    def worklist(self, subject_code: str | None = None) -> list[WorkItem]:
        """The reader's own timepoints with their status (reader only; audited).

        Items are ordered by subject, then scan date. A timepoint is ``locked`` until the
        reader's previous timepoint of the subject is signed.
        """

        def run(s: Session) -> list[WorkItem]:
            self._require(
                "worklist.list", UserRole.READER, entity_type="subject", entity_id=subject_code
            )
            self._require_own_subject(s, subject_code, "worklist.list")
            hide = self._hide_dates(s)
            q = (
                select(SubjectRow.code, TimepointRow)
                .join(Assignment, Assignment.subject_id == SubjectRow.id)
                .join(TimepointRow, TimepointRow.subject_id == SubjectRow.id)
                .where(Assignment.reader_id == self._user_id)
            )
            if subject_code is not None:
                q = q.where(SubjectRow.code == subject_code)
            by_subject: dict[str, list[TimepointRow]] = {}
            for code, tp in s.execute(q):
                by_subject.setdefault(code, []).append(tp)
            rows = s.execute(
                select(ReadRow)
                .where(ReadRow.reader_id == self._user_id)
                .order_by(ReadRow.read_version)
            ).scalars()
            latest: dict[int, ReadRow] = {}
            signed: set[int] = set()
            for r in rows:
                latest[r.timepoint_id] = r
                if r.status == ReadStatus.SIGNED.value:
                    signed.add(r.timepoint_id)
            out: list[WorkItem] = []
            for code in sorted(by_subject):
                prev_signed = True
                for k, tp in enumerate(sorted(by_subject[code], key=timepoint_order)):
                    row = latest.get(tp.id)
                    if row is None:
                        status = "todo" if prev_signed else "locked"
                    else:
                        status = row.status
                    out.append(
                        WorkItem(
                            code,
                            tp.label,
                            f"TP{k}",
                            None if hide else tp.scan_date,
                            tp.series_uid,
                            status,
                            None if row is None else row.id,
                        )
                    )
                    prev_signed = tp.id in signed
            self._audit(
                s, "worklist.list", "subject", subject_code, detail=f"{len(out)} timepoints"
            )
            return out

        return self._run(run)

    def _subject_timepoints(self, s: Session, subject_id: int) -> list[TimepointRow]:
        """A subject's timepoints in reading order (:func:`timepoint_order`)."""
        return sorted(
            s.execute(select(TimepointRow).where(TimepointRow.subject_id == subject_id)).scalars(),
            key=timepoint_order,
        )

    def _check_draft_allowed(
        self, s: Session, subj: SubjectRow, tp: TimepointRow, read: TimepointRead
    ) -> None:
        """Timepoint gating (a timepoint opens once the reader's previous one is signed) and the
        baseline-selection rule."""
        from readerstation.store.repository import _Refused

        where = f"{subj.code}/{tp.label}"
        tps = self._subject_timepoints(s, subj.id)
        k = [t.id for t in tps].index(tp.id)
        if k > 0 and latest_signed_row(s, tps[k - 1].id, self._user_id) is None:
            raise _Refused(
                ReadLockedError(
                    f"save_draft {where}: this timepoint is locked until your read of the "
                    f"previous timepoint {subj.code}/{tps[k - 1].label} is signed; sign it first."
                ),
                "read.save_draft",
                "read",
                where,
            )
        if k == 0 and len(tps) > 1:
            follow_ids = [t.id for t in tps[1:]]
            signed_follow = s.execute(
                select(ReadRow.id)
                .where(
                    ReadRow.timepoint_id.in_(follow_ids),
                    ReadRow.reader_id == self._user_id,
                    ReadRow.status == ReadStatus.SIGNED.value,
                )
                .limit(1)
            ).first()
            if signed_follow is None:
                return
            base = latest_signed_row(s, tp.id, self._user_id)
            if base is None:
                return
            old = TimepointRead.from_dict(json.loads(base.content))
            if _selection(old) != _selection(read):
                raise _Refused(
                    ReadLockedError(
                        f"save_draft {where}: a follow-up of {subj.code} is signed, so the "
                        "baseline lesion selection (targets and non-targets) can no longer "
                        "change; amend only measurements and calls, or ask an admin."
                    ),
                    "read.save_draft",
                    "read",
                    where,
                )

    # -- reads JSON -------------------------------------------------------------------------

    def export_reads_json(self, subject_code: str | None = None) -> dict[str, Any]:
        """:meth:`export_reads` in the reads JSON format (reader: own, without dates when the
        charter hides them; admin: all)."""
        from readerstation.model.reads_json import reads_to_json

        reads = self.export_reads(subject_code)
        hide = self.user.role is UserRole.READER and self.get_charter().hide_visit_dates
        return reads_to_json(reads, include_dates=not hide)

    def import_reads(self, data: Any) -> ImportReport:
        """Import signed reads from the reads JSON format (admin only; one transaction).

        Subjects, timepoints and assignments missing from the store are created (a reader's
        slot: the next free one, in file order); the readers must exist with role reader. A
        read identical to the reader's latest signed version is left alone; a different one
        becomes the next signed version (superseding it). Every imported read must pass the
        signing checks of :data:`~readerstation.store.repository.SIGNING_CRITERIA` (a follow-up
        against the same reader's baseline read), as a signature would. Every created row is
        audited, then every completed subject is evaluated (see the module docstring).

        Raises
        ------
        AccessDenied
            Not an admin (audited).
        ModelError
            The JSON is malformed (the message names the location).
        CriteriaError
            A read fails the signing checks (the message lists the first five).
        StoreError
            Unknown reader, a subject with two other readers, a treatment start or scan date
            that contradicts the store, a draft in the way, or a draft in the file.
        """
        from readerstation.model.reads_json import reads_from_json
        from readerstation.store.repository import _content, _sha256, _with_stored_context

        reads = reads_from_json(data)
        for r in reads:
            if not r.is_signed:
                raise StoreError(
                    f"reads import: {r.subject.code}/{r.timepoint.label} by {r.reader} is a "
                    "draft; the import takes signed reads only."
                )
        # one treatment start per subject, from whichever of its reads carries it (the others
        # may leave it out); two different ones are refused, never silently dropped
        starts: dict[str, set[dt.date]] = {}
        for r in reads:
            if r.subject.treatment_start is not None:
                starts.setdefault(r.subject.code, set()).add(r.subject.treatment_start)
        for code, found in starts.items():
            if len(found) > 1:
                raise ModelError(
                    f"reads import: subject {code} has {len(found)} different treatment starts "
                    f"in the file ({', '.join(sorted(d.isoformat() for d in found))}); give the "
                    "same one in every read of the subject, or leave it out."
                )

        def run(s: Session) -> ImportReport:
            self._require("read.import", UserRole.ADMIN, entity_type="read")
            users = {u.name: u for u in s.execute(select(User)).scalars()}
            subjects: dict[str, SubjectRow] = {}
            tps: dict[tuple[int, str], TimepointRow] = {}
            slots: dict[int, dict[int, int]] = {}
            latest_rows: dict[tuple[int, int], ReadRow] = {}
            imported: list[tuple[TimepointRead, SubjectRow, int]] = []
            n_reads = n_same = 0
            for r in reads:
                code = r.subject.code
                where = f"{code}/{r.timepoint.label} by {r.reader}"
                user = users.get(r.reader)
                if user is None or user.role != UserRole.READER.value:
                    raise StoreError(
                        f"reads import: {where}: {r.reader!r} is not a reader of this store; add "
                        f"it first (readerstation user add {r.reader} --role reader)."
                    )
                subj = subjects.get(code)
                if subj is None:
                    start = min(starts[code]) if code in starts else None
                    subj = self._import_subject(s, Subject(code, start))
                    subjects[code] = subj
                    # what the store holds of this subject, loaded once
                    for t in s.execute(
                        select(TimepointRow).where(TimepointRow.subject_id == subj.id)
                    ).scalars():
                        tps[(subj.id, t.label)] = t
                    slots[subj.id] = {
                        a.reader_id: a.slot
                        for a in s.execute(
                            select(Assignment).where(Assignment.subject_id == subj.id)
                        ).scalars()
                    }
                    for old_row in s.execute(
                        select(ReadRow)
                        .where(ReadRow.subject_id == subj.id)
                        .order_by(ReadRow.read_version)
                    ).scalars():
                        latest_rows[(old_row.timepoint_id, old_row.reader_id)] = old_row
                tp = self._import_timepoint(
                    s, subj, r.timepoint, tps.get((subj.id, r.timepoint.label))
                )
                tps[(subj.id, tp.label)] = tp
                self._import_assignment(s, subj, user, slots[subj.id])
                stored = _with_stored_context(r, subj, tp)
                latest = latest_rows.get((tp.id, user.id))
                version = 1 if latest is None else latest.read_version + 1
                signed_at = r.signed_at or utc_now()
                if latest is not None:
                    if latest.status != ReadStatus.SIGNED.value:
                        raise StoreError(
                            f"reads import: {where}: the reader has a draft (read {latest.id}) of "
                            "this timepoint; sign or finish it before importing over it."
                        )
                    old = TimepointRead.from_dict(json.loads(latest.content))
                    if (old.lesions, old.new_lesion_call, old.timepoint.series_uid) == (
                        stored.lesions,
                        stored.new_lesion_call,
                        stored.timepoint.series_uid,
                    ):
                        n_same += 1
                        continue
                final = TimepointRead(
                    stored.subject,
                    stored.timepoint,
                    stored.reader,
                    stored.lesions,
                    stored.new_lesion_call,
                    ReadStatus.SIGNED,
                    version,
                    signed_at,
                )
                content = _content(final)
                row = ReadRow(
                    subject_id=subj.id,
                    timepoint_id=tp.id,
                    reader_id=user.id,
                    read_version=version,
                    supersedes_id=None if latest is None else latest.id,
                    status=ReadStatus.SIGNED.value,
                    content=content,
                    content_sha256=_sha256(content),
                    created_at=signed_at,
                    updated_at=signed_at,
                    signed_at=signed_at,
                )
                s.add(row)
                s.flush()
                latest_rows[(tp.id, user.id)] = row
                self._audit(s, "read.import", "read", row.id, after=content)
                n_reads += 1
                imported.append((final, subj, user.id))
            self._check_imported(imported, tps, latest_rows)
            counts = [0, 0, 0]
            for subj in subjects.values():
                for k, v in enumerate(self._evaluate_subject(s, subj.id)):
                    counts[k] += v
            return ImportReport(len(subjects), n_reads, n_same, *counts)

        return self._run(run)

    @staticmethod
    def _check_imported(
        imported: Sequence[tuple[TimepointRead, SubjectRow, int]],
        tps: Mapping[tuple[int, str], TimepointRow],
        latest_rows: Mapping[tuple[int, int], ReadRow],
    ) -> None:
        """The signing checks (RECIST 1.1 and mRECIST lesion sets) of every imported read, each
        follow-up against the same reader's baseline read; CriteriaError lists what fails."""
        from readerstation.criteria.checks import FindingCode, check_timepoint_read
        from readerstation.errors import CriteriaError
        from readerstation.store.repository import SIGNING_CRITERIA

        firsts: dict[int, TimepointRow] = {}
        for (sid, _), tp in tps.items():
            if sid not in firsts or timepoint_order(tp) < timepoint_order(firsts[sid]):
                firsts[sid] = tp
        baselines: dict[tuple[int, int], TimepointRead | None] = {}
        reasons: list[str] = []
        for read, subj, reader_id in imported:
            where = f"{subj.code}/{read.timepoint.label} by {read.reader}"
            first = firsts[subj.id]
            baseline = None
            if first.label != read.timepoint.label:
                key = (subj.id, reader_id)
                if key not in baselines:
                    row = latest_rows.get((first.id, reader_id))
                    baselines[key] = (
                        None if row is None else TimepointRead.from_dict(json.loads(row.content))
                    )
                baseline = baselines[key]
                if baseline is None:
                    reasons.append(f"{where}: no baseline read ({first.label}) by this reader")
                    continue
            # typical_hcc not recorded (None): the minimal format has no such key, and
            # a system that measured a viable diameter judged the target enhancing; an explicit
            # false still blocks, and the viable-diameter checks still apply
            unrecorded = {a.lesion.label for a in read.lesions if a.lesion.typical_hcc is None}
            for crit in SIGNING_CRITERIA:
                for f in check_timepoint_read(read, criteria=crit, baseline=baseline):
                    if f.code is FindingCode.TARGET_NOT_TYPICAL_HCC and f.lesion in unrecorded:
                        continue
                    if f.blocking:
                        said = f.lesion and not f.message.startswith(f"{f.lesion}:")
                        lesion = f"{f.lesion} " if said else ""
                        reasons.append(f"{where}: {crit.name}: {lesion}{f.message}")
        if reasons:
            more = f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else ""
            raise CriteriaError(
                "reads import: signed reads must pass the signing checks; nothing was imported: "
                + "; ".join(reasons[:5])
                + more
            )

    def _import_subject(self, s: Session, subject: Subject) -> SubjectRow:
        row = s.execute(
            select(SubjectRow).where(SubjectRow.code == subject.code)
        ).scalar_one_or_none()
        if row is None:
            row = SubjectRow(code=subject.code, treatment_start=subject.treatment_start)
            s.add(row)
            s.flush()
            start = subject.treatment_start
            self._audit(
                s,
                "subject.add",
                "subject",
                subject.code,
                after={"code": subject.code, "treatment_start": start and start.isoformat()},
            )
        elif subject.treatment_start is not None and row.treatment_start != subject.treatment_start:
            raise StoreError(
                f"reads import: subject {subject.code} has treatment start "
                f"{row.treatment_start} in the store, the file says {subject.treatment_start}; "
                "fix the file or the subject."
            )
        return row

    def _import_timepoint(
        self, s: Session, subj: SubjectRow, tp: Timepoint, row: TimepointRow | None
    ) -> TimepointRow:
        if row is None:
            row = TimepointRow(
                subject_id=subj.id,
                label=tp.label,
                scan_date=tp.scan_date,
                study_uid=tp.study_uid,
                series_uid=tp.series_uid,
                phase=tp.phase.value,
            )
            s.add(row)
            s.flush()
            self._audit(
                s,
                "timepoint.add",
                "timepoint",
                f"{subj.code}/{tp.label}",
                after={
                    "subject": subj.code,
                    "label": tp.label,
                    "scan_date": tp.scan_date and tp.scan_date.isoformat(),
                    "study_uid": tp.study_uid,
                    "series_uid": tp.series_uid,
                    "phase": tp.phase.value,
                },
            )
        elif tp.scan_date is not None and row.scan_date != tp.scan_date:
            raise StoreError(
                f"reads import: {subj.code}/{tp.label} was scanned on {row.scan_date} in the "
                f"store, the file says {tp.scan_date}; fix the file or the timepoint."
            )
        return row

    def _import_assignment(
        self, s: Session, subj: SubjectRow, user: User, taken: dict[int, int]
    ) -> None:
        if user.id in taken:
            return
        slot = next(k for k in range(1, 4) if k not in taken.values())
        if slot > 2:
            raise StoreError(
                f"reads import: subject {subj.code} already has two readers; {user.name!r} "
                "cannot be a third (check the file's reader names)."
            )
        s.add(Assignment(subject_id=subj.id, reader_id=user.id, slot=slot))
        taken[user.id] = slot
        self._audit(s, "assign", "subject", subj.code, after={"reader": user.name, "slot": slot})

    # -- evaluation -------------------------------------------------------------------------

    def _complete_reads(
        self, s: Session, subject_id: int
    ) -> tuple[dict[int, tuple[int, str]], dict[int, list[ReadRow]]] | None:
        """slot -> (reader id, name) and slot -> latest signed rows by timepoint order, or None
        when the subject is not complete (two slots, every timepoint signed by both)."""
        slots = {
            a.slot: (a.reader_id, name)
            for a, name in s.execute(
                select(Assignment, User.name)
                .join(User, User.id == Assignment.reader_id)
                .where(Assignment.subject_id == subject_id, Assignment.slot.in_((1, 2)))
            )
        }
        if set(slots) != {1, 2}:
            return None
        tps = sorted(
            s.execute(select(TimepointRow).where(TimepointRow.subject_id == subject_id)).scalars(),
            key=timepoint_order,
        )
        if not tps:
            return None
        latest: dict[tuple[int, int], ReadRow] = {}
        for r in s.execute(
            select(ReadRow)
            .where(
                ReadRow.subject_id == subject_id,
                ReadRow.status == ReadStatus.SIGNED.value,
                ReadRow.reader_id.in_([slots[1][0], slots[2][0]]),
            )
            .order_by(ReadRow.read_version)
        ).scalars():
            latest[(r.reader_id, r.timepoint_id)] = r
        out: dict[int, list[ReadRow]] = {}
        for slot, (reader_id, _) in slots.items():
            rows = [latest.get((reader_id, tp.id)) for tp in tps]
            if any(r is None for r in rows):
                return None
            out[slot] = [r for r in rows if r is not None]
        return slots, out

    def _case_order(self, s: Session, subject_id: int) -> int:
        """The slot shown as "Read A" for a subject (drawn once with :mod:`secrets`, stored)."""
        row = s.execute(
            select(CaseOrderRow).where(CaseOrderRow.subject_id == subject_id)
        ).scalar_one_or_none()
        if row is not None:
            return row.a_slot
        a_slot = 1 + secrets.randbelow(2)
        s.add(CaseOrderRow(subject_id=subject_id, a_slot=a_slot))
        s.flush()
        code = s.execute(select(SubjectRow.code).where(SubjectRow.id == subject_id)).scalar_one()
        self._audit(s, "case_order.draw", "subject", code, after={"a_slot": a_slot})
        return a_slot

    def _evaluate_subject(
        self, s: Session, subject_id: int, *, strict: bool = True
    ) -> tuple[int, int, int]:
        """Compare a complete subject's reads (see the module docstring).

        With ``strict`` False (a reader's signature), a comparison the engine refuses is
        recorded in the audit trail (``discrepancy.evaluate_failed``, for an admin to look at)
        instead of failing the signature, whose message could otherwise show the other reader's
        data.

        Returns (evaluations made, discrepancies opened, charter acceptances recorded).
        """
        from readerstation.reading.discrepancy import compare_reads

        found = self._complete_reads(s, subject_id)
        if found is None:
            return (0, 0, 0)
        _, rows = found
        key = {str(slot): [r.id for r in rows[slot]] for slot in (1, 2)}
        key_json = json.dumps(key, sort_keys=True)
        charter = self._charter(s)
        code = s.execute(select(SubjectRow.code).where(SubjectRow.id == subject_id)).scalar_one()
        reads: dict[int, list[TimepointRead]] | None = None
        n = n_disc = n_acc = 0
        for criteria in charter.criteria:
            current = s.execute(
                select(DiscrepancyRow)
                .where(
                    DiscrepancyRow.subject_id == subject_id,
                    DiscrepancyRow.criteria == criteria,
                    DiscrepancyRow.status != "superseded",
                )
                .order_by(DiscrepancyRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            accepted = s.execute(
                select(AcceptanceRow).where(
                    AcceptanceRow.subject_id == subject_id, AcceptanceRow.criteria == criteria
                )
            ).scalar_one_or_none()
            if current is not None and current.read_ids == key_json:
                continue
            if current is None and accepted is not None and accepted.read_ids == key_json:
                continue
            if reads is None:
                self._case_order(s, subject_id)
                reads = {
                    slot: [
                        TimepointRead.from_dict(json.loads(r.content), read_id=r.id)
                        for r in rows[slot]
                    ]
                    for slot in (1, 2)
                }
            entity = f"{code}/{criteria}"
            try:
                comparison = compare_reads(reads[1], reads[2], criteria, charter)
            except ReaderstationError as exc:
                if strict:
                    raise
                self._audit(
                    s, "discrepancy.evaluate_failed", "discrepancy", entity, detail=str(exc)
                )
                continue
            n += 1
            if current is not None:
                current.status = "superseded"
                s.flush()
                self._audit(
                    s,
                    "discrepancy.supersede",
                    "discrepancy",
                    entity,
                    before={"id": current.id, "read_ids": json.loads(current.read_ids)},
                    after={"read_ids": key},
                )
            if comparison.needs_adjudication:
                d = comparison.to_dict()
                row = DiscrepancyRow(
                    subject_id=subject_id,
                    criteria=criteria,
                    variables=json.dumps(d["variables"]),
                    causes=json.dumps(d["causes"]),
                    status="open",
                    read_ids=key_json,
                    created_at=utc_now(),
                )
                s.add(row)
                s.flush()
                self._audit(
                    s,
                    "discrepancy.open",
                    "discrepancy",
                    entity,
                    after={"id": row.id, "variables": d["variables"], "read_ids": key},
                )
                n_disc += 1
                if accepted is not None:
                    before = {"slot": accepted.accepted_slot, "basis": accepted.basis}
                    s.delete(accepted)
                    s.flush()
                    self._audit(s, "acceptance.withdraw", "acceptance", entity, before=before)
            else:
                self._accept(
                    s,
                    subject_id,
                    entity,
                    criteria,
                    charter.default_accepted_slot,
                    "charter",
                    None,
                    key_json,
                    accepted,
                )
                n_acc += 1
        return (n, n_disc, n_acc)

    def _accept(
        self,
        s: Session,
        subject_id: int,
        entity: str,
        criteria: str,
        slot: int,
        basis: str,
        adjudication_id: int | None,
        read_ids: str,
        row: AcceptanceRow | None,
    ) -> None:
        now = utc_now()
        after = {"slot": slot, "basis": basis, "read_ids": json.loads(read_ids)}
        if row is None:
            s.add(
                AcceptanceRow(
                    subject_id=subject_id,
                    criteria=criteria,
                    accepted_slot=slot,
                    basis=basis,
                    adjudication_id=adjudication_id,
                    read_ids=read_ids,
                    updated_at=now,
                )
            )
            before = None
        else:
            before = {"slot": row.accepted_slot, "basis": row.basis}
            row.accepted_slot = slot
            row.basis = basis
            row.adjudication_id = adjudication_id
            row.read_ids = read_ids
            row.updated_at = now
        s.flush()
        self._audit(s, "acceptance.record", "acceptance", entity, before=before, after=after)

    # -- discrepancies, packets, adjudication -----------------------------------------------

    def list_discrepancies(self, status: str | None = None) -> list[DiscrepancyInfo]:
        """Subjects and criteria needing (or having had) adjudication (admin, adjudicator).

        Parameters
        ----------
        status : str, optional
            ``open`` or ``resolved`` (default: both); an admin may also ask for ``superseded``.
        """
        allowed = {"open", "resolved"} | (
            {"superseded"} if self.user.role is UserRole.ADMIN else set()
        )
        if status is not None and status not in allowed:
            raise ModelError(
                f"discrepancies: status: expected {' or '.join(sorted(allowed))}, received "
                f"{status!r}."
            )

        def run(s: Session) -> list[DiscrepancyInfo]:
            self._require(
                "discrepancy.list", UserRole.ADMIN, UserRole.ADJUDICATOR, entity_type="discrepancy"
            )
            admin = self.user.role is UserRole.ADMIN
            q = (
                select(DiscrepancyRow, SubjectRow.code)
                .join(SubjectRow, SubjectRow.id == DiscrepancyRow.subject_id)
                .order_by(SubjectRow.code, DiscrepancyRow.criteria, DiscrepancyRow.id)
            )
            q = q.where(
                DiscrepancyRow.status == status
                if status is not None
                else DiscrepancyRow.status != "superseded"
            )
            names: dict[int, dict[str, str]] = {}
            if admin:
                for sid, slot, name in s.execute(
                    select(Assignment.subject_id, Assignment.slot, User.name).join(
                        User, User.id == Assignment.reader_id
                    )
                ):
                    names.setdefault(sid, {})[str(slot)] = name
            out = []
            for row, code in s.execute(q):
                causes = json.loads(row.causes)
                if not admin:
                    causes = [{"kind": c["kind"], "timepoint": c["timepoint"]} for c in causes]
                out.append(
                    DiscrepancyInfo(
                        code,
                        row.criteria,
                        tuple(json.loads(row.variables)),
                        row.status,
                        tuple(causes),
                        row.created_at,
                        row.resolved_at,
                        names.get(row.subject_id, {}) if admin else None,
                        json.loads(row.read_ids) if admin else None,
                    )
                )
            return out

        return self._run_read(run)

    def _load_read_map(self, s: Session, ids: Iterable[int]) -> dict[int, TimepointRead]:
        """The stored reads ``ids`` by id, in one query per 1000 ids (not one per subject)."""
        wanted = sorted(set(ids))
        out: dict[int, TimepointRead] = {}
        for k in range(0, len(wanted), 1000):
            chunk = wanted[k : k + 1000]
            for r in s.execute(select(ReadRow).where(ReadRow.id.in_(chunk))).scalars():
                out[r.id] = TimepointRead.from_dict(json.loads(r.content), read_id=r.id)
        return out

    def adjudication_packet(self, subject_code: str) -> dict[str, Any]:
        """The blinded packet of a subject with a discrepancy (adjudicator only; audited).

        Returns
        -------
        dict
            ``{"subject", "charter_variables", "reads": {"A": {"treatment_start",
            "timepoints"}, "B": ...}, "criteria": {name: {"needs_adjudication", "variables",
            "causes", "results": {"A", "B"}, "status", "adjudication"}}}``. Timepoints carry
            lesions with their lines (LPS points, SOP instance UID). No reader name, user id or
            read id appears anywhere.
        """
        from readerstation.model.reads_json import reads_to_json
        from readerstation.reading.discrepancy import compare_reads

        def run(s: Session) -> dict[str, Any]:
            self._require(
                "adjudication.packet",
                UserRole.ADJUDICATOR,
                entity_type="subject",
                entity_id=subject_code,
            )
            subj = self._subject_row(s, subject_code)
            charter = self._charter(s)
            current = {
                d.criteria: d
                for d in s.execute(
                    select(DiscrepancyRow)
                    .where(
                        DiscrepancyRow.subject_id == subj.id,
                        DiscrepancyRow.status != "superseded",
                    )
                    .order_by(DiscrepancyRow.id)
                ).scalars()
            }
            if not current:
                raise StoreError(
                    f"adjudication packet: subject {subject_code} has no discrepancy; both reads "
                    "agree on the charter variables (or are not both signed yet)."
                )
            any_row = next(iter(current.values()))
            read_ids = json.loads(any_row.read_ids)
            a_slot = self._case_order(s, subj.id)
            letter = _letters(a_slot)
            reads = self._load_read_map(s, read_ids["1"] + read_ids["2"])
            by_letter = {letter[slot]: [reads[i] for i in read_ids[str(slot)]] for slot in (1, 2)}
            reads_out: dict[str, Any] = {}
            for name in ("A", "B"):
                [entry] = reads_to_json(by_letter[name])["reads"]
                for tp in entry["timepoints"]:
                    tp.pop("signed_at", None)
                    tp.pop("version", None)
                reads_out[name] = {
                    "treatment_start": entry.get("treatment_start"),
                    "timepoints": entry["timepoints"],
                }
            adjudications = {
                a.discrepancy_id: a
                for a in s.execute(
                    select(AdjudicationRow).where(AdjudicationRow.subject_id == subj.id)
                ).scalars()
            }
            crit_out: dict[str, Any] = {}
            for criteria in charter.criteria:
                comparison = compare_reads(by_letter["A"], by_letter["B"], criteria, charter)
                d = comparison.to_dict(("A", "B"))
                d.pop("subject", None)
                row = current.get(criteria)
                d["status"] = None if row is None else row.status
                adj = None if row is None else adjudications.get(row.id)
                d["adjudication"] = (
                    None
                    if adj is None
                    else {
                        "endorsed": adj.endorsed_label,
                        "reason": adj.reason,
                        "note": adj.note,
                        "signed_at": adj.signed_at.isoformat(),
                    }
                )
                crit_out[criteria] = d
            self._audit(s, "adjudication.packet", "subject", subject_code)
            return {
                "subject": subject_code,
                "charter_variables": [v.value for v in charter.variables],
                "reads": reads_out,
                "criteria": crit_out,
            }

        return self._run(run)

    def adjudicate(
        self,
        subject_code: str,
        criteria: str,
        endorse: str,
        reason: str,
        note: str = "",
        *,
        password: str,
    ) -> AdjudicationInfo:
        """Endorse read "A" or "B" of an open discrepancy and sign (adjudicator only).

        The password is asked again (as for signing a read) and verified outside any
        transaction. The adjudication is immutable; the discrepancy becomes ``resolved`` and the
        endorsed read the accepted one (basis ``adjudication``).

        Raises
        ------
        AccessDenied
            Not an adjudicator (audited).
        AuthenticationError
            Wrong password (audited).
        ModelError
            ``endorse`` not A/B, unknown reason or criteria.
        StoreError
            No open discrepancy for this subject and criteria.
        """
        from readerstation.reading.charter import AdjudicationReason
        from readerstation.store.repository import _audit_refusal, _Refused

        entity = f"{subject_code}/{criteria}"
        if endorse not in ("A", "B"):
            raise ModelError(
                f"adjudicate {entity}: endorse: expected A or B, received {endorse!r}."
            )
        try:
            reason_word = AdjudicationReason(reason).value
        except ValueError:
            raise ModelError(
                f"adjudicate {entity}: reason: expected one of "
                f"{', '.join(r.value for r in AdjudicationReason)}, received {reason!r}."
            ) from None
        if not isinstance(note, str):
            raise ModelError(f"adjudicate {entity}: note: expected text, received {note!r}.")

        def check(s: Session) -> str | None:
            self._require(
                "adjudicate", UserRole.ADJUDICATOR, entity_type="discrepancy", entity_id=entity
            )
            user = s.get(User, self._user_id)
            return None if user is None else user.password_hash

        password_hash = self._run_read(check)
        if (
            not isinstance(password, str)
            or password_hash is None
            or not self._kdf.verify(password_hash, password)
        ):
            error = AuthenticationError(
                f"adjudicate {entity}: wrong password; nothing was signed (the attempt was "
                "recorded)."
            )
            _audit_refusal(
                self._store, self.user.name, _Refused(error, "adjudicate", "discrepancy", entity)
            )
            raise error

        def run(s: Session) -> AdjudicationInfo:
            self._require(
                "adjudicate", UserRole.ADJUDICATOR, entity_type="discrepancy", entity_id=entity
            )
            subj = self._subject_row(s, subject_code)
            rows = list(
                s.execute(
                    select(DiscrepancyRow)
                    .where(
                        DiscrepancyRow.subject_id == subj.id,
                        DiscrepancyRow.criteria == criteria,
                        DiscrepancyRow.status != "superseded",
                    )
                    .order_by(DiscrepancyRow.id.desc())
                ).scalars()
            )
            if not rows or rows[0].status != "open":
                state = "is already adjudicated" if rows else "has no discrepancy"
                raise StoreError(
                    f"adjudicate {entity}: subject {subject_code} under {criteria} {state}; "
                    "see 'readerstation discrepancies --json' for the open ones."
                )
            disc = rows[0]
            a_slot = self._case_order(s, subj.id)
            slot = a_slot if endorse == "A" else 3 - a_slot
            now = utc_now()
            adj = AdjudicationRow(
                discrepancy_id=disc.id,
                subject_id=subj.id,
                criteria=criteria,
                endorsed_label=endorse,
                endorsed_slot=slot,
                reason=reason_word,
                note=note,
                adjudicator_id=self._user_id,
                signed_at=now,
            )
            s.add(adj)
            disc.status = "resolved"
            disc.resolved_at = now
            s.flush()
            self._audit(
                s,
                "adjudicate",
                "discrepancy",
                entity,
                after={
                    "adjudication": adj.id,
                    "endorsed": endorse,
                    "slot": slot,
                    "reason": reason_word,
                    "note": note,
                },
            )
            accepted = s.execute(
                select(AcceptanceRow).where(
                    AcceptanceRow.subject_id == subj.id, AcceptanceRow.criteria == criteria
                )
            ).scalar_one_or_none()
            self._accept(
                s, subj.id, entity, criteria, slot, "adjudication", adj.id, disc.read_ids, accepted
            )
            return AdjudicationInfo(subject_code, criteria, endorse, reason_word, note, now)

        return self._run(run)

    # -- accepted reads, summary, agreement -------------------------------------------------

    def accepted_reads(self, criteria: str) -> list[AcceptedRead]:
        """The accepted read of every evaluated subject under ``criteria`` (admin only).

        Subjects with an open discrepancy have no accepted read yet and are left out.
        """

        def run(s: Session) -> list[AcceptedRead]:
            self._require(
                "acceptance.list", UserRole.ADMIN, entity_type="acceptance", entity_id=criteria
            )
            return self._accepted_reads(s, criteria)

        return self._run_read(run)

    def _accepted_reads(self, s: Session, criteria: str) -> list[AcceptedRead]:
        q = (
            select(AcceptanceRow, SubjectRow.code)
            .join(SubjectRow, SubjectRow.id == AcceptanceRow.subject_id)
            .where(AcceptanceRow.criteria == criteria)
            .order_by(SubjectRow.code)
        )
        rows = [
            (code, row.accepted_slot, row.basis, json.loads(row.read_ids)[str(row.accepted_slot)])
            for row, code in s.execute(q)
        ]
        reads = self._load_read_map(s, (i for *_, ids in rows for i in ids))
        return [
            AcceptedRead(code, criteria, slot, basis, tuple(reads[i] for i in ids))
            for code, slot, basis, ids in rows
        ]

    def accepted_summary(self, criteria: str) -> TrialSummary:
        """The response engine's trial summary of the accepted reads under ``criteria`` (admin).

        Raises
        ------
        StoreError
            No accepted read yet, or open discrepancies remain (adjudicate them first).
        """
        from readerstation.engine.model import Timeline
        from readerstation.engine.trial import derive_subject_responses, derive_trial_summary
        from readerstation.model.entities import resolve_criteria
        from readerstation.model.timeline import to_subject_timeline

        crit = resolve_criteria(criteria)

        def run(s: Session) -> list[AcceptedRead]:
            self._require(
                "acceptance.list", UserRole.ADMIN, entity_type="acceptance", entity_id=criteria
            )
            open_ = (
                s.execute(
                    select(SubjectRow.code)
                    .join(DiscrepancyRow, DiscrepancyRow.subject_id == SubjectRow.id)
                    .where(DiscrepancyRow.criteria == criteria, DiscrepancyRow.status == "open")
                    .order_by(SubjectRow.code, DiscrepancyRow.id)
                )
                .scalars()
                .all()
            )
            if open_:
                raise StoreError(
                    f"summary {criteria}: {len(open_)} discrepancy(ies) are still open (first: "
                    f"{open_[0]}); adjudicate them before summarising the accepted reads."
                )
            return self._accepted_reads(s, criteria)

        # one read-only transaction: the open discrepancies and the accepted reads are one snapshot
        accepted = self._run_read(run)
        if not accepted:
            raise StoreError(
                f"summary {criteria}: no accepted read yet; import or sign both reads of a "
                "subject first."
            )
        timeline = Timeline(tuple(to_subject_timeline(a.reads, crit) for a in accepted))
        results = derive_subject_responses(timeline, crit)
        return derive_trial_summary(results, crit, timeline=timeline)

    def agreement(self) -> AgreementReport:
        """Reader agreement over every evaluated subject (admin, adjudicator).

        The per-reader figures (endorsement rate, RDI) are part of the issue's contract for both
        roles. An adjudicator gets them under pseudonyms (``reader-1``, ``reader-2``... by account
        order), never the readers' names; the pseudonyms still link one reader's counts across
        subjects, which the charter accepts for monitoring (docs/dual-reading.md).
        """
        from readerstation.reading.agreement import (
            PairOutcome,
            compute_agreement,
        )
        from readerstation.reading.discrepancy import compare_reads

        def run(s: Session) -> AgreementReport:
            self._require(
                "agreement", UserRole.ADMIN, UserRole.ADJUDICATOR, entity_type="agreement"
            )
            charter = self._charter(s)
            admin = self.user.role is UserRole.ADMIN
            readers = list(
                s.execute(
                    select(User.id, User.name)
                    .where(User.role == UserRole.READER.value)
                    .order_by(User.id)
                )
            )
            shown = {
                uid: (name if admin else f"reader-{k + 1}") for k, (uid, name) in enumerate(readers)
            }
            slots: dict[int, dict[int, int]] = {}
            for sid, slot, rid in s.execute(
                select(Assignment.subject_id, Assignment.slot, Assignment.reader_id)
            ):
                slots.setdefault(sid, {})[slot] = rid
            # the read ids of each current evaluation: its discrepancy, else its acceptance
            evaluations: dict[tuple[int, str], dict[str, list[int]]] = {}
            for d in s.execute(
                select(DiscrepancyRow)
                .where(DiscrepancyRow.status != "superseded")
                .order_by(DiscrepancyRow.id)
            ).scalars():
                evaluations[(d.subject_id, d.criteria)] = json.loads(d.read_ids)
            endorsed: dict[tuple[int, str], int] = {}
            for a in s.execute(select(AcceptanceRow)).scalars():
                if a.basis == "adjudication":
                    endorsed[(a.subject_id, a.criteria)] = a.accepted_slot
                evaluations.setdefault((a.subject_id, a.criteria), json.loads(a.read_ids))
            wanted = sorted(
                ((k, ids) for k, ids in evaluations.items() if k[1] in charter.criteria),
                key=lambda e: e[0],
            )
            reads = self._load_read_map(
                s, (i for _, ids in wanted for key in ("1", "2") for i in ids[key])
            )
            outcomes = []
            for (sid, criteria), ids in wanted:
                comparison: Comparison = compare_reads(
                    [reads[i] for i in ids["1"]], [reads[i] for i in ids["2"]], criteria, charter
                )
                slot_e = endorsed.get((sid, criteria)) if comparison.needs_adjudication else None
                outcomes.append(
                    PairOutcome(
                        comparison,
                        shown[slots[sid][1]],
                        shown[slots[sid][2]],
                        slot_e,
                    )
                )
            return compute_agreement(outcomes)

        return self._run_read(run)
