# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Dual reading in the store, on SQLite and PostgreSQL: the simulated 45-subject trial imported,
its discrepancies, adjudication, accepted reads and summary; blinding on every query path;
timepoint gating; hidden visit dates; balanced assignment; immutability of adjudications."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
from dual_reads import READER_PW, Dual, a_slot, make_dual, refusals, sim
from sqlalchemy.exc import DBAPIError
from test_store_support import (  # noqa: F401  (fixtures)
    ADJ_PW,
    R1_PW,
    R2_PW,
    Trial,
    make_read,
    raw,
    store,
    store_url,
    trial,
)

from readerstation.engine.model import Timeline
from readerstation.engine.trial import derive_subject_responses, derive_trial_summary
from readerstation.errors import (
    AccessDenied,
    AuthenticationError,
    CriteriaError,
    ModelError,
    ReadLockedError,
    StoreError,
)
from readerstation.model import Subject
from readerstation.model.entities import resolve_criteria
from readerstation.model.timeline import to_subject_timeline
from readerstation.reading.charter import Charter
from readerstation.sample.dual_trial import READERS
from readerstation.store import (
    Store,
    derive_balanced_assignment,
)

REASONS = {
    "new_lesion_tp1": "new_lesion_call",
    "new_lesion_late": "new_lesion_call",
    "new_lesion_missed": "new_lesion_call",
    "target_choice": "lesion_selection",
    "nt_progression": "non_target_progression",
}


@pytest.fixture
def dual(store: Store) -> Dual:
    return make_dual(store)


def keys_of(obj: Any) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | set().union(*(keys_of(v) for v in obj.values()))
    if isinstance(obj, list):
        return set().union(*(keys_of(v) for v in obj)) if obj else set()
    return set()


IDENTITY_KEYS = {"reader", "readers", "reader_id", "read_id", "read_ids", "user", "slot"}


# -- balanced assignment ----------------------------------------------------------------------


@pytest.mark.parametrize("n_readers", range(2, 8))
def test_balanced_assignment_pure(n_readers: int):
    pool = [f"rd{k}" for k in range(n_readers)]
    for n_subjects in range(1, 41):
        subjects = [f"S{i:03d}" for i in range(n_subjects)]
        out = derive_balanced_assignment(subjects, pool)
        assert out == derive_balanced_assignment(subjects, list(reversed(pool)))  # deterministic
        by_subject: dict[str, dict[int, str]] = {}
        for subject, reader, slot in out:
            by_subject.setdefault(subject, {})[slot] = reader
        assert all(set(v) == {1, 2} and v[1] != v[2] for v in by_subject.values())
        assert set(by_subject) == set(subjects)
        total = Counter(r for _, r, _ in out)
        slot1 = Counter(r for _, r, s in out if s == 1)
        loads = [total[r] for r in pool]
        assert max(loads) - min(loads) <= 1, (n_subjects, loads)
        ones = [slot1[r] for r in pool]
        assert max(ones) - min(ones) <= 1, (n_subjects, ones)


def test_balanced_assignment_needs_two_readers():
    with pytest.raises(ModelError, match="at least two readers"):
        derive_balanced_assignment(["S1"], ["only"])


def test_assign_balanced_in_the_store(store: Store):
    d = make_dual(store, imported=False)
    for name in ("reader3", "reader4"):
        d.admin.add_user(name, "reader", READER_PW)
    for i in range(1, 10):
        d.admin.add_subject(Subject(f"HCC-{i:03d}"))
    with pytest.raises(AccessDenied):
        d.r1.assign_balanced()
    with pytest.raises(AccessDenied):
        d.r1.list_assignments()
    new = d.admin.assign_balanced()
    assert len(new) == 18
    assignments = d.admin.list_assignments()
    assert [a.to_dict() for a in assignments] == [
        a.to_dict() for a in sorted(new, key=lambda a: (a.subject, a.slot))
    ]
    per_subject: dict[str, list[str]] = {}
    for a in assignments:
        per_subject.setdefault(a.subject, []).append(a.reader)
    assert all(len(set(v)) == 2 for v in per_subject.values())
    load = Counter(a.reader for a in assignments)
    assert max(load.values()) - min(load.values()) <= 1 and len(load) == 4
    assert d.admin.assign_balanced() == []  # every subject has two readers already
    assert (READERS[0], "assign") in refusals(d.admin)
    # the assigned reader sees the subject in their worklist (no timepoints yet: empty)
    assert d.r1.worklist() == []


