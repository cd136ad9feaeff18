# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Concurrent writers: several processes autosaving at once (every save lands, the audit chain
stays intact) and two sessions signing one draft (one wins, the other is told to reload).

Six processes on PostgreSQL signing different reads are in test_store_multisite.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from test_store_support import (  # noqa: F401  (fixtures)
    FAST_KDF,
    R1_PW,
    R2_PW,
    Trial,
    make_read,
    store,
    store_url,
    trial,
)

from readerstation.errors import ConcurrentEditError, ReaderstationError, ReadLockedError
from readerstation.model import ReadStatus, TimepointRead
from readerstation.store import Repository

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
