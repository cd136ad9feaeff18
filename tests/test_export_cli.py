"""``readerstation export --format sr|csv|json`` and ``import-sr`` on a real SQLite store.

The sample trial is seeded into the store (reader1 and reader2 assigned to HCC-001); reader1
signs TP0 and TP1 with measurements on the real sample images (a nodal target, and at TP1 a
target too small to measure), then the admin exports and the SR files are read back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_export_sr import ROOT, assert_same_read, derive_sample_read

from readerstation.cli import main
from readerstation.model import LesionAssessment, Measurement, TimepointRead
from readerstation.model.reads_json import reads_from_json
from readerstation.reading import seed_sample_trial
from readerstation.store import KdfParams, Repository, open_store

FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PW = "demo-password-for-tests"


def _signable(tp_index: int) -> TimepointRead:
    """reader1's read without T3/NEW1 (the signing checks refuse a too-small baseline target);
    at TP1 T2 is too small to measure."""
    read, _ = derive_sample_read(tp_index)
    keep = [a for a in read.lesions if a.lesion.label not in ("T3", "NEW1")]
    if tp_index == 1:
        keep = [
            LesionAssessment(a.lesion, Measurement("too_small")) if a.lesion.label == "T2" else a
            for a in keep
        ]
    return TimepointRead(read.subject, read.timepoint, "reader1", tuple(keep))


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[TimepointRead]]:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = open_store(url)
    try:
        seed_sample_trial(store, ROOT, password=PW, kdf=FAST_KDF)
        r1 = Repository.login(store, "reader1", PW, kdf=FAST_KDF)
        signed = []
        for k in (0, 1):
            draft = r1.save_draft(_signable(k))
            signed.append(r1.sign_read(draft.read_id, PW))
    finally:
        store.close()
    monkeypatch.setenv("READERSTATION_PASSWORD", PW)
    return url, signed


def test_export_sr_then_import_sr_restores_the_reads(db, tmp_path: Path, capsys) -> None:
    url, signed = db
    out = tmp_path / "sr"
    code = main(
        [
            "--db",
            url,
            "--user",
            "admin",
            "export",
            "--format",
            "sr",
            "--out",
            str(out),
            "--images",
            str(ROOT),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 2
    role = "Reader_1" if "list assignments" not in captured.err else "Reader"
    assert [f.name for f in files] == [f"HCC-001_TP0_{role}.dcm", f"HCC-001_TP1_{role}.dcm"]
    assert main(["import-sr", "--json", *map(str, files)]) == 0
    data = json.loads(capsys.readouterr().out)
    back = {r.timepoint.label: r for r in reads_from_json(data)}
    for want in signed:
        assert_same_read(back[want.timepoint.label], want, reader=role)
    # the engine's responses went in: TP1 of HCC-001 is a follow-up
    assert main(["import-sr", str(files[1])]) == 0
    text = capsys.readouterr().out
    assert "recist1.1" in text and "N1" in text and "too_small" in text


def test_export_csv_and_json(db, tmp_path: Path, capsys) -> None:
    url, signed = db
    assert (
        main(["--db", url, "--user", "admin", "export", "--format", "csv", "--out", str(tmp_path)])
        == 0
    )
    rows = list(csv.DictReader((tmp_path / "reads.csv").open(encoding="utf-8")))
    assert len(rows) == sum(len(r.lesions) for r in signed)
    t2 = next(r for r in rows if r["timepoint"] == "TP1" and r["lesion"] == "T2")
    assert (t2["state"], t2["long_axis_mm"], t2["role"]) == ("too_small", "", "target")
    n1 = next(r for r in rows if r["timepoint"] == "TP0" and r["lesion"] == "N1")
    assert n1["nodal"] == "true" and float(n1["short_axis_mm"]) == 21.0
    assert "reader1" not in (tmp_path / "reads.csv").read_text()
    assert (
        main(["--db", url, "--user", "admin", "export", "--format", "json", "--out", str(tmp_path)])
        == 0
    )
    back = reads_from_json(json.loads((tmp_path / "reads.json").read_text()))
    assert sorted(back, key=lambda r: r.timepoint.label) == sorted(
        signed, key=lambda r: r.timepoint.label
    )
    capsys.readouterr()


def test_export_sr_without_images_is_a_clear_error(
    db, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = db
    # no --images, no $READERSTATION_IMAGES, no sample_dicom/ in the current folder
    monkeypatch.delenv("READERSTATION_IMAGES", raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(
        ["--db", url, "--user", "admin", "export", "--format", "sr", "--out", str(tmp_path)]
    )
    assert code == 2
    assert "--images DIR" in capsys.readouterr().err


def test_reader_exports_only_own_reads(db, tmp_path: Path, capsys) -> None:
    url, _ = db
    assert (
        main(
            ["--db", url, "--user", "reader2", "export", "--format", "csv", "--out", str(tmp_path)]
        )
        == 0
    )
    rows = list(csv.DictReader((tmp_path / "reads.csv").open(encoding="utf-8")))
    assert rows == []
    capsys.readouterr()
