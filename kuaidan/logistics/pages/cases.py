"""The exception cases console (platform admins) and the merchant's task list.

Admins see every case, filter the queue, read a case with its shipment, add notes and resolve
it (chase, reship, refund, claim with an amount in yuan). Merchant staff see only the cases of
their own shop's shipments, with what is expected of them; they add notes and, where the
parcel can still move, close a case by chasing the carrier.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Path, Query, Request
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts.domain import UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, InvalidInput, NotFound
from kuaidan.core.fields import Id
from kuaidan.logistics import service
from kuaidan.logistics.domain import CaseStatus, ExceptionKind, Resolution
from kuaidan.logistics.pages._common import (
    MAX_ID,
    AdminPage,
    MerchantPage,
    actor_of,
    page,
    parse_yuan,
    router,
    see_other,
    whole,
)
from kuaidan.logistics.service import cases

PAGE_SIZE = 30
AGES = {"1": 1, "24": 24, "72": 72, "168": 168}  # hours since the case opened
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
NoteField = Annotated[str, Form(max_length=2000)]


def _choice(raw: str, allowed: set[str]) -> str | None:
    return raw if raw in allowed else None


@router.get("/logistics/cases")
async def cases_queue(
    request: Request,
    uow: deps.Uow,
    admin: AdminPage,
    status: Annotated[str, Query(max_length=20)] = "open",
    kind: Annotated[str, Query(max_length=30)] = "",
    carrier: Annotated[str, Query(max_length=30)] = "",
    order: Annotated[str, Query(max_length=40)] = "",
    older_than: Annotated[str, Query(max_length=4)] = "",
    page_no: Annotated[str, Query(alias="page", max_length=6)] = "1",
) -> Response:
    """The queue: open cases first, oldest first, filtered by status, kind, carrier, age and
    order number. Values that are not on offer are ignored (the form shows what applies)."""
    chosen_status = _choice(status, {s.value for s in CaseStatus})
    chosen_kind = _choice(kind, {k.value for k in ExceptionKind})
    carriers = await service.list_carriers(uow=uow)
    chosen_carrier = _choice(carrier, {c.code for c in carriers})
    age = AGES.get(older_than)
    number = order.strip() or None
    current = whole(page_no, default=1, low=1, high=10_000)
    found = await cases.search_exception_cases(
        uow=uow,
        status=CaseStatus(chosen_status) if chosen_status else None,
        kind=ExceptionKind(chosen_kind) if chosen_kind else None,
        carrier_code=chosen_carrier,
        order_number=number,
        opened_before=uow.now() - timedelta(hours=age) if age else None,
        limit=PAGE_SIZE + 1,
        offset=(current - 1) * PAGE_SIZE,
    )
    filters = {
        "status": chosen_status or "",
        "kind": chosen_kind or "",
        "carrier": chosen_carrier or "",
        "order": number or "",
        "older_than": older_than if age else "",
    }
    more = urlencode({**filters, "page": current + 1}) if len(found) > PAGE_SIZE else None
    context = {
        "cases": found[:PAGE_SIZE],
        "carriers": carriers,
        "filters": filters,
        "ages": AGES,
        "now": uow.now(),
        "next_query": more,
        "page_no": current,
    }
    return page(request, "cases.html", context)


async def _case_page(
    request: Request,
    uow: UnitOfWork,
    case_id: Id,
    *,
    merchant: UserInfo | None = None,
    error: DomainError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    merchant_id = merchant.merchant_id if merchant else None
    view = await cases.get_exception_case(uow=uow, case_id=case_id, merchant_id=merchant_id)
    shipment = await service.get_shipment(uow=uow, reference=view.case.shipment_reference)
    carrier = await service.get_carrier(uow=uow, code=view.carrier_code)
    context: dict[str, Any] = {
        "view": view,
        "shipment": shipment,
        "carrier": carrier,
        "notes": [line for line in view.case.notes.splitlines() if line.strip()],
        "resolutions": list(Resolution),
        "claim_cap_fen": carrier.agreement.penalties.lost_compensation_cap_fen,
        "error": error.message if error else None,
        "form": form or {},
        "now": uow.now(),
        "merchant": merchant is not None,
    }
    template = "merchant_case.html" if merchant else "case.html"
    return page(request, template, context, status_code=error.status if error else 200)


@router.get("/logistics/cases/{case_id}")
async def case_page(request: Request, uow: deps.Uow, admin: AdminPage, case_id: CaseId) -> Response:
    return await _case_page(request, uow, case_id)


@router.post("/logistics/cases/{case_id}/notes", dependencies=[deps.CsrfProtected])
async def case_note(
    request: Request, uow: deps.Uow, admin: AdminPage, case_id: CaseId, note: NoteField = ""
) -> Response:
    try:
        await service.add_case_note(uow=uow, case_id=case_id, note=note, actor=actor_of(admin))
    except NotFound:
        raise
    except DomainError as exc:
        return await _case_page(request, uow, case_id, error=exc, form={"note": note})
    return see_other(f"/logistics/cases/{case_id}?done=noted")


@router.post("/logistics/cases/{case_id}/resolve", dependencies=[deps.CsrfProtected])
async def case_resolve(
    request: Request,
    uow: deps.Uow,
    admin: AdminPage,
    case_id: CaseId,
    resolution: Annotated[str, Form(max_length=20)] = "",
    claim_yuan: Annotated[str, Form(max_length=40)] = "",
    note: NoteField = "",
) -> Response:
    """Resolve by chase, reship, refund or claim; a claim needs its amount in yuan."""
    form = {"resolution": resolution, "claim_yuan": claim_yuan, "note": note}
    try:
        if resolution not in {r.value for r in Resolution}:
            raise InvalidInput("请选择处理方式 Choose how to resolve the case")
        chosen = Resolution(resolution)
        claim_fen = 0
        if chosen == Resolution.CLAIM:
            claim_fen = parse_yuan(claim_yuan)
        elif claim_yuan.strip():
            raise InvalidInput("只有索赔才填写金额 Only a claim carries an amount")
        await service.resolve_exception(
            uow=uow,
            case_id=case_id,
            resolution=chosen,
            actor=actor_of(admin),
            note=note,
            claim_fen=claim_fen,
            actor_id=admin.id,
        )
    except NotFound:
        raise
    except DomainError as exc:
        return await _case_page(request, uow, case_id, error=exc, form=form)
    return see_other(f"/logistics/cases/{case_id}?done=resolved")


# --- the merchant's tasks ----------------------------------------------------------------------


@router.get("/merchant/logistics/tasks")
async def merchant_tasks(
    request: Request,
    uow: deps.Uow,
    staff: MerchantPage,
    status: Annotated[str, Query(max_length=20)] = "open",
) -> Response:
    """Merchant staff: the cases of their own shop's shipments (open ones are its tasks)."""
    chosen = CaseStatus(status) if status in {s.value for s in CaseStatus} else CaseStatus.OPEN
    found = await cases.search_exception_cases(
        uow=uow, status=chosen, merchant_id=staff.merchant_id, limit=100
    )
    context = {"cases": found, "current": chosen.value, "now": uow.now()}
    return page(request, "merchant_tasks.html", context)


