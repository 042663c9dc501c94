"""merchants tables: merchant profiles and their webhook endpoints and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base


class Merchant(Base):
    """A shop on the marketplace; ``credit_score`` later drives its exposure."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        CheckConstraint("credit_score >= 0", name="credit_score_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    logo_path: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    credit_score: Mapped[int] = mapped_column(default=100, server_default="100")
    created_at: Mapped[datetime]
    # Where parcels leave from: a province and a city as logistics' geo names them (浙江/杭州).
    ship_from_province: Mapped[str | None] = mapped_column(String(10))
    ship_from_city: Mapped[str | None] = mapped_column(String(50))
    # Opt-in: book the best carrier as soon as an order is paid.
    auto_book_carrier: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Where returned parcels go (退货地址): personal parts encrypted, the place in clear as
    # logistics names it. All empty until the shop sets one.
    return_recipient_enc: Mapped[str | None] = mapped_column(Text)
    return_phone_enc: Mapped[str | None] = mapped_column(Text)
    return_line_enc: Mapped[str | None] = mapped_column(Text)
    return_province: Mapped[str | None] = mapped_column(String(10))
    return_city: Mapped[str | None] = mapped_column(String(50))


class WebhookEndpoint(Base):
    """A merchant's URL that receives signed order events; the secret is stored encrypted."""

    __tablename__ = "merchant_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_enc: Mapped[str] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint; sent (and retried) by the worker."""

    __tablename__ = "merchant_webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("merchant_webhooks.id"), index=True)
    event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        UniqueConstraint("endpoint_id", "event_id"),
    )
