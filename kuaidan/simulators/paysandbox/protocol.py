"""The provider's side of the protocol: checking the merchant's signed requests and signing
what goes back (browser returns, notifications, API answers).

The sandbox is an outside party, so it has its own amount parser and its own idea of a trade;
it shares only the signing helpers of ``kuaidan.core.signing`` with the merchant side.
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
from kuaidan.simulators.paysandbox.store import Trade

PROVIDER_PRIVATE_KEY = "provider-private.pem"
PROVIDER_PUBLIC_KEY = "provider-public.pem"
_YUAN = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")
_TIMEOUT = re.compile(r"^([1-9][0-9]{0,3})([mhd])$")
_OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_SUBJECT = 256


class ProtocolError(Exception):
    """A request the provider refuses: ``code``/``sub_code`` as in the provider's answers."""

    def __init__(self, sub_code: str, message: str, *, code: str = "40004") -> None:
        super().__init__(message)
        self.code, self.sub_code, self.message = code, sub_code, message


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything the sandbox needs, taken from kuaidan's settings by ``server.py``."""

    data_dir: Path  # the sandbox's own files
    app_id: str
    app_public_key: Path  # the merchant app's key, written by kuaidan
    notify_ca: Path  # to verify the merchant's HTTPS certificate
    notify_delays_s: tuple[float, ...]
    test_hooks: bool
    host: str
    port: int

    @property
    def private_key_file(self) -> Path:
        return self.data_dir / PROVIDER_PRIVATE_KEY

    @property
    def public_key_file(self) -> Path:
        return self.data_dir / PROVIDER_PUBLIC_KEY


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


def verify_request(
    params: Mapping[str, str], config: SandboxConfig, *, method: str | None = None
) -> dict[str, Any]:
    """Check app, sign type and signature of a merchant request; returns its biz_content."""
    if params.get("app_id") != config.app_id:
        raise ProtocolError("isv.invalid-app-id", "unknown app_id", code="40002")
    if params.get("sign_type") != signing.SIGN_TYPE:
        raise ProtocolError("isv.invalid-signature-type", "sign_type must be RSA2", code="40002")
    if method is not None and params.get("method") != method:
        raise ProtocolError("isv.invalid-method", f"method must be {method}", code="40002")
    try:
        app_key = config.app_public_key.read_bytes()
    except OSError as exc:
        raise ProtocolError(
            "isv.missing-app-key", "no public key for this app", code="40002"
        ) from exc
    if not signing.verify_params(params, app_key):
        raise ProtocolError("isv.invalid-signature", "the signature does not verify", code="40002")
    try:
        biz = json.loads(params.get("biz_content") or "")
    except ValueError as exc:
        raise ProtocolError(
            "isv.invalid-biz-content", "biz_content is not JSON", code="40002"
        ) from exc
    if not isinstance(biz, dict):
        raise ProtocolError("isv.invalid-biz-content", "biz_content is not an object", code="40002")
    return biz


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


def signed_return_url(trade: Trade, config: SandboxConfig, *, now: datetime) -> str:
    """Where the buyer's browser goes after paying: the return URL plus signed facts."""
    params = {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "total_amount": fen_to_yuan(trade.total_fen),
        "app_id": trade.app_id,
        "timestamp": signing.format_protocol_time(now),
        "sign_type": signing.SIGN_TYPE,
    }
    params["sign"] = signing.sign_params(
        params, config.private_key_file.read_bytes(), exclude=signing.NOTIFY_EXCLUDE
    )
    joiner = "&" if "?" in trade.return_url else "?"
    return f"{trade.return_url}{joiner}{urlencode(params)}"


def notification(
    trade: Trade, config: SandboxConfig, *, notify_id: str, now: datetime
) -> dict[str, str]:
    """The asynchronous notification's form fields, signed."""
    paid = datetime.fromisoformat(trade.gmt_payment) if trade.gmt_payment else now
    params = {
        "notify_id": notify_id,
        "notify_time": signing.format_protocol_time(now),
        "notify_type": "trade_status_sync",
        "trade_status": trade.status,
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "total_amount": fen_to_yuan(trade.total_fen),
        "app_id": trade.app_id,
        "gmt_payment": signing.format_protocol_time(paid),
        "sign_type": signing.SIGN_TYPE,
    }
    params["sign"] = signing.sign_params(
        params, config.private_key_file.read_bytes(), exclude=signing.NOTIFY_EXCLUDE
    )
    return params


def trade_fields(trade: Trade) -> dict[str, str]:
    fields = {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "trade_status": trade.status,
        "total_amount": fen_to_yuan(trade.total_fen),
        "refund_amount": fen_to_yuan(trade.refunded_fen),
    }
    if trade.gmt_payment:
        paid = datetime.fromisoformat(trade.gmt_payment)
        fields["send_pay_date"] = signing.format_protocol_time(paid)
    return fields


def signed_answer(response: Mapping[str, Any], config: SandboxConfig) -> dict[str, Any]:
    """An API answer: ``{"response": …, "sign": …}`` signed over the response's canonical JSON."""
    data = signing.canonical_json(response).encode("utf-8")
    return {
        "response": dict(response),
        "sign": signing.sign_bytes(data, config.private_key_file.read_bytes()),
    }


def success(**fields: str) -> dict[str, str]:
    return {"code": "10000", "msg": "Success", **fields}


def failure(error: ProtocolError) -> dict[str, str]:
    msg = "Business Failed" if error.code == "40004" else "Invalid Arguments"
    return {"code": error.code, "msg": msg, "sub_code": error.sub_code, "sub_msg": error.message}
