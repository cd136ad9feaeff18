# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""The audit key: where it lives, wrong and missing keys, and sealing an older unkeyed store."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from test_store_audit import rechain
from test_store_support import (  # noqa: F401  (fixtures)
    ADMIN_PW,
    FAST_KDF,
    R1_PW,
    make_read,
    make_trial,
    raw,
    store_url,
)

import readerstation.store.audit as audit_mod
from readerstation.errors import StoreError
from readerstation.store import (
    ADOPT_ACTION,
    AuditKey,
    Repository,
    compute_event_hash,
    default_key_path,
    open_store,
)
from readerstation.store.auditkey import AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV, from_key_text

HEX_KEY = "ab" * 32


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private key file for the test (PostgreSQL's default file is shared by every schema)."""
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    path = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv(AUDIT_KEY_FILE_ENV, str(path))
    return path


def test_default_key_paths():
    assert default_key_path("sqlite:////data/trial.sqlite") == Path("/data/trial.sqlite.audit-key")
    assert default_key_path("postgresql+psycopg://u:secret@db.site:5432/trial") == Path(
        "var/audit-postgresql-db.site-5432-trial.key"
    )


def test_key_text_forms_and_refusals():
    raw_key = bytes(range(32))
    assert from_key_text(raw_key.hex(), source="t").secret == raw_key
    assert from_key_text(base64.b64encode(raw_key).decode(), source="t").secret == raw_key
    assert from_key_text(base64.urlsafe_b64encode(raw_key).decode(), source="t").secret == raw_key
    assert from_key_text(raw_key.hex().upper() + "\n", source="t").secret == raw_key
    with pytest.raises(StoreError, match="at least 32 bytes"):
        from_key_text("ab" * 16, source="t")
    with pytest.raises(StoreError, match="hex digits or base64"):
        from_key_text("not a key!", source="t")
    key = AuditKey(raw_key, "t")
    assert raw_key.hex() not in repr(key) and key.fingerprint in repr(key)


def test_new_sqlite_store_creates_a_private_key_file(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    monkeypatch.delenv(AUDIT_KEY_FILE_ENV, raising=False)
    db = tmp_path / "site" / "trial.sqlite"
    store = open_store(f"sqlite:///{db}")
    key_path = Path(f"{db}.audit-key")
    assert not key_path.exists()  # created with the first event, not by opening
    make_trial(store)
    assert key_path.is_file()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key_path.read_text().strip())) == 32
    assert store.audit_keys.load(create=False).source == str(key_path)
    store.close()


def test_a_store_without_its_key_refuses_to_write_and_to_verify(store_url: str, key_file: Path):
    store = open_store(store_url)
    t = make_trial(store)
    n = len(t.admin.list_audit())
    store.close()
    key_file.unlink()
    again = open_store(store_url)
    with pytest.raises(StoreError, match=r"audit key: none found.*READERSTATION_AUDIT_KEY"):
        Repository.login(again, "admin", "wrong-password-0", kdf=FAST_KDF)  # audits a refusal
    admin = Repository.login(again, "admin", ADMIN_PW, kdf=FAST_KDF)  # success writes nothing
    with pytest.raises(StoreError, match="restore the key file"):
        admin.verify_audit()
    assert raw(again, "SELECT count(*) FROM audit_events") == [(n,)]  # nothing written
    assert not key_file.exists()  # and no new key made up for an existing chain
    again.close()


def test_a_wrong_key_refuses_to_write_and_fails_verify(store_url: str, key_file: Path):
    store = open_store(store_url)
    t = make_trial(store)
    good = store.audit_keys.load(create=False)
    n = len(t.admin.list_audit())
    store.close()
    other = open_store(store_url, audit_key=AuditKey(b"w" * 32, "the wrong key"))
    r1 = Repository.login(other, "r1", R1_PW, kdf=FAST_KDF)
    with pytest.raises(StoreError, match="is not the key this store's chain was sealed with"):
        r1.save_draft(make_read("r1"))
    assert raw(other, "SELECT count(*) FROM audit_events") == [(n,)]
    assert raw(other, "SELECT count(*) FROM reads") == [(0,)]  # the save rolled back with it
    admin = Repository.login(other, "admin", ADMIN_PW, kdf=FAST_KDF)
    result = admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 1)
    assert "not the store's key" in result.reason
    other.close()
    # the same key given by the variable (hex) works
    os.environ[AUDIT_KEY_ENV] = good.secret.hex()
    try:
        ok = open_store(store_url)
        assert ok.audit_keys.load(create=False).fingerprint == good.fingerprint
        Repository.login(ok, "r1", R1_PW, kdf=FAST_KDF).save_draft(make_read("r1"))
        assert Repository.login(ok, "admin", ADMIN_PW, kdf=FAST_KDF).verify_audit().intact
        ok.close()
    finally:
        del os.environ[AUDIT_KEY_ENV]


