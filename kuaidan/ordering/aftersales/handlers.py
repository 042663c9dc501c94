"""After-sales' reactions: a return parcel booked or at the shop, a replacement delivered, a
refund arrived (parcels and refunds that are no case's are left alone). The handlers keep the
names they had in the ordering core: their inboxes are found by them."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Envelope, Registry, Subscription
from kuaidan.logistics.events import ShipmentBooked, ShipmentDelivered
from kuaidan.ordering.aftersales import service as aftersales
from kuaidan.payments.events import RefundSucceeded


async def on_after_sales_booked(uow: UnitOfWork, envelope: Envelope[ShipmentBooked]) -> None:
    event = envelope.event
    if event.order_id is None:  # orders' own parcels are handled above
        await aftersales.note_return_booked(
            uow=uow, reference=event.reference, tracking_number=event.tracking_number
        )


async def on_after_sales_delivered(uow: UnitOfWork, envelope: Envelope[ShipmentDelivered]) -> None:
    if envelope.event.order_id is None:
        await aftersales.parcel_delivered(uow=uow, reference=envelope.event.reference)


async def on_after_sales_refunded(uow: UnitOfWork, envelope: Envelope[RefundSucceeded]) -> None:
    await aftersales.refund_arrived(uow=uow, request_no=envelope.event.request_no)


REGISTRY = Registry(
    subscriptions=[
        # After-sales: a return parcel booked or at the shop, a replacement delivered, a refund
        # arrived (parcels and refunds that are no case's are left alone).
        Subscription("ordering.after_sales_booked", ShipmentBooked, on_after_sales_booked),
        Subscription("ordering.after_sales_delivered", ShipmentDelivered, on_after_sales_delivered),
        Subscription("ordering.after_sales_refunded", RefundSucceeded, on_after_sales_refunded),
    ]
)
