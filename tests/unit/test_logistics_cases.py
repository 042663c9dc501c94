"""Exception rules (one case per episode) and scorecards with their penalty review."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from kuaidan.logistics.domain.carriers import CarrierStatus, PenaltyTerms, ServiceAgreement
from kuaidan.logistics.domain.cases import (
    Detected,
    ExceptionKind,
    ExceptionRules,
    ShipmentFacts,
    detect,
)
from kuaidan.logistics.domain.geo import Zone
from kuaidan.logistics.domain.scorecards import ShipmentOutcome, compute_scorecard, review
from kuaidan.logistics.domain.tracking import ShipmentStatus

T0 = datetime(2026, 11, 11, tzinfo=UTC)
H = timedelta(hours=1)
RULES = ExceptionRules()
BOOKED = ShipmentFacts(ShipmentStatus.CREATED, None, T0, None, None, None, None)


def kinds(facts: ShipmentFacts, hours: float) -> list[ExceptionKind]:
    return [d.kind for d in detect(facts, rules=RULES, now=T0 + hours * H)]


def test_no_pickup_after_48_hours() -> None:
    assert kinds(BOOKED, 47.9) == []
    assert detect(BOOKED, rules=RULES, now=T0 + 48 * H) == [Detected(ExceptionKind.NO_PICKUP, T0)]


def test_silence_in_transit_and_at_the_destination() -> None:
    moving = replace(
        BOOKED, status=ShipmentStatus.IN_TRANSIT, picked_up_at=T0 + H, last_scan_at=T0 + 10 * H
    )
    assert kinds(moving, 57) == []
    assert kinds(moving, 58) == [ExceptionKind.STALE_IN_TRANSIT]
    arrived = replace(moving, in_city_at=T0 + 10 * H)
    assert kinds(arrived, 33.9) == []
    assert kinds(arrived, 34) == [ExceptionKind.STALE_AT_DESTINATION]
    found = detect(arrived, rules=RULES, now=T0 + 40 * H)
    assert found[0].trigger_at == T0 + 10 * H  # the episode: since the last scan


def test_trouble_states_and_damage_open_cases_at_once() -> None:
    for status, kind in [
        (ShipmentStatus.PROBLEM, ExceptionKind.PROBLEM),
        (ShipmentStatus.RETURNING, ExceptionKind.RETURNING),
        (ShipmentStatus.REFUSED, ExceptionKind.REFUSED),
        (ShipmentStatus.LOST, ExceptionKind.LOST),
    ]:
        facts = replace(
            BOOKED, status=status, status_at=T0 + H, picked_up_at=T0, last_scan_at=T0 + H
        )
        assert kinds(facts, 2) == [kind]
    damaged = replace(
        BOOKED, status=ShipmentStatus.DELIVERED, status_at=T0 + 9 * H, damaged_at=T0 + 5 * H
    )
    assert detect(damaged, rules=RULES, now=T0 + 99 * H) == [
        Detected(ExceptionKind.DAMAGED, T0 + 5 * H)
    ]


def test_a_parcel_returning_because_the_platform_intercepted_it_opens_no_returning_case() -> None:
    intercepted = replace(
        BOOKED,
        status=ShipmentStatus.RETURNING,
        status_at=T0 + 6 * H,
        picked_up_at=T0 + H,
        last_scan_at=T0 + 6 * H,
        intercepted_at=T0 + 5 * H,
    )
    assert kinds(intercepted, 7) == []
    assert kinds(replace(intercepted, intercepted_at=None), 7) == [ExceptionKind.RETURNING]


def test_an_intercepted_parcel_still_opens_cases_for_loss_damage_and_silence() -> None:
    intercepted = replace(
        BOOKED, picked_up_at=T0 + H, last_scan_at=T0 + 6 * H, intercepted_at=T0 + 5 * H
    )
    lost = replace(intercepted, status=ShipmentStatus.LOST, status_at=T0 + 9 * H)
    assert kinds(lost, 10) == [ExceptionKind.LOST]
    stuck = replace(intercepted, status=ShipmentStatus.RETURNING, status_at=T0 + 6 * H)
    assert kinds(stuck, 6 + 48) == [ExceptionKind.STALE_IN_TRANSIT]
    damaged = replace(stuck, damaged_at=T0 + 7 * H)
    assert kinds(damaged, 8) == [ExceptionKind.DAMAGED]


def test_finished_or_unbooked_shipments_are_never_stale() -> None:
    delivered = replace(BOOKED, status=ShipmentStatus.DELIVERED, last_scan_at=T0)
    assert kinds(delivered, 500) == []
    assert kinds(replace(BOOKED, booked_at=None), 500) == []


AGREEMENT = ServiceAgreement(
    dict.fromkeys(Zone, 2), 0.9, 0.99, 4.0, PenaltyTerms(min_shipments=4, on_time_floor=0.5)
)


def outcome(hours: float | None, *, damaged: bool = False, lost: bool = False) -> ShipmentOutcome:
    delivered = T0 + hours * H if hours is not None else None
    return ShipmentOutcome(T0, 2, delivered, delivered is not None or lost, damaged, lost, 0)


def test_a_scorecard_counts_against_the_promise() -> None:
    card = compute_scorecard(
        [
            outcome(20),
            outcome(48),
            outcome(49, damaged=True),
            outcome(None, lost=True),
            outcome(None),
        ],
        ratings=[5, 4, 3],
        claims_fen=12_000,
    )
    assert (card.shipments, card.finished, card.delivered, card.on_time) == (5, 4, 3, 2)
    assert card.intact == 2 and card.claims_fen == 12_000 and card.satisfaction == 4.0
    assert card.on_time_rate == 2 / 3 and card.intact_rate == 0.5


def test_breaches_lead_to_probation_then_suspension_and_a_clean_period_reinstates() -> None:
    late = compute_scorecard([outcome(20)] * 3 + [outcome(60)], ratings=[], claims_fen=0)
    assert late.on_time_rate == 0.75
    first = review(late, AGREEMENT, CarrierStatus.ACTIVE)
    assert first.status == CarrierStatus.PROBATION and first.breaches == ("on_time",)
    assert review(late, AGREEMENT, CarrierStatus.PROBATION).status == CarrierStatus.SUSPENDED
    clean = compute_scorecard([outcome(20)] * 4, ratings=[5], claims_fen=0)
    assert review(clean, AGREEMENT, CarrierStatus.PROBATION).status == CarrierStatus.ACTIVE
    assert review(clean, AGREEMENT, CarrierStatus.SUSPENDED).status == CarrierStatus.SUSPENDED


def test_a_broken_floor_suspends_at_once_and_few_shipments_judge_nothing() -> None:
    awful = compute_scorecard([outcome(90)] * 4, ratings=[], claims_fen=0)
    verdict = review(awful, AGREEMENT, CarrierStatus.ACTIVE)
    assert verdict.status == CarrierStatus.SUSPENDED and verdict.severe
    few = compute_scorecard([outcome(90)] * 3, ratings=[], claims_fen=0)
    assert review(few, AGREEMENT, CarrierStatus.ACTIVE).status == CarrierStatus.ACTIVE
