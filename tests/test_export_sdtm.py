# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""SDTM TU/TR/RS export: values worked by hand, CDISC terms, structure, CSV + SAS transport v5.

Reference files (read, never copied) in ``../shared/testdata/sdtm/``: the CDISC SDTM oncology
controlled terminology 2025-03-25 and the pharmaversesdtm example datasets (Apache-2.0).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from test_store_support import store_url  # noqa: F401  (fixture)

from readerstation.errors import ModelError
from readerstation.export.sdtm import (
    RSCAT,
    SDTM_VARIABLES,
    SdtmDatasets,
    SdtmExportError,
    SdtmRead,
    check_sdtm_structure,
    check_sdtm_terms,
    derive_define,
    derive_sdtm,
    derive_sdtm_reads,
    save_sdtm,
)
from readerstation.export.sdtm_terms import load_sdtm_codelists
from readerstation.model import (
    Lesion,
    LesionAssessment,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)

SDTM_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata" / "sdtm"
CT_FILE = SDTM_DATA / "oncology_codelists_sdtm_ct_2025-03-25.csv"

SIGNED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
START = dt.date(2024, 1, 8)
LIVER = Lesion("trk-1", "T1", "target", "liver", liver_segment="VII", typical_hcc=True)
NODE = Lesion("trk-2", "N1", "target", "lymph_node", nodal=True)
NT = Lesion("trk-3", "NT1", "non_target", "lung")
NEW = Lesion("trk-4", "NL1", "new", "liver", liver_segment="II", typical_hcc=True)
DATES = {"TP0": dt.date(2024, 1, 5), "TP1": dt.date(2024, 2, 20), "TP2": dt.date(2024, 4, 20)}


def read(label, liver, node, *, reader="rad1", nt="present", new=False, subject="HCC-007"):
    """liver = (long, viable) mm or a MeasurementState word; node = (long, short) mm."""
    lm = (
        Measurement(liver)
        if isinstance(liver, str)
        else Measurement("measured", long_axis_mm=liver[0], viable_long_axis_mm=liver[1])
    )
    lesions = [
        LesionAssessment(LIVER, lm),
        LesionAssessment(
            NODE, Measurement("measured", long_axis_mm=node[0], short_axis_mm=node[1])
        ),
        LesionAssessment(NT, non_target_status=nt),
    ]
    if new:
        lesions.append(
            LesionAssessment(
                NEW, Measurement("measured", long_axis_mm=15.0, viable_long_axis_mm=12.0)
            )
        )
    return TimepointRead(
        Subject(subject, START),
        Timepoint(label, DATES[label]),
        reader,
        tuple(lesions),
        "unequivocal" if new else "none",
        "signed",
        1,
        SIGNED,
    )


def two_readers() -> list[SdtmRead]:
    """Reader 1 (accepted for RECIST 1.1): PR at TP1, a new liver lesion at TP2.
    Reader 2 (accepted for mRECIST): the liver target not evaluable at TP1."""
    r1 = (
        read("TP0", (50.0, 40.0), (30.0, 20.0)),
        read("TP1", (30.0, 12.0), (25.0, 15.0)),
        read("TP2", (29.0, 10.0), (25.0, 14.0), new=True),
    )
    r2 = (
        read("TP0", (52.0, 41.0), (30.0, 21.0), reader="rad2"),
        read("TP1", "not_evaluated", (25.0, 15.0), reader="rad2"),
    )
    return [
        SdtmRead("HCC-007", 2, frozenset({"mrecist"}), r2),
        SdtmRead("HCC-007", 1, frozenset({"recist1.1"}), r1),
    ]


@pytest.fixture(scope="module")
def datasets() -> SdtmDatasets:
    return derive_sdtm(two_readers(), study_id="HCC-301")


def shared_codelists():
    if not CT_FILE.exists():
        pytest.skip(f"{CT_FILE} absent (shared test data not installed)")
    full = load_sdtm_codelists(CT_FILE)
    bundled = load_sdtm_codelists()
    # NY (C66742) and UNIT (C71620) are general SDTM codelists the oncology file does not hold
    assert "NY" not in full and "UNIT" not in full
    return {**full, "NY": bundled["NY"], "UNIT": bundled["UNIT"]}


def rows(df: pd.DataFrame, **where) -> pd.DataFrame:
    mask = pd.Series(True, index=df.index)
    for k, v in where.items():
        mask &= df[k] == v
    return df[mask]


# -- values -----------------------------------------------------------------------------------


