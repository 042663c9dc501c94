"""Events the logistics area publishes through the outbox.

``shipment.booking_requested`` and ``shipment.interception_requested`` are the area's own work
orders (a handler calls the carrier, never with a transaction open). The others tell ordering,
merchants and notifications what happened to a parcel; each carries the order's id and number
so that a subscriber needs no query of logistics' tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ShipmentBookingRequested:
    topic: ClassVar[str] = "shipment.booking_requested"
    shipment_id: int
    reference: str


@dataclass(frozen=True, slots=True)
class ShipmentBooked:
    topic: ClassVar[str] = "shipment.booked"
    shipment_id: int
    reference: str
    order_id: int | None
    order_number: str | None
    merchant_id: int
    buyer_id: int | None
    carrier_code: str
    carrier_name: str
    tracking_number: str
    booked_at: datetime


@dataclass(frozen=True, slots=True)
class ShipmentBookingFailed:
    topic: ClassVar[str] = "shipment.booking_failed"
    shipment_id: int
    reference: str
    order_id: int | None
    merchant_id: int
    carrier_code: str
    error: str


@dataclass(frozen=True, slots=True)
class ShipmentStatusChanged:
    """Every change of status (``shipment.status_changed``); the topics below add the ones a
    subscriber usually wants alone."""

    topic: ClassVar[str] = "shipment.status_changed"
    shipment_id: int
    reference: str
    order_id: int | None
    order_number: str | None
    merchant_id: int
    buyer_id: int | None
    tracking_number: str
    status: str
    previous: str
    at: datetime
    eta_earliest: datetime | None
    eta_latest: datetime | None


@dataclass(frozen=True, slots=True)
class ShipmentPickedUp:
    topic: ClassVar[str] = "shipment.picked_up"
    shipment_id: int
    reference: str
    order_id: int | None
    order_number: str | None
    tracking_number: str
    picked_up_at: datetime


@dataclass(frozen=True, slots=True)
class ShipmentDelivered:
    topic: ClassVar[str] = "shipment.delivered"
    shipment_id: int
    reference: str
    order_id: int | None
    order_number: str | None
    merchant_id: int
    buyer_id: int | None
    carrier_code: str
    tracking_number: str
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class ShipmentReturned:
    topic: ClassVar[str] = "shipment.returned"
    shipment_id: int
    reference: str
    order_id: int | None
    order_number: str | None
    merchant_id: int
    tracking_number: str
    returned_at: datetime


@dataclass(frozen=True, slots=True)
class ShipmentExceptionOpened:
    topic: ClassVar[str] = "shipment.exception"
    case_id: int
    kind: str
    shipment_id: int
    reference: str
    order_id: int | None
    order_number: str | None
    merchant_id: int
    buyer_id: int | None
    carrier_code: str
    tracking_number: str | None
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class ShipmentExceptionResolved:
    topic: ClassVar[str] = "shipment.exception_resolved"
    case_id: int
    kind: str
    shipment_id: int
    reference: str
    order_id: int | None
    merchant_id: int
    resolution: str
    claim_fen: int
    resolved_at: datetime


@dataclass(frozen=True, slots=True)
class ShipmentInterceptionRequested:
    topic: ClassVar[str] = "shipment.interception_requested"
    shipment_id: int
    reference: str
    reason: str


@dataclass(frozen=True, slots=True)
class ShipmentInterceptionResult:
    """The carrier's answer to an interception request, whichever it was."""

    topic: ClassVar[str] = "shipment.interception_result"
    shipment_id: int
    reference: str
    order_id: int | None
    merchant_id: int
    succeeded: bool
    message: str


@dataclass(frozen=True, slots=True)
class CarrierStatusChanged:
    topic: ClassVar[str] = "carrier.status_changed"
    carrier_code: str
    status: str
    previous: str
    reason: str
    at: datetime
