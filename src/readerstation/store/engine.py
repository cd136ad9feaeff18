"""Opening the store: URL, engine settings, Alembic upgrade to the current schema.

The embedded default is a SQLite file: ``READERSTATION_DB`` if set, else
``sqlite:///var/readerstation.sqlite`` relative to the current directory (``var/`` is created).
Any SQLAlchemy URL works the same (``postgresql+psycopg://user:pw@host/db``).

Each store also has an audit key kept outside the database (:mod:`readerstation.store.auditkey`);
the :class:`Store` carries where it comes from and hands it to its sessions.

On PostgreSQL a site runs migrations as the database owner and the workstations as a role that
may not alter the audit trail: :func:`grant_app_role` (``readerstation db grant-app-role``)
grants such a role what the Repository needs and nothing that rewrites history.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from readerstation.errors import StoreError
from readerstation.store.audit import AUDIT_KEYS_INFO
from readerstation.store.auditkey import AuditKey, AuditKeySource

__all__ = [
    "DEFAULT_SQLITE_URL",
    "SQLITE_BUSY_TIMEOUT_MS",
    "Store",
    "alembic_config",
    "default_url",
    "grant_app_role",
    "open_store",
]

DEFAULT_SQLITE_URL = "sqlite:///var/readerstation.sqlite"
"""The embedded default store, relative to the current directory."""

READ_ONLY_OPTION = "readerstation_read_only"
"""Connection execution option that marks a read-only transaction (plain BEGIN on SQLite)."""

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another one to finish (ms)."""

SQLITE_SYNCHRONOUS = "FULL"
"""SQLite ``synchronous`` setting in WAL mode: FULL makes each committed autosave survive a power
loss too (one fsync of the WAL per commit); NORMAL would survive process kills only."""

APPEND_ONLY_TABLES = ("audit_events",)
"""Tables the application role may only read and insert into."""

NO_DELETE_TABLES = ("audit_head", "reads")
"""Tables whose rows the application role may not delete (signed reads and drafts are kept)."""