def test_tu_identifies_each_readers_lesions_once_with_location_and_flag(datasets):
    tu = datasets.tu
    got = list(
        zip(tu.TULNKID, tu.TUORRES, tu.TULOC, tu.VISIT, tu.TUEVALID, tu.TUACPTFL, strict=True)
    )
    assert got == [
        (
            "R1-T01",
            "TARGET",
            "LIVER, RIGHT LOBE POSTEROSUPERIOR SEGMENT",
            "TP0",
            "RADIOLOGIST 1",
            "Y",
        ),
        ("R1-T02", "TARGET", "LYMPH NODE", "TP0", "RADIOLOGIST 1", "Y"),
        ("R1-NT01", "NON-TARGET", "LUNG", "TP0", "RADIOLOGIST 1", "Y"),
        ("R1-NEW01", "NEW", "LIVER, LEFT LOBE POSTEROLATERAL SEGMENT", "TP2", "RADIOLOGIST 1", "Y"),
        (
            "R2-T01",
            "TARGET",
            "LIVER, RIGHT LOBE POSTEROSUPERIOR SEGMENT",
            "TP0",
            "RADIOLOGIST 2",
            "Y",
        ),
        ("R2-T02", "TARGET", "LYMPH NODE", "TP0", "RADIOLOGIST 2", "Y"),
        ("R2-NT01", "NON-TARGET", "LUNG", "TP0", "RADIOLOGIST 2", "Y"),
    ]
    assert set(tu.USUBJID) == {"HCC-301-HCC-007"}
    assert list(tu.TUSEQ) == list(range(1, 8))
    assert set(tu.TUEVAL) == {"INDEPENDENT ASSESSOR"}
    assert set(tu.TUMETHOD) == {"CT SCAN"}
    # baseline 2024-01-05, treatment start 2024-01-08: day -3; TP2 2024-04-20: day 104
    assert list(tu.TUDY) == [-3, -3, -3, 104, -3, -3, -3]
    assert list(tu.VISITNUM) == [1, 1, 1, 3, 1, 1, 1]


def test_tr_values_per_criteria_match_hand_computation(datasets):
    tr = datasets.tr
    recist = rows(tr, TREVALID="RADIOLOGIST 1", TRGRPID="RECIST 1.1")
    # RECIST 1.1: liver long axis, node short axis; sums 50+20=70, 30+15=45, 29+14=43
    assert list(zip(recist.TRLNKID, recist.TRTESTCD, recist.TRSTRESN.fillna(-1), strict=True))[
        :4
    ] == [
        ("R1-T01", "LDIAM", 50.0),
        ("R1-T02", "LPERP", 20.0),
        ("R1-NT01", "TUMSTATE", -1),
        ("", "SUMDIAM", 70.0),
    ]
    assert list(rows(recist, TRTESTCD="SUMDIAM").TRSTRESN) == [70.0, 45.0, 43.0]
    mrec = rows(tr, TREVALID="RADIOLOGIST 1", TRGRPID=RSCAT["mrecist"])
    # mRECIST: viable diameter of the liver target (VDIAM), node short axis; 40+20, 12+15, 10+14
    assert list(rows(mrec, TRLNKID="R1-T01").TRTESTCD) == ["VDIAM"] * 3
    assert list(rows(mrec, TRLNKID="R1-T01").TRSTRESN) == [40.0, 12.0, 10.0]
    assert list(rows(mrec, TRTESTCD="SUMVDIAM").TRSTRESN) == [60.0, 27.0, 24.0]
    assert set(mrec.TRACPTFL) == {""} and set(recist.TRACPTFL) == {"Y"}
    new = rows(recist, TRLNKID="R1-NEW01")
    assert list(zip(new.TRTESTCD, new.TRORRES, strict=True)) == [
        ("TUMSTATE", "PRESENT"),
        ("LDIAM", "15"),
    ]
    # reader 2's liver target not evaluable at TP1: NOT DONE, and so is the sum
    nd = rows(tr, TREVALID="RADIOLOGIST 2", VISIT="TP1", TRSTAT="NOT DONE")
    assert sorted(zip(nd.TRGRPID, nd.TRTESTCD, nd.TRORRES, strict=True)) == sorted(
        [
            ("RECIST 1.1", "LDIAM", ""),
            ("RECIST 1.1", "SUMDIAM", ""),
            (RSCAT["mrecist"], "VDIAM", ""),
            (RSCAT["mrecist"], "SUMVDIAM", ""),
        ]
    )
    assert nd.TRSTRESN.isna().all() and (nd.TRREASND != "").all()
    assert set(rows(tr, TREVALID="RADIOLOGIST 2", TRGRPID=RSCAT["mrecist"]).TRACPTFL) == {"Y"}
    assert set(rows(tr, TRSTRESU="mm").TRORRESU) == {"mm"}


