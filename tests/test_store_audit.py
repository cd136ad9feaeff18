# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""The hash-chained audit trail: append-only in the database, tampering detected by verify.

Key handling (files, variables, wrong and missing keys, older unkeyed stores) is in
test_store_auditkey.py.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json

import pytest
from sqlalchemy.exc import DBAPIError
from test_store_support import (  # noqa: F401  (fixtures)
    R1_PW,
    Trial,
    drop_audit_triggers,
    make_read,
    raw,
    store,
    store_url,
    trial,
)

from readerstation.store import (
    GENESIS_HASH,
    AuditKey,
    canonical_json,
    compute_event_hash,
    compute_event_mac,
)


def busy(trial: Trial) -> int:
    """Some activity (saves, a sign, a refusal); returns the number of events."""
    saved = trial.r1.save_draft(make_read("r1", mm=40.0))
    trial.r1.save_draft(make_read("r1", mm=41.0))
    trial.r1.sign_read(saved.read_id, R1_PW)
    try:
        trial.r2.get_read(saved.read_id)
    except PermissionError:
        pass
    return len(trial.admin.list_audit())


def test_hash_is_sha256_of_previous_hash_and_canonical_json():
    fields = {
        "seq": 1,
        "ts": "2024-01-01T00:00:00.000000+00:00",
        "actor": "a",
        "action": "x",
        "entity_type": "user",
        "entity_id": "a",
        "outcome": "ok",
        "detail": "",
        "before": None,
        "after": '{"k":1}',
    }
    canonical = (
        '{"action":"x","actor":"a","after":"{\\"k\\":1}","before":null,"detail":"",'
        '"entity_id":"a","entity_type":"user","outcome":"ok","seq":1,'
        '"ts":"2024-01-01T00:00:00.000000+00:00"}'
    )
    assert json.loads(canonical) == fields
    expected = hashlib.sha256((GENESIS_HASH + canonical).encode()).hexdigest()
    assert compute_event_hash(GENESIS_HASH, fields) == expected


def test_chain_links_every_event_to_the_previous(trial: Trial):
    n = busy(trial)
    rows = raw(trial.store, "SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, n + 1))
    assert rows[0][1] == GENESIS_HASH
    for (_, _, h), (_, prev, _) in itertools.pairwise(rows):
        assert prev == h
    [(head_seq, head_hash)] = raw(trial.store, "SELECT seq, hash FROM audit_head")
    assert (head_seq, head_hash) == (n, rows[-1][2])
    result = trial.admin.verify_audit()
    assert result.intact and result.n_events == n
    assert "intact" in repr(result)


def test_audit_rows_cannot_be_changed_or_deleted_in_sql(trial: Trial):
    busy(trial)
    with pytest.raises(DBAPIError, match="append-only"):
        raw(trial.store, "UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 2")
    with pytest.raises(DBAPIError, match="append-only"):
        raw(trial.store, "DELETE FROM audit_events WHERE seq = 2")
    assert trial.admin.verify_audit().intact


def test_verify_detects_an_edited_event(trial: Trial):
    busy(trial)
    drop_audit_triggers(trial.store)
    raw(trial.store, "UPDATE audit_events SET actor = 'r2' WHERE seq = 8")
    result = trial.admin.verify_audit()
    assert not result.intact
    assert result.first_bad_seq == 8
    assert "altered" in result.reason


def test_verify_detects_a_deleted_event(trial: Trial):
    busy(trial)
    drop_audit_triggers(trial.store)
    raw(trial.store, "DELETE FROM audit_events WHERE seq = 5")
    result = trial.admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 5)
    assert "missing" in result.reason


def test_verify_detects_deleted_last_events(trial: Trial):
    n = busy(trial)
    drop_audit_triggers(trial.store)
    raw(trial.store, "DELETE FROM audit_events WHERE seq >= :s", s=n - 1)
    result = trial.admin.verify_audit()  # this call is itself audited after the check
    assert (result.intact, result.first_bad_seq) == (False, n - 1)


def test_verify_detects_swapped_order(trial: Trial):
    busy(trial)
    drop_audit_triggers(trial.store)
    raw(trial.store, "UPDATE audit_events SET seq = -1 WHERE seq = 6")
    raw(trial.store, "UPDATE audit_events SET seq = 6 WHERE seq = 7")
    raw(trial.store, "UPDATE audit_events SET seq = 7 WHERE seq = -1")
    result = trial.admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 6)


