"""HTML routes of the storefront: home, category, search and product pages.

All of them are public: buyers browse without signing in. Filters come from the query string
and a bad value (a price like "abc") becomes a friendly message, never an error page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from kuaidan.catalog import service
from kuaidan.catalog.domain import (
    ProductDetail,
    ProductQuery,
    ProductSummary,
    Sort,
    Variant,
    VariantMatrix,
    ancestors,
    children_by_parent,
    colour_axis,
    colour_pictures,
)
from kuaidan.catalog.schemas import MAX_PAGE
from kuaidan.core.errors import NotFound
from kuaidan.core.money import format_minor, parse_major
from kuaidan.core.pagination import MAX_PAGE_SIZE, PageOf, PageRequest
from kuaidan.core.templating import render
from kuaidan.deps import Uow

router = APIRouter(include_in_schema=False)  # HTML pages are not part of the API contract

PAGE_SIZE = 24
SORT_LABELS = {
    Sort.RELEVANCE: "综合 Relevance",
    Sort.NEWEST: "最新 Newest",
    Sort.SALES: "销量 Best selling",
    Sort.PRICE_ASC: "价格从低到高 Price: low to high",
    Sort.PRICE_DESC: "价格从高到低 Price: high to low",
}
TEXT = {
    "in_stock": "有货 In stock",
    "out_of_stock": "缺货 Out of stock",
    "choose": "请选择 Please choose",
}


@dataclass
class SearchForm:
    """The filter form as typed, what it means, and what was wrong with it."""

    values: dict[str, str]
    query: ProductQuery
    page: int
    size: int
    errors: list[str] = field(default_factory=list)

    def url(self, path: str, **changes: object) -> str:
        """``path`` with the current filters (minus empty ones) and the given changes."""
        merged = {**self.values, "page": str(self.page), **{k: str(v) for k, v in changes.items()}}
        kept = {k: v for k, v in merged.items() if v and not (k == "page" and v == "1")}
        return f"{path}?{urlencode(kept)}" if kept else path


def _price(raw: str, label: str, errors: list[str]) -> int | None:
    if not raw.strip():
        return None
    try:
        fen = parse_major(raw)
    except ValueError:
        fen = -1
    if fen < 0:
        errors.append(f"{label}“{raw}”无效 is invalid and was ignored.")
        return None
    return fen


def _whole(raw: str | None, *, low: int, high: int, label: str, errors: list[str]) -> int | None:
    """A whole number typed into the query string, within [low, high]; None if absent/bad."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if value.isdigit() and low <= int(value) <= high:
        return int(value)
    errors.append(f"{label}“{raw[:20]}”无效 is invalid; showing the default instead.")
    return None


def parse_search_form(params: Mapping[str, str], *, category: str | None = None) -> SearchForm:
    """Read the filters of a search or category page; prices are typed in yuan."""
    values = {
        key: params.get(key, "").strip()
        for key in ("q", "category", "min_price", "max_price", "in_stock", "sort")
    }
    if category is not None:
        values.pop("category")
    errors: list[str] = []
    low = _price(values["min_price"], "最低价 Lowest price ", errors)
    high = _price(values["max_price"], "最高价 Highest price ", errors)
    page = _whole(params.get("page"), low=1, high=MAX_PAGE, label="页码 Page ", errors=errors)
    size = _whole(
        params.get("page_size"), low=1, high=MAX_PAGE_SIZE, label="每页 Page size ", errors=errors
    )
    if size is not None:
        values["page_size"] = str(size)
    if low is not None and high is not None and low > high:
        errors.append("最低价高于最高价 The lowest price is above the highest; both were ignored.")
        low = high = None
    sort = values["sort"] if values["sort"] in set(Sort) else Sort.RELEVANCE
    q = values["q"][:100]
    query = ProductQuery(
        q=q,
        category=category if category is not None else values.get("category") or None,
        min_price_fen=low,
        max_price_fen=high,
        in_stock_only=values["in_stock"] in {"1", "on", "true"},
        sort=Sort(sort),
    )
    return SearchForm(
        values=values, query=query, page=page or 1, size=size or PAGE_SIZE, errors=errors
    )


def _pager(form: SearchForm, path: str) -> Callable[[int], str]:
    return lambda number: form.url(path, page=number)


# --- routes -----------------------------------------------------------------------------


@router.get("/", summary="Home page")
async def home(request: Request, uow: Uow) -> Response:
    """Public: no sign-in needed. Categories, featured products and new arrivals."""
    categories = await service.list_categories(uow=uow)
    featured = await service.search_products(
        uow=uow, query=ProductQuery(in_stock_only=True, sort=Sort.SALES), page=PageRequest(1, 8)
    )
    newest = await service.search_products(
        uow=uow, query=ProductQuery(sort=Sort.NEWEST), page=PageRequest(1, 12)
    )
    return render(
        request,
        "catalog/home.html",
        {
            "tree": children_by_parent(categories),
            "featured": featured.items,
            "newest": newest.items,
        },
    )


