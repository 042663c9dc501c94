"""Exception rules: which shipments need someone to act, and why.

A rule fires for one *episode*: the time that started it (``trigger_at``). The same shipment
stuck twice, or in trouble again after a case was resolved, opens a new case; the same
episode seen by the next run of the detection job opens nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kuaidan.logistics.domain.tracking import ShipmentStatus, is_terminal


class ExceptionKind(StrEnum):
    NO_PICKUP = "no_pickup"
    STALE_IN_TRANSIT = "stale_in_transit"
    STALE_AT_DESTINATION = "stale_at_destination"
    PROBLEM = "problem"
    RETURNING = "returning"
    REFUSED = "refused"
    LOST = "lost"
    DAMAGED = "damaged"


class CaseStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    CHASE = "chase"  # press the carrier; the parcel is expected to move again
    RESHIP = "reship"  # send the buyer a new parcel
    REFUND = "refund"  # refund the buyer
    CLAIM = "claim"  # claim compensation from the carrier


@dataclass(frozen=True, slots=True)
class ExceptionRules:
    no_pickup_after: timedelta = timedelta(hours=48)
    stale_in_transit_after: timedelta = timedelta(hours=48)
    stale_at_destination_after: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ShipmentFacts:
    status: ShipmentStatus
    status_at: datetime | None
    booked_at: datetime | None  # when the carrier accepted it (None while booking)
    picked_up_at: datetime | None
    in_city_at: datetime | None
    last_scan_at: datetime | None
    damaged_at: datetime | None
    # When the platform asked the carrier to stop the parcel (None: never, or the carrier said
    # it could not).
    intercepted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Detected:
    kind: ExceptionKind
    trigger_at: datetime


STATE_KINDS: dict[ShipmentStatus, ExceptionKind] = {
    ShipmentStatus.PROBLEM: ExceptionKind.PROBLEM,
    ShipmentStatus.RETURNING: ExceptionKind.RETURNING,
    ShipmentStatus.REFUSED: ExceptionKind.REFUSED,
    ShipmentStatus.LOST: ExceptionKind.LOST,
}


def _silence(facts: ShipmentFacts, rules: ExceptionRules, now: datetime) -> Detected | None:
    if facts.booked_at is None or is_terminal(facts.status):
        return None
    if facts.picked_up_at is None and facts.last_scan_at is None:
        if now - facts.booked_at >= rules.no_pickup_after:
            return Detected(ExceptionKind.NO_PICKUP, facts.booked_at)
        return None
    last = facts.last_scan_at or facts.picked_up_at
    assert last is not None
    at_destination = facts.in_city_at is not None or facts.status in (
        ShipmentStatus.OUT_FOR_DELIVERY,
    )
    if at_destination and now - last >= rules.stale_at_destination_after:
        return Detected(ExceptionKind.STALE_AT_DESTINATION, last)
    if now - last >= rules.stale_in_transit_after:
        return Detected(ExceptionKind.STALE_IN_TRANSIT, last)
    return None


def _explained(facts: ShipmentFacts, kind: ExceptionKind) -> bool:
    """A parcel the platform had intercepted comes back because it was asked to: its return is
    the interception working (the after-sales case follows it), not a case for anyone here.
    Anything else that befalls it on the way back (loss, damage, silence) still is."""
    return kind == ExceptionKind.RETURNING and facts.intercepted_at is not None


def detect(facts: ShipmentFacts, *, rules: ExceptionRules, now: datetime) -> list[Detected]:
    """Every rule that fires for this shipment now."""
    found: list[Detected] = []
    kind = STATE_KINDS.get(facts.status)
    if kind is not None and facts.status_at is not None and not _explained(facts, kind):
        found.append(Detected(kind, facts.status_at))
    if facts.damaged_at is not None:
        found.append(Detected(ExceptionKind.DAMAGED, facts.damaged_at))
    silent = _silence(facts, rules, now)
    if silent is not None:
        found.append(silent)
    return found
