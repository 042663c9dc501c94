"""Ordering's scheduled work: expire unpaid orders, auto-complete received ones, prune keys.
The after-order cases' timers are their sub-areas' jobs."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry
from kuaidan.ordering import service

if TYPE_CHECKING:
    from kuaidan.config import Settings

log = logging.getLogger(__name__)


async def expire_unpaid(uow: UnitOfWork) -> None:
    expired = await service.expire_overdue_orders(uow=uow)
    if expired:
        log.info("expired %s unpaid orders", expired)


def _auto_complete(after: timedelta) -> Job:
    async def run(uow: UnitOfWork) -> None:
        done = await service.auto_complete_orders(uow=uow, after=after)
        if done:
            log.info("auto-completed %s orders", done)

    return Job("ordering.auto_complete", timedelta(minutes=10), run)


async def prune(uow: UnitOfWork) -> None:
    await service.prune(uow=uow)


def registry(settings: Settings) -> Registry:
    """The jobs, with the auto-completion wait taken from the settings."""
    policy = service.policy_from_settings(settings)
    return Registry(
        jobs=[
            Job("ordering.expire_unpaid", timedelta(seconds=30), expire_unpaid),
            _auto_complete(policy.auto_complete_after),
            Job("ordering.prune", timedelta(hours=1), prune),
        ]
    )
