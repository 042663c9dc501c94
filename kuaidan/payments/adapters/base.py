"""The interface every payment provider adapter implements.

Page pay is a locally signed redirect URL (no outside call), and checking a notification or a
browser return only verifies signatures, so those are plain methods that may run inside a
transaction. ``query``, ``refund`` and ``close`` call the provider: never with a transaction open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from kuaidan.payments.domain import (
    CloseResult,
    Notification,
    RefundCheck,
    RefundResult,
    ReturnInfo,
    TradeStatus,
)


class PaymentProvider(Protocol):
    name: str
    app_id: str
    currency: str

    def page_pay_url(
        self,
        *,
        reference: str,
        amount_fen: int,
        subject: str,
        notify_url: str,
        return_url: str,
        now: datetime,
    ) -> str:
        """Where to send the buyer's browser to pay; signed, built without calling out."""
        ...

    def verify_notification(self, params: Mapping[str, str]) -> Notification:
        """The notification's facts; raises ``SignatureInvalid`` when it is not genuine."""
        ...

    def verify_return(self, params: Mapping[str, str]) -> ReturnInfo:
        """The browser return's facts; raises ``SignatureInvalid`` when it is not genuine."""
        ...

    async def query(self, reference: str) -> TradeStatus: ...

    async def refund(
        self, *, reference: str, amount_fen: int, request_no: str, reason: str
    ) -> RefundResult:
        """Idempotent per ``request_no``; a refusal is a result, an outage an exception."""
        ...

    async def query_refund(self, *, reference: str, request_no: str) -> RefundCheck:
        """Whether the provider refunded ``request_no`` of the trade, and how much."""
        ...

    async def close(self, reference: str) -> CloseResult: ...
