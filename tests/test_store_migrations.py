# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Alembic migrations: empty -> head, head == ORM metadata, SQLite settings, URL handling, and
upgrading a filled database from every earlier revision without losing a row.

The upgrade test is parametrised over the revisions that exist when it runs: for every pair
(revision, next revision) and (revision, head) it creates a database at the earlier revision,
fills it through SQL with what a real store at head holds (users, subjects, timepoints,
assignments, drafts, signed and amended reads, the keyed audit trail and its head) as far as that
revision's tables and columns allow, upgrades, and compares every row; then the upgraded store
must verify its audit chain and accept new work. With a single revision it runs head -> head,
which still checks the fill-and-compare machinery.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    delete,
    inspect,
    select,
    text,
)
from test_store_support import (  # noqa: F401  (fixtures)
    ADMIN_PW,
    FAST_KDF,
    PG_ENV,
    R1_PW,
    _pg_schema_url,
    make_read,
    make_trial,
    raw,
    store,
    store_url,
)

from readerstation.errors import StoreError
from readerstation.store import (
    DEFAULT_SQLITE_URL,
    Repository,
    alembic_config,
    default_url,
    open_store,
)
from readerstation.store.auditkey import AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV
from readerstation.store.schema import Base

TABLES = {"users", "subjects", "timepoints", "assignments", "reads", "audit_events", "audit_head"}


def test_upgrade_from_empty_to_head(store_url: str):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and head >= "0001"
    s = open_store(store_url)
    try:
        names = set(inspect(s.engine).get_table_names())
        assert TABLES | {"alembic_version"} <= names
        assert s.current_revision() == head
        assert raw(s, "SELECT id, seq, hash FROM audit_head") == [(1, 0, "0" * 64)]
    finally:
        s.close()
    # opening again is a no-op upgrade; upgrade=False accepts a store at head
    again = open_store(store_url, upgrade=False)
    assert again.current_revision() == head
    again.close()


