"""The append-only, hash-chained audit trail.

Every event stores ``hash = SHA-256(prev_hash + canonical JSON of the event)`` where
``prev_hash`` is the previous event's hash (64 zeros for the first event) and the canonical JSON
holds ``seq``, ``ts``, ``actor``, ``action``, ``entity_type``, ``entity_id``, ``outcome``,
``detail``, ``before`` and ``after`` (keys sorted, no spaces, UTF-8). Editing any field, deleting
or reordering events breaks the chain; the ``audit_head`` row (last ``seq`` and ``hash``, written
in the same transaction as each event) also reveals deleted *last* events.

Appending locks the head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions
begin IMMEDIATE), so concurrent writers extend the chain one after the other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from readerstation.errors import ConcurrentEditError, StoreError
from readerstation.store.schema import AuditEvent, AuditHead

__all__ = [
    "GENESIS_HASH",
    "AuditRecord",
    "AuditVerification",
    "append_event",
    "canonical_json",
    "compute_event_hash",
    "iter_audit_records",
    "verify_audit_chain",
]

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first event."""


_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
# Pre-built Core statements (compiled once, cached): appending runs on every autosave.
_INSERT_EVENT = _EVENTS.insert()
_MOVE_HEAD = (
    _HEAD.update()
    .where(_HEAD.c.id == 1, _HEAD.c.version == bindparam("old_version"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"), version=bindparam("new_version"))
)


_LOCK_HEAD = (
    select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.version).where(_HEAD.c.id == 1).with_for_update()
)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no insignificant spaces, non-ASCII kept (the hashed form)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of ``prev_hash`` followed by the canonical JSON of the event's fields."""
    payload = prev_hash + canonical_json(fields)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "ts": ev.ts,
        "actor": ev.actor,
        "action": ev.action,
        "entity_type": ev.entity_type,
        "entity_id": ev.entity_id,
        "outcome": ev.outcome,
        "detail": ev.detail,
        "before": ev.before_json,
        "after": ev.after_json,
    }


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value  # already canonical JSON text (a read's stored content)
    return canonical_json(value)


def append_event(
    session: Session,
    *,
    actor: str | None,
    action: str,
    entity_type: str,
    entity_id: str | int | None = None,
    outcome: str = "ok",
    detail: str = "",
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one event to the chain inside ``session``'s transaction (committed with it).

    Parameters
    ----------
    actor : str or None
        User name acting (None for the system).
    action : str
        What was done, ``"read.save_draft"``, ``"read.sign"``, ``"user.add"``...
    entity_type, entity_id : str
        What it was done to (``"read"``, ``42``).
    outcome : str
        ``"ok"`` or ``"refused"``.
    detail : str
        One line for people (a refusal's reason).
    before, after : JSON-serialisable or str or None
        State before and after (a str is taken as JSON text already in canonical form).

    Returns
    -------
    int
        The event's sequence number.
    """
    # Core statements, not the ORM unit of work: this runs on every autosave.
    head = session.connection().execute(_LOCK_HEAD).first()
    if head is None:
        raise StoreError(
            "audit trail: the head row is missing (audit_head id 1); the store was not created "
            "by readerstation's migrations or was tampered with. Run readerstation audit verify."
        )
    fields = {
        "seq": head.seq + 1,
        "ts": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "outcome": outcome,
        "detail": detail,
        "before": _json_text(before),
        "after": _json_text(after),
    }
    digest = compute_event_hash(head.hash, fields)
    conn = session.connection()
    conn.execute(
        _INSERT_EVENT,
        {
            "seq": fields["seq"],
            "ts": fields["ts"],
            "actor": actor,
            "action": action,
            "entity_type": entity_type,
            "entity_id": fields["entity_id"],
            "outcome": outcome,
            "detail": detail,
            "before_json": fields["before"],
            "after_json": fields["after"],
            "prev_hash": head.hash,
            "hash": digest,
        },
    )
    moved = conn.execute(
        _MOVE_HEAD,
        {
            "old_version": head.version,
            "new_seq": fields["seq"],
            "new_hash": digest,
            "new_version": head.version + 1,
        },
    )
    if moved.rowcount != 1:
        raise ConcurrentEditError(
            "audit trail: another writer extended the chain at the same moment; retry the action."
        )
    return int(fields["seq"])


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit event as shown to an admin (``before``/``after`` decoded from JSON)."""

    seq: int
    ts: str
    actor: str | None
    action: str
    entity_type: str
    entity_id: str | None
    outcome: str
    detail: str
    before: Any
    after: Any
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "outcome": self.outcome,
            "detail": self.detail,
            "before": self.before,
            "after": self.after,
            "hash": self.hash,
        }


def iter_audit_records(session: Session, *, batch: int = 500) -> Iterator[AuditRecord]:
    """Every event in ``seq`` order."""
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    )
    for ev in rows.scalars():
        yield AuditRecord(
            ev.seq,
            ev.ts,
            ev.actor,
            ev.action,
            ev.entity_type,
            ev.entity_id,
            ev.outcome,
            ev.detail,
            None if ev.before_json is None else json.loads(ev.before_json),
            None if ev.after_json is None else json.loads(ev.after_json),
            ev.hash,
        )


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """Result of checking the chain.

    Attributes
    ----------
    intact : bool
        True when every event's hash, link and sequence number check out.
    n_events : int
        Events read.
    first_bad_seq : int or None
        Sequence number of the first event that fails (None when intact; for events deleted at
        the end, the first missing sequence number).
    reason : str
        What failed, for people.
    """

    intact: bool
    n_events: int
    first_bad_seq: int | None = None
    reason: str = ""

    def __repr__(self) -> str:
        if self.intact:
            return f"AuditVerification(intact, {self.n_events} events)"
        return f"AuditVerification(BROKEN at event {self.first_bad_seq}: {self.reason})"


def verify_audit_chain(session: Session, *, batch: int = 1000) -> AuditVerification:
    """Recompute the chain and compare it with the stored hashes and the head row.

    Detects an edited event (its hash no longer matches), a deleted event (a gap in ``seq`` and
    a broken link), reordered events (links and hashes fail) and deleted last events (the head
    names a later event than the last one present).
    """
    prev = GENESIS_HASH
    expected_seq = 1
    n = 0
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    )
    for ev in rows.scalars():
        n += 1
        if ev.seq != expected_seq:
            return AuditVerification(
                False,
                n,
                expected_seq,
                f"event {expected_seq} is missing (next present is {ev.seq}): events were deleted",
            )
        if ev.prev_hash != prev:
            return AuditVerification(
                False, n, ev.seq, f"event {ev.seq} does not link to event {ev.seq - 1} (prev_hash)"
            )
        if compute_event_hash(prev, _fields(ev)) != ev.hash:
            return AuditVerification(
                False,
                n,
                ev.seq,
                f"event {ev.seq} was altered (its content does not match its hash)",
            )
        prev = ev.hash
        expected_seq += 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        return AuditVerification(False, n, None, "the chain's head row (audit_head) is missing")
    if head.seq != n or head.hash != prev:
        if head.seq > n:
            return AuditVerification(
                False, n, n + 1, f"events {n + 1}..{head.seq} are missing: events were deleted"
            )
        if head.seq < n:
            return AuditVerification(
                False,
                n,
                head.seq + 1,
                f"events after {head.seq} were added outside readerstation (head is at {head.seq})",
            )
        return AuditVerification(
            False, n, n, f"event {n} does not match the chain's head row (altered or replaced)"
        )
    return AuditVerification(True, n)
