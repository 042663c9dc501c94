"""Every SQL statement on the payments tables. Nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.core.db import insert_new
from kuaidan.payments.models import (
    Payment,
    PaymentNotification,
    ReconciliationFinding,
    ReconciliationRun,
    Refund,
)

# Conditional updates bypass the session's identity map; re-read rows instead of serving them
# from it.
FRESH = {"populate_existing": True}

PAYMENTS: Table = Payment.__table__  # type: ignore[assignment]

# payments


async def get_payment(
    session: AsyncSession, *, reference: str, for_update: bool = False
) -> Payment | None:
    stmt = select(Payment).where(Payment.reference == reference).execution_options(**FRESH)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_payment_by_id(
    session: AsyncSession, *, payment_id: int, for_update: bool = False
) -> Payment | None:
    stmt = select(Payment).where(Payment.id == payment_id).execution_options(**FRESH)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


# Every checkout starts a payment: one Core INSERT built once costs a fraction of the ORM's
# flush for the same SQL.
_INSERT_PAYMENT = insert(PAYMENTS).returning(PAYMENTS.c.id)


async def add_payment(session: AsyncSession, payment: Payment) -> Payment:
    """Write ``payment`` and give it its id; it stays out of the session (``insert_new``):
    later changes go through the conditional updates below."""
    await insert_new(session, _INSERT_PAYMENT, payment)
    return payment


async def mark_succeeded(
    session: AsyncSession,
    *,
    payment_id: int,
    from_statuses: tuple[str, ...],
    trade_no: str,
    paid_at: datetime,
) -> bool:
    """One conditional update: True for the one caller that moved the payment to succeeded."""
    result = await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_(from_statuses))
        .values(
            status="succeeded",
            provider_trade_no=trade_no,
            paid_at=paid_at,
            version=Payment.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def set_status(
    session: AsyncSession, *, payment_id: int, from_status: str, to_status: str
) -> bool:
    result = await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status == from_status)
        .values(status=to_status, version=Payment.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def set_refunded(
    session: AsyncSession, *, payment_id: int, refunded_fen: int, status: str
) -> None:
    await session.execute(
        update(Payment)
        .where(Payment.id == payment_id)
        .values(refunded_fen=refunded_fen, status=status, version=Payment.version + 1)
        .execution_options(synchronize_session=False)
    )


# notifications


async def notification_seen(session: AsyncSession, *, notify_id: str) -> bool:
    found = await session.scalar(
        select(PaymentNotification.id).where(PaymentNotification.notify_id == notify_id)
    )
    return found is not None


async def add_notification(session: AsyncSession, row: PaymentNotification) -> None:
    session.add(row)
    await session.flush()


async def notifications_for(
    session: AsyncSession, *, out_trade_no: str
) -> list[PaymentNotification]:
    rows = await session.scalars(
        select(PaymentNotification)
        .where(PaymentNotification.out_trade_no == out_trade_no)
        .order_by(PaymentNotification.id)
    )
    return list(rows)


# refunds


async def get_refund(
    session: AsyncSession, *, request_no: str | None = None, refund_id: int | None = None
) -> Refund | None:
    stmt = select(Refund).execution_options(**FRESH)
    stmt = stmt.where(Refund.request_no == request_no) if request_no else stmt
    stmt = stmt.where(Refund.id == refund_id) if refund_id is not None else stmt
    return await session.scalar(stmt)


async def add_refund(session: AsyncSession, refund: Refund) -> Refund:
    session.add(refund)
    await session.flush()
    return refund


async def in_flight_refunds_fen(session: AsyncSession, *, payment_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.payment_id == payment_id, Refund.status == "requested"
        )
    )
    return int(total or 0)


async def finish_refund(
    session: AsyncSession, *, refund_id: int, status: str, done_at: datetime, error: str | None
) -> bool:
    """Move a requested refund to its outcome; False when someone else already did."""
    result = await session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.status == "requested")
        .values(status=status, done_at=done_at, last_error=error)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def note_refund_error(session: AsyncSession, *, refund_id: int, error: str) -> None:
    await session.execute(
        update(Refund)
        .where(Refund.id == refund_id)
        .values(last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )


# reconciliation

UNKNOWN_REFERENCE_OUTCOME = "rejected: unknown reference"


async def payments_since(
    session: AsyncSession, *, since: datetime, provider: str, statuses: tuple[str, ...], limit: int
) -> list[Payment]:
    rows = await session.scalars(
        select(Payment)
        .where(
            Payment.created_at >= since,
            Payment.provider == provider,
            Payment.status.in_(statuses),
            # Unpaid ones may be paid at the provider any time; others only once per change.
            or_(
                Payment.status == "created",
                Payment.reconciled_version.is_(None),
                Payment.reconciled_version != Payment.version,
            ),
        )
        .order_by(Payment.id)
        .limit(limit)
    )
    return list(rows)


_MARK_RECONCILED = (
    update(PAYMENTS)
    .where(PAYMENTS.c.id == bindparam("pid"), PAYMENTS.c.version == bindparam("v"))
    .values(reconciled_version=bindparam("v"))
)


async def mark_reconciled(session: AsyncSession, compared: Sequence[tuple[int, int]]) -> None:
    """Each (payment id, version) was compared with the provider: one batched statement; a
    payment that changed since (another version) stays due."""
    if compared:
        await session.execute(_MARK_RECONCILED, [{"pid": p, "v": v} for p, v in compared])


async def finished_refunds_of(session: AsyncSession, *, payment_ids: list[int]) -> list[Refund]:
    if not payment_ids:
        return []
    rows = await session.scalars(
        select(Refund)
        .where(Refund.payment_id.in_(payment_ids), Refund.status != "requested")
        .order_by(Refund.id)
    )
    return list(rows)


async def orphan_notifications(
    session: AsyncSession, *, since: datetime, provider: str
) -> list[str]:
    """References of verified notifications since ``since`` for which no payment exists."""
    rows = await session.scalars(
        select(PaymentNotification.out_trade_no)
        .where(
            PaymentNotification.received_at >= since,
            PaymentNotification.provider == provider,
            PaymentNotification.verified.is_(True),
            PaymentNotification.outcome == UNKNOWN_REFERENCE_OUTCOME,
            PaymentNotification.out_trade_no.is_not(None),
            ~exists().where(Payment.reference == PaymentNotification.out_trade_no),
        )
        .distinct()
        .order_by(PaymentNotification.out_trade_no)
    )
    return [row for row in rows if row]


async def add_run(session: AsyncSession, run: ReconciliationRun) -> ReconciliationRun:
    session.add(run)
    await session.flush()
    return run


async def finish_run(
    session: AsyncSession,
    *,
    run_id: int,
    finished_at: datetime,
    checked: int,
    errors: int,
    new_findings: int,
) -> None:
    await session.execute(
        update(ReconciliationRun)
        .where(ReconciliationRun.id == run_id)
        .values(
            finished_at=finished_at,
            payments_checked=checked,
            errors=errors,
            new_findings=new_findings,
        )
        .execution_options(synchronize_session=False)
    )


async def finding_exists(session: AsyncSession, *, key: str) -> bool:
    found = await session.scalar(
        select(ReconciliationFinding.id).where(ReconciliationFinding.key == key)
    )
    return found is not None


async def add_finding(session: AsyncSession, finding: ReconciliationFinding) -> None:
    session.add(finding)
    await session.flush()


async def recent_runs(session: AsyncSession, *, limit: int) -> list[ReconciliationRun]:
    rows = await session.scalars(
        select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit)
    )
    return list(rows)


async def recent_findings(
    session: AsyncSession, *, limit: int, reference: str | None = None
) -> list[ReconciliationFinding]:
    stmt = select(ReconciliationFinding).order_by(ReconciliationFinding.id.desc()).limit(limit)
    if reference is not None:
        stmt = stmt.where(ReconciliationFinding.reference == reference)
    return list(await session.scalars(stmt))
