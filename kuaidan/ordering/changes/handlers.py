"""The changes' reaction to payments: a dearer change's extra payment succeeded, so the change
is applied (other payments are not a change's and are left alone). The handler keeps the name
it had when it lived in the ordering core: its inbox is found by that name."""

from __future__ import annotations

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Envelope, Registry, Subscription
from kuaidan.ordering.changes import service as changes
from kuaidan.payments.events import PaymentSucceeded


async def on_change_paid(uow: UnitOfWork, envelope: Envelope[PaymentSucceeded]) -> None:
    """The extra payment of a dearer change before shipping: the change is applied."""
    await changes.record_change_payment(uow=uow, reference=envelope.event.reference)


REGISTRY = Registry(
    subscriptions=[
        # A change's extra payment (other payments are not a change's and are left alone).
        Subscription("ordering.change_paid", PaymentSucceeded, on_change_paid),
    ]
)
