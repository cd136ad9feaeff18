"""The Repository: the only door to the store's data, for one authenticated user.

Every method checks what the acting user may see and do before touching data, writes an audit
event for every change (and for every refusal), and runs in one transaction. Blinding is done
here, in the SQL filters, not in the widgets: a reader's queries only ever select rows whose
``reader_id`` is the reader's own, and a read id that is not theirs is refused exactly as an id
that does not exist (so ids cannot be probed).

Who may do what:

=====================  ======  ===========  =====
action                 reader  adjudicator  admin
=====================  ======  ===========  =====
add users, subjects,                          yes
timepoints, assign
list users                                    yes
list own assigned      yes
timepoints (worklist)
save/sign/amend own    yes
reads
list/get/export reads  own                    all
audit list / verify                           yes
=====================  ======  ===========  =====

Adjudicators see reads only through blinded packets (:mod:`readerstation.store.dual`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NoReturn, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from readerstation.criteria.checks import check_timepoint_read
from readerstation.criteria.params import MRecistCriteria, Recist11Criteria, ResponseCriteria
from readerstation.errors import (
    AccessDenied,
    AuthenticationError,
    ConcurrentEditError,
    CriteriaError,
    ModelError,
    ReaderstationError,
    ReadLockedError,
    StoreError,
)
from readerstation.model.entities import Subject, Timepoint, TimepointRead, _code
from readerstation.model.enums import ReadStatus, UserRole
from readerstation.store._queries import latest_signed_row
from readerstation.store.audit import (
    AuditRecord,
    AuditVerification,
    adopt_audit_key,
    append_event,
    canonical_json,
    iter_audit_records,
    verify_audit_chain,
)
from readerstation.store.dual import DualReadingMixin
from readerstation.store.engine import Store
from readerstation.store.passwords import KdfParams, check_password_policy, dummy_hash
from readerstation.store.schema import (
    Assignment,
    ReadRow,
    SubjectRow,
    TimepointRow,
    User,
    utc_now,
)

__all__ = [
    "SIGNING_CRITERIA",
    "ReadRevision",
    "ReadSummary",
    "Repository",
    "UserInfo",
    "create_first_admin",
]

_T = TypeVar("_T")
_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")

SIGNING_CRITERIA: tuple[ResponseCriteria, ...] = (Recist11Criteria(), MRecistCriteria())
"""The criteria every read must satisfy to be signed: :meth:`Repository.sign_read` runs
:func:`~readerstation.criteria.checks.check_timepoint_read` for each and refuses blocking
findings (the reads carry both the long axis and the viable diameter)."""

_SIGNED_TRIGGER_WORDS = "signed read is immutable"

_READS = cast(Table, ReadRow.__table__)
# Pre-built Core UPDATE of a draft guarded by its row version (compiled once; autosave path).
_UPDATE_DRAFT = (
    _READS.update()
    .where(_READS.c.id == bindparam("row_id"), _READS.c.version == bindparam("old_version"))
    .values(
        content=bindparam("new_content"),
        content_sha256=bindparam("new_sha"),
        updated_at=bindparam("new_updated"),
        version=bindparam("new_version"),
    )
)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A store account as others may see it (never the password hash)."""

    name: str
    role: UserRole
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"name": self.name, "role": self.role.value, "active": self.active}


@dataclass(frozen=True, slots=True)
class ReadSummary:
    """One read version as listed in a worklist (no lesion content)."""

    read_id: int
    subject: str
    timepoint: str
    reader: str
    status: ReadStatus
    version: int
    updated_at: dt.datetime
    signed_at: dt.datetime | None
    supersedes: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "read_id": self.read_id,
            "subject": self.subject,
            "timepoint": self.timepoint,
            "reader": self.reader,
            "status": self.status.value,
            "version": self.version,
            "updated_at": self.updated_at.isoformat(),
            "signed_at": None if self.signed_at is None else self.signed_at.isoformat(),
            "supersedes": self.supersedes,
        }


@dataclass(frozen=True, slots=True)
class ReadRevision:
    """A read as stored, with the revision it was loaded or saved at.

    The revision is the optimistic-lock counter of the read's row in the store: 1 when the row
    is created, one more at every stored change (a draft save that changed something, the
    signature). It is not the read's :attr:`~readerstation.model.TimepointRead.version` (1, then
    2... for amendments). A writer passes back the revision it last saw
    (:meth:`Repository.save_draft_at`, ``expected_revision`` of :meth:`Repository.save_draft` and
    :meth:`Repository.sign_read`); a write based on an older revision is refused with a
    "reload" :class:`~readerstation.errors.ConcurrentEditError` instead of overwriting what
    another workstation saved.

    Attributes
    ----------
    read : TimepointRead
        The read as stored (as this user may see it).
    revision : int
        The row's revision (>= 1).
    """

    read: TimepointRead
    revision: int

    def __repr__(self) -> str:
        r = self.read
        return (
            f"ReadRevision({r.subject.code}/{r.timepoint.label} v{r.version} "
            f"read {r.read_id}, revision {self.revision})"
        )


