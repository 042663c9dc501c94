"""Risk tables: the rules and listed networks, every payment attempt with its decision (and
its hold and one-time code), devices first seen, accounts per device or IP, amounts paid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base

ACTIONS = ("allow", "verify", "hold", "block")
ATTEMPT_STATUSES = ("allowed", "held", "verified", "approved", "rejected", "expired", "blocked")


def _in(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values))


class RiskRule(Base):
    __tablename__ = "risk_rules"
    __table_args__ = (
        CheckConstraint(_in("action", ACTIONS), name="action"),
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    score: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(Integer)


class RiskListedNetwork(Base):
    __tablename__ = "risk_listed_networks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cidr: Mapped[str] = mapped_column(String(50), unique=True)
    note: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(Integer)


class RiskAttempt(Base):
    """One payment attempt: its context, decision and, when held, the case and its code.

    The one-time code is kept only as a keyed hash (``code_hash``), never in clear.
    """

    __tablename__ = "risk_attempts"
    __table_args__ = (
        CheckConstraint(_in("action", ACTIONS), name="action"),
        CheckConstraint(_in("status", ATTEMPT_STATUSES), name="status"),
        Index("ix_risk_attempts_buyer_at", "buyer_id", "created_at"),
        Index("ix_risk_attempts_device_at", "device_id", "created_at"),
        Index("ix_risk_attempts_ip_at", "ip", "created_at"),
        Index("ix_risk_attempts_status_expiry", "status", "hold_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    buyer_id: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    device_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    hold_expires_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None]
    codes_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    wrong_codes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RiskDevice(Base):
    __tablename__ = "risk_devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class RiskLink(Base):
    """An account seen on a device or an IP address (``kind`` is ``device`` or ``ip``)."""

    __tablename__ = "risk_links"
    __table_args__ = (
        UniqueConstraint("kind", "value", "buyer_id"),
        Index("ix_risk_links_value_seen", "kind", "value", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(64))
    buyer_id: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class RiskPaidAmount(Base):
    """A successful payment's amount (fed by ``payment.succeeded``): the buyer's history."""

    __tablename__ = "risk_paid_amounts"
    __table_args__ = (Index("ix_risk_paid_amounts_buyer_at", "buyer_id", "paid_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    buyer_id: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime]
