"""Scheduled housekeeping of the platform itself."""

from __future__ import annotations

from datetime import timedelta

from kuaidan.core import outbox
from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry

OUTBOX_RETENTION = timedelta(days=7)


async def prune_outbox(uow: UnitOfWork) -> None:
    """Delete delivered events a week old; dead or pending ones stay for the console."""
    await outbox.prune(uow, older_than=uow.now() - OUTBOX_RETENTION)


REGISTRY = Registry(jobs=[Job("ops.prune_outbox", timedelta(hours=1), prune_outbox)])
