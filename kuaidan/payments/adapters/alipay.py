"""The Alipay open-platform adapter: page pay, async notifications, query, refund, close.

The protocol as Alipay documents it (no SDK: docs/decisions/005-alipay-adapter.md). Every call
goes to one gateway (``.../gateway.do``) with the common parameters ``app_id, method,
format=JSON, charset=utf-8, sign_type=RSA2, timestamp, version=1.0, biz_content`` signed with
the app's private key over the sorted ``k=v&…`` string. An API answer is
``{"alipay_trade_query_response": {...}, "sign": "..."}`` whose signature covers the exact raw
JSON text of the ``*_response`` value. Notifications and browser returns are verified with
Alipay's public key over every parameter but ``sign`` and ``sign_type``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from kuaidan.core import signing
from kuaidan.core.clock import utcnow
from kuaidan.core.errors import InvalidInput
from kuaidan.payments.domain import (
    CloseResult,
    Notification,
    ProviderError,
    RefundCheck,
    RefundResult,
    ReturnInfo,
    SignatureInvalid,
    TradeState,
    TradeStatus,
    fen_to_yuan,
    yuan_to_fen,
)

PRODUCTION_GATEWAY = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
SUCCESS_CODE = "10000"
UNAVAILABLE_CODE = "20000"
BUSINESS_FAILURE_CODE = "40004"
# What Alipay appends to the return URL; anything else there is ours (e.g. ``next``).
RETURN_KEYS = frozenset(
    {
        "out_trade_no",
        "trade_no",
        "total_amount",
        "app_id",
        "auth_app_id",
        "seller_id",
        "method",
        "charset",
        "version",
        "timestamp",
        "sign_type",
        "sign",
    }
)
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class AlipayConfig:
    gateway_url: str
    app_id: str
    app_private_key: Path  # the app's RSA private key (PEM), uploaded half registered at Alipay
    alipay_public_key: Path  # Alipay's RSA public key (PEM) from the open-platform console
    ca_file: Path | None = None  # None: the system trust store
    seller_id: str | None = None  # the merchant's Alipay user id (2088…); checked when set
    timeout_minutes: int = 15
    http_timeout_s: float = 10.0
    # Generate a test app key pair here on first use (only when no key was configured).
    generate_app_key_with_public: Path | None = None


def raw_response(text: str, key: str) -> tuple[str, Any] | None:
    """The exact raw JSON text of ``key``'s value in the answer, and that value parsed.

    Alipay signs the bytes it sent, so the text is cut out of the body, never re-serialised.
    """
    needle = f'"{key}"'
    start = text.find(needle)
    while start != -1:
        index = start + len(needle)
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        if index < len(text) and text[index] == ":":
            index += 1
            while index < len(text) and text[index] in " \t\r\n":
                index += 1
            try:
                value, end = _DECODER.raw_decode(text, index)
            except ValueError:
                return None
            return text[index:end], value
        start = text.find(needle, start + 1)
    return None


def _required(params: Mapping[str, str], key: str) -> str:
    value = params.get(key)
    if not value:
        raise SignatureInvalid(f"Alipay's message has no {key}")
    return value


def _verified_notification(params: Mapping[str, str], public_key: bytes) -> Notification:
    """The notification's facts; SignatureInvalid when it is not genuine or not readable.

    The signature is checked first, with Alipay's public key; only then are the fields read.
    """
    if not signing.verify_params(params, public_key, exclude=signing.NOTIFY_EXCLUDE):
        raise SignatureInvalid("the notification's signature does not verify")
    try:
        paid = params.get("gmt_payment")
        return Notification(
            notify_id=_required(params, "notify_id"),
            out_trade_no=_required(params, "out_trade_no"),
            trade_no=_required(params, "trade_no"),
            trade_status=TradeState(_required(params, "trade_status")),
            amount_fen=yuan_to_fen(_required(params, "total_amount")),
            app_id=_required(params, "app_id"),
            paid_at=signing.parse_protocol_time(paid) if paid else None,
            sent_at=signing.parse_protocol_time(_required(params, "notify_time")),
        )
    except (ValueError, InvalidInput) as exc:
        raise SignatureInvalid(f"a signed notification we cannot read: {exc}") from exc


def _verified_return(own: Mapping[str, str], public_key: bytes) -> ReturnInfo:
    """The browser return's facts from Alipay's own parameters (``own``)."""
    if not signing.verify_params(own, public_key, exclude=signing.NOTIFY_EXCLUDE):
        raise SignatureInvalid("the return's signature does not verify")
    try:
        amount_fen = yuan_to_fen(_required(own, "total_amount"))
    except InvalidInput as exc:
        raise SignatureInvalid(f"a signed return we cannot read: {exc}") from exc
    return ReturnInfo(
        out_trade_no=_required(own, "out_trade_no"),
        trade_no=_required(own, "trade_no"),
        amount_fen=amount_fen,
        app_id=_required(own, "app_id"),
    )


class AlipayProvider:
    """Implements ``PaymentProvider`` against the Alipay open-platform gateway."""

    name = "alipay"
    currency = "CNY"

    def __init__(self, config: AlipayConfig) -> None:
        self.config = config
        self.app_id = config.app_id

    # --- keys ----------------------------------------------------------------------------

    def _app_private_key(self) -> bytes:
        public = self.config.generate_app_key_with_public
        if public is not None:
            signing.ensure_key_pair(self.config.app_private_key, public)
        try:
            return self.config.app_private_key.read_bytes()
        except OSError as exc:
            raise ProviderError("the Alipay app private key is not available") from exc

    def _alipay_public_key(self) -> bytes:
        try:
            return self.config.alipay_public_key.read_bytes()
        except OSError as exc:
            raise ProviderError("the Alipay public key is not available") from exc

    # --- requests --------------------------------------------------------------------------

    def common_params(self, method: str, biz: Mapping[str, Any], now: datetime) -> dict[str, str]:
        """The common request parameters (unsigned) around ``biz_content``."""
        return {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": signing.SIGN_TYPE,
            "timestamp": signing.format_protocol_time(now),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }

    def signed(self, params: Mapping[str, str]) -> dict[str, str]:
        signed = dict(params)
        signed["sign"] = signing.sign_params(signed, self._app_private_key())
        return signed

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
        expires = now + timedelta(minutes=self.config.timeout_minutes)
        biz = {
            "out_trade_no": reference,
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "total_amount": fen_to_yuan(amount_fen),
            "subject": subject,
            "time_expire": signing.format_protocol_time(expires),
        }
        params = self.common_params("alipay.trade.page.pay", biz, now)
        params.update(notify_url=notify_url, return_url=return_url)
        return f"{self.config.gateway_url}?{urlencode(self.signed(params))}"

    # --- what Alipay sends us ------------------------------------------------------------

    def verify_notification(self, params: Mapping[str, str]) -> Notification:
        notification = _verified_notification(params, self._alipay_public_key())
        seller = self.config.seller_id
        if seller and params.get("seller_id") != seller:
            raise SignatureInvalid("the notification is for another seller_id")
        return notification

    def verify_return(self, params: Mapping[str, str]) -> ReturnInfo:
        own = {key: value for key, value in params.items() if key in RETURN_KEYS}
        info = _verified_return(own, self._alipay_public_key())
        if own.get("method") != "alipay.trade.page.pay.return":
            raise SignatureInvalid("not a page pay return")
        return info

    # --- calls to Alipay -------------------------------------------------------------------

    async def call(self, method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
        """POST a signed call; returns the verified ``*_response`` object."""
        params = self.signed(self.common_params(method, biz, utcnow()))
        context = signing.client_context(self.config.ca_file)
        try:
            async with httpx.AsyncClient(
                verify=context, timeout=self.config.http_timeout_s
            ) as client:
                answer = await client.post(
                    self.config.gateway_url, params={"charset": "utf-8"}, data=params
                )
        except httpx.HTTPError as exc:
            raise ProviderError(f"Alipay is unreachable: {exc!r}") from exc
        return self.verified_response(method, answer.text, status=answer.status_code)

    def verified_response(self, method: str, body: str, *, status: int = 200) -> dict[str, Any]:
        key = method.replace(".", "_") + "_response"
        found = raw_response(body, key)
        if found is None:
            error = raw_response(body, "error_response")
            detail = error[1] if error else body[:200]
            raise ProviderError(f"Alipay refused the call ({status}): {detail}")
        raw, response = found
        sign = raw_response(body, "sign")
        signature = sign[1] if sign and isinstance(sign[1], str) else None
        if not isinstance(response, dict) or not signing.verify_bytes(
            raw.encode("utf-8"), signature, self._alipay_public_key()
        ):
            raise ProviderError("the answer is not signed by Alipay")
        if response.get("code") == UNAVAILABLE_CODE:
            raise ProviderError(f"{method}: Alipay is unavailable, try again later")
        return response

    async def query(self, reference: str) -> TradeStatus:
        response = await self.call("alipay.trade.query", {"out_trade_no": reference})
        if response.get("code") != SUCCESS_CODE:
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return TradeStatus(reference=reference, state=TradeState.NOT_EXIST)
            raise ProviderError(f"alipay.trade.query failed: {_failure(response)}")
        paid = response.get("send_pay_date")
        return TradeStatus(
            reference=reference,
            state=TradeState(response["trade_status"]),
            trade_no=response.get("trade_no") or None,
            amount_fen=yuan_to_fen(str(response["total_amount"])),
            paid_at=signing.parse_protocol_time(paid) if paid else None,
        )

    async def refund(
        self, *, reference: str, amount_fen: int, request_no: str, reason: str
    ) -> RefundResult:
        biz = {
            "out_trade_no": reference,
            "refund_amount": fen_to_yuan(amount_fen),
            "out_request_no": request_no,
            "refund_reason": reason,
        }
        response = await self.call("alipay.trade.refund", biz)
        if response.get("code") == SUCCESS_CODE:
            total = yuan_to_fen(str(response["refund_fee"]))
            return RefundResult(succeeded=True, refunded_total_fen=total)
        if response.get("code") == BUSINESS_FAILURE_CODE:
            return RefundResult(succeeded=False, error=_failure(response))
        raise ProviderError(f"alipay.trade.refund failed: {_failure(response)}")

    async def query_refund(self, *, reference: str, request_no: str) -> RefundCheck:
        biz = {"out_trade_no": reference, "out_request_no": request_no}
        response = await self.call("alipay.trade.fastpay.refund.query", biz)
        if response.get("code") != SUCCESS_CODE:
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return RefundCheck(request_no=request_no, found=False)
            raise ProviderError(f"refund query failed: {_failure(response)}")
        # Alipay answers 10000 without ``refund_amount`` for a request it never refunded.
        amount = response.get("refund_amount")
        if not amount or response.get("refund_status", "REFUND_SUCCESS") != "REFUND_SUCCESS":
            return RefundCheck(request_no=request_no, found=False)
        return RefundCheck(request_no=request_no, found=True, amount_fen=yuan_to_fen(str(amount)))

    async def close(self, reference: str) -> CloseResult:
        response = await self.call("alipay.trade.close", {"out_trade_no": reference})
        if response.get("code") == SUCCESS_CODE:
            return CloseResult(closed=True)
        if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            # Never opened by the buyer: nothing to close; the link expires at time_expire.
            return CloseResult(closed=True)
        if response.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            status = await self.query(reference)
            if status.state.is_paid:
                return CloseResult(closed=False, paid=status)
            return CloseResult(closed=status.state == TradeState.TRADE_CLOSED)
        raise ProviderError(f"alipay.trade.close failed: {_failure(response)}")


def _failure(response: Mapping[str, Any]) -> str:
    return f"{response.get('code')} {response.get('sub_code')}: {response.get('sub_msg')}"
