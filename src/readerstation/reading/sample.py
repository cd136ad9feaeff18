"""A demo store for the sample trial: an admin, two readers, subjects HCC-001..003 assigned.

For the launcher and the tests only: the demo passwords are public, never use them for a trial.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from readerstation.errors import SampleDataError, StoreError
from readerstation.model.entities import Subject, Timepoint
from readerstation.store.engine import Store
from readerstation.store.passwords import KdfParams
from readerstation.store.repository import Repository, create_first_admin

__all__ = ["DEMO_PASSWORD", "SampleTrialAccounts", "seed_sample_trial"]

DEMO_PASSWORD = "demo-password"
"""Password of every demo account (public: demo stores only)."""


@dataclass(frozen=True, slots=True)
class SampleTrialAccounts:
    """What :func:`seed_sample_trial` created.

    Attributes
    ----------
    admin : str
        The admin's user name.
    readers : tuple of str
        The readers, each assigned every subject (slots 1, 2...).
    password : str
        The password of every account (:data:`DEMO_PASSWORD` unless given).
    subjects : tuple of str
        Trial codes added.
    timepoints : int
        Timepoints added in all.
    """

    admin: str
    readers: tuple[str, ...]
    password: str
    subjects: tuple[str, ...]
    timepoints: int

    def __repr__(self) -> str:
        return (
            f"SampleTrialAccounts(admin={self.admin}, readers={list(self.readers)}, "
            f"subjects={list(self.subjects)}, timepoints={self.timepoints})"
        )


def _load_truth(sample_root: Path) -> dict[str, Any]:
    path = sample_root / "ground_truth.json"
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SampleDataError(
            f"seed_sample_trial: {path} does not exist; pass the sample trial folder "
            "(sample_dicom/) or run `readerstation sample generate --out sample_dicom`."
        ) from None
    except (OSError, ValueError) as exc:
        raise SampleDataError(f"seed_sample_trial: cannot read {path} ({exc}).") from exc
    if not isinstance(doc.get("subjects"), list):
        raise SampleDataError(f"seed_sample_trial: {path} has no 'subjects' list.")
    return doc


def seed_sample_trial(
    store: Store,
    sample_root: str | os.PathLike[str],
    *,
    admin: str = "admin",
    readers: tuple[str, ...] = ("reader1", "reader2"),
    password: str = DEMO_PASSWORD,
    kdf: KdfParams | None = None,
) -> SampleTrialAccounts:
    """Set up an empty store for the sample trial (subjects, timepoints, users, assignments).

    Subjects, treatment starts, timepoint labels, scan dates and StudyInstanceUIDs come from
    ``sample_root/ground_truth.json``; the series is left for the reader to choose (the
    arterial one is proposed when a read is opened). Every step is an audited store call.

    Parameters
    ----------
    store : Store
        An empty store (no user yet).
    sample_root : path-like
        The sample trial folder (``sample_dicom/``).
    admin, readers, password
        Account names and their (demo) password.
    kdf : KdfParams or None
        argon2id parameters (tests pass cheap ones).

    Raises
    ------
    StoreError
        The store already has users (it was set up before).
    SampleDataError
        No readable ``ground_truth.json``.
    """
    truth = _load_truth(Path(sample_root))
    create_first_admin(store, admin, password, kdf=kdf)
    repo = Repository.login(store, admin, password, kdf=kdf)
    for name in readers:
        repo.add_user(name, "reader", password)
    codes: list[str] = []
    n_tp = 0
    for entry in truth["subjects"]:
        try:
            start = entry.get("treatment_start")
            subject = Subject(entry["subject"], dt.date.fromisoformat(start) if start else None)
            tps = [
                Timepoint(
                    t["timepoint"],
                    dt.date.fromisoformat(t["study_date"]),
                    t["study_instance_uid"],
                )
                for t in entry["timepoints"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise SampleDataError(
                f"seed_sample_trial: malformed subject entry in ground_truth.json ({exc})."
            ) from exc
        repo.add_subject(subject)
        for tp in tps:
            repo.add_timepoint(subject.code, tp)
        for name in readers:
            repo.assign(subject.code, name)
        codes.append(subject.code)
        n_tp += len(tps)
    if not codes:
        raise StoreError("seed_sample_trial: ground_truth.json lists no subject.")
    return SampleTrialAccounts(admin, tuple(readers), password, tuple(codes), n_tp)
