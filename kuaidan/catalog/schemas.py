"""Pydantic request and response models of the catalog's JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import Field, model_validator

from kuaidan.catalog.domain import (
    MAX_NO_REASON_RETURN_DAYS,
    QUERY_MAX,
    CategoryInfo,
    ProductDetail,
    ProductStatus,
    ProductSummary,
    SkuInfo,
    Sort,
    Variant,
)
from kuaidan.core.fields import Fen, RequestBody, ResponseBody
from kuaidan.core.pagination import MAX_PAGE_SIZE, PageOf
from kuaidan.merchants.domain import MerchantInfo

# --- requests ---------------------------------------------------------------------------


MAX_PAGE = 10_000  # deeper offsets cost the database more than any buyer needs


class PageParams(ResponseBody):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    page_size: int = Field(24, ge=1, le=MAX_PAGE_SIZE, description="Items per page.")


class ProductSearchParams(PageParams):
    q: str | None = Field(None, max_length=QUERY_MAX, description="Words in title/description.")
    category: str | None = Field(None, max_length=64, description="Category slug (with children).")
    min_price: Fen | None = Field(None, description="Lowest SKU price, in fen.")
    max_price: Fen | None = Field(None, description="Highest SKU price, in fen.")
    in_stock: bool = Field(False, description="Only products that can be ordered now.")
    sort: Sort = Sort.RELEVANCE

    @model_validator(mode="after")
    def _price_range(self) -> Self:
        low, high = self.min_price, self.max_price
        if low is not None and high is not None and low > high:
            raise ValueError("min_price must not be above max_price")
        return self


class ReturnWindowPut(RequestBody):
    no_reason_return_days: int | None = Field(
        ...,
        ge=0,
        le=MAX_NO_REASON_RETURN_DAYS,
        strict=True,
        description="Days of no-reason return: 0 for none, null to inherit the parent's "
        "(at the top, the platform default).",
    )


# --- responses --------------------------------------------------------------------------


class ListMeta(ResponseBody):
    page: int
    page_size: int
    total: int
    pages: int

    @classmethod
    def of(cls, page: PageOf[Any]) -> ListMeta:
        return cls(page=page.page, page_size=page.size, total=page.total, pages=page.pages)


class CategoryRead(ResponseBody):
    id: int
    slug: str
    name: str
    name_en: str
    parent_id: int | None
    position: int
    no_reason_return_days: int | None = Field(
        None, description="Days of no-reason return; 0 none; null inherits the parent's."
    )

    @classmethod
    def of(cls, c: CategoryInfo) -> CategoryRead:
        return cls(
            id=c.id,
            slug=c.slug,
            name=c.name,
            name_en=c.name_en,
            parent_id=c.parent_id,
            position=c.position,
            no_reason_return_days=c.no_reason_return_days,
        )


class MerchantRead(ResponseBody):
    id: int
    slug: str
    name: str
    name_en: str
    description: str
    logo_url: str | None

    @classmethod
    def of(cls, m: MerchantInfo) -> MerchantRead:
        return cls(
            id=m.id,
            slug=m.slug,
            name=m.name,
            name_en=m.name_en,
            description=m.description,
            logo_url=m.logo_url,
        )


class MerchantPage(ResponseBody):
    items: list[MerchantRead]
    meta: ListMeta


class ProductCard(ResponseBody):
    id: int
    title: str
    merchant_id: int
    merchant_name: str
    category_id: int
    image_url: str | None
    min_price_fen: int
    max_price_fen: int
    in_stock: bool
    sales_count: int
    created_at: datetime

    @classmethod
    def of(cls, p: ProductSummary) -> ProductCard:
        return cls(
            id=p.id,
            title=p.title,
            merchant_id=p.merchant_id,
            merchant_name=p.merchant_name,
            category_id=p.category_id,
            image_url=p.image_url,
            min_price_fen=p.min_price_fen,
            max_price_fen=p.max_price_fen,
            in_stock=p.in_stock,
            sales_count=p.sales_count,
            created_at=p.created_at,
        )


class ProductPage(ResponseBody):
    items: list[ProductCard]
    meta: ListMeta


class SkuRead(ResponseBody):
    id: int
    code: str
    attributes: dict[str, str]
    price_fen: int
    list_price_fen: int | None
    available: int
    in_stock: bool

    @classmethod
    def of(cls, s: SkuInfo) -> SkuRead:
        return cls(
            id=s.id,
            code=s.code,
            attributes=dict(s.attributes),
            price_fen=s.price_fen,
            list_price_fen=s.list_price_fen,
            available=s.available,
            in_stock=s.in_stock,
        )


class VariantAxisRead(ResponseBody):
    name: str
    label: str
    values: list[str]


class VariantRead(ResponseBody):
    sku_id: int
    values: list[str] = Field(description="One value per axis, in the axes' order.")
    price_fen: int
    available: int
    in_stock: bool

    @classmethod
    def of(cls, v: Variant) -> VariantRead:
        return cls(
            sku_id=v.sku_id,
            values=list(v.values),
            price_fen=v.price_fen,
            available=v.available,
            in_stock=v.in_stock,
        )


class ProductRead(ResponseBody):
    id: int
    title: str
    description: str
    status: ProductStatus
    merchant: MerchantRead
    category: CategoryRead
    specs: list[tuple[str, str]]
    image_urls: list[str]
    min_price_fen: int
    max_price_fen: int
    in_stock: bool
    sales_count: int
    created_at: datetime
    updated_at: datetime
    skus: list[SkuRead]
    axes: list[VariantAxisRead]
    variants: list[VariantRead]

    @classmethod
    def of(cls, p: ProductDetail) -> ProductRead:
        matrix = p.variants()
        return cls(
            id=p.id,
            title=p.title,
            description=p.description,
            status=p.status,
            merchant=MerchantRead.of(p.merchant),
            category=CategoryRead.of(p.category),
            specs=list(p.specs),
            image_urls=p.image_urls,
            min_price_fen=p.min_price_fen,
            max_price_fen=p.max_price_fen,
            in_stock=p.in_stock,
            sales_count=p.sales_count,
            created_at=p.created_at,
            updated_at=p.updated_at,
            skus=[SkuRead.of(s) for s in p.skus if s.is_active],
            axes=[
                VariantAxisRead(name=a.name, label=a.label, values=list(a.values))
                for a in matrix.axes
            ],
            variants=[VariantRead.of(v) for v in matrix.variants],
        )
