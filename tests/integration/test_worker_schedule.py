"""The worker's job schedule on a real database: a job costs statements only when it is due,
due jobs run once per interval across workers, and a lease left by a dead worker is taken over."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text, update

from kuaidan.bootstrap import Container, build_container
from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import ScheduledJob
from kuaidan.core.worker import Job, JobFn, Registry, Worker, WorkerSettings
from tests.conftest import isolated_database


class ManualClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[object]:
    async with isolated_database(request.param, tmp_path_factory) as settings:
        yield settings


@pytest.fixture
async def env(database: object) -> AsyncIterator[tuple[Container, ManualClock]]:
    clock = ManualClock()
    container = build_container(database, clock=clock)  # type: ignore[arg-type]
    uow = container.unit_of_work()
    async with uow.atomic():  # each test starts with no schedule rows and no events
        await uow.session.execute(text("DELETE FROM outbox_events"))
        await uow.session.execute(text("DELETE FROM scheduled_jobs"))
    await uow.close()
    try:
        yield container, clock
    finally:
        await container.aclose()


def counting_job(runs: list[str], name: str) -> JobFn:
    async def run(uow: UnitOfWork) -> None:
        runs.append(name)

    return run


def make_worker(container: Container, jobs: list[Job]) -> Worker:
    return Worker(
        unit_of_work=container.unit_of_work,
        registry=Registry(jobs=jobs),
        settings=WorkerSettings(lease=timedelta(seconds=60)),
    )


@contextmanager
def statements(container: Container) -> Iterator[list[str]]:
    """Every SQL statement sent while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    engine = container.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def on_jobs(sent: list[str]) -> list[str]:
    return [s for s in sent if "scheduled_jobs" in s]


async def test_jobs_not_yet_due_cost_no_statement(env: tuple[Container, ManualClock]) -> None:
    container, clock = env
    runs: list[str] = []
    jobs = [
        Job(f"test.job{i}", timedelta(minutes=5), counting_job(runs, f"job{i}")) for i in range(6)
    ]
    worker = make_worker(container, jobs)
    await worker.ensure_jobs()
    await worker.run_once()
    assert sorted(runs) == [f"job{i}" for i in range(6)]
    clock.advance(timedelta(minutes=4, seconds=59))
    with statements(container) as with_jobs:
        assert await worker.run_once() == 0
    with statements(container) as without_jobs:
        await make_worker(container, []).run_once()
    assert on_jobs(with_jobs) == []
    assert len(with_jobs) == len(without_jobs)
    assert len(runs) == 6


async def test_each_job_runs_at_its_own_interval(env: tuple[Container, ManualClock]) -> None:
    container, clock = env
    runs: list[str] = []
    fast = Job("test.fast", timedelta(minutes=1), counting_job(runs, "fast"))
    slow = Job("test.slow", timedelta(minutes=5), counting_job(runs, "slow"))
    worker = make_worker(container, [fast, slow])
    await worker.ensure_jobs()
    await worker.run_once()
    runs.clear()
    for _ in range(5):
        clock.advance(timedelta(minutes=1))
        with statements(container) as sent:
            await worker.run_once()
        assert all("test.slow" not in str(s) for s in sent)
        assert len(on_jobs(sent)) == (4 if runs[-1:] == ["slow"] else 2)
    assert runs == ["fast", "fast", "fast", "fast", "fast", "slow"]


async def test_a_job_run_by_another_worker_moves_the_due_time_forward(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    runs: list[str] = []
    job = Job("test.shared", timedelta(minutes=5), counting_job(runs, "shared"))
    first, second = make_worker(container, [job]), make_worker(container, [job])
    await first.ensure_jobs()
    await second.ensure_jobs()
    await first.run_once()
    with statements(container) as sent:
        assert await second.run_once() == 0  # the lease fails; the row says when it is due
    assert len(on_jobs(sent)) == 2
    clock.advance(timedelta(minutes=4))
    with statements(container) as sent:
        await first.run_once()
        await second.run_once()
    assert on_jobs(sent) == []
    clock.advance(timedelta(minutes=1))
    await second.run_once()
    await first.run_once()
    assert runs == ["shared", "shared"]


async def test_a_worker_started_later_learns_the_due_time_from_the_row(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    runs: list[str] = []
    job = Job("test.hourly", timedelta(hours=1), counting_job(runs, "hourly"))
    first = make_worker(container, [job])
    await first.ensure_jobs()
    await first.run_once()
    clock.advance(timedelta(minutes=30))
    late = make_worker(container, [job])
    await late.ensure_jobs()
    with statements(container) as sent:
        await late.run_once()
    assert on_jobs(sent) == []
    clock.advance(timedelta(minutes=30))
    await late.run_once()
    assert runs == ["hourly", "hourly"]


async def test_a_lease_left_by_a_dead_worker_is_taken_over_when_it_expires(
    env: tuple[Container, ManualClock],
) -> None:
    container, clock = env
    runs: list[str] = []
    job = Job("test.orphan", timedelta(minutes=10), counting_job(runs, "orphan"))
    worker = make_worker(container, [job])
    await worker.ensure_jobs()
    uow = container.unit_of_work()
    async with uow.atomic():  # what a worker that died in the middle of the job leaves behind
        await uow.session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.name == job.name)
            .values(lease_until=clock.now() + timedelta(seconds=60))
        )
    await uow.close()
    await worker.run_once()
    clock.advance(timedelta(seconds=59))
    with statements(container) as sent:
        await worker.run_once()
    assert on_jobs(sent) == []
    clock.advance(timedelta(seconds=2))
    await worker.run_once()
    assert runs == ["orphan"]
