# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""The dual-reading commands as users run them, on SQLite and PostgreSQL.

The whole flow (init, users, sample reads, charter, import, discrepancies, packet, adjudicate,
agreement, accepted summary) runs once as real subprocesses; the blinding and refusal checks run
in-process through ``readerstation.cli.main`` on a store filled through the API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dual_reads import READER_PW, Dual, a_slot, make_dual, refusals, sim
from test_store_support import ADJ_PW, ADMIN_PW, store, store_url  # noqa: F401  (fixtures)

from readerstation.cli import main
from readerstation.reading.charter import Charter
from readerstation.sample.dual_trial import READERS
from readerstation.store import Store


def rs(*args: str, password: str | None = None, new_password: str | None = None, cwd: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("READERSTATION_")}
    if password is not None:
        env["READERSTATION_PASSWORD"] = password
    if new_password is not None:
        env["READERSTATION_NEW_PASSWORD"] = new_password
    return subprocess.run(
        [sys.executable, "-m", "readerstation", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def ok(proc) -> str:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


def refused(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.slow
def test_the_whole_flow_as_subprocesses(store_url: str, tmp_path: Path):
    db = ("--db", store_url)
    ok(rs(*db, "init", "--admin", "boss", new_password=ADMIN_PW, cwd=tmp_path))
    for name, role, pw in (
        ("reader1", "reader", READER_PW),
        ("reader2", "reader", READER_PW),
        ("judge", "adjudicator", ADJ_PW),
    ):
        ok(
            rs(
                *db,
                "--user",
                "boss",
                "user",
                "add",
                name,
                "--role",
                role,
                password=ADMIN_PW,
                new_password=pw,
                cwd=tmp_path,
            )
        )
    out = ok(rs("sample", "dual-reads", "--out", "dual.json", cwd=tmp_path))
    assert "45 subjects" in out
    assert json.loads((tmp_path / "dual.json").read_text()) == sim().reads_json
    admin = (*db, "--user", "boss")
    judge = (*db, "--user", "judge")
    reader = (*db, "--user", "reader1")
    ok(rs(*admin, "charter", "set", "--hide-visit-dates", password=ADMIN_PW, cwd=tmp_path))
    report = json.loads(
        ok(rs(*admin, "reads", "import", "dual.json", "--json", password=ADMIN_PW, cwd=tmp_path))
    )
    assert report["n_reads"] == 428 and report["n_discrepancies"] == 36
    found = json.loads(ok(rs(*judge, "discrepancies", "--json", password=ADJ_PW, cwd=tmp_path)))
    expected = {
        (s, c): [v.value for v in e.for_charter(Charter())]
        for (s, c), e in sim().expected.items()
        if e.for_charter(Charter())
    }
    assert {(d["subject"], d["criteria"]): d["variables"] for d in found} == expected
    assert all(d["status"] == "open" for d in found)
    assert "reader1" not in json.dumps(found)
    subject = found[0]["subject"]
    packet = json.loads(
        ok(rs(*judge, "adjudication", "packet", subject, "--json", password=ADJ_PW, cwd=tmp_path))
    )
    assert set(packet["reads"]) == {"A", "B"} and "reader" not in json.dumps(packet)
    text = ok(rs(*judge, "adjudication", "packet", subject, password=ADJ_PW, cwd=tmp_path))
    assert "Read A" in text and "Read B" in text
    line = refused(
        rs(*reader, "adjudication", "packet", subject, "--json", password=READER_PW, cwd=tmp_path)
    )
    assert "needs role adjudicator" in line
    for d in found:
        ok(
            rs(
                *judge,
                "adjudicate",
                d["subject"],
                "--criteria",
                d["criteria"],
                "--endorse",
                "A",
                "--reason",
                "measurement_variability",
                "--note",
                "A is right",
                password=ADJ_PW,
                cwd=tmp_path,
            )
        )
    line = refused(
        rs(
            *judge,
            "adjudicate",
            subject,
            "--criteria",
            found[0]["criteria"],
            "--endorse",
            "B",
            "--reason",
            "reader_error",
            password=ADJ_PW,
            cwd=tmp_path,
        )
    )
    assert "already adjudicated" in line
    agreement = json.loads(ok(rs(*admin, "agreement", "--json", password=ADMIN_PW, cwd=tmp_path)))
    assert agreement["criteria"]["recist1.1"]["adjudication_rate"] == pytest.approx(0.4)
    assert set(agreement["criteria"]["mrecist"]["readers"]) == set(READERS)
    assert "kappa" in ok(rs(*judge, "agreement", password=ADJ_PW, cwd=tmp_path))
    summary = json.loads(
        ok(
            rs(
                *admin,
                "accepted",
                "summary",
                "--criteria",
                "mrecist",
                "--json",
                password=ADMIN_PW,
                cwd=tmp_path,
            )
        )
    )
    assert summary["n"] == 45 and summary["criteria"]
    assert summary["subjects_without_accepted_read"] == []
    work = json.loads(ok(rs(*reader, "worklist", "--json", password=READER_PW, cwd=tmp_path)))
    assert {w["scan_date"] for w in work["worklist"]} == {None}
    ok(rs(*reader, "reads", "export", "--out", "mine.json", password=READER_PW, cwd=tmp_path))
    mine = json.loads((tmp_path / "mine.json").read_text())
    assert {e["reader"] for e in mine["reads"]} == {"reader1"}
    assert {t["date"] for e in mine["reads"] for t in e["timepoints"]} == {None}
    events = json.loads(ok(rs(*admin, "audit", "list", "--json", password=ADMIN_PW, cwd=tmp_path)))
    refusals = {(e["actor"], e["action"]) for e in events["events"] if e["outcome"] == "refused"}
    assert ("reader1", "adjudication.packet") in refusals


# -- in-process: blinding and refusals ----------------------------------------------------------


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    user: str,
    password: str,
    *args: str,
) -> tuple[int, str, str]:
    monkeypatch.setenv("READERSTATION_PASSWORD", password)
    code = main(["--db", url, "--user", user, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(store: Store) -> Dual:
    return make_dual(store)


def test_cli_blinding_and_refusals(
    filled: Dual, store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch
):
    url = store_url

    def as_reader(*args: str) -> tuple[int, str, str]:
        return run(capsys, monkeypatch, url, READERS[0], READER_PW, *args)

    def as_adj(*args: str) -> tuple[int, str, str]:
        return run(capsys, monkeypatch, url, "adj", ADJ_PW, *args)

    def as_admin(*args: str) -> tuple[int, str, str]:
        return run(capsys, monkeypatch, url, "admin", ADMIN_PW, *args)

    # a reader gets their own reads only, on every path
    code, out, _ = as_reader("reads", "export")
    assert code == 0
    data = json.loads(out)
    assert {e["reader"] for e in data["reads"]} == {READERS[0]} and READERS[1] not in out
    code, out, _ = as_reader("reads", "export", "--subject", "SIM-003")
    assert code == 0 and {e["reader"] for e in json.loads(out)["reads"]} == {READERS[0]}
    code, out, _ = as_reader("worklist", "--json")
    assert code == 0 and READERS[1] not in out
    for args in (
        ("discrepancies", "--json"),
        ("adjudication", "packet", "SIM-001", "--json"),
        (
            "adjudicate",
            "SIM-001",
            "--criteria",
            "mrecist",
            "--endorse",
            "A",
            "--reason",
            "reader_error",
        ),
        ("agreement", "--json"),
        ("accepted", "list", "--criteria", "mrecist"),
        ("accepted", "summary", "--criteria", "mrecist"),
        ("audit", "list", "--json"),
        ("assign",),
        ("reads", "import", "nothing.json"),
    ):
        code, out, err = as_reader(*args)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and "error:" in err, (args, err)
        assert out == ""
    # the adjudicator: no reads except packets, no identity in what they get
    for args in (
        ("reads", "export"),
        ("worklist",),
        ("accepted", "list", "--criteria", "mrecist"),
        ("audit", "list"),
    ):
        code, _, err = as_adj(*args)
        assert code == 2 and "needs role" in err, args
    code, out, _ = as_adj("discrepancies", "--json")
    assert code == 0 and all(n not in out for n in READERS)
    subjects = sorted({d["subject"] for d in json.loads(out)})
    code, out, _ = as_adj("adjudication", "packet", subjects[0], "--json")
    assert code == 0 and all(n not in out for n in READERS)
    code, out, _ = as_adj("agreement", "--json")
    assert code == 0 and all(n not in out for n in READERS)
    # the admin sees the readers; an admin cannot adjudicate
    code, out, _ = as_admin("discrepancies", "--json")
    assert code == 0 and READERS[1] in out
    code, _, err = as_admin("adjudication", "packet", subjects[0])
    assert code == 2 and "needs role adjudicator" in err
    # adjudicate through the CLI: the endorsed letter maps to the stored order
    subject = subjects[0]
    code, out, _ = as_adj(
        "adjudicate",
        subject,
        "--criteria",
        "recist1.1",
        "--endorse",
        "B",
        "--reason",
        "lesion_selection",
        "--note",
        "B kept the right target",
    )
    assert code == 0 and "Read B endorsed" in out
    code, out, _ = as_admin("accepted", "list", "--criteria", "recist1.1", "--json")
    accepted = {a["subject"]: a for a in json.loads(out)["accepted"]}
    assert accepted[subject]["basis"] == "adjudication"
    assert accepted[subject]["reader_slot"] == 3 - a_slot(filled.store, subject)
    # every refusal above is in the trail
    refused = refusals(filled.admin)
    for pair in (
        (READERS[0], "discrepancy.list"),
        (READERS[0], "adjudication.packet"),
        (READERS[0], "adjudicate"),
        (READERS[0], "agreement"),
        (READERS[0], "acceptance.list"),
        (READERS[0], "audit.list"),
        (READERS[0], "assign"),
        ("adj", "read.export"),
        ("adj", "worklist.list"),
        ("admin", "adjudication.packet"),
    ):
        assert pair in refused, pair


def test_cli_text_outputs(filled: Dual, store_url: str, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, store_url, "admin", ADMIN_PW, "discrepancies")
    assert code == 0 and out.strip().endswith("36 discrepancies")
    code, out, _ = run(capsys, monkeypatch, store_url, "admin", ADMIN_PW, "charter", "show")
    assert code == 0 and "best_overall_response" in out
    code, _, err = run(
        capsys, monkeypatch, store_url, "admin", ADMIN_PW, "charter", "set", "--hide-visit-dates"
    )
    assert code == 2 and "fixed once reading started" in err
    code, out, _ = run(capsys, monkeypatch, store_url, "admin", ADMIN_PW, "agreement")
    assert code == 0 and "adjudicated" in out and READERS[0] in out