# -- the simulated trial ------------------------------------------------------------------------


def test_trial_import_finds_exactly_the_designed_discrepancies(dual: Dual):
    trial = sim()
    charter = Charter()
    found = {(x.subject, x.criteria): x for x in dual.admin.list_discrepancies()}
    expected = {
        k: tuple(v.value for v in e.for_charter(charter))
        for k, e in trial.expected.items()
        if e.for_charter(charter)
    }
    assert {k: v.variables for k, v in found.items()} == expected
    assert len(expected) == 36  # 18 subjects x 2 criteria
    for (subject, criteria), info in found.items():
        assert info.status == "open"
        kinds = {c["kind"] for c in info.causes}
        assert kinds == {c.value for c in trial.expected[(subject, criteria)].causes}
        assert info.readers == {"1": READERS[0], "2": READERS[1]}
    # the agreeing subjects' reads are accepted by charter (reader 1's, the default slot)
    for criteria in ("recist1.1", "mrecist"):
        accepted = dual.admin.accepted_reads(criteria)
        assert len(accepted) == 27
        assert {a.basis for a in accepted} == {"charter"} and {a.reader_slot for a in accepted} == {
            1
        }
        assert all(r.reader == READERS[0] for a in accepted for r in a.reads)
    # a second import of the same file changes nothing and evaluates nothing again
    n_events = len(dual.admin.list_audit())
    again = dual.admin.import_reads(trial.reads_json)
    assert (again.n_reads, again.n_unchanged, again.n_evaluated) == (0, 428, 0)
    assert len(dual.admin.list_audit()) == n_events  # a no-op import writes nothing
    assert len(dual.admin.list_discrepancies()) == 36


def test_adjudication_gives_the_expected_accepted_reads_and_summary(dual: Dual):
    trial = sim()
    cases = {c.subject: c for c in trial.cases}
    open_ = dual.adj.list_discrepancies("open")
    assert len(open_) == 36
    expected_slot: dict[tuple[str, str], int] = {}
    for info in open_:
        case = cases[info.subject]
        good = 1 if case.deviating_reader == READERS[1] else 2  # endorse the other reader
        letter = "A" if a_slot(dual.store, info.subject) == good else "B"
        done = dual.adj.adjudicate(
            info.subject,
            info.criteria,
            letter,
            REASONS.get(case.case, "measurement_variability"),
            note=f"designed case {case.case}",
            password=ADJ_PW,
        )
        assert done.endorsed == letter and done.to_dict()["reason"]
        expected_slot[(info.subject, info.criteria)] = good
    assert dual.adj.list_discrepancies("open") == []
    assert len(dual.adj.list_discrepancies("resolved")) == 36
    with pytest.raises(StoreError, match="already adjudicated"):
        dual.adj.adjudicate(
            open_[0].subject, open_[0].criteria, "A", "reader_error", password=ADJ_PW
        )
    by_reader = trial.reads_by_reader()
    for criteria in ("recist1.1", "mrecist"):
        crit = resolve_criteria(criteria)
        accepted = {a.subject: a for a in dual.admin.accepted_reads(criteria)}
        assert len(accepted) == 45
        timelines = []
        for code in trial.subjects:
            slot = expected_slot.get((code, criteria), 1)
            a = accepted[code]
            assert a.reader_slot == slot
            assert a.basis == ("adjudication" if (code, criteria) in expected_slot else "charter")
            want = by_reader[(code, READERS[slot - 1])]
            assert sorted((r.timepoint.label, r.lesions) for r in a.reads) == sorted(
                (r.timepoint.label, r.lesions) for r in want
            )
            timelines.append(to_subject_timeline(want, crit))
        timeline = Timeline(tuple(timelines))
        engine = derive_trial_summary(
            derive_subject_responses(timeline, crit), crit, timeline=timeline
        )
        assert dual.admin.accepted_summary(criteria).to_json() == engine.to_json()
    report = dual.admin.agreement().to_dict()["criteria"]
    for criteria in ("recist1.1", "mrecist"):
        c = report[criteria]
        assert c["n_subjects"] == 45 and c["n_adjudicated"] == 18
        assert c["adjudication_rate"] == pytest.approx(0.4)
        endorsed = sum(v["n_endorsed"] for v in c["readers"].values())
        assert endorsed == 18
        assert set(c["readers"]) == set(READERS)


