"""Payments tables: payment intents, the provider's notifications, and refunds.

No card data is ever here: the buyer pays on the provider's page; we keep the amount, the
provider's trade number and what the provider told us.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base
from kuaidan.payments.domain import FINDING_KINDS

PAYMENT_STATUSES = (
    "created",
    "succeeded",
    "closed",
    "refunded",
    "partially_refunded",
    "held",
    "blocked",
)
REFUND_STATUSES = ("requested", "succeeded", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values))


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refunded"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The merchant's out_trade_no: what the provider knows the payment by.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    buyer_id: Mapped[int] = mapped_column(Integer, index=True)
    subject: Mapped[str] = mapped_column(String(256))
    provider_trade_no: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)
    paid_at: Mapped[datetime | None]
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The version reconciliation last found in agreement with the provider (or reported): a
    # settled payment is asked about again only after it changes (a refund, a late payment).
    reconciled_version: Mapped[int | None]
    # Where the buyer returns after paying; kept so that a released hold gets its pay link.
    return_path: Mapped[str | None] = mapped_column(String(500))


class PaymentNotification(Base):
    """Every notification received. Only accepted ones keep their ``notify_id`` (unique), so a
    forged or rejected one can never make the real one look like a duplicate."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    notify_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    out_trade_no: Mapped[str | None] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    verified: Mapped[bool]
    outcome: Mapped[str] = mapped_column(Text)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(_in("status", REFUND_STATUSES), name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    request_no: Mapped[str] = mapped_column(String(64), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class ReconciliationRun(Base):
    """One reconciliation pass over a window of payments."""

    __tablename__ = "payment_reconciliation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    window_start: Mapped[datetime]
    payments_checked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    new_findings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReconciliationFinding(Base):
    """A discrepancy, stored once: ``key`` (kind, reference, request number) is unique, so
    finding it again in a later run adds nothing."""

    __tablename__ = "payment_reconciliation_findings"
    __table_args__ = (CheckConstraint(_in("kind", FINDING_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("payment_reconciliation_runs.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(64), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    expected_fen: Mapped[int | None] = mapped_column(BigInteger)
    actual_fen: Mapped[int | None] = mapped_column(BigInteger)
    # "open" for a person to look at; "recovered" when reconciliation applied the payment.
    resolution: Mapped[str] = mapped_column(String(20))
    found_at: Mapped[datetime]