@router.get("/search", summary="Search page")
async def search_page(request: Request, uow: Uow) -> Response:
    """Public: no sign-in needed. Search with filters, sort and pagination."""
    form = parse_search_form(request.query_params)
    categories = await service.list_categories(uow=uow)
    if form.query.category and all(c.slug != form.query.category for c in categories):
        form.errors.append("没有这个分类 No such category; showing every category.")
        form.values["category"] = ""
        form.query = replace(form.query, category=None)
    results = await _search(uow, form)
    context = _listing_context(form, results, "/search")
    context.update({"categories": categories, "q": form.values["q"]})
    return render(request, "catalog/search.html", context)


@router.get("/c/{slug}", summary="Category page")
async def category_page(request: Request, uow: Uow, slug: str) -> Response:
    """Public: no sign-in needed. A category's products (its subcategories included)."""
    category = await service.get_category(uow=uow, slug=slug)
    categories = await service.list_categories(uow=uow)
    form = parse_search_form(request.query_params, category=slug)
    results = await _search(uow, form)
    context = _listing_context(form, results, f"/c/{slug}")
    context.update(
        {
            "category": category,
            "trail": ancestors(categories, category.id),
            "children": children_by_parent(categories).get(category.id, []),
        }
    )
    return render(request, "catalog/category.html", context)


async def _search(uow: Uow, form: SearchForm) -> PageOf[ProductSummary]:
    page = PageRequest(form.page, form.size)
    results = await service.search_products(uow=uow, query=form.query, page=page)
    if form.page > results.pages:  # past the end: show the last page instead
        form.page = results.pages
        page = PageRequest(form.page, form.size)
        results = await service.search_products(uow=uow, query=form.query, page=page)
    return results


def _listing_context(
    form: SearchForm, results: PageOf[ProductSummary], path: str
) -> dict[str, Any]:
    return {
        "form": form,
        "results": results,
        "page_url": _pager(form, path),
        "sort_labels": SORT_LABELS,
        "path": path,
    }


@router.get("/p/{product_id}", summary="Product page")
async def product_page(request: Request, uow: Uow, product_id: str) -> Response:
    """Public: no sign-in needed. ``?sku=ID`` selects a variant without JavaScript."""
    if not product_id.isdigit() or len(product_id) > 12:
        raise NotFound(f"no product {product_id}")
    product = await service.get_product(uow=uow, product_id=int(product_id))
    matrix = product.variants()
    selected = _selected_variant(matrix, request.query_params.get("sku", ""))
    categories = await service.list_categories(uow=uow)
    options = matrix.options(matrix.selection_of(selected))
    return render(
        request,
        "catalog/product.html",
        {
            "product": product,
            "trail": [*ancestors(categories, product.category.id), product.category],
            "picker": list(zip(matrix.axes, options, strict=True)),
            "selected": selected,
            "price_range": _price_range(product),
            "sku_data": _sku_data(product, matrix),
            "main_image": _main_image(product, matrix, selected),
            "text": TEXT,
        },
    )


def _main_image(product: ProductDetail, matrix: VariantMatrix, chosen: Variant | None) -> str:
    """The chosen variant's colour picture, else the product's first picture ('' if none)."""
    urls = product.image_urls
    if not urls:
        return ""
    index = colour_axis(matrix.axes)
    if chosen is None or index is None:
        return urls[0]
    return colour_pictures(matrix.axes, urls).get(chosen.values[index], urls[0])


def _selected_variant(matrix: VariantMatrix, raw_sku: str) -> Variant | None:
    if raw_sku.isdigit() and len(raw_sku) <= 12:
        chosen = matrix.by_sku(int(raw_sku))
        if chosen is not None:
            return chosen
    return matrix.variants[0] if len(matrix.variants) == 1 else None


def _price_range(product: ProductDetail) -> str:
    low, high = format_minor(product.min_price_fen), format_minor(product.max_price_fen)
    return low if low == high else f"{low} – {high}"


def _sku_data(product: ProductDetail, matrix: VariantMatrix) -> dict[str, Any]:
    """What product.js needs to run the picker: axes, variants with formatted prices, texts."""
    return {
        "product_id": product.id,
        "axes": [axis.name for axis in matrix.axes],
        "variants": [
            {
                "id": v.sku_id,
                "values": list(v.values),
                "price": format_minor(v.price_fen),
                "list_price": format_minor(v.list_price_fen) if v.list_price_fen else None,
                "available": v.available,
            }
            for v in matrix.variants
        ],
        "price_range": _price_range(product),
        "colour_images": colour_pictures(matrix.axes, product.image_urls),
        "first_image": product.image_urls[0] if product.images else None,
        "text": TEXT,
    }
