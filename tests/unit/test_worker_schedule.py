"""When a worker next tries a job's lease: from its own runs and from what the job's row says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, JobSchedule, next_due

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
RETRY = timedelta(seconds=1)


async def _noop(uow: UnitOfWork) -> None:
    return None


FIVE_MIN = Job("test.five", timedelta(minutes=5), _noop)
HOURLY = Job("test.hourly", timedelta(hours=1), _noop)


def test_jobs_with_no_known_due_time_are_due_at_once() -> None:
    schedule = JobSchedule([FIVE_MIN, HOURLY])
    assert schedule.due([FIVE_MIN, HOURLY], NOW) == [FIVE_MIN, HOURLY]
    assert schedule.seconds_until_next(NOW) == 0.0


def test_only_jobs_whose_time_has_come_are_due() -> None:
    schedule = JobSchedule([FIVE_MIN, HOURLY])
    schedule.set(FIVE_MIN.name, NOW + timedelta(minutes=5))
    schedule.set(HOURLY.name, NOW + timedelta(hours=1))
    assert schedule.due([FIVE_MIN, HOURLY], NOW + timedelta(minutes=4)) == []
    assert schedule.due([FIVE_MIN, HOURLY], NOW + timedelta(minutes=5)) == [FIVE_MIN]
    assert schedule.seconds_until_next(NOW) == 300.0
    assert schedule.seconds_until_next(NOW + timedelta(minutes=6)) == 0.0


def test_no_jobs_means_nothing_to_wait_for() -> None:
    assert JobSchedule([]).seconds_until_next(NOW) == float("inf")


def test_a_row_due_later_is_tried_at_its_next_run() -> None:
    later = NOW + timedelta(minutes=3)
    assert next_due(FIVE_MIN, next_run_at=later, lease_until=None, now=NOW, retry=RETRY) == later


def test_a_row_leased_elsewhere_is_tried_after_one_interval_or_when_the_lease_ends() -> None:
    long_lease = NOW + timedelta(minutes=10)
    short_lease = NOW + timedelta(seconds=60)
    assert next_due(
        FIVE_MIN, next_run_at=NOW, lease_until=long_lease, now=NOW, retry=RETRY
    ) == NOW + timedelta(minutes=5)
    assert (
        next_due(FIVE_MIN, next_run_at=NOW, lease_until=short_lease, now=NOW, retry=RETRY)
        == short_lease
    )


def test_a_missing_row_is_tried_again_soon() -> None:
    assert next_due(HOURLY, next_run_at=None, lease_until=None, now=NOW, retry=RETRY) == NOW + RETRY
