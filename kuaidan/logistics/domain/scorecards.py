"""Scorecards: how a carrier did in a period against its agreement, and what follows.

Over the shipments a carrier picked up in the period: on-time rate (delivered within the
promise for the zone, counted from pickup, among those finished: delivered, returned or lost),
intact rate (finished without damage or loss), exception rate (shipments with at least one
exception case), claims paid out (fen) and the mean buyer rating.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kuaidan.logistics.domain.carriers import CarrierStatus, ServiceAgreement


@dataclass(frozen=True, slots=True)
class ShipmentOutcome:
    picked_up_at: datetime
    promise_days: int
    delivered_at: datetime | None
    finished: bool  # delivered, returned or lost
    damaged: bool
    lost: bool
    exception_cases: int


@dataclass(frozen=True, slots=True)
class Scorecard:
    shipments: int
    finished: int
    delivered: int
    on_time: int
    intact: int
    with_exceptions: int
    claims_fen: int
    ratings: int
    satisfaction: float | None  # mean rating, None without ratings

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.delivered if self.delivered else 1.0

    @property
    def intact_rate(self) -> float:
        return self.intact / self.finished if self.finished else 1.0

    @property
    def exception_rate(self) -> float:
        return self.with_exceptions / self.shipments if self.shipments else 0.0


def on_time(outcome: ShipmentOutcome) -> bool:
    if outcome.delivered_at is None:
        return False
    return outcome.delivered_at - outcome.picked_up_at <= timedelta(days=outcome.promise_days)


def compute_scorecard(
    outcomes: Sequence[ShipmentOutcome], *, ratings: Sequence[int], claims_fen: int
) -> Scorecard:
    delivered = [o for o in outcomes if o.delivered_at is not None]
    finished = [o for o in outcomes if o.finished]
    return Scorecard(
        shipments=len(outcomes),
        finished=len(finished),
        delivered=len(delivered),
        on_time=sum(1 for o in delivered if on_time(o)),
        intact=sum(1 for o in finished if not (o.damaged or o.lost)),
        with_exceptions=sum(1 for o in outcomes if o.exception_cases > 0),
        claims_fen=claims_fen,
        ratings=len(ratings),
        satisfaction=round(sum(ratings) / len(ratings), 3) if ratings else None,
    )


@dataclass(frozen=True, slots=True)
class Review:
    status: CarrierStatus
    breaches: tuple[str, ...]
    severe: bool


def breaches_of(card: Scorecard, agreement: ServiceAgreement) -> tuple[list[str], bool]:
    """The agreement's targets this scorecard misses, and whether any floor is broken."""
    terms = agreement.penalties
    missed: list[str] = []
    severe = False
    if card.delivered and card.on_time_rate < agreement.on_time_target:
        missed.append("on_time")
        severe |= card.on_time_rate < terms.on_time_floor
    if card.finished and card.intact_rate < agreement.intact_target:
        missed.append("intact")
        severe |= card.intact_rate < terms.intact_floor
    if card.exception_rate > terms.max_exception_rate:
        missed.append("exceptions")
    if card.satisfaction is not None and card.satisfaction < agreement.satisfaction_target:
        missed.append("satisfaction")
    return missed, severe


def review(card: Scorecard, agreement: ServiceAgreement, current: CarrierStatus) -> Review:
    """The carrier's status after this period (penalty terms of its agreement).

    Too few shipments judge nothing. A broken floor, or any breach while on probation,
    suspends; a breach puts an active carrier on probation; a clean period on probation
    reinstates it. A suspended carrier is reinstated only by an operator.
    """
    if current == CarrierStatus.SUSPENDED or card.shipments < agreement.penalties.min_shipments:
        return Review(current, (), False)
    missed, severe = breaches_of(card, agreement)
    if not missed:
        return Review(CarrierStatus.ACTIVE, (), False)
    if severe or current == CarrierStatus.PROBATION:
        return Review(CarrierStatus.SUSPENDED, tuple(missed), severe)
    return Review(CarrierStatus.PROBATION, tuple(missed), severe)


@dataclass(frozen=True, slots=True)
class CarrierScorecardInfo:
    carrier_code: str
    period_start: datetime
    period_end: datetime
    card: Scorecard
    breaches: tuple[str, ...]
    status_after: CarrierStatus
