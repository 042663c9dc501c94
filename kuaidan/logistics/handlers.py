"""The logistics area's own reactions: the carrier calls its use cases recorded as events.

Both handlers call the carrier, so they are non-transactional and idempotent by themselves:
a booking is idempotent at the carrier per shipment reference and recorded with a conditional
update; intercepting a parcel twice is answered like the first time.
"""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.logistics import service
from kuaidan.logistics.events import ShipmentBookingRequested, ShipmentInterceptionRequested


async def book_at_carrier(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentBookingRequested = record.load(ShipmentBookingRequested)
    await service.perform_booking(uow=uow, shipment_id=event.shipment_id)


async def intercept_at_carrier(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentInterceptionRequested = record.load(ShipmentInterceptionRequested)
    await service.perform_interception(uow=uow, shipment_id=event.shipment_id, reason=event.reason)


REGISTRY = Registry(
    subscriptions=[
        Subscription(
            "logistics.book_at_carrier",
            ShipmentBookingRequested.topic,
            book_at_carrier,
            transactional=False,
        ),
        Subscription(
            "logistics.intercept_at_carrier",
            ShipmentInterceptionRequested.topic,
            intercept_at_carrier,
            transactional=False,
        ),
    ]
)
