"""The test hooks' requests and what they do to the gateway's state; no part of the protocol.

The routes under ``/sandbox/`` (``app.py``) exist only with test hooks enabled. They steer the
notifier (misroute, duplicate, suppress), make a refund that is acknowledged but never made,
and change the gateway's record of an amount: the discrepancies reconciliation must find.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from kuaidan.simulators.alipaygw import protocol
from kuaidan.simulators.alipaygw.notifier import Hooks
from kuaidan.simulators.alipaygw.store import SUCCESS, Store


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
    """Set the given hooks; the hooks as they now stand."""
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(current, name, value)
    return {name: getattr(current, name) for name in HookSettings.model_fields}


def change_amount(store: Store, app_id: str, body: AmountChange) -> dict[str, Any]:
    """Change the gateway's record of a trade's amount (a discrepancy to reconcile)."""
    if not store.set_total(app_id=app_id, out_trade_no=body.out_trade_no, total_fen=body.total_fen):
        raise HTTPException(404, "no such trade")
    return {"out_trade_no": body.out_trade_no, "total_fen": body.total_fen}


def dropped_refund(
    store: Store, hooks: Hooks, app_id: str, biz: Mapping[str, Any]
) -> dict[str, str] | None:
    """Hook ``drop_refund_of``: acknowledge a refund of that paid trade but never make it."""
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
