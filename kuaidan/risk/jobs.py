"""Risk's scheduled work: holds nobody resolved in time expire."""

from __future__ import annotations

from datetime import timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry
from kuaidan.risk import service


async def expire_holds(uow: UnitOfWork) -> None:
    await service.expire_holds(uow=uow)


REGISTRY = Registry(jobs=[Job("risk.expire_holds", timedelta(minutes=1), expire_holds)])
