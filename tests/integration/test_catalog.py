"""Merchants, catalog and inventory over real HTTP, on SQLite and PostgreSQL.

Data is created through the services (as the demo seeder and the merchant console do) and
read back through the JSON API and the storefront pages. The database is shared by the whole
test session, so every search is narrowed by this module's own random token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import NewProduct, NewSku, ProductDetail
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput, NotFound
from kuaidan.inventory import service as inventory
from kuaidan.merchants import service as merchants
from tests.factories import CategoryFactory, MerchantFactory, ProductFactory, SkuFactory

COLOUR, SIZE = "颜色 Colour", "尺码 Size"
HTML = {"accept": "text/html"}


@asynccontextmanager
async def opened(server) -> AsyncIterator[UnitOfWork]:
    uow = server.uow()
    try:
        yield uow
    finally:
        await uow.close()


@dataclass
class Shop:
    token: str
    merchant_id: int
    parent: str
    child: str
    kitchen: str
    tee: ProductDetail
    coat: ProductDetail
    pan: ProductDetail
    bulk: list[ProductDetail]


def tee_product(token: str, category: str) -> NewProduct:
    """A tee in three variants (list price 129 yuan); its SKU codes are the token's own."""

    def sku(code: str, colour: str, size: str, price: int, stock: int) -> NewSku:
        return SkuFactory.build(
            code=f"{code}-{token}",
            attributes={COLOUR: colour, SIZE: size},
            price_fen=price,
            stock=stock,
            list_price_fen=12900,
        )

    return ProductFactory.build(
        title=f"纯棉宽松T恤 Cotton Relaxed Tee {token}",
        description="260g重磅精梳棉 heavyweight combed cotton",
        category_slug=category,
        specs=[("材质 Material", "100%棉 Cotton"), ("产地 Origin", "佛山 Foshan")],
        images=[f"products/{token}/1.png"],
        skus=[
            sku("TEE-BLK-M", "黑色 Black", "M", 7900, 5),
            sku("TEE-BLK-L", "黑色 Black", "L", 7900, 0),
            sku("TEE-WHT-M", "白色 White", "M", 8900, 3),
        ],
    )


def simple_product(
    title: str, category: str, price: int, stock: int, description: str = ""
) -> NewProduct:
    """A product of one SKU with no variant attributes."""
    sku = SkuFactory.build(attributes={}, price_fen=price, stock=stock)
    return ProductFactory.build(
        title=title, description=description, category_slug=category, skus=[sku]
    )


@pytest.fixture(scope="module")
async def shop(server) -> Shop:
    """One merchant with a small category tree and ten listed products, all marked by a token."""
    token = uuid.uuid4().hex[:10]
    parent, child, kitchen = f"wear-{token}", f"tees-{token}", f"kitchen-{token}"
    async with opened(server) as uow:
        merchant = await MerchantFactory.create(
            uow, slug=f"shop-{token}", name=f"潮流小店{token}", name_en=f"Trendy {token}"
        )
        await CategoryFactory.create(uow, slug=parent, name="服饰", name_en="Clothing")
        await CategoryFactory.create(
            uow, slug=child, name="T恤", name_en="Tees", parent_slug=parent
        )
        await CategoryFactory.create(uow, slug=kitchen, name="厨房", name_en="Kitchen")

        async def create(product: NewProduct) -> ProductDetail:
            return await catalog.create_product(uow=uow, merchant_id=merchant.id, product=product)

        tee = await create(tee_product(token, child))
        coat = await create(simple_product(f"羊毛大衣 Wool Coat {token}", parent, 59900, 2))
        pan = await create(
            simple_product(
                f"不粘锅 Nonstick Pan {token}", kitchen, 19900, 0, "适合电磁炉 induction"
            )
        )
        bulk = [
            await create(simple_product(f"收纳盒 Storage Box {token} #{i}", kitchen, 1000 + i, 1))
            for i in range(7)
        ]
    return Shop(token, merchant.id, parent, child, kitchen, tee, coat, pan, bulk)


