"""Alipay's side of the open-platform protocol: checking the app's signed requests and signing
what goes back (API answers over their raw JSON text, browser returns, notifications).

The wire format follows Alipay's documentation: one ``/gateway.do``, ``alipay.trade.*`` method
names, answers shaped ``{"<method>_response": {...}, "sign": "..."}``. The gateway is an outside
party, so it has its own amount parser and its own idea of a trade; it shares only the signing
helpers of ``kuaidan.core.signing`` with the merchant side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from kuaidan.core import signing
from kuaidan.simulators.alipaygw.store import Trade

ALIPAY_PRIVATE_KEY = "alipay-private.pem"
ALIPAY_PUBLIC_KEY = "alipay-public.pem"
BUYER_ID = "2088000000000001"
MAX_FORM_FIELDS = 30
MAX_SUBJECT = 256
_YUAN = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")
_TIMEOUT = re.compile(r"^([1-9][0-9]{0,3})([mhd])$")
_OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class ProtocolError(Exception):
    """A request the gateway refuses: ``code``/``sub_code`` as in Alipay's answers."""

    def __init__(self, sub_code: str, message: str, *, code: str = "40004") -> None:
        super().__init__(message)
        self.code, self.sub_code, self.message = code, sub_code, message


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the gateway needs, taken from kuaidan's settings by ``server.py``."""

    data_dir: Path  # the gateway's own files: keys, certificate, trades
    app_id: str
    seller_id: str
    app_public_key: Path  # the merchant app's public key, registered with "Alipay"
    notify_ca: Path  # to verify the merchant's HTTPS certificate
    notify_delays_s: tuple[float, ...]
    test_hooks: bool
    host: str
    port: int

    @property
    def private_key_file(self) -> Path:
        return self.data_dir / ALIPAY_PRIVATE_KEY

    @property
    def public_key_file(self) -> Path:
        return self.data_dir / ALIPAY_PUBLIC_KEY


def yuan_to_fen(text: object) -> int:
    if not isinstance(text, str) or not _YUAN.match(text):
        raise ProtocolError("ACQ.INVALID_PARAMETER", f"bad amount {text!r}", code="40002")
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def fen_to_yuan(fen: int) -> str:
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


def timeout_of(text: object) -> timedelta:
    """``15m``, ``2h``, ``1d``; anything else means the default of 15 minutes."""
    match = _TIMEOUT.match(text) if isinstance(text, str) else None
    if not match:
        return timedelta(minutes=15)
    value, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=value), "h": timedelta(hours=value)}.get(
        unit, timedelta(days=value)
    )


def out_trade_no_of(biz: Mapping[str, Any]) -> str:
    value = biz.get("out_trade_no")
    if not isinstance(value, str) or not _OUT_TRADE_NO.match(value):
        raise ProtocolError("ACQ.INVALID_PARAMETER", "bad out_trade_no", code="40002")
    return value


