"""Fixtures and helpers shared by the store tests (imported by the other test_store_* modules).

Every store test runs on a real SQLite file in ``tmp_path`` and, when the environment variable
``READERSTATION_TEST_PG_URL`` names a PostgreSQL database (for example
``postgresql+psycopg://readerstation:readerstation@localhost:5432/readerstation_test``), on
PostgreSQL too. Each PostgreSQL test gets its own schema (created and dropped around the test),
so tests can run in parallel on one database; the URL's user needs CREATE on that database.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from readerstation.model import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)
from readerstation.store import KdfParams, Repository, Store, create_first_admin, open_store

PG_ENV = "READERSTATION_TEST_PG_URL"

# argon2id, but cheap: the tests log in many times. The CLI tests use the real defaults.
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)

ADMIN_PW = "admin-password-1"
R1_PW = "reader-one-password"
R2_PW = "reader-two-password"
ADJ_PW = "adjudicator-password"
UID = "1.2.826.0.1.3680043.8.498.77"


def _pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    if url.get_driver_name() in ("", None):
        url = url.set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def private_pg_schema(base: str, prefix: str = "rs_test_") -> Iterator[str]:
    """Create a schema of a unique name on the PostgreSQL database at ``base``, drop it after."""
    schema = prefix + uuid.uuid4().hex[:12]
    admin = create_engine(_pg_schema_url(base, "public"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file, or a private schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL variant: set {PG_ENV} to a SQLAlchemy URL of a database where the user "
            "may create schemas (e.g. postgresql+psycopg://readerstation:readerstation@"
            "localhost:5432/readerstation_test)"
        )
    with private_pg_schema(base) as schema:
        yield _pg_schema_url(base, schema)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The store at ``store_url``, created by the migrations."""
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@dataclass
class Trial:
    """A small store: admin, two readers, one adjudicator, subject HCC-001 with TP0 and TP1."""

    store: Store
    admin: Repository
    r1: Repository
    r2: Repository
    adj: Repository


def make_trial(store: Store) -> Trial:
    create_first_admin(store, "admin", ADMIN_PW, kdf=FAST_KDF)
    admin = Repository.login(store, "admin", ADMIN_PW, kdf=FAST_KDF)
    admin.add_user("r1", "reader", R1_PW)
    admin.add_user("r2", "reader", R2_PW)
    admin.add_user("adj", "adjudicator", ADJ_PW)
    admin.add_subject(Subject("HCC-001", dt.date(2024, 1, 8)))
    admin.add_timepoint("HCC-001", Timepoint("TP0", dt.date(2024, 1, 5), UID))
    admin.add_timepoint("HCC-001", Timepoint("TP1", dt.date(2024, 2, 20), UID))
    admin.assign("HCC-001", "r1")
    admin.assign("HCC-001", "r2")
    return Trial(
        store,
        admin,
        Repository.login(store, "r1", R1_PW, kdf=FAST_KDF),
        Repository.login(store, "r2", R2_PW, kdf=FAST_KDF),
        Repository.login(store, "adj", ADJ_PW, kdf=FAST_KDF),
    )


@pytest.fixture
def trial(store: Store) -> Trial:
    return make_trial(store)


def make_read(
    reader: str,
    label: str = "TP0",
    mm: float = 50.0,
    *,
    n_targets: int = 1,
    date: dt.date | None = None,
    version: int = 1,
) -> TimepointRead:
    """A draft with ``n_targets`` liver/lung targets; T1's long axis is ``mm`` (with its line)."""
    dates = {"TP0": dt.date(2024, 1, 5), "TP1": dt.date(2024, 2, 20)}
    lesions = []
    for k in range(n_targets):
        length = mm + k
        organ, segment = ("liver", "VII") if k < 2 else (f"organ{k}", None)
        lesions.append(
            LesionAssessment(
                Lesion(
                    f"trk-{k + 1}",
                    f"T{k + 1}",
                    "target",
                    organ,
                    liver_segment=segment,
                    # mRECIST: an intrahepatic target is a typical HCC (signing checks both)
                    typical_hcc=True if segment else None,
                ),
                Measurement(
                    "measured",
                    long_axis_mm=length,
                    viable_long_axis_mm=length / 2,
                    long_axis_line=LinePoints((0.0, 0.0, 5.0 * k), (length, 0.0, 5.0 * k), UID),
                    viable_line=LinePoints((0.0, 1.0, 5.0 * k), (length / 2, 1.0, 5.0 * k), UID),
                ),
            )
        )
    return TimepointRead(
        Subject("HCC-001", dt.date(2024, 1, 8)),
        Timepoint(label, date or dates.get(label), UID),
        reader,
        tuple(lesions),
        version=version,
    )


def raw(store: Store, sql: str, **params: object) -> list[tuple]:
    """Run raw SQL outside the Repository (as someone with direct database access)."""
    with store.engine.begin() as conn:
        result = conn.execute(text(sql), params)
        return [tuple(r) for r in result] if result.returns_rows else []


def drop_audit_triggers(store: Store) -> None:
    """What an attacker with owner rights would do before editing the audit trail."""
    if store.dialect == "sqlite":
        raw(store, "DROP TRIGGER trg_audit_no_update")
        raw(store, "DROP TRIGGER trg_audit_no_delete")
    else:
        raw(store, "DROP TRIGGER trg_audit_append_only ON audit_events")
