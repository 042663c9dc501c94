"""payments: a second provider and reconciliation runs

Reconciliation runs and their findings (one row per discrepancy, unique by its key), and the
indexes the hourly job reads by: payments by creation time, notifications by arrival time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = kuaidan.core.db.UTCDateTime
FINDING_KINDS = (
    "kind IN ('paid_without_notification', 'notification_without_order', 'amount_mismatch', "
    "'status_mismatch', 'refund_mismatch')"
)


def upgrade() -> None:
    op.create_table(
        "payment_reconciliation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("window_start", UTC(), nullable=False),
        sa.Column("payments_checked", sa.Integer(), server_default="0", nullable=False),
        sa.Column("errors", sa.Integer(), server_default="0", nullable=False),
        sa.Column("new_findings", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reconciliation_runs")),
    )
    op.create_table(
        "payment_reconciliation_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("expected_fen", sa.BigInteger(), nullable=True),
        sa.Column("actual_fen", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.String(20), nullable=False),
        sa.Column("found_at", UTC(), nullable=False),
        sa.CheckConstraint(FINDING_KINDS, name=op.f("ck_payment_reconciliation_findings_kind")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["payment_reconciliation_runs.id"],
            name=op.f("fk_payment_reconciliation_findings_run_id_payment_reconciliation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reconciliation_findings")),
        sa.UniqueConstraint("key", name=op.f("uq_payment_reconciliation_findings_key")),
    )
    op.create_index(
        op.f("ix_payment_reconciliation_findings_run_id"),
        "payment_reconciliation_findings",
        ["run_id"],
    )
    op.create_index(
        op.f("ix_payment_reconciliation_findings_reference"),
        "payment_reconciliation_findings",
        ["reference"],
    )
    op.create_index(op.f("ix_payments_created_at"), "payments", ["created_at"])
    op.create_index(
        op.f("ix_payment_notifications_received_at"), "payment_notifications", ["received_at"]
    )
    op.add_column("payments", sa.Column("reconciled_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("reconciled_version")
    op.drop_index(op.f("ix_payment_notifications_received_at"), table_name="payment_notifications")
    op.drop_index(op.f("ix_payments_created_at"), table_name="payments")
    op.drop_index(
        op.f("ix_payment_reconciliation_findings_reference"),
        table_name="payment_reconciliation_findings",
    )
    op.drop_index(
        op.f("ix_payment_reconciliation_findings_run_id"),
        table_name="payment_reconciliation_findings",
    )
    op.drop_table("payment_reconciliation_findings")
    op.drop_table("payment_reconciliation_runs")
