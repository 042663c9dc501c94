"""Logistics' scheduled work: apply stored tracking pushes, detect shipments in trouble,
review carriers' scorecards."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, JobFn, Registry
from kuaidan.logistics import service

if TYPE_CHECKING:
    from kuaidan.config import Settings

log = logging.getLogger(__name__)

DRAIN_BUDGET_S = 2.0  # one run drains for at most this long, then the worker does its other work


def apply_tracking_pushes(batch: int) -> JobFn:
    """The apply job: batches of ``batch`` pushes until the inbox is drained (or the budget
    is spent; the next run goes on)."""

    async def run(uow: UnitOfWork) -> None:
        if await service.requeue_orphans(uow=uow):
            log.info("orphan tracking pushes re-queued: their shipments exist now")
        deadline = time.monotonic() + DRAIN_BUDGET_S
        while True:
            outcome = await service.apply_pushes(uow=uow, limit=batch)
            if outcome.dead:
                log.warning("%s tracking push(es) parked as dead", outcome.dead)
            if outcome.claimed < batch or time.monotonic() > deadline:
                return

    return run


async def detect_exceptions(uow: UnitOfWork) -> None:
    opened = await service.detect_exceptions(uow=uow)
    if opened:
        log.info("opened %s shipment exception case(s)", opened)


async def review_carriers(uow: UnitOfWork) -> None:
    cards = await service.review_carriers(uow=uow)
    for card in cards:
        if card.breaches:
            log.info("carrier %s breaches %s", card.carrier_code, ", ".join(card.breaches))


def registry(settings: Settings) -> Registry:
    return Registry(
        jobs=[
            Job(
                "logistics.apply_tracking_pushes",
                timedelta(seconds=settings.logistics_inbox_interval_s),
                apply_tracking_pushes(settings.logistics_inbox_batch),
            ),
            Job("logistics.detect_exceptions", timedelta(minutes=10), detect_exceptions),
            Job("logistics.review_carriers", timedelta(hours=6), review_carriers),
        ]
    )
