"""Response models of the payments JSON API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from kuaidan.payments.domain import PaymentStatus


class PaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reference: str
    provider: str
    amount_fen: int
    currency: str
    status: PaymentStatus
    subject: str
    provider_trade_no: str | None
    created_at: datetime
    paid_at: datetime | None
    refunded_fen: int
