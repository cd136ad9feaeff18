"""Shared by the dual-reading tests: hand-built dual reads (one subject, one reader at a time) and
a store filled with the simulated dual trial (:func:`make_dual`) with its blinding helpers."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from test_store_support import ADJ_PW, ADMIN_PW, FAST_KDF, raw

from readerstation.model import TimepointRead
from readerstation.model.reads_json import reads_from_json
from readerstation.sample.dual_trial import READERS, DualTrial, derive_dual_trial
from readerstation.store import Repository, Store, create_first_admin

BASE = dt.date(2024, 1, 2)
SIGNED = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
READER_PW = "reader-password-x"


def read_subject(
    reader: str,
    targets: Sequence[Sequence[float]],
    *,
    viable: Sequence[Sequence[float]] | None = None,
    organs: Sequence[str] = ("liver", "liver"),
    nt: Sequence[str] | None = None,
    new: Sequence[bool] | None = None,
    lines_x: Sequence[float] | None = None,
    subject: str = "SIM-900",
    labels: Sequence[str] | None = None,
) -> list[TimepointRead]:
    """One reader's reads: ``targets[k]`` the long axes at TPk (viable = 0.8 x long by default)."""
    n = len(targets)
    tps: list[dict[str, Any]] = []
    for k in range(n):
        lesions: list[dict[str, Any]] = []
        for i, d in enumerate(targets[k]):
            item: dict[str, Any] = {
                "lesion": f"T{i + 1}",
                "role": "target",
                "organ": organs[i],
                "nodal": False,
                "long_axis_mm": d,
                "short_axis_mm": None,
                "viable_long_axis_mm": None,
                "state": "measured",
            }
            if organs[i] == "liver":
                item["viable_long_axis_mm"] = (
                    viable[k][i] if viable is not None else round(0.8 * d, 1)
                )
                item["liver_segment"] = ("VII", "II")[i]
                item["typical_hcc"] = True
            if lines_x is not None:
                item["long_axis_points"] = [[lines_x[i], 0.0, 0.0], [lines_x[i] + d, 0.0, 0.0]]
                item["sop_instance_uid"] = "1.2.3.9"
            lesions.append(item)
        called = new is not None and new[k]
        if called:
            lesions.append(
                {
                    "lesion": "NL1",
                    "role": "new",
                    "organ": "lung",
                    "nodal": False,
                    "long_axis_mm": 12.0,
                    "short_axis_mm": None,
                    "viable_long_axis_mm": None,
                    "state": "measured",
                }
            )
        tps.append(
            {
                "label": labels[k] if labels else f"TP{k}",
                "date": (BASE + dt.timedelta(days=42 * k)).isoformat(),
                "series_uid": f"1.2.3.{k}",
                "lesions": lesions,
                "non_targets": [
                    {"lesion": "NT1", "status": nt[k] if nt else "present", "organ": "bone"}
                ],
                "new_lesions": "unequivocal" if called else "none",
            }
        )
    doc = {
        "reads": [
            {
                "subject": subject,
                "reader": reader,
                "treatment_start": (BASE + dt.timedelta(days=3)).isoformat(),
                "timepoints": tps,
            }
        ]
    }
    return reads_from_json(doc, signed_at=SIGNED)


STABLE = [[50.0, 40.0], [49.0, 40.0], [50.0, 41.0], [49.5, 40.5]]


# -- the simulated dual trial in a store ---------------------------------------------------------


@functools.cache
def sim() -> DualTrial:
    return derive_dual_trial(0)


@dataclass
class Dual:
    store: Store
    admin: Repository
    r1: Repository
    r2: Repository
    adj: Repository


def make_dual(store: Store, *, imported: bool = True) -> Dual:
    create_first_admin(store, "admin", ADMIN_PW, kdf=FAST_KDF)
    admin = Repository.login(store, "admin", ADMIN_PW, kdf=FAST_KDF)
    for name in READERS:
        admin.add_user(name, "reader", READER_PW)
    admin.add_user("adj", "adjudicator", ADJ_PW)
    if imported:
        admin.import_reads(sim().reads_json)
    return Dual(
        store,
        admin,
        Repository.login(store, READERS[0], READER_PW, kdf=FAST_KDF),
        Repository.login(store, READERS[1], READER_PW, kdf=FAST_KDF),
        Repository.login(store, "adj", ADJ_PW, kdf=FAST_KDF),
    )


def refusals(admin: Repository) -> list[tuple[str | None, str]]:
    return [(e.actor, e.action) for e in admin.list_audit() if e.outcome == "refused"]


def a_slot(store: Store, code: str) -> int:
    [(slot,)] = raw(
        store,
        "SELECT a_slot FROM case_orders JOIN subjects ON subjects.id = case_orders.subject_id "
        "WHERE subjects.code = :code",
        code=code,
    )
    return int(slot)
