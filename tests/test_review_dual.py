# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Independent review of dual reading (issue 5), on SQLite and PostgreSQL.

A five-subject trial written by hand in the issue's *minimal* reads JSON (liver targets without
``typical_hcc`` or ``liver_segment``, a new lesion, every non-target status word, a treatment
start, the states ``too_small`` and ``absent``) is imported, adjudicated and checked against
figures computed by hand (below, next to each expectation): the discrepancy variables and
causes, Cohen's kappa, ICC(2,1), Bland-Altman, per-reader endorsement rate and RDI, the accepted
reads and their summary. Readers who name a subject that is not theirs are refused (audited).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dual_reads import a_slot, refusals
from test_store_support import (  # noqa: F401  (fixtures)
    ADJ_PW,
    ADMIN_PW,
    FAST_KDF,
    store,
    store_url,
)

from readerstation.cli import main
from readerstation.errors import AccessDenied, CriteriaError, ModelError
from readerstation.store import Repository, Store, create_first_admin

PW = "reader-password-x"
DATES = ("2024-01-08", "2024-02-19", "2024-04-01", "2024-05-13")  # 42 days apart
START = "2024-01-10"  # TP1 is day 40 >= the 35-day SD minimum


def _les(label: str, organ: str, long: float | None, viable: float | None = None, *,
         state: str = "measured", nodal: bool = False, short: float | None = None,
         role: str = "target") -> dict[str, Any]:  # fmt: skip
    return {"lesion": label, "role": role, "organ": organ, "nodal": nodal,
            "long_axis_mm": long, "short_axis_mm": short, "viable_long_axis_mm": viable,
            "state": state}  # fmt: skip


def _tp(k: int, subj: int, lesions: list[dict[str, Any]], nts: tuple[tuple[str, str], ...] = (),
        new: str = "none") -> dict[str, Any]:  # fmt: skip
    return {"label": f"TP{k}", "date": DATES[k], "series_uid": f"2.25.{subj}{k}",
            "lesions": lesions, "non_targets": [{"lesion": n, "status": s} for n, s in nts],
            "new_lesions": new}  # fmt: skip


def _read(subj: int, reader: str, tps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"subject": f"S-00{subj}", "reader": reader, "treatment_start": START, "timepoints": tps}


def _liver(*sizes: tuple[float, float]) -> list[dict[str, Any]]:
    return [_les(f"T{i + 1}", "liver", a, b) for i, (a, b) in enumerate(sizes)]


PRESENT = (("NT1", "present"),)


