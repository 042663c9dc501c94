"""The sandbox provider's adapter: Alipay-style RSA2-signed page pay, notifications and API.

kuaidan signs with its app key (generated into the data dir on first use, private 0600) and
verifies the provider with the provider's public key. API calls go over HTTPS with httpx,
verifying the sandbox's certificate against the configured CA file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from kuaidan.core import signing
from kuaidan.core.clock import utcnow
from kuaidan.payments.adapters._signed import verified_notification, verified_return
from kuaidan.payments.domain import (
    CloseResult,
    Notification,
    ProviderError,
    RefundCheck,
    RefundResult,
    ReturnInfo,
    TradeState,
    TradeStatus,
    fen_to_yuan,
    yuan_to_fen,
)

APP_PRIVATE_KEY_FILE = "pay-app-private.pem"
APP_PUBLIC_KEY_FILE = "pay-app-public.pem"
# What the provider appends to the return URL; anything else there is ours (e.g. ``next``).
RETURN_KEYS = frozenset(
    {"out_trade_no", "trade_no", "total_amount", "app_id", "timestamp", "sign_type", "sign"}
)
SUCCESS_CODE = "10000"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    base_url: str
    app_id: str
    ca_file: Path
    provider_public_key: Path
    data_dir: Path
    timeout_minutes: int = 15
    http_timeout_s: float = 10.0


class SandboxProvider:
    """Implements ``PaymentProvider`` against the sandbox service."""

    name = "sandbox"
    currency = "CNY"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.app_id = config.app_id

    # --- keys ----------------------------------------------------------------------------

    def _app_private_key(self) -> bytes:
        private = self.config.data_dir / APP_PRIVATE_KEY_FILE
        signing.ensure_key_pair(private, self.config.data_dir / APP_PUBLIC_KEY_FILE)
        return private.read_bytes()

    def _provider_public_key(self) -> bytes:
        try:
            return self.config.provider_public_key.read_bytes()
        except OSError as exc:
            raise ProviderError("the payment provider's public key is not available") from exc

    def _signed(self, method: str, biz: Mapping[str, Any], now: datetime) -> dict[str, str]:
        return {
            "app_id": self.app_id,
            "method": method,
            "charset": "utf-8",
            "sign_type": signing.SIGN_TYPE,
            "timestamp": signing.format_protocol_time(now),
            "version": "1.0",
            "biz_content": signing.canonical_json(biz),
        }

    # --- local, signature-only steps ----------------------------------------------------

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
        biz = {
            "out_trade_no": reference,
            "total_amount": fen_to_yuan(amount_fen),
            "subject": subject,
            "timeout_express": f"{self.config.timeout_minutes}m",
            "product_code": "FAST_INSTANT_TRADE_PAY",
        }
        params = self._signed("trade.page.pay", biz, now)
        params.update(notify_url=notify_url, return_url=return_url)
        params["sign"] = signing.sign_params(params, self._app_private_key())
        return f"{self.config.base_url.rstrip('/')}/gateway?{urlencode(params)}"

    def verify_notification(self, params: Mapping[str, str]) -> Notification:
        return verified_notification(params, self._provider_public_key())

    def verify_return(self, params: Mapping[str, str]) -> ReturnInfo:
        own = {key: value for key, value in params.items() if key in RETURN_KEYS}
        return verified_return(own, self._provider_public_key())

    # --- calls to the provider -----------------------------------------------------------

    async def _call(self, method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
        """POST a signed API call; returns the verified ``response`` object."""
        params = self._signed(method, biz, utcnow())
        params["sign"] = signing.sign_params(params, self._app_private_key())
        context = signing.client_context(self.config.ca_file)
        url = f"{self.config.base_url.rstrip('/')}/api"
        try:
            async with httpx.AsyncClient(
                verify=context, timeout=self.config.http_timeout_s
            ) as client:
                answer = await client.post(url, data=params)
        except httpx.HTTPError as exc:
            raise ProviderError(f"the payment provider is unreachable: {exc!r}") from exc
        return self._verified_response(answer)

    def _verified_response(self, answer: httpx.Response) -> dict[str, Any]:
        try:
            body = answer.json()
            response, sign = body["response"], body["sign"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"unreadable provider answer ({answer.status_code})") from exc
        data = signing.canonical_json(response).encode("utf-8")
        if not isinstance(response, dict) or not signing.verify_bytes(
            data, sign, self._provider_public_key()
        ):
            raise ProviderError("the provider's answer is not signed by the provider")
        return response

    async def query(self, reference: str) -> TradeStatus:
        response = await self._call("trade.query", {"out_trade_no": reference})
        if response.get("code") != SUCCESS_CODE:
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return TradeStatus(reference=reference, state=TradeState.NOT_EXIST)
            raise ProviderError(f"trade.query failed: {response.get('sub_msg') or response}")
        return _trade_status(reference, response)

    async def refund(
        self, *, reference: str, amount_fen: int, request_no: str, reason: str
    ) -> RefundResult:
        biz = {
            "out_trade_no": reference,
            "refund_amount": fen_to_yuan(amount_fen),
            "out_request_no": request_no,
            "refund_reason": reason,
        }
        response = await self._call("trade.refund", biz)
        if response.get("code") == SUCCESS_CODE:
            return RefundResult(
                succeeded=True, refunded_total_fen=yuan_to_fen(str(response["refund_fee"]))
            )
        if str(response.get("code", "")).startswith("40004"):
            error = f"{response.get('sub_code')}: {response.get('sub_msg')}"
            return RefundResult(succeeded=False, error=error)
        raise ProviderError(f"trade.refund failed: {response}")

    async def query_refund(self, *, reference: str, request_no: str) -> RefundCheck:
        biz = {"out_trade_no": reference, "out_request_no": request_no}
        response = await self._call("trade.refund.query", biz)
        if response.get("code") != SUCCESS_CODE:
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return RefundCheck(request_no=request_no, found=False)
            raise ProviderError(f"trade.refund.query failed: {response}")
        amount = response.get("refund_amount")
        if not amount:
            return RefundCheck(request_no=request_no, found=False)
        return RefundCheck(request_no=request_no, found=True, amount_fen=yuan_to_fen(str(amount)))

    async def close(self, reference: str) -> CloseResult:
        response = await self._call("trade.close", {"out_trade_no": reference})
        if response.get("code") == SUCCESS_CODE:
            return CloseResult(closed=True)
        if response.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            status = await self.query(reference)
            if status.state.is_paid:
                return CloseResult(closed=False, paid=status)
            return CloseResult(closed=status.state == TradeState.TRADE_CLOSED)
        raise ProviderError(f"trade.close failed: {response}")


def _trade_status(reference: str, response: Mapping[str, Any]) -> TradeStatus:
    paid = response.get("send_pay_date")
    return TradeStatus(
        reference=reference,
        state=TradeState(response["trade_status"]),
        trade_no=response.get("trade_no") or None,
        amount_fen=yuan_to_fen(str(response["total_amount"])),
        paid_at=signing.parse_protocol_time(paid) if paid else None,
        refunded_fen=yuan_to_fen(str(response.get("refund_amount") or "0")),
    )
