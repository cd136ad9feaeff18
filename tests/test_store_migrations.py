# ruff: noqa: F811  (pytest fixtures imported from test_store_support)
"""Alembic migrations: empty -> head, head == ORM metadata, SQLite settings, URL handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from test_store_support import raw, store, store_url  # noqa: F401  (fixtures)

from readerstation.errors import StoreError
from readerstation.store import DEFAULT_SQLITE_URL, alembic_config, default_url, open_store
from readerstation.store.schema import Base

TABLES = {"users", "subjects", "timepoints", "assignments", "reads", "audit_events", "audit_head"}


def test_upgrade_from_empty_to_head(store_url: str):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == "0001"
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
    with pytest.raises(StoreError, match="schema revision None, expected '0001'"):
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