def test_summary_refused_while_discrepancies_are_open(dual: Dual):
    with pytest.raises(StoreError, match="still open"):
        dual.admin.accepted_summary("recist1.1")


# -- blinding -----------------------------------------------------------------------------------


def test_blinding_on_every_query_path(dual: Dual):
    r1, r2, adj, admin = dual.r1, dual.r2, dual.adj, dual.admin
    mine = r1.list_reads()
    theirs = r2.list_reads()
    assert mine and {x.reader for x in mine} == {READERS[0]}
    assert {x.reader for x in theirs} == {READERS[1]}
    assert {x.reader for x in r1.list_reads("SIM-001")} == {READERS[0]}
    other_ids = [x.read_id for x in theirs]
    for read_id in [*other_ids[:5], 10**6]:  # another reader's ids and a made-up one alike
        with pytest.raises(AccessDenied, match="not one of your reads"):
            r1.get_read(read_id)
    assert {x.reader for x in r1.export_reads()} == {READERS[0]}
    exported = r1.export_reads_json()
    assert {e["reader"] for e in exported["reads"]} == {READERS[0]}
    assert READERS[1] not in json.dumps(exported)
    work = r1.worklist()
    own_ids = {x.read_id for x in mine}
    assert {w.read_id for w in work} <= own_ids and {w.status for w in work} == {"signed"}
    assert READERS[1] not in json.dumps([w.to_dict() for w in work])
    # everything else is refused to a reader
    for call in (
        lambda: r1.list_discrepancies(),
        lambda: r1.adjudication_packet("SIM-001"),
        lambda: r1.adjudicate("SIM-001", "recist1.1", "A", "reader_error", password=READER_PW),
        lambda: r1.agreement(),
        lambda: r1.accepted_reads("recist1.1"),
        lambda: r1.accepted_summary("recist1.1"),
        lambda: r1.list_audit(),
        lambda: r1.list_assignments(),
        lambda: r1.import_reads(sim().reads_json),
        lambda: r1.set_charter(Charter()),
    ):
        with pytest.raises(AccessDenied):
            call()
    # the adjudicator sees no read except through packets
    for call in (
        lambda: adj.list_reads(),
        lambda: adj.get_read(other_ids[0]),
        lambda: adj.export_reads(),
        lambda: adj.export_reads_json(),
        lambda: adj.worklist(),
        lambda: adj.accepted_reads("recist1.1"),
        lambda: adj.list_audit(),
        lambda: adj.list_assignments(),
    ):
        with pytest.raises(AccessDenied):
            call()
    # an admin is not an adjudicator
    with pytest.raises(AccessDenied, match="Log in as such a user"):
        admin.adjudication_packet("SIM-001")
    # what the adjudicator gets carries no identity
    listing = [x.to_dict() for x in adj.list_discrepancies()]
    text = json.dumps(listing)
    assert not keys_of(listing) & IDENTITY_KEYS
    assert all(name not in text for name in READERS)
    assert all("detail" not in c for x in listing for c in x["causes"])
    agreement = adj.agreement().to_dict()
    assert all(name not in json.dumps(agreement) for name in READERS)
    # per-reader figures under pseudonyms only
    assert set(agreement["criteria"]["recist1.1"]["readers"]) == {"reader-1", "reader-2"}
    assert agreement["criteria"]["mrecist"]["adjudication_rate"] == pytest.approx(0.4)
    got = refusals(admin)
    for actor, action in [
        (READERS[0], "read.get"),
        (READERS[0], "discrepancy.list"),
        (READERS[0], "adjudication.packet"),
        (READERS[0], "adjudicate"),
        (READERS[0], "agreement"),
        (READERS[0], "acceptance.list"),
        (READERS[0], "audit.list"),
        (READERS[0], "read.import"),
        (READERS[0], "charter.set"),
        ("adj", "read.list"),
        ("adj", "read.get"),
        ("adj", "read.export"),
        ("adj", "worklist.list"),
        ("adj", "acceptance.list"),
        ("admin", "adjudication.packet"),
    ]:
        assert (actor, action) in got, (actor, action)


