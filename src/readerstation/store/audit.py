"""The append-only, hash-chained audit trail, sealed with a key kept outside the database.

Every event stores ``hash = HMAC-SHA256(key, prev_hash + canonical JSON of the event)`` where
``prev_hash`` is the previous event's hash (64 zeros for the first event), ``key`` is the store's
audit key (:mod:`readerstation.store.auditkey`: never in the database) and the canonical JSON
holds ``seq``, ``ts``, ``actor``, ``action``, ``entity_type``, ``entity_id``, ``outcome``,
``detail``, ``before`` and ``after`` (keys sorted, no spaces, UTF-8). Editing any field, deleting
or reordering events breaks the chain; the ``audit_head`` row (last ``seq`` and ``hash``, written
in the same transaction as each event) also reveals deleted *last* events. Because the hash is
keyed, someone who rewrites the database without the key cannot recompute a valid chain.

Stores written before keyed audit trails hold plain ``SHA-256(prev_hash + canonical JSON)``
hashes. They are sealed once by an admin (:func:`adopt_audit_key`, ``readerstation audit
adopt-key``), which appends an ``audit.key.adopt`` event: events before the first such event
verify as plain SHA-256, that event and every later one as HMAC (the adopt event's MAC covers
the last unkeyed hash, so the unkeyed part cannot be rewritten afterwards either). A chain with
no adopt event must be keyed from event 1; an unkeyed one is reported, and refused for writing,
with the fix named.

Appending locks the head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions
begin IMMEDIATE), so concurrent writers extend the chain one after the other. The first append
of an open store also checks its key against the chain (event 1, or the adopt event), so a
workstation with the wrong key refuses to write instead of breaking the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, func, select
from sqlalchemy.orm import Session

from readerstation.errors import ConcurrentEditError, StoreError
from readerstation.store.auditkey import AuditKey, AuditKeySource
from readerstation.store.schema import AuditEvent, AuditHead, User

__all__ = [
    "ADOPT_ACTION",
    "AUDIT_KEYS_INFO",
    "GENESIS_HASH",
    "INIT_ACTION",
    "AuditRecord",
    "AuditVerification",
    "adopt_audit_key",
    "append_event",
    "canonical_json",
    "compute_event_hash",
    "compute_event_mac",
    "iter_audit_records",
    "verify_audit_chain",
]

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first event."""

ADOPT_ACTION = "audit.key.adopt"
"""Action of the event that seals an unkeyed (older) chain under the key."""

INIT_ACTION = "store.init"
"""Action of the event that creates a store's first admin: every store with users has one."""

AUDIT_KEYS_INFO = "readerstation_audit_keys"
"""Key of ``Session.info`` holding the store's :class:`AuditKeySource` (set by ``Store``)."""


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
_FIRST_ADOPT = select(func.min(_EVENTS.c.seq)).where(
    _EVENTS.c.action == ADOPT_ACTION, _EVENTS.c.outcome == "ok"
)
_FIRST_INIT = select(func.min(_EVENTS.c.seq)).where(
    _EVENTS.c.action == INIT_ACTION, _EVENTS.c.outcome == "ok"
)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no insignificant spaces, non-ASCII kept (the hashed form)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """Plain SHA-256 (hex) of ``prev_hash`` + canonical JSON: the unkeyed (pre-key) event hash."""
    payload = prev_hash + canonical_json(fields)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def compute_event_mac(key: AuditKey, prev_hash: str, fields: dict[str, Any]) -> str:
    """HMAC-SHA256 (hex) under ``key`` of ``prev_hash`` + canonical JSON: the event hash."""
    return key.compute_mac(prev_hash + canonical_json(fields))


def _fields(ev: AuditEvent | Row[Any]) -> dict[str, Any]:
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


def _key_source(session: Session, given: AuditKeySource | None) -> AuditKeySource:
    if given is not None:
        return given
    source = session.info.get(AUDIT_KEYS_INFO)
    if not isinstance(source, AuditKeySource):
        raise StoreError(
            "audit trail: this session carries no audit key source; open the store with "
            "readerstation.store.open_store and use its sessions."
        )
    return source


def _event(conn: Connection, seq: int) -> Row[Any] | None:
    return conn.execute(select(_EVENTS).where(_EVENTS.c.seq == seq)).first()


def _is_unkeyed_first_event(ev: Row[Any] | AuditEvent) -> bool:
    return ev.seq == 1 and compute_event_hash(ev.prev_hash, _fields(ev)) == ev.hash


