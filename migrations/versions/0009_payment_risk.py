"""payment risk: rules, attempts and holds, devices, links, paid amounts; audit log; dev inbox;
held and blocked payments; when an account's credentials or addresses last changed

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa
from alembic import op

import kuaidan.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DT = kuaidan.core.db.UTCDateTime
OLD_STATUSES = "status IN ('created', 'succeeded', 'closed', 'refunded', 'partially_refunded')"
NEW_STATUSES = (
    "status IN ('created', 'succeeded', 'closed', 'refunded', 'partially_refunded', "
    "'held', 'blocked')"
)
ACTIONS = "action IN ('allow', 'verify', 'hold', 'block')"
ATTEMPT_STATUSES = (
    "status IN ('allowed', 'held', 'verified', 'approved', 'rejected', 'expired', 'blocked')"
)


def _accounts_and_payments() -> None:
    for column in ("password_changed_at", "phone_changed_at", "address_changed_at"):
        op.add_column("users", sa.Column(column, UTC_DT(), nullable=True))
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("return_path", sa.String(500), nullable=True))
        batch.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payments_status"), NEW_STATUSES)


def _audit_and_inbox() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DT(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_subject_at", "audit_log", ["subject", "at"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    op.create_table(
        "dev_inbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body_enc", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DT(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_inbox_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_dev_inbox_messages_dedupe_key")),
    )
    op.create_index(op.f("ix_dev_inbox_messages_user_id"), "dev_inbox_messages", ["user_id"])


def _rules_tables() -> tuple[sa.Table, sa.Table]:
    rules = op.create_table(
        "risk_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC_DT(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(ACTIONS, name=op.f("ck_risk_rules_action")),
        sa.CheckConstraint("score >= 0 AND score <= 100", name=op.f("ck_risk_rules_score")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_risk_rules_name")),
    )
    networks = op.create_table(
        "risk_listed_networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(50), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_DT(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_listed_networks")),
        sa.UniqueConstraint("cidr", name=op.f("uq_risk_listed_networks_cidr")),
    )
    return rules, networks


def _attempts() -> None:
    op.create_table(
        "risk_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.String(200), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", UTC_DT(), nullable=False),
        sa.Column("hold_expires_at", UTC_DT(), nullable=True),
        sa.Column("resolved_at", UTC_DT(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("code_expires_at", UTC_DT(), nullable=True),
        sa.Column("codes_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("wrong_codes", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(ACTIONS, name=op.f("ck_risk_attempts_action")),
        sa.CheckConstraint(ATTEMPT_STATUSES, name=op.f("ck_risk_attempts_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_attempts")),
        sa.UniqueConstraint("reference", name=op.f("uq_risk_attempts_reference")),
    )
    op.create_index("ix_risk_attempts_buyer_at", "risk_attempts", ["buyer_id", "created_at"])
    op.create_index("ix_risk_attempts_device_at", "risk_attempts", ["device_id", "created_at"])
    op.create_index("ix_risk_attempts_ip_at", "risk_attempts", ["ip", "created_at"])
    op.create_index(
        "ix_risk_attempts_status_expiry", "risk_attempts", ["status", "hold_expires_at"]
    )


def _sightings() -> None:
    op.create_table(
        "risk_devices",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("first_seen_at", UTC_DT(), nullable=False),
        sa.Column("last_seen_at", UTC_DT(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_risk_devices")),
    )
    op.create_table(
        "risk_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", UTC_DT(), nullable=False),
        sa.Column("last_seen_at", UTC_DT(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_links")),
        sa.UniqueConstraint(
            "kind", "value", "buyer_id", name=op.f("uq_risk_links_kind_value_buyer_id")
        ),
    )
    op.create_index("ix_risk_links_value_seen", "risk_links", ["kind", "value", "last_seen_at"])
    op.create_table(
        "risk_paid_amounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", UTC_DT(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_paid_amounts")),
        sa.UniqueConstraint("reference", name=op.f("uq_risk_paid_amounts_reference")),
    )
    op.create_index("ix_risk_paid_amounts_buyer_at", "risk_paid_amounts", ["buyer_id", "paid_at"])


def _seed(rules: sa.Table, networks: sa.Table) -> None:
    """The default rule file's rules and listed networks (the file as it is today)."""
    text = resources.files("kuaidan.risk").joinpath("default_rules.json").read_text("utf-8")
    data = json.loads(text)
    now = datetime.now(UTC)
    op.bulk_insert(
        rules,
        [
            {
                "name": r["name"],
                "position": r["position"],
                "description": r.get("description", ""),
                "conditions": r["when"],
                "score": r["score"],
                "action": r["action"],
                "enabled": r.get("enabled", True),
                "updated_at": now,
                "updated_by": None,
            }
            for r in data["rules"]
        ],
    )
    op.bulk_insert(
        networks,
        [
            {"cidr": n["cidr"], "note": n.get("note", ""), "created_at": now, "created_by": None}
            for n in data["listed_networks"]
        ],
    )


def upgrade() -> None:
    _accounts_and_payments()
    _audit_and_inbox()
    rules, networks = _rules_tables()
    _attempts()
    _sightings()
    _seed(rules, networks)


def downgrade() -> None:
    for table in (
        "risk_paid_amounts",
        "risk_links",
        "risk_devices",
        "risk_attempts",
        "risk_listed_networks",
        "risk_rules",
        "dev_inbox_messages",
        "audit_log",
    ):
        op.drop_table(table)
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payments_status"), OLD_STATUSES)
        batch.drop_column("return_path")
    for column in ("password_changed_at", "phone_changed_at", "address_changed_at"):
        op.drop_column("users", column)
