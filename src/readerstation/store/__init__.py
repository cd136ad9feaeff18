"""The store: SQLAlchemy schema, Alembic migrations, and the Repository that guards the data.

A SQLite file is the embedded default; any SQLAlchemy URL (PostgreSQL) works the same::

    store = open_store("sqlite:///var/readerstation.sqlite")     # creates / upgrades
    create_first_admin(store, "admin", "a long password")
    admin = Repository.login(store, "admin", "a long password")
    admin.add_user("reader1", "reader", "another password")

Everything a user does goes through a :class:`Repository`, which checks roles and blinding and
writes the hash-chained audit trail.
"""

from __future__ import annotations

from readerstation.store.audit import (
    GENESIS_HASH,
    AuditRecord,
    AuditVerification,
    canonical_json,
    compute_event_hash,
    verify_audit_chain,
)
from readerstation.store.engine import (
    DEFAULT_SQLITE_URL,
    Store,
    alembic_config,
    default_url,
    open_store,
)
from readerstation.store.passwords import PASSWORD_MIN_LENGTH, KdfParams
from readerstation.store.repository import (
    ReadSummary,
    Repository,
    UserInfo,
    create_first_admin,
)

__all__ = [
    "DEFAULT_SQLITE_URL",
    "GENESIS_HASH",
    "PASSWORD_MIN_LENGTH",
    "AuditRecord",
    "AuditVerification",
    "KdfParams",
    "ReadSummary",
    "Repository",
    "Store",
    "UserInfo",
    "alembic_config",
    "canonical_json",
    "compute_event_hash",
    "create_first_admin",
    "default_url",
    "open_store",
    "verify_audit_chain",
]
