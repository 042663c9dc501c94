"""Reading the signed messages both providers send in the same Alipay-style shape: the async
notification (a form POST) and the browser return (query parameters). The signature is
checked first, with the provider's public key; only then are the fields read."""

from __future__ import annotations

from collections.abc import Mapping

from kuaidan.core import signing
from kuaidan.core.errors import InvalidInput
from kuaidan.payments.domain import (
    Notification,
    ReturnInfo,
    SignatureInvalid,
    TradeState,
    yuan_to_fen,
)


def required(params: Mapping[str, str], key: str) -> str:
    value = params.get(key)
    if not value:
        raise SignatureInvalid(f"the provider's message has no {key}")
    return value


def verified_notification(params: Mapping[str, str], public_key: bytes) -> Notification:
    """The notification's facts; SignatureInvalid when it is not genuine or not readable."""
    if not signing.verify_params(params, public_key, exclude=signing.NOTIFY_EXCLUDE):
        raise SignatureInvalid("the notification's signature does not verify")
    try:
        paid = params.get("gmt_payment")
        return Notification(
            notify_id=required(params, "notify_id"),
            out_trade_no=required(params, "out_trade_no"),
            trade_no=required(params, "trade_no"),
            trade_status=TradeState(required(params, "trade_status")),
            amount_fen=yuan_to_fen(required(params, "total_amount")),
            app_id=required(params, "app_id"),
            paid_at=signing.parse_protocol_time(paid) if paid else None,
            sent_at=signing.parse_protocol_time(required(params, "notify_time")),
        )
    except (ValueError, InvalidInput) as exc:
        raise SignatureInvalid(f"a signed notification we cannot read: {exc}") from exc


def verified_return(own: Mapping[str, str], public_key: bytes) -> ReturnInfo:
    """The browser return's facts from the provider's own parameters (``own``)."""
    if not signing.verify_params(own, public_key, exclude=signing.NOTIFY_EXCLUDE):
        raise SignatureInvalid("the return's signature does not verify")
    try:
        amount_fen = yuan_to_fen(required(own, "total_amount"))
    except InvalidInput as exc:
        raise SignatureInvalid(f"a signed return we cannot read: {exc}") from exc
    return ReturnInfo(
        out_trade_no=required(own, "out_trade_no"),
        trade_no=required(own, "trade_no"),
        amount_fen=amount_fen,
        app_id=required(own, "app_id"),
    )
