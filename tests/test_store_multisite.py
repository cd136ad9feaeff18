"""The multi-site store on a real PostgreSQL server, as a site runs it.

* The database owner runs the migrations; the workstations connect as an ordinary application
  role (``readerstation_app``, created by ``scripts/test-postgres.sh``) that
  :func:`~readerstation.store.grant_app_role` allows to INSERT and SELECT the audit trail but not
  to UPDATE, DELETE or TRUNCATE it, and that cannot drop or disable the triggers. The database
  itself refuses those, and any change to a signed read.
* Six workstation PROCESSES (multiprocessing, spawn) write drafts and sign different reads at
  once, as the application role: no update is lost, the audit chain verifies, signed reads do
  not change.
* Six processes as three PAIRS of workstations of the same reader save the SAME drafts in lock
  step (optimistic versioning): every save lands or is refused with "reload", and the stored
  draft is the last accepted save (no silent overwrite).

Set ``READERSTATION_TEST_PG_URL`` to the owner's URL (``make test-core`` does);
``READERSTATION_TEST_PG_APP_URL`` names the application role's URL (default: the owner's URL
with user and password ``readerstation_app``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from test_store_support import (
    ADMIN_PW,
    FAST_KDF,
    PG_ENV,
    R1_PW,
    _pg_schema_url,
    make_read,
    make_trial,
    private_pg_schema,
    raw,
)

from readerstation.errors import ConcurrentEditError, ReadLockedError, StoreError
from readerstation.model import ReadStatus, TimepointRead
from readerstation.store import Repository, Store, grant_app_role, open_store
from readerstation.store.auditkey import AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV

APP_ENV = "READERSTATION_TEST_PG_APP_URL"
APP_ROLE = "readerstation_app"
WORKERS = 6
SAVES = 8
WORKER_PW = "workstation-password"


@dataclass(frozen=True)
class Site:
    owner_url: str
    app_url: str


def _app_base(owner: str) -> str:
    if os.environ.get(APP_ENV):
        return os.environ[APP_ENV]
    url = make_url(owner).set(username=APP_ROLE, password=APP_ROLE)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A private schema migrated by the owner and granted to the application role."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"multi-site tests need PostgreSQL: set {PG_ENV} (make test-core does)")
    # one key for the site, given to every workstation (children inherit the environment)
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    monkeypatch.setenv(AUDIT_KEY_FILE_ENV, str(tmp_path / "site-audit.key"))
    with private_pg_schema(base, "rs_site_") as schema:
        owner_url = _pg_schema_url(base, schema)
        with open_store(owner_url) as owner:
            grant_app_role(owner, APP_ROLE)
        yield Site(owner_url, _pg_schema_url(_app_base(base), schema))


@pytest.fixture
def app_store(site: Site) -> Iterator[Store]:
    try:
        s = open_store(site.app_url)
    except StoreError as exc:
        pytest.fail(
            f"cannot connect as the application role ({exc}); run scripts/test-postgres.sh start "
            f"(it creates {APP_ROLE}) or set {APP_ENV}"
        )
    try:
        yield s
    finally:
        s.close()


# -- the application role ------------------------------------------------------------------


def test_the_app_role_works_but_cannot_rewrite_history(site: Site, app_store: Store):
    t = make_trial(app_store)  # everything the workstations do, as the application role
    saved = t.r1.save_draft(make_read("r1", mm=40.0))
    signed = t.r1.sign_read(saved.read_id, R1_PW)
    assert raw(app_store, "SELECT current_user") == [(APP_ROLE,)]
    n = len(t.admin.list_audit())
    refused_by_grants = [
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 2",
        "TRUNCATE audit_events",
        "DELETE FROM audit_head",
        "DELETE FROM reads",
        "UPDATE alembic_version SET version_num = '0000'",
    ]
    for sql in refused_by_grants:
        with pytest.raises(DBAPIError, match="permission denied"):
            raw(app_store, sql)
    refused_as_not_owner = [
        "DROP TRIGGER trg_audit_append_only ON audit_events",
        "DROP TRIGGER trg_reads_signed_immutable ON reads",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "ALTER TABLE reads DISABLE TRIGGER trg_reads_signed_immutable",
        "DROP TABLE audit_events",
    ]
    for sql in refused_as_not_owner:
        with pytest.raises(DBAPIError, match=r"must be (the )?owner"):
            raw(app_store, sql)
    # a signed read: UPDATE is refused by the trigger the role cannot remove
    with pytest.raises(DBAPIError, match="signed read is immutable"):
        raw(app_store, "UPDATE reads SET content = '{}' WHERE id = :i", i=signed.read_id)
    # ... and through the Repository a clear error
    with pytest.raises(ReadLockedError):
        t.r1.save_draft(make_read("r1", mm=41.0))
    assert t.admin.get_read(signed.read_id).to_dict() == signed.to_dict()
    result = t.admin.verify_audit()
    assert result.intact and result.n_events >= n


def test_grant_app_role_refuses_roles_that_would_bypass_it(site: Site, tmp_path: Path):
    with open_store(site.owner_url) as owner:
        [(me,)] = raw(owner, "SELECT current_user")
        with pytest.raises(StoreError, match="owns the store's tables"):
            grant_app_role(owner, me)
        with pytest.raises(StoreError, match="is a superuser"):
            grant_app_role(owner, "postgres")
        with pytest.raises(StoreError, match="no role 'nobody_here'"):
            grant_app_role(owner, "nobody_here")
    with open_store(f"sqlite:///{tmp_path / 'one.sqlite'}") as lite:
        with pytest.raises(StoreError, match="PostgreSQL feature"):
            grant_app_role(lite, APP_ROLE)


# -- six workstations at once ---------------------------------------------------------------


def workstation(url: str, reader: str, saves: int) -> dict[str, Any]:
    """One workstation process: drafts and signatures of the reader's own TP0 and TP1 reads."""
    store = open_store(url)
    try:
        repo = Repository.login(store, reader, WORKER_PW, kdf=FAST_KDF)
        signed: dict[int, dict[str, Any]] = {}
        for label, start in (("TP0", 20.0), ("TP1", 30.0)):
            draft = None
            for i in range(saves):
                draft = repo.save_draft(make_read(reader, label, mm=start + i))
            assert draft is not None and draft.read_id is not None
            read = repo.sign_read(draft.read_id, WORKER_PW)
            signed[draft.read_id] = read.to_dict()
        locked = 0
        try:  # a signed read refuses another save, however many writers there are
            repo.save_draft(make_read(reader, "TP0", mm=99.0))
        except ReadLockedError:
            locked = 1
        return {"reader": reader, "signed": signed, "locked": locked}
    finally:
        store.close()


