"""SQL on the merchants table."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.merchants.models import Merchant


async def add(session: AsyncSession, merchant: Merchant) -> Merchant:
    session.add(merchant)
    await session.flush()
    return merchant


async def by_id(session: AsyncSession, merchant_id: int) -> Merchant | None:
    return await session.get(Merchant, merchant_id)


async def by_slug(session: AsyncSession, slug: str) -> Merchant | None:
    return await session.scalar(select(Merchant).where(Merchant.slug == slug))


async def by_ids(session: AsyncSession, ids: Collection[int]) -> Sequence[Merchant]:
    if not ids:
        return []
    result = await session.scalars(select(Merchant).where(Merchant.id.in_(ids)))
    return result.all()


async def page(
    session: AsyncSession, *, status: str | None, offset: int, limit: int
) -> tuple[Sequence[Merchant], int]:
    """One page of merchants, oldest first (id order), and the total count."""
    query = select(Merchant)
    if status is not None:
        query = query.where(Merchant.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Merchant.id).offset(offset).limit(limit))
    return rows.all(), int(total or 0)