def hand_trial() -> tuple[dict[str, Any], dict[str, Any]]:
    """(first file, second file): S-004's second reader comes later, after ``assign``."""
    reads = [
        # S-001 agree: PR from TP1 (-31 %), confirmed at TP2; rad2 calls NT1 absent at TP3
        _read(1, "rad1", [_tp(0, 1, _liver((50, 40), (30, 25)), PRESENT),
                          _tp(1, 1, _liver((35, 20), (20, 10)), PRESENT),
                          _tp(2, 1, _liver((33, 15), (19, 8)), PRESENT),
                          _tp(3, 1, _liver((33, 15), (19, 8)), PRESENT)]),
        _read(1, "rad2", [_tp(0, 1, _liver((51, 40), (30, 25)), PRESENT),
                          _tp(1, 1, _liver((35, 20), (20, 10)), PRESENT),
                          _tp(2, 1, _liver((33, 15), (19, 8)), PRESENT),
                          _tp(3, 1, _liver((33, 15), (19, 8)), (("NT1", "absent"),))]),
        # S-002 (rad2 slot 1): rad1 sees a new lung lesion at TP2 -> PD 2024-04-01
        _read(2, "rad2", [_tp(0, 2, _liver((40, 35)), PRESENT),
                          _tp(1, 2, _liver((41, 36)), (("NT1", "not_evaluated"),)),
                          _tp(2, 2, _liver((42, 36)), PRESENT),
                          _tp(3, 2, _liver((42, 37)), PRESENT)]),
        _read(2, "rad1", [_tp(0, 2, _liver((40, 35)), PRESENT),
                          _tp(1, 2, _liver((41, 36)), (("NT1", "not_evaluated"),)),
                          _tp(2, 2, [*_liver((42, 36)), _les("N1", "lung", 12, role="new")],
                              PRESENT, "unequivocal"),
                          _tp(3, 2, [*_liver((42, 37)), _les("N1", "lung", 14, role="new")],
                              PRESENT, "unequivocal")]),
        # S-003: rad1 PD by sum at TP2 (+23 %, +7 mm), rad3 PD by non-target at TP3
        _read(3, "rad1", [_tp(k, 3, _liver((d, d)), PRESENT)
                          for k, d in enumerate((30, 33, 37, 40))]),
        _read(3, "rad3", [_tp(0, 3, _liver((30, 30)), PRESENT), _tp(1, 3, _liver((33, 33)), PRESENT),
                          _tp(2, 3, _liver((35, 35)), PRESENT),
                          _tp(3, 3, _liver((35, 35)), (("NT1", "unequivocal_progression"),))]),
        # S-004, first reader rad3: PR from TP1 (node by short axis; T1 too small at TP3)
        _read(4, "rad3", [
            _tp(0, 4, [*_liver((60, 50)), _les("T2", "lymph_node", 28, nodal=True, short=20)]),
            _tp(1, 4, [*_liver((40, 30)), _les("T2", "lymph_node", 18, nodal=True, short=14)]),
            _tp(2, 4, [*_liver((38, 20)), _les("T2", "lymph_node", 12, nodal=True, short=9)]),
            _tp(3, 4, [_les("T1", "liver", None, state="too_small"),
                       _les("T2", "lymph_node", 11, nodal=True, short=8)])]),
        # S-005: another liver target (50 mm responding vs 30 mm stable): BOR PR vs SD
        _read(5, "rad3", [_tp(k, 5, _liver((d, d))) for k, d in enumerate((50, 30, 28, 28))]),
        _read(5, "rad1", [_tp(k, 5, _liver((d, d)), PRESENT)
                          for k, d in enumerate((30, 29, 29, 30))]),
    ]  # fmt: skip
    second = _read(4, "rad2", [
        _tp(0, 4, [*_liver((60, 50)), _les("T2", "lymph_node", 28, nodal=True, short=20)]),
        _tp(1, 4, [*_liver((48, 40)), _les("T2", "lymph_node", 20, nodal=True, short=16)]),
        _tp(2, 4, [*_liver((40, 30)), _les("T2", "lymph_node", 18, nodal=True, short=14)]),
        _tp(3, 4, [*_liver((38, 20)), _les("T2", "lymph_node", None, nodal=True, state="absent")]),
    ])  # fmt: skip
    return {"reads": reads}, {"reads": [second]}


# S-002..S-005 need adjudication under both criteria (hand-computed from the reads above)
EXPECTED = {
    "S-002": (["progression_date"], [("new_lesion_call", "TP2"), ("new_lesion_call", "TP3")]),
    "S-003": (
        ["progression_date"],
        [("sum_difference", "TP2"), ("sum_difference", "TP3"), ("non_target_call", "TP3")],
    ),
    "S-004": (["response_date"], [("sum_difference", "TP1")]),
    "S-005": (["best_overall_response", "response_date"], [("target_selection", "TP0")]),
}
# the slot the adjudicator endorses (slots: S-002 rad2/rad1, S-003 rad1/rad3, S-004 rad3/rad2,
# S-005 rad3/rad1)
ENDORSE = {
    "recist1.1": {"S-002": 2, "S-003": 2, "S-004": 1, "S-005": 1},
    "mrecist": {"S-002": 1, "S-003": 1, "S-004": 1, "S-005": 1},
}


def _setup(store: Store) -> dict[str, Repository]:
    create_first_admin(store, "boss", ADMIN_PW, kdf=FAST_KDF)
    admin = Repository.login(store, "boss", ADMIN_PW, kdf=FAST_KDF)
    for name in ("rad1", "rad2", "rad3"):
        admin.add_user(name, "reader", PW)
    admin.add_user("adj", "adjudicator", ADJ_PW)
    first, second = hand_trial()
    report = admin.import_reads(first)
    assert (report.n_reads, report.n_discrepancies, report.n_accepted) == (36, 6, 2)
    [new] = admin.assign_balanced()  # rad2 has the fewest subjects: slot 2 of S-004
    assert (new.subject, new.reader, new.slot) == ("S-004", "rad2", 2)
    assert admin.import_reads(second).n_discrepancies == 2
    users = {n: Repository.login(store, n, PW, kdf=FAST_KDF) for n in ("rad1", "rad2", "rad3")}
    return {"boss": admin, "adj": Repository.login(store, "adj", ADJ_PW, kdf=FAST_KDF), **users}


