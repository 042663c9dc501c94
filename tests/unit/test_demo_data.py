"""The demo catalogue's invariants: unique keys, valid listings, sane prices, drawable shapes."""

from __future__ import annotations

import re
from collections import Counter

from kuaidan.accounts.domain import Role, check_password
from kuaidan.demo.data import (
    CATEGORIES,
    DEMO_PASSWORD,
    MERCHANTS,
    PRODUCTS,
    USERS,
    demo_products,
)
from kuaidan.demo.images import SHAPES, SIZE, image_paths, render
from kuaidan.demo.seed import new_product
from kuaidan.merchants.domain import check_slug

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


def duplicates(values: list[str]) -> list[str]:
    return [value for value, count in Counter(values).items() if count > 1]


def test_the_marketplace_is_big_enough() -> None:
    products = demo_products()
    assert len(MERCHANTS) >= 5
    assert len(products) >= 60
    assert sum(len(p.skus) for p in products) >= 300
    assert all(Counter(p.merchant.slug for p in products)[m.slug] >= 8 for m in MERCHANTS)


def test_slugs_prefixes_and_codes_are_unique() -> None:
    products = demo_products()
    assert not duplicates([m.slug for m in MERCHANTS])
    assert not duplicates([m.sku_prefix for m in MERCHANTS])
    assert not duplicates([c.slug for c in CATEGORIES])
    assert not duplicates([t.code for t in PRODUCTS])
    assert not duplicates([t.image_key for t in PRODUCTS])
    assert not duplicates([sku.code for p in products for sku in p.skus])
    for slug in [m.slug for m in MERCHANTS] + [c.slug for c in CATEGORIES]:
        assert check_slug(slug) == slug


def test_every_category_referenced_exists_and_parents_come_first() -> None:
    seen: set[str] = set()
    for category in CATEGORIES:
        assert category.parent_slug is None or category.parent_slug in seen, category.slug
        seen.add(category.slug)
    assert {t.category_slug for t in PRODUCTS} <= seen
    leaf_parents = {c.parent_slug for c in CATEGORIES}
    assert all(t.category_slug not in leaf_parents for t in PRODUCTS)


def test_prices_are_positive_fen_and_list_prices_are_higher() -> None:
    skus = [sku for p in demo_products() for sku in p.skus]
    for sku in skus:
        assert isinstance(sku.price_fen, int) and sku.price_fen > 0
        assert sku.list_price_fen is None or sku.list_price_fen > sku.price_fen
        assert sku.stock >= 0
    assert any(sku.list_price_fen for sku in skus)
    assert any(sku.stock == 0 for sku in skus)
    assert any(0 < sku.stock <= 5 for sku in skus)
    assert sum(1 for sku in skus if sku.stock > 0) > len(skus) * 3 // 4


def test_every_demo_product_is_a_valid_listing() -> None:
    for product in demo_products():
        listing = new_product(product)
        assert listing.problems() == [], product.template.code
        assert listing.images == image_paths(product.template)


def test_titles_mix_chinese_and_english() -> None:
    for template in PRODUCTS:
        assert CJK.search(template.title) and LATIN.search(template.title), template.code
        assert CJK.search(template.description) and LATIN.search(template.description)
        assert template.short_en.isascii()


def test_stock_is_the_same_every_time() -> None:
    first, second = demo_products(), demo_products()
    assert [s.stock for p in first for s in p.skus] == [s.stock for p in second for s in p.skus]
    assert demo_products(seed=1) != first


def test_there_is_one_account_per_role_and_merchant_logins_point_at_merchants() -> None:
    assert {user.role for user in USERS} == set(Role)
    assert not duplicates([user.email for user in USERS])
    slugs = {m.slug for m in MERCHANTS}
    staff = [user for user in USERS if user.role is Role.MERCHANT]
    assert {user.merchant_slug for user in staff} == slugs
    assert all(u.merchant_slug is None for u in USERS if u.role is not Role.MERCHANT)
    check_password(DEMO_PASSWORD)


def test_every_shape_is_drawable() -> None:
    assert {t.shape for t in PRODUCTS} <= set(SHAPES)
    for shape in SHAPES:
        image = render(shape, "#1d1d1f", "Dark", variant=1)
        assert image.size == (SIZE, SIZE)
    light = render("tshirt", "#f4f4f2", "White Tee", variant=2)
    assert light.getpixel((SIZE // 2, SIZE // 2)) != light.getpixel((5, 5))
