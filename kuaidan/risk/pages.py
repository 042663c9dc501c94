"""HTML routes of risk: the analysts' review console (``/risk/holds``) and the dev inbox.

The dev inbox (``/dev/inbox``) shows what the default notifier would have sent (one-time
codes): administrators only, and only when ``KUAIDAN_DEV_INBOX_PAGE`` is on (demo, tests).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from kuaidan import deps
from kuaidan.core.errors import DomainError, NotFound
from kuaidan.core.notify import dev_inbox
from kuaidan.core.templating import render
from kuaidan.risk import service
from kuaidan.risk.domain import AttemptStatus

router = APIRouter(include_in_schema=False)

# What the console lists under "recently decided": every way a hold (or a refusal) ends.
DECIDED = (
    AttemptStatus.VERIFIED,
    AttemptStatus.APPROVED,
    AttemptStatus.REJECTED,
    AttemptStatus.EXPIRED,
    AttemptStatus.BLOCKED,
)
NoteField = Annotated[str, Form(min_length=1, max_length=500)]


@router.get("/risk/holds")
async def holds_page(request: Request, uow: deps.Uow, analyst: deps.RiskAnalyst) -> Response:
    holds = await service.list_holds(uow=uow)
    histories = {
        h.buyer_id: await service.buyer_history(uow=uow, buyer_id=h.buyer_id) for h in holds
    }
    decided = await service.list_holds(uow=uow, statuses=DECIDED, limit=30)
    notice = request.query_params.get("done")
    return render(
        request,
        "risk/holds.html",
        {"holds": holds, "histories": histories, "decided": decided, "notice": notice},
    )


@router.post("/risk/holds/{reference}/{decision}", dependencies=[deps.CsrfProtected])
async def review_submit(
    uow: deps.Uow,
    analyst: deps.RiskAnalyst,
    reference: Annotated[str, Path(max_length=64)],
    decision: Annotated[str, Path(pattern="^(approve|reject)$")],
    note: NoteField,
) -> RedirectResponse:
    review = service.approve_hold if decision == "approve" else service.reject_hold
    try:
        await review(uow=uow, reference=reference, analyst_id=analyst.id, note=note)
        done = "approved" if decision == "approve" else "rejected"
    except DomainError as exc:
        done = exc.code
    return RedirectResponse(f"/risk/holds?done={done}", status_code=303)


@router.get("/dev/inbox")
async def dev_inbox_page(request: Request, uow: deps.Uow, admin: deps.Admin) -> Response:
    if not deps.container_of(request).settings.dev_inbox_page:
        raise NotFound("not found")
    messages = await dev_inbox(uow, limit=50)
    return render(request, "risk/dev_inbox.html", {"messages": messages})
