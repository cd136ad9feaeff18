# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Drafts survive a reader's process being killed with SIGKILL mid-session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_store_support import (  # noqa: F401  (fixtures)
    FAST_KDF,
    R1_PW,
    Trial,
    store,
    store_url,
    trial,
)

from readerstation.model import ReadStatus
from readerstation.store import Repository

TESTS = Path(__file__).resolve().parent

CHILD = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    from readerstation.store import Repository, open_store
    from test_store_support import FAST_KDF, R1_PW, make_read

    store = open_store({url!r})
    repo = Repository.login(store, "r1", R1_PW, kdf=FAST_KDF)
    for i in range(25):
        mm = 40.0 + 0.5 * i
        saved = repo.save_draft(make_read("r1", mm=mm, n_targets=3))
        print(saved.read_id, mm, flush=True)      # the reader saw this autosave complete
    # a transaction left open mid-write, then the process dies without any cleanup
    conn = store.engine.connect()
    conn.exec_driver_sql("UPDATE reads SET content = 'half-written' WHERE id = %d" % saved.read_id)
    os.kill(os.getpid(), 9)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_last_saved_draft_survives_sigkill(trial: Trial, store_url: str):
    script = CHILD.format(tests=str(TESTS), url=store_url)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PYTHONPATH": str(TESTS)},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    lines = proc.stdout.split()
    read_id, last_mm = int(lines[-2]), float(lines[-1])
    assert last_mm == 52.0  # 40 + 0.5 * 24: the child got through all 25 autosaves
    # reopen in a new process state: the last completed autosave is there, intact
    trial.store.engine.dispose()
    repo = Repository.login(trial.store, "r1", R1_PW, kdf=FAST_KDF)
    read = repo.get_read(read_id)
    assert read.status is ReadStatus.DRAFT
    assert read.lesion("T1").measurement.long_axis_mm == last_mm
    assert [a.lesion.label for a in read.lesions] == ["T1", "T2", "T3"]
    assert trial.admin.verify_audit().intact