def test_rs_responses_and_accepted_flag_per_criteria(datasets):
    rs = datasets.rs
    r1 = rows(rs, RSEVALID="RADIOLOGIST 1", RSCAT="RECIST 1.1")
    assert list(zip(r1.VISIT, r1.RSTESTCD, r1.RSORRES, strict=True)) == [
        ("TP1", "TRGRESP", "PR"),  # 45 vs 70: -35.7 %
        ("TP1", "NTRGRESP", "NON-CR/NON-PD"),
        ("TP1", "OVRLRESP", "PR"),
        ("TP2", "TRGRESP", "PR"),  # 43 vs 70: -38.6 %
        ("TP2", "NTRGRESP", "NON-CR/NON-PD"),
        ("TP2", "NEWLPROG", "UNEQUIVOCAL"),
        ("TP2", "OVRLRESP", "PD"),
        # PR at day 44 not confirmed (PD next): SD (>= 35 days after the start)
        ("", "BESTRESP", "SD"),
    ]
    assert set(r1.RSACPTFL) == {"Y"}
    assert list(r1.RSLNKGRP) == ["R1-RECIST-V2"] * 3 + ["R1-RECIST-V3"] * 4 + [""]
    assert (r1.RSORRES == r1.RSSTRESC).all()
    r2 = rows(rs, RSEVALID="RADIOLOGIST 2")
    assert set(rows(r2, RSCAT="RECIST 1.1").RSACPTFL) == {""}
    assert set(rows(r2, RSCAT=RSCAT["mrecist"]).RSACPTFL) == {"Y"}
    assert list(rows(r2, RSTESTCD="OVRLRESP").RSORRES) == ["NE", "NE"]
    assert list(rows(r2, RSTESTCD="BESTRESP").RSORRES) == ["NE", "NE"]
    bor = rows(rs, RSTESTCD="BESTRESP")
    assert bor.VISITNUM.isna().all() and (bor.RSDTC == "").all()
    assert list(rs.RSSEQ) == list(range(1, len(rs) + 1))
    # TR rows that led to an RS record share its link group
    assert set(rs.RSLNKGRP) - {""} <= set(datasets.tr.TRLNKGRP)


# -- controlled terminology -------------------------------------------------------------------


@pytest.mark.realdata
def test_every_coded_value_is_a_term_of_the_cdisc_codelists(datasets):
    assert check_sdtm_terms(datasets, shared_codelists()) == []
    assert check_sdtm_terms(datasets) == []


@pytest.mark.realdata
def test_bundled_codelists_are_the_cdisc_file_unchanged():
    full = load_sdtm_codelists(CT_FILE) if CT_FILE.exists() else pytest.skip("no CT file")
    bundled = load_sdtm_codelists()
    used = {v.codelist for vs in SDTM_VARIABLES.values() for v in vs if v.codelist}
    assert used - {"NY", "UNIT"} <= set(full)
    for name, cl in bundled.items():
        if name in ("NY", "UNIT"):
            continue
        assert dict(cl.term_codes) == dict(full[name].term_codes), name
        assert cl.code == full[name].code


def test_wrong_terms_are_reported(datasets):
    rs = datasets.rs.copy()
    rs.loc[0, "RSORRES"] = "GOOD RESPONSE"
    rs.loc[1, "RSCAT"] = "mRECIST"
    tu = datasets.tu.copy()
    tu.loc[2, "TULOC"] = "LUNGS"
    tu.loc[3, "TUEVALID"] = "rad1"
    tr = datasets.tr.copy()
    tr.loc[0, "TRTEST"] = "Viable Diameter"  # a TRTEST term, but not LDIAM's name
    i_state = int(tr.index[tr.TRTESTCD == "TUMSTATE"][0])
    tr.loc[i_state, "TRORRES"] = "GONE"
    bad = dataclasses.replace(datasets, tu=tu, tr=tr, rs=rs)
    got = {(f.dataset, f.variable, f.row, f.value) for f in check_sdtm_terms(bad)}
    assert got == {
        ("RS", "RSORRES", 0, "GOOD RESPONSE"),
        ("RS", "RSCAT", 1, "mRECIST"),
        ("TU", "TULOC", 2, "LUNGS"),
        ("TU", "TUEVALID", 3, "rad1"),
        ("TR", "TRTEST", 0, "Viable Diameter"),
        ("TR", "TRORRES", i_state, "GONE"),
    }
    msg = {str(f) for f in check_sdtm_terms(bad)}
    assert any("not a term of codelist ONCRSCAT (C124298" in m for m in msg)
    with pytest.raises(SdtmExportError, match="fail the SDTM checks"):
        save_sdtm(bad, Path("/nonexistent-never-written"))


def test_missing_codelist_is_itself_a_finding(datasets):
    cls = load_sdtm_codelists()
    del cls["LOC"]
    assert [(f.variable, f.row) for f in check_sdtm_terms(datasets, cls)] == [("TULOC", None)]


# -- structure --------------------------------------------------------------------------------


