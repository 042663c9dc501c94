"""Every SQL statement on the payments tables. Nothing here commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.payments.models import Payment, PaymentNotification, Refund

# Conditional updates bypass the session's identity map; re-read rows instead of serving them
# from it.
FRESH = {"populate_existing": True}

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


async def add_payment(session: AsyncSession, payment: Payment) -> Payment:
    session.add(payment)
    await session.flush()
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
