"""Merchants' reactions to events: order events become signed webhook deliveries."""

from __future__ import annotations

from kuaidan.config import Settings
from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import Event
from kuaidan.core.worker import Envelope, Handler, Registry, Subscription
from kuaidan.merchants import service
from kuaidan.merchants.adapters.webhooks import HttpWebhookSender
from kuaidan.merchants.events import WebhookDue
from kuaidan.ordering.aftersales.events import AfterSalesChanged
from kuaidan.ordering.changes.events import OrderChanged
from kuaidan.ordering.events import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderDelivered,
    OrderPaid,
    OrderShipped,
)
from kuaidan.ordering.interception.events import OrderInterceptionChanged

# The order events forwarded to merchants' endpoints, in the order of
# ``merchants.domain.WEBHOOK_TOPICS`` (the topics an endpoint may choose; a test holds the two
# equal).
WEBHOOK_EVENTS: tuple[type[Event], ...] = (
    OrderCreated,
    OrderPaid,
    OrderCancelled,
    OrderShipped,
    OrderDelivered,
    OrderCompleted,
    OrderChanged,
    OrderInterceptionChanged,
    AfterSalesChanged,
)


async def enqueue(uow: UnitOfWork, envelope: Envelope[Event]) -> None:
    """Any order event: forwarded as stored, so an endpoint gets what was published."""
    await service.enqueue_webhooks(
        uow=uow,
        event_id=envelope.event_id,
        topic=envelope.event.topic,
        payload=envelope.payload,
    )


def enqueue_subscriptions() -> list[Subscription]:
    """One enqueue handler per forwarded event, its inbox named after the event's topic."""
    return [
        Subscription(f"merchants.webhooks.enqueue.{event.topic}", event, enqueue)
        for event in WEBHOOK_EVENTS
    ]


def _sender_handler(sender: HttpWebhookSender) -> Handler[WebhookDue]:
    async def send(uow: UnitOfWork, envelope: Envelope[WebhookDue]) -> None:
        await service.send_webhook(uow=uow, delivery_id=envelope.event.delivery_id, sender=sender)

    return send


def registry(settings: Settings) -> Registry:
    sender = HttpWebhookSender(
        timeout_s=settings.webhook_timeout_s, extra_ca_file=settings.webhook_ca_file
    )
    subscriptions = enqueue_subscriptions()
    subscriptions.append(
        Subscription(
            "merchants.webhooks.send", WebhookDue, _sender_handler(sender), transactional=False
        )
    )
    return Registry(subscriptions=subscriptions)
