"""Transactional outbox: events are rows written in the same transaction as the change.

A use case calls :func:`publish` inside its ``uow.atomic()`` block; the event exists exactly
when the change does. The worker (``core/worker.py``) fans each event out to one delivery per
subscribed handler and runs the deliveries at least once, with retries and a dead-letter state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base, UnitOfWork

BigId = BigInteger().with_variant(Integer(), "sqlite")

PENDING, DONE, DEAD = "pending", "done", "dead"


class Event(Protocol):
    """A frozen dataclass with a ``topic`` class attribute, e.g. ``order.paid``."""

    topic: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Any]]


E = TypeVar("E", bound=Event)


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    available_at: Mapped[datetime]
    fanned_out: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (Index("ix_outbox_events_fan_out", "fanned_out", "id"),)


class OutboxDelivery(Base):
    """One event for one handler: the handler's inbox entry and its retry state."""

    __tablename__ = "outbox_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    handler: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("event_id", "handler"),
        Index("ix_outbox_deliveries_due", "status", "next_attempt_at"),
    )


class ScheduledJob(Base):
    """A recurring job; whoever takes the lease runs it, so one node runs each due job."""

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    interval_s: Mapped[int]
    next_run_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(default=0)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as stored: the worker opens it as the subscribed class for the handler."""

    id: int
    topic: str
    key: str | None
    payload: dict[str, Any]
    created_at: datetime

    def load(self, event_type: type[E]) -> E:
        """Rebuild the typed event (dates and nested values are validated back)."""
        event: E = _adapter(event_type).validate_python(self.payload)
        return event


@dataclass(frozen=True, slots=True)
class DeadLetter:
    delivery_id: int
    event_id: int
    topic: str
    handler: str
    attempts: int
    last_error: str | None
    created_at: datetime


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(event_type: type[Any]) -> TypeAdapter[Any]:
    """One validator/serialiser per event class: building one costs more than using it."""
    adapter = _ADAPTERS.get(event_type)
    if adapter is None:
        adapter = _ADAPTERS[event_type] = TypeAdapter(event_type)
    return adapter


def _dump(event: Event) -> dict[str, Any]:
    if not dataclasses.is_dataclass(event):
        raise TypeError(f"{type(event).__name__} is not a dataclass event")
    dumped: dict[str, Any] = _adapter(type(event)).dump_python(event, mode="json")
    return dumped


# Built once: an event is published with most changes, and building the statement and its
# cache key each time costs about as much as running it.
OUTBOX_EVENTS: Table = OutboxEvent.__table__  # type: ignore[assignment]
_INSERT_EVENT = insert(OUTBOX_EVENTS).returning(OUTBOX_EVENTS.c.id)


async def publish(
    uow: UnitOfWork, event: Event, *, key: str | None = None, not_before: datetime | None = None
) -> int:
    """Record ``event`` in the caller's transaction; delivered after commit, at least once."""
    if not uow.in_atomic:
        raise RuntimeError("publish() must run inside uow.atomic(): the event joins the change")
    now = uow.now()
    values = {
        "topic": event.topic,
        "key": key,
        "payload": _dump(event),
        "created_at": now,
        "available_at": max(now, not_before) if not_before else now,
    }
    # The statement's autoflush writes events publish_many() left pending first, so the
    # events keep the order they were published in.
    event_id = (await uow.session.execute(_INSERT_EVENT, values)).scalar_one()
    uow.after_commit(uow.notify_outbox)
    return int(event_id)


def publish_many(uow: UnitOfWork, events: Sequence[tuple[Event, str | None]]) -> None:
    """Record several events in the caller's transaction, in the order given, without a flush
    for each: they are written by the transaction's next flush, as one multi-row INSERT."""
    if not uow.in_atomic:
        raise RuntimeError("publish_many() must run inside uow.atomic(): events join the change")
    if not events:
        return
    now = uow.now()
    uow.session.add_all(
        [
            OutboxEvent(topic=e.topic, key=key, payload=_dump(e), created_at=now, available_at=now)
            for e, key in events
        ]
    )
    uow.after_commit(uow.notify_outbox)


