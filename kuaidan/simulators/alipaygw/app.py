"""The local Alipay gateway: ``/gateway.do`` (the cashier page for ``alipay.trade.page.pay``,
the JSON API for the other methods), the cashier's buttons, and, only when enabled, test hooks
under ``/sandbox/`` that are no part of the protocol.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from kuaidan.core import signing
from kuaidan.core.clock import utcnow
from kuaidan.simulators.alipaygw import pages, protocol
from kuaidan.simulators.alipaygw.hooks import (
    AmountChange,
    HookSettings,
    TradeRef,
    apply_hooks,
    change_amount,
    dropped_refund,
)
from kuaidan.simulators.alipaygw.notifier import Hooks, Notifier
from kuaidan.simulators.alipaygw.protocol import GatewayConfig, ProtocolError
from kuaidan.simulators.alipaygw.store import CLOSED, SUCCESS, NewTrade, Store, Trade

Token = Annotated[str, Form(min_length=1, max_length=64)]
JSON_TYPE = "application/json;charset=utf-8"


@dataclass
class Gateway:
    config: GatewayConfig
    store: Store
    hooks: Hooks
    notifier: Notifier


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _trade_no(now: datetime) -> str:
    """Alipay's trade numbers: the date, a channel code, a serial."""
    return now.strftime("%Y%m%d") + "22001" + secrets.token_hex(6)


def _new_trade(app_id: str, out_trade_no: str, **fields: Any) -> NewTrade:
    """A trade as the gateway records it, with its own trade number and cashier token."""
    now = utcnow()
    defaults: dict[str, Any] = {
        "subject": "",
        "total_fen": 0,
        "notify_url": "",
        "return_url": "",
        "expires_at": now + protocol.timeout_of(None),
    }
    defaults.update(fields)
    return NewTrade(
        app_id=app_id,
        out_trade_no=out_trade_no,
        trade_no=_trade_no(now),
        token=secrets.token_urlsafe(24),
        created_at=now,
        **defaults,
    )


def _expires_at(biz: Mapping[str, Any], now: datetime) -> datetime:
    """``time_expire`` (absolute, Beijing time) wins over ``timeout_express`` (relative)."""
    text = biz.get("time_expire")
    if isinstance(text, str) and text:
        try:
            return signing.parse_protocol_time(text)
        except ValueError as exc:
            raise ProtocolError("ACQ.INVALID_PARAMETER", "bad time_expire", code="40002") from exc
    return now + protocol.timeout_of(biz.get("timeout_express"))


# --- page pay: the buyer's browser -------------------------------------------------------------


def _open_trade(gateway: Gateway, params: Mapping[str, str], biz: Mapping[str, Any]) -> Trade:
    if biz.get("product_code") != "FAST_INSTANT_TRADE_PAY":
        raise ProtocolError("ACQ.INVALID_PARAMETER", "product_code must be FAST_INSTANT_TRADE_PAY")
    out_trade_no = protocol.out_trade_no_of(biz)
    total_fen = protocol.yuan_to_fen(biz.get("total_amount"))
    if total_fen <= 0:
        raise ProtocolError("ACQ.INVALID_PARAMETER", "total_amount must be positive")
    trade = gateway.store.open_trade(
        _new_trade(
            gateway.config.app_id,
            out_trade_no,
            subject=protocol.subject_of(biz),
            total_fen=total_fen,
            notify_url=protocol.https_url(params.get("notify_url"), "notify_url"),
            return_url=protocol.https_url(params.get("return_url"), "return_url"),
            expires_at=_expires_at(biz, utcnow()),
        )
    )
    if trade.status == CLOSED:
        raise ProtocolError("ACQ.TRADE_HAS_CLOSE", "交易已关闭 this trade is closed")
    if trade.total_fen != total_fen:
        raise ProtocolError("ACQ.TRADE_AMOUNT_CHANGED", "the trade was opened for another amount")
    return trade


def _cashier(gateway: Gateway, params: Mapping[str, str]) -> Response:
    try:
        biz = protocol.verify_request(params, gateway.config)
        trade = _open_trade(gateway, params, biz)
    except ProtocolError as error:
        return pages.error_page(f"{error.sub_code}: {error.message}")
    if trade.status == SUCCESS:
        url = protocol.signed_return_url(trade, gateway.config, now=utcnow())
        return RedirectResponse(url, status_code=303)
    return pages.cashier_page(trade)


