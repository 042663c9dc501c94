"""Interception's reactions to logistics: the request went to the carrier, the carrier's answer
(and the buyer told when the parcel could not be stopped), the parcel back with the shop. The
handlers keep the names they had in the ordering core: their inboxes are found by them."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Registry, Subscription
from kuaidan.logistics.events import (
    ShipmentInterceptionRequested,
    ShipmentInterceptionResult,
    ShipmentReturned,
)
from kuaidan.ordering.interception import service as interception


async def on_interception_requested(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentInterceptionRequested = record.load(ShipmentInterceptionRequested)
    await interception.note_interception_sent(uow=uow, reference=event.reference)


async def on_interception_result(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentInterceptionResult = record.load(ShipmentInterceptionResult)
    await interception.record_interception_result(
        uow=uow, reference=event.reference, succeeded=event.succeeded, message=event.message
    )


async def tell_buyer_of_interception(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentInterceptionResult = record.load(ShipmentInterceptionResult)
    await interception.tell_buyer_of_failure(
        uow=uow, reference=event.reference, succeeded=event.succeeded
    )


async def on_shipment_returned(uow: UnitOfWork, record: EventRecord) -> None:
    event: ShipmentReturned = record.load(ShipmentReturned)
    await interception.record_parcel_returned(uow=uow, reference=event.reference)


REGISTRY = Registry(
    subscriptions=[
        # Interception after shipping: each answer moves the order's case one step.
        Subscription(
            "ordering.interception_sent",
            ShipmentInterceptionRequested.topic,
            on_interception_requested,
        ),
        Subscription(
            "ordering.interception_result", ShipmentInterceptionResult.topic, on_interception_result
        ),
        Subscription(
            "ordering.tell_buyer_of_interception",
            ShipmentInterceptionResult.topic,
            tell_buyer_of_interception,
            transactional=False,
        ),
        Subscription(
            "ordering.interception_returned", ShipmentReturned.topic, on_shipment_returned
        ),
    ]
)