def test_packet_has_no_identity_and_a_stored_order(dual: Dual):
    subjects = sorted({x.subject for x in dual.adj.list_discrepancies()})
    names = {u.name for u in dual.admin.list_users()}
    ids = {
        code: {
            str(rid)
            for (rid,) in raw(
                dual.store,
                "SELECT reads.id FROM reads JOIN subjects ON subjects.id = reads.subject_id "
                "WHERE subjects.code = :c",
                c=code,
            )
        }
        for code in subjects
    }
    by_reader = {}
    for entry in sim().reads_json["reads"]:
        by_reader[(entry["subject"], entry["reader"])] = entry
    for code in subjects:
        packet = dual.adj.adjudication_packet(code)
        text = json.dumps(packet)
        assert all(n not in text for n in READERS)  # reader names, anywhere
        assert all(f'"{n}"' not in text for n in names)  # no user name as a value
        assert not keys_of(packet) & IDENTITY_KEYS
        assert "signed_at" not in keys_of(packet["reads"])
        assert set(packet["reads"]) == {"A", "B"}
        assert set(packet["criteria"]) == {"recist1.1", "mrecist"}
        for c in packet["criteria"].values():
            assert list(c["results"]) == ["A", "B"]
            for cause in c["causes"]:
                assert "read 1" not in cause["detail"] and "read 2" not in cause["detail"]
        # the order is the stored one, the same for both criteria and on every request
        assert dual.adj.adjudication_packet(code) == packet
        slot_a = a_slot(dual.store, code)
        want = by_reader[(code, READERS[slot_a - 1])]["timepoints"]
        got = packet["reads"]["A"]["timepoints"]
        assert [t["label"] for t in got] == [t["label"] for t in want]
        assert [[les["long_axis_mm"] for les in t["lesions"]] for t in got] == [
            [les["long_axis_mm"] for les in t["lesions"]] for t in want
        ]
        # no key that could carry a database id (only DICOM UIDs and lesion tracking ids)
        id_keys = {k for k in keys_of(packet) if "id" in k.lower()}
        assert id_keys <= {
            "series_uid",
            "study_uid",
            "sop_instance_uid",
            "short_axis_sop_instance_uid",
            "viable_sop_instance_uid",
            "tracking_id",
        }, id_keys
        assert not any(f'"{i}"' in text for i in ids[code])  # read ids are not even strings
    orders = Counter(a_slot(dual.store, code) for code in subjects)
    assert set(orders) <= {1, 2}
    with pytest.raises(StoreError, match="has no discrepancy"):
        agreeing = next(c for c in sim().subjects if c not in subjects)
        dual.adj.adjudication_packet(agreeing)


def test_packet_carries_lines_when_reads_have_them(trial: Trial):
    """Hand-made reads with lines: the packet gives both reads' LPS points and SOP UIDs."""
    for repo, mm1 in ((trial.r1, 50.0), (trial.r2, 80.0)):
        base = repo.save_draft(make_read(repo.user.name, "TP0", 50.0))
        repo.sign_read(base.read_id, R1_PW if repo is trial.r1 else R2_PW)
        follow = repo.save_draft(make_read(repo.user.name, "TP1", mm1))
        repo.sign_read(follow.read_id, R1_PW if repo is trial.r1 else R2_PW)
    [disc, *_] = trial.adj.list_discrepancies()
    assert "progression_date" in disc.variables
    packet = trial.adj.adjudication_packet("HCC-001")
    for letter in "AB":
        les = packet["reads"][letter]["timepoints"][0]["lesions"][0]
        assert les["long_axis_points"] == [[0.0, 0.0, 0.0], [50.0, 0.0, 0.0]]
        assert les["sop_instance_uid"]
    text = json.dumps(packet)
    assert "r1" not in text.replace("recist1", "") and '"r2"' not in text


# -- evaluation on signing, re-evaluation, adjudication rules -------------------------------------


