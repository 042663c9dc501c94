"""JSON routes of after-sales on delivered orders: the buyer (or an agent for them) asks for a
return, a return for a fault, an exchange or a refund of missing items; the shop approves or
rejects; the platform rules on escalated and disputed cases; the goods go back in a tracked
parcel; everyone who may see the order follows the case step by step."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from kuaidan import deps
from kuaidan.core.fields import Id, MultilineText, Quantity, RequestBody, Text
from kuaidan.ordering.domain.aftersales import AfterSalesPolicy, CaseKind, CaseView, Claim
from kuaidan.ordering.service import aftersales

router = APIRouter(tags=["ordering: after-sales"], dependencies=[deps.CsrfProtected])


def _policy(request: Request) -> AfterSalesPolicy:
    return aftersales.policy_from_settings(deps.container_of(request).settings)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimIn(RequestBody):
    sku_id: Id
    quantity: Quantity


class CaseCreate(RequestBody):
    """``return`` (no reason, within the category's window), ``quality`` (a fault: the shop
    pays the parcel back), ``exchange`` (one item, for ``exchange_sku_id``, another colour or
    size of the same product) or ``missing`` (refund only). ``request_id`` makes a double
    submission the same case."""

    kind: Literal["return", "quality", "exchange", "missing"]
    items: list[ClaimIn] = Field(min_length=1, max_length=50)
    reason: MultilineText = Field(min_length=1, max_length=500)
    request_id: Text = Field(min_length=1, max_length=64)
    exchange_sku_id: Id | None = None


class DecisionIn(RequestBody):
    approve: bool
    reason: MultilineText | None = Field(default=None, max_length=500)


class DisputeIn(RequestBody):
    reason: MultilineText = Field(min_length=1, max_length=500)


class SendBackIn(RequestBody):
    """Empty for a pickup the platform books; or the carrier and tracking number of a parcel
    the buyer sent."""

    carrier_code: Text | None = Field(default=None, max_length=20)
    tracking_number: Text | None = Field(default=None, max_length=40)


class CaseItemRead(_Strict):
    line_id: int
    sku_id: int
    title: str
    sku_label: str
    quantity: int
    unit_price_fen: int


class CaseStepRead(_Strict):
    at: datetime
    actor: str
    step: str
    status: str
    note: str | None


class CaseRead(_Strict):
    case_id: int
    order_number: str
    kind: str
    status: str
    words: str
    reason: str
    items: list[CaseItemRead]
    exchange_sku_id: int | None
    exchange_label: str | None
    value_fen: int
    refund_fen: int | None
    return_shipping_fen: int | None
    return_bearer: str
    currency: str
    return_shipment: str | None
    return_tracking: str | None
    replacement_shipment: str | None
    return_to: str | None
    answer_by: datetime | None
    decision_reason: str | None
    requested_by: str
    trusted: bool
    refunded_at: datetime | None
    requested_at: datetime
    updated_at: datetime
    steps: list[CaseStepRead]

    @classmethod
    def of(cls, view: CaseView) -> CaseRead:
        return cls(
            case_id=view.case_id, order_number=view.order_number, kind=view.kind.value,
            status=view.status.value, words=view.words, reason=view.reason,
            items=[CaseItemRead.model_validate(i, from_attributes=True) for i in view.items],
            exchange_sku_id=view.exchange_sku_id, exchange_label=view.exchange_label,
            value_fen=view.value_fen, refund_fen=view.refund_fen,
            return_shipping_fen=view.return_shipping_fen, return_bearer=view.return_bearer.value,
            currency=view.currency, return_shipment=view.return_shipment,
            return_tracking=view.return_tracking, replacement_shipment=view.replacement_shipment,
            return_to=view.return_to, answer_by=view.answer_by,
            decision_reason=view.decision_reason, requested_by=view.requested_by,
            trusted=view.trusted, refunded_at=view.refunded_at, requested_at=view.requested_at,
            updated_at=view.updated_at,
            steps=[CaseStepRead.model_validate(s, from_attributes=True) for s in view.steps],
        )  # fmt: skip


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
