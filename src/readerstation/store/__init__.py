"""The store: SQLAlchemy schema, Alembic migrations, and the Repository that guards the data.

A SQLite file is the embedded default; any SQLAlchemy URL (PostgreSQL) works the same::

    store = open_store("sqlite:///var/readerstation.sqlite")     # creates / upgrades
    create_first_admin(store, "admin", "a long password")
    admin = Repository.login(store, "admin", "a long password")
    admin.add_user("reader1", "reader", "another password")

Everything a user does goes through a :class:`Repository`, which checks roles and blinding and
writes the hash-chained audit trail, sealed with a key kept outside the database
(:mod:`readerstation.store.auditkey`).
"""

from __future__ import annotations

from readerstation.store.audit import (
    ADOPT_ACTION,
    GENESIS_HASH,
    AuditRecord,
    AuditVerification,
    canonical_json,
    compute_event_hash,
    compute_event_mac,
    verify_audit_chain,
)
from readerstation.store.auditkey import AuditKey, AuditKeySource, default_key_path
from readerstation.store.dual import (
    AcceptedRead,
    AdjudicationInfo,
    AssignmentInfo,
    DiscrepancyInfo,
    ImportReport,
    WorkItem,
    derive_balanced_assignment,
)
from readerstation.store.engine import (
    DEFAULT_SQLITE_URL,
    Store,
    alembic_config,
    default_url,
    grant_app_role,
    open_store,
)
from readerstation.store.passwords import PASSWORD_MIN_LENGTH, KdfParams
from readerstation.store.repository import (
    ReadRevision,
    ReadSummary,
    Repository,
    UserInfo,
    create_first_admin,
)

__all__ = [
    "ADOPT_ACTION",
    "DEFAULT_SQLITE_URL",
    "GENESIS_HASH",
    "PASSWORD_MIN_LENGTH",
    "AcceptedRead",
    "AdjudicationInfo",
    "AssignmentInfo",
    "AuditKey",
    "AuditKeySource",
    "AuditRecord",
    "AuditVerification",
    "DiscrepancyInfo",
    "ImportReport",
    "KdfParams",
    "ReadRevision",
    "ReadSummary",
    "Repository",
    "Store",
    "UserInfo",
    "WorkItem",
    "alembic_config",
    "canonical_json",
    "compute_event_hash",
    "compute_event_mac",
    "create_first_admin",
    "default_key_path",
    "default_url",
    "derive_balanced_assignment",
    "grant_app_role",
    "open_store",
    "verify_audit_chain",
]
