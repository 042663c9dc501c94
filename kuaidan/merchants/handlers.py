"""Merchants' reactions to events: order events become signed webhook deliveries."""

from __future__ import annotations

from kuaidan.config import Settings
from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import EventRecord
from kuaidan.core.worker import Handler, Registry, Subscription
from kuaidan.merchants import service
from kuaidan.merchants.adapters.webhooks import HttpWebhookSender
from kuaidan.merchants.domain import WEBHOOK_TOPICS
from kuaidan.merchants.events import WebhookDue


async def enqueue(uow: UnitOfWork, record: EventRecord) -> None:
    await service.enqueue_webhooks(
        uow=uow, event_id=record.id, topic=record.topic, payload=record.payload
    )


def _sender_handler(sender: HttpWebhookSender) -> Handler:
    async def send(uow: UnitOfWork, record: EventRecord) -> None:
        due: WebhookDue = record.load(WebhookDue)
        await service.send_webhook(uow=uow, delivery_id=due.delivery_id, sender=sender)

    return send


def registry(settings: Settings) -> Registry:
    sender = HttpWebhookSender(
        timeout_s=settings.webhook_timeout_s, extra_ca_file=settings.webhook_ca_file
    )
    subscriptions = [
        Subscription(f"merchants.webhooks.enqueue.{topic}", topic, enqueue)
        for topic in WEBHOOK_TOPICS
    ]
    subscriptions.append(
        Subscription(
            "merchants.webhooks.send",
            WebhookDue.topic,
            _sender_handler(sender),
            transactional=False,
        )
    )
    return Registry(subscriptions=subscriptions)
