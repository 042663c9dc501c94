"""SQL on the after-sales cases and their steps. Nothing here commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.ordering.aftersales.models import AfterSalesCase, AfterSalesStep


async def add(session: AsyncSession, *rows: Any) -> None:
    session.add_all(rows)
    await session.flush()


async def after_sales_of(session: AsyncSession, order_id: int) -> list[AfterSalesCase]:
    """The order's after-sales cases, oldest first."""
    rows = await session.scalars(
        select(AfterSalesCase)
        .where(AfterSalesCase.order_id == order_id)
        .order_by(AfterSalesCase.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def get_after_sales(session: AsyncSession, case_id: int) -> AfterSalesCase | None:
    return await session.scalar(
        select(AfterSalesCase)
        .where(AfterSalesCase.id == case_id)
        .execution_options(populate_existing=True)
    )


async def after_sales_by_request(
    session: AsyncSession, order_id: int, request_id: str
) -> AfterSalesCase | None:
    return await session.scalar(
        select(AfterSalesCase).where(
            AfterSalesCase.order_id == order_id, AfterSalesCase.request_id == request_id
        )
    )


async def after_sales_by_shipment(session: AsyncSession, reference: str) -> AfterSalesCase | None:
    """The case whose return parcel, or replacement parcel, is ``reference``."""
    return await session.scalar(
        select(AfterSalesCase)
        .where(
            or_(
                AfterSalesCase.return_shipment == reference,
                AfterSalesCase.replacement_shipment == reference,
            )
        )
        .limit(1)
        .execution_options(populate_existing=True)
    )


async def after_sales_by_refund(session: AsyncSession, request_no: str) -> AfterSalesCase | None:
    return await session.scalar(
        select(AfterSalesCase)
        .where(AfterSalesCase.refund_request_no == request_no)
        .execution_options(populate_existing=True)
    )


async def change_after_sales(
    session: AsyncSession, *, case_id: int, status: str, version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` only if the case is still at ``status``/``version``; bump the version."""
    result = await session.execute(
        update(AfterSalesCase)
        .where(
            AfterSalesCase.id == case_id,
            AfterSalesCase.status == status,
            AfterSalesCase.version == version,
        )
        .values(**values, version=version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def after_sales_steps(
    session: AsyncSession, case_ids: Collection[int]
) -> dict[int, list[AfterSalesStep]]:
    """Each case's steps, oldest first, in one query."""
    found: dict[int, list[AfterSalesStep]] = {case_id: [] for case_id in case_ids}
    if not found:
        return found
    rows = await session.scalars(
        select(AfterSalesStep)
        .where(AfterSalesStep.case_id.in_(found))
        .order_by(AfterSalesStep.case_id, AfterSalesStep.id)
    )
    for row in rows.all():
        found[row.case_id].append(row)
    return found


async def due_after_sales(
    session: AsyncSession, *, statuses: Collection[str], now: datetime, limit: int
) -> list[int]:
    """Cases at one of ``statuses`` whose timer (``due_at``) has run out, oldest first."""
    rows = await session.scalars(
        select(AfterSalesCase.id)
        .where(
            AfterSalesCase.status.in_(list(statuses)),
            AfterSalesCase.due_at.is_not(None),
            AfterSalesCase.due_at <= now,
        )
        .order_by(AfterSalesCase.due_at, AfterSalesCase.id)
        .limit(limit)
    )
    return list(rows.all())


async def list_after_sales(
    session: AsyncSession,
    *,
    merchant_id: int | None = None,
    buyer_id: int | None = None,
    statuses: Collection[str] | None = None,
    limit: int = 100,
) -> list[AfterSalesCase]:
    """Cases of a shop or of a buyer (or all), newest first."""
    query = select(AfterSalesCase)
    if merchant_id is not None:
        query = query.where(AfterSalesCase.merchant_id == merchant_id)
    if buyer_id is not None:
        query = query.where(AfterSalesCase.buyer_id == buyer_id)
    if statuses is not None:
        query = query.where(AfterSalesCase.status.in_(list(statuses)))
    rows = await session.scalars(query.order_by(AfterSalesCase.id.desc()).limit(limit))
    return list(rows.all())


async def cases_ruled_against(session: AsyncSession, *, buyer_id: int, since: datetime) -> int:
    """The buyer's cases the platform ruled for the merchant since ``since`` (trust)."""
    found = await session.scalar(
        select(func.count(AfterSalesStep.id))
        .join(AfterSalesCase, AfterSalesCase.id == AfterSalesStep.case_id)
        .where(
            AfterSalesCase.buyer_id == buyer_id,
            AfterSalesStep.step == "rule_for_merchant",
            AfterSalesStep.at >= since,
        )
    )
    return int(found or 0)
