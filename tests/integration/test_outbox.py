"""The outbox and worker on a real database: at-least-once delivery, effects exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import func, select, text

from kuaidan.bootstrap import Container, build_container
from kuaidan.core import outbox
from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import OutboxDelivery
from kuaidan.core.worker import Envelope, Job, Registry, Subscription, Worker, WorkerSettings
from tests.conftest import isolated_database


class ManualClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass(frozen=True)
class ParcelMoved:
    topic: ClassVar[str] = "test.parcel_moved"
    parcel: str
    at: datetime
    grams: int


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, object]]:
    async with isolated_database(request.param, tmp_path_factory) as settings:
        yield request.param, settings


@pytest.fixture
async def env(database: tuple[str, object]) -> AsyncIterator[tuple[Container, ManualClock]]:
    _backend, settings = database
    clock = ManualClock()
    container = build_container(settings, clock=clock)  # type: ignore[arg-type]
    uow = container.unit_of_work()
    async with uow.atomic():  # each test starts from an empty outbox
        await uow.session.execute(text("DELETE FROM outbox_events"))
        await uow.session.execute(text("DELETE FROM scheduled_jobs"))
        await uow.session.execute(text("DELETE FROM ops_heartbeats"))
    await uow.close()
    try:
        yield container, clock
    finally:
        await container.aclose()


def make_worker(container: Container, registry: Registry, **kwargs: object) -> Worker:
    settings = WorkerSettings(backoff_base=timedelta(seconds=10), **kwargs)  # type: ignore[arg-type]
    return Worker(unit_of_work=container.unit_of_work, registry=registry, settings=settings)


async def publish(container: Container, *events: ParcelMoved) -> None:
    uow = container.unit_of_work()
    try:
        async with uow.atomic():
            for event in events:
                await outbox.publish(uow, event, key=event.parcel)
    finally:
        await uow.close()


async def record_effect(uow: UnitOfWork, name: str) -> None:
    """A database effect of a handler: one heartbeat row named after the event."""
    await uow.session.execute(
        text("INSERT INTO ops_heartbeats (node, beat_at) VALUES (:n, :t)"),
        {"n": name, "t": uow.now()},
    )


async def effects(container: Container) -> list[str]:
    uow = container.unit_of_work()
    try:
        rows = await uow.session.execute(text("SELECT node FROM ops_heartbeats ORDER BY node"))
        return [r[0] for r in rows]
    finally:
        await uow.close()


async def test_publish_outside_a_transaction_is_refused(env: tuple[Container, ManualClock]) -> None:
    container, clock = env
    uow = container.unit_of_work()
    with pytest.raises(RuntimeError, match="atomic"):
        await outbox.publish(uow, ParcelMoved("P1", clock.now(), 10))
    await uow.close()


async def test_handler_receives_the_typed_event_once(env: tuple[Container, ManualClock]) -> None:
    container, clock = env
    seen: list[ParcelMoved] = []

    async def on_moved(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        seen.append(envelope.event)

    registry = Registry([Subscription("test.collect", ParcelMoved, on_moved)])
    sent = ParcelMoved("SF123", clock.now(), 250)
    await publish(container, sent)
    worker = make_worker(container, registry)
    await worker.run_until_idle()
    await worker.run_until_idle()
    assert seen == [sent]


@pytest.mark.parametrize("transactional", [True, False])
async def test_the_envelope_says_which_event_it_carries(
    env: tuple[Container, ManualClock], transactional: bool
) -> None:
    container, clock = env
    seen: list[Envelope[ParcelMoved]] = []

    async def on_moved(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        seen.append(envelope)

    sub = Subscription("test.envelope", ParcelMoved, on_moved, transactional=transactional)
    sent = ParcelMoved("SF124", clock.now(), 300)
    uow = container.unit_of_work()
    try:
        async with uow.atomic():
            event_id = await outbox.publish(uow, sent, key="SF124")
    finally:
        await uow.close()
    clock.advance(timedelta(seconds=5))
    await make_worker(container, Registry([sub])).run_until_idle()
    stored = {"parcel": "SF124", "at": sent.at.isoformat().replace("+00:00", "Z"), "grams": 300}
    assert seen == [Envelope(sent, event_id, "SF124", sent.at, stored)]


async def test_events_keep_their_publish_order_whichever_way_they_were_published(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    uow = container.unit_of_work()
    try:
        async with uow.atomic():
            outbox.publish_many(
                uow,
                [(ParcelMoved("A", clock.now(), 1), "A"), (ParcelMoved("B", clock.now(), 2), "B")],
            )
            event_id = await outbox.publish(uow, ParcelMoved("C", clock.now(), 3), key="C")
    finally:
        await uow.close()
    uow = container.unit_of_work()
    try:
        rows = (
            await uow.session.execute(text("SELECT id, key FROM outbox_events ORDER BY id"))
        ).all()
    finally:
        await uow.close()
    assert [key for _id, key in rows] == ["A", "B", "C"]
    assert rows[-1][0] == event_id


async def test_an_event_rolled_back_with_its_change_is_never_delivered(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    seen: list[Envelope[ParcelMoved]] = []

    async def on_moved(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        seen.append(envelope)

    uow = container.unit_of_work()
    with pytest.raises(ZeroDivisionError):
        async with uow.atomic():
            await outbox.publish(uow, ParcelMoved("LOST", clock.now(), 1))
            _ = 1 / 0
    await uow.close()
    await make_worker(
        container, Registry([Subscription("test.rb", ParcelMoved, on_moved)])
    ).run_until_idle()
    assert seen == []


async def test_failing_handler_retries_with_backoff_then_succeeds(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    calls: list[datetime] = []

    async def flaky(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        calls.append(uow.now())
        await record_effect(uow, f"flaky-{len(calls)}")
        if len(calls) < 3:
            raise ConnectionError("carrier down")

    registry = Registry([Subscription("test.flaky", ParcelMoved, flaky)])
    await publish(container, ParcelMoved("YT1", clock.now(), 5))
    worker = make_worker(container, registry)
    await worker.run_until_idle()
    assert len(calls) == 1
    clock.advance(timedelta(seconds=9))
    await worker.run_until_idle()
    assert len(calls) == 1, "retried before its backoff ran out"
    clock.advance(timedelta(seconds=1))
    await worker.run_until_idle()
    clock.advance(timedelta(seconds=20))  # second backoff doubles: 20 s
    await worker.run_until_idle()
    assert len(calls) == 3
    # The failed attempts' effects rolled back with them; only the successful one stays.
    assert await effects(container) == ["flaky-3"]


async def test_exhausted_delivery_becomes_a_dead_letter_and_can_be_retried(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    healthy = False

    async def handler(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        if not healthy:
            raise ValueError("merchant endpoint answered 500")

    registry = Registry([Subscription("test.dead", ParcelMoved, handler)])
    await publish(container, ParcelMoved("ZT9", clock.now(), 5))
    worker = make_worker(container, registry, max_attempts=3)
    for _ in range(4):
        await worker.run_until_idle()
        clock.advance(timedelta(minutes=5))
    uow = container.unit_of_work()
    dead = await outbox.dead_letters(uow)
    assert [(d.handler, d.attempts) for d in dead] == [("test.dead", 3)]
    assert "answered 500" in (dead[0].last_error or "")
    assert (await outbox.backlog(uow))["dead"] == 1
    healthy = True
    assert await outbox.retry_dead(uow) == 1
    await uow.close()
    await worker.run_until_idle()
    uow = container.unit_of_work()
    assert await outbox.dead_letters(uow) == []
    assert (await outbox.backlog(uow)) == {"events_waiting": 0, "pending": 0, "dead": 0}
    await uow.close()


async def test_every_subscriber_gets_its_own_delivery(env: tuple[Container, ManualClock]) -> None:
    container, clock = env
    got: dict[str, int] = {"a": 0, "b": 0}

    async def a(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        got["a"] += 1

    async def b(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        got["b"] += 1
        if got["b"] == 1:
            raise RuntimeError("b fails once")

    registry = Registry(
        [Subscription("test.a", ParcelMoved, a), Subscription("test.b", ParcelMoved, b)]
    )
    await publish(container, ParcelMoved("X", clock.now(), 1))
    worker = make_worker(container, registry)
    await worker.run_until_idle()
    clock.advance(timedelta(minutes=1))
    await worker.run_until_idle()
    assert got == {"a": 1, "b": 2}, "a failure of b must not re-run a"


async def test_a_delivery_whose_lease_expired_is_taken_over_and_runs_once(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env

    async def handler(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        await record_effect(uow, f"effect-{envelope.key}")

    registry = Registry([Subscription("test.lease", ParcelMoved, handler)])
    await publish(container, ParcelMoved("L1", clock.now(), 1))
    crashed = make_worker(container, registry)
    uow = container.unit_of_work()
    await outbox.fan_out(uow, handlers_by_topic=registry.handlers_by_topic(), limit=10)
    [stale] = await outbox.claim_deliveries(uow, limit=10, lease=timedelta(seconds=60))
    await uow.close()
    # The first worker "crashed" holding the lease; nobody may take it before the lease ends.
    assert await make_worker(container, registry).run_until_idle() == 0
    clock.advance(timedelta(seconds=61))
    assert await make_worker(container, registry).run_until_idle() == 1
    # The crashed worker wakes up late and runs the handler: its effects roll back.
    await crashed._deliver(container.unit_of_work(), stale)
    assert await effects(container) == ["effect-L1"]


async def test_jobs_run_once_per_interval_across_workers(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    runs: list[datetime] = []

    async def tick(uow: UnitOfWork) -> None:
        runs.append(uow.now())

    registry = Registry(jobs=[Job("test.tick", timedelta(minutes=5), tick)])
    first, second = make_worker(container, registry), make_worker(container, registry)
    await first.ensure_jobs()
    await second.ensure_jobs()
    await asyncio.gather(first.run_once(), second.run_once())
    assert len(runs) == 1
    clock.advance(timedelta(minutes=4))
    await asyncio.gather(first.run_once(), second.run_once())
    assert len(runs) == 1
    clock.advance(timedelta(minutes=1))
    await asyncio.gather(first.run_once(), second.run_once())
    assert len(runs) == 2


async def test_concurrent_workers_share_the_work_without_duplicates(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    calls: list[str] = []

    async def handler(uow: UnitOfWork, envelope: Envelope[ParcelMoved]) -> None:
        calls.append(envelope.event.parcel)
        await record_effect(uow, f"c-{envelope.key}")

    registry = Registry([Subscription("test.share", ParcelMoved, handler)])
    events = [ParcelMoved(f"{i:04d}", clock.now(), i) for i in range(120)]
    await publish(container, *events)
    workers = [make_worker(container, registry, batch=10) for _ in range(3)]
    await asyncio.gather(*(w.run_until_idle() for w in workers))
    assert sorted(calls) == sorted(e.parcel for e in events)
    assert len(await effects(container)) == 120
    uow = container.unit_of_work()
    pending = await uow.session.scalar(
        select(func.count()).select_from(OutboxDelivery).where(OutboxDelivery.status != "done")
    )
    await uow.close()
    assert pending == 0
