"""Exception cases: the detection job opens one per shipment and episode when a rule of
``domain.cases`` fires; people resolve them (chase, reship, refund, claim) with notes."""

from __future__ import annotations

from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput, NotFound
from kuaidan.core.outbox import publish
from kuaidan.logistics import repository
from kuaidan.logistics.domain import (
    CaseStatus,
    ExceptionCaseInfo,
    ExceptionKind,
    Resolution,
    ShipmentStatus,
)
from kuaidan.logistics.domain.cases import Detected, ShipmentFacts, detect
from kuaidan.logistics.events import ShipmentExceptionOpened, ShipmentExceptionResolved
from kuaidan.logistics.models import ExceptionCase, Shipment
from kuaidan.logistics.service._common import config_of

BATCH = 200
MAX_NOTES = 8000


def _facts(row: Shipment) -> ShipmentFacts:
    return ShipmentFacts(
        status=ShipmentStatus(row.status),
        status_at=row.status_at,
        booked_at=row.booked_at,
        picked_up_at=row.picked_up_at,
        in_city_at=row.in_city_at,
        last_scan_at=row.last_scan_at,
        damaged_at=row.damaged_at,
    )


def _case_info(case: ExceptionCase, reference: str) -> ExceptionCaseInfo:
    return ExceptionCaseInfo(
        case_id=case.id,
        shipment_reference=reference,
        kind=ExceptionKind(case.kind),
        status=CaseStatus(case.status),
        opened_at=case.opened_at,
        trigger_at=case.trigger_at,
        resolution=Resolution(case.resolution) if case.resolution else None,
        claim_fen=case.claim_fen,
        notes=case.notes,
        resolved_at=case.resolved_at,
    )


async def _open(uow: UnitOfWork, row: Shipment, found: Detected) -> bool:
    """Inside a transaction: open the case for this episode unless it exists."""
    if await repository.case_exists(
        uow.session, shipment_id=row.id, kind=found.kind.value, trigger_at=found.trigger_at
    ):
        return False
    case = ExceptionCase(
        shipment_id=row.id,
        carrier_id=row.carrier_id,
        kind=found.kind.value,
        trigger_at=found.trigger_at,
        opened_at=uow.now(),
        status=CaseStatus.OPEN.value,
        claim_fen=0,
        notes="",
    )
    await repository.add(uow.session, case)
    event = ShipmentExceptionOpened(
        case.id,
        case.kind,
        row.id,
        row.reference,
        row.order_id,
        row.order_number,
        row.merchant_id,
        row.buyer_id,
        row.carrier_code,
        row.tracking_number,
        case.opened_at,
    )
    await publish(uow, event, key=row.reference)
    return True


async def detect_exceptions(*, uow: UnitOfWork, now: datetime | None = None) -> int:
    """The detection job: open a case for every rule that fires; returns how many opened.

    ``now`` defaults to the clock (a later one lets an operator look ahead)."""
    rules = config_of(uow).rules
    now = now or uow.now()
    quiet_since = now - min(rules.stale_at_destination_after, rules.no_pickup_after)
    opened, after_id = 0, 0
    while True:
        async with uow.atomic():
            rows = await repository.detection_candidates(
                uow.session, quiet_since=quiet_since, after_id=after_id, limit=BATCH
            )
            for row in rows:
                for found in detect(_facts(row), rules=rules, now=now):
                    opened += await _open(uow, row, found)
        if len(rows) < BATCH:
            return opened
        after_id = rows[-1].id


async def list_exception_cases(
    *,
    uow: UnitOfWork,
    status: CaseStatus | None = None,
    reference: str | None = None,
    limit: int = 100,
) -> list[ExceptionCaseInfo]:
    shipment_id = None
    if reference is not None:
        row = await repository.get_shipment(uow.session, reference=reference)
        if row is None:
            return []
        shipment_id = row.id
    cases = await repository.list_cases(
        uow.session,
        status=status.value if status else None,
        shipment_id=shipment_id,
        limit=limit,
    )
    references: dict[int, str] = {}
    for case in cases:
        if case.shipment_id not in references:
            found = await repository.get_shipment(uow.session, shipment_id=case.shipment_id)
            references[case.shipment_id] = found.reference if found else ""
    return [_case_info(c, references[c.shipment_id]) for c in cases]


def _append(notes: str, text: str, *, at: datetime, actor: str) -> str:
    cleaned = " ".join(text.split())
    if not cleaned:
        return notes
    line = f"[{at:%Y-%m-%d %H:%M} UTC {actor}] {cleaned}"
    return (f"{notes}\n{line}" if notes else line)[-MAX_NOTES:]


async def add_case_note(*, uow: UnitOfWork, case_id: int, note: str, actor: str) -> None:
    async with uow.atomic():
        case = await repository.get_case(uow.session, case_id=case_id, for_update=True)
        if case is None:
            raise NotFound("no such exception case")
        case.notes = _append(case.notes, note, at=uow.now(), actor=actor)


async def resolve_exception(
    *,
    uow: UnitOfWork,
    case_id: int,
    resolution: Resolution,
    actor: str,
    note: str = "",
    claim_fen: int = 0,
) -> ExceptionCaseInfo:
    """Close an open case; a claim records the compensation the carrier owes (fen)."""
    if claim_fen < 0 or (claim_fen and resolution != Resolution.CLAIM):
        raise InvalidInput("only a claim carries an amount, and never a negative one")
    async with uow.atomic():
        case = await repository.get_case(uow.session, case_id=case_id, for_update=True)
        if case is None:
            raise NotFound("no such exception case")
        if case.status != CaseStatus.OPEN:
            raise Conflict("this case is resolved already")
        row = await repository.get_shipment(uow.session, shipment_id=case.shipment_id)
        assert row is not None
        case.status, case.resolution = CaseStatus.RESOLVED.value, resolution.value
        case.claim_fen, case.resolved_at, case.resolved_by = claim_fen, uow.now(), actor[:50]
        case.notes = _append(case.notes, note, at=uow.now(), actor=actor)
        event = ShipmentExceptionResolved(
            case.id,
            case.kind,
            row.id,
            row.reference,
            row.order_id,
            row.merchant_id,
            resolution.value,
            claim_fen,
            uow.now(),
        )
        await publish(uow, event, key=row.reference)
    return _case_info(case, row.reference)
