"""Fixtures shared by the reading tests: a seeded SQLite store of the sample trial.

Test modules import ``images_fixture`` and ``store_fixture``; pytest knows them as ``images``
and ``store``.

The truth is ``sample_dicom/ground_truth.json`` (the generator's analytic geometry: lesion end
points in LPS mm, the SOPInstanceUID of the arterial slice they lie on, true diameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from readerstation.reading import DicomFolderSource, seed_sample_trial
from readerstation.store import KdfParams, Repository, Store, open_store

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "sample_dicom"
TRUTH = SAMPLE / "ground_truth.json"
VOXEL_MM = 1.5  # pixel spacing of the sample trial (ground_truth.json grid)

# argon2id, but cheap: the tests log in many times.
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "demo-reading-pw"


@lru_cache(maxsize=1)
def truth() -> dict[str, Any]:
    """The sample trial's ground truth (skip when the sample is absent)."""
    if not TRUTH.is_file() or not (SAMPLE / "HCC-001").is_dir():
        pytest.skip(f"{TRUTH} or HCC-001 missing: run `readerstation sample generate`")
    doc: dict[str, Any] = json.loads(TRUTH.read_text(encoding="utf-8"))
    return doc


def tp_truth(subject: str, label: str) -> dict[str, Any]:
    """Ground truth of one timepoint."""
    s = next(x for x in truth()["subjects"] if x["subject"] == subject)
    t: dict[str, Any] = next(x for x in s["timepoints"] if x["timepoint"] == label)
    return t


def lesion_truth(subject: str, label: str, lesion: str) -> dict[str, Any]:
    """Ground truth of one lesion at one timepoint."""
    les: dict[str, Any] = next(
        x for x in tp_truth(subject, label)["lesions"] if x["lesion"] == lesion
    )
    return les


def series_uid(subject: str, label: str, phase: str) -> str:
    """SeriesInstanceUID of a phase (``ARTERIAL``...) at one timepoint."""
    uid: str = next(
        s["series_instance_uid"] for s in tp_truth(subject, label)["series"] if s["phase"] == phase
    )
    return uid


@pytest.fixture(scope="session", name="images")
def images_fixture() -> DicomFolderSource:
    """One image source for every test (indexes and volumes cached)."""
    truth()
    return DicomFolderSource(SAMPLE)


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store seeded with the sample trial (admin, reader1, reader2)."""
    st = open_store(f"sqlite:///{tmp_path / 'reading.sqlite'}")
    seed_sample_trial(st, SAMPLE, password=PASSWORD, kdf=FAST_KDF)
    yield st
    st.close()


def login(store: Store, name: str = "reader1") -> Repository:
    """Log a demo account in."""
    return Repository.login(store, name, PASSWORD, kdf=FAST_KDF)
