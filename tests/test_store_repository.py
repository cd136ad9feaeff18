# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""The Repository on a real database: roles, blinding, drafts, signing, versions, immutability."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from test_store_support import (  # noqa: F401  (fixtures)
    ADMIN_PW,
    FAST_KDF,
    R1_PW,
    UID,
    Trial,
    make_read,
    raw,
    store,
    store_url,
    trial,
)

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
from readerstation.model import ReadStatus, Subject, Timepoint, UserRole
from readerstation.store import Repository, create_first_admin
from readerstation.store.schema import ReadRow

UID_B = "1.2.826.0.1.3680043.8.498.78"


def refusals(t: Trial) -> list[tuple[str | None, str, str | None]]:
    return [
        (e.actor, e.action, e.entity_id) for e in t.admin.list_audit() if e.outcome == "refused"
    ]


# -- users and roles --------------------------------------------------------------------------


def test_errors_are_readerstation_and_permission_errors():
    assert issubclass(AccessDenied, ReaderstationError)
    assert issubclass(AccessDenied, PermissionError)


def test_login(trial: Trial):
    assert trial.r1.user.role is UserRole.READER
    with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
        Repository.login(trial.store, "r1", "not-the-password", kdf=FAST_KDF)
    with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
        Repository.login(trial.store, "nobody", "whatever-password", kdf=FAST_KDF)
    assert [("r1", "login", "r1"), ("nobody", "login", "nobody")] == refusals(trial)


def test_password_is_stored_as_argon2id_hash(trial: Trial):
    [(h,)] = raw(trial.store, "SELECT password_hash FROM users WHERE name = 'r1'")
    assert h.startswith("$argon2id$")
    assert R1_PW not in h


def test_first_admin_only_once(trial: Trial):
    with pytest.raises(StoreError, match="already has 4 user"):
        create_first_admin(trial.store, "intruder", "intruder-password", kdf=FAST_KDF)
    assert (None, "store.init", "intruder") in refusals(trial)


def test_only_admin_manages_users_and_subjects(trial: Trial):
    for repo in (trial.r1, trial.adj):
        with pytest.raises(AccessDenied, match="needs role admin"):
            repo.add_user("mallory", "admin", "mallory-password")
        with pytest.raises(AccessDenied):
            repo.list_users()
        with pytest.raises(AccessDenied):
            repo.add_subject(Subject("HCC-999"))
        with pytest.raises(AccessDenied):
            repo.assign("HCC-001", "r1")
        with pytest.raises(AccessDenied):
            repo.list_audit()
        with pytest.raises(AccessDenied):
            repo.verify_audit()
    assert [u.name for u in trial.admin.list_users()] == ["adj", "admin", "r1", "r2"]
    assert ("r1", "user.add", "mallory") in refusals(trial)
    assert ("adj", "audit.list", None) in refusals(trial)


def test_bad_user_input_refused(trial: Trial):
    with pytest.raises(ModelError, match="at least 8"):
        trial.admin.add_user("short", "reader", "1234567")
    with pytest.raises(ModelError, match="reader, adjudicator or admin"):
        trial.admin.add_user("x", "superuser", "long-enough-pw")
    with pytest.raises(StoreError, match="already exists"):
        trial.admin.add_user("r1", "reader", "long-enough-pw")


def test_only_readers_write_reads_and_adjudicators_see_none(trial: Trial):
    with pytest.raises(AccessDenied, match="needs role reader"):
        trial.admin.save_draft(make_read("admin"))
    saved = trial.r1.save_draft(make_read("r1"))
    with pytest.raises(AccessDenied):
        trial.adj.get_read(saved.read_id)
    with pytest.raises(AccessDenied):
        trial.adj.list_reads()
    with pytest.raises(AccessDenied):
        trial.adj.export_reads()
    # the admin sees every read
    assert trial.admin.get_read(saved.read_id) == saved


# -- blinding --------------------------------------------------------------------------------