def _check_key(conn: Connection, key: AuditKey) -> None:
    """Refuse to write with a key that is not the one the chain was sealed with."""
    adopt_seq = conn.execute(_FIRST_ADOPT).scalar()
    ev = _event(conn, adopt_seq if adopt_seq is not None else 1)
    if ev is None:
        return  # an empty chain: anything goes (the head row check happens on verify)
    if compute_event_mac(key, ev.prev_hash, _fields(ev)) == ev.hash:
        return
    if adopt_seq is None and _is_unkeyed_first_event(ev):
        raise StoreError(
            "audit trail: this store's events are not sealed with a key (it was written before "
            "keyed audit trails); an admin seals it once with: readerstation audit adopt-key "
            "(then every workstation uses that key)."
        )
    raise StoreError(
        f"audit trail: the audit key {key.fingerprint} (from {key.source}) is not the key this "
        f"store's chain was sealed with (event {ev.seq} does not match it); use the site's key "
        "file or $READERSTATION_AUDIT_KEY, or run readerstation audit verify to check the chain."
    )


def _key_for_append(session: Session, source: AuditKeySource, head_seq: int) -> AuditKey:
    if source.checked:
        return source.load(create=False)
    # a new chain may create the key file (init, the first write of a new store)
    key = source.load(create=head_seq == 0)
    if head_seq > 0:
        _check_key(session.connection(), key)
    source.checked = True
    return key


