"""HTML routes of payments: the buyer's browser coming back from the provider's pay page, and
the administrators' reconciliation page (runs and their findings)."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import safe_next
from kuaidan.core.errors import NotFound
from kuaidan.core.templating import render
from kuaidan.payments import service
from kuaidan.payments.domain import SUCCEEDABLE_STATUSES, ProviderError

router = APIRouter(include_in_schema=False)


@router.get("/payments/return/{provider}")
async def provider_return(
    provider: Annotated[str, Path(max_length=20)],
    request: Request,
    uow: deps.Uow,
    next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> RedirectResponse:
    """Verify the signed return; if no notification has arrived yet, ask the provider."""
    if provider != service.provider_name(uow=uow):
        raise NotFound("no such payment provider")
    info = service.verify_return(uow=uow, params=dict(request.query_params))
    payment = await service.get_payment(uow=uow, reference=info.out_trade_no)
    if payment is not None and payment.status in SUCCEEDABLE_STATUSES:
        # If the provider is unreachable the notification still comes; the page shows pending.
        with contextlib.suppress(ProviderError):
            await service.sync_payment(uow=uow, reference=info.out_trade_no)
    return RedirectResponse(safe_next(next_path), status_code=303)


@router.get("/payments/reconciliation")
async def reconciliation_page(request: Request, uow: deps.Uow, admin: deps.Admin) -> Response:
    """Recent reconciliation runs and what they found, newest first."""
    runs = await service.list_runs(uow=uow, limit=20)
    findings = await service.list_findings(uow=uow, limit=200)
    return render(request, "payments/reconciliation.html", {"runs": runs, "findings": findings})
