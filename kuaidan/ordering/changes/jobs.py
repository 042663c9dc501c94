"""The changes' scheduled work: approve changes the merchant left unanswered, fail the changes
whose extra payment was not made in time. The jobs keep the names they had in the ordering
core."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry
from kuaidan.ordering import service as ordering
from kuaidan.ordering.changes import service as changes

if TYPE_CHECKING:
    from kuaidan.config import Settings

log = logging.getLogger(__name__)


def _auto_approve_changes(wait: timedelta) -> Job:
    async def run(uow: UnitOfWork) -> None:
        done = await changes.auto_approve_changes(uow=uow, wait=wait)
        if done:
            log.info("auto-approved %s order changes", done)

    return Job("ordering.auto_approve_changes", timedelta(minutes=5), run)


def _expire_change_payments(ttl: timedelta) -> Job:
    async def run(uow: UnitOfWork) -> None:
        done = await changes.expire_change_payments(uow=uow, ttl=ttl)
        if done:
            log.info("failed %s order changes whose extra payment was not made", done)

    return Job("ordering.expire_change_payments", timedelta(seconds=30), run)


def registry(settings: Settings) -> Registry:
    """The jobs, with the approval wait and the payment window taken from the settings."""
    policy = ordering.policy_from_settings(settings)
    return Registry(
        jobs=[
            _auto_approve_changes(timedelta(hours=settings.order_change_approval_hours)),
            _expire_change_payments(policy.payment_ttl),
        ]
    )
