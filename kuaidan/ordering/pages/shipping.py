"""The merchant console's shipping settings: where parcels leave from, whether paid orders
book the best carrier at once, and where returned parcels are sent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError
from kuaidan.ordering import service
from kuaidan.ordering.pagekit import (
    NOTICES,
    FormText,
    MerchantPage,
    message_of,
    page,
    router,
    see_other,
)
from kuaidan.ordering.service import shipping as shipping_service

SETTINGS_PATH = "/merchant/settings/shipping"
RETURN_ADDRESS_PATH = f"{SETTINGS_PATH}/return-address"
RETURN_NOTICES = {"return_address": "退货地址已保存 Return address saved"}
RETURN_FIELDS = ("recipient", "phone", "province", "city", "line")


@router.get(SETTINGS_PATH)
async def shipping_settings(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    msg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Merchant staff: the shop's ship-from place and auto-booking, as a form."""
    current = await service.get_shipping_settings(uow=uow, by=staff)
    form = {
        "province": current.province or "",
        "city": current.city or "",
        "auto_book_carrier": "on" if current.auto_book_carrier else "",
    }
    context = {
        "form": form,
        "notice": NOTICES.get(msg) or RETURN_NOTICES.get(msg),
        "error": None,
        **await _return_context(uow, staff),
    }
    return await page(request, uow, "shipping_settings.html", context)


@router.post(SETTINGS_PATH, dependencies=[deps.CsrfProtected])
async def save_shipping_settings(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    province: FormText = "",
    city: FormText = "",
    auto_book_carrier: FormText = "",
) -> Response:
    form = {"province": province[:20], "city": city[:50], "auto_book_carrier": auto_book_carrier}
    try:
        await service.set_shipping_settings(
            uow=uow,
            by=staff,
            province=province[:20],
            city=city[:50],
            auto_book_carrier=auto_book_carrier == "on",
        )
    except DomainError as exc:
        context = {
            "form": form,
            "notice": None,
            "error": message_of(exc),
            **await _return_context(uow, staff),
        }
        return await page(request, uow, "shipping_settings.html", context, status_code=exc.status)
    return see_other(f"{SETTINGS_PATH}?msg=settings")


# --- the return address --------------------------------------------------------------------


async def _return_context(
    uow: UnitOfWork, staff: UserInfo, form: dict[str, str] | None = None
) -> dict[str, Any]:
    """The return address as it is, and the form: as sent back after a refusal, or else the
    current address (empty until there is one)."""
    current = await shipping_service.get_return_address(uow=uow, by=staff)
    if form is None:
        form = {name: getattr(current, name) if current else "" for name in RETURN_FIELDS}
    return {"return_address": current, "return_form": form, "return_error": None}


@router.post(RETURN_ADDRESS_PATH, dependencies=[deps.CsrfProtected])
async def save_return_address(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    recipient: FormText = "",
    phone: FormText = "",
    province: FormText = "",
    city: FormText = "",
    line: FormText = "",
) -> Response:
    """Merchant staff: where returned parcels are sent; a refused address shows the page
    again with the message and what was typed."""
    sent = {
        "recipient": recipient[:100],
        "phone": phone[:40],
        "province": province[:20],
        "city": city[:50],
        "line": line[:400],
    }
    try:
        await shipping_service.set_return_address(uow=uow, by=staff, **sent)
    except DomainError as exc:
        current = await service.get_shipping_settings(uow=uow, by=staff)
        context = {
            "form": {
                "province": current.province or "",
                "city": current.city or "",
                "auto_book_carrier": "on" if current.auto_book_carrier else "",
            },
            **await _return_context(uow, staff, sent),
            "return_error": message_of(exc),
        }
        return await page(request, uow, "shipping_settings.html", context, status_code=exc.status)
    return see_other(f"{SETTINGS_PATH}?msg=return_address")
