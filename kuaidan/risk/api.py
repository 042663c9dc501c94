"""JSON routes of the risk review console: held payments with their score, reasons and the
buyer's history; approve or reject with a note; rules and listed networks; the audit trail.

Risk analysts are admins (``deps.RiskAnalyst``); every change they make is audited.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from kuaidan import deps
from kuaidan.risk import service
from kuaidan.risk.domain import AttemptStatus, HoldInfo
from kuaidan.risk.schemas import (
    AuditRead,
    BuyerHistoryRead,
    HoldDetail,
    HoldList,
    HoldRead,
    NetworkBody,
    NetworkRead,
    ReviewRequest,
    RuleBody,
    RuleRead,
)
from kuaidan.security import service as security

router = APIRouter(prefix="/risk", tags=["risk"], dependencies=[deps.CsrfProtected])

Reference = Annotated[str, Path(max_length=64)]
StatusFilter = Literal["held", "verified", "approved", "rejected", "expired", "blocked", "allowed"]


async def _detail(uow: deps.Uow, hold: HoldInfo) -> HoldDetail:
    history = await service.buyer_history(uow=uow, buyer_id=hold.buyer_id)
    return HoldDetail(hold=HoldRead.of(hold), buyer=BuyerHistoryRead.of(history))


@router.get("/holds", summary="Payment attempts held by risk (or in another state)")
async def list_holds(
    uow: deps.Uow,
    analyst: deps.RiskAnalyst,
    state: Annotated[StatusFilter, Query(alias="status")] = "held",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HoldList:
    """Risk analysts: newest first, each with its score, reasons and the buyer's history."""
    holds = await service.list_holds(uow=uow, statuses=(AttemptStatus(state),), limit=limit)
    return HoldList(items=[await _detail(uow, hold) for hold in holds])


@router.get("/holds/{reference}", summary="One payment attempt with the buyer's history")
async def get_hold(uow: deps.Uow, analyst: deps.RiskAnalyst, reference: Reference) -> HoldDetail:
    return await _detail(uow, await service.get_hold(uow=uow, reference=reference))


@router.post("/holds/{reference}/approve", summary="Let a held payment through")
async def approve_hold(
    uow: deps.Uow, analyst: deps.RiskAnalyst, reference: Reference, body: ReviewRequest
) -> HoldRead:
    """The buyer gets a pay link again (shortly, through the payment's event). 409 unless
    the payment is held."""
    hold = await service.approve_hold(
        uow=uow, reference=reference, analyst_id=analyst.id, note=body.note
    )
    return HoldRead.of(hold)


@router.post("/holds/{reference}/reject", summary="Stop a held payment")
async def reject_hold(
    uow: deps.Uow, analyst: deps.RiskAnalyst, reference: Reference, body: ReviewRequest
) -> HoldRead:
    """The payment is blocked and its orders are cancelled, their stock released."""
    hold = await service.reject_hold(
        uow=uow, reference=reference, analyst_id=analyst.id, note=body.note
    )
    return HoldRead.of(hold)


@router.get("/rules", summary="The rules, in evaluation order")
async def list_rules(uow: deps.Uow, analyst: deps.RiskAnalyst) -> list[RuleRead]:
    return [RuleRead.of(rule) for rule in await service.list_rules(uow=uow)]


@router.put("/rules/{name}", summary="Create or replace a rule")
async def put_rule(
    uow: deps.Uow,
    analyst: deps.RiskAnalyst,
    name: Annotated[str, Path(max_length=64)],
    body: RuleBody,
) -> RuleRead:
    """A signal may only be tested in its risky direction (``>=``/``>`` for counts and
    amounts, ``<``/``<=`` for ages, ``is`` true for flags); anything else is 422."""
    raw = {"name": name, **body.model_dump()}
    rule = await service.put_rule(uow=uow, raw=raw, actor_id=analyst.id)
    return RuleRead.of(rule)


@router.delete("/rules/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a rule")
async def delete_rule(
    uow: deps.Uow, analyst: deps.RiskAnalyst, name: Annotated[str, Path(max_length=64)]
) -> Response:
    await service.delete_rule(uow=uow, name=name, actor_id=analyst.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/rules/reset", summary="Replace every rule with the default rule file's")
async def reset_rules(uow: deps.Uow, analyst: deps.RiskAnalyst) -> list[RuleRead]:
    return [RuleRead.of(rule) for rule in await service.reset_rules(uow=uow, actor_id=analyst.id)]


@router.get("/networks", summary="Listed-risk IP networks")
async def list_networks(uow: deps.Uow, analyst: deps.RiskAnalyst) -> list[NetworkRead]:
    return [NetworkRead.of(n) for n in await service.list_networks(uow=uow)]


@router.post("/networks", status_code=status.HTTP_201_CREATED, summary="List a network")
async def add_network(uow: deps.Uow, analyst: deps.RiskAnalyst, body: NetworkBody) -> NetworkRead:
    network = await service.add_network(
        uow=uow, cidr=body.cidr, note=body.note, actor_id=analyst.id
    )
    return NetworkRead.of(network)


@router.delete("/networks", status_code=status.HTTP_204_NO_CONTENT, summary="Unlist a network")
async def remove_network(
    uow: deps.Uow,
    analyst: deps.RiskAnalyst,
    cidr: Annotated[str, Query(max_length=50)],
) -> Response:
    await service.remove_network(uow=uow, cidr=cidr, actor_id=analyst.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/audit", summary="The audit trail of payments and risk")
async def audit(
    uow: deps.Uow,
    analyst: deps.RiskAnalyst,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditRead]:
    """Analysts' actions and security events (refused notifications, wrong codes, blocks),
    newest first; ``subject`` is e.g. ``payment:<reference>``."""
    entries = await security.list_entries(uow=uow, subject=subject, limit=limit)
    return [AuditRead.of(entry) for entry in entries]
