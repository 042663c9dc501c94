"""Catalog use cases: categories, listing products, buyer search and product pages, prices.

Writes open ``uow.atomic()`` (joining the caller's transaction when there is one). Reads take
no write lock. Merchants and stock come through their areas' services, never their tables.
Every change of a SKU's price or stock refreshes its product's cached price range and stock flag.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache
from importlib import resources

from sqlalchemy.exc import IntegrityError

from kuaidan.catalog import repository
from kuaidan.catalog.domain import (
    CategoryInfo,
    NewProduct,
    PriceAndStock,
    ProductDetail,
    ProductQuery,
    ProductStatus,
    ProductSummary,
    SkuFacts,
    SkuInfo,
    SkuStatus,
    check_return_days,
    descendant_ids,
    list_price_problems,
    return_window,
    search_text,
    summarise_skus,
)
from kuaidan.catalog.listing_rules import ListingRules, load_rules
from kuaidan.catalog.models import Category, Product, Sku
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput, NotFound
from kuaidan.core.pagination import PageOf, PageRequest
from kuaidan.inventory import service as inventory
from kuaidan.inventory.domain import StockLevel
from kuaidan.merchants import service as merchants
from kuaidan.merchants.domain import check_name, check_slug
from kuaidan.security import service as security

# --- categories -------------------------------------------------------------------------


def _category(row: Category) -> CategoryInfo:
    return CategoryInfo(
        id=row.id,
        slug=row.slug,
        name=row.name,
        name_en=row.name_en,
        parent_id=row.parent_id,
        position=row.position,
        no_reason_return_days=row.no_reason_return_days,
    )


async def ensure_category(
    *,
    uow: UnitOfWork,
    slug: str,
    name: str,
    name_en: str,
    parent_slug: str | None = None,
    position: int = 0,
    no_reason_return_days: int | None = None,
) -> CategoryInfo:
    """Create the category, or bring an existing one with this slug up to date (idempotent).

    ``no_reason_return_days`` is its no-reason return window: None inherits the parent's,
    0 means none, 1..30 that many days."""
    check_slug(slug)
    days = check_return_days(no_reason_return_days)
    name = check_name(name, field="name", max_length=60)
    name_en = check_name(name_en, field="name_en", max_length=60)
    if parent_slug == slug:
        raise InvalidInput("a category cannot be its own parent")
    async with uow.atomic():
        parent_id = None
        if parent_slug is not None:
            parent = await repository.category_by_slug(uow.session, parent_slug)
            if parent is None:
                raise InvalidInput(f"no parent category {parent_slug!r}")
            parent_id = parent.id
        row = await repository.category_by_slug(uow.session, slug)
        if row is None:
            row = Category(slug=slug)
            uow.session.add(row)
        row.name, row.name_en, row.parent_id, row.position = name, name_en, parent_id, position
        row.no_reason_return_days = days
        try:
            await uow.session.flush()
        except IntegrityError as exc:  # a concurrent call created it first
            raise Conflict(f"the category {slug!r} was created concurrently; retry") from exc
        return _category(row)


async def list_categories(*, uow: UnitOfWork) -> list[CategoryInfo]:
    """Every category, in display order (position, then id)."""
    return [_category(row) for row in await repository.all_categories(uow.session)]


async def get_category(*, uow: UnitOfWork, slug: str) -> CategoryInfo:
    row = await repository.category_by_slug(uow.session, slug)
    if row is None:
        raise NotFound(f"no category {slug!r}")
    return _category(row)


# --- no-reason return windows -----------------------------------------------------------


async def set_return_window(
    *, uow: UnitOfWork, slug: str, days: int | None, actor_id: int | None = None
) -> CategoryInfo:
    """Set a category's no-reason return window (None: inherit the parent's; 0: none;
    1..30 days), recorded in the audit log with the window before and after."""
    days = check_return_days(days)
    async with uow.atomic():
        before = await get_category(uow=uow, slug=slug)
        await repository.set_return_days(uow.session, slug=slug, days=days)
        await security.record(
            uow=uow,
            actor_id=actor_id,
            action="catalog.return_window_changed",
            subject=f"category:{slug}",
            details={"before": before.no_reason_return_days, "after": days},
        )
        return await get_category(uow=uow, slug=slug)


async def return_windows(*, uow: UnitOfWork, product_ids: Collection[int]) -> dict[int, int | None]:
    """Each product's no-reason return window in days: the first one set walking its category
    up to the top; None when none sets one (the caller applies the platform default).
    Unknown products are absent. Two queries, however many products."""
    category_of = await repository.categories_of_products(uow.session, set(product_ids))
    if not category_of:
        return {}
    tree = {c.id: c for c in await list_categories(uow=uow)}
    return {product: return_window(tree, category) for product, category in category_of.items()}


# --- creating listings ------------------------------------------------------------------


def _parse_status(status: str) -> ProductStatus:
    try:
        return ProductStatus(status)
    except ValueError:
        raise InvalidInput(f"unknown product status {status!r}") from None


async def create_product(
    *, uow: UnitOfWork, merchant_id: int, product: NewProduct, status: str = "listed"
) -> ProductDetail:
    """List a product with its SKUs and their opening stock, all in one transaction."""
    product.check()
    state = _parse_status(status)
    codes = [sku.code.strip() for sku in product.skus]
    async with uow.atomic():
        await merchants.get_merchant(uow=uow, merchant_id=merchant_id)
        category = await repository.category_by_slug(uow.session, product.category_slug.strip())
        if category is None:
            raise InvalidInput(f"no category {product.category_slug!r}")
        taken = await repository.taken_sku_codes(uow.session, codes)
        if taken:
            raise Conflict(
                "SKU codes already in use: " + ", ".join(taken), details={"codes": taken}
            )
        row = _new_product_row(uow, merchant_id, category.id, product, state)
        await repository.add(uow.session, row)
        skus = [
            Sku(
                product_id=row.id,
                code=code,
                attributes={k.strip(): v.strip() for k, v in new.attributes.items()},
                price_fen=new.price_fen,
                list_price_fen=new.list_price_fen,
                status=SkuStatus.ACTIVE.value,
                position=index,
            )
            for index, (code, new) in enumerate(zip(codes, product.skus, strict=True))
        ]
        await repository.add(uow.session, *skus)
        for sku, new in zip(skus, product.skus, strict=True):
            await inventory.create_stock(uow=uow, sku_id=sku.id, on_hand=new.stock)
        return await get_product(uow=uow, product_id=row.id, include_unlisted=True)


def _new_product_row(
    uow: UnitOfWork, merchant_id: int, category_id: int, product: NewProduct, state: ProductStatus
) -> Product:
    facts = summarise_skus([SkuFacts(s.price_fen, True, s.stock) for s in product.skus])
    now = uow.now()
    title, description = product.title.strip(), product.description.strip()
    return Product(
        merchant_id=merchant_id,
        category_id=category_id,
        title=title,
        description=description,
        search_text=search_text(title, description),
        specs=[[name.strip(), value.strip()] for name, value in product.specs],
        images=list(product.images),
        status=state.value,
        min_price_fen=facts.min_price_fen,
        max_price_fen=facts.max_price_fen,
        in_stock=facts.in_stock,
        sales_count=0,
        created_at=now,
        updated_at=now,
    )


# --- reading products -------------------------------------------------------------------


def _sku_info(sku: Sku, product: Product, level: StockLevel | None) -> SkuInfo:
    return SkuInfo(
        id=sku.id,
        product_id=product.id,
        merchant_id=product.merchant_id,
        product_title=product.title,
        product_status=ProductStatus(product.status),
        code=sku.code,
        attributes=dict(sku.attributes),
        price_fen=sku.price_fen,
        list_price_fen=sku.list_price_fen,
        status=SkuStatus(sku.status),
        position=sku.position,
        available=max(level.available, 0) if level else 0,
        product_image=product.images[0] if product.images else None,
    )


async def get_product(
    *, uow: UnitOfWork, product_id: int, include_unlisted: bool = False
) -> ProductDetail:
    """A product page's data. Buyers see listed products only: anything else is NotFound."""
    row = await repository.product_by_id(uow.session, product_id)
    if row is None or (row.status != ProductStatus.LISTED.value and not include_unlisted):
        raise NotFound(f"no product {product_id}")
    skus = await repository.skus_of_product(uow.session, row.id)
    levels = await inventory.get_levels(uow=uow, sku_ids=[s.id for s in skus])
    merchant = await merchants.get_merchant(uow=uow, merchant_id=row.merchant_id)
    category = await repository.category_by_id(uow.session, row.category_id)
    assert category is not None  # guaranteed by the foreign key
    return ProductDetail(
        id=row.id,
        merchant=merchant,
        category=_category(category),
        title=row.title,
        description=row.description,
        specs=tuple((str(name), str(value)) for name, value in row.specs),
        images=tuple(str(path) for path in row.images),
        status=ProductStatus(row.status),
        min_price_fen=row.min_price_fen,
        max_price_fen=row.max_price_fen,
        in_stock=row.in_stock,
        sales_count=row.sales_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
        skus=tuple(_sku_info(s, row, levels.get(s.id)) for s in skus),
    )