def test_signing_the_second_read_evaluates_and_an_amendment_reevaluates(trial: Trial):
    r1, r2, adj, admin = trial.r1, trial.r2, trial.adj, trial.admin
    s0 = r1.save_draft(make_read("r1", "TP0", 50.0))
    r1.sign_read(s0.read_id, R1_PW)
    f1 = r1.save_draft(make_read("r1", "TP1", 50.0))
    r1.sign_read(f1.read_id, R1_PW)
    assert admin.list_discrepancies() == [] and admin.accepted_reads("recist1.1") == []
    s0 = r2.save_draft(make_read("r2", "TP0", 50.0))
    r2.sign_read(s0.read_id, R2_PW)
    f2 = r2.save_draft(make_read("r2", "TP1", 70.0))  # +40 %: PD for reader 2 only
    r2.sign_read(f2.read_id, R2_PW)
    found = admin.list_discrepancies()
    assert {(x.criteria, x.status) for x in found} == {("recist1.1", "open"), ("mrecist", "open")}
    assert all("progression_date" in x.variables for x in found)
    assert admin.accepted_reads("recist1.1") == []
    # the adjudicator must re-enter the password; bad input is refused
    with pytest.raises(AuthenticationError, match="wrong password"):
        adj.adjudicate("HCC-001", "recist1.1", "A", "reader_error", password="nope-nope-nope")
    with pytest.raises(ModelError, match="lesion_selection"):
        adj.adjudicate("HCC-001", "recist1.1", "A", "gut_feeling", password=ADJ_PW)
    with pytest.raises(ModelError, match="A or B"):
        adj.adjudicate("HCC-001", "recist1.1", "C", "reader_error", password=ADJ_PW)
    assert ("adj", "adjudicate") in refusals(admin)
    adj.adjudicate(
        "HCC-001", "recist1.1", "A", "measurement_variability", "A is right", password=ADJ_PW
    )
    [acc] = admin.accepted_reads("recist1.1")
    assert acc.basis == "adjudication" and acc.reader_slot == a_slot(trial.store, "HCC-001")
    # reader 2 corrects TP1: the subject is evaluated again on the new versions
    v2 = r2.amend_read(f2.read_id)
    r2.save_draft(make_read("r2", "TP1", 51.0, version=2))
    r2.sign_read(v2.read_id, R2_PW)
    assert admin.list_discrepancies() == []
    assert {x.status for x in admin.list_discrepancies("superseded")} == {"superseded"}
    assert len(admin.list_discrepancies("superseded")) == 2
    for criteria in ("recist1.1", "mrecist"):
        [acc] = admin.accepted_reads(criteria)
        assert (acc.basis, acc.reader_slot) == ("charter", 1)
        assert [r.version for r in admin.accepted_reads(criteria)[0].reads] == [1, 1]
    # reader 1 now changes TP1 the other way: a new discrepancy, the acceptances withdrawn
    w1 = r1.amend_read(f1.read_id)
    r1.save_draft(make_read("r1", "TP1", 75.0, version=2))
    r1.sign_read(w1.read_id, R1_PW)
    assert {x.status for x in admin.list_discrepancies()} == {"open"}
    assert admin.accepted_reads("recist1.1") == [] == admin.accepted_reads("mrecist")
    actions = [e.action for e in admin.list_audit()]
    for action in (
        "discrepancy.open",
        "adjudicate",
        "discrepancy.supersede",
        "acceptance.record",
        "acceptance.withdraw",
        "case_order.draw",
    ):
        assert action in actions, action
    assert admin.verify_audit().intact


def test_adjudications_are_immutable_in_the_database(trial: Trial):
    for repo, pw, mm in ((trial.r1, R1_PW, 50.0), (trial.r2, R2_PW, 70.0)):
        repo.sign_read(repo.save_draft(make_read(repo.user.name, "TP0", 50.0)).read_id, pw)
        repo.sign_read(repo.save_draft(make_read(repo.user.name, "TP1", mm)).read_id, pw)
    trial.adj.adjudicate("HCC-001", "mrecist", "B", "reader_error", password=ADJ_PW)
    with pytest.raises(DBAPIError, match="adjudication is immutable"):
        raw(trial.store, "UPDATE adjudications SET endorsed_label = 'A'")
    with pytest.raises(DBAPIError, match="adjudication is immutable"):
        raw(trial.store, "DELETE FROM adjudications")


# -- gating, hidden dates, charter ----------------------------------------------------------------