def https_url(value: object, name: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme != "https" or len(value) > 1000:
        raise ProtocolError("ACQ.INVALID_PARAMETER", f"{name} must be an https URL", code="40002")
    return value


def subject_of(biz: Mapping[str, Any]) -> str:
    subject = biz.get("subject")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT:
        raise ProtocolError("ACQ.INVALID_PARAMETER", "bad subject", code="40002")
    return subject


def verify_request(params: Mapping[str, str], config: GatewayConfig) -> dict[str, Any]:
    """Check the common parameters and the app's RSA2 signature; returns ``biz_content``."""
    if params.get("app_id") != config.app_id:
        raise ProtocolError("isv.invalid-app-id", "无效的AppID参数", code="40002")
    if params.get("sign_type") != signing.SIGN_TYPE:
        raise ProtocolError("isv.invalid-signature-type", "sign_type must be RSA2", code="40002")
    if params.get("charset", "utf-8").lower() != "utf-8" or params.get("version") != "1.0":
        raise ProtocolError("isv.invalid-parameter", "charset utf-8, version 1.0", code="40002")
    if not params.get("timestamp"):
        raise ProtocolError("isv.missing-timestamp", "缺少时间戳参数", code="40002")
    try:
        app_key = config.app_public_key.read_bytes()
    except OSError as exc:
        raise ProtocolError(
            "isv.missing-app-key", "no public key for the app", code="40002"
        ) from exc
    if not signing.verify_params(params, app_key):
        raise ProtocolError("isv.invalid-signature", "验签出错", code="40002")
    try:
        biz = json.loads(params.get("biz_content") or "")
    except ValueError as exc:
        raise ProtocolError(
            "isv.invalid-biz-content", "biz_content is not JSON", code="40002"
        ) from exc
    if not isinstance(biz, dict):
        raise ProtocolError("isv.invalid-biz-content", "biz_content is not an object", code="40002")
    return biz


def signed_answer(method: str | None, response: Mapping[str, Any], config: GatewayConfig) -> str:
    """The answer body: the response's JSON text as sent, and a signature over that text."""
    key = f"{method.replace('.', '_')}_response" if method else "error_response"
    raw = json.dumps(dict(response), ensure_ascii=False, separators=(",", ":"))
    sign = signing.sign_bytes(raw.encode("utf-8"), config.private_key_file.read_bytes())
    return f'{{"{key}":{raw},"sign":{json.dumps(sign)}}}'


def success(**fields: str) -> dict[str, str]:
    return {"code": "10000", "msg": "Success", **fields}


def failure(error: ProtocolError) -> dict[str, str]:
    messages = {
        "40004": "Business Failed",
        "40002": "Invalid Arguments",
        "20000": "Service Currently Unavailable",
    }
    return {
        "code": error.code,
        "msg": messages.get(error.code, "Failed"),
        "sub_code": error.sub_code,
        "sub_msg": error.message,
    }


def _signed(params: dict[str, str], config: GatewayConfig) -> dict[str, str]:
    params["sign_type"] = signing.SIGN_TYPE
    params["sign"] = signing.sign_params(
        params, config.private_key_file.read_bytes(), exclude=signing.NOTIFY_EXCLUDE
    )
    return params


def signed_return_url(trade: Trade, config: GatewayConfig, *, now: datetime) -> str:
    """The synchronous return: the buyer's browser goes to ``return_url`` with signed facts."""
    params = _signed(
        {
            "charset": "utf-8",
            "out_trade_no": trade.out_trade_no,
            "method": "alipay.trade.page.pay.return",
            "total_amount": fen_to_yuan(trade.total_fen),
            "trade_no": trade.trade_no,
            "auth_app_id": trade.app_id,
            "version": "1.0",
            "app_id": trade.app_id,
            "seller_id": config.seller_id,
            "timestamp": signing.format_protocol_time(now),
        },
        config,
    )
    joiner = "&" if "?" in trade.return_url else "?"
    return f"{trade.return_url}{joiner}{urlencode(params)}"


def notification(
    trade: Trade, config: GatewayConfig, *, notify_id: str, now: datetime
) -> dict[str, str]:
    """The asynchronous notification's form fields, signed with Alipay's key."""
    created = datetime.fromisoformat(trade.created_at)
    paid = datetime.fromisoformat(trade.gmt_payment) if trade.gmt_payment else None
    amount = fen_to_yuan(trade.total_fen)
    params = {
        "notify_time": signing.format_protocol_time(now),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "charset": "utf-8",
        "version": "1.0",
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_id": BUYER_ID,
        "seller_id": config.seller_id,
        "trade_status": trade.status,
        "total_amount": amount,
        "receipt_amount": amount,
        "buyer_pay_amount": amount,
        "subject": trade.subject,
        "gmt_create": signing.format_protocol_time(created),
    }
    if paid is not None:
        params["gmt_payment"] = signing.format_protocol_time(paid)
    return _signed(params, config)


def trade_fields(trade: Trade) -> dict[str, str]:
    """``alipay.trade.query``'s answer fields for a trade."""
    fields = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": "kd***@example.com",
        "trade_status": trade.status,
        "total_amount": fen_to_yuan(trade.total_fen),
        "buyer_pay_amount": fen_to_yuan(trade.total_fen) if trade.gmt_payment else "0.00",
        "buyer_user_id": BUYER_ID,
    }
    if trade.gmt_payment:
        paid = datetime.fromisoformat(trade.gmt_payment)
        fields["send_pay_date"] = signing.format_protocol_time(paid)
    return fields
