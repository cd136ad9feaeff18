# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""The store commands as a user runs them: exit codes and one-line refusals.

The main flow runs as real subprocesses (the console entry point, on SQLite and PostgreSQL);
the refusal cases run in-process through ``readerstation.cli.main`` to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_store_support import drop_audit_triggers, raw, store_url  # noqa: F401  (fixture)

ADMIN_PW = "admin-cli-password"
READER_PW = "reader-cli-password"


def rs(
    *args: str,
    cwd: Path | None = None,
    password: str | None = None,
    new_password: str | None = None,
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("READERSTATION_")}
    if password is not None:
        env["READERSTATION_PASSWORD"] = password
    if new_password is not None:
        env["READERSTATION_NEW_PASSWORD"] = new_password
    return subprocess.run(
        [sys.executable, "-m", "readerstation", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.slow
def test_init_users_audit(store_url: str):
    db = ("--db", store_url)
    p = rs(*db, "init", "--admin", "boss", new_password=ADMIN_PW)
    assert p.returncode == 0, p.stderr
    assert "admin boss" in p.stdout
    p = rs(
        *db,
        "--user",
        "boss",
        "user",
        "add",
        "reader1",
        "--role",
        "reader",
        password=ADMIN_PW,
        new_password=READER_PW,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "user reader1 added with role reader"
    # a reader may not add users: one-line refusal, exit 2, audited
    p = rs(
        *db,
        "--user",
        "reader1",
        "user",
        "add",
        "eve",
        "--role",
        "admin",
        password=READER_PW,
        new_password="eve-password-1",
    )
    assert "needs role admin" in one_line_error(p)
    p = rs(*db, "--user", "boss", "audit", "list", "--json", password=ADMIN_PW)
    events = json.loads(p.stdout)["events"]
    assert [(e["actor"], e["action"], e["outcome"]) for e in events] == [
        ("boss", "store.init", "ok"),
        ("boss", "user.add", "ok"),
        ("reader1", "user.add", "refused"),
    ]
    assert events[1]["after"] == {"name": "reader1", "role": "reader"}
    p = rs(*db, "--user", "boss", "audit", "verify", password=ADMIN_PW)
    assert (p.returncode, p.stdout.strip()) == (0, "audit trail intact: 3 events")


def cli(monkeypatch, capsys, *args, password=None, new_password=None):
    """The same commands in-process (``readerstation.cli.main``): exit code, stdout, stderr."""
    from readerstation.cli import main

    for k in [k for k in os.environ if k.startswith("READERSTATION_")]:
        monkeypatch.delenv(k)
    if password is not None:
        monkeypatch.setenv("READERSTATION_PASSWORD", password)
    if new_password is not None:
        monkeypatch.setenv("READERSTATION_NEW_PASSWORD", new_password)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_store_refusals_and_tampering(tmp_path, monkeypatch, capsys):
    # no --db: the embedded default var/readerstation.sqlite in the current directory
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(monkeypatch, capsys, "init", "--admin", "boss", new_password=ADMIN_PW)
    assert code == 0
    assert (tmp_path / "var" / "readerstation.sqlite").is_file()
    code, _, err = cli(monkeypatch, capsys, "init", "--admin", "again", new_password=ADMIN_PW)
    assert code == 2 and "already has 1 user" in err and len(err.strip().splitlines()) == 1
    code, out, _ = cli(monkeypatch, capsys, "--user", "boss", "user", "list", password=ADMIN_PW)
    assert (code, out.split()) == (0, ["boss", "admin", "active"])
    code, _, err = cli(
        monkeypatch, capsys, "--user", "boss", "audit", "list", password="not-the-password"
    )
    assert code == 2 and "wrong password" in err
    code, _, err = cli(monkeypatch, capsys, "user", "list", password=ADMIN_PW)
    assert code == 2 and "no user given" in err
    code, _, err = cli(monkeypatch, capsys, "--user", "boss", "user", "list")
    assert code == 2 and "set READERSTATION_PASSWORD" in err
    code, _, err = cli(
        monkeypatch,
        capsys,
        "--user",
        "boss",
        "user",
        "add",
        "x",
        "--role",
        "reader",
        password=ADMIN_PW,
        new_password="short",
    )
    assert code == 2 and "at least 8 characters" in err
    # tamper with the trail behind readerstation's back
    from readerstation.store import open_store

    s = open_store("sqlite:///var/readerstation.sqlite")
    drop_audit_triggers(s)
    raw(s, "UPDATE audit_events SET detail = 'edited' WHERE seq = 2")
    s.close()
    code, _, err = cli(monkeypatch, capsys, "--user", "boss", "audit", "verify", password=ADMIN_PW)
    assert code == 1
    assert err.strip().startswith("audit trail BROKEN at event 2:")