class _Refused(Exception):
    """Internal: a refusal to audit (after the failed transaction is rolled back)."""

    def __init__(
        self,
        error: ReaderstationError,
        action: str,
        entity_type: str,
        entity_id: object,
        after: str | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.action = action
        self.entity_type = entity_type
        self.entity_id = entity_id
        self.after = after  # what was refused (a draft's content), kept in the audit trail


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _content(read: TimepointRead) -> str:
    return canonical_json(read.to_dict())


def _translate_db_error(exc: DBAPIError) -> ReaderstationError:
    text = str(exc.orig)
    if _SIGNED_TRIGGER_WORDS in text:
        return ReadLockedError(
            "this read is signed and immutable (refused by the database); amend it to make a "
            "new version."
        )
    if "append-only" in text:
        return StoreError("the audit trail is append-only (refused by the database).")
    if isinstance(exc, IntegrityError):
        return StoreError(
            f"the database refused the change ({text.splitlines()[0]}); reload and check for a "
            "duplicate or a missing record."
        )
    return StoreError(f"database error ({text.splitlines()[0]}); check the server and retry.")


@contextmanager
def _transaction(store: Store) -> Iterator[Session]:
    """One transaction, errors translated to readerstation's."""
    try:
        with store.sessions.begin() as session:
            yield session
    except StaleDataError as exc:
        raise ConcurrentEditError(
            "someone else changed this record since it was loaded; reload it and apply your "
            "change again."
        ) from exc
    except DBAPIError as exc:
        raise _translate_db_error(exc) from exc


@contextmanager
def _read_transaction(store: Store) -> Iterator[Session]:
    """A read-only transaction (no write lock on SQLite), errors translated."""
    try:
        with store.read_session() as session:
            yield session
    except DBAPIError as exc:
        raise _translate_db_error(exc) from exc


def _audit_refusal(store: Store, actor: str | None, refusal: _Refused) -> None:
    with _transaction(store) as s:
        append_event(
            s,
            actor=actor,
            action=refusal.action,
            entity_type=refusal.entity_type,
            entity_id=None if refusal.entity_id is None else str(refusal.entity_id),
            outcome="refused",
            detail=str(refusal.error),
            after=refusal.after,
        )


def create_first_admin(
    store: Store, name: str, password: str, *, kdf: KdfParams | None = None
) -> UserInfo:
    """Create the first admin of an empty store (refused, and audited, once any user exists).

    Parameters
    ----------
    store : Store
    name : str
        User name (letters, digits, ``_ . -``).
    password : str
        At least :data:`~readerstation.store.passwords.PASSWORD_MIN_LENGTH` characters.
    kdf : KdfParams or None
        argon2id parameters (default :class:`KdfParams`).
    """
    _code(name, "user", "name")
    check_password_policy(password)
    password_hash = (kdf or KdfParams()).hash(password)
    try:
        with _transaction(store) as s:
            n = s.execute(select(func.count()).select_from(User)).scalar_one()
            if n:
                raise _Refused(
                    StoreError(
                        f"init: the store {store.url} already has {n} user(s); the first admin "
                        "exists. Log in as an admin and use 'readerstation user add'."
                    ),
                    "store.init",
                    "user",
                    name,
                )
            s.add(User(name=name, role=UserRole.ADMIN.value, password_hash=password_hash))
            append_event(
                s,
                actor=name,
                action="store.init",
                entity_type="user",
                entity_id=name,
                after={"name": name, "role": UserRole.ADMIN.value},
            )
    except _Refused as r:
        _audit_refusal(store, None, r)
        raise r.error from None
    return UserInfo(name, UserRole.ADMIN)


class Repository(DualReadingMixin):
    """The store as one authenticated user may see and change it.

    Dual reading (charter, balanced assignment, worklist, import/export, discrepancies,
    blinded adjudication, accepted reads, agreement) comes from
    :class:`~readerstation.store.dual.DualReadingMixin`.

    Build it with :meth:`login`. Methods raise :class:`AccessDenied` (audited) when the user's
    role or blinding forbids the action, :class:`ReadLockedError` on a write to a signed read,
    and :class:`ConcurrentEditError` when another writer changed the record first.
    """

    def __init__(
        self, store: Store, user_id: int, name: str, role: UserRole, kdf: KdfParams
    ) -> None:
        self._store = store
        self._user_id = user_id
        self._kdf = kdf
        self.user = UserInfo(name, role)

    def __repr__(self) -> str:
        u = self.user
        return f"Repository(user={u.name}, role={u.role.value}, store={self._store.url})"

    # -- session and access helpers -----------------------------------------------------------

    @classmethod
    def login(
        cls, store: Store, name: str, password: str, *, kdf: KdfParams | None = None
    ) -> Repository:
        """Authenticate ``name`` with ``password`` (failed attempts are audited).

        The account is read in a short read-only transaction and the password verified (argon2)
        outside any transaction; an unknown or inactive user is verified against a dummy hash
        with the same parameters, so the time taken does not reveal which names exist. The
        account's row version is re-checked after the verification.

        Raises
        ------
        AuthenticationError
            Unknown or inactive user, or wrong password (the message does not say which).
        """
        kdf = kdf or KdfParams()
        # 1. the account, in a short read-only transaction (no write lock)
        found = None
        if isinstance(name, str):
            with _read_transaction(store) as s:
                found = s.execute(
                    select(User.id, User.role, User.active, User.password_hash, User.version).where(
                        User.name == name
                    )
                ).first()
        # 2. argon2 outside any transaction, so other users' writes do not queue behind it. An
        # unknown or inactive user is verified against a dummy hash: the same KDF work, so the
        # time taken does not tell which user names exist.
        real = found is not None and bool(found.active) and isinstance(password, str)
        fallback = dummy_hash(kdf)  # always (cached): the first login of any name pays it
        ok = kdf.verify(
            found.password_hash if real and found is not None else fallback,
            password if isinstance(password, str) else "",
        )
        ok = ok and real
        if ok and found is not None:
            # 3. the account did not change (password, role, deactivation) meanwhile
            with _read_transaction(store) as s:
                now = s.execute(
                    select(User.version, User.active).where(User.id == found.id)
                ).first()
            ok = now is not None and now.version == found.version and bool(now.active)
        if not ok or found is None:
            with _transaction(store) as s:
                append_event(
                    s,
                    actor=name[:64] if isinstance(name, str) else None,
                    action="login",
                    entity_type="user",
                    entity_id=name[:64] if isinstance(name, str) else None,
                    outcome="refused",
                    detail="unknown user or wrong password",
                )
            raise AuthenticationError(
                f"login: unknown user or wrong password for {name!r}; check both (the attempt "
                "was recorded)."
            )
        return cls(store, found.id, name, UserRole(found.role), kdf)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            with _transaction(self._store) as s:
                yield s
        except _Refused as r:
            _audit_refusal(self._store, self.user.name, r)
            raise r.error from None

    def _refuse(self, action: str, entity_type: str, entity_id: object, message: str) -> NoReturn:
        raise _Refused(AccessDenied(message), action, entity_type, entity_id)

    def _require(
        self, action: str, *roles: UserRole, entity_type: str = "store", entity_id: object = None
    ) -> None:
        if self.user.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            # an admin is refused only what another role does (the adjudicator's packet, a
            # reader's own reads): log in as that user instead
            fix = "Log in as such a user." if self.user.role is UserRole.ADMIN else "Ask an admin."
            self._refuse(
                action,
                entity_type,
                entity_id,
                f"{action}: user {self.user.name!r} has role {self.user.role.value!r}; this needs "
                f"role {allowed}. {fix}",
            )

    def _audit(
        self, s: Session, action: str, entity_type: str, entity_id: object, **kw: Any
    ) -> None:
        append_event(
            s,
            actor=self.user.name,
            action=action,
            entity_type=entity_type,
            entity_id=None if entity_id is None else str(entity_id),
            **kw,
        )

    def _run(self, fn: Callable[[Session], _T]) -> _T:
        with self._tx() as s:
            return fn(s)

    def _run_read(self, fn: Callable[[Session], _T]) -> _T:
        """:meth:`_run` for ``fn`` that only reads: a read-only transaction, which on SQLite
        neither takes nor waits for the write lock (refusals are audited all the same)."""
        try:
            with _read_transaction(self._store) as s:
                return fn(s)
        except _Refused as r:
            _audit_refusal(self._store, self.user.name, r)
            raise r.error from None

    # -- users ----------------------------------------------------------------------------

    def add_user(self, name: str, role: UserRole | str, password: str) -> UserInfo:
        """Add a user (admin only)."""
        try:
            role = UserRole(role)
        except ValueError:
            raise ModelError(
                f"user role: expected reader, adjudicator or admin, received {role!r}."
            ) from None
        _code(name, "user", "name")
        check_password_policy(password)
        # argon2 before the transaction (a non-admin is refused inside it, before any use)
        password_hash = self._kdf.hash(password) if self.user.role is UserRole.ADMIN else ""

        def run(s: Session) -> UserInfo:
            self._require("user.add", UserRole.ADMIN, entity_type="user", entity_id=name)
            if s.execute(select(User.id).where(User.name == name)).first() is not None:
                raise StoreError(
                    f"user add: a user named {name!r} already exists; pick another name."
                )
            s.add(User(name=name, role=role.value, password_hash=password_hash))
            self._audit(s, "user.add", "user", name, after={"name": name, "role": role.value})
            return UserInfo(name, role)

        return self._run(run)

    def list_users(self) -> list[UserInfo]:
        """Every user, by name (admin only)."""

        def run(s: Session) -> list[UserInfo]:
            self._require("user.list", UserRole.ADMIN, entity_type="user")
            rows = s.execute(select(User).order_by(User.name)).scalars()
            return [UserInfo(u.name, UserRole(u.role), u.active) for u in rows]

        return self._run(run)

    # -- subjects, timepoints, assignments (admin) ------------------------------------------

    def add_subject(self, subject: Subject) -> Subject:
        """Register a subject by trial code (admin only)."""

        def run(s: Session) -> Subject:
            self._require(
                "subject.add", UserRole.ADMIN, entity_type="subject", entity_id=subject.code
            )
            if s.execute(select(SubjectRow.id).where(SubjectRow.code == subject.code)).first():
                raise StoreError(f"subject add: subject {subject.code!r} already exists.")
            s.add(SubjectRow(code=subject.code, treatment_start=subject.treatment_start))
            self._audit(
                s,
                "subject.add",
                "subject",
                subject.code,
                after={"code": subject.code, "treatment_start": _iso(subject.treatment_start)},
            )
            return subject

        return self._run(run)

    def add_timepoint(self, subject_code: str, timepoint: Timepoint) -> Timepoint:
        """Register a timepoint of a subject (admin only)."""

        def run(s: Session) -> Timepoint:
            self._require(
                "timepoint.add",
                UserRole.ADMIN,
                entity_type="timepoint",
                entity_id=f"{subject_code}/{timepoint.label}",
            )
            subj = self._subject_row(s, subject_code)
            s.add(
                TimepointRow(
                    subject_id=subj.id,
                    label=timepoint.label,
                    scan_date=timepoint.scan_date,
                    study_uid=timepoint.study_uid,
                    series_uid=timepoint.series_uid,
                    phase=timepoint.phase.value,
                )
            )
            self._audit(
                s,
                "timepoint.add",
                "timepoint",
                f"{subject_code}/{timepoint.label}",
                after={
                    "subject": subject_code,
                    "label": timepoint.label,
                    "scan_date": _iso(timepoint.scan_date),
                    "study_uid": timepoint.study_uid,
                    "series_uid": timepoint.series_uid,
                    "phase": timepoint.phase.value,
                },
            )
            return timepoint

        return self._run(run)

    def assign(self, subject_code: str, reader: str, slot: int | None = None) -> int:
        """Assign a subject to a reader (admin only); return the reader's slot (1, 2...)."""

        def run(s: Session) -> int:
            self._require("assign", UserRole.ADMIN, entity_type="subject", entity_id=subject_code)
            subj = self._subject_row(s, subject_code)
            user = s.execute(select(User).where(User.name == reader)).scalar_one_or_none()
            if user is None or user.role != UserRole.READER.value:
                raise StoreError(
                    f"assign: {reader!r} is not a reader of this store; add the user with role "
                    "reader."
                )
            taken = {
                a.reader_id: a.slot
                for a in s.execute(
                    select(Assignment).where(Assignment.subject_id == subj.id)
                ).scalars()
            }
            if user.id in taken:
                raise StoreError(
                    f"assign: {reader!r} already reads subject {subject_code!r} (slot "
                    f"{taken[user.id]})."
                )
            chosen = slot if slot is not None else max(taken.values(), default=0) + 1
            if chosen in taken.values() or chosen < 1:
                raise StoreError(
                    f"assign: slot {chosen} of subject {subject_code!r} is taken or invalid."
                )
            s.add(Assignment(subject_id=subj.id, reader_id=user.id, slot=chosen))
            self._audit(
                s, "assign", "subject", subject_code, after={"reader": reader, "slot": chosen}
            )
            return chosen

        return self._run(run)

    def list_assigned_timepoints(
        self, subject_code: str | None = None
    ) -> list[tuple[Subject, Timepoint]]:
        """The timepoints of the subjects assigned to this reader: the reader's worklist (audited).

        Blinding is in the SQL filter: only subjects with an assignment to this user are
        selected, so a reader never learns of another reader's subjects. A subject that exists
        but is not assigned to the reader gives an empty list, exactly as an unknown code.

        Parameters
        ----------
        subject_code : str or None
            Only this subject's timepoints (trial code); ``None`` for every assigned subject.

        Returns
        -------
        list of (Subject, Timepoint)
            Ordered by subject code, then scan date (undated last), then label.

        Raises
        ------
        AccessDenied
            The user is not a reader (audited).
        """

        from readerstation.dicom.phase import Phase  # lazy, as in readerstation.model

        def run(s: Session) -> list[tuple[Subject, Timepoint]]:
            self._require(
                "worklist.list",
                UserRole.READER,
                entity_type="subject",
                entity_id=subject_code,
            )
            q = (
                select(SubjectRow, TimepointRow)
                .join(Assignment, Assignment.subject_id == SubjectRow.id)
                .join(TimepointRow, TimepointRow.subject_id == SubjectRow.id)
                .where(Assignment.reader_id == self._user_id)
                # timepoint_order's order in SQL: undated last on every dialect (SQLite sorts
                # NULL first, PostgreSQL last), as the store's gating and worklist() order them
                .order_by(
                    SubjectRow.code,
                    TimepointRow.scan_date.is_(None),
                    TimepointRow.scan_date,
                    TimepointRow.label,
                )
            )
            if subject_code is not None:
                q = q.where(SubjectRow.code == subject_code)
            hide = self._hide_dates(s)
            out = [
                (
                    Subject(subj.code, None if hide else subj.treatment_start),
                    Timepoint(
                        tp.label,
                        None if hide else tp.scan_date,
                        tp.study_uid,
                        tp.series_uid,
                        Phase(tp.phase),
                    ),
                )
                for subj, tp in s.execute(q)
            ]
            self._audit(
                s, "worklist.list", "subject", subject_code, detail=f"{len(out)} timepoints"
            )
            return out

        return self._run(run)

    # -- reads ------------------------------------------------------------------------------

    def save_draft(
        self, read: TimepointRead, *, expected_revision: int | None = None
    ) -> TimepointRead:
        """Autosave a reader's draft of their own read (one cheap transaction, audited).

        The draft of (subject, timepoint, reader) at ``read.version`` is created or replaced.
        Saving content identical to what is stored writes nothing. The subject
        (``treatment_start``) and timepoint (``scan_date``, ``study_uid``) saved are the stored
        ones, whatever the read carries; only the reader's chosen ``series_uid`` and ``phase``
        (validated by :class:`~readerstation.model.Timepoint`) are kept. The returned read
        carries what was saved.

        Parameters
        ----------
        read : TimepointRead
            The draft, ``status`` ``draft``.
        expected_revision : int or None
            The revision (:class:`ReadRevision`) of the stored draft this one was edited from:
            the save is refused (:class:`ConcurrentEditError`, audited) when another session
            saved the draft since. ``None`` replaces whatever is stored (a script that is the
            only writer); a workstation, where the same reader may have the read open twice,
            uses :meth:`save_draft_at`, as :class:`~readerstation.reading.ReadingSession` does.

        Raises
        ------
        AccessDenied
            Not a reader, another reader's read, or a subject not assigned to this reader.
        ReadLockedError
            That version is signed: amend it (:meth:`amend_read`) to make a new version.
        ConcurrentEditError
            ``read.version`` or ``read.read_id`` is not the stored draft's, the draft changed
            since ``expected_revision``, or another writer changed it during this save: reload
            the read and apply the change again (the stored draft is unchanged).
        """
        if expected_revision is None:
            return self._save_draft(read, None, checked=False).read
        return self._save_draft(read, expected_revision, checked=True).read

    def save_draft_at(self, read: TimepointRead, revision: int | None) -> ReadRevision:
        """Save a draft edited from the stored ``revision``: no silent overwrite (audited).

        The optimistic-versioning form of :meth:`save_draft`, for workstations: the save lands
        only when the stored draft is still at ``revision`` (``None``: nothing is stored yet, this
        save creates the draft). Otherwise another session of the same reader saved, signed or
        created the draft first: the save is refused with a :class:`ConcurrentEditError` whose
        message says to reload, the refusal is audited with the refused content, and the stored
        draft is left exactly as the other session saved it.

        Parameters
        ----------
        read : TimepointRead
            The draft, ``status`` ``draft``.
        revision : int or None
            The :attr:`ReadRevision.revision` the draft was loaded or last saved at (from
            :meth:`load_read` or a previous :meth:`save_draft_at`); ``None`` for a new draft.

        Returns
        -------
        ReadRevision
            The read as saved and its new revision (unchanged when the content was identical).

        Raises
        ------
        ConcurrentEditError
            The stored draft is not at ``revision``; two sessions creating the same new draft at
            once: one creates it, the other gets this error. Reload and apply the change again.
        AccessDenied, ReadLockedError
            As :meth:`save_draft`.
        """
        if revision is not None and (
            isinstance(revision, bool) or not isinstance(revision, int) or revision < 1
        ):
            raise ModelError(
                f"save_draft_at: expected a revision >= 1 (ReadRevision.revision) or None for a "
                f"new draft, received {revision!r}."
            )
        return self._save_draft(read, revision, checked=True)

    def _save_draft(self, read: TimepointRead, expected: int | None, checked: bool) -> ReadRevision:
        if not isinstance(read, TimepointRead):
            raise ModelError(
                f"save_draft: expected a TimepointRead, received {type(read).__name__}."
            )
        where = f"{read.subject.code}/{read.timepoint.label}"
        if read.status is not ReadStatus.DRAFT:
            raise ModelError(
                f"save_draft {where}: expected a draft, received a {read.status.value} read; use "
                "sign_read to sign."
            )
        if (
            checked
            and expected is not None
            and (isinstance(expected, bool) or not isinstance(expected, int) or expected < 1)
        ):
            raise ModelError(
                f"save_draft {where}: expected_revision must be an integer >= 1 "
                f"(ReadRevision.revision), received {expected!r}."
            )

        def conflict(entity: object, content: str, message: str) -> NoReturn:
            # audited with the refused content: the trail keeps what this session could not save
            raise _Refused(
                ConcurrentEditError(message), "read.save_draft", "read", entity, after=content
            )

        def run(s: Session) -> ReadRevision:
            self._require("read.save_draft", UserRole.READER, entity_type="read", entity_id=where)
            if read.reader != self.user.name:
                self._refuse(
                    "read.save_draft",
                    "read",
                    where,
                    f"save_draft {where}: the read belongs to {read.reader!r}, not to you "
                    f"({self.user.name!r}); a reader saves only their own reads.",
                )
            subj, tp = self._assigned_timepoint(
                s, read.subject.code, read.timepoint.label, "read.save_draft"
            )
            # subject and timepoint details are the store's, never the reader's: only the
            # series the reader chose to read (and its phase) come from the read
            stored = _with_stored_context(read, subj, tp)
            self._check_draft_allowed(s, subj, tp, stored)
            row = self._latest_row(s, tp.id)
            content = _content(stored)
            now = utc_now()
            if row is None:
                if read.version != 1:
                    raise StoreError(
                        f"save_draft {where}: no read stored yet, so version must be 1, received "
                        f"{read.version}."
                    )
                if checked and expected is not None:
                    conflict(
                        where,
                        content,
                        f"save_draft {where}: the draft you edited (revision {expected}) is no "
                        "longer stored; reload the read and apply your change again.",
                    )
                row = ReadRow(
                    subject_id=subj.id,
                    timepoint_id=tp.id,
                    reader_id=self._user_id,
                    read_version=1,
                    status=ReadStatus.DRAFT.value,
                    content=content,
                    content_sha256=_sha256(content),
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                try:
                    s.flush()
                except IntegrityError as exc:
                    if "unique" not in str(exc.orig).lower():
                        raise
                    # another session of this reader created the same draft at the same moment
                    # (PostgreSQL: the second INSERT waits for the first, then breaks the
                    # unique (timepoint, reader, version) constraint)
                    conflict(
                        where,
                        content,
                        f"save_draft {where}: another session of {self.user.name!r} created this "
                        "draft at the same moment; your change was not saved: reload the read "
                        "and apply it again.",
                    )
                self._audit(s, "read.save_draft", "read", row.id, after=content)
                return ReadRevision(self._blind(s, _with_id(stored, row.id)), row.version)
            named = f"{where} (read {row.id})"
            if checked and expected is None:
                conflict(
                    row.id,
                    content,
                    f"save_draft {named}: another session of {self.user.name!r} created this "
                    f"draft first (now revision {row.version}); your change was not saved: "
                    "reload the read and apply it again.",
                )
            if checked and row.version != expected:
                # before the status: a signature by another session is a conflict to reload
                conflict(
                    row.id,
                    content,
                    f"save_draft {named}: another session saved or signed this read since you "
                    f"loaded it (revision {expected}, now {row.version}, {row.status}); your "
                    "change was not saved: reload the read and apply it again.",
                )
            if row.read_version != read.version:
                conflict(
                    row.id,
                    content,
                    f"save_draft {named}: the stored read is version {row.read_version}, the "
                    f"draft is version {read.version}; reload the read.",
                )
            if row.status == ReadStatus.SIGNED.value:
                raise ReadLockedError(
                    f"save_draft {where}: version {row.read_version} is signed and immutable; "
                    "amend it to make a new version."
                )
            if read.read_id is not None and read.read_id != row.id:
                conflict(
                    row.id,
                    content,
                    f"save_draft {where}: read id {read.read_id} is not the current draft "
                    f"({row.id}); reload the read.",
                )
            sha = _sha256(content)
            if sha == row.content_sha256:
                return ReadRevision(self._blind(s, _with_id(stored, row.id)), row.version)
            before = row.content
            # a Core UPDATE guarded by the row version (cheaper than the ORM flush; autosave);
            # on PostgreSQL a concurrent UPDATE of the same row waits, then matches no row
            done = s.connection().execute(
                _UPDATE_DRAFT,
                {
                    "row_id": row.id,
                    "old_version": row.version,
                    "new_content": content,
                    "new_sha": sha,
                    "new_updated": now,
                    "new_version": row.version + 1,
                },
            )
            if done.rowcount != 1:
                conflict(
                    row.id,
                    content,
                    f"save_draft {named}: another session saved this draft while yours was "
                    "being saved; your change was not saved: reload the read and apply it again.",
                )
            self._audit(s, "read.save_draft", "read", row.id, before=before, after=content)
            return ReadRevision(self._blind(s, _with_id(stored, row.id)), row.version + 1)

        return self._run(run)

    def load_read(self, read_id: int) -> ReadRevision:
        """One read version by id with its revision (for :meth:`save_draft_at`).

        A reader gets only their own (else AccessDenied, audited), as :meth:`get_read`.
        """

        def run(s: Session) -> ReadRevision:
            row = self._visible_row(s, read_id, "read.get")
            read = TimepointRead.from_dict(json.loads(row.content), read_id=row.id)
            return ReadRevision(self._blind(s, read), row.version)

        return self._run(run)

    def get_read(self, read_id: int) -> TimepointRead:
        """One read version by id: a reader gets only their own (else AccessDenied, audited)."""
        return self.load_read(read_id).read

    def list_reads(
        self, subject_code: str | None = None, *, latest_only: bool = False
    ) -> list[ReadSummary]:
        """Read versions this user may see (a reader: their own; an admin: all), oldest first.

        Parameters
        ----------
        subject_code : str or None
            Only this subject.
        latest_only : bool
            Only the highest version of each (timepoint, reader).
        """

        def run(s: Session) -> list[ReadSummary]:
            self._require(
                "read.list",
                UserRole.READER,
                UserRole.ADMIN,
                entity_type="read",
                entity_id=subject_code,
            )
            self._require_own_subject(s, subject_code, "read.list")
            q = (
                select(ReadRow, SubjectRow.code, TimepointRow.label, User.name)
                .join(SubjectRow, SubjectRow.id == ReadRow.subject_id)
                .join(TimepointRow, TimepointRow.id == ReadRow.timepoint_id)
                .join(User, User.id == ReadRow.reader_id)
                .order_by(
                    SubjectRow.code,
                    TimepointRow.scan_date,
                    TimepointRow.label,
                    User.name,
                    ReadRow.read_version,
                )
            )
            q = self._visible_reads(q, subject_code)
            out = [
                ReadSummary(
                    row.id,
                    code,
                    label,
                    reader,
                    ReadStatus(row.status),
                    row.read_version,
                    row.updated_at,
                    row.signed_at,
                    row.supersedes_id,
                )
                for row, code, label, reader in s.execute(q)
            ]
            if latest_only:
                last: dict[tuple[str, str, str], ReadSummary] = {}
                for r in out:
                    last[(r.subject, r.timepoint, r.reader)] = r
                keep = {id(v) for v in last.values()}
                out = [r for r in out if id(r) in keep]
            return out

        return self._run(run)

    def export_reads(self, subject_code: str | None = None) -> list[TimepointRead]:
        """The latest signed version of every read this user may see (reader: own; admin: all)."""

        def run(s: Session) -> list[TimepointRead]:
            self._require(
                "read.export",
                UserRole.READER,
                UserRole.ADMIN,
                entity_type="read",
                entity_id=subject_code,
            )
            self._require_own_subject(s, subject_code, "read.export")
            q = (
                select(ReadRow)
                .join(SubjectRow, SubjectRow.id == ReadRow.subject_id)
                .where(ReadRow.status == ReadStatus.SIGNED.value)
                .order_by(
                    ReadRow.subject_id,
                    ReadRow.reader_id,
                    ReadRow.timepoint_id,
                    ReadRow.read_version,
                )
            )
            q = self._visible_reads(q, subject_code)
            latest: dict[tuple[int, int], ReadRow] = {}
            for row in s.execute(q).scalars():
                latest[(row.timepoint_id, row.reader_id)] = row
            self._audit(
                s, "read.export", "read", subject_code, detail=f"{len(latest)} signed reads"
            )
            return [
                self._blind(s, TimepointRead.from_dict(json.loads(r.content), read_id=r.id))
                for r in latest.values()
            ]

        return self._run(run)

    def sign_read(
        self,
        read_id: int,
        password: str,
        *,
        blockers: Callable[[TimepointRead], Sequence[str]] | None = None,
        expected_revision: int | None = None,
    ) -> TimepointRead:
        """Sign the reader's own draft after re-entering their password; it is then immutable.

        The read must satisfy every criteria of :data:`SIGNING_CRITERIA` (RECIST 1.1 and
        mRECIST): :func:`~readerstation.criteria.checks.check_timepoint_read` runs here, on the
        stored draft, so no caller can skip it. A follow-up is checked against the reader's own
        latest signed read of the subject's baseline (first timepoint by scan date), which must
        exist. The password is verified (argon2) outside any transaction; the signature is then
        written in a short transaction that re-checks the draft did not change meanwhile.

        Parameters
        ----------
        read_id : int
            The draft's id.
        password : str
            The reader's password, asked again at signing.
        blockers : callable or None
            Extra reasons that forbid signing this read (for example the reading session's
            findings with the series' slice thickness, which the store does not know); any
            reason refuses the signature (audited) and the read stays a draft.
        expected_revision : int or None
            The revision (:class:`ReadRevision`) of the draft the reader reviewed: when another
            session saved it since, the signature is refused (:class:`ConcurrentEditError`,
            audited), so nobody signs content they have not seen. ``None``: sign what is stored.

        Raises
        ------
        AuthenticationError
            Wrong password (audited).
        CriteriaError
            Blocking criteria findings, no signed baseline read for a follow-up, or reasons
            from ``blockers`` (audited).
        ReadLockedError
            Already signed.
        ConcurrentEditError
            The draft is not at ``expected_revision``, or changed between the checks and the
            signature: reload and sign again.
        """

        def refuse(error: ReaderstationError) -> NoReturn:
            _audit_refusal(
                self._store, self.user.name, _Refused(error, "read.sign", "read", read_id)
            )
            raise error

        def load(s: Session) -> tuple[int, str | None, TimepointRead, TimepointRead | None, str]:
            self._require("read.sign", UserRole.READER, entity_type="read", entity_id=read_id)
            row = self._visible_row(s, read_id, "read.sign")
            if expected_revision is not None and row.version != expected_revision:
                raise _Refused(
                    ConcurrentEditError(
                        f"sign read {read_id}: another session saved or signed this read since you loaded "
                        f"it (revision {expected_revision}, now {row.version}); nothing was "
                        "signed: reload the read, check it and sign again."
                    ),
                    "read.sign",
                    "read",
                    read_id,
                )
            if row.status == ReadStatus.SIGNED.value:
                raise ReadLockedError(
                    f"sign read {read_id}: already signed on {row.signed_at}; a signed read never "
                    "changes."
                )
            user = s.get(User, self._user_id)
            draft = TimepointRead.from_dict(json.loads(row.content), read_id=row.id)
            # one query for the subject's timepoints: the baseline and the previous timepoint
            tps = self._subject_timepoints(s, row.subject_id)
            k = [t.id for t in tps].index(row.timepoint_id)
            code, label = draft.subject.code, draft.timepoint.label
            baseline = None
            missing = ""
            if k > 0:
                base_row = latest_signed_row(s, tps[0].id, row.reader_id)
                if base_row is None:
                    missing = (
                        f"{code}/{label} is a follow-up and your baseline read "
                        f"{code}/{tps[0].label} is not signed; sign the baseline first"
                    )
                else:
                    baseline = TimepointRead.from_dict(json.loads(base_row.content))
            # timepoint order: the previous timepoint (scan-date order) must be signed too (at
            # k == 1 it is the baseline, checked above)
            if not missing and k > 1 and latest_signed_row(s, tps[k - 1].id, row.reader_id) is None:
                missing = (
                    f"{code}/{label} opens once your read of the previous timepoint "
                    f"{code}/{tps[k - 1].label} is signed; sign it first"
                )
            return (
                row.version,
                None if user is None else user.password_hash,
                draft,
                baseline,
                missing,
            )

        # 1. a short read-only transaction: the draft, its row version, the baseline
        version, password_hash, draft, baseline, missing = self._run_read(load)
        # 2. argon2 outside any transaction
        if (
            not isinstance(password, str)
            or password_hash is None
            or not self._kdf.verify(password_hash, password)
        ):
            refuse(
                AuthenticationError(
                    f"sign read {read_id}: wrong password; the read stays a draft (the attempt "
                    "was recorded)."
                )
            )
        # 3. the criteria, then the caller's extra blockers
        reasons: list[str] = [missing] if missing else []
        for crit in SIGNING_CRITERIA:
            for f in check_timepoint_read(draft, criteria=crit, baseline=baseline):
                if f.blocking:
                    reasons.append(f"{crit.name}: {f.lesion + ' ' if f.lesion else ''}{f.message}")
        if blockers is not None:
            reasons.extend(r for r in blockers(draft) if r not in reasons)
        if reasons:
            refuse(
                CriteriaError(
                    f"sign read {read_id}: signing is blocked until these are fixed: "
                    + "; ".join(reasons)
                )
            )

        # 4. a short write transaction, re-checking the draft is still the one checked
        def write(s: Session) -> TimepointRead:
            self._require("read.sign", UserRole.READER, entity_type="read", entity_id=read_id)
            row = self._visible_row(s, read_id, "read.sign")
            if row.version != version:
                # another session saved or signed it since step 1 (checked before the status:
                # a concurrent signature is a conflict to reload, not this session's mistake)
                raise ConcurrentEditError(
                    f"sign read {read_id}: the draft was changed by another session (saved again "
                    f"or signed, now {row.status}) while it was being checked; reload the read "
                    "and sign again if it is still a draft."
                )
            if row.status == ReadStatus.SIGNED.value:
                raise ReadLockedError(
                    f"sign read {read_id}: already signed on {row.signed_at}; a signed read never "
                    "changes."
                )
            now = utc_now()
            signed = TimepointRead(
                draft.subject,
                draft.timepoint,
                draft.reader,
                draft.lesions,
                draft.new_lesion_call,
                ReadStatus.SIGNED,
                draft.version,
                now,
                row.id,
            )
            before = row.content
            content = _content(signed)
            row.status = ReadStatus.SIGNED.value
            row.signed_at = now
            row.content = content
            row.content_sha256 = _sha256(content)
            row.updated_at = now
            s.flush()
            self._audit(s, "read.sign", "read", row.id, before=before, after=content)
            # dual reading: a signature that completes the subject's two reads compares them
            self._evaluate_subject(s, row.subject_id, strict=False)
            return self._blind(s, signed)

        return self._run(write)

    def amend_read(self, read_id: int) -> TimepointRead:
        """Start a correction of a signed read: a new draft version; the signed one is kept."""

        def run(s: Session) -> TimepointRead:
            self._require("read.amend", UserRole.READER, entity_type="read", entity_id=read_id)
            row = self._visible_row(s, read_id, "read.amend")
            if row.status != ReadStatus.SIGNED.value:
                raise StoreError(f"amend read {read_id}: it is still a draft; edit it directly.")
            latest = self._latest_row(s, row.timepoint_id)
            if latest is not None and latest.id != row.id:
                raise StoreError(
                    f"amend read {read_id}: version {latest.read_version} (read {latest.id}) "
                    "already supersedes it; amend or edit the latest version."
                )
            old = TimepointRead.from_dict(json.loads(row.content))
            new = TimepointRead(
                old.subject,
                old.timepoint,
                old.reader,
                old.lesions,
                old.new_lesion_call,
                ReadStatus.DRAFT,
                old.version + 1,
                None,
            )
            content = _content(new)
            now = utc_now()
            new_row = ReadRow(
                subject_id=row.subject_id,
                timepoint_id=row.timepoint_id,
                reader_id=row.reader_id,
                read_version=row.read_version + 1,
                supersedes_id=row.id,
                status=ReadStatus.DRAFT.value,
                content=content,
                content_sha256=_sha256(content),
                created_at=now,
                updated_at=now,
            )
            s.add(new_row)
            s.flush()
            self._audit(
                s, "read.amend", "read", new_row.id, before={"supersedes": row.id}, after=content
            )
            return self._blind(s, _with_id(new, new_row.id))

        return self._run(run)

    # -- audit -------------------------------------------------------------------------------

    def list_audit(self) -> list[AuditRecord]:
        """The whole audit trail in order, refusals included (admin only)."""

        def run(s: Session) -> list[AuditRecord]:
            self._require("audit.list", UserRole.ADMIN, entity_type="audit")
            return list(iter_audit_records(s))

        return self._run(run)

    def adopt_audit_key(self) -> int:
        """Seal a store written before keyed audit trails under the audit key (admin only).

        See :func:`~readerstation.store.audit.adopt_audit_key`; returns the adopt event's seq.
        """

        def run(s: Session) -> int:
            self._require("audit.adopt_key", UserRole.ADMIN, entity_type="audit")
            return adopt_audit_key(s, actor=self.user.name)

        return self._run(run)

    def verify_audit(self) -> AuditVerification:
        """Check the hash chain (admin only); see "
        ":func:`~readerstation.store.audit.verify_audit_chain`."""

        def run(s: Session) -> AuditVerification:
            self._require("audit.verify", UserRole.ADMIN, entity_type="audit")
            return verify_audit_chain(s)

        return self._run(run)

    # -- private queries ---------------------------------------------------------------------

    def _subject_row(self, s: Session, code: str) -> SubjectRow:
        row = s.execute(select(SubjectRow).where(SubjectRow.code == code)).scalar_one_or_none()
        if row is None:
            raise StoreError(f"subject {code!r} does not exist; add it first (admin).")
        return row

    def _assigned_timepoint(
        self, s: Session, code: str, label: str, action: str
    ) -> tuple[SubjectRow, TimepointRow]:
        found = s.execute(
            select(SubjectRow, TimepointRow)
            .join(Assignment, Assignment.subject_id == SubjectRow.id)
            .outerjoin(
                TimepointRow,
                (TimepointRow.subject_id == SubjectRow.id) & (TimepointRow.label == label),
            )
            .where(SubjectRow.code == code, Assignment.reader_id == self._user_id)
        ).first()
        if found is None:
            self._refuse(
                action,
                "subject",
                code,
                f"{action}: subject {code!r} is not in your worklist; ask an admin to assign it "
                "to you.",
            )
        subj, tp = found
        if tp is None:
            raise StoreError(
                f"{action}: subject {code!r} has no timepoint {label!r}; check the label (admin "
                "adds timepoints)."
            )
        return subj, tp

    def _latest_row(self, s: Session, timepoint_id: int) -> ReadRow | None:
        return s.execute(
            select(ReadRow)
            .where(ReadRow.timepoint_id == timepoint_id, ReadRow.reader_id == self._user_id)
            .order_by(ReadRow.read_version.desc())
            .limit(1)
        ).scalar_one_or_none()

    def _visible_reads(self, q: _Q, subject_code: str | None) -> _Q:
        """Restrict a query over ``ReadRow`` (joined to ``SubjectRow``) to what this user may see.

        The one place list and export queries get their blinding: a reader sees only their own
        reads; ``subject_code`` narrows to one subject.
        """
        if self.user.role is UserRole.READER:
            q = q.where(ReadRow.reader_id == self._user_id)
        if subject_code is not None:
            q = q.where(SubjectRow.code == subject_code)
        return q

    def _visible_row(self, s: Session, read_id: int, action: str) -> ReadRow:
        if isinstance(read_id, bool) or not isinstance(read_id, int):
            raise ModelError(f"{action}: expected an integer read id, received {read_id!r}.")
        if self.user.role is UserRole.READER:
            row = s.execute(
                select(ReadRow).where(ReadRow.id == read_id, ReadRow.reader_id == self._user_id)
            ).scalar_one_or_none()
            if row is None:
                # the same answer whether the id exists or belongs to another reader
                self._refuse(
                    action,
                    "read",
                    read_id,
                    f"{action}: read {read_id} is not one of your reads; you can only open reads "
                    "from your worklist.",
                )
            return row
        self._require(action, UserRole.ADMIN, entity_type="read", entity_id=read_id)
        row = s.get(ReadRow, read_id)
        if row is None:
            raise StoreError(f"{action}: no read with id {read_id}.")
        return row


def _with_stored_context(read: TimepointRead, subj: SubjectRow, tp: TimepointRow) -> TimepointRead:
    """``read`` with the stored subject and timepoint; the reader's series and phase kept."""
    return replace(
        read,
        subject=Subject(subj.code, subj.treatment_start),
        timepoint=replace(
            read.timepoint, label=tp.label, scan_date=tp.scan_date, study_uid=tp.study_uid
        ),
    )


def _with_id(read: TimepointRead, read_id: int) -> TimepointRead:
    return replace(read, read_id=read_id)


def _iso(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()
