"""Logistics' scheduled work: detect shipments in trouble, review carriers' scorecards."""

from __future__ import annotations

import logging
from datetime import timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry
from kuaidan.logistics import service

log = logging.getLogger(__name__)


async def detect_exceptions(uow: UnitOfWork) -> None:
    opened = await service.detect_exceptions(uow=uow)
    if opened:
        log.info("opened %s shipment exception case(s)", opened)


async def review_carriers(uow: UnitOfWork) -> None:
    cards = await service.review_carriers(uow=uow)
    for card in cards:
        if card.breaches:
            log.info("carrier %s breaches %s", card.carrier_code, ", ".join(card.breaches))


REGISTRY = Registry(
    jobs=[
        Job("logistics.detect_exceptions", timedelta(minutes=10), detect_exceptions),
        Job("logistics.review_carriers", timedelta(hours=6), review_carriers),
    ]
)
