"""Shared parts of the logistics consoles: the router, who may open them, money typed by
people, labels in both languages, and rendering."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.errors import Forbidden, InvalidInput
from kuaidan.core.templating import render
from kuaidan.logistics.domain import ExceptionKind, Resolution

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1
MAX_CLAIM_YUAN = 10_000_000  # far above any agreement's cap: only a sanity bound on typing
# Full-width digits, point, comma and yen sign (typed with a Chinese input method).
FULL_WIDTH = {0xFF10 + d: ord("0") + d for d in range(10)} | {
    0xFF0E: ord("."),
    0xFF0C: ord(","),
    0xFFE5: ord("¥"),
}
# Whole yuan, plain or grouped by thousands (1299 or 1,299), then at most two decimals.
YUAN_RE = re.compile(
    r"^(?P<whole>[0-9]{1,9}|[0-9]{1,3}(?:,[0-9]{3}){1,2})(?:\.(?P<frac>[0-9]{1,2}))?$"
)

KIND_LABELS = {
    ExceptionKind.NO_PICKUP: "未揽收 No pickup",
    ExceptionKind.STALE_IN_TRANSIT: "运输停滞 Stuck in transit",
    ExceptionKind.STALE_AT_DESTINATION: "派送停滞 Stuck at destination",
    ExceptionKind.PROBLEM: "疑难件 Carrier problem",
    ExceptionKind.RETURNING: "退回中 Returning",
    ExceptionKind.REFUSED: "拒收 Refused",
    ExceptionKind.LOST: "丢失 Lost",
    ExceptionKind.DAMAGED: "破损 Damaged",
}
# What the merchant is expected to do about each kind of case (its task).
MERCHANT_TASKS = {
    ExceptionKind.NO_PICKUP: "联系承运商安排揽收 Get the carrier to pick the parcel up",
    ExceptionKind.STALE_IN_TRANSIT: "向承运商催件并记录答复 Chase the carrier and note its answer",
    ExceptionKind.STALE_AT_DESTINATION: (
        "催促派送，必要时联系买家 Chase the delivery; call the buyer if needed"
    ),
    ExceptionKind.PROBLEM: "与承运商解决疑难（地址、电话） Sort out the carrier's problem "
    "(address, phone)",
    ExceptionKind.RETURNING: "准备接收退件，并与买家沟通 Expect the parcel back; talk to the buyer",
    ExceptionKind.REFUSED: "准备接收退件，并与买家沟通 Expect the parcel back; talk to the buyer",
    ExceptionKind.LOST: (
        "平台将补发、退款或索赔；请备好补发库存 The platform decides reship, refund or claim; "
        "keep stock ready to reship"
    ),
    ExceptionKind.DAMAGED: "核实破损并记录 Check the damage and note it; the platform decides",
}
RESOLUTION_LABELS = {
    Resolution.CHASE: "催件 Chase the carrier",
    Resolution.RESHIP: "补发 Reship",
    Resolution.REFUND: "退款 Refund",
    Resolution.CLAIM: "向承运商索赔 Claim from the carrier",
}
NOTICES = {
    "resolved": "案件已处理 The case is resolved",
    "noted": "备注已添加 The note is added",
    "chased": "已催件，案件关闭 Chased: the case is closed",
    "status": "承运商状态已更新 The carrier's status is changed",
    "unchanged": "状态未变 The status was already that",
    "computed": "已计算上一完整周期的评分卡 The last complete period is scored",
}
GLOBALS = {
    "kind_labels": KIND_LABELS,
    "resolution_labels": RESOLUTION_LABELS,
    "merchant_tasks": MERCHANT_TASKS,
}


async def _merchant(user: deps.CurrentUser) -> UserInfo:
    if user.role is not Role.MERCHANT or user.merchant_id is None:
        raise Forbidden("此页面仅限商家员工 This page is for merchant staff")
    return user


AdminPage = deps.Admin
MerchantPage = Annotated[UserInfo, Depends(_merchant)]


def actor_of(user: UserInfo) -> str:
    """How a person is named in a case's notes and as who resolved it."""
    return f"{user.role.value}#{user.id}"


def parse_yuan(raw: str) -> int:
    """An amount in yuan typed by a person (``12.5``, ``¥1,299.00``, full-width digits) as
    fen, exactly; anything else is refused with a clear message."""
    text = raw.translate(FULL_WIDTH).strip().removeprefix("¥").strip()
    match = YUAN_RE.fullmatch(text)
    if match is None:
        raise InvalidInput(
            "金额格式应为元，最多两位小数，如 12.50 Enter yuan with at most two decimals, "
            "e.g. 12.50"
        )
    fen = int(match["whole"].replace(",", "")) * 100 + int((match["frac"] or "").ljust(2, "0"))
    if fen < 1 or fen > MAX_CLAIM_YUAN * 100:
        raise InvalidInput("索赔金额应大于 0 A claim is more than ¥0.00")
    return fen


def whole(raw: str, *, default: int, low: int, high: int) -> int:
    value = raw.strip()
    return (
        int(value) if value.isascii() and value.isdigit() and low <= int(value) <= high else default
    )


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    ctx: dict[str, Any] = {**GLOBALS, "notice": None, "error": None, **context}
    notice = request.query_params.get("done")
    if ctx["notice"] is None and notice in NOTICES:
        ctx["notice"] = NOTICES[notice]
    return render(request, f"logistics/{template}", ctx, status_code=status_code)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