@router.get("/merchant/logistics/tasks/{case_id}")
async def merchant_task(
    request: Request, uow: deps.Uow, staff: MerchantPage, case_id: CaseId
) -> Response:
    return await _case_page(request, uow, case_id, merchant=staff)


@router.post("/merchant/logistics/tasks/{case_id}/notes", dependencies=[deps.CsrfProtected])
async def merchant_note(
    request: Request, uow: deps.Uow, staff: MerchantPage, case_id: CaseId, note: NoteField = ""
) -> Response:
    try:
        await service.add_case_note(
            uow=uow,
            case_id=case_id,
            note=note,
            actor=actor_of(staff),
            merchant_id=staff.merchant_id,
        )
    except NotFound:
        raise
    except DomainError as exc:
        return await _case_page(
            request, uow, case_id, merchant=staff, error=exc, form={"note": note}
        )
    return see_other(f"/merchant/logistics/tasks/{case_id}?done=noted")


@router.post("/merchant/logistics/tasks/{case_id}/chase", dependencies=[deps.CsrfProtected])
async def merchant_chase(
    request: Request, uow: deps.Uow, staff: MerchantPage, case_id: CaseId, note: NoteField = ""
) -> Response:
    """The merchant chased the carrier: the case closes with the chase resolution."""
    try:
        await service.resolve_exception(
            uow=uow,
            case_id=case_id,
            resolution=Resolution.CHASE,
            actor=actor_of(staff),
            note=note,
            actor_id=staff.id,
            merchant_id=staff.merchant_id,
        )
    except NotFound:
        raise
    except DomainError as exc:
        return await _case_page(
            request, uow, case_id, merchant=staff, error=exc, form={"note": note}
        )
    return see_other(f"/merchant/logistics/tasks/{case_id}?done=chased")
