"""The logistics area's own reactions: the carrier calls its use cases recorded as events.

Both handlers call the carrier, so they are non-transactional and idempotent by themselves:
a booking is idempotent at the carrier per shipment reference and recorded with a conditional
update; intercepting a parcel twice is answered like the first time.
"""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Envelope, Registry, Subscription
from kuaidan.logistics import service
from kuaidan.logistics.events import ShipmentBookingRequested, ShipmentInterceptionRequested


async def book_at_carrier(uow: UnitOfWork, envelope: Envelope[ShipmentBookingRequested]) -> None:
    await service.perform_booking(uow=uow, shipment_id=envelope.event.shipment_id)


async def intercept_at_carrier(
    uow: UnitOfWork, envelope: Envelope[ShipmentInterceptionRequested]
) -> None:
    await service.perform_interception(
        uow=uow, shipment_id=envelope.event.shipment_id, reason=envelope.event.reason
    )


REGISTRY = Registry(
    subscriptions=[
        Subscription(
            "logistics.book_at_carrier",
            ShipmentBookingRequested,
            book_at_carrier,
            transactional=False,
        ),
        Subscription(
            "logistics.intercept_at_carrier",
            ShipmentInterceptionRequested,
            intercept_at_carrier,
            transactional=False,
        ),
    ]
)
