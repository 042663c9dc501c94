"""JSON routes of after-sales on delivered orders: the buyer (or an agent for them) asks for a
return, a return for a fault, an exchange or a refund of missing items; the shop approves or
rejects; the platform rules on escalated and disputed cases; the goods go back in a tracked
parcel; everyone who may see the order follows the case step by step."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from kuaidan import deps
from kuaidan.core.fields import Id
from kuaidan.ordering.aftersales import service as aftersales
from kuaidan.ordering.aftersales.domain import AfterSalesPolicy, CaseKind, Claim
from kuaidan.ordering.aftersales.schemas import (
    CaseCreate,
    CaseRead,
    DecisionIn,
    DisputeIn,
    SendBackIn,
)

router = APIRouter(tags=["ordering: after-sales"], dependencies=[deps.CsrfProtected])


def _policy(request: Request) -> AfterSalesPolicy:
    return aftersales.policy_from_settings(deps.container_of(request).settings)


CASE = "/orders/{number}/after-sales/{case_id}"


@router.post(
    "/orders/{number}/after-sales",
    status_code=status.HTTP_201_CREATED,
    summary="Ask for a return, an exchange or a refund of missing items",
)
async def request_case(
    request: Request, uow: deps.Uow, user: deps.CurrentUser, number: str, body: CaseCreate
) -> CaseRead:
    """The order's buyer, or an agent on the buyer's behalf (audited), on a delivered order.
    409 ``after_sales_not_allowed`` outside the window, for a category without no-reason
    returns, for items already claimed; 409 ``out_of_stock`` for an exchange without stock;
    422 for bad items; 404 for an order the caller cannot see."""
    view = await aftersales.request_case(
        uow=uow,
        number=number,
        by=user,
        case=aftersales.NewCase(
            kind=CaseKind(body.kind),
            items=[Claim(i.sku_id, i.quantity) for i in body.items],
            reason=body.reason,
            request_id=body.request_id,
            exchange_sku_id=body.exchange_sku_id,
        ),
        policy=_policy(request),
    )
    return CaseRead.of(view)


@router.get("/orders/{number}/after-sales", summary="The order's after-sales cases")
async def list_cases(uow: deps.Uow, user: deps.CurrentUser, number: str) -> list[CaseRead]:
    """Newest first, each with its timeline."""
    views = await aftersales.list_cases(uow=uow, number=number, viewer=user)
    return [CaseRead.of(view) for view in views]


@router.get(CASE, summary="One after-sales case with its timeline")
async def get_case(uow: deps.Uow, user: deps.CurrentUser, number: str, case_id: Id) -> CaseRead:
    view = await aftersales.get_case(uow=uow, number=number, case_id=case_id, viewer=user)
    return CaseRead.of(view)


@router.post(f"{CASE}/decision", summary="The shop's answer, or the platform's ruling")
async def decide_case(
    request: Request,
    uow: deps.Uow,
    user: deps.CurrentUser,
    number: str,
    case_id: Id,
    body: DecisionIn,
) -> CaseRead:
    """The shop approves or rejects a request (a rejection needs its reason); an agent rules
    on an escalated or disputed case. 409 ``return_address_missing`` when a return is approved
    before the shop has set its return address; 409 ``illegal_case_step`` when the case is not
    waiting for this decision."""
    view = await aftersales.decide_case(
        uow=uow, number=number, case_id=case_id, by=user, approve=body.approve,
        reason=body.reason, policy=_policy(request),
    )  # fmt: skip
    return CaseRead.of(view)


@router.post(f"{CASE}/dispute", summary="Ask the platform to arbitrate a rejection")
async def dispute_case(
    uow: deps.Uow, user: deps.CurrentUser, number: str, case_id: Id, body: DisputeIn
) -> CaseRead:
    view = await aftersales.dispute_case(
        uow=uow, number=number, case_id=case_id, by=user, reason=body.reason
    )
    return CaseRead.of(view)


@router.post(f"{CASE}/withdraw", summary="Take the request back")
async def withdraw_case(
    uow: deps.Uow, user: deps.CurrentUser, number: str, case_id: Id
) -> CaseRead:
    view = await aftersales.withdraw_case(uow=uow, number=number, case_id=case_id, by=user)
    return CaseRead.of(view)


@router.post(f"{CASE}/send-back", summary="Send the goods back (a pickup, or your own parcel)")
async def send_back(
    uow: deps.Uow, user: deps.CurrentUser, number: str, case_id: Id, body: SendBackIn
) -> CaseRead:
    view = await aftersales.send_back(
        uow=uow, number=number, case_id=case_id, by=user, carrier_code=body.carrier_code,
        tracking_number=body.tracking_number,
    )  # fmt: skip
    return CaseRead.of(view)


@router.post(f"{CASE}/received", summary="The shop received the goods back")
async def receive_return(
    uow: deps.Uow, user: deps.CurrentUser, number: str, case_id: Id
) -> CaseRead:
    view = await aftersales.receive_return(uow=uow, number=number, case_id=case_id, by=user)
    return CaseRead.of(view)


@router.get("/after-sales", summary="Cases to look at: the shop's, the platform's or yours")
async def queue(uow: deps.Uow, user: deps.CurrentUser, all: bool = False) -> list[CaseRead]:
    """A shop sees its open cases, agents the escalated and disputed ones, a buyer theirs;
    ``all=true`` includes finished ones."""
    views = await aftersales.queue(uow=uow, by=user, open_only=not all)
    return [CaseRead.of(view) for view in views]