def pay(gateway: Gateway, token: str) -> Trade:
    """Pay a trade once, never when closed; a fresh payment starts its notification."""
    trade, paid_now = gateway.store.pay(token, now=utcnow())
    if trade is None:
        raise ProtocolError("ACQ.TRADE_NOT_EXIST", "交易不存在 no such trade")
    if trade.status != SUCCESS:
        raise ProtocolError("ACQ.TRADE_HAS_CLOSE", "交易已关闭 the trade is closed")
    if paid_now:
        gateway.notifier.schedule(trade)
    return trade


cashier = APIRouter()


@cashier.post("/cashier/pay")
async def cashier_pay(request: Request, token: Token) -> Response:
    gateway = gateway_of(request)
    try:
        trade = pay(gateway, token)
    except ProtocolError as error:
        return pages.error_page(error.message)
    url = protocol.signed_return_url(trade, gateway.config, now=utcnow())
    return RedirectResponse(url, status_code=303)


@cashier.post("/cashier/cancel")
async def cashier_cancel(request: Request, token: Token) -> Response:
    trade = gateway_of(request).store.trade_by_token(token)
    if trade is None:
        return pages.error_page("交易不存在 no such trade", status=404)
    return pages.cancelled_page(trade)


# --- the API: the merchant's server ------------------------------------------------------------


def _query(gateway: Gateway, biz: Mapping[str, Any]) -> dict[str, str]:
    trade = gateway.store.trade(gateway.config.app_id, protocol.out_trade_no_of(biz))
    if trade is None or (trade.status == CLOSED and not trade.subject):
        raise ProtocolError("ACQ.TRADE_NOT_EXIST", "交易不存在")
    return protocol.success(**protocol.trade_fields(trade))


def _request_no(biz: Mapping[str, Any]) -> str:
    request_no = biz.get("out_request_no")
    if not isinstance(request_no, str) or not 0 < len(request_no) <= 64:
        raise ProtocolError("ACQ.INVALID_PARAMETER", "bad out_request_no", code="40002")
    return request_no


def _refund(gateway: Gateway, biz: Mapping[str, Any]) -> dict[str, str]:
    request_no = _request_no(biz)
    dropped = dropped_refund(gateway.store, gateway.hooks, gateway.config.app_id, biz)
    if dropped is not None:
        return protocol.success(**dropped, buyer_logon_id="kd***@example.com")
    outcome, trade = gateway.store.refund(
        app_id=gateway.config.app_id,
        out_trade_no=protocol.out_trade_no_of(biz),
        request_no=request_no,
        amount_fen=protocol.yuan_to_fen(biz.get("refund_amount")),
        now=utcnow(),
    )
    errors = {
        "not_found": ("ACQ.TRADE_NOT_EXIST", "交易不存在"),
        "not_paid": ("ACQ.TRADE_STATUS_ERROR", "交易状态不合法 the trade is not paid"),
        "too_much": ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限 more than is left"),
        "conflict": ("ACQ.REQUEST_NO_CONFLICT", "out_request_no was used for another amount"),
    }
    if outcome in errors or trade is None:
        raise ProtocolError(*errors.get(outcome, errors["not_found"]))
    return protocol.success(
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        buyer_logon_id="kd***@example.com",
        fund_change="Y" if outcome == "ok" else "N",
        refund_fee=protocol.fen_to_yuan(trade.refunded_fen),
        gmt_refund_pay=signing.format_protocol_time(utcnow()),
    )


def _refund_query(gateway: Gateway, biz: Mapping[str, Any]) -> dict[str, str]:
    out_trade_no = protocol.out_trade_no_of(biz)
    request_no = _request_no(biz)
    trade = gateway.store.trade(gateway.config.app_id, out_trade_no)
    if trade is None:
        raise ProtocolError("ACQ.TRADE_NOT_EXIST", "交易不存在")
    amount = gateway.store.refund_of(
        app_id=gateway.config.app_id, out_trade_no=out_trade_no, request_no=request_no
    )
    fields = {"trade_no": trade.trade_no, "out_trade_no": out_trade_no}
    if amount is not None:  # as at Alipay: an unknown request is a success with no amount
        fields.update(
            out_request_no=request_no,
            total_amount=protocol.fen_to_yuan(trade.total_fen),
            refund_amount=protocol.fen_to_yuan(amount),
            refund_status="REFUND_SUCCESS",
        )
    return protocol.success(**fields)


