"""Ordering's scheduled work: expire unpaid orders, auto-complete received ones, approve
changes left unanswered, escalate or close after-sales cases whose timer ran out, prune keys."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry
from kuaidan.ordering import service
from kuaidan.ordering.service import aftersales, change_payments

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


def _auto_approve_changes(wait: timedelta) -> Job:
    async def run(uow: UnitOfWork) -> None:
        done = await service.auto_approve_changes(uow=uow, wait=wait)
        if done:
            log.info("auto-approved %s order changes", done)

    return Job("ordering.auto_approve_changes", timedelta(minutes=5), run)


def _expire_change_payments(ttl: timedelta) -> Job:
    async def run(uow: UnitOfWork) -> None:
        done = await change_payments.expire_change_payments(uow=uow, ttl=ttl)
        if done:
            log.info("failed %s order changes whose extra payment was not made", done)

    return Job("ordering.expire_change_payments", timedelta(seconds=30), run)


async def after_sales_timers(uow: UnitOfWork) -> None:
    done = await aftersales.run_timers(uow=uow)
    if done:
        log.info("escalated or closed %s after-sales cases", done)


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
            _auto_approve_changes(timedelta(hours=settings.order_change_approval_hours)),
            _expire_change_payments(policy.payment_ttl),
            Job("ordering.after_sales_timers", timedelta(minutes=5), after_sales_timers),
        ]
    )
