# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Signing re-checks the timepoint order on the stored scan dates (Repository.sign_read).

Saving a draft already refuses a timepoint whose previous one is not signed; the signature checks
it again, because an admin may correct a scan date after the draft was saved and so change which
timepoint comes first. Each case moves a scan date under an existing draft (raw SQL, as a date
correction would) and expects the refusal that names the now-previous timepoint.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_store_support import (  # noqa: F401  (fixtures)
    R1_PW,
    UID,
    Trial,
    make_read,
    raw,
    store,
    store_url,
    trial,
)

from readerstation.errors import CriteriaError
from readerstation.model import ReadStatus, Timepoint


def _move(trial: Trial, label: str, date: dt.date) -> None:
    raw(trial.store, "UPDATE timepoints SET scan_date = :d WHERE label = :l", d=date, l=label)


def test_sign_refuses_a_follow_up_whose_previous_timepoint_is_unsigned(trial: Trial):
    trial.admin.add_timepoint("HCC-001", Timepoint("TP2", dt.date(2024, 4, 20), UID))
    base = trial.r1.save_draft(make_read("r1", "TP0", 50.0))
    trial.r1.sign_read(base.read_id, R1_PW)
    follow = trial.r1.save_draft(make_read("r1", "TP1", 45.0))
    # TP1 now comes after TP2, which r1 has not read: TP1 is the third timepoint
    _move(trial, "TP1", dt.date(2024, 5, 1))
    with pytest.raises(
        CriteriaError, match="opens once your read of the previous timepoint HCC-001/TP2 is signed"
    ):
        trial.r1.sign_read(follow.read_id, R1_PW)
    assert trial.r1.get_read(follow.read_id).status is ReadStatus.DRAFT


def test_sign_refuses_a_follow_up_whose_baseline_is_unsigned(trial: Trial):
    draft = trial.r1.save_draft(make_read("r1", "TP0", 50.0))
    # TP0 now comes after TP1: TP1 is the baseline, and r1 has not signed it
    _move(trial, "TP0", dt.date(2024, 3, 1))
    with pytest.raises(
        CriteriaError, match="is a follow-up and your baseline read HCC-001/TP1 is not signed"
    ):
        trial.r1.sign_read(draft.read_id, R1_PW)
    assert trial.r1.get_read(draft.read_id).status is ReadStatus.DRAFT


def test_assigned_timepoints_list_an_undated_timepoint_last(trial: Trial):
    # the reading session takes the first listed timepoint as the baseline: the list must order
    # timepoints as the store's gating does (undated last), on SQLite (NULL first in SQL) too
    trial.admin.add_timepoint("HCC-001", Timepoint("TPX", None, UID))
    listed = [tp.label for _, tp in trial.r1.list_assigned_timepoints()]
    assert listed == ["TP0", "TP1", "TPX"]
    assert [w.label for w in trial.r1.worklist()] == listed