def test_hand_computed_trial_from_the_minimal_format(store: Store):
    u = _setup(store)
    admin, adj = u["boss"], u["adj"]
    found = {(d.subject, d.criteria): d for d in adj.list_discrepancies()}
    assert sorted(found) == [(s, c) for s in EXPECTED for c in ("mrecist", "recist1.1")]
    for (subject, _), d in found.items():
        variables, causes = EXPECTED[subject]
        assert list(d.variables) == variables and d.status == "open"
        assert [(c["kind"], c["timepoint"]) for c in d.causes] == causes
    for criteria, chosen in ENDORSE.items():
        for subject, slot in chosen.items():
            letter = "A" if a_slot(store, subject) == slot else "B"
            adj.adjudicate(subject, criteria, letter, "reader_error", password=ADJ_PW)
    # the stored A/B order is the packet's, for both criteria: the endorsed slot comes back
    assert {
        (a.subject, a.criteria): (a.reader_slot, a.basis)
        for c in ENDORSE
        for a in admin.accepted_reads(c)
    } == {
        **{("S-001", c): (1, "charter") for c in ENDORSE},
        **{(s, c): (slot, "adjudication") for c, d in ENDORSE.items() for s, slot in d.items()},
    }
    summary = admin.accepted_summary("recist1.1").to_json()
    assert summary["counts"]["PR"] == 3 and summary["counts"]["SD"] == 2  # S-001, 004, 005 PR
    report = admin.agreement().to_dict()["criteria"]
    for name in ("recist1.1", "mrecist"):
        c = report[name]
        assert (c["adjudication_rate"], c["bor_disagreement_rate"]) == (0.8, 0.2)
        # BOR table slot1 x slot2 [[PR,PR]=2 (S-001, S-004), [PR,SD]=1 (S-005)], [SD,SD]=2:
        # p_o = 4/5, p_e = (3*2 + 2*3)/25 = 0.48, kappa = 0.32 / 0.52
        assert c["kappa_best_response"]["value"] == pytest.approx(0.32 / 0.52, abs=1e-4)
        # 15 follow-ups, 8 agree; margins slot 1 PR 9 SD 4 PD 2, slot 2 PR 5 SD 7 PD 3:
        # p_e = 79/225, kappa = (8/15 - 79/225) / (1 - 79/225)
        pe = 79 / 225
        assert c["kappa_timepoint_response"]["value"] == pytest.approx(
            (8 / 15 - pe) / (1 - pe), abs=1e-4
        )
        assert c["icc_n"] == 20
    rec, mr = report["recist1.1"], report["mrecist"]
    # RECIST sum differences slot1 - slot2 (mm): -1 at S-001 TP0; S-003 +2, +5;
    # S-004 -10, -7, -25 (13 = 5 mm too small + 8 mm node vs 38); S-005 +20, +1, -1, -2
    assert rec["bland_altman_sum_mm"]["mean_difference"] == pytest.approx(-18 / 20)
    assert mr["bland_altman_sum_mm"]["mean_difference"] == pytest.approx(-9 / 20)
    # ICC(2,1) of the 20 pairs, checked against statsmodels' two-way ANOVA mean squares
    assert rec["icc_sum_mm"] == pytest.approx(0.883, abs=1e-4)
    assert mr["icc_sum_mm"] == pytest.approx(0.8792, abs=1e-4)
    readers = {n: (r["endorsement_rate"], r["rdi"]) for n, r in rec["readers"].items()}
    # rad1 read 4, won S-002, lost S-003 and S-005; rad2 read 3, lost S-002 and S-004; rad3 won 3
    assert readers == {
        "rad1": (pytest.approx(1 / 3, abs=1e-4), 50.0),
        "rad2": (0.0, pytest.approx(200 / 3, abs=1e-4)),
        "rad3": (1.0, 0.0),
    }


def test_explicitly_atypical_liver_target_still_refused_with_one_label(store: Store):
    create_first_admin(store, "boss", ADMIN_PW, kdf=FAST_KDF)
    admin = Repository.login(store, "boss", ADMIN_PW, kdf=FAST_KDF)
    admin.add_user("rad1", "reader", PW)
    first, _ = hand_trial()
    [read] = [r for r in first["reads"] if (r["subject"], r["reader"]) == ("S-003", "rad1")]
    read["timepoints"][0]["lesions"][0]["typical_hcc"] = False
    with pytest.raises(CriteriaError, match="marked not typical") as err:
        admin.import_reads({"reads": [read]})
    assert "T1 T1" not in str(err.value) and "mRECIST: T1: an intrahepatic" in str(err.value)