async def get_skus(*, uow: UnitOfWork, sku_ids: Collection[int]) -> dict[int, SkuInfo]:
    """SKUs by id with their product's essentials and availability; unknown ids are absent."""
    pairs = await repository.skus_with_products(uow.session, set(sku_ids))
    levels = await inventory.get_levels(uow=uow, sku_ids=[sku.id for sku, _ in pairs])
    return {sku.id: _sku_info(sku, product, levels.get(sku.id)) for sku, product in pairs}


async def _sku_or_404(uow: UnitOfWork, sku_id: int) -> SkuInfo:
    found = await get_skus(uow=uow, sku_ids=[sku_id])
    if sku_id not in found:
        raise NotFound(f"no SKU {sku_id}")
    return found[sku_id]


# --- search -----------------------------------------------------------------------------


async def search_products(
    *, uow: UnitOfWork, query: ProductQuery, page: PageRequest
) -> PageOf[ProductSummary]:
    """Listed products matching the query; a category includes every category below it."""
    category_ids = None
    if query.category is not None:
        categories = await list_categories(uow=uow)
        root = next((c for c in categories if c.slug == query.category), None)
        if root is None:
            raise NotFound(f"no category {query.category!r}")
        category_ids = descendant_ids(categories, root.id)
    flt = repository.SearchFilter(
        terms=query.terms,
        text_without_terms=query.q is not None and not query.terms,
        category_ids=category_ids,
        min_price_fen=query.min_price_fen,
        max_price_fen=query.max_price_fen,
        in_stock_only=query.in_stock_only,
        sort=query.sort,
    )
    rows, total = await repository.search(uow.session, flt, offset=page.offset, limit=page.size)
    return PageOf(await _summaries(uow, rows), total=total, page=page.page, size=page.size)


