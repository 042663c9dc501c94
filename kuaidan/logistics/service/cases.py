"""Exception cases: the detection job opens one per shipment and episode when a rule of
``domain.cases`` fires; people resolve them (chase, reship, refund, claim) with notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kuaidan.core.outbox import publish
from kuaidan.core.text import one_line
from kuaidan.logistics import repository
from kuaidan.logistics.domain import (
    CaseStatus,
    ExceptionCaseInfo,
    ExceptionKind,
    Place,
    Resolution,
    ShipmentStatus,
)
from kuaidan.logistics.domain.cases import Detected, ShipmentFacts, detect
from kuaidan.logistics.events import ShipmentExceptionOpened, ShipmentExceptionResolved
from kuaidan.logistics.models import ExceptionCase, Shipment
from kuaidan.logistics.service._common import config_of, profile_of
from kuaidan.security import service as audit

BATCH = 200
MAX_NOTES = 8000
MAX_NOTE = 500
# Cases a merchant may close by chasing the carrier: the parcel can still move again. The
# others (lost, damaged, refused, returning) end in a reship, refund or claim the platform
# decides.
MERCHANT_CHASE_KINDS = frozenset(
    {
        ExceptionKind.NO_PICKUP,
        ExceptionKind.STALE_IN_TRANSIT,
        ExceptionKind.STALE_AT_DESTINATION,
        ExceptionKind.PROBLEM,
    }
)


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case with the facts of its shipment, as the consoles show it."""

    case: ExceptionCaseInfo
    order_id: int | None
    order_number: str | None
    merchant_id: int
    carrier_code: str
    tracking_number: str | None
    shipment_status: ShipmentStatus
    origin: Place
    destination: Place
    resolved_by: str | None

    @property
    def merchant_may_chase(self) -> bool:
        return self.case.status == CaseStatus.OPEN and self.case.kind in MERCHANT_CHASE_KINDS


def _facts(row: Shipment) -> ShipmentFacts:
    return ShipmentFacts(
        status=ShipmentStatus(row.status),
        status_at=row.status_at,
        booked_at=row.booked_at,
        picked_up_at=row.picked_up_at,
        in_city_at=row.in_city_at,
        last_scan_at=row.last_scan_at,
        damaged_at=row.damaged_at,
        intercepted_at=row.intercepted_at,
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
    cleaned = one_line(text, field="note")
    if not cleaned:
        return notes
    line = f"[{at:%Y-%m-%d %H:%M} UTC {actor}] {cleaned}"
    return (f"{notes}\n{line}" if notes else line)[-MAX_NOTES:]


async def add_case_note(
    *,
    uow: UnitOfWork,
    case_id: int,
    note: str,
    actor: str,
    merchant_id: int | None = None,
) -> None:
    """Append a note; with ``merchant_id`` only that merchant's own case is found."""
    if not one_line(note, field="note"):
        raise InvalidInput("a note needs some text")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"a note is at most {MAX_NOTE} characters")
    async with uow.atomic():
        case = await repository.get_case(uow.session, case_id=case_id, for_update=True)
        if case is None:
            raise NotFound("no such exception case")
        await _check_owner(uow, case, merchant_id)
        case.notes = _append(case.notes, note, at=uow.now(), actor=actor)


async def _check_owner(uow: UnitOfWork, case: ExceptionCase, merchant_id: int | None) -> None:
    """A merchant sees only the cases of its own shipments (anyone else's is not found)."""
    if merchant_id is None:
        return
    row = await repository.get_shipment(uow.session, shipment_id=case.shipment_id)
    if row is None or row.merchant_id != merchant_id:
        raise NotFound("no such exception case")


async def _check_claim(
    uow: UnitOfWork, case: ExceptionCase, resolution: Resolution, claim_fen: int
) -> None:
    if resolution != Resolution.CLAIM:
        return
    if claim_fen < 1:
        raise InvalidInput("a claim names the compensation the carrier owes, above zero")
    carrier = await repository.get_carrier(uow.session, carrier_id=case.carrier_id)
    if carrier is None:
        return
    cap = profile_of(carrier).agreement.penalties.lost_compensation_cap_fen
    if claim_fen > cap:
        raise InvalidInput(
            "the claim exceeds the agreement's cap per parcel",
            details={"claim_fen": claim_fen, "cap_fen": cap},
        )


