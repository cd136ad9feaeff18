# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Concurrent writers: several processes autosaving at once (every save lands, the audit chain
stays intact), two sessions signing one draft (one wins, the other is told to reload), and two
workstations of the same reader saving the same draft (optimistic versioning: a save based on an
older revision, or a second creation of the same new draft, is refused with "reload"; nothing
is overwritten silently, the refused content is audited).

Six processes on PostgreSQL signing different reads are in test_store_multisite.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from test_store_support import (  # noqa: F401  (fixtures)
    FAST_KDF,
    R1_PW,
    R2_PW,
    Trial,
    make_read,
    raw,
    store,
    store_url,
    trial,
)

from readerstation.errors import (
    ConcurrentEditError,
    ModelError,
    ReaderstationError,
    ReadLockedError,
)
from readerstation.model import ReadStatus, TimepointRead
from readerstation.store import Repository, canonical_json

TESTS = Path(__file__).resolve().parent
SAVES = 15
R3_PW = "third-reader-password"

CHILD = textwrap.dedent(
    """
    import sys
    from readerstation.store import Repository, open_store
    from test_store_support import FAST_KDF, make_read

    url, user, password, label = sys.argv[1:5]
    store = open_store(url)
    repo = Repository.login(store, user, password, kdf=FAST_KDF)
    for i in range({saves}):
        repo.save_draft(make_read(user, label, mm=20.0 + i))
    print("done", flush=True)
    """
)


def test_concurrent_autosaves_keep_the_chain(trial: Trial, store_url: str):
    # three readers (a follow-up opens only once the baseline is signed, so each writes TP0)
    trial.admin.add_user("r3", "reader", R3_PW)
    trial.admin.assign("HCC-001", "r3")
    before = len(trial.admin.list_audit())
    script = CHILD.format(saves=SAVES)
    jobs = [("r1", R1_PW, "TP0"), ("r2", R2_PW, "TP0"), ("r3", R3_PW, "TP0")]
    env = os.environ | {"PYTHONPATH": str(TESTS)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url, user, pw, label],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for user, pw, label in jobs
    ]
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    events = trial.admin.list_audit()
    saves = [e for e in events[before:] if e.action == "read.save_draft"]
    assert len(saves) == SAVES * len(jobs)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    result = trial.admin.verify_audit()
    assert result.intact and result.n_events == len(events)
    last = {(r.reader, r.timepoint) for r in trial.admin.list_reads()}
    assert last == {("r1", "TP0"), ("r2", "TP0"), ("r3", "TP0")}
    for r in trial.admin.list_reads():
        read = trial.admin.get_read(r.read_id)
        assert read.lesion("T1").measurement.long_axis_mm == 20.0 + SAVES - 1


def test_two_sessions_signing_the_same_draft_one_wins_the_other_reloads(trial: Trial):
    """Two workstations of the same reader sign one draft at the same moment.

    Both sessions load and check the draft (step 1 of ``sign_read``) before either writes: the
    ``blockers`` hook, called after those checks, waits at a barrier for the other session. The
    first to write signs; the other is refused with ConcurrentEditError asking to reload.
    """
    draft = trial.r1.save_draft(make_read("r1", mm=44.0))
    second = Repository.login(trial.store, "r1", R1_PW, kdf=FAST_KDF)  # another workstation
    barrier = threading.Barrier(2, timeout=60)

    def wait_for_the_other(_read: object) -> list[str]:
        barrier.wait()
        return []

    outcomes: dict[str, object] = {}

    def sign(name: str, repo: Repository) -> None:
        try:
            outcomes[name] = repo.sign_read(draft.read_id, R1_PW, blockers=wait_for_the_other)
        except ReaderstationError as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=sign, args=(n, r)) for n, r in (("a", trial.r1), ("b", second))
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    signed = [v for v in outcomes.values() if isinstance(v, TimepointRead)]
    refused = [v for v in outcomes.values() if isinstance(v, Exception)]
    assert len(signed) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], ConcurrentEditError)
    assert "reload" in str(refused[0])
    # nothing lost: the signed read is the draft's content; reloading shows it signed
    stored = second.get_read(draft.read_id)
    assert stored.status is ReadStatus.SIGNED
    assert stored.lesion("T1").measurement.long_axis_mm == 44.0
    assert stored.to_dict() == signed[0].to_dict()
    with pytest.raises(ReadLockedError):
        second.sign_read(draft.read_id, R1_PW)
    events = trial.admin.list_audit()
    assert [e.action for e in events if e.outcome == "ok"].count("read.sign") == 1
    assert trial.admin.verify_audit().intact


# -- optimistic versioning: two workstations of the same reader, the same draft ---------------


def _refused_saves(trial: Trial) -> list:
    return [
        e
        for e in trial.admin.list_audit()
        if e.action == "read.save_draft" and e.outcome == "refused"
    ]


