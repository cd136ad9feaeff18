# ruff: noqa: F811  (pytest fixtures imported from test_export_cli and test_store_support)
"""``readerstation export``: where the SR export finds its images, the readers' trial roles, and
the SDTM export's notes, on real SQLite stores and the real sample images.

* ``--format sr`` without ``--images`` looks in ``$READERSTATION_IMAGES``, then in
  ``sample_dicom/`` under the current folder; with neither, or when the image is not there, a
  clear error says what to pass.
* The observer role is the reader's slot on the subject (``Reader 1`` / ``Reader 2``), for an
  admin (every reader) and for a reader exporting their own reads.
* ``--format sdtm`` prints what could not be derived as warnings on stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_export_cli import db  # noqa: F401 - the db fixture (reader1 signed TP0, TP1)
from test_export_sr import ROOT, assert_same_read
from test_store_support import (  # noqa: F401 - fixtures
    ADMIN_PW,
    R1_PW,
    make_read,
    store,
    store_url,
    trial,
)

from readerstation.cli import main
from readerstation.cli.export_commands import IMAGES_ENV, derive_observer_roles
from readerstation.errors import AccessDenied
from readerstation.export.sr import load_sr
from readerstation.store import Store


def _export_sr(url: str, user: str, out: Path, *extra: str) -> int:
    return main(
        ["--db", url, "--user", user, "export", "--format", "sr", "--out", str(out), *extra]
    )


def test_sr_export_finds_the_images_through_readerstation_images(
    db, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, signed = db
    monkeypatch.chdir(tmp_path)  # no sample_dicom/ here: the variable is what finds them
    monkeypatch.setenv(IMAGES_ENV, str(ROOT))
    assert _export_sr(url, "admin", tmp_path / "sr") == 0, capsys.readouterr().err
    files = sorted((tmp_path / "sr").glob("*.dcm"))
    assert [f.name for f in files] == ["HCC-001_TP0_Reader_1.dcm", "HCC-001_TP1_Reader_1.dcm"]
    back = {r.timepoint.label: r for r in map(load_sr, files)}
    for want in signed:
        assert_same_read(back[want.timepoint.label], want, reader="Reader_1")


def test_sr_export_uses_the_workstation_default_sample_dicom(
    db, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = db
    (tmp_path / "sample_dicom").symlink_to(ROOT, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(IMAGES_ENV, raising=False)
    assert _export_sr(url, "admin", tmp_path / "sr") == 0, capsys.readouterr().err
    assert len(list((tmp_path / "sr").glob("*.dcm"))) == 2


def test_sr_export_images_still_missing_is_a_clear_error(
    db, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, signed = db
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(IMAGES_ENV, str(empty))
    assert _export_sr(url, "admin", tmp_path / "sr") == 2
    err = capsys.readouterr().err
    assert f"series {signed[0].timepoint.series_uid} not found" in err
    assert f"${IMAGES_ENV}" in err and "--images DIR" in err
    monkeypatch.setenv(IMAGES_ENV, str(tmp_path / "no-such-folder"))
    assert _export_sr(url, "admin", tmp_path / "sr") == 2
    assert "is not a folder" in capsys.readouterr().err
    # --images wins over the variable
    assert _export_sr(url, "admin", tmp_path / "sr", "--images", str(ROOT)) == 0
    capsys.readouterr()


def test_a_reader_exports_their_own_reads_under_their_own_slot(
    db, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = db
    monkeypatch.setenv(IMAGES_ENV, str(ROOT))
    assert _export_sr(url, "reader1", tmp_path / "sr") == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err  # no fallback to "Reader"
    files = sorted((tmp_path / "sr").glob("*.dcm"))
    assert [f.name for f in files] == ["HCC-001_TP0_Reader_1.dcm", "HCC-001_TP1_Reader_1.dcm"]
    assert all(load_sr(f).reader == "Reader_1" for f in files)
    assert "reader1" not in b"".join(f.read_bytes() for f in files).decode("latin-1")


def test_observer_roles_come_from_the_slots(trial) -> None:
    """Admin: every reader's slot; reader: only their own; adjudicator: 'Reader' + warning."""
    roles, warning = derive_observer_roles(trial.admin)
    assert warning is None
    assert roles == {("HCC-001", "r1"): "Reader 1", ("HCC-001", "r2"): "Reader 2"}
    assert derive_observer_roles(trial.r2) == ({("HCC-001", "r2"): "Reader 2"}, None)
    assert [a.to_dict() for a in trial.r1.list_own_assignments()] == [
        {"subject": "HCC-001", "reader": "r1", "slot": 1}
    ]
    roles, warning = derive_observer_roles(trial.adj)
    assert roles == {} and "exported as 'Reader'" in (warning or "")
    with pytest.raises(AccessDenied):
        trial.admin.list_own_assignments()
    refused = [e for e in trial.admin.list_audit() if e.outcome == "refused"]
    assert {(e.actor, e.action) for e in refused} >= {
        ("adj", "assign.list"),
        ("admin", "assign.list_own"),
    }


def test_sdtm_export_prints_its_notes_as_warnings(
    store: Store, store_url: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target on an organ that is no CDISC LOC term: TULOC stays empty and the CLI says so."""
    from test_store_support import make_trial

    t = make_trial(store)
    read = make_read("r1", n_targets=3)  # T3 is on "organ2", not a LOC term
    t.r1.sign_read(t.r1.save_draft(read).read_id, R1_PW)
    monkeypatch.setenv("READERSTATION_PASSWORD", ADMIN_PW)
    out = tmp_path / "sdtm"
    code = main(
        ["--db", store_url, "--user", "admin", "export", "--format", "sdtm", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "readerstation export: warning:" in captured.err
    assert "lesion T3: organ 'organ2' is not a CDISC LOC term" in captured.err
    assert (out / "tu.csv").is_file() and (out / "define.csv").is_file()
