"""The worker: delivers outbox events to handlers and runs scheduled jobs.

Runs as ``kuaidan worker`` (any number of them, on any number of machines) and, in the
embedded default, as a task inside ``serve``. Deliveries are leased, so a crashed worker's
work is taken over when its lease runs out; a transactional handler's effects commit together
with its inbox entry, so a delivery that is run twice has its effects once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update

from kuaidan.core import outbox
from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import Claim, EventRecord, ScheduledJob

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, EventRecord], Awaitable[None]]
JobFn = Callable[[UnitOfWork], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """``handler`` reacts to events of ``topic``; ``name`` is its stable inbox identity.

    A transactional handler runs inside the delivery's transaction (its own ``atomic()`` joins
    it). A non-transactional one (it calls an outside party) runs with no transaction open and
    must be idempotent by itself, e.g. by passing the event id along as a dedupe key.
    """

    name: str
    topic: str
    handler: Handler
    transactional: bool = True


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

    def handlers_by_topic(self) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for sub in self.subscriptions:
            table.setdefault(sub.topic, []).append(sub.name)
        return table

    def handler(self, name: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.name == name), None)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=2)
    backoff_cap: timedelta = timedelta(minutes=15)
    poll_interval_s: float = 1.0


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

    def wake(self) -> None:
        """Called after a commit that published events: look now instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """One pass: fan out new events, run due deliveries, run due jobs. Returns work done."""
        done = 0
        uow = self._uow()
        try:
            done += await outbox.fan_out(
                uow, handlers_by_topic=self._handlers_by_topic, limit=self.settings.batch
            )
            claims = await outbox.claim_deliveries(
                uow, limit=self.settings.batch, lease=self.settings.lease
            )
            for claim in claims:
                await self._deliver(uow, claim)
            done += len(claims)
            done += await self._run_due_jobs(uow)
        finally:
            await uow.close()
        return done

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
        await self.ensure_jobs()
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("worker pass failed; retrying after the poll interval")
                done = 0
            if done:
                continue
            self._wake.clear()
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
            await asyncio.wait(
                waiters, timeout=self.settings.poll_interval_s, return_when="FIRST_COMPLETED"
            )
            for task in waiters:
                task.cancel()

    async def _deliver(self, uow: UnitOfWork, claim: Claim) -> None:
        sub = self.registry.handler(claim.handler)
        try:
            if sub is None:
                raise LookupError(f"no handler named {claim.handler!r} is registered")
            if sub.transactional:
                async with uow.atomic():
                    await sub.handler(uow, claim.event)
                    await outbox.mark_done(uow, claim)
            else:
                await sub.handler(uow, claim.event)
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
        """Insert a schedule row for every registered job that has none yet."""
        uow = self._uow()
        try:
            async with uow.atomic():
                known = set((await uow.session.scalars(select(ScheduledJob.name))).all())
                for job in self.registry.jobs:
                    if job.name not in known:
                        uow.session.add(
                            ScheduledJob(
                                name=job.name,
                                interval_s=int(job.every.total_seconds()),
                                next_run_at=uow.now(),
                                runs=0,
                            )
                        )
        finally:
            await uow.close()

    async def _run_due_jobs(self, uow: UnitOfWork) -> int:
        ran = 0
        for job in self.registry.jobs:
            if await _take_job_lease(uow, job.name, self.settings.lease):
                await self._run_job(uow, job)
                ran += 1
        return ran

    async def _run_job(self, uow: UnitOfWork, job: Job) -> None:
        error: str | None = None
        try:
            await job.run(uow)
        except Exception as exc:
            log.exception("job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"
        now = uow.now()
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
