"""Subscriptions name the event class they take; the registry holds one class per topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import Event, EventRecord
from kuaidan.core.worker import Envelope, Registry, Subscription, envelope_for, merge_registries

AT = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ParcelMoved:
    topic: ClassVar[str] = "test.parcel_moved"
    parcel: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ParcelLost:
    topic: ClassVar[str] = "test.parcel_lost"
    parcel: str


@dataclass(frozen=True, slots=True)
class ParcelMovedAgain:
    """Another class claiming ``ParcelMoved``'s topic."""

    topic: ClassVar[str] = "test.parcel_moved"
    parcel: str


@dataclass(frozen=True, slots=True)
class NoTopic:
    parcel: str


async def on_moved(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
    raise AssertionError("not run here")


async def on_lost(uow: UnitOfWork, envelope: Envelope[ParcelLost]) -> None:
    raise AssertionError("not run here")


async def on_any(uow: UnitOfWork, envelope: Envelope[Event]) -> None:
    raise AssertionError("not run here")


def test_a_subscription_takes_its_topic_from_the_event_class() -> None:
    registry = Registry(
        [
            Subscription("test.moved", ParcelMoved, on_moved),
            Subscription("test.lost", ParcelLost, on_lost, transactional=False),
            Subscription("test.moved_too", ParcelMoved, on_any),
        ]
    )
    assert registry.handlers_by_topic() == {
        "test.parcel_moved": ["test.moved", "test.moved_too"],
        "test.parcel_lost": ["test.lost"],
    }
    lost = registry.handler("test.lost")
    assert lost is not None
    assert (lost.event_type, lost.topic, lost.transactional) == (
        ParcelLost,
        "test.parcel_lost",
        False,
    )


def test_a_handler_for_another_event_class_is_a_type_error() -> None:
    # mypy runs with warn_unused_ignores: were these lines accepted, their ignores would fail
    # it. Inside a list too, where a generic Subscription[Any] would have let the pair through.
    Subscription("test.mixed", ParcelLost, on_moved)  # type: ignore[arg-type]
    Registry([Subscription("test.mixed", ParcelLost, on_moved)])  # type: ignore[arg-type]


def test_registry_refuses_an_event_class_without_a_topic() -> None:
    with pytest.raises(TypeError, match="NoTopic has no topic"):
        Registry([Subscription("test.no_topic", NoTopic, on_any)])  # type: ignore[type-var, arg-type]


def test_registry_refuses_two_event_classes_claiming_one_topic() -> None:
    with pytest.raises(
        ValueError, match=r"'test\.parcel_moved'.*\.ParcelMoved and .*\.ParcelMovedAgain$"
    ):
        Registry(
            [
                Subscription("test.moved", ParcelMoved, on_moved),
                Subscription("test.moved_again", ParcelMovedAgain, on_any),
            ]
        )


def test_merged_registries_are_checked_as_one() -> None:
    first = Registry([Subscription("test.moved", ParcelMoved, on_moved)])
    second = Registry([Subscription("test.moved_again", ParcelMovedAgain, on_any)])
    with pytest.raises(ValueError, match="claim the topic"):
        merge_registries([first, second])
    with pytest.raises(ValueError, match="unique"):
        merge_registries([first, first])


def test_registry_refuses_two_handlers_of_one_name() -> None:
    with pytest.raises(ValueError, match=r"unique: \['test\.twice'\]"):
        Registry(
            [
                Subscription("test.twice", ParcelMoved, on_moved),
                Subscription("test.twice", ParcelLost, on_lost),
            ]
        )


def test_the_envelope_carries_the_typed_event_and_the_stored_record() -> None:
    payload = {"parcel": "SF1", "at": AT.isoformat()}
    record = EventRecord(7, ParcelMoved.topic, "SF1", payload, AT)
    envelope = envelope_for(record, Subscription("test.moved", ParcelMoved, on_moved))
    assert envelope == Envelope(ParcelMoved("SF1", AT), 7, "SF1", AT, payload)


def test_an_event_of_another_topic_is_not_opened_as_the_subscribed_class() -> None:
    record = EventRecord(7, ParcelLost.topic, "SF1", {"parcel": "SF1", "at": AT.isoformat()}, AT)
    with pytest.raises(LookupError, match=r"takes 'test\.parcel_moved', not 'test\.parcel_lost'"):
        envelope_for(record, Subscription("test.moved", ParcelMoved, on_moved))
