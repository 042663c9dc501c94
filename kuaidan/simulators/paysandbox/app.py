"""The sandbox provider's HTTP service: the gateway (hosted pay page), the API, and, only when
enabled, test hooks under ``/sandbox/`` that are no part of the protocol.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from kuaidan.core.clock import utcnow
from kuaidan.simulators.paysandbox import pages, protocol
from kuaidan.simulators.paysandbox.notifier import Hooks, Notifier
from kuaidan.simulators.paysandbox.protocol import ProtocolError, SandboxConfig
from kuaidan.simulators.paysandbox.store import CLOSED, SUCCESS, NewTrade, Store, Trade

MAX_FORM_FIELDS = 30
Token = Annotated[str, Form(min_length=1, max_length=64)]


@dataclass
class Sandbox:
    config: SandboxConfig
    store: Store
    hooks: Hooks
    notifier: Notifier


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def sandbox_trade_no(now: datetime) -> str:
    return now.strftime("%Y%m%d") + secrets.token_hex(8)


def new_trade(
    app_id: str,
    out_trade_no: str,
    *,
    number: Callable[[datetime], str] = sandbox_trade_no,
    **fields: Any,
) -> NewTrade:
    """A trade as the provider records it; ``number`` makes its own trade number."""
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
        trade_no=number(now),
        token=secrets.token_urlsafe(24),
        created_at=now,
        **defaults,
    )


# --- the gateway: the buyer's browser -----------------------------------------------------

gateway = APIRouter()


def _open_trade(sandbox: Sandbox, params: Mapping[str, str]) -> Trade:
    biz = protocol.verify_request(params, sandbox.config, method="trade.page.pay")
    out_trade_no = protocol.out_trade_no_of(biz)
    total_fen = protocol.yuan_to_fen(biz.get("total_amount"))
    if total_fen <= 0:
        raise ProtocolError("ACQ.INVALID_PARAMETER", "the amount must be positive")
    trade = sandbox.store.open_trade(
        new_trade(
            sandbox.config.app_id,
            out_trade_no,
            subject=protocol.subject_of(biz),
            total_fen=total_fen,
            notify_url=protocol.https_url(params.get("notify_url"), "notify_url"),
            return_url=protocol.https_url(params.get("return_url"), "return_url"),
            expires_at=utcnow() + protocol.timeout_of(biz.get("timeout_express")),
        )
    )
    if trade.status == CLOSED:
        raise ProtocolError("ACQ.TRADE_HAS_CLOSE", "this trade is closed")
    if trade.total_fen != total_fen:
        raise ProtocolError("ACQ.TRADE_AMOUNT_CHANGED", "this trade was opened for another amount")
    return trade


@gateway.get("/gateway")
async def gateway_page(request: Request) -> Response:
    sandbox = sandbox_of(request)
    try:
        trade = _open_trade(sandbox, dict(request.query_params))
    except ProtocolError as error:
        return pages.error_page(f"{error.sub_code}: {error.message}")
    if trade.status == SUCCESS:
        return RedirectResponse(
            protocol.signed_return_url(trade, sandbox.config, now=utcnow()), status_code=303
        )
    return pages.pay_page(trade)


def pay(sandbox: Sandbox, token: str) -> Trade:
    """Pay a trade: once only, never when closed; a fresh payment starts its notification."""
    trade, paid_now = sandbox.store.pay(token, now=utcnow())
    if trade is None:
        raise ProtocolError("ACQ.TRADE_NOT_EXIST", "no such trade")
    if trade.status != SUCCESS:
        raise ProtocolError("ACQ.TRADE_HAS_CLOSE", "this trade is closed and cannot be paid")
    if paid_now:
        sandbox.notifier.schedule(trade)
    return trade


@gateway.post("/gateway/pay")
async def gateway_pay(request: Request, token: Token) -> Response:
    sandbox = sandbox_of(request)
    try:
        trade = pay(sandbox, token)
    except ProtocolError as error:
        return pages.error_page(error.message)
    return RedirectResponse(
        protocol.signed_return_url(trade, sandbox.config, now=utcnow()), status_code=303
    )


@gateway.post("/gateway/cancel")
async def gateway_cancel(request: Request, token: Token) -> Response:
    trade = sandbox_of(request).store.trade_by_token(token)
    if trade is None:
        return pages.error_page("no such trade", status=404)
    return pages.cancelled_page(trade)


# --- the API: the merchant's server ---------------------------------------------------------

api = APIRouter()


def _query(sandbox: Sandbox, biz: Mapping[str, Any]) -> dict[str, str]:
    trade = sandbox.store.trade(sandbox.config.app_id, protocol.out_trade_no_of(biz))
    if trade is None:
        raise ProtocolError("ACQ.TRADE_NOT_EXIST", "no such trade")
    return protocol.success(**protocol.trade_fields(trade))


def _refund(sandbox: Sandbox, biz: Mapping[str, Any]) -> dict[str, str]:
    request_no = biz.get("out_request_no")
    if not isinstance(request_no, str) or not 0 < len(request_no) <= 64:
        raise ProtocolError("ACQ.INVALID_PARAMETER", "bad out_request_no", code="40002")
    dropped = dropped_refund(sandbox.store, sandbox.hooks, sandbox.config.app_id, biz)
    if dropped is not None:
        return protocol.success(**dropped)
    outcome, trade = sandbox.store.refund(
        app_id=sandbox.config.app_id,
        out_trade_no=protocol.out_trade_no_of(biz),
        request_no=request_no,
        amount_fen=protocol.yuan_to_fen(biz.get("refund_amount")),
        now=utcnow(),
    )
    errors = {
        "not_found": ("ACQ.TRADE_NOT_EXIST", "no such trade"),
        "not_paid": ("ACQ.TRADE_STATUS_ERROR", "the trade is not paid"),
        "too_much": ("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "the refund exceeds the paid amount"),
        "conflict": ("ACQ.REQUEST_NO_CONFLICT", "out_request_no was used for another refund"),
    }
    if outcome in errors or trade is None:
        raise ProtocolError(*errors.get(outcome, errors["not_found"]))
    return protocol.success(
        out_trade_no=trade.out_trade_no,
        trade_no=trade.trade_no,
        out_request_no=request_no,
        refund_fee=protocol.fen_to_yuan(trade.refunded_fen),
        fund_change="Y" if outcome == "ok" else "N",
    )


def dropped_refund(
    store: Store, hooks: Hooks, app_id: str, biz: Mapping[str, Any]
) -> dict[str, str] | None:
    """Test hook ``drop_refund_of``: acknowledge a refund of that paid trade but never make it."""
    out_trade_no = protocol.out_trade_no_of(biz)
    key = (out_trade_no, str(biz.get("out_request_no", "")))
    if key in hooks.dropped:
        return hooks.dropped[key]
    if not hooks.drop_refund_of or hooks.drop_refund_of != out_trade_no:
        return None
    trade = store.trade(app_id, out_trade_no)
    if trade is None or trade.status != SUCCESS:
        return None
    hooks.drop_refund_of = ""
    amount = protocol.yuan_to_fen(biz.get("refund_amount"))
    hooks.dropped[key] = {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "refund_fee": protocol.fen_to_yuan(trade.refunded_fen + amount),
        "fund_change": "Y",
    }
    return hooks.dropped[key]


def _close(sandbox: Sandbox, biz: Mapping[str, Any]) -> dict[str, str]:
    out_trade_no = protocol.out_trade_no_of(biz)
    trade = sandbox.store.close_trade(new_trade(sandbox.config.app_id, out_trade_no))
    if trade.status != CLOSED:
        raise ProtocolError("ACQ.TRADE_STATUS_ERROR", f"the trade is {trade.status}")
    return protocol.success(out_trade_no=out_trade_no, trade_no=trade.trade_no)


def _refund_query(sandbox: Sandbox, biz: Mapping[str, Any]) -> dict[str, str]:
    out_trade_no = protocol.out_trade_no_of(biz)
    request_no = biz.get("out_request_no")
    if not isinstance(request_no, str) or not 0 < len(request_no) <= 64:
        raise ProtocolError("ACQ.INVALID_PARAMETER", "bad out_request_no", code="40002")
    if sandbox.store.trade(sandbox.config.app_id, out_trade_no) is None:
        raise ProtocolError("ACQ.TRADE_NOT_EXIST", "no such trade")
    amount = sandbox.store.refund_of(
        app_id=sandbox.config.app_id, out_trade_no=out_trade_no, request_no=request_no
    )
    fields = {"out_trade_no": out_trade_no, "out_request_no": request_no}
    if amount is not None:
        fields["refund_amount"] = protocol.fen_to_yuan(amount)
    return protocol.success(**fields)


METHODS = {
    "trade.query": _query,
    "trade.refund": _refund,
    "trade.refund.query": _refund_query,
    "trade.close": _close,
}


@api.post("/api")
async def api_call(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        method = METHODS.get(params.get("method", ""))
        if method is None:
            raise ProtocolError("isv.invalid-method", "unknown method", code="40002")
        response = method(sandbox, protocol.verify_request(params, sandbox.config))
    except ProtocolError as error:
        response = protocol.failure(error)
    return JSONResponse(protocol.signed_answer(response, sandbox.config))


# --- test hooks: not part of the protocol -----------------------------------------------------

hooks = APIRouter(prefix="/sandbox")


class HookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    misroute_next: int | None = Field(default=None, ge=0, le=100)
    duplicate: bool | None = None
    suppress_next: int | None = Field(default=None, ge=0, le=100)
    drop_refund_of: str | None = Field(default=None, max_length=64)


class TradeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out_trade_no: str = Field(min_length=1, max_length=64)


class AmountChange(TradeRef):
    total_fen: int = Field(gt=0, le=10**12)


def apply_hooks(current: Hooks, body: HookSettings) -> dict[str, Any]:
    """Set the given hooks; the hooks as they now stand (both simulators' ``/sandbox/hooks``)."""
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(current, name, value)
    return {name: getattr(current, name) for name in HookSettings.model_fields}


def change_amount(store: Store, app_id: str, body: AmountChange) -> dict[str, Any]:
    """Change the provider's record of a trade's amount (a discrepancy to reconcile)."""
    if not store.set_total(app_id=app_id, out_trade_no=body.out_trade_no, total_fen=body.total_fen):
        raise HTTPException(404, "no such trade")
    return {"out_trade_no": body.out_trade_no, "total_fen": body.total_fen}


@hooks.post("/hooks")
async def set_hooks(request: Request, body: HookSettings) -> dict[str, Any]:
    return apply_hooks(sandbox_of(request).hooks, body)


@hooks.post("/amount")
async def hook_amount(request: Request, body: AmountChange) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    return change_amount(sandbox.store, sandbox.config.app_id, body)


@hooks.post("/pay")
async def hook_pay(request: Request, body: TradeRef) -> dict[str, Any]:
    """Pay as if the buyer had clicked 确认付款 on the pay page."""
    sandbox = sandbox_of(request)
    trade = sandbox.store.trade(sandbox.config.app_id, body.out_trade_no)
    if trade is None:
        raise HTTPException(404, "no such trade")
    try:
        trade = pay(sandbox, trade.token)
    except ProtocolError as error:
        raise HTTPException(409, error.message) from error
    return_url = protocol.signed_return_url(trade, sandbox.config, now=utcnow())
    return {"trade_no": trade.trade_no, "status": trade.status, "return_url": return_url}


@hooks.get("/trades/{out_trade_no}")
async def hook_trade(request: Request, out_trade_no: str) -> dict[str, Any]:
    sandbox = sandbox_of(request)
    trade = sandbox.store.trade(sandbox.config.app_id, out_trade_no)
    if trade is None:
        raise HTTPException(404, "no such trade")
    fields = protocol.trade_fields(trade)
    return {**fields, "notifications": sandbox.store.notifications(out_trade_no)}


def create_sandbox_app(config: SandboxConfig) -> FastAPI:
    """The sandbox as an ASGI app (its keys and certificate must exist: see ``server.py``)."""
    store = Store(config.data_dir / "sandbox.db")
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
    sandbox = Sandbox(config, store, hook_state, notifier)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sandbox.notifier.aclose()
            store.close()

    app = FastAPI(title="kuaidan sandbox pay", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sandbox = sandbox
    app.include_router(gateway)
    app.include_router(api)
    if config.test_hooks:
        app.include_router(hooks)
    return app
