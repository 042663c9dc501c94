"""The merchant console's shipping settings: where parcels leave from, and whether paid orders
book the best carrier at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from kuaidan import deps
from kuaidan.core.errors import DomainError
from kuaidan.ordering import service
from kuaidan.ordering.pages._common import (
    NOTICES,
    FormText,
    MerchantPage,
    message_of,
    page,
    router,
    see_other,
)

SETTINGS_PATH = "/merchant/settings/shipping"


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
    context = {"form": form, "notice": NOTICES.get(msg), "error": None}
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
        context = {"form": form, "notice": None, "error": message_of(exc)}
        return await page(request, uow, "shipping_settings.html", context, status_code=exc.status)
    return see_other(f"{SETTINGS_PATH}?msg=settings")