def test_structure_is_clean_and_malformed_rows_are_reported(datasets):
    assert check_sdtm_structure(datasets) == []
    rs = datasets.rs.copy()
    rs.loc[0, "RSTESTCD"] = ""
    rs.loc[1, "RSDTC"] = "20/02/2024"
    rs.loc[2, "RSSEQ"] = 1
    rs.loc[3, "RSACPTFL"] = "N"
    tu = datasets.tu.copy()
    tu.loc[0, "TULOC"] = "LIVER \u2013 VII"
    bad = dataclasses.replace(datasets, rs=rs, tu=tu.drop(columns=["TUDY"]))
    got = {(f.dataset, f.variable, f.row) for f in check_sdtm_structure(bad)}
    assert got == {
        ("RS", "RSTESTCD", 0),
        ("RS", "RSDTC", 1),
        ("RS", "RSSEQ", 2),
        ("RS", "RSACPTFL", 3),
        ("TU", "*", None),
    }
    bad = dataclasses.replace(datasets, tu=tu)
    assert [(f.variable, f.row) for f in check_sdtm_structure(bad)] == [("TULOC", 0)]


def test_required_variables_are_never_empty_and_lengths_fit_the_define(datasets):
    define = derive_define(datasets)
    for domain, df in datasets.items():
        spec = SDTM_VARIABLES[domain]
        assert list(df.columns) == [v.name for v in spec]
        for v in spec:
            d = define[(define.dataset == domain) & (define.variable == v.name)].iloc[0]
            assert d.label == v.label and len(d.label) <= 40 and len(v.name) <= 8
            if v.core == "Req":
                assert df[v.name].notna().all() and (df[v.name].astype(str) != "").all()
            if v.numeric:
                assert d.sas_type == "Num" and d.length == 8
                assert pd.api.types.is_numeric_dtype(df[v.name])
            else:
                assert d.sas_type == "Char"
                assert df[v.name].map(len).max() <= d.length <= 200


@pytest.mark.realdata
def test_columns_follow_the_pharmaverse_examples(datasets):
    for name, domain in (("tu_onco", "TU"), ("rs_onco", "RS"), ("tr_onco_recist", "TR")):
        path = SDTM_DATA / f"{name}.csv"
        if not path.exists():
            pytest.skip(f"{path} absent")
        theirs = list(pd.read_csv(path, nrows=1).columns)
        ours = [v.name for v in SDTM_VARIABLES[domain]]
        if domain == "TU":
            assert ours == theirs  # same variables in the same order
        elif domain == "RS":
            # theirs also has RSSTAT / RSREASND, which our RS never fills
            assert [c for c in theirs if c not in ("RSSTAT", "RSREASND")] == ours
        else:
            # theirs lists DOMAIN first and has no TRSEQ order; we keep SDTMIG order
            assert set(theirs) <= set(ours)
    tu = pd.read_csv(SDTM_DATA / "tu_onco.csv", dtype=str, keep_default_na=False)
    radiologists = tu[tu.TUEVAL == "INDEPENDENT ASSESSOR"]
    # their multi-reader link ids are R1-T01 / R2-NT03: ours follow the same pattern
    pattern = r"^R[12]-(T|NT|NEW)\d{2}$"
    assert radiologists.TULNKID.str.match(pattern).all()
    assert datasets.tu.TULNKID.str.match(pattern).all()
    assert set(radiologists.TUEVALID) == set(datasets.tu.TUEVALID)


# -- files ------------------------------------------------------------------------------------


def test_save_writes_csv_and_sas_transport_v5_that_read_back(datasets, tmp_path):
    paths = save_sdtm(datasets, tmp_path / "sdtm")
    assert sorted(p.name for p in paths) == sorted(
        ["tu.csv", "tu.xpt", "tr.csv", "tr.xpt", "rs.csv", "rs.xpt", "define.csv"]
    )
    define = pd.read_csv(tmp_path / "sdtm" / "define.csv", keep_default_na=False)
    for domain, df in datasets.items():
        xpt = tmp_path / "sdtm" / f"{domain.lower()}.xpt"
        head = xpt.read_bytes()[:80]
        assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")
        assert b"LIBV8" not in xpt.read_bytes()[:400]  # v5, not v8
        back = pd.read_sas(xpt, format="xport", encoding="ascii")
        assert list(back.columns) == list(df.columns)
        assert len(back) == len(df)
        csv = pd.read_csv(
            tmp_path / "sdtm" / f"{domain.lower()}.csv", dtype=str, keep_default_na=False
        )
        for v in SDTM_VARIABLES[domain]:
            if v.numeric:
                want = pd.to_numeric(df[v.name]).astype("float64")
                pd.testing.assert_series_equal(back[v.name], want, check_names=False)
                got = pd.to_numeric(csv[v.name].replace("", None)).astype("float64")
                pd.testing.assert_series_equal(got, want, check_names=False)
                assert not csv[v.name].str.endswith(".0").any()  # integers written as such
            else:
                assert list(back[v.name]) == list(df[v.name])
                assert list(csv[v.name]) == list(df[v.name])
        _, meta = pyreadstat.read_xport(str(xpt))
        assert meta.table_name == domain
        assert meta.column_labels == [v.label for v in SDTM_VARIABLES[domain]]
        d = define[define.dataset == domain]
        assert list(d.variable) == list(df.columns)
        for name, width in meta.variable_storage_width.items():
            assert int(d[d.variable == name].length.iloc[0]) == width