def test_six_workstation_processes_lose_nothing(site: Site, app_store: Store):
    t = make_trial(app_store)
    readers = [f"w{k}" for k in range(1, WORKERS + 1)]
    for r in readers:
        t.admin.add_user(r, "reader", WORKER_PW)
        t.admin.assign("HCC-001", r)
    # a read signed before the rush must come out of it unchanged
    before = t.r1.sign_read(t.r1.save_draft(make_read("r1", mm=55.0)).read_id, R1_PW)
    [(sha_before,)] = raw(
        app_store, "SELECT content_sha256 FROM reads WHERE id = :i", i=before.read_id
    )
    n_before = len(t.admin.list_audit())

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap(workstation, [(site.app_url, r, SAVES) for r in readers])

    assert sorted(r["reader"] for r in results) == readers
    assert all(r["locked"] == 1 for r in results)
    # every signature is stored exactly as its workstation signed it, last save included
    for res in results:
        assert len(res["signed"]) == 2
        for read_id, content in res["signed"].items():
            stored = t.admin.get_read(read_id)
            assert stored.status is ReadStatus.SIGNED
            assert stored.to_dict() == content
            expected = 20.0 if stored.timepoint.label == "TP0" else 30.0
            assert stored.lesion("T1").measurement.long_axis_mm == expected + SAVES - 1
    assert raw(app_store, "SELECT content_sha256 FROM reads WHERE id = :i", i=before.read_id) == [
        (sha_before,)
    ]
    assert t.admin.get_read(before.read_id).to_dict() == before.to_dict()
    # no lost update: every save and signature is in the trail, in one unbroken chain
    events = t.admin.list_audit()
    new = events[n_before:]
    for r in readers:
        mine = [e for e in new if e.actor == r and e.outcome == "ok"]
        assert sum(e.action == "read.save_draft" for e in mine) == 2 * SAVES
        assert sum(e.action == "read.sign" for e in mine) == 2
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    result = Repository.login(app_store, "admin", ADMIN_PW, kdf=FAST_KDF).verify_audit()
    assert result.intact and result.n_events >= len(events)
    [(n_signed,)] = raw(app_store, "SELECT count(*) FROM reads WHERE status = 'signed'")
    assert n_signed == 2 * WORKERS + 1


