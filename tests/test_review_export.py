# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Regression tests from the independent review of issue 6 (SDTM, DICOM SR, audit trail).

* The SDTM export checked against the CDISC codelist file with an independent mapping of
  variables to codelist C-codes (written from the SDTMIG, not from ``SDTM_VARIABLES``), and the
  SAS transport files read back by ReadStat (pyreadstat) with the define's labels and lengths.
* ``TRLNKGRP`` carries its SDTMIG label "Link Group" (SDTMIG 3.2-3.4 TR; a label mismatch is a
  conformance finding).
* ``import-sr`` of a real TID 1500 SR written by another tool (highdicom's ``sr_document.dcm``,
  whose Person Observer Name is a TEXT item) fails with a one-line error, not a traceback.
* A database owner who deletes the whole audit trail (and resets its head) is detected by
  ``audit verify``, also after readerstation has since started a new chain on that store
  (SQLite and PostgreSQL, through the suite's ``trial`` fixture).

Reference files (read, never copied) in ``../shared/testdata/``: the CDISC SDTM oncology
terminology 2025-03-25 (pharmaversesdtm, Apache-2.0) and highdicom's test SR (MIT).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

import pyreadstat
import pytest
from test_store_support import (  # noqa: F401  (fixtures)
    Trial,
    drop_audit_triggers,
    make_read,
    raw,
    store,
    store_url,
    trial,
)

from readerstation.cli import main
from readerstation.errors import ExportError
from readerstation.export.sdtm import SdtmRead, derive_sdtm, save_sdtm
from readerstation.export.sr import load_sr
from readerstation.model import (
    Lesion,
    LesionAssessment,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)

TESTDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata"
CT_FILE = TESTDATA / "sdtm" / "oncology_codelists_sdtm_ct_2025-03-25.csv"
FOREIGN_SR = TESTDATA / "dicom" / "sr_and_seg" / "sr_document.dcm"

# Variable -> C-code of its codelist, from the SDTMIG TU/TR/RS tables (independent of the code).
CODED = {
    "TU": {
        "TUTESTCD": "C96784",
        "TUTEST": "C96783",
        "TUORRES": "C123650",
        "TUSTRESC": "C123650",
        "TULOC": "C74456",
        "TUMETHOD": "C85492",
        "TUEVAL": "C78735",
        "TUEVALID": "C96777",
    },
    "TR": {
        "TRTESTCD": "C96779",
        "TRTEST": "C96778",
        "TRSTAT": "C66789",
        "TRMETHOD": "C85492",
        "TREVAL": "C78735",
        "TREVALID": "C96777",
    },
    "RS": {
        "RSTESTCD": "C96782",
        "RSTEST": "C96781",
        "RSCAT": "C124298",
        "RSORRES": "C96785",
        "RSSTRESC": "C96785",
        "RSEVAL": "C78735",
        "RSEVALID": "C96777",
    },
}
TEST_PAIRS = {"TU": ("C96784", "C96783"), "TR": ("C96779", "C96778"), "RS": ("C96782", "C96781")}
TUMSTATE_RESULTS = "C124309"  # TRPROPRS: the coded results of TRTESTCD TUMSTATE


def _codelists() -> dict[str, dict[str, str]]:
    if not CT_FILE.is_file():
        pytest.skip(f"shared test data not found: {CT_FILE}")
    terms: dict[str, dict[str, str]] = defaultdict(dict)
    with CT_FILE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["is_clst"] != "True":
                terms[row["clst_code"]][row["term"]] = row["code"]
    return terms


SIGNED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
LIVER = Lesion("trk-1", "T1", "target", "liver", liver_segment="VII", typical_hcc=True)
NODE = Lesion("trk-2", "T2", "target", "lymph_node", nodal=True)
LUNG = Lesion("trk-3", "T3", "target", "lung")
NT = Lesion("trk-4", "NT1", "non_target", "peritoneum")
NEW = Lesion("trk-5", "NEW1", "new", "bone")


def _read(label: str, day: int, lesions, new: str = "none", reader: str = "rad1"):
    return TimepointRead(
        Subject("HCC-042", dt.date(2024, 1, 10)),
        Timepoint(label, dt.date(2024, 1, 8) + dt.timedelta(days=day)),
        reader,
        tuple(lesions),
        new,
        "signed",
        1,
        SIGNED,
    )


def _partial_trial() -> list[SdtmRead]:
    """Reader 1: every measurement state (measured, too small, not evaluated, viable 0 mm), an
    absent non-target and an equivocal new lesion; reader 2: only the baseline."""
    r1 = (
        _read(
            "TP0",
            0,
            [
                LesionAssessment(LIVER, Measurement("measured", 42.0, 30.0, 30.0)),
                LesionAssessment(NODE, Measurement("measured", 25.0, 18.0)),
                LesionAssessment(LUNG, Measurement("measured", 15.0)),
                LesionAssessment(NT, non_target_status="present"),
            ],
        ),
        _read(
            "TP1",
            43,
            [
                LesionAssessment(LIVER, Measurement("measured", 40.0, None, 0.0)),
                LesionAssessment(NODE, Measurement("too_small")),
                LesionAssessment(LUNG, Measurement("not_evaluated")),
                LesionAssessment(NT, non_target_status="absent"),
                LesionAssessment(NEW, None),
            ],
            new="equivocal",
        ),
    )
    r2 = (
        _read(
            "TP0",
            0,
            [LesionAssessment(LIVER, Measurement("measured", 41.0, 30.0, 29.0))],
            reader="rad2",
        ),
    )
    return [
        SdtmRead("HCC-042", 1, frozenset({"recist1.1", "mrecist"}), r1),
        SdtmRead("HCC-042", 2, frozenset(), r2),
    ]


@pytest.fixture(scope="module")
def sdtm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdtm")
    save_sdtm(derive_sdtm(_partial_trial(), study_id="HCC-301"), out)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="ascii") as f:
        return list(csv.DictReader(f))