async def _summaries(uow: UnitOfWork, rows: Sequence[Product]) -> list[ProductSummary]:
    shops = await merchants.get_merchants(uow=uow, ids={row.merchant_id for row in rows})
    return [
        ProductSummary(
            id=row.id,
            merchant_id=row.merchant_id,
            merchant_name=shops[row.merchant_id].name if row.merchant_id in shops else "",
            category_id=row.category_id,
            title=row.title,
            image=str(row.images[0]) if row.images else None,
            min_price_fen=row.min_price_fen,
            max_price_fen=row.max_price_fen,
            in_stock=row.in_stock,
            sales_count=row.sales_count,
            created_at=row.created_at,
        )
        for row in rows
    ]


# --- prices and stock -------------------------------------------------------------------


async def refresh_availability(*, uow: UnitOfWork, product_id: int) -> PriceAndStock:
    """Recompute a product's cached price range and in-stock flag from its SKUs and stock.

    Called after any change of a SKU's price, status or stock (reservations included), after
    the stock rows are locked. The product's row lock makes concurrent refreshes take turns,
    so the last one sees every committed change of its siblings.
    """
    async with uow.atomic():
        if not await repository.lock_product(uow.session, product_id):
            raise NotFound(f"no product {product_id}")
        skus = await repository.skus_of_product(uow.session, product_id)
        levels = await inventory.get_levels(uow=uow, sku_ids=[s.id for s in skus])
        facts = summarise_skus(
            [
                SkuFacts(
                    s.price_fen,
                    s.status == SkuStatus.ACTIVE.value,
                    levels[s.id].available if s.id in levels else 0,
                )
                for s in skus
            ]
        )
        await repository.cache_price_and_stock(
            uow.session, product_id=product_id, facts=facts, now=uow.now()
        )
        return facts


async def set_sku_price(
    *, uow: UnitOfWork, sku_id: int, price_fen: int, list_price_fen: int | None = None
) -> SkuInfo:
    """Change a SKU's price; ``list_price_fen`` is the strike-through price (None: none)."""
    if isinstance(price_fen, bool) or not isinstance(price_fen, int) or price_fen <= 0:
        raise InvalidInput("the price must be a whole number of fen > 0")
    problems = list_price_problems(price_fen, list_price_fen)
    if problems:
        raise InvalidInput(problems[0])
    async with uow.atomic():
        sku = await _sku_or_404(uow, sku_id)
        await repository.set_sku_price(
            uow.session, sku_id=sku_id, price_fen=price_fen, list_price_fen=list_price_fen
        )
        await refresh_availability(uow=uow, product_id=sku.product_id)
        return await _sku_or_404(uow, sku_id)


async def set_stock(*, uow: UnitOfWork, sku_id: int, on_hand: int) -> SkuInfo:
    """Set a SKU's counted stock (not below what open orders reserve) and refresh its product."""
    async with uow.atomic():
        sku = await _sku_or_404(uow, sku_id)
        await inventory.set_on_hand(uow=uow, sku_id=sku_id, on_hand=on_hand)
        await refresh_availability(uow=uow, product_id=sku.product_id)
        return await _sku_or_404(uow, sku_id)


LISTING_RULES_FILE = "listing_rules.json"


@cache
def listing_rules() -> ListingRules:
    """The automatic listing checks' rules shipped with kuaidan
    (``kuaidan/catalog/listing_rules.json``), read and validated once."""
    path = resources.files("kuaidan.catalog").joinpath(LISTING_RULES_FILE)
    return load_rules(path.read_text(encoding="utf-8"))