def _row_fields(store, seq: int) -> tuple[dict, str]:
    [(seq, ts, actor, action, et, eid, outcome, detail, before, after, prev)] = raw(
        store,
        "SELECT seq, ts, actor, action, entity_type, entity_id, outcome, detail, before_json, "
        "after_json, prev_hash FROM audit_events WHERE seq = :s",
        s=seq,
    )
    fields = {
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "action": action,
        "entity_type": et,
        "entity_id": eid,
        "outcome": outcome,
        "detail": detail,
        "before": before,
        "after": after,
    }
    return fields, prev


def rechain(store, start: int, digest, *, actor_at: int | None = None) -> None:
    """What someone with database access but no key does: edit, recompute every later hash and
    the head with ``digest(prev, fields)``."""
    drop_audit_triggers(store)
    [(n,)] = raw(store, "SELECT max(seq) FROM audit_events")
    prev = GENESIS_HASH
    if start > 1:
        [(prev,)] = raw(store, "SELECT hash FROM audit_events WHERE seq = :s", s=start - 1)
    for seq in range(start, n + 1):
        fields, _ = _row_fields(store, seq)
        if seq == actor_at:
            fields["actor"] = "someone-else"
        h = digest(prev, fields)
        raw(
            store,
            "UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s",
            a=fields["actor"],
            p=prev,
            h=h,
            s=seq,
        )
        prev = h
    raw(store, "UPDATE audit_head SET seq = :n, hash = :h", n=n, h=prev)


def test_verify_detects_a_rehashed_forgery_through_the_next_link(trial: Trial):
    # an attacker who edits an event and recomputes only its hash breaks it (no key) and the
    # next link
    busy(trial)
    drop_audit_triggers(trial.store)
    fields, prev = _row_fields(trial.store, 4)
    fields["actor"] = "someone-else"
    raw(
        trial.store,
        "UPDATE audit_events SET actor = 'someone-else', hash = :h WHERE seq = 4",
        h=compute_event_hash(prev, fields),
    )
    result = trial.admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 4)
    assert "altered" in result.reason


def test_verify_detects_an_edit_rechained_with_plain_sha256_and_new_head(trial: Trial):
    # the whole chain after the edit recomputed as the old unkeyed scheme, head moved too: every
    # link and the head agree, but the edited event's hash is not a MAC under the key
    n = busy(trial)
    rechain(trial.store, 4, compute_event_hash, actor_at=4)
    links = raw(trial.store, "SELECT prev_hash, hash FROM audit_events ORDER BY seq")
    assert all(links[i][0] == links[i - 1][1] for i in range(1, len(links)))
    assert raw(trial.store, "SELECT seq FROM audit_head") == [(n,)]
    result = trial.admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 4)
    assert "altered" in result.reason


def test_verify_detects_a_whole_chain_rewritten_unkeyed(trial: Trial):
    # rewriting from event 1 as plain SHA-256 (posing as an old, unkeyed store) is reported
    busy(trial)
    rechain(trial.store, 1, compute_event_hash, actor_at=3)
    result = trial.admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 1)
    assert "not sealed with a key" in result.reason


def test_verify_detects_a_chain_rewritten_under_another_key(trial: Trial):
    busy(trial)
    mallory = AuditKey(b"m" * 32, "mallory")
    rechain(trial.store, 1, lambda p, f: compute_event_mac(mallory, p, f), actor_at=3)
    result = trial.admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 1)
    assert "not the store's key" in result.reason


def test_event_hash_is_hmac_sha256_under_the_key(trial: Trial):
    busy(trial)
    key = trial.store.audit_keys.load(create=False)
    for seq in (1, 5):
        fields, prev = _row_fields(trial.store, seq)
        [(h,)] = raw(trial.store, "SELECT hash FROM audit_events WHERE seq = :s", s=seq)
        expected = hmac.new(
            key.secret, (prev + canonical_json(fields)).encode(), hashlib.sha256
        ).hexdigest()
        assert h == expected != compute_event_hash(prev, fields)
    result = trial.admin.verify_audit()
    assert (result.keyed_from_seq, result.key_fingerprint) == (1, key.fingerprint)


def test_audit_list_shows_who_when_what_with_before_after(trial: Trial):
    busy(trial)
    events = trial.admin.list_audit()
    actions = [(e.actor, e.action, e.outcome) for e in events]
    assert actions[:2] == [("admin", "store.init", "ok"), ("admin", "user.add", "ok")]
    assert ("r1", "read.sign", "ok") in actions
    assert ("r2", "read.get", "refused") in actions
    sign = next(e for e in events if e.action == "read.sign")
    assert sign.before["status"] == "draft" and sign.after["status"] == "signed"
    assert sign.ts.endswith("+00:00")
