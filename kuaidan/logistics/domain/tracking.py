"""Tracking: the aggregator's state codes, our one status enum, and the rule that a
shipment's status never goes backwards whatever order the scans arrive in.

Statuses have a rank along two lines, the way to the buyer and the way back:

    created 0 → picked_up 1 → in_transit 2 → out_for_delivery 3 → damaged 4 → delivered 9
                                              refused 5 → returning 6 → returned 9
    lost 9, cancelled 9 (terminal like delivered and returned)

A scan moves the shipment to a higher rank only. ``problem`` is not on either line: a scan
newer than the current status may raise it over any open status, and the next newer scan of
the lines lowers it again, to the higher of that scan and the progress made before, so
``progress`` (the best rank reached) never decreases. Terminal statuses never change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ShipmentStatus(StrEnum):
    CREATED = "created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    PROBLEM = "problem"
    RETURNING = "returning"
    RETURNED = "returned"
    REFUSED = "refused"
    LOST = "lost"
    DAMAGED = "damaged"
    CANCELLED = "cancelled"


RANK: dict[ShipmentStatus, int] = {
    ShipmentStatus.CREATED: 0,
    ShipmentStatus.PICKED_UP: 1,
    ShipmentStatus.IN_TRANSIT: 2,
    ShipmentStatus.OUT_FOR_DELIVERY: 3,
    ShipmentStatus.DAMAGED: 4,
    ShipmentStatus.REFUSED: 5,
    ShipmentStatus.RETURNING: 6,
    ShipmentStatus.DELIVERED: 9,
    ShipmentStatus.RETURNED: 9,
    ShipmentStatus.LOST: 9,
    ShipmentStatus.CANCELLED: 9,
}
TERMINAL = frozenset(
    {
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED,
        ShipmentStatus.LOST,
        ShipmentStatus.CANCELLED,
    }
)
# Statuses that need someone's attention (an exception case).
TROUBLE = frozenset(
    {
        ShipmentStatus.PROBLEM,
        ShipmentStatus.RETURNING,
        ShipmentStatus.REFUSED,
        ShipmentStatus.LOST,
        ShipmentStatus.DAMAGED,
    }
)


class AggregatorState(StrEnum):
    """Kuaidi100's ``state`` codes."""

    IN_TRANSIT = "0"
    PICKED_UP = "1"
    PROBLEM = "2"
    SIGNED = "3"
    RETURN_SIGNED = "4"
    OUT_FOR_DELIVERY = "5"
    RETURNING = "6"
    FORWARDED = "7"
    CUSTOMS = "8"
    REFUSED = "14"


STATE_TO_STATUS: dict[str, ShipmentStatus] = {
    "0": ShipmentStatus.IN_TRANSIT,
    "1": ShipmentStatus.PICKED_UP,
    "2": ShipmentStatus.PROBLEM,
    "3": ShipmentStatus.DELIVERED,
    "4": ShipmentStatus.RETURNED,
    "5": ShipmentStatus.OUT_FOR_DELIVERY,
    "6": ShipmentStatus.RETURNING,
    "7": ShipmentStatus.IN_TRANSIT,
    "8": ShipmentStatus.IN_TRANSIT,
    "14": ShipmentStatus.REFUSED,
}
# Finer per-scan codes (``statusCode``) that say more than the state does.
ARRIVED_IN_CITY_CODE = "1001"
DAMAGED_CODE = "209"
LOST_CODE = "211"
SUB_CODE_TO_STATUS: dict[str, ShipmentStatus] = {
    ARRIVED_IN_CITY_CODE: ShipmentStatus.IN_TRANSIT,
    DAMAGED_CODE: ShipmentStatus.DAMAGED,
    LOST_CODE: ShipmentStatus.LOST,
}


def state_of_code(code: str) -> str | None:
    """The state a per-scan ``statusCode`` belongs to (``1001`` → ``0``, ``209`` → ``2``)."""
    if code in STATE_TO_STATUS:
        return code
    if code.startswith("100"):
        return AggregatorState.IN_TRANSIT.value
    if len(code) == 3 and code.isdigit():
        return code[0]
    return None


def status_of(state: str | None, sub_code: str | None = None) -> ShipmentStatus | None:
    """Our status for a scan's state and ``statusCode``; None when neither says anything."""
    if sub_code and sub_code in SUB_CODE_TO_STATUS:
        return SUB_CODE_TO_STATUS[sub_code]
    code = (state_of_code(sub_code) if sub_code else None) or state
    return STATE_TO_STATUS.get(code) if code else None


@dataclass(frozen=True, slots=True)
class ScanReport:
    """One scan as the aggregator reports it (``time`` parsed to UTC)."""

    at: datetime
    context: str
    location: str
    state: str | None
    sub_code: str | None

    @property
    def status(self) -> ShipmentStatus | None:
        return status_of(self.state, self.sub_code)

    @property
    def arrived_in_destination_city(self) -> bool:
        return self.sub_code == ARRIVED_IN_CITY_CODE

    def fingerprint(self) -> str:
        """Identity of a scan within its parcel: time, context and location."""
        text = f"{self.at.isoformat()}|{self.context}|{self.location}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class TrackingPush:
    """A verified push: the parcel, its overall state, and every scan it lists."""

    tracking_number: str
    carrier_code: str
    state: str
    signed: bool
    scans: tuple[ScanReport, ...]


@dataclass(frozen=True, slots=True)
class TrackState:
    status: ShipmentStatus
    progress: ShipmentStatus  # the best status on the lines reached so far
    status_at: datetime | None  # the time of the scan that set ``status``


def advance(state: TrackState, status: ShipmentStatus | None, at: datetime) -> TrackState:
    """The state after one scan of ``status`` taken at ``at`` (see the module's rule)."""
    if status is None or state.status in TERMINAL or status == ShipmentStatus.CREATED:
        return state
    newer = state.status_at is None or at >= state.status_at
    if status == ShipmentStatus.PROBLEM:
        return TrackState(status, state.progress, at) if newer else state
    if status == ShipmentStatus.CANCELLED:
        return state
    if RANK[status] > RANK[state.progress]:
        return TrackState(status, status, at if newer else state.status_at)
    if state.status == ShipmentStatus.PROBLEM and newer:
        return TrackState(state.progress, state.progress, at)
    return state


def fold(state: TrackState, scans: list[ScanReport]) -> TrackState:
    """Apply scans in the order given (received order; the rule makes it safe)."""
    for scan in scans:
        state = advance(state, scan.status, scan.at)
    return state


def is_terminal(status: ShipmentStatus) -> bool:
    return status in TERMINAL