def test_a_save_based_on_an_older_revision_is_refused(trial: Trial):
    """Workstation A and B load revision 1; A saves; B's save from revision 1 is refused."""
    a = trial.r1
    b = Repository.login(trial.store, "r1", R1_PW, kdf=FAST_KDF)  # the same reader, elsewhere
    first = a.save_draft_at(make_read("r1", mm=40.0), None)
    assert first.revision == 1
    loaded = b.load_read(first.read.read_id)
    assert loaded.revision == 1 and loaded.read == first.read
    saved_a = a.save_draft_at(make_read("r1", mm=41.0), first.revision)
    assert saved_a.revision == 2
    with pytest.raises(ConcurrentEditError, match="reload") as info:
        b.save_draft_at(make_read("r1", mm=42.0), loaded.revision)
    assert "HCC-001/TP0" in str(info.value) and "revision 1, now 2" in str(info.value)
    # nothing lost: A's save stays, B's refused content is in the audit trail
    stored = trial.admin.load_read(first.read.read_id)
    assert stored.revision == 2
    assert stored.read.lesion("T1").measurement.long_axis_mm == 41.0
    [refusal] = _refused_saves(trial)
    assert refusal.actor == "r1" and "reload" in refusal.detail
    kept = TimepointRead.from_dict(refusal.after)
    assert kept.lesion("T1").measurement.long_axis_mm == 42.0
    # identical content at the current revision writes nothing and keeps the revision
    assert a.save_draft_at(make_read("r1", mm=41.0), 2).revision == 2
    # the same through save_draft(expected_revision=...) and sign_read(expected_revision=...)
    with pytest.raises(ConcurrentEditError, match="reload"):
        b.save_draft(make_read("r1", mm=43.0), expected_revision=1)
    with pytest.raises(ConcurrentEditError, match="reload"):
        b.sign_read(first.read.read_id, R1_PW, expected_revision=1)
    assert trial.admin.get_read(first.read.read_id).status is ReadStatus.DRAFT
    signed = b.sign_read(first.read.read_id, R1_PW, expected_revision=2)
    assert signed.lesion("T1").measurement.long_axis_mm == 41.0
    # A still believes revision 2: the signature is a conflict to reload, not a silent loss
    with pytest.raises(ConcurrentEditError, match="reload"):
        a.save_draft_at(make_read("r1", mm=44.0), 2)
    assert trial.admin.verify_audit().intact


def test_creating_the_same_draft_twice_one_creates_the_other_reloads(trial: Trial):
    a = trial.r1
    b = Repository.login(trial.store, "r1", R1_PW, kdf=FAST_KDF)
    created = a.save_draft_at(make_read("r1", mm=40.0), None)
    with pytest.raises(ConcurrentEditError, match=r"created this draft first.*reload"):
        b.save_draft_at(make_read("r1", mm=50.0), None)
    assert trial.admin.get_read(created.read.read_id) == created.read
    with pytest.raises(ModelError, match="revision"):
        b.save_draft_at(make_read("r1", mm=50.0), 0)
    # the unchecked form (scripts, a single writer) still replaces what is stored
    assert b.save_draft(make_read("r1", mm=50.0)).lesion("T1").measurement.long_axis_mm == 50.0


def test_two_inserts_of_a_new_draft_at_the_same_moment_on_postgresql(trial: Trial):
    """The race inside the database: both sessions see no draft, both INSERT.

    Another workstation's INSERT of the same new draft is held open (not committed) on a raw
    connection; this workstation's save then sees no draft, INSERTs, and waits on the unique
    (timepoint, reader, version) index. Once the other commits, the save is refused with the
    "reload" conflict (not a database error) and the other's draft is what is stored.
    """
    store = trial.store
    if store.dialect != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN: the second writer sees the first row")
    [(subject_id, tp_id)] = raw(
        store,
        "SELECT s.id, t.id FROM subjects s JOIN timepoints t ON t.subject_id = s.id "
        "WHERE s.code = 'HCC-001' AND t.label = 'TP0'",
    )
    [(reader_id,)] = raw(store, "SELECT id FROM users WHERE name = 'r1'")
    other = canonical_json(make_read("r1", mm=41.0).to_dict())
    outcome: dict[str, object] = {}

    def save() -> None:
        try:
            outcome["saved"] = trial.r1.save_draft_at(make_read("r1", mm=42.0), None)
        except ReaderstationError as exc:
            outcome["error"] = exc

    with store.engine.connect() as conn:
        tx = conn.begin()
        conn.execute(
            text(
                "INSERT INTO reads (subject_id, timepoint_id, reader_id, read_version, status, "
                "content, content_sha256, created_at, updated_at, version) VALUES (:s, :t, :r, 1, "
                "'draft', :c, :h, now(), now(), 1)"
            ),
            {"s": subject_id, "t": tp_id, "r": reader_id, "c": other, "h": "0" * 64},
        )
        holder = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        worker = threading.Thread(target=save)
        worker.start()
        waiting = 0
        for _ in range(6000):  # until the save's INSERT waits on the other's uncommitted row
            [(waiting,)] = raw(
                store,
                "SELECT count(*) FROM pg_stat_activity WHERE :h = ANY(pg_blocking_pids(pid))",
                h=holder,
            )
            if waiting or not worker.is_alive():
                break
            time.sleep(0.01)
        assert waiting, outcome
        tx.commit()
    worker.join(timeout=120)
    error = outcome.get("error")
    assert isinstance(error, ConcurrentEditError), outcome
    assert "same moment" in str(error) and "reload" in str(error)
    [stored] = trial.admin.list_reads("HCC-001")
    read = trial.admin.get_read(stored.read_id)
    assert read.lesion("T1").measurement.long_axis_mm == 41.0
    assert [e.detail for e in _refused_saves(trial)] == [str(error)]
    assert trial.admin.verify_audit().intact
