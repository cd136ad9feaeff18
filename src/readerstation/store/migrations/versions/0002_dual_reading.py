"""dual reading: charter, case orders, discrepancies, adjudications, acceptances

Besides the tables, this revision installs the trigger that makes an adjudication immutable
(UPDATE and DELETE refused by the database, as for signed reads).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ADJ_MSG = "readerstation: a signed adjudication is immutable"

_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER trg_adjudications_no_update BEFORE UPDATE ON adjudications
    BEGIN SELECT RAISE(ABORT, '{_ADJ_MSG}'); END""",
    f"""CREATE TRIGGER trg_adjudications_no_delete BEFORE DELETE ON adjudications
    BEGIN SELECT RAISE(ABORT, '{_ADJ_MSG}'); END""",
)

_PG_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION readerstation_adjudication_immutable() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{_ADJ_MSG}'; END $$""",
    """CREATE TRIGGER trg_adjudications_immutable BEFORE UPDATE OR DELETE ON adjudications
    FOR EACH ROW EXECUTE FUNCTION readerstation_adjudication_immutable()""",
    """CREATE TRIGGER trg_adjudications_no_truncate BEFORE TRUNCATE ON adjudications
    FOR EACH STATEMENT EXECUTE FUNCTION readerstation_adjudication_immutable()""",
)


def create_triggers() -> None:
    """Install the adjudication immutability triggers for the current dialect."""
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _PG_TRIGGERS}.get(dialect, ())
    for statement in statements:
        op.execute(statement)


def drop_triggers() -> None:
    """Remove what :func:`create_triggers` installed."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS trg_adjudications_no_update")
        op.execute("DROP TRIGGER IF EXISTS trg_adjudications_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_adjudications_immutable ON adjudications")
        op.execute("DROP TRIGGER IF EXISTS trg_adjudications_no_truncate ON adjudications")
        op.execute("DROP FUNCTION IF EXISTS readerstation_adjudication_immutable()")


def upgrade() -> None:
    op.create_table(
        "charter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_charter_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charter")),
    )
    op.create_table(
        "case_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("a_slot", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("a_slot IN (1, 2)", name=op.f("ck_case_orders_a_slot")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_case_orders_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_orders")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_case_orders_subject_id")),
    )
    op.create_table(
        "discrepancies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("criteria", sa.String(length=16), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("causes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("read_ids", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'resolved', 'superseded')", name=op.f("ck_discrepancies_status")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_discrepancies_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discrepancies")),
    )
    op.create_index(
        "ix_discrepancies_subject_id_criteria",
        "discrepancies",
        ["subject_id", "criteria"],
        unique=False,
    )
    op.create_table(
        "adjudications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("discrepancy_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("criteria", sa.String(length=16), nullable=False),
        sa.Column("endorsed_label", sa.String(length=1), nullable=False),
        sa.Column("endorsed_slot", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("adjudicator_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "endorsed_label IN ('A', 'B')", name=op.f("ck_adjudications_endorsed_label")
        ),
        sa.CheckConstraint("endorsed_slot IN (1, 2)", name=op.f("ck_adjudications_endorsed_slot")),
        sa.ForeignKeyConstraint(
            ["adjudicator_id"], ["users.id"], name=op.f("fk_adjudications_adjudicator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["discrepancy_id"],
            ["discrepancies.id"],
            name=op.f("fk_adjudications_discrepancy_id_discrepancies"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_adjudications_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjudications")),
        sa.UniqueConstraint("discrepancy_id", name=op.f("uq_adjudications_discrepancy_id")),
    )
    op.create_index(
        op.f("ix_adjudications_subject_id"), "adjudications", ["subject_id"], unique=False
    )
    op.create_table(
        "acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("criteria", sa.String(length=16), nullable=False),
        sa.Column("accepted_slot", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("adjudication_id", sa.Integer(), nullable=True),
        sa.Column("read_ids", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("accepted_slot IN (1, 2)", name=op.f("ck_acceptances_accepted_slot")),
        sa.CheckConstraint(
            "basis IN ('adjudication', 'charter')", name=op.f("ck_acceptances_basis")
        ),
        sa.ForeignKeyConstraint(
            ["adjudication_id"],
            ["adjudications.id"],
            name=op.f("fk_acceptances_adjudication_id_adjudications"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_acceptances_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptances")),
        sa.UniqueConstraint(
            "subject_id", "criteria", name=op.f("uq_acceptances_subject_id_criteria")
        ),
    )
    create_triggers()


def downgrade() -> None:
    drop_triggers()
    op.drop_table("acceptances")
    op.drop_index(op.f("ix_adjudications_subject_id"), table_name="adjudications")
    op.drop_table("adjudications")
    op.drop_index("ix_discrepancies_subject_id_criteria", table_name="discrepancies")
    op.drop_table("discrepancies")
    op.drop_table("case_orders")
    op.drop_table("charter")