def test_reader_cannot_see_another_readers_read_by_any_path(trial: Trial):
    a = trial.r1.save_draft(make_read("r1", mm=50.0))
    trial.r1.sign_read(a.read_id, R1_PW)
    b = trial.r2.save_draft(make_read("r2", mm=61.0))
    # get by id: the other reader's id and a non-existent id give the same refusal
    with pytest.raises(AccessDenied, match=f"read {a.read_id} is not one of your reads"):
        trial.r2.get_read(a.read_id)
    with pytest.raises(AccessDenied, match="read 9999 is not one of your reads"):
        trial.r2.get_read(9999)
    # sign / amend by a guessed id
    with pytest.raises(AccessDenied):
        trial.r2.sign_read(a.read_id, "reader-two-password")
    with pytest.raises(AccessDenied):
        trial.r2.amend_read(a.read_id)
    # list and export
    assert [(r.reader, r.read_id) for r in trial.r2.list_reads()] == [("r2", b.read_id)]
    assert trial.r2.list_reads("HCC-001") == trial.r2.list_reads()
    assert trial.r2.export_reads() == []  # r2 has nothing signed; r1's signed read is not there
    assert [r.reader for r in trial.r1.export_reads()] == ["r1"]
    # writing a read in another reader's name
    with pytest.raises(AccessDenied, match="belongs to 'r1'"):
        trial.r2.save_draft(make_read("r1"))
    # every refusal is audited with who tried what on which id
    got = refusals(trial)
    for entry in [
        ("r2", "read.get", str(a.read_id)),
        ("r2", "read.get", "9999"),
        ("r2", "read.sign", str(a.read_id)),
        ("r2", "read.amend", str(a.read_id)),
        ("r2", "read.save_draft", "HCC-001/TP0"),
    ]:
        assert entry in got
    # r2's content never leaked: the admin sees both with their own numbers
    everything = {r.reader: r.read_id for r in trial.admin.list_reads()}
    assert everything == {"r1": a.read_id, "r2": b.read_id}


def test_reader_only_reads_assigned_subjects(trial: Trial):
    trial.admin.add_subject(Subject("HCC-002"))
    trial.admin.add_timepoint("HCC-002", Timepoint("TP0", dt.date(2024, 3, 1)))
    read = make_read("r1")
    other = type(read)(Subject("HCC-002"), Timepoint("TP0"), "r1", read.lesions)
    with pytest.raises(AccessDenied, match="not in your worklist"):
        trial.r1.save_draft(other)
    trial.admin.assign("HCC-002", "r1")
    assert trial.r1.save_draft(other).read_id is not None
    with pytest.raises(StoreError, match="no timepoint 'TP7'"):
        trial.r1.save_draft(make_read("r1", label="TP7", date=dt.date(2024, 5, 1)))


def test_worklist_lists_only_the_readers_own_assigned_timepoints(trial: Trial):
    trial.admin.add_subject(Subject("HCC-002"))
    trial.admin.add_timepoint("HCC-002", Timepoint("TP0", dt.date(2024, 3, 1), UID_B))
    trial.admin.assign("HCC-002", "r2")
    # r1 is assigned HCC-001 only; HCC-002 (r2's) must not appear, not even by asking for it
    r1 = [
        (s.code, t.label, t.scan_date, t.study_uid) for s, t in trial.r1.list_assigned_timepoints()
    ]
    assert r1 == [
        ("HCC-001", "TP0", dt.date(2024, 1, 5), UID),
        ("HCC-001", "TP1", dt.date(2024, 2, 20), UID),
    ]
    assert trial.r1.list_assigned_timepoints("HCC-002") == []
    assert trial.r1.list_assigned_timepoints("HCC-404") == []
    r2 = [(s.code, t.label) for s, t in trial.r2.list_assigned_timepoints("HCC-002")]
    assert r2 == [("HCC-002", "TP0")]
    assert len(trial.r2.list_assigned_timepoints()) == 3
    # role-checked and audited: an adjudicator or an admin has no worklist
    for repo in (trial.adj, trial.admin):
        with pytest.raises(AccessDenied, match="needs role reader"):
            repo.list_assigned_timepoints()
    audit = trial.admin.list_audit()
    listed = [(e.actor, e.entity_id, e.detail) for e in audit if e.action == "worklist.list"]
    assert ("r1", None, "2 timepoints") in listed
    assert ("r1", "HCC-002", "0 timepoints") in listed
    assert ("adj", "worklist.list", None) in refusals(trial)


# -- drafts ----------------------------------------------------------------------------------


