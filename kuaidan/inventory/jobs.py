"""Inventory's scheduled work: give back flash-sale holds whose order never came."""

from __future__ import annotations

import logging
from datetime import timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry
from kuaidan.inventory import service

log = logging.getLogger(__name__)


async def release_stale_holds(uow: UnitOfWork) -> None:
    released = await service.release_stale_holds(uow=uow)
    if released:
        log.info("released %s stale flash-sale holds", released)


REGISTRY = Registry(
    jobs=[Job("inventory.release_stale_holds", timedelta(seconds=5), release_stale_holds)]
)
