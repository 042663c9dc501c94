"""HTML routes of payments: the buyer's browser coming back from the provider's pay page."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from kuaidan import deps
from kuaidan.accounts.domain import safe_next
from kuaidan.payments import service
from kuaidan.payments.domain import SUCCEEDABLE_STATUSES, ProviderError

router = APIRouter(include_in_schema=False)


@router.get("/payments/return/sandbox")
async def sandbox_return(
    request: Request,
    uow: deps.Uow,
    next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> RedirectResponse:
    """Verify the signed return; if no notification has arrived yet, ask the provider."""
    info = service.verify_return(uow=uow, params=dict(request.query_params))
    payment = await service.get_payment(uow=uow, reference=info.out_trade_no)
    if payment is not None and payment.status in SUCCEEDABLE_STATUSES:
        # If the provider is unreachable the notification still comes; the page shows pending.
        with contextlib.suppress(ProviderError):
            await service.sync_payment(uow=uow, reference=info.out_trade_no)
    return RedirectResponse(safe_next(next_path), status_code=303)