def test_empty_trial_writes_header_only_files(tmp_path):
    ds = derive_sdtm([], study_id="HCC-301")
    assert check_sdtm_structure(ds) == [] and check_sdtm_terms(ds) == []
    save_sdtm(ds, tmp_path)
    for domain in ("TU", "TR", "RS"):
        text = (tmp_path / f"{domain.lower()}.csv").read_text()
        assert text == ",".join(v.name for v in SDTM_VARIABLES[domain]) + "\n"
        df, meta = pyreadstat.read_xport(str(tmp_path / f"{domain.lower()}.xpt"))
        assert len(df) == 0 and meta.column_names == [v.name for v in SDTM_VARIABLES[domain]]
    assert len(pd.read_csv(tmp_path / "define.csv")) == sum(map(len, SDTM_VARIABLES.values()))


def test_partial_trial_exports_what_it_has(tmp_path):
    baseline_only = SdtmRead(
        "HCC-008", 1, frozenset(), (read("TP0", (40.0, 30.0), (25.0, 18.0), subject="HCC-008"),)
    )
    # a target that appears only at the follow-up: the engine refuses the reads (both criteria)
    third = Lesion("trk-9", "T3", "target", "liver", liver_segment="V", typical_hcc=True)
    extra = LesionAssessment(
        third, Measurement("measured", long_axis_mm=22.0, viable_long_axis_mm=20.0)
    )
    tp1 = read("TP1", (38.0, 25.0), (25.0, 18.0), subject="HCC-009")
    bad = (
        read("TP0", (40.0, 30.0), (25.0, 18.0), subject="HCC-009"),
        dataclasses.replace(tp1, lesions=(*tp1.lesions, extra)),
    )
    refused = SdtmRead("HCC-009", 1, frozenset({"recist1.1", "mrecist"}), bad)
    ds = derive_sdtm([refused, baseline_only], study_id="HCC-301")
    assert check_sdtm_structure(ds) == [] and check_sdtm_terms(ds) == []
    assert list(ds.tu.USUBJID.unique()) == ["HCC-301-HCC-008", "HCC-301-HCC-009"]
    assert set(rows(ds.tu, USUBJID="HCC-301-HCC-008").TUACPTFL) == {""}  # not accepted yet
    assert len(rows(ds.tr, USUBJID="HCC-301-HCC-008")) == 2 * 4  # 2 criteria x (2 + NT + sum)
    assert len(rows(ds.rs, USUBJID="HCC-301-HCC-008")) == 0  # no follow-up, no response
    # the refused reads keep their TU rows (T3 too) and lesion TR rows, without sums or RS
    assert list(rows(ds.tu, USUBJID="HCC-301-HCC-009").TULNKID) == [
        "R1-T01",
        "R1-T02",
        "R1-NT01",
        "R1-T03",
    ]
    tr9 = rows(ds.tr, USUBJID="HCC-301-HCC-009")
    assert len(tr9) == 2 * (3 + 4) and not {"SUMDIAM", "SUMVDIAM"} & set(tr9.TRTESTCD)
    assert len(rows(ds.rs, USUBJID="HCC-301-HCC-009")) == 0
    assert len(ds.notes) == 2
    assert all("HCC-009" in n and "refuses" in n for n in ds.notes)
    save_sdtm(ds, tmp_path)


def test_unknown_organ_leaves_tuloc_empty_with_a_note():
    odd = Lesion("trk-5", "NT2", "non_target", "mystery organ")
    r = read("TP0", (40.0, 30.0), (25.0, 18.0))
    r = dataclasses.replace(
        r, lesions=(*r.lesions, LesionAssessment(odd, non_target_status="present"))
    )
    ds = derive_sdtm([SdtmRead("HCC-007", 1, frozenset({"recist1.1"}), (r,))], study_id="S1")
    assert list(rows(ds.tu, TULNKID="R1-NT02").TULOC) == [""]
    assert any("mystery_organ" in n and "TULOC" in n for n in ds.notes)


# -- input ------------------------------------------------------------------------------------


