"""seed_sample_trial: the demo store matches sample_dicom/ground_truth.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_reading_support import (  # noqa: F401 - store_fixture is the store fixture
    FAST_KDF,
    PASSWORD,
    SAMPLE,
    login,
    store_fixture,
    truth,
)

from readerstation.errors import SampleDataError, StoreError
from readerstation.model import UserRole
from readerstation.reading import seed_sample_trial
from readerstation.store import Store, open_store


def test_seed_matches_ground_truth(store: Store) -> None:
    doc = truth()
    admin = login(store, "admin")
    users = {u.name: u.role for u in admin.list_users()}
    assert users == {
        "admin": UserRole.ADMIN,
        "reader1": UserRole.READER,
        "reader2": UserRole.READER,
    }
    for reader in ("reader1", "reader2"):
        got = [
            (s.code, t.label, t.scan_date.isoformat(), t.study_uid)
            for s, t in login(store, reader).list_assigned_timepoints()
        ]
        want = [
            (s["subject"], t["timepoint"], t["study_date"], t["study_instance_uid"])
            for s in doc["subjects"]
            for t in s["timepoints"]
        ]
        assert got == want
    assert admin.verify_audit().intact


def test_seed_refuses_a_store_in_use(store: Store) -> None:
    with pytest.raises(StoreError, match="already"):
        seed_sample_trial(store, SAMPLE, password=PASSWORD, kdf=FAST_KDF)


def test_seed_needs_the_ground_truth(tmp_path: Path) -> None:
    st = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    with pytest.raises(SampleDataError, match=r"ground_truth\.json"):
        seed_sample_trial(st, tmp_path, kdf=FAST_KDF)
    st.close()
