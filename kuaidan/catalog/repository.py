"""SQL on the catalog tables: categories, products, SKUs, and the buyer's product search."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.catalog.domain import (
    LIKE_ESCAPE,
    PriceAndStock,
    ProductStatus,
    SkuStatus,
    Sort,
    token_pattern,
)
from kuaidan.catalog.models import Category, Product, Sku

FRESH = {"populate_existing": True}


# --- categories -------------------------------------------------------------------------


async def all_categories(session: AsyncSession) -> Sequence[Category]:
    rows = await session.scalars(
        select(Category).order_by(Category.position, Category.id).execution_options(**FRESH)
    )
    return rows.all()


async def category_by_slug(session: AsyncSession, slug: str) -> Category | None:
    return await session.scalar(
        select(Category).where(Category.slug == slug).execution_options(**FRESH)
    )


async def category_by_id(session: AsyncSession, category_id: int) -> Category | None:
    return await session.get(Category, category_id)


async def set_return_days(session: AsyncSession, *, slug: str, days: int | None) -> bool:
    """Set a category's no-reason return window; False when there is no such category."""
    result = await session.execute(
        update(Category)
        .where(Category.slug == slug)
        .values(no_reason_return_days=days)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def add(session: AsyncSession, *rows: Category | Product | Sku) -> None:
    session.add_all(rows)
    await session.flush()


# --- products and SKUs ------------------------------------------------------------------


async def product_by_id(session: AsyncSession, product_id: int) -> Product | None:
    return await session.get(Product, product_id, populate_existing=True)


async def categories_of_products(
    session: AsyncSession, product_ids: Collection[int]
) -> dict[int, int]:
    """Each known product's category id, by product id."""
    if not product_ids:
        return {}
    rows = await session.execute(
        select(Product.id, Product.category_id).where(Product.id.in_(product_ids))
    )
    return dict(rows.all())


async def lock_product(session: AsyncSession, product_id: int) -> bool:
    """Take the product's row lock (PostgreSQL; SQLite writers are serialised anyway)."""
    found = await session.scalar(
        select(Product.id).where(Product.id == product_id).with_for_update()
    )
    return found is not None


async def skus_of_product(session: AsyncSession, product_id: int) -> Sequence[Sku]:
    rows = await session.scalars(
        select(Sku)
        .where(Sku.product_id == product_id)
        .order_by(Sku.position, Sku.id)
        .execution_options(**FRESH)
    )
    return rows.all()


# Every placement prices its SKUs with this read, so it is built once.
_SKUS_WITH_PRODUCTS = (
    select(Sku, Product)
    .join(Product, Product.id == Sku.product_id)
    .where(Sku.id.in_(bindparam("sku_ids", expanding=True)))
    .order_by(Sku.id)
    .execution_options(**FRESH)
)


async def skus_with_products(
    session: AsyncSession, sku_ids: Collection[int]
) -> Sequence[tuple[Sku, Product]]:
    if not sku_ids:
        return []
    result = await session.execute(_SKUS_WITH_PRODUCTS, {"sku_ids": list(sku_ids)})
    return [(sku, product) for sku, product in result.all()]


async def taken_sku_codes(session: AsyncSession, codes: Collection[str]) -> list[str]:
    if not codes:
        return []
    rows = await session.scalars(select(Sku.code).where(Sku.code.in_(codes)))
    return sorted(rows.all())


async def set_sku_price(
    session: AsyncSession, *, sku_id: int, price_fen: int, list_price_fen: int | None
) -> None:
    await session.execute(
        update(Sku)
        .where(Sku.id == sku_id)
        .values(price_fen=price_fen, list_price_fen=list_price_fen)
    )


async def cache_price_and_stock(
    session: AsyncSession, *, product_id: int, facts: PriceAndStock, now: datetime
) -> None:
    await session.execute(
        update(Product)
        .where(Product.id == product_id)
        .values(
            min_price_fen=facts.min_price_fen,
            max_price_fen=facts.max_price_fen,
            in_stock=facts.in_stock,
            updated_at=now,
        )
    )


# --- search -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """The search as SQL needs it: category slugs already resolved to ids."""

    terms: tuple[str, ...]
    text_without_terms: bool
    category_ids: Collection[int] | None
    min_price_fen: int | None
    max_price_fen: int | None
    in_stock_only: bool
    sort: Sort


async def search(
    session: AsyncSession, flt: SearchFilter, *, offset: int, limit: int
) -> tuple[Sequence[Product], int]:
    """Listed products matching the filter, one page of them, and how many match in all."""
    query = select(Product).where(*_conditions(flt))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    ordered = _ordered(query, flt).offset(offset).limit(limit).execution_options(**FRESH)
    rows = await session.scalars(ordered)
    return rows.all(), int(total or 0)


def _conditions(flt: SearchFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Product.status == ProductStatus.LISTED.value]
    if flt.text_without_terms:
        conditions.append(false())  # only punctuation was typed: no word to find
    for term in flt.terms:
        conditions.append(Product.search_text.like(token_pattern(term), escape=LIKE_ESCAPE))
    if flt.category_ids is not None:
        conditions.append(Product.category_id.in_(flt.category_ids))
    if flt.in_stock_only:
        conditions.append(Product.in_stock.is_(True))
    if flt.min_price_fen is not None or flt.max_price_fen is not None:
        conditions.append(_has_sku_priced_within(flt.min_price_fen, flt.max_price_fen))
    return conditions


def _has_sku_priced_within(low: int | None, high: int | None) -> ColumnElement[bool]:
    sku_conditions = [Sku.product_id == Product.id, Sku.status == SkuStatus.ACTIVE.value]
    if low is not None:
        sku_conditions.append(Sku.price_fen >= low)
    if high is not None:
        sku_conditions.append(Sku.price_fen <= high)
    return exists(select(Sku.id).where(and_(*sku_conditions)))


def _ordered(query: Select[Any], flt: SearchFilter) -> Select[Any]:
    """Every order ends on the id, so pages are stable and no item shows up twice."""
    if flt.sort is Sort.NEWEST:
        return query.order_by(Product.created_at.desc(), Product.id.desc())
    if flt.sort is Sort.PRICE_ASC:
        return query.order_by(Product.min_price_fen.asc(), Product.id.asc())
    if flt.sort is Sort.PRICE_DESC:
        return query.order_by(Product.min_price_fen.desc(), Product.id.desc())
    if flt.sort is Sort.SALES:
        return query.order_by(Product.sales_count.desc(), Product.id.desc())
    hits = [
        case(
            (Product.search_text.like(token_pattern(term, in_title=True), escape=LIKE_ESCAPE), 1),
            else_=0,
        )
        for term in flt.terms
    ]
    if hits:  # relevance: more words found in the title first, then best sellers
        query = query.order_by(sum(hits[1:], start=hits[0]).desc())
    return query.order_by(Product.sales_count.desc(), Product.id.desc())