def test_sdtm_read_refuses_drafts_hidden_dates_and_mixed_readers():
    signed = read("TP0", (40.0, 30.0), (25.0, 18.0))
    draft = dataclasses.replace(signed, status="draft", signed_at=None)
    with pytest.raises(ModelError, match="draft"):
        SdtmRead("HCC-007", 1, frozenset(), (draft,))
    hidden = dataclasses.replace(signed, timepoint=Timepoint("TP0", None))
    with pytest.raises(ModelError, match="no scan date"):
        SdtmRead("HCC-007", 1, frozenset(), (hidden,))
    with pytest.raises(ModelError, match="one reader"):
        SdtmRead("HCC-007", 1, frozenset(), (signed, dataclasses.replace(signed, reader="rad2")))
    with pytest.raises(ModelError, match="reader_slot"):
        SdtmRead("HCC-007", 4, frozenset(), (signed,))
    with pytest.raises(ModelError, match="accepted"):
        SdtmRead("HCC-007", 1, frozenset({"irecist"}), (signed,))
    with pytest.raises(ModelError, match="study_id"):
        derive_sdtm([], study_id="bad id")
    s = SdtmRead("HCC-007", 1, frozenset(), (signed,))
    with pytest.raises(ModelError, match="two reads in slot 1"):
        derive_sdtm([s, s], study_id="S1")


def test_derive_sdtm_reads_groups_by_subject_and_reader_and_skips_drafts():
    reads = [r for s in two_readers() for r in s.reads]
    draft = dataclasses.replace(
        read("TP0", (1.0, 1.0), (1.0, 1.0), reader="rad3"), status="draft", signed_at=None
    )
    slots = {("HCC-007", "rad1"): 1, ("HCC-007", "rad2"): 2}
    accepted = {("HCC-007", "recist1.1"): 1, ("HCC-007", "mrecist"): 2}
    got = derive_sdtm_reads([*reads, draft], slots=slots, accepted=accepted, method="MRI")
    assert [(s.reader_slot, sorted(s.accepted), len(s.reads), s.method.value) for s in got] == [
        (1, ["recist1.1"], 3, "MRI"),
        (2, ["mrecist"], 2, "MRI"),
    ]
    with pytest.raises(ModelError, match="no slot"):
        derive_sdtm_reads(reads, slots={}, accepted=accepted)


# -- the simulated dual-read trial ------------------------------------------------------------


def test_dual_trial_export_matches_the_discrepancy_engine(tmp_path):
    dual = pytest.importorskip("readerstation.sample.dual_trial")
    from readerstation.model.reads_json import reads_from_json
    from readerstation.reading.discrepancy import compare_reads

    trial = dual.derive_dual_trial(seed=0)
    reads = reads_from_json(trial.reads_json)
    subjects = sorted({r.subject.code for r in reads})
    slots = {(r.subject.code, r.reader): 1 if r.reader == "reader1" else 2 for r in reads}
    accepted = {
        (s, c): 1 + (i % 2) for i, s in enumerate(subjects) for c in ("recist1.1", "mrecist")
    }
    items = derive_sdtm_reads(reads, slots=slots, accepted=accepted)
    ds = derive_sdtm(items, study_id="SIM")
    assert ds.notes == ()
    assert check_sdtm_structure(ds) == []
    assert check_sdtm_terms(ds) == []
    if CT_FILE.exists():
        assert check_sdtm_terms(ds, shared_codelists()) == []
    assert ds.tu.USUBJID.nunique() == len(subjects)
    by = {(s.subject, s.reader_slot): s.reads for s in items}
    for subject in subjects:
        for crit in ("recist1.1", "mrecist"):
            cmp = compare_reads(by[(subject, 1)], by[(subject, 2)], crit)
            bor = rows(ds.rs, USUBJID=f"SIM-{subject}", RSTESTCD="BESTRESP", RSCAT=RSCAT[crit])
            assert list(zip(bor.RSEVALID, bor.RSORRES, bor.RSACPTFL, strict=True)) == [
                (
                    "RADIOLOGIST 1",
                    cmp.result_1.best_overall_response.value,
                    "Y" if accepted[(subject, crit)] == 1 else "",
                ),
                (
                    "RADIOLOGIST 2",
                    cmp.result_2.best_overall_response.value,
                    "Y" if accepted[(subject, crit)] == 2 else "",
                ),
            ]
    save_sdtm(ds, tmp_path)


# -- from a store, and the command line -------------------------------------------------------


