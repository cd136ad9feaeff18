"""The store's tables (SQLAlchemy 2.x ORM), portable between SQLite and PostgreSQL.

Design
------
* Every mutable row has a ``version`` column used as SQLAlchemy's ``version_id_col``: an UPDATE
  that finds another writer's newer version fails (optimistic locking, for several writers on
  PostgreSQL).
* Timestamps are UTC (:class:`UTCDateTime` stores them as UTC and returns aware datetimes).
* A timepoint read is one row per (timepoint, reader, read_version): a draft row is updated in
  place by autosave; once ``status`` is ``signed`` the row never changes (refused by the
  Repository and by a database trigger); a correction is a new row with the next
  ``read_version`` that points to the one it ``supersedes``. The read's content (lesions,
  measurements, lines) is the canonical JSON of :meth:`TimepointRead.to_dict` in ``content``,
  with its SHA-256 in ``content_sha256``; the columns hold what access control and worklists
  query (subject, timepoint, reader, status, versions).
* ``assignments`` says which reader reads which subject (slot 1 or 2 for dual reading).
* Dual reading (migration 0002): ``charter`` (one row, the charter's JSON), ``case_orders``
  (which slot is "Read A" for the adjudicator, drawn once per subject), ``discrepancies`` (one row
  per evaluation of a subject's two reads under one criteria that needs adjudication),
  ``adjudications`` (immutable: a database trigger refuses UPDATE and DELETE) and
  ``acceptances`` (the accepted read of a subject and criteria, by adjudication or by charter).
* ``audit_events`` is append-only (triggers refuse UPDATE and DELETE) and hash-chained; the
  single row of ``audit_head`` holds the last sequence number and hash, so that deleting the
  last events is detected too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AcceptanceRow",
    "AdjudicationRow",
    "Assignment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "CaseOrderRow",
    "CharterRow",
    "DiscrepancyRow",
    "ReadRow",
    "SubjectRow",
    "TimepointRow",
    "UTCDateTime",
    "User",
    "utc_now",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime stored as UTC and returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime: naive datetime refused; give a UTC-aware datetime.")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('reader', 'adjudicator', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class SubjectRow(Base):
    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    treatment_start: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class TimepointRow(Base):
    __tablename__ = "timepoints"
    __table_args__ = (UniqueConstraint("subject_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    scan_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    study_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    series_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phase: Mapped[str] = mapped_column(String(32), default="unknown")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("subject_id", "reader_id"),
        UniqueConstraint("subject_id", "slot"),
        CheckConstraint("slot >= 1", name="slot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    slot: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ReadRow(Base):
    __tablename__ = "reads"
    __table_args__ = (
        UniqueConstraint("timepoint_id", "reader_id", "read_version"),
        CheckConstraint("status IN ('draft', 'signed')", name="status"),
        CheckConstraint(
            "(status = 'signed' AND signed_at IS NOT NULL) OR "
            "(status = 'draft' AND signed_at IS NULL)",
            name="signed_at",
        ),
        CheckConstraint("read_version >= 1", name="read_version"),
        Index("ix_reads_reader_id_subject_id", "reader_id", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    timepoint_id: Mapped[int] = mapped_column(ForeignKey("timepoints.id"), index=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_version: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("reads.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AuditEvent(Base):
    """One audited action (append-only; ``seq`` 1, 2, 3... in order of writing)."""

    __tablename__ = "audit_events"
    __table_args__ = (CheckConstraint("outcome IN ('ok', 'refused')", name="outcome"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    before_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    after_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head: the last event's ``seq`` and ``hash`` (one row, ``id`` = 1)."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


# -- dual reading (migration 0002) --------------------------------------------------------------


class CharterRow(Base):
    """The trial's reading charter (one row, ``id`` = 1; JSON of :class:`Charter`)."""

    __tablename__ = "charter"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    content: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseOrderRow(Base):
    """Which reader slot the adjudicator sees as "Read A" for a subject (drawn once, kept)."""

    __tablename__ = "case_orders"
    __table_args__ = (CheckConstraint("a_slot IN (1, 2)", name="a_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), unique=True)
    a_slot: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)


class DiscrepancyRow(Base):
    """One evaluation of a subject's two reads under one criteria that needs adjudication.

    ``status`` is ``open`` until adjudicated (``resolved``); ``superseded`` when a later
    signature changed the reads compared (a new evaluation then replaces it). ``read_ids`` is
    the JSON ``{"1": [ids], "2": [ids]}`` of the read versions compared, by slot.
    """

    __tablename__ = "discrepancies"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved', 'superseded')", name="status"),
        Index("ix_discrepancies_subject_id_criteria", "subject_id", "criteria"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    criteria: Mapped[str] = mapped_column(String(16))
    variables: Mapped[str] = mapped_column(Text)
    causes: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    read_ids: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AdjudicationRow(Base):
    """An adjudicator's signed endorsement of one read (immutable: trigger like ``reads``)."""

    __tablename__ = "adjudications"
    __table_args__ = (
        CheckConstraint("endorsed_label IN ('A', 'B')", name="endorsed_label"),
        CheckConstraint("endorsed_slot IN (1, 2)", name="endorsed_slot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    discrepancy_id: Mapped[int] = mapped_column(ForeignKey("discrepancies.id"), unique=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    criteria: Mapped[str] = mapped_column(String(16))
    endorsed_label: Mapped[str] = mapped_column(String(1))
    endorsed_slot: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    adjudicator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AcceptanceRow(Base):
    """The accepted read of a subject under one criteria (``basis`` adjudication or charter)."""

    __tablename__ = "acceptances"
    __table_args__ = (
        UniqueConstraint("subject_id", "criteria"),
        CheckConstraint("accepted_slot IN (1, 2)", name="accepted_slot"),
        CheckConstraint("basis IN ('adjudication', 'charter')", name="basis"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    criteria: Mapped[str] = mapped_column(String(16))
    accepted_slot: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(String(16))
    adjudication_id: Mapped[int | None] = mapped_column(
        ForeignKey("adjudications.id"), nullable=True
    )
    read_ids: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utc_now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