# -- pairs of workstations editing the SAME drafts -----------------------------------------------


def paired_workstation(url: str, reader: str, me: int, saves: int, barrier: Any) -> dict[str, Any]:
    """One of two workstations of ``reader``: both save the reader's TP0 draft in lock step.

    Each round both load the stored draft (its revision), meet at ``barrier``, then both save a
    different value based on that revision: exactly one save may land. Round 0 creates the draft
    (both believe nothing is stored yet).
    """
    store = open_store(url)
    try:
        repo = Repository.login(store, reader, WORKER_PW, kdf=FAST_KDF)
        accepted: list[tuple[int, float]] = []  # (revision produced, value saved)
        refused: list[tuple[float, str]] = []
        for i in range(saves):
            mine = [r for r in repo.list_reads("HCC-001") if r.timepoint == "TP0"]
            revision = repo.load_read(mine[-1].read_id).revision if mine else None
            value = 20.0 + i + me / 10.0  # unique per workstation and round
            barrier.wait()
            try:
                saved = repo.save_draft_at(make_read(reader, "TP0", mm=value), revision)
                accepted.append((saved.revision, value))
            except ConcurrentEditError as exc:
                refused.append((value, str(exc)))
            barrier.wait()  # neither loads the next round before both saved
        return {"reader": reader, "me": me, "accepted": accepted, "refused": refused}
    finally:
        store.close()


def test_pairs_of_workstations_saving_the_same_drafts_never_overwrite_silently(
    site: Site, app_store: Store
):
    """Six processes, three readers with two workstations each, all saving at once.

    Every round of a pair is a true conflict (both saves based on the same revision): exactly
    one lands, the other is refused with the "reload" message. The stored draft ends as the last
    accepted save, every accepted save produced its own revision (no two claim the same: no lost
    update), every refusal is audited with the refused content, and the chain verifies.
    """
    t = make_trial(app_store)
    readers = [f"p{k}" for k in range(1, WORKERS // 2 + 1)]
    for r in readers:
        t.admin.add_user(r, "reader", WORKER_PW)
        t.admin.assign("HCC-001", r)
    n_before = len(t.admin.list_audit())
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barriers = {r: manager.Barrier(2, timeout=300) for r in readers}
        jobs = [(site.app_url, r, me, SAVES, barriers[r]) for r in readers for me in (1, 2)]
        with ctx.Pool(WORKERS) as pool:
            results = pool.starmap(paired_workstation, jobs)

    events = t.admin.list_audit()[n_before:]
    for reader in readers:
        pair = [res for res in results if res["reader"] == reader]
        accepted = sorted(a for res in pair for a in res["accepted"])
        refused = [x for res in pair for x in res["refused"]]
        # each round: one save lands, one is refused with the reload message
        assert len(accepted) == SAVES and len(refused) == SAVES
        assert all("reload" in msg and "HCC-001/TP0" in msg for _, msg in refused)
        # revisions 1..SAVES, each produced by exactly one accepted save
        assert [rev for rev, _ in accepted] == list(range(1, SAVES + 1))
        last_revision, last_value = accepted[-1]
        [summary] = [r for r in t.admin.list_reads("HCC-001") if r.reader == reader]
        stored = t.admin.load_read(summary.read_id)
        assert stored.revision == last_revision
        assert stored.read.lesion("T1").measurement.long_axis_mm == last_value
        # the trail holds every accepted save and every refused one, with its content
        mine = [e for e in events if e.actor == reader and e.action == "read.save_draft"]
        assert sum(e.outcome == "ok" for e in mine) == SAVES
        kept = sorted(
            TimepointRead.from_dict(e.after).lesion("T1").measurement.long_axis_mm
            for e in mine
            if e.outcome == "refused"
        )
        assert kept == sorted(v for v, _ in refused)
    everything = t.admin.list_audit()
    assert [e.seq for e in everything] == list(range(1, len(everything) + 1))
    assert Repository.login(app_store, "admin", ADMIN_PW, kdf=FAST_KDF).verify_audit().intact
