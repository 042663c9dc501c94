"""Carrier use cases: the registry (with its default set), status changes, and quotes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import InvalidInput, NotFound
from kuaidan.core.outbox import publish
from kuaidan.core.text import one_line
from kuaidan.logistics import repository
from kuaidan.logistics.domain import CarrierProfile, CarrierQuality, CarrierQuote, Place
from kuaidan.logistics.domain.carriers import (
    CarrierStatus,
    agreement_to_json,
    area_to_json,
    check_weight,
    prices_to_json,
)
from kuaidan.logistics.domain.defaults import DEFAULT_CARRIERS
from kuaidan.logistics.domain.selection import effective_quality, rank_carriers
from kuaidan.logistics.events import CarrierStatusChanged
from kuaidan.logistics.models import Carrier
from kuaidan.logistics.service._common import profile_of
from kuaidan.security import service as audit

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class CarrierEntry:
    """A carrier as the console shows it: its profile and why it has its status."""

    profile: CarrierProfile
    status_reason: str
    status_changed_at: datetime


def _row(profile: CarrierProfile, uow: UnitOfWork) -> Carrier:
    return Carrier(
        code=profile.code,
        name=profile.name,
        status=profile.status.value,
        status_reason="",
        status_changed_at=uow.now(),
        qualifications=list(profile.qualifications),
        service_area=area_to_json(profile.area),
        price_table=prices_to_json(profile.prices),
        agreement=agreement_to_json(profile.agreement),
        created_at=uow.now(),
        version=1,
    )


async def ensure_default_carriers(*, uow: UnitOfWork) -> list[str]:
    """Add the default carriers that are missing (idempotent); returns the codes added."""
    added: list[str] = []
    async with uow.atomic():
        known = await repository.carrier_codes(uow.session)
        for profile in DEFAULT_CARRIERS:
            if profile.code not in known:
                await repository.add(uow.session, _row(profile, uow))
                added.append(profile.code)
    return added


async def add_carrier(*, uow: UnitOfWork, profile: CarrierProfile) -> CarrierProfile:
    """Register a carrier under contract (its code must be new)."""
    if not profile.code.isascii() or not 1 <= len(profile.code) <= 30:
        raise InvalidInput("a carrier code is 1-30 ASCII characters")
    async with uow.atomic():
        if await repository.get_carrier(uow.session, code=profile.code) is not None:
            raise InvalidInput("a carrier with this code exists", details={"code": profile.code})
        await repository.add(uow.session, _row(profile, uow))
    return profile


async def list_carriers(*, uow: UnitOfWork) -> list[CarrierProfile]:
    return [profile_of(row) for row in await repository.list_carriers(uow.session)]


async def get_carrier(*, uow: UnitOfWork, code: str) -> CarrierProfile:
    row = await repository.get_carrier(uow.session, code=code)
    if row is None:
        raise NotFound("no such carrier", details={"code": code})
    return profile_of(row)


async def set_carrier_status(
    *, uow: UnitOfWork, code: str, status: CarrierStatus, reason: str
) -> CarrierProfile:
    """An operator's (or the review job's) change of a carrier's status, with its event."""
    async with uow.atomic():
        row = await repository.get_carrier(uow.session, code=code, for_update=True)
        if row is None:
            raise NotFound("no such carrier", details={"code": code})
        previous = row.status
        if previous != status.value:
            await repository.set_carrier_status(
                uow.session, carrier_id=row.id, status=status.value, reason=reason, at=uow.now()
            )
            event = CarrierStatusChanged(code, status.value, previous, reason[:500], uow.now())
            await publish(uow, event, key=code)
    return await get_carrier(uow=uow, code=code)


async def carrier_quality(*, uow: UnitOfWork) -> dict[str, CarrierQuality]:
    """Each carrier's measured quality from its latest scorecard, shrunk toward its targets."""
    rows = {row.id: row for row in await repository.list_carriers(uow.session)}
    quality: dict[str, CarrierQuality] = {}
    for card in await repository.latest_scorecards(uow.session):
        carrier = rows.get(card.carrier_id)
        if carrier is None or card.shipments == 0:
            continue
        measured = CarrierQuality(
            on_time_rate=card.on_time / card.delivered if card.delivered else 1.0,
            intact_rate=card.intact / card.finished if card.finished else 1.0,
            satisfaction=card.satisfaction or profile_of(carrier).agreement.satisfaction_target,
            shipments=card.shipments,
        )
        quality[carrier.code] = effective_quality(profile_of(carrier), measured)
    return quality


async def quote_carriers(
    *, uow: UnitOfWork, origin: Place, destination: Place, weight_g: int
) -> list[CarrierQuote]:
    """Carriers that can take this parcel, best first (see ``domain.selection``)."""
    check_weight(weight_g)
    carriers = await list_carriers(uow=uow)
    quality = await carrier_quality(uow=uow)
    return rank_carriers(
        carriers, origin=origin, destination=destination, weight_g=weight_g, quality=quality
    )


async def carrier_registry(*, uow: UnitOfWork) -> list[CarrierEntry]:
    """Every carrier with the reason and time of its current status (the console's list)."""
    return [
        CarrierEntry(profile_of(row), row.status_reason, row.status_changed_at)
        for row in await repository.list_carriers(uow.session)
    ]


async def change_carrier_status(
    *, uow: UnitOfWork, code: str, status: CarrierStatus, reason: str, actor_id: int
) -> CarrierProfile:
    """An operator's change of a carrier's status: a reason is required, and the change is
    written to the audit log in the same transaction (nothing when the status is unchanged)."""
    cleaned = one_line(reason, field="reason")
    if not cleaned:
        raise InvalidInput("a change of status needs a reason")
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters")
    async with uow.atomic():
        row = await repository.get_carrier(uow.session, code=code, for_update=True)
        if row is None:
            raise NotFound("no such carrier", details={"code": code})
        before = row.status
        after = await set_carrier_status(uow=uow, code=code, status=status, reason=cleaned)
        if before != after.status:
            await audit.record(
                uow=uow,
                actor_id=actor_id,
                action="logistics.carrier_status_changed",
                subject=f"carrier:{code}",
                details={"from": before, "to": after.status.value, "reason": cleaned},
            )
    return after