def test_every_coded_value_is_a_term_of_the_cdisc_codelist_file(sdtm_dir: Path) -> None:
    terms = _codelists()
    problems = []
    for domain, coded in CODED.items():
        rows = _rows(sdtm_dir / f"{domain.lower()}.csv")
        assert rows, f"{domain} is empty"
        code_cl, name_cl = TEST_PAIRS[domain]
        for i, row in enumerate(rows):
            for var, clst in coded.items():
                if row[var] and row[var] not in terms[clst]:
                    problems.append((domain, i, var, row[var]))
            # --TESTCD and --TEST are the same concept (same C-code)
            code = terms[code_cl].get(row[f"{domain}TESTCD"])
            assert code is not None and code == terms[name_cl].get(row[f"{domain}TEST"]), row
            if domain == "TR" and row["TRTESTCD"] == "TUMSTATE":
                for var in ("TRORRES", "TRSTRESC"):
                    if row[var] not in terms[TUMSTATE_RESULTS]:
                        problems.append((domain, i, var, row[var]))
            assert row[f"{domain}ACPTFL"] in ("", "Y")
    assert problems == []


def test_partial_trial_exports_what_it_has(sdtm_dir: Path) -> None:
    tr = _rows(sdtm_dir / "tr.csv")
    rs = _rows(sdtm_dir / "rs.csv")
    # reader 2 read only the baseline: TU/TR rows, no RS rows
    assert any(r["TREVALID"] == "RADIOLOGIST 2" for r in tr)
    assert [r for r in rs if r["RSEVALID"] == "RADIOLOGIST 2"] == []
    # a target not evaluated: NOT DONE with a reason and no result
    nd = [r for r in tr if r["TRLNKID"] == "R1-T03" and r["VISIT"] == "TP1"]
    assert nd and all(r["TRSTAT"] == "NOT DONE" and r["TRREASND"] and not r["TRORRES"] for r in nd)
    # reader 1's RS: the equivocal new lesion, NE overall (a target not evaluated)
    by_test = {
        (r["RSCAT"], r["RSTESTCD"]): r["RSORRES"] for r in rs if r["RSEVALID"] == "RADIOLOGIST 1"
    }
    assert by_test[("RECIST 1.1", "NEWLPROG")] == "EQUIVOCAL"
    assert by_test[("RECIST 1.1", "OVRLRESP")] == "NE"
    # --SEQ numbers each subject's rows 1..n
    assert [int(r["TRSEQ"]) for r in tr] == list(range(1, len(tr) + 1))


def test_xpt_files_read_back_by_readstat_with_define_labels_and_lengths(sdtm_dir: Path) -> None:
    define = _rows(sdtm_dir / "define.csv")
    for domain in ("TU", "TR", "RS"):
        df, meta = pyreadstat.read_xport(str(sdtm_dir / f"{domain.lower()}.xpt"))
        spec = [d for d in define if d["dataset"] == domain]
        assert meta.table_name == domain
        assert meta.column_names == [d["variable"] for d in spec]
        assert meta.column_labels == [d["label"] for d in spec]
        widths = {d["variable"]: int(d["length"]) for d in spec}
        assert {k: int(v) for k, v in meta.variable_storage_width.items()} == widths
        rows = _rows(sdtm_dir / f"{domain.lower()}.csv")
        assert len(df) == len(rows)
        for col in df.columns:
            for got, want in zip(df[col].tolist(), (r[col] for r in rows), strict=True):
                if isinstance(got, float):
                    assert (got != got and want == "") or got == float(want), (col, got, want)
                else:
                    assert got == want, (col, got, want)


def test_trlnkgrp_has_the_sdtmig_label(sdtm_dir: Path) -> None:
    define = {(d["dataset"], d["variable"]): d for d in _rows(sdtm_dir / "define.csv")}
    assert define[("TR", "TRLNKGRP")]["label"] == "Link Group"
    assert define[("TR", "TRLNKGRP")]["core"] == "Perm"
    assert define[("RS", "RSLNKGRP")]["core"] == "Perm"


def test_import_sr_of_another_tools_sr_fails_with_one_line(capsys) -> None:
    if not FOREIGN_SR.is_file():
        pytest.skip(f"shared test data not found: {FOREIGN_SR}")
    with pytest.raises(ExportError, match="Lesion Identification"):
        load_sr(FOREIGN_SR)
    assert main(["import-sr", str(FOREIGN_SR)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("readerstation import-sr: error:") and "\n" not in err


def _wipe_audit_trail(t: Trial) -> None:
    drop_audit_triggers(t.store)
    raw(t.store, "DELETE FROM audit_events")
    raw(t.store, "UPDATE audit_head SET seq = 0, hash = :h WHERE id = 1", h="0" * 64)


def test_verify_detects_a_wiped_audit_trail(trial: Trial) -> None:
    trial.r1.save_draft(make_read("r1", mm=40.0))
    assert trial.admin.verify_audit().intact
    _wipe_audit_trail(trial)
    result = trial.admin.verify_audit()
    assert (result.intact, result.first_bad_seq) == (False, 1)
    assert "no store.init event" in result.reason


def test_verify_detects_a_wiped_trail_restarted_by_later_writes(trial: Trial) -> None:
    _wipe_audit_trail(trial)
    trial.r1.save_draft(make_read("r1", mm=40.0))  # readerstation starts a fresh chain
    events = trial.admin.list_audit()
    assert events and events[0].seq == 1  # the new chain is well formed by itself...
    result = trial.admin.verify_audit()
    assert not result.intact and "trail was deleted" in result.reason  # ...but reported
