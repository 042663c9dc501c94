"""The worker: delivers outbox events to handlers and runs scheduled jobs.

Runs as ``kuaidan worker`` (any number of them, on any number of machines) and, in the
embedded default, as a task inside ``serve``. Deliveries are leased, so a crashed worker's
work is taken over when its lease runs out; a transactional handler's effects commit together
with its inbox entry, so a delivery that is run twice has its effects once.

Each worker keeps, in memory, when every scheduled job is next due and tries a job's lease only
then, so an idle pass costs two statements however many jobs are registered. The lease UPDATE
stays the arbiter between workers: when another worker got there first, the failed attempt
reads the job's row and moves this worker's due time forward.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update

from kuaidan.core import logs, outbox
from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import Claim, Event, EventRecord, ScheduledJob

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
E_co = TypeVar("E_co", bound=Event, covariant=True)


@dataclass(frozen=True, slots=True)
class Envelope(Generic[E_co]):
    """What a handler receives: the typed event and the outbox's facts about it: its id (a
    dedupe key for outside parties), the key it was published with, when, and its payload as
    stored (to forward it unchanged)."""

    event: E_co
    event_id: int
    key: str | None
    created_at: datetime
    payload: dict[str, Any]


Handler = Callable[[UnitOfWork, Envelope[E]], Awaitable[None]]
JobFn = Callable[[UnitOfWork], Awaitable[None]]


class Subscription:
    """``handler`` reacts to events of class ``event_type`` (stored under its ``topic``);
    ``name`` is its stable inbox identity.

    A transactional handler runs inside the delivery's transaction (its own ``atomic()`` joins
    it). A non-transactional one (it calls an outside party) runs with no transaction open and
    must be idempotent by itself, e.g. by passing the event id along as a dedupe key.

    The constructor, not the class, is generic: mypy checks in every call that the handler
    takes what ``event_type`` loads, also inside a list, where a generic class would be read as
    ``Subscription[Any]`` and let any pair through.
    """

    __slots__ = ("event_type", "handler", "name", "transactional")

    def __init__(
        self, name: str, event_type: type[E], handler: Handler[E], *, transactional: bool = True
    ) -> None:
        self.name = name
        self.event_type: type[Event] = event_type
        self.handler: Handler[Any] = handler
        self.transactional = transactional

    @property
    def topic(self) -> str:
        return self.event_type.topic

    def __repr__(self) -> str:
        return f"Subscription({self.name!r}, {self.event_type.__qualname__})"


def envelope_for(record: EventRecord, sub: Subscription) -> Envelope[Event]:
    """Open a stored event as the class ``sub`` subscribed to; an event of another topic (a
    delivery left from before its handler's name was given to another subscription) is an
    error of the delivery, not a wrongly typed event."""
    if record.topic != sub.topic:
        raise LookupError(f"handler {sub.name!r} takes {sub.topic!r}, not {record.topic!r}")
    event = record.load(sub.event_type)
    return Envelope(event, record.id, record.key, record.created_at, record.payload)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: timedelta
    run: JobFn


@dataclass
class Registry:
    subscriptions: list[Subscription] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [s.name for s in self.subscriptions]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"handler names must be unique: {sorted(duplicates)}")
        _check_topics(self.subscriptions)

    def handlers_by_topic(self) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for sub in self.subscriptions:
            table.setdefault(sub.topic, []).append(sub.name)
        return table

    def handler(self, name: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.name == name), None)


def _check_topics(subscriptions: Iterable[Subscription]) -> None:
    """Every event class has a topic, and no two classes claim one: the topic is how the
    outbox stores an event, so it must say which class to open it as."""
    classes: dict[str, type[Event]] = {}
    for sub in subscriptions:
        topic = getattr(sub.event_type, "topic", None)
        if not isinstance(topic, str) or not topic:
            name = getattr(sub.event_type, "__qualname__", repr(sub.event_type))
            raise TypeError(f"{sub.name}: event class {name} has no topic")
        claimed = classes.setdefault(topic, sub.event_type)
        if claimed is not sub.event_type:
            raise ValueError(
                f"two event classes claim the topic {topic!r}: "
                f"{_qualified(claimed)} and {_qualified(sub.event_type)}"
            )


def _qualified(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_cap: timedelta = timedelta(minutes=15)
    poll_interval_s: float = 1.0


class JobSchedule:
    """When each job is next due, as far as this worker knows: ``None`` (not known yet) counts
    as due now. The database row is the truth; this only saves asking it too early."""

    def __init__(self, jobs: Iterable[Job]) -> None:
        self._due: dict[str, datetime | None] = {job.name: None for job in jobs}

    def due(self, jobs: Iterable[Job], now: datetime) -> list[Job]:
        return [job for job in jobs if (at := self._due.get(job.name)) is None or at <= now]

    def set(self, name: str, at: datetime) -> None:
        self._due[name] = at

    def seconds_until_next(self, now: datetime) -> float:
        """Until the earliest known due time (0 when a job is due or not known yet)."""
        if not self._due:
            return float("inf")
        if any(at is None for at in self._due.values()):
            return 0.0
        earliest = min(at for at in self._due.values() if at is not None)
        return max((earliest - now).total_seconds(), 0.0)


def next_due(
    job: Job,
    *,
    next_run_at: datetime | None,
    lease_until: datetime | None,
    now: datetime,
    retry: timedelta,
) -> datetime:
    """When to try ``job``'s lease again after an attempt that did not get it.

    A row leased by another worker gets a new ``next_run_at`` of at least ``now + every`` when
    that run ends, and is free again at ``lease_until`` if that worker died; a row due later
    is due at its ``next_run_at``. ``retry`` bounds the wait when the row says neither (it is
    missing, or it changed under us).
    """
    if lease_until is not None and lease_until > now:
        return min(now + job.every, lease_until)
    if next_run_at is not None and next_run_at > now:
        return next_run_at
    return now + min(job.every, retry)


def backoff(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential: base, 2·base, 4·base … capped."""
    delay: timedelta = base * (2 ** max(attempts - 1, 0))
    return min(delay, cap)


class Worker:
    def __init__(
        self,
        *,
        unit_of_work: Callable[[], UnitOfWork],
        registry: Registry,
        settings: WorkerSettings | None = None,
    ) -> None:
        self._uow = unit_of_work
        self.registry = registry
        self.settings = settings or WorkerSettings()
        self._wake = asyncio.Event()
        self._handlers_by_topic = registry.handlers_by_topic()
        self._schedule = JobSchedule(registry.jobs)
        self._idle_s = self.settings.poll_interval_s

    def wake(self) -> None:
        """Called after a commit that published events: look now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """One pass: fan out new events, run due deliveries, run due jobs. Returns work done."""
        events, jobs = await self._pass()
        return events + jobs

    async def _pass(self) -> tuple[int, int]:
        """One pass; returns the events fanned out and deliveries made, and the jobs run."""
        events = 0
        uow = self._uow()
        try:
            events += await outbox.fan_out(
                uow, handlers_by_topic=self._handlers_by_topic, limit=self.settings.batch
            )
            claims = await outbox.claim_deliveries(
                uow, limit=self.settings.batch, lease=self.settings.lease
            )
            for claim in claims:
                event = claim.event
                with logs.bound(
                    event=event.id, topic=event.topic, key=event.key, handler=claim.handler
                ):
                    await self._deliver(uow, claim)
            events += len(claims)
            jobs = await self._run_due_jobs(uow)
            self._idle_s = min(
                self.settings.poll_interval_s, self._schedule.seconds_until_next(uow.now())
            )
        finally:
            await uow.close()
        return events, jobs

    async def run_until_idle(self, *, max_passes: int = 100) -> int:
        """Passes until nothing is left to do now (tests and `kuaidan worker --once`)."""
        total = 0
        for _ in range(max_passes):
            done = await self.run_once()
            total += done
            if not done:
                break
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Passes until ``stop``. After a pass that found events, the next starts at once;
        otherwise the worker sleeps until its next job is due, a wake-up (events committed in
        this process, a job's too) or the poll interval (events committed elsewhere)."""
        await self.ensure_jobs()
        while not stop.is_set():
            self._wake.clear()  # before the pass: a wake-up during it is not lost
            try:
                events, _jobs = await self._pass()
            except Exception:
                log.exception("worker pass failed; retrying after the poll interval")
                events, self._idle_s = 0, self.settings.poll_interval_s
            if events:
                continue
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self._idle_s, return_when="FIRST_COMPLETED")
            for task in waiters:
                task.cancel()

    async def _deliver(self, uow: UnitOfWork, claim: Claim) -> None:
        sub = self.registry.handler(claim.handler)
        try:
            if sub is None:
                raise LookupError(f"no handler named {claim.handler!r} is registered")
            envelope = envelope_for(claim.event, sub)
            if sub.transactional:
                async with uow.atomic():
                    await sub.handler(uow, envelope)
                    await outbox.mark_done(uow, claim)
            else:
                await sub.handler(uow, envelope)
                async with uow.atomic():
                    await outbox.mark_done(uow, claim)
        except outbox.StaleClaim:
            log.warning("delivery %s was taken over; its effects were rolled back", claim)
        except Exception as exc:
            await self._failed(uow, claim, exc)

    async def _failed(self, uow: UnitOfWork, claim: Claim, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        retry_in = None
        if claim.attempts < self.settings.max_attempts:
            retry_in = backoff(
                claim.attempts, base=self.settings.backoff_base, cap=self.settings.backoff_cap
            )
        log.warning(
            "handler %s failed on event %s (attempt %s): %s%s",
            claim.handler,
            claim.event.id,
            claim.attempts,
            error,
            "" if retry_in else " — moved to the dead letters",
        )
        await outbox.mark_failed(uow, claim, error=error, retry_in=retry_in)

    async def ensure_jobs(self) -> None:
        """Insert a schedule row for every registered job that has none yet, and learn when
        the others are due."""
        uow = self._uow()
        try:
            async with uow.atomic():
                now = uow.now()
                rows = (
                    await uow.session.execute(
                        select(
                            ScheduledJob.name, ScheduledJob.next_run_at, ScheduledJob.lease_until
                        )
                    )
                ).all()
                known = {
                    name: (next_run_at, lease_until) for name, next_run_at, lease_until in rows
                }
                for job in self.registry.jobs:
                    if job.name in known:
                        next_run_at, lease_until = known[job.name]
                        if next_run_at > now:
                            self._learn(job, next_run_at, lease_until, now)
                        continue
                    uow.session.add(
                        ScheduledJob(
                            name=job.name,
                            interval_s=int(job.every.total_seconds()),
                            next_run_at=now,
                            runs=0,
                        )
                    )
        finally:
            await uow.close()

    async def _run_due_jobs(self, uow: UnitOfWork) -> int:
        """Try the lease of each job due by this worker's schedule, and run those it gets."""
        ran = 0
        for job in self._schedule.due(self.registry.jobs, uow.now()):
            if await _take_job_lease(uow, job.name, self.settings.lease):
                with logs.bound(job=job.name):
                    await self._run_job(uow, job)
                ran += 1
            else:
                await self._learn_from_row(uow, job)
        return ran

    async def _learn_from_row(self, uow: UnitOfWork, job: Job) -> None:
        """Another worker has the job, or it is not due yet: when to try again."""
        async with uow.atomic():
            row = (
                await uow.session.execute(
                    select(ScheduledJob.next_run_at, ScheduledJob.lease_until).where(
                        ScheduledJob.name == job.name
                    )
                )
            ).first()
            now = uow.now()
        next_run_at, lease_until = row if row is not None else (None, None)
        self._learn(job, next_run_at, lease_until, now)

    def _learn(
        self,
        job: Job,
        next_run_at: datetime | None,
        lease_until: datetime | None,
        now: datetime,
    ) -> None:
        retry = timedelta(seconds=self.settings.poll_interval_s)
        self._schedule.set(
            job.name,
            next_due(job, next_run_at=next_run_at, lease_until=lease_until, now=now, retry=retry),
        )

    async def _run_job(self, uow: UnitOfWork, job: Job) -> None:
        error: str | None = None
        try:
            await job.run(uow)
        except Exception as exc:
            log.exception("job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"
        now = uow.now()
        self._schedule.set(job.name, now + job.every)
        async with uow.atomic():
            await uow.session.execute(
                update(ScheduledJob)
                .where(ScheduledJob.name == job.name)
                .values(
                    next_run_at=now + job.every,
                    lease_until=None,
                    last_run_at=now,
                    last_error=error,
                    runs=ScheduledJob.runs + 1,
                )
            )


async def _take_job_lease(uow: UnitOfWork, name: str, lease: timedelta) -> bool:
    """One atomic conditional update: whoever changes the row owns this run of the job."""
    now = uow.now()
    async with uow.atomic():
        result = await uow.session.execute(
            update(ScheduledJob)
            .where(
                ScheduledJob.name == name,
                ScheduledJob.next_run_at <= now,
                (ScheduledJob.lease_until.is_(None)) | (ScheduledJob.lease_until < now),
            )
            .values(lease_until=now + lease)
        )
    return int(getattr(result, "rowcount", 0)) == 1


def merge_registries(parts: Iterable[Registry]) -> Registry:
    subs: list[Subscription] = []
    jobs: list[Job] = []
    for part in parts:
        subs.extend(part.subscriptions)
        jobs.extend(part.jobs)
    return Registry(subscriptions=subs, jobs=jobs)