def _close(gateway: Gateway, biz: Mapping[str, Any]) -> dict[str, str]:
    out_trade_no = protocol.out_trade_no_of(biz)
    trade = gateway.store.close_trade(_new_trade(gateway.config.app_id, out_trade_no))
    if trade.status != CLOSED:
        raise ProtocolError("ACQ.TRADE_STATUS_ERROR", f"交易状态不合法 the trade is {trade.status}")
    return protocol.success(trade_no=trade.trade_no, out_trade_no=out_trade_no)


METHODS: dict[str, Callable[[Gateway, Mapping[str, Any]], dict[str, str]]] = {
    "alipay.trade.query": _query,
    "alipay.trade.refund": _refund,
    "alipay.trade.fastpay.refund.query": _refund_query,
    "alipay.trade.close": _close,
}


def _api(gateway: Gateway, params: Mapping[str, str]) -> Response:
    name = params.get("method", "")
    method = METHODS.get(name)
    try:
        if method is None:
            raise ProtocolError("isv.invalid-method", "不存在的方法名 unknown method", code="40002")
        response = method(gateway, protocol.verify_request(params, gateway.config))
    except ProtocolError as error:
        response = protocol.failure(error)
    body = protocol.signed_answer(name if method else None, response, gateway.config)
    return Response(body, media_type=JSON_TYPE)


gateway_routes = APIRouter()


async def _params(request: Request) -> dict[str, str]:
    """Query string and form body together, as the gateway reads a request."""
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form(max_fields=protocol.MAX_FORM_FIELDS)
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


@gateway_routes.api_route("/gateway.do", methods=["GET", "POST"])
async def gateway_do(request: Request) -> Response:
    gateway = gateway_of(request)
    params = await _params(request)
    if params.get("method") == "alipay.trade.page.pay":
        return _cashier(gateway, params)
    return _api(gateway, params)


# --- test hooks: not part of the protocol ------------------------------------------------------

hooks = APIRouter(prefix="/sandbox")


@hooks.post("/hooks")
async def set_hooks(request: Request, body: HookSettings) -> dict[str, Any]:
    return apply_hooks(gateway_of(request).hooks, body)


@hooks.post("/amount")
async def hook_amount(request: Request, body: AmountChange) -> dict[str, Any]:
    gateway = gateway_of(request)
    return change_amount(gateway.store, gateway.config.app_id, body)


@hooks.post("/pay")
async def hook_pay(request: Request, body: TradeRef) -> dict[str, Any]:
    """Pay as if the buyer had clicked 确认付款 on the cashier page."""
    gateway = gateway_of(request)
    trade = gateway.store.trade(gateway.config.app_id, body.out_trade_no)
    if trade is None:
        raise HTTPException(404, "no such trade")
    try:
        trade = pay(gateway, trade.token)
    except ProtocolError as error:
        raise HTTPException(409, error.message) from error
    return_url = protocol.signed_return_url(trade, gateway.config, now=utcnow())
    return {"trade_no": trade.trade_no, "status": trade.status, "return_url": return_url}


@hooks.get("/trades/{out_trade_no}")
async def hook_trade(request: Request, out_trade_no: str) -> dict[str, Any]:
    gateway = gateway_of(request)
    trade = gateway.store.trade(gateway.config.app_id, out_trade_no)
    if trade is None:
        raise HTTPException(404, "no such trade")
    return {
        **protocol.trade_fields(trade),
        "refund_amount": protocol.fen_to_yuan(trade.refunded_fen),
        "notifications": gateway.store.notifications(out_trade_no),
    }


def create_gateway_app(config: GatewayConfig) -> FastAPI:
    """The gateway as an ASGI app (its keys and certificate must exist: see ``server.py``)."""
    store = Store(config.data_dir / "alipaygw.db")
    hook_state = Hooks()
    notifier = Notifier(
        store=store,
        hooks=hook_state,
        sign=lambda trade, notify_id, now: protocol.notification(
            trade, config, notify_id=notify_id, now=now
        ),
        notify_ca=config.notify_ca,
        delays_s=config.notify_delays_s,
    )
    gateway = Gateway(config, store, hook_state, notifier)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await notifier.aclose()
            store.close()

    app = FastAPI(
        title="kuaidan local Alipay gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.gateway = gateway
    app.include_router(gateway_routes)
    app.include_router(cashier)
    if config.test_hooks:
        app.include_router(hooks)
    return app
