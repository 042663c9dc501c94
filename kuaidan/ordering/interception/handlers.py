"""Interception's reactions to logistics: the request went to the carrier, the carrier's answer
(and the buyer told when the parcel could not be stopped), the parcel back with the shop. The
handlers keep the names they had in the ordering core: their inboxes are found by them."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Envelope, Registry, Subscription
from kuaidan.logistics.events import (
    ShipmentInterceptionRequested,
    ShipmentInterceptionResult,
    ShipmentReturned,
)
from kuaidan.ordering.interception import service as interception


async def on_interception_requested(
    uow: UnitOfWork, envelope: Envelope[ShipmentInterceptionRequested]
) -> None:
    await interception.note_interception_sent(uow=uow, reference=envelope.event.reference)


async def on_interception_result(
    uow: UnitOfWork, envelope: Envelope[ShipmentInterceptionResult]
) -> None:
    event = envelope.event
    await interception.record_interception_result(
        uow=uow, reference=event.reference, succeeded=event.succeeded, message=event.message
    )


async def tell_buyer_of_interception(
    uow: UnitOfWork, envelope: Envelope[ShipmentInterceptionResult]
) -> None:
    await interception.tell_buyer_of_failure(
        uow=uow, reference=envelope.event.reference, succeeded=envelope.event.succeeded
    )


async def on_shipment_returned(uow: UnitOfWork, envelope: Envelope[ShipmentReturned]) -> None:
    await interception.record_parcel_returned(uow=uow, reference=envelope.event.reference)


REGISTRY = Registry(
    subscriptions=[
        # Interception after shipping: each answer moves the order's case one step.
        Subscription(
            "ordering.interception_sent",
            ShipmentInterceptionRequested,
            on_interception_requested,
        ),
        Subscription(
            "ordering.interception_result", ShipmentInterceptionResult, on_interception_result
        ),
        Subscription(
            "ordering.tell_buyer_of_interception",
            ShipmentInterceptionResult,
            tell_buyer_of_interception,
            transactional=False,
        ),
        Subscription("ordering.interception_returned", ShipmentReturned, on_shipment_returned),
    ]
)