def test_reader_naming_a_subject_not_theirs_is_refused_and_audited(store: Store):
    u = _setup(store)
    rad1, admin = u["rad1"], u["boss"]
    for call in (
        lambda code: rad1.export_reads(code),
        lambda code: rad1.export_reads_json(code),
        lambda code: rad1.list_reads(code),
        lambda code: rad1.worklist(code),
    ):
        for code in ("S-004", "S-999"):  # another readers' subject and a made-up one alike
            with pytest.raises(AccessDenied, match=f"subject '{code}' is not in your worklist"):
                call(code)
    refused = [a for who, a in refusals(admin) if who == "rad1"]
    assert refused.count("read.export") == 4 and refused.count("read.list") == 2
    assert refused.count("worklist.list") == 2
    # their own subject still works, and the admin may name any subject
    assert {r.reader for r in rad1.export_reads("S-001")} == {"rad1"}
    assert [w.subject for w in rad1.worklist("S-001")] == ["S-001"] * 4
    assert {r.reader for r in admin.export_reads("S-004")} == {"rad2", "rad3"}


def test_cli_refusal_and_summary_text(store: Store, store_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]):  # fmt: skip
    u = _setup(store)
    for criteria, chosen in ENDORSE.items():
        for subject, slot in chosen.items():
            letter = "A" if a_slot(store, subject) == slot else "B"
            u["adj"].adjudicate(subject, criteria, letter, "lesion_selection", password=ADJ_PW)
    monkeypatch.setenv("READERSTATION_PASSWORD", PW)
    db = ("--db", store_url)
    for argv in (("reads", "export", "--subject", "S-004"), ("worklist", "--subject", "S-004")):
        assert main([*db, "--user", "rad1", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "'S-004' is not in your worklist" in err[0]
    assert main([*db, "--user", "rad1", "reads", "export", "--subject", "S-001"]) == 0
    assert {e["reader"] for e in json.loads(capsys.readouterr().out)["reads"]} == {"rad1"}
    # the packet's text shows what the criteria sum: a node's short axis, a state word
    monkeypatch.setenv("READERSTATION_PASSWORD", ADJ_PW)
    assert main([*db, "--user", "adj", "adjudication", "packet", "S-004"]) == 0
    reads = {line.split(":")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    rad3, rad2 = (reads["Read A"], reads["Read B"])[:: 1 if a_slot(store, "S-004") == 1 else -1]
    assert "TP0 T1 60.0+T2 20.0;" in rad3 and "TP3 T1 too_small+T2 8.0" in rad3
    assert "TP3 T1 38.0+T2 absent" in rad2 and "None" not in rad2 + rad3
    monkeypatch.setenv("READERSTATION_PASSWORD", ADMIN_PW)
    assert main([*db, "--user", "boss", "accepted", "summary", "--criteria", "recist1.1"]) == 0
    out = capsys.readouterr().out
    assert "PFS median not reached" in out and "None" not in out  # 2 events of 5: KM >= 0.6
    # a subject not yet read twice is left out of the summary, and the summary says so
    from readerstation.model import Subject

    u["boss"].add_subject(Subject("S-006"))
    u["boss"].assign("S-006", "rad1")
    assert main([*db, "--user", "boss", "accepted", "summary", "--criteria", "recist1.1"]) == 0
    captured = capsys.readouterr()
    assert "1 assigned subject(s) have no accepted recist1.1 read yet" in captured.err
    assert "S-006" in captured.err and "n = 5" in captured.out


def test_case_order_draw_is_audited_under_the_trial_code(store: Store):
    admin = _setup(store)["boss"]
    drawn = {e.entity_id for e in admin.list_audit() if e.action == "case_order.draw"}
    assert drawn == {"S-001", "S-002", "S-003", "S-004", "S-005"}


def test_import_keeps_a_treatment_start_given_by_any_read_and_refuses_two(store: Store):
    create_first_admin(store, "boss", ADMIN_PW, kdf=FAST_KDF)
    admin = Repository.login(store, "boss", ADMIN_PW, kdf=FAST_KDF)
    for name in ("rad1", "rad2"):
        admin.add_user(name, "reader", PW)
    first, _ = hand_trial()
    one = [r for r in first["reads"] if r["subject"] == "S-001"]
    del one[0]["treatment_start"]  # only the second reader's read carries it
    admin.import_reads({"reads": one})
    starts = {e["treatment_start"] for e in admin.export_reads_json("S-001")["reads"]}
    assert starts == {START}
    two = [r for r in first["reads"] if r["subject"] == "S-002"]
    two[1]["treatment_start"] = "2024-01-12"
    with pytest.raises(ModelError, match="S-002 has 2 different treatment starts"):
        admin.import_reads({"reads": two})
    assert admin.export_reads_json("S-002")["reads"] == []  # nothing imported