def test_autosave_replaces_draft_and_audits_before_after(trial: Trial):
    first = trial.r1.save_draft(make_read("r1", mm=40.0))
    second = trial.r1.save_draft(make_read("r1", mm=42.5))
    assert first.read_id == second.read_id
    got = trial.r1.get_read(first.read_id)
    assert got.lesion("T1").measurement.long_axis_mm == 42.5
    assert got.status is ReadStatus.DRAFT
    events = [e for e in trial.admin.list_audit() if e.action == "read.save_draft"]
    assert len(events) == 2
    assert events[1].before["lesions"][0]["measurement"]["long_axis_mm"] == 40.0
    assert events[1].after["lesions"][0]["measurement"]["long_axis_mm"] == 42.5
    assert events[1].actor == "r1"
    # saving identical content writes nothing
    trial.r1.save_draft(make_read("r1", mm=42.5))
    assert len([e for e in trial.admin.list_audit() if e.action == "read.save_draft"]) == 2


def test_timestamps_are_utc(trial: Trial):
    saved = trial.r1.save_draft(make_read("r1"))
    signed = trial.r1.sign_read(saved.read_id, R1_PW)
    assert signed.signed_at.utcoffset() == dt.timedelta(0)
    [summary] = trial.r1.list_reads()
    assert summary.updated_at.tzinfo is not None
    assert summary.updated_at.utcoffset() == dt.timedelta(0)
    assert abs(summary.signed_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert trial.admin.list_audit()[-1].ts.endswith("+00:00")


def test_optimistic_version_detects_a_concurrent_write(trial: Trial):
    saved = trial.r1.save_draft(make_read("r1", mm=40.0))
    sessions = trial.store.sessions
    with sessions.begin() as s:  # another writer loads the row...
        row = s.execute(select(ReadRow).where(ReadRow.id == saved.read_id)).scalar_one()
        assert row.version == 1
    trial.r1.save_draft(make_read("r1", mm=41.0))  # ...r1 autosaves (version 2)...
    with pytest.raises(Exception) as info:  # ...the stale writer's update is refused
        with sessions.begin() as s:
            s.add(row)
            row.updated_at = dt.datetime.now(dt.UTC)
    assert type(info.value).__name__ == "StaleDataError"
    assert issubclass(ConcurrentEditError, StoreError)


# -- signing, immutability, versions -----------------------------------------------------------


def test_sign_asks_password_then_read_is_immutable(trial: Trial):
    saved = trial.r1.save_draft(make_read("r1", mm=40.0))
    with pytest.raises(AuthenticationError, match="wrong password"):
        trial.r1.sign_read(saved.read_id, "guess-guess")
    assert trial.r1.get_read(saved.read_id).status is ReadStatus.DRAFT
    assert ("r1", "read.sign", str(saved.read_id)) in refusals(trial)
    signed = trial.r1.sign_read(saved.read_id, R1_PW)
    assert signed.is_signed and signed.read_id == saved.read_id
    assert trial.r1.get_read(saved.read_id) == signed
    with pytest.raises(ReadLockedError, match="signed and immutable"):
        trial.r1.save_draft(make_read("r1", mm=45.0))
    with pytest.raises(ReadLockedError, match="already signed"):
        trial.r1.sign_read(saved.read_id, R1_PW)
    assert trial.r1.get_read(saved.read_id).lesion("T1").measurement.long_axis_mm == 40.0


def test_signed_read_immutable_in_the_database_itself(trial: Trial):
    saved = trial.r1.save_draft(make_read("r1"))
    trial.r1.sign_read(saved.read_id, R1_PW)
    before = raw(trial.store, "SELECT content, status FROM reads WHERE id = :i", i=saved.read_id)
    with pytest.raises(DBAPIError, match="signed read is immutable"):
        raw(trial.store, "UPDATE reads SET content = '{}' WHERE id = :i", i=saved.read_id)
    with pytest.raises(DBAPIError, match="signed read is immutable"):
        raw(
            trial.store,
            "UPDATE reads SET status = 'draft', signed_at = NULL WHERE id = :i",
            i=saved.read_id,
        )
    with pytest.raises(DBAPIError, match="signed read is immutable"):
        raw(trial.store, "DELETE FROM reads WHERE id = :i", i=saved.read_id)
    after = raw(trial.store, "SELECT content, status FROM reads WHERE id = :i", i=saved.read_id)
    assert before == after


def test_a_draft_row_may_still_change_in_sql(trial: Trial):
    # the trigger only locks signed rows: autosave depends on drafts being updatable
    saved = trial.r1.save_draft(make_read("r1"))
    raw(trial.store, "UPDATE reads SET updated_at = updated_at WHERE id = :i", i=saved.read_id)


def test_amend_makes_a_new_version_and_keeps_the_signed_one(trial: Trial):
    v1 = trial.r1.save_draft(make_read("r1", mm=40.0))
    v1s = trial.r1.sign_read(v1.read_id, R1_PW)
    with pytest.raises(StoreError, match="still a draft"):
        trial.r1.amend_read(trial.r1.save_draft(make_read("r1", "TP1", 30.0)).read_id)
    v2 = trial.r1.amend_read(v1.read_id)
    assert v2.version == 2 and v2.status is ReadStatus.DRAFT and v2.read_id != v1.read_id
    assert v2.lesions == v1s.lesions
    # edit and sign the correction
    fixed = make_read("r1", mm=44.0, version=2)
    trial.r1.save_draft(fixed)
    trial.r1.sign_read(v2.read_id, R1_PW)
    # the old version is untouched
    assert trial.r1.get_read(v1.read_id) == v1s
    listed = [(r.timepoint, r.version, r.status.value, r.supersedes) for r in trial.r1.list_reads()]
    assert ("TP0", 1, "signed", None) in listed
    assert ("TP0", 2, "signed", v1.read_id) in listed
    assert [r.version for r in trial.r1.list_reads(latest_only=True) if r.timepoint == "TP0"] == [2]
    # export gives the latest signed version only
    [exported] = trial.r1.export_reads()
    assert exported.version == 2
    assert exported.lesion("T1").measurement.long_axis_mm == 44.0
    # amending an old version is refused: amend the latest
    with pytest.raises(StoreError, match="already supersedes it"):
        trial.r1.amend_read(v1.read_id)
    # saving a stale version number is refused
    with pytest.raises(ConcurrentEditError, match="version 2"):
        trial.r1.save_draft(make_read("r1", "TP0", 50.0, version=1))


def test_save_draft_refuses_signed_input(trial: Trial):
    read = make_read("r1")
    signed = type(read)(
        read.subject,
        read.timepoint,
        "r1",
        read.lesions,
        status="signed",
        signed_at=dt.datetime.now(dt.UTC),
    )
    with pytest.raises(ModelError, match="expected a draft"):
        trial.r1.save_draft(signed)


def test_signing_blocked_by_criteria_findings_is_refused_and_audited(trial: Trial):
    saved = trial.r1.save_draft(make_read("r1", mm=8.0))

    def blockers(read):
        # stands in for the blocking findings of readerstation.criteria.checks
        m = read.lesion("T1").measurement
        return ["T1: long axis 8 mm < 10 mm"] if m.long_axis_mm < 10.0 else []

    with pytest.raises(CriteriaError, match="T1: long axis 8 mm < 10 mm"):
        trial.r1.sign_read(saved.read_id, R1_PW, blockers=blockers)
    assert trial.r1.get_read(saved.read_id).status is ReadStatus.DRAFT
    assert ("r1", "read.sign", str(saved.read_id)) in refusals(trial)
    # 24 mm long axis, 12 mm viable: measurable by RECIST 1.1 and mRECIST (>= 10 mm)
    trial.r1.save_draft(make_read("r1", mm=24.0))
    assert trial.r1.sign_read(saved.read_id, R1_PW, blockers=blockers).is_signed


def test_save_draft_keeps_the_stored_subject_and_timepoint(trial: Trial):
    # Review finding: the reader's subject/timepoint details were saved (and signed) as given.
    # Stored: HCC-001 treatment start 2024-01-08; TP0 scanned 2024-01-05 in study UID.
    forged = make_read("r1")
    forged = type(forged)(
        Subject("HCC-001", dt.date(2023, 6, 1)),
        Timepoint("TP0", None, UID_B, UID_B, "arterial"),
        "r1",
        forged.lesions,
    )
    saved = trial.r1.save_draft(forged)
    for read in (saved, trial.r1.get_read(saved.read_id)):
        assert read.subject.treatment_start == dt.date(2024, 1, 8)
        assert read.timepoint.scan_date == dt.date(2024, 1, 5)
        assert read.timepoint.study_uid == UID
        # the reader's own choice of series and phase is kept
        assert read.timepoint.series_uid == UID_B
        assert read.timepoint.phase.value == "arterial"
    signed = trial.r1.sign_read(saved.read_id, R1_PW)
    assert (signed.subject.treatment_start, signed.timepoint.scan_date) == (
        dt.date(2024, 1, 8),
        dt.date(2024, 1, 5),
    )


def test_sign_read_runs_the_criteria_checks_itself(trial: Trial):
    # Review finding: without blockers= a read breaking the criteria was signed. Here no
    # blockers are passed: an 8 mm target (< 10 mm, RECIST 1.1 3.1.1) and a 16 mm target with
    # 8 mm viable diameter (< 10 mm, mRECIST) are refused, audited, and the read stays a draft.
    small = trial.r1.save_draft(make_read("r1", mm=8.0))
    with pytest.raises(CriteriaError, match=r"RECIST 1\.1: T1 T1: its long axis is 8 mm"):
        trial.r1.sign_read(small.read_id, R1_PW)
    assert trial.r1.get_read(small.read_id).status is ReadStatus.DRAFT
    assert ("r1", "read.sign", str(small.read_id)) in refusals(trial)
    trial.r1.save_draft(make_read("r1", mm=16.0))
    with pytest.raises(CriteriaError, match=r"mRECIST: T1 T1: its viable .* is 8 mm") as e:
        trial.r1.sign_read(small.read_id, R1_PW)
    assert "RECIST 1.1:" not in str(e.value)  # 16 mm long axis is measurable by RECIST 1.1
    base = trial.r1.save_draft(make_read("r1", mm=40.0))
    # a follow-up opens once the reader's baseline is signed, and is checked against it
    with pytest.raises(ReadLockedError, match="locked until your read of the previous"):
        trial.r1.save_draft(make_read("r1", "TP1", mm=30.0))
    trial.r1.sign_read(base.read_id, R1_PW)
    follow = trial.r1.save_draft(make_read("r1", "TP1", mm=30.0))
    two = trial.r1.save_draft(make_read("r1", "TP1", mm=30.0, n_targets=2))
    with pytest.raises(CriteriaError, match="T2 T2: a target that was not in the baseline read"):
        trial.r1.sign_read(two.read_id, R1_PW)
    trial.r1.save_draft(make_read("r1", "TP1", mm=30.0))
    assert trial.r1.sign_read(follow.read_id, R1_PW).is_signed


def _count_kdf(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the hash every KdfParams.verify call checks against (still verifying for real)."""
    from readerstation.store.passwords import KdfParams

    seen: list[str] = []
    real = KdfParams.verify

    def counting(self, password_hash, password):
        seen.append(password_hash)
        return real(self, password_hash, password)

    monkeypatch.setattr(KdfParams, "verify", counting)
    return seen


def test_login_runs_the_kdf_for_unknown_and_inactive_users(trial: Trial, monkeypatch):
    # Review finding: an unknown user skipped argon2, so login time told which names exist.
    # Every refused login verifies one argon2id hash, like a known user's wrong password.
    raw(trial.store, "UPDATE users SET active = :no WHERE name = 'r2'", no=False)
    seen = _count_kdf(monkeypatch)
    for name, pw in (
        ("nobody", "whatever-password"),
        ("r2", "reader-two-password"),
        ("r1", "wrong-password"),
    ):
        with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
            Repository.login(trial.store, name, pw, kdf=FAST_KDF)
    assert len(seen) == 3
    assert all(h.startswith("$argon2id$") for h in seen)
    # the dummy hash has the same parameters as the real ones (same work)
    [(r1_hash,)] = raw(trial.store, "SELECT password_hash FROM users WHERE name = 'r1'")
    assert seen[0].split("$")[3] == r1_hash.split("$")[3] == "m=1024,t=1,p=1"


def test_password_checks_run_outside_the_write_transaction(trial: Trial, monkeypatch):
    # Review finding: argon2 ran inside BEGIN IMMEDIATE, so every autosave queued behind every
    # login. A write made while the KDF runs (from another connection) must go through at once;
    # before the fix it waited for the SQLite write lock (busy timeout) and failed.
    from readerstation.store.passwords import KdfParams

    real = KdfParams.verify
    writes: list[str] = []

    def verify_while_someone_writes(self, password_hash, password):
        code = f"HCC-W{len(writes)}"
        trial.admin.add_subject(Subject(code))
        writes.append(code)
        return real(self, password_hash, password)

    monkeypatch.setattr(KdfParams, "verify", verify_while_someone_writes)
    Repository.login(trial.store, "r1", R1_PW, kdf=FAST_KDF)
    saved = trial.r1.save_draft(make_read("r1", mm=40.0))
    assert trial.r1.sign_read(saved.read_id, R1_PW).is_signed
    assert writes == ["HCC-W0", "HCC-W1"]