def _check_resolution(resolution: Resolution, claim_fen: int, *, by_merchant: bool) -> None:
    if isinstance(claim_fen, bool) or not isinstance(claim_fen, int):
        raise InvalidInput("a claim is whole fen")
    if claim_fen < 0 or (claim_fen and resolution != Resolution.CLAIM):
        raise InvalidInput("only a claim carries an amount, and never a negative one")
    if by_merchant and resolution != Resolution.CHASE:
        raise Forbidden("a merchant resolves a case only by chasing the carrier")


async def resolve_exception(
    *,
    uow: UnitOfWork,
    case_id: int,
    resolution: Resolution,
    actor: str,
    note: str = "",
    claim_fen: int = 0,
    actor_id: int | None = None,
    merchant_id: int | None = None,
) -> ExceptionCaseInfo:
    """Close an open case; a claim records the compensation the carrier owes (fen, at most
    the agreement's cap per parcel). With ``merchant_id`` it is that merchant closing its own
    case, which it may do only by chasing the carrier. A person's resolution (``actor_id``) is
    written to the audit log in the same transaction."""
    _check_resolution(resolution, claim_fen, by_merchant=merchant_id is not None)
    async with uow.atomic():
        case = await repository.get_case(uow.session, case_id=case_id, for_update=True)
        if case is None:
            raise NotFound("no such exception case")
        await _check_owner(uow, case, merchant_id)
        if case.status != CaseStatus.OPEN:
            raise Conflict(
                "this case is resolved already",
                details={"case_id": case.id, "resolution": case.resolution},
            )
        if merchant_id is not None and case.kind not in MERCHANT_CHASE_KINDS:
            raise Conflict("the platform decides this case: reship, refund or claim")
        await _check_claim(uow, case, resolution, claim_fen)
        row = await repository.get_shipment(uow.session, shipment_id=case.shipment_id)
        assert row is not None
        case.status, case.resolution = CaseStatus.RESOLVED.value, resolution.value
        case.claim_fen, case.resolved_at, case.resolved_by = claim_fen, uow.now(), actor[:50]
        case.notes = _append(case.notes, note[:MAX_NOTE], at=uow.now(), actor=actor)
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
        if actor_id is not None:
            details = {"resolution": resolution.value, "claim_fen": claim_fen, "kind": case.kind}
            await audit.record(
                uow=uow,
                actor_id=actor_id,
                action="logistics.case_resolved",
                subject=f"exception_case:{case.id}",
                details={**details, "shipment": row.reference},
            )
    return _case_info(case, row.reference)


def _view(case: ExceptionCase, row: Shipment) -> CaseView:
    return CaseView(
        case=_case_info(case, row.reference),
        order_id=row.order_id,
        order_number=row.order_number,
        merchant_id=row.merchant_id,
        carrier_code=row.carrier_code,
        tracking_number=row.tracking_number,
        shipment_status=ShipmentStatus(row.status),
        origin=Place(row.origin_province, row.origin_city),
        destination=Place(row.dest_province, row.dest_city),
        resolved_by=case.resolved_by,
    )


async def search_exception_cases(
    *,
    uow: UnitOfWork,
    status: CaseStatus | None = None,
    kind: ExceptionKind | None = None,
    carrier_code: str | None = None,
    merchant_id: int | None = None,
    order_number: str | None = None,
    opened_before: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[CaseView]:
    """The consoles' queue: open cases first, oldest first, with their shipments."""
    carrier_id = None
    if carrier_code is not None:
        carrier = await repository.get_carrier(uow.session, code=carrier_code)
        if carrier is None:
            return []
        carrier_id = carrier.id
    found = await repository.search_cases(
        uow.session,
        status=status.value if status else None,
        kind=kind.value if kind else None,
        carrier_id=carrier_id,
        merchant_id=merchant_id,
        order_number=order_number,
        opened_before=opened_before,
        limit=max(1, min(limit, 200)),
        offset=max(0, offset),
    )
    return [_view(case, row) for case, row in found]


async def get_exception_case(
    *, uow: UnitOfWork, case_id: int, merchant_id: int | None = None
) -> CaseView:
    """One case with its shipment; with ``merchant_id`` only that merchant's own."""
    found = await repository.search_cases(
        uow.session, case_id=case_id, merchant_id=merchant_id, limit=1
    )
    if not found:
        raise NotFound("no such exception case", details={"case_id": case_id})
    return _view(*found[0])
