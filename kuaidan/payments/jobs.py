"""Payments' scheduled work: reconciliation with the provider's records, hourly by default."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, JobFn, Registry
from kuaidan.payments import service

if TYPE_CHECKING:
    from kuaidan.config import Settings


def reconcile_job(window: timedelta) -> JobFn:
    async def reconcile(uow: UnitOfWork) -> None:
        await service.reconcile_payments(uow=uow, window=window, trigger="job")

    return reconcile


def registry(settings: Settings) -> Registry:
    window = timedelta(hours=settings.pay_reconcile_window_hours)
    every = timedelta(minutes=settings.pay_reconcile_interval_minutes)
    return Registry(jobs=[Job("payments.reconcile", every, reconcile_job(window))])