async def search(api, **params) -> dict[str, Any]:
    response = await api.get("/api/v1/products", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids_of(body: dict[str, Any]) -> set[int]:
    return {item["id"] for item in body["items"]}


# --- services -----------------------------------------------------------------------------


async def test_create_product_returns_its_skus_with_opening_stock(shop):
    assert shop.tee.min_price_fen == 7900 and shop.tee.max_price_fen == 8900
    assert shop.tee.in_stock
    assert [s.available for s in shop.tee.skus] == [5, 0, 3]
    assert shop.pan.in_stock is False


async def test_duplicate_merchant_slug_is_a_conflict(server, shop):
    async with opened(server) as uow:
        with pytest.raises(Conflict):
            await merchants.create_merchant(
                uow=uow, slug=f"shop-{shop.token}", name="重复", name_en="Dup"
            )
        found = await merchants.get_merchant_by_slug(uow=uow, slug=f"shop-{shop.token}")
    assert found is not None and found.id == shop.merchant_id and found.credit_score == 100


async def test_ensure_category_is_idempotent(server, shop):
    async with opened(server) as uow:
        again = await catalog.ensure_category(
            uow=uow, slug=shop.child, name="T恤", name_en="Tees", parent_slug=shop.parent
        )
        categories = [c for c in await catalog.list_categories(uow=uow) if c.slug == shop.child]
    assert categories == [again]


async def test_taken_sku_code_and_invalid_listing_are_refused(server, shop):
    async with opened(server) as uow:
        with pytest.raises(Conflict):
            await catalog.create_product(
                uow=uow, merchant_id=shop.merchant_id, product=tee_product(shop.token, shop.child)
            )
        bad = simple_product("", shop.kitchen, 100, 1)
        with pytest.raises(InvalidInput):
            await catalog.create_product(uow=uow, merchant_id=shop.merchant_id, product=bad)
        with pytest.raises(NotFound):
            await catalog.create_product(
                uow=uow,
                merchant_id=10**9,
                product=simple_product("No shop", shop.kitchen, 100, 1),
            )


async def test_get_skus_gives_product_essentials_and_availability(server, shop):
    wanted = [s.id for s in shop.tee.skus] + [10**9]
    async with opened(server) as uow:
        skus = await catalog.get_skus(uow=uow, sku_ids=wanted)
    assert set(skus) == {s.id for s in shop.tee.skus}
    first = skus[shop.tee.skus[0].id]
    assert first.merchant_id == shop.merchant_id and first.product_id == shop.tee.id
    assert first.available == 5 and first.attributes == {COLOUR: "黑色 Black", SIZE: "M"}


# --- JSON API -----------------------------------------------------------------------------


async def test_search_finds_chinese_and_english_words_case_insensitively(api, shop):
    assert ids_of(await search(api, q=f"纯棉 {shop.token}")) == {shop.tee.id}
    assert ids_of(await search(api, q=f"COTTON {shop.token}")) == {shop.tee.id}
    assert ids_of(await search(api, q=f"电磁炉 {shop.token}")) == {shop.pan.id}
    assert ids_of(await search(api, q=f"nothing-like-this {shop.token}")) == set()


async def test_search_matches_whole_words_not_parts_of_words(server, api, unique):
    async with opened(server) as uow:
        merchant = await MerchantFactory.create(uow)
        category = await CategoryFactory.create(uow)

        async def create(title: str, description: str = "") -> int:
            new = simple_product(title, category.slug, 2000, 1, description)
            product = await catalog.create_product(uow=uow, merchant_id=merchant.id, product=new)
            return product.id

        steel = await create(f"不锈钢炒锅 Stainless Steel Wok {unique}")
        tee = await create(f"纯棉短袖 Cotton T-shirt tee {unique}")
        teeth = await create(f"电动牙刷 Sonic brush {unique}", "cleans teeth gently")
    assert ids_of(await search(api, q=f"tee {unique}")) == {tee}
    assert ids_of(await search(api, q=f"steel {unique}")) == {steel}
    assert ids_of(await search(api, q=f"teeth {unique}")) == {teeth}
    assert ids_of(await search(api, q=f"T恤 {unique}")) == set()
    assert ids_of(await search(api, q=f"钢 {unique}")) == {steel}
    assert ids_of(await search(api, q=f"短袖 {unique}")) == {tee}
    page = await api.get("/search", params={"q": f"tee {unique}"}, headers=HTML)
    assert "Cotton T-shirt tee" in page.text and "Stainless Steel" not in page.text


async def test_search_treats_like_wildcards_as_punctuation(api, shop):
    assert ids_of(await search(api, q="_")) == set()
    assert ids_of(await search(api, q="% _")) == set()
    assert ids_of(await search(api, q=f"{shop.token}_%")) == ids_of(
        await search(api, q=shop.token, page_size=100)
    )
    assert ids_of(await search(api, q=f"#3 {shop.token}")) == {shop.bulk[3].id}


async def test_category_filter_includes_child_categories(api, shop):
    assert ids_of(await search(api, category=shop.parent)) == {shop.tee.id, shop.coat.id}
    assert ids_of(await search(api, category=shop.child)) == {shop.tee.id}


async def test_price_range_matches_any_sku_price(api, shop):
    found = await search(api, q=shop.token, min_price=8000, max_price=9000)
    assert ids_of(found) == {shop.tee.id}
    found = await search(api, q=shop.token, min_price=1003, max_price=1004)
    assert ids_of(found) == {shop.bulk[3].id, shop.bulk[4].id}


async def test_in_stock_filter_leaves_out_sold_out_products(api, shop):
    everything = ids_of(await search(api, q=shop.token, page_size=100))
    in_stock = ids_of(await search(api, q=shop.token, page_size=100, in_stock="true"))
    assert shop.pan.id in everything
    assert in_stock == everything - {shop.pan.id}


@pytest.mark.parametrize("sort", ["relevance", "newest", "price_asc", "price_desc", "sales"])
async def test_pages_are_stable_and_never_repeat_an_item(api, shop, sort):
    first = await search(api, q=shop.token, page_size=3, sort=sort)
    assert first["meta"] == {"page": 1, "page_size": 3, "total": 10, "pages": math.ceil(10 / 3)}
    seen: list[int] = []
    for page in range(1, first["meta"]["pages"] + 1):
        seen += [
            item["id"]
            for item in (await search(api, q=shop.token, page_size=3, page=page, sort=sort))[
                "items"
            ]
        ]
    assert len(seen) == len(set(seen)) == 10


async def test_price_sort_orders_by_lowest_sku_price(api, shop):
    items = (await search(api, q=shop.token, sort="price_asc", page_size=100))["items"]
    prices = [item["min_price_fen"] for item in items]
    assert prices == sorted(prices)
    assert (
        items[0]["id"] == shop.bulk[0].id and items[0]["merchant_name"] == f"潮流小店{shop.token}"
    )


async def test_product_detail_has_skus_availability_and_variant_axes(api, shop):
    response = await api.get(f"/api/v1/products/{shop.tee.id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["merchant"]["id"] == shop.merchant_id
    assert body["category"]["slug"] == shop.child
    assert body["specs"][0] == ["材质 Material", "100%棉 Cotton"]
    assert body["image_urls"] == [f"/media/products/{shop.token}/1.png"]
    assert [(s["available"], s["in_stock"]) for s in body["skus"]] == [
        (5, True),
        (0, False),
        (3, True),
    ]
    assert body["axes"] == [
        {"name": COLOUR, "label": COLOUR, "values": ["黑色 Black", "白色 White"]},
        {"name": SIZE, "label": SIZE, "values": ["M", "L"]},
    ]
    assert {tuple(v["values"]) for v in body["variants"]} == {
        ("黑色 Black", "M"),
        ("黑色 Black", "L"),
        ("白色 White", "M"),
    }


async def test_unknown_ids_are_json_404s(api, shop):
    for path in ("/api/v1/products/999999999", "/api/v1/merchants/999999999"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    unknown_category = await api.get("/api/v1/products", params={"category": f"no-{shop.token}"})
    assert unknown_category.status_code == 404


async def test_unlisted_products_are_hidden_from_buyers(server, api, shop):
    async with opened(server) as uow:
        draft = await catalog.create_product(
            uow=uow,
            merchant_id=shop.merchant_id,
            product=simple_product(f"草稿 Draft {shop.token}", shop.kitchen, 500, 1),
            status="draft",
        )
    assert (await api.get(f"/api/v1/products/{draft.id}")).status_code == 404
    assert draft.id not in ids_of(await search(api, q=shop.token, page_size=100))


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page_size": 0},
        {"page_size": 101},
        {"min_price": 500, "max_price": 100},
        {"min_price": -1},
        {"sort": "cheapest"},
        {"in_stock": "maybe"},
        {"unknown": "x"},
    ],
)
async def test_bad_query_parameters_are_422_in_the_common_shape(api, params):
    response = await api.get("/api/v1/products", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"


async def test_categories_and_merchants_are_listed(api, shop):
    categories = (await api.get("/api/v1/categories")).json()
    by_slug = {c["slug"]: c for c in categories}
    assert by_slug[shop.child]["parent_id"] == by_slug[shop.parent]["id"]
    merchant = (await api.get(f"/api/v1/merchants/{shop.merchant_id}")).json()
    assert merchant["slug"] == f"shop-{shop.token}" and "credit_score" not in merchant
    listing = (await api.get("/api/v1/merchants", params={"page_size": 100})).json()
    assert listing["meta"]["page_size"] == 100 and listing["items"]


# --- price and stock changes --------------------------------------------------------------


async def test_setting_stock_to_zero_flips_in_stock_and_back(server, api, shop, unique):
    async with opened(server) as uow:
        product = await catalog.create_product(
            uow=uow,
            merchant_id=shop.merchant_id,
            product=simple_product(f"保温杯 Flask {unique}", shop.kitchen, 4900, 4),
        )
        sku_id = product.skus[0].id
        sku = await catalog.set_stock(uow=uow, sku_id=sku_id, on_hand=0)
    assert sku.available == 0
    body = (await api.get(f"/api/v1/products/{product.id}")).json()
    assert body["in_stock"] is False and body["skus"][0]["available"] == 0
    assert product.id not in ids_of(await search(api, q=f"Flask {unique}", in_stock="true"))

    async with opened(server) as uow:
        await catalog.set_stock(uow=uow, sku_id=sku_id, on_hand=7)
    body = (await api.get(f"/api/v1/products/{product.id}")).json()
    assert body["in_stock"] is True and body["skus"][0]["available"] == 7
    assert product.id in ids_of(await search(api, q=f"Flask {unique}", in_stock="true"))


async def test_concurrent_sell_outs_of_sibling_skus_leave_the_product_out_of_stock(
    server, api, shop, unique
):
    async with opened(server) as uow:
        product = await catalog.create_product(
            uow=uow,
            merchant_id=shop.merchant_id,
            product=tee_product(unique, shop.kitchen),
        )
    in_stock = [s.id for s in product.skus if s.available > 0]
    both_changed = asyncio.Barrier(len(in_stock))

    async def sell_out(sku_id: int) -> None:
        # What set_stock does, with both transactions changing stock before either refreshes
        # (on SQLite the second writer waits for the first, so the barrier just times out).
        async with opened(server) as uow, uow.atomic():
            await inventory.set_on_hand(uow=uow, sku_id=sku_id, on_hand=0)
            with contextlib.suppress(TimeoutError, asyncio.BrokenBarrierError):
                await asyncio.wait_for(both_changed.wait(), timeout=1)
            await catalog.refresh_availability(uow=uow, product_id=product.id)

    await asyncio.gather(*(sell_out(sku_id) for sku_id in in_stock))
    body = (await api.get(f"/api/v1/products/{product.id}")).json()
    assert body["in_stock"] is False
    assert all(s["available"] == 0 for s in body["skus"])


async def test_changing_a_sku_price_moves_the_product_price_range(server, api, shop, unique):
    async with opened(server) as uow:
        product = await catalog.create_product(
            uow=uow,
            merchant_id=shop.merchant_id,
            product=simple_product(f"砧板 Board {unique}", shop.kitchen, 3000, 4),
        )
        await catalog.set_sku_price(uow=uow, sku_id=product.skus[0].id, price_fen=2500)
        with pytest.raises(InvalidInput):
            await catalog.set_sku_price(uow=uow, sku_id=product.skus[0].id, price_fen=0)
        with pytest.raises(InvalidInput):
            await catalog.set_stock(uow=uow, sku_id=product.skus[0].id, on_hand=-1)
    body = (await api.get(f"/api/v1/products/{product.id}")).json()
    assert (body["min_price_fen"], body["max_price_fen"]) == (2500, 2500)
    found = await search(api, q=f"Board {unique}", min_price=2500, max_price=2500)
    assert ids_of(found) == {product.id}


# --- pages --------------------------------------------------------------------------------


def sku_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="sku-data">(.*?)</script>', html, re.S)
    assert match, "the product page carries its SKU data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


async def test_product_page_carries_the_variant_picker(api, shop):
    response = await api.get(f"/p/{shop.tee.id}", headers=HTML)
    assert response.status_code == 200
    html = response.text
    assert 'data-testid="variant-picker"' in html
    assert html.count('data-testid="variant-option"') == 4
    assert '<script src="/static/js/product.js"' in html
    assert "<script>" not in html  # the CSP allows no inline scripts
    data = sku_data(html)
    assert data["axes"] == [COLOUR, SIZE]
    assert {v["id"]: v["available"] for v in data["variants"]} == {
        s.id: s.available for s in shop.tee.skus
    }
    assert data["variants"][0]["price"] == "¥79.00"


async def test_sku_query_parameter_selects_a_variant_without_javascript(api, shop):
    white = shop.tee.skus[2]
    html = (await api.get(f"/p/{shop.tee.id}?sku={white.id}", headers=HTML)).text
    assert f'data-sku-id="{white.id}"' in html
    assert re.search(r'data-testid="sku-price">¥89\.00<', html)
    assert "有货 In stock · 3" in html
    sold_out = shop.tee.skus[1]
    html = (await api.get(f"/p/{shop.tee.id}?sku={sold_out.id}", headers=HTML)).text
    assert "缺货 Out of stock" in html


async def test_the_product_picture_follows_the_chosen_colour(server, api, unique):
    async with opened(server) as uow:
        merchant = await MerchantFactory.create(uow)
        category = await CategoryFactory.create(uow, name="服饰", name_en="Wear")
        pictures = [f"products/{unique}/{n}.png" for n in (1, 2, 3)]
        product = await ProductFactory.create(
            uow,
            merchant_id=merchant.id,
            category_slug=category.slug,
            images=pictures,
            skus=[
                SkuFactory.build(attributes={COLOUR: colour, SIZE: size}, price_fen=9900, stock=3)
                for colour in ("黑色 Black", "灰色 Grey")
                for size in ("M", "L")
            ],
        )
    black_m, _black_l, grey_m, _grey_l = product.skus
    data = sku_data((await api.get(f"/p/{product.id}", headers=HTML)).text)
    assert data["colour_images"] == {
        "黑色 Black": f"/media/{pictures[0]}",
        "灰色 Grey": f"/media/{pictures[1]}",
    }

    def main_picture(html: str) -> str:
        found = re.search(r'<img class="product__image" src="([^"]+)"', html)
        assert found is not None
        return found.group(1)

    grey = (await api.get(f"/p/{product.id}?sku={grey_m.id}", headers=HTML)).text
    assert main_picture(grey) == f"/media/{pictures[1]}"
    black = (await api.get(f"/p/{product.id}?sku={black_m.id}", headers=HTML)).text
    assert main_picture(black) == f"/media/{pictures[0]}"


def card_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-testid="product-card" data-product-id="(\d+)"', html)}


async def test_search_page_shows_what_the_api_finds(api, shop):
    response = await api.get(
        "/search", params={"q": shop.token, "in_stock": "1", "sort": "price_asc"}, headers=HTML
    )
    assert response.status_code == 200
    assert 'data-testid="search-results"' in response.text
    expected = ids_of(await search(api, q=shop.token, in_stock="true", page_size=24))
    assert card_ids(response.text) == expected and shop.pan.id not in expected
    cheap = await api.get("/search", params={"q": shop.token, "max_price": "10.03"}, headers=HTML)
    assert card_ids(cheap.text) == {p.id for p in shop.bulk[:4]}
    assert f'value="{shop.token}"' in cheap.text


async def test_search_page_explains_bad_prices_instead_of_failing(api, shop):
    response = await api.get(
        "/search", params={"q": shop.token, "min_price": "abc", "max_price": "-3"}, headers=HTML
    )
    assert response.status_code == 200
    assert response.text.count('data-testid="filter-error"') == 2
    assert card_ids(response.text) == ids_of(await search(api, q=shop.token, page_size=24))


async def test_search_page_paginates_with_links_that_keep_the_filters(api, server, shop, unique):
    async with opened(server) as uow:  # the pages show 24 products: make 26
        for i in range(26):
            await catalog.create_product(
                uow=uow,
                merchant_id=shop.merchant_id,
                product=simple_product(f"Paged {unique} {i}", shop.kitchen, 100, 1),
            )
    params = {"q": f"Paged {unique}", "in_stock": "1", "sort": "newest"}
    html = (await api.get("/search", params=params, headers=HTML)).text
    assert html.count('data-testid="product-card"') == 24
    assert 'data-testid="page-next"' in html
    hrefs = re.findall(r'href="([^"]*page=2[^"]*)"', html)
    assert hrefs
    next_url = hrefs[0].replace("&amp;", "&")
    assert unique in next_url and "in_stock=1" in next_url and "sort=newest" in next_url
    second = (await api.get(next_url, headers=HTML)).text
    assert second.count('data-testid="product-card"') == 2
    assert not card_ids(html) & card_ids(second)


async def test_category_and_home_pages_render(api, shop):
    category = await api.get(f"/c/{shop.parent}", headers=HTML)
    assert category.status_code == 200
    expected = ids_of(await search(api, category=shop.parent, page_size=24))
    assert {shop.tee.id, shop.coat.id} <= expected
    assert card_ids(category.text) == expected
    assert f'href="/c/{shop.child}"' in category.text
    home = await api.get("/", headers=HTML)
    assert home.status_code == 200 and 'data-testid="new-products"' in home.text


async def test_unknown_product_and_category_pages_are_friendly_404s(api, shop):
    for path in ("/p/999999999", "/p/not-a-number", f"/c/no-such-{shop.token}"):
        response = await api.get(path, headers=HTML)
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]
        assert "返回首页" in response.text
