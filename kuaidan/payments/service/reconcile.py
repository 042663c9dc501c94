"""Reconciliation: our payments and refunds of a time window against the provider's records.

For every payment of the window the provider's trade is queried (and every finished refund's
request number): an unpaid payment on every run, any other once per change of it (the version
it was last compared at is kept in ``reconciled_version``). A payment the provider reports paid
that we never heard of is recorded as paid through the verified query path (recovered), and
every other disagreement (amount, status, refund, a notification for no order) is stored once
as a finding, written to the audit log and counted on ``/metrics``. Provider calls run with no
transaction open; running twice adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.payments import metrics, repository
from kuaidan.payments.domain import (
    SUCCEEDABLE_STATUSES,
    Discrepancy,
    Finding,
    FindingKind,
    PaymentStatus,
    ProviderError,
    ReconciliationReport,
    RefundCheck,
    RefundStatus,
    TradeStatus,
    compare_refund,
    compare_trade,
    trade_problems,
)
from kuaidan.payments.models import ReconciliationRun
from kuaidan.payments.service._core import _outside_call_ahead, _provider, _record_success
from kuaidan.payments.service.findings import store_findings

log = logging.getLogger(__name__)

# Held payments never had a pay link; every other status can disagree with the provider.
CHECKED_STATUSES = tuple(s.value for s in PaymentStatus if s != PaymentStatus.HELD)
MAX_PAYMENTS_PER_RUN = 2000


@dataclass(frozen=True, slots=True)
class _Target:
    id: int
    version: int
    reference: str
    status: PaymentStatus
    amount_fen: int
    refunds: tuple[tuple[str, RefundStatus, int], ...]  # request_no, status, amount


async def _targets(uow: UnitOfWork, *, since_window: timedelta) -> tuple[list[_Target], list[str]]:
    since = uow.now() - since_window
    name = _provider(uow).name
    payments = await repository.payments_since(
        uow.session,
        since=since,
        provider=name,
        statuses=CHECKED_STATUSES,
        limit=MAX_PAYMENTS_PER_RUN,
    )
    refunds = await repository.finished_refunds_of(
        uow.session, payment_ids=[p.id for p in payments]
    )
    by_payment: dict[int, list[tuple[str, RefundStatus, int]]] = {}
    for refund in refunds:
        entry = (refund.request_no, RefundStatus(refund.status), refund.amount_fen)
        by_payment.setdefault(refund.payment_id, []).append(entry)
    targets = [
        _Target(
            p.id,
            p.version,
            p.reference,
            PaymentStatus(p.status),
            p.amount_fen,
            tuple(by_payment.get(p.id, [])),
        )
        for p in payments
    ]
    orphans = await repository.orphan_notifications(uow.session, since=since, provider=name)
    return targets, orphans


async def _recover(uow: UnitOfWork, run_id: int, found: Discrepancy, trade: TradeStatus) -> int:
    """Record the provider's verified word that the buyer paid, and the finding with it, in
    one transaction; nothing when a notification recorded the payment first."""
    async with uow.atomic():
        payment = await repository.get_payment(
            uow.session, reference=found.reference, for_update=True
        )
        if payment is None or PaymentStatus(payment.status) not in SUCCEEDABLE_STATUSES:
            return 0
        problems = trade_problems(
            expected_amount_fen=payment.amount_fen,
            payment_created_at=payment.created_at,
            trade=trade,
        )
        if problems or not trade.trade_no:
            # Not this payment's trade (a reference issued before, by a reset or restored
            # database): an open finding for a person, never a payment.
            detail = "the provider's paid trade does not fit: " + ", ".join(problems)
            mismatch = Discrepancy(FindingKind.STATUS_MISMATCH, found.reference, detail)
            return await _store(uow, run_id, [mismatch])
        paid_at = trade.paid_at or uow.now()
        if not await _record_success(uow, payment, trade_no=trade.trade_no, paid_at=paid_at):
            return 0
        return await _store(uow, run_id, [found])


async def _check(uow: UnitOfWork, run_id: int, target: _Target) -> tuple[list[Discrepancy], int]:
    """Ask the provider about one payment and its refunds: the discrepancies to store, and
    how many findings a recovery stored already. Raises ``ProviderError``."""
    provider = _provider(uow)
    trade = await provider.query(target.reference)
    found = compare_trade(
        reference=target.reference,
        status=target.status,
        amount_fen=target.amount_fen,
        trade=trade,
    )
    result, recovered = [], 0
    if found is not None and found.kind == FindingKind.PAID_WITHOUT_NOTIFICATION:
        recovered = await _recover(uow, run_id, found, trade)
    elif found is not None:
        result.append(found)
    for request_no, status, amount_fen in target.refunds:
        check: RefundCheck = await provider.query_refund(
            reference=target.reference, request_no=request_no
        )
        refund = compare_refund(
            reference=target.reference, status=status, amount_fen=amount_fen, check=check
        )
        if refund is not None:
            result.append(refund)
    return result, recovered


async def _store(uow: UnitOfWork, run_id: int, found: list[Discrepancy]) -> int:
    return await store_findings(uow, run_id, found, provider=_provider(uow).name)


async def reconcile_payments(
    *, uow: UnitOfWork, window: timedelta, trigger: str = "job"
) -> ReconciliationReport:
    """Compare the payments created in the last ``window`` with the provider's records."""
    await _outside_call_ahead(uow)
    started = uow.now()
    async with uow.atomic():
        run = ReconciliationRun(
            trigger=trigger[:20], started_at=started, window_start=started - window
        )
        run = await repository.add_run(uow.session, run)
        run_id = run.id
    targets, orphans = await _targets(uow, since_window=window)
    await _outside_call_ahead(uow)
    found = [
        Discrepancy(
            FindingKind.NOTIFICATION_WITHOUT_ORDER,
            reference,
            "the provider notified a payment for which there is no order",
        )
        for reference in orphans
    ]
    errors = recovered = 0
    compared: list[_Target] = []
    for target in targets:
        try:
            more, stored = await _check(uow, run_id, target)
            found.extend(more)
            recovered += stored
            compared.append(target)
        except ProviderError as exc:
            errors += 1
            metrics.RECONCILIATION_ERRORS.inc()
            log.warning("reconciliation could not check %s: %s", target.reference, exc.message)
    checked = len(compared)
    async with uow.atomic():
        new = recovered + await _store(uow, run_id, found)
        # With the findings: none is lost if the run dies before.
        await repository.mark_reconciled(uow.session, [(t.id, t.version) for t in compared])
        finished = uow.now()
        await repository.finish_run(
            uow.session,
            run_id=run_id,
            finished_at=finished,
            checked=checked,
            errors=errors,
            new_findings=new,
        )
    metrics.RECONCILIATION_RUNS.labels(trigger).inc()
    return ReconciliationReport(
        run_id, started, finished, started - window, trigger, checked, errors, new
    )


async def list_runs(*, uow: UnitOfWork, limit: int = 20) -> list[ReconciliationReport]:
    rows = await repository.recent_runs(uow.session, limit=max(1, min(limit, 200)))
    return [
        ReconciliationReport(
            r.id,
            r.started_at,
            r.finished_at,
            r.window_start,
            r.trigger,
            r.payments_checked,
            r.errors,
            r.new_findings,
        )
        for r in rows
    ]


async def list_findings(
    *, uow: UnitOfWork, limit: int = 100, reference: str | None = None
) -> list[Finding]:
    rows = await repository.recent_findings(
        uow.session, limit=max(1, min(limit, 500)), reference=reference
    )
    return [
        Finding(
            id=r.id,
            run_id=r.run_id,
            kind=FindingKind(r.kind),
            reference=r.reference,
            detail=r.detail,
            expected_fen=r.expected_fen,
            actual_fen=r.actual_fen,
            resolution=r.resolution,
            found_at=r.found_at,
        )
        for r in rows
    ]
