"""JSON routes of the logistics consoles: the exception case queue and its resolutions, the
merchant's cases, carriers' status changes, scorecards and the scorecard run.

Money is fen here (``claim_fen``); the HTML console takes yuan typed by a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from kuaidan import deps
from kuaidan.core.fields import Fen, MultilineText, RequestBody
from kuaidan.logistics import service
from kuaidan.logistics.domain import CarrierStatus, CaseStatus, ExceptionKind, Resolution
from kuaidan.logistics.domain.scorecards import CarrierScorecardInfo
from kuaidan.logistics.service import carriers as registry
from kuaidan.logistics.service import cases, scorecards
from kuaidan.logistics.service.cases import CaseView

router = APIRouter(tags=["logistics"], dependencies=[deps.CsrfProtected])
MAX_ID = 2**31 - 1
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
CarrierCode = Annotated[str, Path(min_length=1, max_length=30)]


class CaseRead(BaseModel):
    case_id: int
    kind: ExceptionKind
    status: CaseStatus
    opened_at: datetime
    trigger_at: datetime
    resolution: Resolution | None
    claim_fen: int
    notes: str
    resolved_at: datetime | None
    resolved_by: str | None
    shipment_reference: str
    shipment_status: str
    order_number: str | None
    merchant_id: int
    carrier_code: str
    tracking_number: str | None

    @classmethod
    def of(cls, view: CaseView) -> CaseRead:
        c = view.case
        return cls(
            case_id=c.case_id,
            kind=c.kind,
            status=c.status,
            opened_at=c.opened_at,
            trigger_at=c.trigger_at,
            resolution=c.resolution,
            claim_fen=c.claim_fen,
            notes=c.notes,
            resolved_at=c.resolved_at,
            resolved_by=view.resolved_by,
            shipment_reference=c.shipment_reference,
            shipment_status=view.shipment_status.value,
            order_number=view.order_number,
            merchant_id=view.merchant_id,
            carrier_code=view.carrier_code,
            tracking_number=view.tracking_number,
        )


class CaseResolve(RequestBody):
    resolution: Resolution
    claim_fen: Fen = Field(default=0, strict=True)
    note: MultilineText = Field(default="", max_length=500)


class CaseNote(RequestBody):
    note: MultilineText = Field(min_length=1, max_length=500)


class CarrierStatusChange(RequestBody):
    status: CarrierStatus
    reason: MultilineText = Field(min_length=1, max_length=500)


class CarrierStatusRead(BaseModel):
    code: str
    status: CarrierStatus


class ScorecardRead(BaseModel):
    carrier_code: str
    period_start: datetime
    period_end: datetime
    shipments: int
    delivered: int
    finished: int
    on_time: int
    on_time_rate: float | None
    intact_rate: float | None
    exception_rate: float | None
    satisfaction: float | None
    claims_fen: int
    breaches: list[str]
    status_after: CarrierStatus

    @classmethod
    def of(cls, info: CarrierScorecardInfo) -> ScorecardRead:
        card = info.card
        return cls(
            carrier_code=info.carrier_code,
            period_start=info.period_start,
            period_end=info.period_end,
            shipments=card.shipments,
            delivered=card.delivered,
            finished=card.finished,
            on_time=card.on_time,
            on_time_rate=card.on_time_rate if card.delivered else None,
            intact_rate=card.intact_rate if card.finished else None,
            exception_rate=card.exception_rate if card.shipments else None,
            satisfaction=card.satisfaction,
            claims_fen=card.claims_fen,
            breaches=list(info.breaches),
            status_after=info.status_after,
        )


def _actor(user: deps.CurrentUser) -> str:
    return f"{user.role.value}#{user.id}"


@router.get("/logistics/cases", summary="Exception cases, open ones first, oldest first")
async def list_cases(
    admin: deps.Admin,
    uow: deps.Uow,
    status: CaseStatus | None = None,
    kind: ExceptionKind | None = None,
    carrier: Annotated[str | None, Query(max_length=30)] = None,
    order_number: Annotated[str | None, Query(max_length=40)] = None,
    older_than_hours: Annotated[int | None, Query(ge=0, le=24 * 365)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[CaseRead]:
    found = await cases.search_exception_cases(
        uow=uow,
        status=status,
        kind=kind,
        carrier_code=carrier,
        order_number=order_number,
        opened_before=(
            uow.now() - timedelta(hours=older_than_hours) if older_than_hours is not None else None
        ),
        limit=limit,
        offset=offset,
    )
    return [CaseRead.of(v) for v in found]


@router.get("/logistics/cases/{case_id}", summary="One exception case with its shipment")
async def get_case(admin: deps.Admin, uow: deps.Uow, case_id: CaseId) -> CaseRead:
    return CaseRead.of(await cases.get_exception_case(uow=uow, case_id=case_id))


@router.post("/logistics/cases/{case_id}/resolve", summary="Resolve an open exception case")
async def resolve_case(
    admin: deps.Admin, uow: deps.Uow, case_id: CaseId, body: CaseResolve
) -> CaseRead:
    await service.resolve_exception(
        uow=uow,
        case_id=case_id,
        resolution=body.resolution,
        actor=_actor(admin),
        note=body.note,
        claim_fen=body.claim_fen,
        actor_id=admin.id,
    )
    return CaseRead.of(await cases.get_exception_case(uow=uow, case_id=case_id))


@router.post("/logistics/cases/{case_id}/notes", summary="Add a note to an exception case")
async def note_case(admin: deps.Admin, uow: deps.Uow, case_id: CaseId, body: CaseNote) -> CaseRead:
    await service.add_case_note(uow=uow, case_id=case_id, note=body.note, actor=_actor(admin))
    return CaseRead.of(await cases.get_exception_case(uow=uow, case_id=case_id))


@router.get("/merchant/logistics/cases", summary="The exception cases of the shop's shipments")
async def merchant_cases(
    staff: deps.Merchant,
    uow: deps.Uow,
    status: CaseStatus | None = CaseStatus.OPEN,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[CaseRead]:
    if staff.merchant_id is None:
        return []
    found = await cases.search_exception_cases(
        uow=uow, status=status, merchant_id=staff.merchant_id, limit=limit
    )
    return [CaseRead.of(v) for v in found]


@router.post(
    "/logistics/carriers/{code}/status", summary="Put a carrier on probation, suspend or reinstate"
)
async def change_carrier_status(
    admin: deps.Admin, uow: deps.Uow, code: CarrierCode, body: CarrierStatusChange
) -> CarrierStatusRead:
    after = await registry.change_carrier_status(
        uow=uow, code=code, status=body.status, reason=body.reason, actor_id=admin.id
    )
    return CarrierStatusRead(code=after.code, status=after.status)


@router.get("/logistics/carriers/{code}/scorecards", summary="A carrier's latest scorecards")
async def carrier_scorecards(
    admin: deps.Admin,
    uow: deps.Uow,
    code: CarrierCode,
    periods: Annotated[int, Query(ge=1, le=scorecards.MAX_PERIODS)] = 6,
) -> list[ScorecardRead]:
    _profile, stored = await scorecards.carrier_scorecards(uow=uow, code=code, periods=periods)
    return [ScorecardRead.of(sc.info) for sc in stored]


@router.post(
    "/logistics/scorecards/compute",
    summary="Score the last complete period now (penalties applied once per period)",
)
async def compute_scorecards(admin: deps.Admin, uow: deps.Uow) -> list[ScorecardRead]:
    cards = await scorecards.review_carriers_now(uow=uow, actor_id=admin.id)
    return [ScorecardRead.of(info) for info in cards]
