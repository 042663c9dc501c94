"""JSON routes of the catalog: categories, product search and detail, merchants.

All of them but the administrators' category settings are public reads: buyers browse
without signing in.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from kuaidan import deps
from kuaidan.catalog import service
from kuaidan.catalog.domain import ProductQuery
from kuaidan.catalog.schemas import (
    CategoryRead,
    ListMeta,
    MerchantPage,
    MerchantRead,
    PageParams,
    ProductCard,
    ProductPage,
    ProductRead,
    ProductSearchParams,
    ReturnWindowPut,
)
from kuaidan.core.errors import NotFound
from kuaidan.core.fields import Id
from kuaidan.core.pagination import PageRequest
from kuaidan.deps import Uow
from kuaidan.merchants import service as merchants

router = APIRouter(tags=["catalog"])


@router.get("/categories", summary="Every category")
async def list_categories(uow: Uow) -> list[CategoryRead]:
    """Public: no sign-in needed. Categories in display order; ``parent_id`` links the tree."""
    return [CategoryRead.of(c) for c in await service.list_categories(uow=uow)]


@router.get("/products", summary="Search listed products")
async def search_products(uow: Uow, params: Annotated[ProductSearchParams, Query()]) -> ProductPage:
    """Public: no sign-in needed. Text, category (with its children), price range on SKU
    prices in fen, in-stock filter and sort; pages are stable (ties broken by id)."""
    query = ProductQuery(
        q=params.q,
        category=params.category,
        min_price_fen=params.min_price,
        max_price_fen=params.max_price,
        in_stock_only=params.in_stock,
        sort=params.sort,
    )
    found = await service.search_products(
        uow=uow, query=query, page=PageRequest(params.page, params.page_size)
    )
    return ProductPage(items=[ProductCard.of(p) for p in found.items], meta=ListMeta.of(found))


@router.get("/products/{product_id}", summary="One listed product with its SKUs")
async def get_product(uow: Uow, product_id: Id) -> ProductRead:
    """Public: no sign-in needed. SKUs with availability and the variant axes; 404 unless
    the product is listed."""
    return ProductRead.of(await service.get_product(uow=uow, product_id=product_id))


@router.get("/merchants", summary="Active merchants")
async def list_merchants(uow: Uow, params: Annotated[PageParams, Query()]) -> MerchantPage:
    """Public: no sign-in needed. Active merchants in the order they joined."""
    found = await merchants.list_merchants(uow=uow, page=PageRequest(params.page, params.page_size))
    return MerchantPage(items=[MerchantRead.of(m) for m in found.items], meta=ListMeta.of(found))


@router.get("/merchants/{merchant_id}", summary="One active merchant")
async def get_merchant(uow: Uow, merchant_id: Id) -> MerchantRead:
    """Public: no sign-in needed. 404 for unknown or suspended merchants."""
    merchant = await merchants.get_merchant(uow=uow, merchant_id=merchant_id)
    if not merchant.is_active:
        raise NotFound(f"no merchant {merchant_id}")
    return MerchantRead.of(merchant)


@router.put(
    "/admin/categories/{slug}/return-window",
    summary="Set a category's no-reason return window",
    dependencies=[deps.CsrfProtected],
)
async def put_return_window(
    uow: Uow,
    admin: deps.Admin,
    slug: Annotated[str, Path(max_length=64)],
    body: ReturnWindowPut,
) -> CategoryRead:
    """Administrators. Days of no-reason return for the category's products: 0 for none
    (fresh food, custom-made goods...), 1-30 days, or null to inherit the parent's (at the
    top, the platform default). Recorded in the audit log. 404 for an unknown category."""
    category = await service.set_return_window(
        uow=uow, slug=slug, days=body.no_reason_return_days, actor_id=admin.id
    )
    return CategoryRead.of(category)
