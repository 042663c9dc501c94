"""Response models of the payments JSON API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from kuaidan.core.fields import RequestBody, ResponseBody
from kuaidan.payments.domain import PaymentStatus


class PaymentRead(ResponseBody):
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


class VerifyRequest(RequestBody):
    code: str = Field(pattern=r"^[0-9]{6}$", description="The six-digit code sent to the buyer.")


class VerifyResult(BaseModel):
    reference: str
    status: PaymentStatus
    pay_url: str | None = Field(description="Where to pay now that the hold is released.")


class CodeSent(BaseModel):
    reference: str
    expires_at: datetime
