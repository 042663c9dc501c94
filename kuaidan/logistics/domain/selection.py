"""Carrier selection: which carriers may take a parcel, and in what order.

Candidates must cover origin and destination and not be suspended. Each gets a score in
[0, 100]:

    score = 100 × (0.35·price + 0.15·speed + 0.25·on_time + 0.15·intact + 0.10·satisfaction)
            × (0.8 when on probation)

where ``price`` = cheapest price ÷ this price, ``speed`` = fastest promise ÷ this promise (both
1.0 for the best candidate), ``on_time`` and ``intact`` are the measured rates (0-1) and
``satisfaction`` maps the mean rating 1-5 onto 0-1. Measured quality is first shrunk toward the
agreement's targets when there is little history (:func:`effective_quality`). Ties go to the
cheaper carrier, then to the carrier code. Every term grows when a carrier gets better, so a
carrier at least as good on every criterion, and strictly better on one, ranks higher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from kuaidan.logistics.domain.carriers import CarrierProfile, CarrierStatus
from kuaidan.logistics.domain.geo import Place, Zone, zone_between


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    price: float = 0.35
    speed: float = 0.15
    on_time: float = 0.25
    intact: float = 0.15
    satisfaction: float = 0.10
    probation_factor: float = 0.8


@dataclass(frozen=True, slots=True)
class CarrierQuality:
    """Measured quality: rates in 0-1, satisfaction as a mean rating 1-5."""

    on_time_rate: float
    intact_rate: float
    satisfaction: float
    shipments: int = 0


@dataclass(frozen=True, slots=True)
class CarrierQuote:
    code: str
    name: str
    status: CarrierStatus
    zone: Zone
    price_fen: int
    promise_days: int
    quality: CarrierQuality
    score: float


DEFAULT_WEIGHTS = ScoreWeights()
PRIOR_WEIGHT = 30  # shipments' worth of belief in the agreement's targets


def prior_quality(carrier: CarrierProfile) -> CarrierQuality:
    agreement = carrier.agreement
    return CarrierQuality(
        agreement.on_time_target, agreement.intact_target, agreement.satisfaction_target
    )


def effective_quality(
    carrier: CarrierProfile, measured: CarrierQuality | None, *, prior_weight: int = PRIOR_WEIGHT
) -> CarrierQuality:
    """Measured quality shrunk toward the agreement's targets: (k·target + n·measured)/(k+n)."""
    prior = prior_quality(carrier)
    if measured is None or measured.shipments <= 0:
        return prior
    n, k = measured.shipments, prior_weight

    def blend(target: float, value: float) -> float:
        return (k * target + n * value) / (k + n)

    return CarrierQuality(
        blend(prior.on_time_rate, measured.on_time_rate),
        blend(prior.intact_rate, measured.intact_rate),
        blend(prior.satisfaction, measured.satisfaction),
        measured.shipments,
    )


def _unit(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _score(quote: CarrierQuote, *, cheapest: int, fastest: int, weights: ScoreWeights) -> float:
    q = quote.quality
    total = (
        weights.price * (cheapest / quote.price_fen)
        + weights.speed * (fastest / quote.promise_days)
        + weights.on_time * _unit(q.on_time_rate)
        + weights.intact * _unit(q.intact_rate)
        + weights.satisfaction * _unit((q.satisfaction - 1.0) / 4.0)
    )
    if quote.status == CarrierStatus.PROBATION:
        total *= weights.probation_factor
    return round(100.0 * total, 6)


def rank_carriers(
    carriers: Sequence[CarrierProfile],
    *,
    origin: Place,
    destination: Place,
    weight_g: int,
    quality: Mapping[str, CarrierQuality] | None = None,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
) -> list[CarrierQuote]:
    """Eligible carriers, best first. ``quality`` is keyed by carrier code (effective quality;
    a carrier missing from it is judged by its agreement's targets)."""
    zone = zone_between(origin, destination)
    quality = quality or {}
    drafts = [
        CarrierQuote(
            code=c.code,
            name=c.name,
            status=c.status,
            zone=zone,
            price_fen=c.prices.price_fen(zone, weight_g),
            promise_days=c.agreement.promise_for(zone),
            quality=quality.get(c.code) or prior_quality(c),
            score=0.0,
        )
        for c in carriers
        if c.status != CarrierStatus.SUSPENDED and c.covers(origin, destination)
    ]
    if not drafts:
        return []
    cheapest = min(d.price_fen for d in drafts)
    fastest = min(d.promise_days for d in drafts)
    scored = [
        replace(d, score=_score(d, cheapest=cheapest, fastest=fastest, weights=weights))
        for d in drafts
    ]
    return sorted(scored, key=lambda q: (-q.score, q.price_fen, q.code))
