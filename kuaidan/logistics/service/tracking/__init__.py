"""Tracking pushes: accepted and stored at once (``inbox``), applied in batches by the job
``logistics.apply_tracking_pushes`` with the rules of ``domain.tracking`` (``apply``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.logistics import repository
from kuaidan.logistics.repository import inbox as inbox_repo
from kuaidan.logistics.service.tracking.apply import publish_status
from kuaidan.logistics.service.tracking.inbox import (
    ApplyOutcome,
    DeadPush,
    InboxStatus,
    PushReceipt,
    accept_push,
    adopt_orphans,
    apply_pushes,
    inbox_status,
    requeue_orphans,
    retry_dead_pushes,
)

__all__ = [
    "ApplyOutcome",
    "DeadPush",
    "InboxAudit",
    "InboxStatus",
    "PushReceipt",
    "TrackingCounts",
    "accept_push",
    "adopt_orphans",
    "apply_pushes",
    "inbox_audit",
    "inbox_status",
    "publish_status",
    "requeue_orphans",
    "retry_dead_pushes",
    "tracking_counts",
]


@dataclass(frozen=True, slots=True)
class TrackingCounts:
    scans: int
    delivered: int
    callbacks: int


async def tracking_counts(*, uow: UnitOfWork, tracking_prefix: str) -> TrackingCounts:
    """Totals over the parcels whose tracking numbers start with ``tracking_prefix``
    (audits and the callback bench); ``callbacks`` counts the pushes stored."""
    return TrackingCounts(*await repository.tracking_counts(uow.session, prefix=tracking_prefix))


@dataclass(frozen=True, slots=True)
class InboxAudit:
    """The inbox of a bench run: pushes by status, scans stored twice, and each applied push's
    time from arrival to application."""

    counts: dict[str, int]
    lags: list[tuple[datetime, datetime]]


async def inbox_audit(*, uow: UnitOfWork, tracking_prefix: str) -> InboxAudit:
    counts = await inbox_repo.inbox_audit(uow.session, prefix=tracking_prefix)
    lags = await inbox_repo.push_lags(uow.session, prefix=tracking_prefix)
    return InboxAudit(counts, lags)