def _write_event(
    session: Session, head: Row[Any, Any, Any], key: AuditKey, fields: dict[str, Any]
) -> None:
    digest = compute_event_mac(key, head.hash, fields)
    conn = session.connection()
    conn.execute(
        _INSERT_EVENT,
        {
            "seq": fields["seq"],
            "ts": fields["ts"],
            "actor": fields["actor"],
            "action": fields["action"],
            "entity_type": fields["entity_type"],
            "entity_id": fields["entity_id"],
            "outcome": fields["outcome"],
            "detail": fields["detail"],
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


def _lock_head(session: Session) -> Row[Any, Any, Any]:
    head = session.connection().execute(_LOCK_HEAD).first()
    if head is None:
        raise StoreError(
            "audit trail: the head row is missing (audit_head id 1); the store was not created "
            "by readerstation's migrations or was tampered with. Run readerstation audit verify."
        )
    return head


def _new_fields(
    seq: int,
    actor: str | None,
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    outcome: str,
    detail: str,
    before: Any,
    after: Any,
) -> dict[str, Any]:
    return {
        "seq": seq,
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
    keys: AuditKeySource | None = None,
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
    keys : AuditKeySource or None
        Where the audit key comes from; None means the one the store put in ``session.info``.

    Returns
    -------
    int
        The event's sequence number.

    Raises
    ------
    StoreError
        No audit key for a chain that has events, a key that is not the chain's, or an unkeyed
        (older) chain that an admin has not sealed yet (``readerstation audit adopt-key``).
    """
    source = _key_source(session, keys)
    # Core statements, not the ORM unit of work: this runs on every autosave.
    head = _lock_head(session)
    key = _key_for_append(session, source, head.seq)
    fields = _new_fields(
        head.seq + 1, actor, action, entity_type, entity_id, outcome, detail, before, after
    )
    _write_event(session, head, key, fields)
    return int(fields["seq"])


def adopt_audit_key(
    session: Session, *, actor: str | None, keys: AuditKeySource | None = None
) -> int:
    """Seal a chain written before keyed audit trails under the store's key (creating its file).

    Checks the unkeyed chain (plain SHA-256) first and refuses a broken one; then appends an
    ``audit.key.adopt`` event, MAC'd under the key, whose ``after`` records the number of
    unkeyed events, the last unkeyed hash and the key's fingerprint.

    Returns
    -------
    int
        The adopt event's sequence number.

    Raises
    ------
    StoreError
        The chain is empty or already keyed (nothing to adopt), or the unkeyed chain is broken.
    """
    source = _key_source(session, keys)
    head = _lock_head(session)
    conn = session.connection()
    if head.seq == 0:
        raise StoreError(
            "audit adopt-key: the audit trail is empty; a new store is keyed from its first "
            "event, there is nothing to adopt."
        )
    first = _event(conn, 1)
    if conn.execute(_FIRST_ADOPT).scalar() is not None or (
        first is not None and not _is_unkeyed_first_event(first)
    ):
        raise StoreError(
            "audit adopt-key: the audit trail is already keyed; run readerstation audit verify "
            "to check it with the site's key."
        )
    check = _verify(session, None, unkeyed_only=True)
    if not check.intact:
        raise StoreError(
            f"audit adopt-key: the unkeyed chain is broken ({check.reason}); it cannot be sealed "
            "as it is. Restore the database from a backup, then adopt the key."
        )
    key = source.load(create=True)
    fields = _new_fields(
        head.seq + 1,
        actor,
        ADOPT_ACTION,
        "audit",
        None,
        "ok",
        f"audit trail sealed with key {key.fingerprint}; events 1..{head.seq} were unkeyed",
        None,
        {"unkeyed_events": head.seq, "unkeyed_head": head.hash, "key": key.fingerprint},
    )
    _write_event(session, head, key, fields)
    source.checked = True
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
    keyed_from_seq : int or None
        First event sealed with the key (1 for a store created keyed, the adopt event for an
        older store; None for an empty chain).
    key_fingerprint : str
        Fingerprint of the key used (empty for an empty chain).
    head_seq, head_hash : int and str
        The chain's head as stored; record it outside the database (a printout, another
        system) to detect later deletion of the last events by a database owner.
    """

    intact: bool
    n_events: int
    first_bad_seq: int | None = None
    reason: str = ""
    keyed_from_seq: int | None = None
    key_fingerprint: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    def __repr__(self) -> str:
        if self.intact:
            return (
                f"AuditVerification(intact, {self.n_events} events, keyed from event "
                f"{self.keyed_from_seq}, key {self.key_fingerprint or '-'})"
            )
        return f"AuditVerification(BROKEN at event {self.first_bad_seq}: {self.reason})"


def verify_audit_chain(
    session: Session, *, batch: int = 1000, keys: AuditKeySource | None = None
) -> AuditVerification:
    """Recompute the chain with the audit key and compare it with the stored hashes and head.

    Detects an edited event (its hash no longer matches), a deleted event (a gap in ``seq`` and
    a broken link), reordered events (links and hashes fail), deleted last events (the head
    names a later event than the last one present), and a chain re-computed by someone without
    the key (edited events with fresh plain or wrongly keyed hashes and head: event hashes fail).

    Raises
    ------
    StoreError
        The chain has events and no audit key is configured.
    """
    return _verify(session, _key_source(session, keys), batch=batch)


def _verify(
    session: Session,
    source: AuditKeySource | None,
    *,
    batch: int = 1000,
    unkeyed_only: bool = False,
) -> AuditVerification:
    adopt_seq = None if unkeyed_only else session.execute(_FIRST_ADOPT).scalar()
    keyed_from = adopt_seq if adopt_seq is not None else 1
    key: AuditKey | None = None
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
        keyed = not unkeyed_only and ev.seq >= keyed_from
        if keyed:
            if key is None:
                if source is None:
                    raise StoreError("audit verify: a keyed event needs the store's audit key.")
                key = source.load(create=False)
            expected = compute_event_mac(key, prev, _fields(ev))
        else:
            expected = compute_event_hash(prev, _fields(ev))
        if expected != ev.hash:
            if keyed and ev.seq == 1 and _is_unkeyed_first_event(ev):
                reason = (
                    "the chain is not sealed with a key: event 1 carries a plain SHA-256 hash and "
                    "no audit.key.adopt event follows. A store written before keyed audit trails "
                    "is sealed once with readerstation audit adopt-key; a store created with a "
                    "key that shows this was rewritten by someone without the key"
                )
            elif keyed and key is not None and ev.seq == keyed_from:
                reason = (
                    f"event {ev.seq} does not match under the audit key {key.fingerprint} (from "
                    f"{key.source}): it was altered, or this is not the store's key"
                )
            else:
                reason = f"event {ev.seq} was altered (its content does not match its hash)"
            return AuditVerification(False, n, ev.seq, reason)
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
    if not unkeyed_only and session.execute(_FIRST_INIT).scalar() is None:
        # users are only ever created by audited writes, the first one by store.init: a store
        # with users and no such event had its trail deleted (and maybe restarted since)
        n_users = session.execute(select(func.count()).select_from(User)).scalar_one()
        if n_users:
            return AuditVerification(
                False,
                n,
                1,
                f"the store has {n_users} user(s) but its audit trail has no {INIT_ACTION} "
                "event: the trail was deleted (and restarted); restore the database from a "
                "backup",
            )
    return AuditVerification(
        True,
        n,
        keyed_from_seq=None if n == 0 or unkeyed_only else keyed_from,
        key_fingerprint="" if key is None else key.fingerprint,
        head_seq=head.seq,
        head_hash=head.hash,
    )