_MIGRATION_LOCK_ID = 0x52535354  # "RSST": PostgreSQL advisory lock key held while migrating

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def default_url() -> str:
    """``READERSTATION_DB`` if set and not empty, else :data:`DEFAULT_SQLITE_URL`."""
    return os.environ.get("READERSTATION_DB") or DEFAULT_SQLITE_URL


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration built in code (no alembic.ini): the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            # a read-only transaction (Store.read_session): a WAL snapshot that never takes the
            # write lock, so it neither waits for nor blocks the writers
            conn.exec_driver_sql("BEGIN")
            return
        # Take the write lock at BEGIN: the audit chain's read-then-append never races.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """An open store: a SQLAlchemy engine and its session factory, at the current schema.

    Use :func:`open_store` to create one and :class:`readerstation.store.Repository` to act on
    it as a user.
    """

    def __init__(self, engine: Engine, audit_keys: AuditKeySource | None = None) -> None:
        self.engine = engine
        self.audit_keys = audit_keys if audit_keys is not None else AuditKeySource(engine.url)
        """Where the audit key comes from (see :mod:`readerstation.store.auditkey`)."""
        self.sessions: sessionmaker[Session] = sessionmaker(
            engine, expire_on_commit=False, info={AUDIT_KEYS_INFO: self.audit_keys}
        )

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"`` (or another SQLAlchemy dialect name)."""
        return self.engine.dialect.name

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction (rolled back at the end; never write in it).

        On SQLite it begins with a plain (deferred) ``BEGIN`` instead of ``BEGIN IMMEDIATE``, so
        it does not queue behind, or hold up, the writers; a write inside it could fail with
        ``SQLITE_BUSY``, which is why it is for reads only.
        """
        with self.engine.connect() as conn:
            ro = conn.execution_options(**{READ_ONLY_OPTION: True})
            with Session(
                bind=ro, expire_on_commit=False, info={AUDIT_KEYS_INFO: self.audit_keys}
            ) as session:
                try:
                    yield session
                finally:
                    session.rollback()

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url})"


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"store URL: expected a SQLAlchemy URL such as sqlite:///var/readerstation.sqlite or "
            f"postgresql+psycopg://user@host/db, received {url!r}."
        ) from exc
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            raise StoreError(
                f"store URL: expected a SQLite file, received {url!r}; an in-memory database "
                "would lose every read when the program ends."
            )
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", None):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"store URL {parsed.render_as_string(hide_password=True)}: no driver for this "
            f"database ({exc}); for PostgreSQL install readerstation[postgres]."
        ) from exc
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def open_store(
    url: str | None = None, *, upgrade: bool = True, audit_key: AuditKey | None = None
) -> Store:
    """Open (and create or upgrade) the store at ``url``.

    Parameters
    ----------
    url : str or None
        SQLAlchemy URL; None means :func:`default_url`.
    upgrade : bool
        Run the packaged Alembic migrations up to the head revision (creates an empty store).
        With False, refuse a database that is not at the head revision.
    audit_key : AuditKey or None
        The audit key; None means ``READERSTATION_AUDIT_KEY``, ``READERSTATION_AUDIT_KEY_FILE``
        or the default key file (created with the first event of a new store).

    Raises
    ------
    StoreError
        Bad URL, missing driver, unreachable server, or (``upgrade=False``) an outdated schema.
    """
    engine = _create_engine(url or default_url())
    store = Store(engine, AuditKeySource(engine.url, audit_key))
    try:
        if upgrade:
            cfg = alembic_config()
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    # several processes opening a new store at once: one migrates at a time
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        else:
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            current = store.current_revision()
            if current != head:
                raise StoreError(
                    f"store {store.url}: schema revision {current!r}, expected {head!r}; run "
                    "readerstation init (or open_store with upgrade=True) to upgrade it."
                )
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(
            f"store {store.url}: cannot open the database ({exc.orig}); check the URL, the "
            "file permissions or that the server is running."
        ) from exc
    return store


def grant_app_role(store: Store, role: str) -> list[str]:
    """Grant a PostgreSQL role what the workstations need, and nothing that rewrites history.

    Run it connected as the database owner (the role that runs the migrations), after every
    upgrade (new tables need their grants). The role gets, on the store's schema (the
    connection's ``current_schema()``): ``SELECT, INSERT, UPDATE, DELETE`` on every table except
    ``SELECT, INSERT`` only on :data:`APPEND_ONLY_TABLES` (the audit trail), no ``DELETE`` on
    :data:`NO_DELETE_TABLES`, ``SELECT`` only on ``alembic_version``, and the sequences. It gets
    no ``TRUNCATE``, ``TRIGGER`` or ``REFERENCES`` and, not being the owner, can neither drop nor
    disable the immutability triggers. The role must exist (``CREATE ROLE ... LOGIN``) and must
    not be a superuser.

    Returns
    -------
    list of str
        The statements run (for the site's records).

    Raises
    ------
    StoreError
        Not PostgreSQL, unknown role, a superuser role, or the role owns the tables.
    """
    if store.dialect != "postgresql":
        raise StoreError(
            f"grant app role: roles are a PostgreSQL feature, the store is {store.dialect}; a "
            "SQLite file is protected by its file permissions."
        )
    q = store.engine.dialect.identifier_preparer
    with store.engine.begin() as conn:
        found = conn.exec_driver_sql(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %(r)s", {"r": role}
        ).first()
        if found is None:
            raise StoreError(
                f"grant app role: no role {role!r}; create it first (CREATE ROLE {role} LOGIN "
                "PASSWORD '...')."
            )
        if found[0]:
            raise StoreError(
                f"grant app role: {role!r} is a superuser, which bypasses every grant and "
                "trigger; use an ordinary role."
            )
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        owner = conn.exec_driver_sql(
            "SELECT tableowner FROM pg_tables WHERE schemaname = %(s)s AND tablename = "
            "'audit_events'",
            {"s": schema},
        ).scalar()
        if owner == role:
            raise StoreError(
                f"grant app role: {role!r} owns the store's tables (it ran the migrations); the "
                "application must connect as another role."
            )
        r, sch = q.quote(role), q.quote_schema(schema)
        statements = [
            f"GRANT USAGE ON SCHEMA {sch} TO {r}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {sch} FROM {r}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {sch} TO {r}",
            *(f"REVOKE UPDATE, DELETE ON {sch}.{q.quote(t)} FROM {r}" for t in APPEND_ONLY_TABLES),
            *(f"REVOKE DELETE ON {sch}.{q.quote(t)} FROM {r}" for t in NO_DELETE_TABLES),
            f"REVOKE INSERT, UPDATE, DELETE ON {sch}.alembic_version FROM {r}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {sch} TO {r}",
        ]
        for statement in statements:
            conn.exec_driver_sql(statement)
    return statements