def _unkeyed(_key: AuditKey, prev: str, fields: dict) -> str:
    return compute_event_hash(prev, fields)


def test_an_older_unkeyed_store_is_sealed_once_by_an_admin(
    store_url: str, key_file: Path, monkeypatch: pytest.MonkeyPatch
):
    # a store written by the previous release: plain SHA-256 hashes and no key file
    with monkeypatch.context() as m:
        m.setattr(audit_mod, "compute_event_mac", _unkeyed)
        old = open_store(store_url)
        t = make_trial(old)
        t.r1.save_draft(make_read("r1", mm=33.0))
        old.close()
    key_file.unlink()
    n = raw_count(store_url)

    store = open_store(store_url)
    admin = Repository.login(store, "admin", ADMIN_PW, kdf=FAST_KDF)
    r1 = Repository.login(store, "r1", R1_PW, kdf=FAST_KDF)
    # writing is refused, with the fix named; nothing written, no key made up
    with pytest.raises(StoreError, match=r"none found|adopt-key"):
        r1.save_draft(make_read("r1", mm=34.0))
    assert not key_file.exists()
    # the admin seals it: the key file is created, the adopt event is keyed
    seq = admin.adopt_audit_key()
    assert seq == n + 1 and key_file.is_file()
    adopt = admin.list_audit()[-1]
    assert (adopt.action, adopt.actor, adopt.after["unkeyed_events"]) == (ADOPT_ACTION, "admin", n)
    r1.save_draft(make_read("r1", mm=34.0))
    result = admin.verify_audit()
    assert result.intact and result.keyed_from_seq == n + 1
    with pytest.raises(StoreError, match="already keyed"):
        admin.adopt_audit_key()
    # rewriting the unkeyed part afterwards (re-chained as plain SHA-256) is detected at the
    # adopt event, whose MAC covers the last unkeyed hash
    rechain(store, 3, compute_event_hash, actor_at=3)
    result = admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, n + 1)
    store.close()


def test_a_keyed_store_cannot_be_adopted_again(store_url: str, key_file: Path):
    store = open_store(store_url)
    t = make_trial(store)
    with pytest.raises(StoreError, match="already keyed"):
        t.admin.adopt_audit_key()
    store.close()


def raw_count(url: str) -> int:
    s = open_store(url)
    try:
        [(n,)] = raw(s, "SELECT count(*) FROM audit_events")
        return int(n)
    finally:
        s.close()


@pytest.mark.slow
def test_cli_init_verify_and_a_missing_key(tmp_path: Path):
    from test_store_cli import one_line_error, rs

    db = tmp_path / "trial.sqlite"
    url = f"sqlite:///{db}"
    p = rs("--db", url, "init", "--admin", "boss", new_password=ADMIN_PW)
    assert p.returncode == 0, p.stderr
    key_path = Path(f"{db}.audit-key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    fingerprint = AuditKey(bytes.fromhex(key_path.read_text().strip()), "f").fingerprint
    assert f"audit key {fingerprint} in {key_path}" in p.stdout
    p = rs("--db", url, "--user", "boss", "audit", "verify", "--json", password=ADMIN_PW)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert (out["intact"], out["keyed_from_seq"], out["key_fingerprint"]) == (
        True,
        1,
        fingerprint,
    )
    assert out["head_seq"] == out["n_events"] == 1 and len(out["head_hash"]) == 64
    p = rs("--db", url, "--user", "boss", "audit", "adopt-key", password=ADMIN_PW)
    assert "already keyed" in one_line_error(p)
    key_path.rename(tmp_path / "elsewhere.key")
    p = rs("--db", url, "--user", "boss", "audit", "verify", password=ADMIN_PW)
    assert "READERSTATION_AUDIT_KEY" in one_line_error(p)
    assert not key_path.exists()