def test_head_schema_equals_orm_metadata(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_up_again(store):
    cfg = alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert not (TABLES & set(inspect(store.engine).get_table_names()))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert TABLES <= set(inspect(store.engine).get_table_names())


def test_outdated_store_refused_without_upgrade(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    create_engine(url).connect().close()  # an empty database file
    with pytest.raises(StoreError, match="schema revision None, expected '0"):
        open_store(url, upgrade=False)


def test_sqlite_settings(tmp_path: Path):
    s = open_store(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        s.close()


def test_default_url_env_then_var_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("READERSTATION_DB", raising=False)
    assert default_url() == DEFAULT_SQLITE_URL == "sqlite:///var/readerstation.sqlite"
    monkeypatch.chdir(tmp_path)
    s = open_store()
    s.close()
    assert (tmp_path / "var" / "readerstation.sqlite").is_file()
    monkeypatch.setenv("READERSTATION_DB", f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert default_url().endswith("other.sqlite")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("not a url", "expected a SQLAlchemy URL"),
        ("nosuchdb://x/y", "no driver"),
    ],
)
def test_bad_urls_refused(url: str, words: str):
    with pytest.raises(StoreError, match=words):
        open_store(url)


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store("postgresql+psycopg://nobody:x@127.0.0.1:9/none?connect_timeout=2")


# -- upgrading a filled database -----------------------------------------------------------


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _upgrade_pairs() -> list[tuple[str, str]]:
    revs = _revisions()
    pairs = list(itertools.pairwise(revs))
    pairs += [(r, revs[-1]) for r in revs[:-2]]  # from every older revision straight to head
    return pairs or [(revs[-1], revs[-1])]


@pytest.fixture
def second_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same kind as ``store_url`` (the source store)."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'source.sqlite'}"
        return
    base = os.environ[PG_ENV]
    schema = "rs_src_" + uuid.uuid4().hex[:12]
    admin = create_engine(_pg_schema_url(base, "public"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _fill_source(url: str) -> dict[str, list[dict[str, Any]]]:
    """A store at head with real content; returns every row of every table."""
    s = open_store(url)
    try:
        t = make_trial(s)
        base = t.r1.save_draft(make_read("r1", mm=40.0))
        t.r1.save_draft(make_read("r1", mm=42.0))
        t.r1.sign_read(base.read_id, R1_PW)
        t.r1.amend_read(base.read_id)  # a signed version 1 and a draft version 2
        t.r2.save_draft(make_read("r2", mm=47.0, n_targets=2))
        follow = t.r1.save_draft(make_read("r1", "TP1", mm=35.0))
        assert follow.read_id is not None
        try:
            t.r2.get_read(base.read_id)  # an audited refusal
        except PermissionError:
            pass
        md = MetaData()
        md.reflect(s.engine)
        with s.engine.connect() as conn:
            return {
                name: [dict(r._mapping) for r in conn.execute(select(table))]
                for name, table in md.tables.items()
                if name != "alembic_version"
            }
    finally:
        s.close()


def _filler(table: Table, col: Any, inserted: dict[str, list[dict[str, Any]]]) -> Any:
    """A value for a column the source rows do not have (NOT NULL, no server default)."""
    for fk in col.foreign_keys:
        parents = inserted.get(fk.column.table.name) or []
        if parents:
            return parents[0][fk.column.name]
    kind = col.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, Float | Numeric):
        return 0.0
    if isinstance(kind, DateTime):
        return dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    if isinstance(kind, Date):
        return dt.date(2024, 1, 1)
    if isinstance(kind, String | Text):
        return "x"
    return None


def _fill_old(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict]]:
    """Insert ``rows`` into the tables and columns the old revision has; return what went in."""
    md = MetaData()
    md.reflect(engine)
    inserted: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for table in md.sorted_tables:
            if table.name == "alembic_version" or table.name not in rows:
                continue
            if table.name == "audit_head":
                conn.execute(delete(table))  # the migration's genesis row, replaced by the source's
            out = []
            for src in rows[table.name]:
                row = {c.name: src[c.name] for c in table.columns if c.name in src}
                for c in table.columns:
                    if c.name not in row and not c.nullable and c.server_default is None:
                        row[c.name] = _filler(table, c, inserted)
                out.append(row)
            # self-referencing rows (reads.supersedes_id) go in id order: parents first
            if "id" in table.columns:
                out.sort(key=lambda r: r["id"])
            for row in out:
                conn.execute(table.insert().values(**row))
            inserted[table.name] = out
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in md.sorted_tables:
                if "id" in table.columns and inserted.get(table.name):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
    return inserted


@pytest.mark.parametrize(("old", "new"), _upgrade_pairs(), ids=lambda r: str(r))
def test_upgrade_keeps_every_row(
    old: str,
    new: str,
    store_url: str,
    second_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    # one site key for both databases, so the copied chain verifies in the upgraded one
    monkeypatch.delenv(AUDIT_KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(AUDIT_KEY_ENV, "5a" * 32)
    rows = _fill_source(second_url)
    assert rows["reads"] and rows["audit_events"]

    cfg = alembic_config()
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, old)
        inserted = _fill_old(engine, rows)
        assert inserted["audit_events"] and inserted["reads"]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, new)
            assert MigrationContext.configure(conn).get_current_revision() == new
        md = MetaData()
        md.reflect(engine)
        with engine.connect() as conn:
            for name, before in inserted.items():
                table = md.tables.get(name)
                assert table is not None, f"table {name} vanished in {old} -> {new}"
                gone = {c for r in before for c in r} - set(table.columns.keys())
                assert not gone, f"columns {gone} of {name} vanished in {old} -> {new}"
                pk = [c.name for c in table.primary_key.columns]
                after = {
                    tuple(r._mapping[k] for k in pk): dict(r._mapping)
                    for r in conn.execute(select(table))
                }
                assert len(after) == len(before), name
                for row in before:
                    got = after[tuple(row[k] for k in pk)]
                    assert {k: got[k] for k in row} == row, (name, row)
    finally:
        engine.dispose()

    if new != _revisions()[-1]:
        return
    # at head: the copied trail verifies and the store takes new work on top of it
    s = open_store(store_url)
    try:
        admin = Repository.login(s, "admin", ADMIN_PW, kdf=FAST_KDF)
        n = len(rows["audit_events"])
        result = admin.verify_audit()
        assert result.intact and result.n_events >= n
        r1 = Repository.login(s, "r1", R1_PW, kdf=FAST_KDF)
        reads = {(r.timepoint, r.version): r for r in r1.list_reads()}
        assert reads[("TP0", 1)].status.value == "signed"
        assert reads[("TP0", 2)].status.value == "draft"
        saved = r1.save_draft(make_read("r1", mm=43.0, version=2))
        assert saved.read_id == reads[("TP0", 2)].read_id
        assert r1.save_draft(make_read("r1", "TP1", mm=36.0)).read_id is not None
        assert admin.verify_audit().intact
    finally:
        s.close()