def test_export_from_a_store_flags_the_accepted_reads(store_url, tmp_path, monkeypatch, capsys):
    dual = pytest.importorskip("readerstation.sample.dual_trial")
    from test_store_support import ADMIN_PW, FAST_KDF, R1_PW, R2_PW

    from readerstation.cli import main
    from readerstation.export.sdtm import export_from_repository
    from readerstation.store import Repository, create_first_admin, open_store

    store = open_store(store_url)
    try:
        create_first_admin(store, "admin", ADMIN_PW, kdf=FAST_KDF)
        admin = Repository.login(store, "admin", ADMIN_PW, kdf=FAST_KDF)
        admin.add_user("reader1", "reader", R1_PW)
        admin.add_user("reader2", "reader", R2_PW)
        admin.import_reads(dual.derive_dual_trial(seed=0).reads_json)
        notes: list[str] = []
        paths = export_from_repository(admin, tmp_path / "api", study_id="SIM", report=notes.append)
        accepted = {
            (a.subject, crit): a.reader_slot
            for crit in ("recist1.1", "mrecist")
            for a in admin.accepted_reads(crit)
        }
        open_ = {(d.subject, d.criteria) for d in admin.list_discrepancies("open")}
        n_subjects = len({a.subject for a in admin.list_assignments()})
    finally:
        store.close()
    assert len(paths) == 7 and notes == []
    rs = pd.read_csv(tmp_path / "api" / "rs.csv", dtype=str, keep_default_na=False)
    assert rs.USUBJID.nunique() == n_subjects
    assert accepted and open_  # the simulated trial has both
    for (usubjid, cat), group in rs.groupby(["USUBJID", "RSCAT"]):
        subject = usubjid.removeprefix("SIM-")
        crit = "recist1.1" if cat == "RECIST 1.1" else "mrecist"
        flagged = set(group[group.RSACPTFL == "Y"].RSEVALID)
        slot = accepted.get((subject, crit))
        if slot is None:
            assert flagged == set() and (subject, crit) in open_
        else:
            assert flagged == {f"RADIOLOGIST {slot}"}
    # the command line writes the same datasets (sr's `export --format sdtm` hook)
    monkeypatch.setenv("READERSTATION_PASSWORD", ADMIN_PW)
    code = main(
        ["--db", store_url, "--user", "admin", "export", "--format", "sdtm", "--out",
         str(tmp_path / "cli"), "--study-id", "SIM"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    for name in ("tu.csv", "tr.csv", "rs.csv", "define.csv"):
        assert (tmp_path / "cli" / name).read_text() == (tmp_path / "api" / name).read_text()
    # a reader is refused in the export's own words, and nothing is written
    monkeypatch.setenv("READERSTATION_PASSWORD", R1_PW)
    capsys.readouterr()
    code = main(
        ["--db", store_url, "--user", "reader1", "export", "--format", "sdtm", "--out",
         str(tmp_path / "r1"), "--study-id", "SIM"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "export --format sdtm" in err and "needs role admin" in err
    assert not (tmp_path / "r1" / "tu.csv").exists()


# -- the SAS transport writer -----------------------------------------------------------------


def test_xpt_writer_matches_pyreadstat_and_both_readers(tmp_path):
    from readerstation.export.sdtm_xpt import save_xpt_v5

    df = pd.DataFrame(
        {
            "TEXT": ["A", "", "LIVER, CAUDATE LOBE", "x" * 200],
            "N": [0.0, -1.5, 123456.789, float("nan")],
            "I": pd.array([1, None, 3, -4], dtype="Int64"),
        }
    )
    labels = ["Some Text", "A Number", "An Integer"]
    ours, theirs = tmp_path / "ours.xpt", tmp_path / "theirs.xpt"
    save_xpt_v5(df, ours, name="DS", label="Data Set", column_labels=labels)
    plain = df.assign(I=df.I.astype("float64"))
    pyreadstat.write_xport(
        plain, str(theirs), file_label="Data Set", column_labels=labels, table_name="DS",
        file_format_version=5,
    )  # fmt: skip
    a, meta_a = pyreadstat.read_xport(str(ours))
    b, meta_b = pyreadstat.read_xport(str(theirs))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, plain, check_dtype=False)
    for attr in ("table_name", "file_label", "column_labels", "variable_storage_width"):
        assert getattr(meta_a, attr) == getattr(meta_b, attr), attr
    back = pd.read_sas(ours, format="xport", encoding="ascii")
    # pandas decodes an IBM zero as 5.4e-79 (its reader, not the file: pyreadstat's file too)
    pd.testing.assert_frame_equal(back, plain, check_dtype=False, atol=1e-70)


def test_ibm_floats_are_exact_and_out_of_range_values_are_refused(tmp_path):
    from readerstation.export.sdtm_xpt import save_xpt_v5, to_ibm_float

    # IBM 370: 1.0 = 0x41 10..., -118.625 = 0xC2 76 A0... (TS-140 / the IBM manual's example)
    assert to_ibm_float(pd.Series([1.0, -118.625]).to_numpy()).tobytes().hex() == (
        "4110000000000000" + "c276a00000000000"
    )
    values = [0.1, 1 / 3, 2.0**-20, 1e10, -3.3e-70, 7e75, 5.43e-79, 21.63]
    save_xpt_v5(pd.DataFrame({"X": values}), tmp_path / "v.xpt", name="V")
    assert pyreadstat.read_xport(str(tmp_path / "v.xpt"))[0].X.tolist() == values
    with pytest.raises(ModelError, match="IBM floating-point range"):
        to_ibm_float(pd.Series([1e80]).to_numpy())
    with pytest.raises(ModelError, match="infinite"):
        to_ibm_float(pd.Series([float("inf")]).to_numpy())
    with pytest.raises(ModelError, match="not ASCII"):
        save_xpt_v5(pd.DataFrame({"T": ["S\u00e9gment"]}), tmp_path / "t.xpt", name="T")
    with pytest.raises(ModelError, match="longer than 8"):
        save_xpt_v5(pd.DataFrame({"TOOLONGNAME": [1.0]}), tmp_path / "t.xpt", name="T")
    with pytest.raises(ModelError, match="1 to 200"):
        save_xpt_v5(pd.DataFrame({"T": ["x" * 201]}), tmp_path / "t.xpt", name="T")


def test_states_too_small_absent_equivocal_and_non_target_words():
    base = read("TP0", (50.0, 40.0), (30.0, 20.0))
    tp1 = read("TP1", "too_small", (25.0, 15.0), nt="unequivocal_progression", new=True)
    tp1 = dataclasses.replace(tp1, new_lesion_call="equivocal")
    tp2 = read("TP2", "absent", (25.0, 15.0), nt="not_evaluated")
    ds = derive_sdtm([SdtmRead("HCC-007", 1, frozenset(), (base, tp1, tp2))], study_id="S1")
    assert check_sdtm_structure(ds) == [] and check_sdtm_terms(ds) == []
    liver = rows(ds.tr, TRLNKID="R1-T01")
    assert list(zip(liver.VISIT, liver.TRTESTCD, liver.TRORRES, liver.TRSTRESN, strict=True)) == [
        ("TP0", "LDIAM", "50", 50.0),
        ("TP1", "LDIAM", "TOO SMALL TO MEASURE", 5.0),  # RECIST 1.1: counts 5 mm
        ("TP2", "LDIAM", "0", 0.0),
        ("TP0", "VDIAM", "40", 40.0),
        ("TP1", "VDIAM", "TOO SMALL TO MEASURE", 5.0),
        ("TP2", "VDIAM", "0", 0.0),
    ]
    nt = rows(ds.tr, TRLNKID="R1-NT01", TRGRPID="RECIST 1.1")
    assert list(nt.TRORRES) == ["PRESENT", "UNEQUIVOCAL", "NE"]
    new = rows(ds.tr, TRLNKID="R1-NEW01", TRTESTCD="TUMSTATE")
    assert list(zip(new.VISIT, new.TRORRES, strict=True)) == [
        ("TP1", "EQUIVOCAL"),
        ("TP1", "EQUIVOCAL"),
    ]
    recist = rows(ds.rs, RSCAT="RECIST 1.1", VISIT="TP1")
    assert dict(zip(recist.RSTESTCD, recist.RSORRES, strict=True)) == {
        "TRGRESP": "PR",  # 5 + 15 = 20 vs 70
        "NTRGRESP": "PD",
        "NEWLPROG": "EQUIVOCAL",
        "OVRLRESP": "PD",
    }


@pytest.mark.parametrize("odd", [False, True])
def test_sum_equals_the_sum_of_the_written_target_values(datasets, odd):
    # a data manager's edit check: the sum row equals the sum of the target rows as written,
    # also when the lengths have more decimals than the 2 written (12.3449 + 17.3349 mm)
    if odd:
        reads = (
            read("TP0", (12.3449, 10.005), (30.0, 17.3349)),
            read("TP1", (10.005, 10.005), (25.0, 15.005)),
        )
        datasets = derive_sdtm([SdtmRead("HCC-007", 1, frozenset(), reads)], study_id="X")
    tr = datasets.tr
    keys = ["USUBJID", "TREVALID", "TRGRPID", "VISITNUM"]
    targets = tr[tr.TRLNKID.fillna("").str.match(r"^R\d-T\d+$") & tr.TRSTRESN.notna()]
    sums = tr[tr.TRTESTCD.isin(["SUMDIAM", "SUMVDIAM"]) & tr.TRSTRESN.notna()]
    assert len(sums) > 0
    expected = targets.groupby(keys).TRSTRESN.sum().round(2)
    for _, row in sums.iterrows():
        assert row.TRSTRESN == pytest.approx(expected[tuple(row[k] for k in keys)], abs=1e-9)
    if odd:  # by hand from the written values: 12.34 + 17.33 (not 12.3449 + 17.3349 = 29.68)
        assert list(zip(sums.VISIT, sums.TRTESTCD, sums.TRSTRESN, strict=True)) == [
            ("TP0", "SUMDIAM", pytest.approx(29.67)),
            ("TP1", "SUMDIAM", pytest.approx(25.02)),  # 10.01 + 15.01
            ("TP0", "SUMVDIAM", pytest.approx(27.34)),  # 10.01 + 17.33
            ("TP1", "SUMVDIAM", pytest.approx(25.02)),
        ]
