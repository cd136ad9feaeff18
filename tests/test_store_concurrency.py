# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Several processes autosaving at once: every save lands and the audit chain stays intact."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from test_store_support import (  # noqa: F401  (fixtures)
    FAST_KDF,
    R1_PW,
    R2_PW,
    Trial,
    store,
    store_url,
    trial,
)

TESTS = Path(__file__).resolve().parent
SAVES = 15

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
    before = len(trial.admin.list_audit())
    script = CHILD.format(saves=SAVES)
    jobs = [("r1", R1_PW, "TP0"), ("r1", R1_PW, "TP1"), ("r2", R2_PW, "TP0")]
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
    assert last == {("r1", "TP0"), ("r1", "TP1"), ("r2", "TP0")}
    for r in trial.admin.list_reads():
        read = trial.admin.get_read(r.read_id)
        assert read.lesion("T1").measurement.long_axis_mm == 20.0 + SAVES - 1
