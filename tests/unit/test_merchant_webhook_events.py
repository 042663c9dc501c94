"""The order events merchants' webhooks forward are the topics their endpoints may choose."""

from __future__ import annotations

from kuaidan.merchants.domain import WEBHOOK_TOPICS, check_webhook_topics
from kuaidan.merchants.handlers import WEBHOOK_EVENTS, enqueue_subscriptions


def test_the_forwarded_event_classes_are_the_topics_an_endpoint_may_choose() -> None:
    assert tuple(event.topic for event in WEBHOOK_EVENTS) == WEBHOOK_TOPICS


def test_every_choosable_topic_has_its_enqueue_handler_under_its_stored_name() -> None:
    subscriptions = enqueue_subscriptions()
    assert [(s.name, s.topic) for s in subscriptions] == [
        (f"merchants.webhooks.enqueue.{topic}", topic) for topic in WEBHOOK_TOPICS
    ]
    assert check_webhook_topics([s.topic for s in subscriptions]) == WEBHOOK_TOPICS
