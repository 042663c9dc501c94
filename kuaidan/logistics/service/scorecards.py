"""Buyer ratings of deliveries, per-carrier scorecards, and the review that puts a carrier
breaching its agreement on probation or suspends it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kuaidan.core.text import one_line
from kuaidan.logistics import repository
from kuaidan.logistics.domain import CarrierProfile, CarrierStatus, ShipmentStatus
from kuaidan.logistics.domain.scorecards import (
    CarrierScorecardInfo,
    Scorecard,
    ShipmentOutcome,
    compute_scorecard,
    review,
)
from kuaidan.logistics.models import Carrier, CarrierScorecard, DeliveryRating
from kuaidan.logistics.service._common import config_of, profile_of, require_shipment
from kuaidan.logistics.service.carriers import set_carrier_status
from kuaidan.security import service as audit

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
FINISHED = (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED, ShipmentStatus.LOST)


async def rate_delivery(
    *, uow: UnitOfWork, reference: str, buyer_id: int, stars: int, comment: str = ""
) -> None:
    """The buyer's rating (1-5) of a delivered parcel, once per shipment."""
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise InvalidInput("a rating is 1 to 5 stars")
    async with uow.atomic():
        row = await require_shipment(uow, reference, lock=True)
        if row.buyer_id != buyer_id:
            raise Forbidden("only the buyer rates a delivery")
        if row.status != ShipmentStatus.DELIVERED:
            raise Conflict("a delivery is rated once it is delivered")
        if await repository.get_rating(uow.session, shipment_id=row.id) is not None:
            raise Conflict("this delivery is rated already")
        rating = DeliveryRating(
            shipment_id=row.id,
            carrier_id=row.carrier_id,
            buyer_id=buyer_id,
            stars=stars,
            comment=one_line(comment, field="comment")[:500],
            rated_at=uow.now(),
        )
        await repository.add(uow.session, rating)


async def _card(uow: UnitOfWork, carrier: Carrier, start: datetime, end: datetime) -> Scorecard:
    rows = await repository.period_shipments(
        uow.session, carrier_id=carrier.id, start=start, end=end
    )
    outcomes = [
        ShipmentOutcome(
            picked_up_at=r[0],
            promise_days=r[1],
            delivered_at=r[2],
            finished=ShipmentStatus(r[3]) in FINISHED,
            damaged=r[4] is not None,
            lost=r[3] == ShipmentStatus.LOST,
            exception_cases=int(r[5] or 0),
        )
        for r in rows
    ]
    ratings = await repository.period_ratings(
        uow.session, carrier_id=carrier.id, start=start, end=end
    )
    claims = await repository.period_claims_fen(
        uow.session, carrier_id=carrier.id, start=start, end=end
    )
    return compute_scorecard(outcomes, ratings=ratings, claims_fen=claims)


async def _save(
    uow: UnitOfWork, carrier: Carrier, info: CarrierScorecardInfo, start: datetime, end: datetime
) -> bool:
    """Store (or restate) the scorecard; True when this period is reviewed for the first time."""
    row = await repository.get_scorecard(uow.session, carrier_id=carrier.id, start=start, end=end)
    first = row is None
    if row is None:
        row = CarrierScorecard(carrier_id=carrier.id, period_start=start, period_end=end)
        uow.session.add(row)
    card = info.card
    row.shipments, row.finished, row.delivered = card.shipments, card.finished, card.delivered
    row.on_time, row.intact, row.with_exceptions = card.on_time, card.intact, card.with_exceptions
    row.claims_fen, row.ratings, row.satisfaction = card.claims_fen, card.ratings, card.satisfaction
    row.breaches, row.status_after = list(info.breaches), info.status_after.value
    row.computed_at = uow.now()
    await uow.session.flush()
    return first