async def fan_out(uow: UnitOfWork, *, handlers_by_topic: dict[str, list[str]], limit: int) -> int:
    """Create a pending delivery per subscribed handler for events not yet fanned out."""
    async with uow.atomic():
        rows = (
            await uow.session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.fanned_out.is_(False))
                .order_by(OutboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            for handler in handlers_by_topic.get(row.topic, []):
                uow.session.add(
                    OutboxDelivery(
                        event_id=row.id,
                        handler=handler,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=row.available_at,
                    )
                )
            row.fanned_out = True
        return len(rows)


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    handler: str
    attempts: int
    event: EventRecord


async def claim_deliveries(uow: UnitOfWork, *, limit: int, lease: timedelta) -> list[Claim]:
    """Lease due deliveries to this worker (SKIP LOCKED on PostgreSQL; serialised on SQLite)."""
    now = uow.now()
    async with uow.atomic():
        rows = (
            await uow.session.execute(
                select(OutboxDelivery, OutboxEvent)
                .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
                .where(
                    OutboxDelivery.status == PENDING,
                    OutboxDelivery.next_attempt_at <= now,
                    (OutboxDelivery.lease_until.is_(None)) | (OutboxDelivery.lease_until < now),
                )
                .order_by(OutboxDelivery.next_attempt_at, OutboxDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboxDelivery)
            )
        ).all()
        claims = []
        for delivery, event in rows:
            delivery.attempts += 1
            delivery.lease_until = now + lease
            record = EventRecord(event.id, event.topic, event.key, event.payload, event.created_at)
            claims.append(Claim(delivery.id, delivery.handler, delivery.attempts, record))
        return claims


class StaleClaim(RuntimeError):
    """The lease ran out and another worker took the delivery; this run's effects roll back."""


async def mark_done(uow: UnitOfWork, claim: Claim) -> None:
    """Inside the handler's transaction: the effects and the inbox entry commit together."""
    result = await uow.session.execute(
        update(OutboxDelivery)
        .where(
            OutboxDelivery.id == claim.delivery_id,
            OutboxDelivery.status == PENDING,
            OutboxDelivery.attempts == claim.attempts,
        )
        .values(status=DONE, done_at=uow.now(), lease_until=None, last_error=None)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise StaleClaim(f"delivery {claim.delivery_id} was taken over by another worker")


async def mark_failed(
    uow: UnitOfWork, claim: Claim, *, error: str, retry_in: timedelta | None
) -> None:
    """Schedule a retry, or park the delivery as dead when ``retry_in`` is None."""
    values: dict[str, Any] = {"lease_until": None, "last_error": error[:4000]}
    if retry_in is None:
        values["status"] = DEAD
    else:
        values["next_attempt_at"] = uow.now() + retry_in
    async with uow.atomic():
        await uow.session.execute(
            update(OutboxDelivery)
            .where(
                OutboxDelivery.id == claim.delivery_id,
                OutboxDelivery.status == PENDING,
                OutboxDelivery.attempts == claim.attempts,
            )
            .values(**values)
        )


async def dead_letters(uow: UnitOfWork, *, limit: int = 100) -> list[DeadLetter]:
    rows = (
        await uow.session.execute(
            select(OutboxDelivery, OutboxEvent)
            .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
            .where(OutboxDelivery.status == DEAD)
            .order_by(OutboxDelivery.id.desc())
            .limit(limit)
        )
    ).all()
    return [
        DeadLetter(d.id, e.id, e.topic, d.handler, d.attempts, d.last_error, e.created_at)
        for d, e in rows
    ]


async def retry_dead(uow: UnitOfWork, *, delivery_id: int | None = None) -> int:
    """Put dead deliveries (one, or all) back in the queue with a fresh attempt count."""
    stmt = update(OutboxDelivery).where(OutboxDelivery.status == DEAD)
    if delivery_id is not None:
        stmt = stmt.where(OutboxDelivery.id == delivery_id)
    async with uow.atomic():
        result = await uow.session.execute(
            stmt.values(status=PENDING, attempts=0, next_attempt_at=uow.now(), lease_until=None)
        )
    return int(getattr(result, "rowcount", 0))


async def backlog(uow: UnitOfWork) -> dict[str, int]:
    """Counts for monitoring: events not fanned out, deliveries pending and dead."""
    unfanned = await uow.session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.fanned_out.is_(False))
    )
    rows = await uow.session.execute(
        select(OutboxDelivery.status, func.count()).group_by(OutboxDelivery.status)
    )
    by_status: dict[str, int] = {}
    for status, count in rows:
        by_status[status] = count
    return {
        "events_waiting": int(unfanned or 0),
        "pending": int(by_status.get(PENDING, 0)),
        "dead": int(by_status.get(DEAD, 0)),
    }


async def prune(uow: UnitOfWork, *, older_than: datetime) -> int:
    """Delete events whose deliveries are all done, created before ``older_than``."""
    open_deliveries = select(OutboxDelivery.event_id).where(OutboxDelivery.status != DONE)
    async with uow.atomic():
        result = await uow.session.execute(
            delete(OutboxEvent).where(
                OutboxEvent.created_at < older_than,
                OutboxEvent.fanned_out.is_(True),
                OutboxEvent.id.not_in(open_deliveries),
            )
        )
    return int(getattr(result, "rowcount", 0))
