"""Reconciliation findings: each disagreement with the provider stored once, audited and
counted. Reconciliation runs store what they compare; a payment query whose trade does not fit
its payment stores its finding in a run of its own, so a person sees it in the same list."""

from __future__ import annotations

import logging

from kuaidan.core.db import UnitOfWork
from kuaidan.payments import metrics, repository
from kuaidan.payments.domain import Discrepancy, FindingKind
from kuaidan.payments.models import ReconciliationFinding, ReconciliationRun
from kuaidan.security import service as security

log = logging.getLogger(__name__)


async def store_findings(
    uow: UnitOfWork, run_id: int, found: list[Discrepancy], *, provider: str
) -> int:
    """Inside a transaction: each new finding once, audited and counted; returns how many."""
    new = 0
    for item in found:
        if await repository.finding_exists(uow.session, key=item.key):
            continue
        recovered = item.kind == FindingKind.PAID_WITHOUT_NOTIFICATION
        row = ReconciliationFinding(
            run_id=run_id,
            key=item.key[:200],
            kind=item.kind.value,
            reference=item.reference[:64],
            provider=provider,
            detail=item.detail[:2000],
            expected_fen=item.expected_fen,
            actual_fen=item.actual_fen,
            resolution="recovered" if recovered else "open",
            found_at=uow.now(),
        )
        await repository.add_finding(uow.session, row)
        await security.record(
            uow=uow,
            actor_id=None,
            action=f"payments.reconciliation.{item.kind.value}",
            subject=f"payment:{item.reference[:64]}",
            details={"detail": item.detail[:500], "run_id": run_id, "provider": provider},
        )
        log.warning("payment reconciliation: %s %s: %s", item.kind, item.reference, item.detail)
        metrics.RECONCILIATION_FINDINGS.labels(item.kind.value).inc()
        new += 1
    return new


async def record_finding(
    uow: UnitOfWork, found: Discrepancy, *, provider: str, trigger: str
) -> int:
    """In its own transaction: ``found`` in a run of one payment, opened and finished at once."""
    async with uow.atomic():
        now = uow.now()
        run = ReconciliationRun(trigger=trigger[:20], started_at=now, window_start=now)
        run_id = (await repository.add_run(uow.session, run)).id
        new = await store_findings(uow, run_id, [found], provider=provider)
        await repository.finish_run(
            uow.session, run_id=run_id, finished_at=now, checked=1, errors=0, new_findings=new
        )
    metrics.RECONCILIATION_RUNS.labels(trigger).inc()
    return new