async def compute_scorecards(
    *,
    uow: UnitOfWork,
    start: datetime,
    end: datetime,
    apply_penalties: bool = False,
    carrier_codes: Collection[str] | None = None,
) -> list[CarrierScorecardInfo]:
    """Every carrier's scorecard for [start, end), stored; with ``apply_penalties`` the
    breaches also change carriers' statuses (``carrier.status_changed``), once per period:
    computing the same period again restates the figures but judges nobody twice."""
    if end <= start:
        raise InvalidInput("a period ends after it starts")
    results: list[CarrierScorecardInfo] = []
    async with uow.atomic():
        for carrier in await repository.list_carriers(uow.session):
            if carrier_codes is not None and carrier.code not in carrier_codes:
                continue
            profile = profile_of(carrier)
            card = await _card(uow, carrier, start, end)
            verdict = review(card, profile.agreement, profile.status)
            info = CarrierScorecardInfo(
                carrier.code, start, end, card, verdict.breaches, verdict.status
            )
            first = await _save(uow, carrier, info, start, end)
            results.append(info)
            if apply_penalties and first and verdict.status != profile.status:
                reason = "scorecard " + (", ".join(verdict.breaches) or "meets the agreement")
                await set_carrier_status(
                    uow=uow, code=carrier.code, status=verdict.status, reason=reason
                )
    return results


def last_complete_period(now: datetime, length: timedelta) -> tuple[datetime, datetime]:
    """Periods of ``length`` laid end to end from ``EPOCH``: the last one that has ended."""
    count = (now - EPOCH) // length
    end = EPOCH + count * length
    return end - length, end


async def review_carriers(
    *, uow: UnitOfWork, now: datetime | None = None
) -> list[CarrierScorecardInfo]:
    """The scorecard job: the last complete period's scorecards, with penalties applied."""
    start, end = last_complete_period(now or uow.now(), config_of(uow).scorecard_period)
    return await compute_scorecards(uow=uow, start=start, end=end, apply_penalties=True)


MAX_PERIODS = 24


@dataclass(frozen=True, slots=True)
class StoredScorecard:
    """A scorecard as it was stored, with when it was computed."""

    info: CarrierScorecardInfo
    computed_at: datetime


async def carrier_scorecards(
    *, uow: UnitOfWork, code: str, periods: int = 6
) -> tuple[CarrierProfile, list[StoredScorecard]]:
    """The carrier and its stored scorecards of its latest ``periods`` periods, oldest first."""
    carrier = await repository.get_carrier(uow.session, code=code)
    if carrier is None:
        raise NotFound("no such carrier", details={"code": code})
    rows = await repository.scorecards_of(
        uow.session, carrier_id=carrier.id, limit=max(1, min(periods, MAX_PERIODS))
    )
    cards = [
        StoredScorecard(
            CarrierScorecardInfo(
                carrier.code,
                row.period_start,
                row.period_end,
                Scorecard(
                    shipments=row.shipments,
                    finished=row.finished,
                    delivered=row.delivered,
                    on_time=row.on_time,
                    intact=row.intact,
                    with_exceptions=row.with_exceptions,
                    claims_fen=row.claims_fen,
                    ratings=row.ratings,
                    satisfaction=row.satisfaction,
                ),
                tuple(row.breaches or ()),
                CarrierStatus(row.status_after),
            ),
            row.computed_at,
        )
        for row in reversed(rows)
    ]
    return profile_of(carrier), cards


async def review_carriers_now(
    *, uow: UnitOfWork, actor_id: int, now: datetime | None = None
) -> list[CarrierScorecardInfo]:
    """An operator runs the scorecard job now (the last complete period, penalties applied
    once per period); the run is written to the audit log."""
    moment = now or uow.now()
    async with uow.atomic():
        cards = await review_carriers(uow=uow, now=moment)
        start, end = last_complete_period(moment, config_of(uow).scorecard_period)
        await audit.record(
            uow=uow,
            actor_id=actor_id,
            action="logistics.scorecards_computed",
            subject=f"period:{start:%Y-%m-%d}/{end:%Y-%m-%d}",
            details={"carriers": len(cards), "breaching": sum(1 for c in cards if c.breaches)},
        )
    return cards