def test_timepoint_gating_hidden_dates_and_baseline_selection(trial: Trial):
    admin, r1 = trial.admin, trial.r1
    assert admin.get_charter() == Charter() and r1.get_charter() == Charter()
    admin.set_charter(Charter(hide_visit_dates=True))
    assert r1.get_charter().hide_visit_dates
    work = r1.worklist()
    assert [(w.display_label, w.status, w.scan_date) for w in work] == [
        ("TP0", "todo", None),
        ("TP1", "locked", None),
    ]
    with pytest.raises(ReadLockedError, match="locked until your read of the previous timepoint"):
        r1.save_draft(make_read("r1", "TP1", 40.0))
    assert ("r1", "read.save_draft") in refusals(admin)
    base = r1.save_draft(make_read("r1", "TP0", 50.0))
    assert base.timepoint.scan_date is None and base.subject.treatment_start is None
    assert [w.status for w in r1.worklist()] == ["draft", "locked"]
    signed = r1.sign_read(base.read_id, R1_PW)
    assert signed.timepoint.scan_date is None
    assert [w.status for w in r1.worklist()] == ["signed", "todo"]
    follow = r1.save_draft(make_read("r1", "TP1", 40.0))
    r1.sign_read(follow.read_id, R1_PW)
    # no date on any path a reader has
    assert all(r.timepoint.scan_date is None for r in r1.export_reads())
    assert r1.get_read(follow.read_id).timepoint.scan_date is None
    exported = r1.export_reads_json()
    assert all(t["date"] is None for e in exported["reads"] for t in e["timepoints"])
    assert all("treatment_start" not in e for e in exported["reads"])
    assert all(tp.scan_date is None for _, tp in r1.list_assigned_timepoints())
    assert "2024-" not in json.dumps([w.to_dict() for w in r1.worklist()])
    # the admin still sees the dates
    assert admin.get_read(follow.read_id).timepoint.scan_date == dt.date(2024, 2, 20)
    # the charter is fixed once reading started
    with pytest.raises(StoreError, match="fixed once reading started"):
        admin.set_charter(Charter())
    # a global review may change follow-up calls, never the baseline selection
    amended = r1.amend_read(base.read_id)
    with pytest.raises(ReadLockedError, match="baseline lesion selection"):
        r1.save_draft(make_read("r1", "TP0", 50.0, n_targets=2, version=2))
    ok = r1.save_draft(make_read("r1", "TP0", 52.0, version=2))  # same lesions, new size
    assert ok.read_id == amended.read_id
    r1.sign_read(amended.read_id, R1_PW)


def test_timepoints_open_in_order_without_charter(store: Store):
    from test_store_support import UID, make_trial

    from readerstation.errors import ReadLockedError
    from readerstation.model import Timepoint

    t = make_trial(store)
    t.admin.add_timepoint("HCC-001", Timepoint("TP2", dt.date(2024, 4, 20), UID))
    assert [w.status for w in t.r1.worklist()] == ["todo", "locked", "locked"]
    with pytest.raises(ReadLockedError, match="previous timepoint HCC-001/TP0 is signed"):
        t.r1.save_draft(make_read("r1", "TP1", 45.0))
    base = t.r1.save_draft(make_read("r1", "TP0", 50.0))
    t.r1.sign_read(base.read_id, R1_PW)
    t.r1.save_draft(make_read("r1", "TP1", 45.0))
    with pytest.raises(ReadLockedError, match="previous timepoint HCC-001/TP1 is signed"):
        t.r1.save_draft(make_read("r1", "TP2", 44.0, date=dt.date(2024, 4, 20)))
    assert [w.status for w in t.r1.worklist()] == ["signed", "draft", "locked"]


# -- import errors ---------------------------------------------------------------------------------


def test_import_refuses_bad_input_and_changes_nothing(store: Store):
    d = make_dual(store, imported=False)
    data = json.loads(json.dumps(sim().reads_json))
    data["reads"] = data["reads"][:2]
    bad = json.loads(json.dumps(data))
    bad["reads"][1]["reader"] = "stranger"
    with pytest.raises(StoreError, match="'stranger' is not a reader of this store"):
        d.admin.import_reads(bad)
    with pytest.raises(ModelError, match=r"reads\[0\]"):
        d.admin.import_reads({"reads": [{"subject": "X"}]})
    extra = json.loads(json.dumps(data))
    follow = extra["reads"][0]["timepoints"][1]
    follow["lesions"].append(dict(follow["lesions"][0], lesion="T9"))
    with pytest.raises(CriteriaError, match="T9: a target that was not in the baseline read"):
        d.admin.import_reads(extra)
    assert d.admin.list_assignments() == []  # all or nothing
    report = d.admin.import_reads(data)
    assert (report.n_subjects, report.n_evaluated) == (1, 2)
    moved = json.loads(json.dumps(data))
    for e in moved["reads"]:
        e["timepoints"][0]["date"] = "2020-01-01"
    with pytest.raises(StoreError, match="scanned on"):
        d.admin.import_reads(moved)
    third = json.loads(json.dumps(data))
    d.admin.add_user("reader3", "reader", READER_PW)
    third["reads"] = [third["reads"][0] | {"reader": "reader3"}]
    with pytest.raises(StoreError, match="already has two readers"):
        d.admin.import_reads(third)
