"""The demo marketplace, written by hand: merchants, categories, accounts and products.

Everything here is fixed data; the only variation (stock levels) comes from a
``random.Random`` seeded per product, so every seed produces the same marketplace.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kuaidan.accounts.domain import Role
from kuaidan.demo.products_home import HOME_PRODUCTS
from kuaidan.demo.products_tech import TECH_PRODUCTS
from kuaidan.demo.products_wear import WEAR_PRODUCTS
from kuaidan.demo.spec import (
    DemoCategory,
    DemoMerchant,
    DemoUser,
    ProductTemplate,
    SkuSpec,
    expand_skus,
)

# Only for the accounts below, which exist only in a demo database; printed by `kuaidan demo`.
DEMO_PASSWORD = "kuaidan-demo"  # noqa: S105 (documented demo password, not a secret)
DEMO_EMAIL_DOMAIN = "demo.kuaidan.test"
STOCK_SEED = 20_261_125

MERCHANTS: tuple[DemoMerchant, ...] = (
    DemoMerchant(
        "trendy-apparel",
        "潮流服饰旗舰店",
        "Trendy Apparel",
        "原创设计,重磅面料,每周上新。 Original designs in heavyweight fabrics, "
        "new drops every week.",
        "TA",
    ),
    DemoMerchant(
        "digital-pioneer",
        "数码先锋",
        "Digital Pioneer",
        "正品数码配件,全国联保,30天无忧退换。 Genuine accessories with a nationwide warranty "
        "and 30-day returns.",
        "DP",
    ),
    DemoMerchant(
        "good-kitchen",
        "好厨房",
        "Good Kitchen",
        "让每一餐都简单好做:锅具、刀具与小家电。 Cookware, knives and small appliances that "
        "make every meal easy.",
        "GK",
    ),
    DemoMerchant(
        "beauty-corner",
        "美妆小铺",
        "Beauty Corner",
        "温和护肤与日常彩妆,敏感肌友好。 Gentle skincare and everyday make-up, kind to "
        "sensitive skin.",
        "BC",
    ),
    DemoMerchant(
        "wild-trail",
        "山野户外",
        "Wild Trail Outdoor",
        "为周末露营和山野徒步准备的可靠装备。 Dependable gear for weekend camping and "
        "mountain hikes.",
        "WT",
    ),
    DemoMerchant(
        "little-ones",
        "宝贝童装",
        "Little Ones",
        "A类婴幼儿标准,柔软亲肤。 Class-A infant-safe fabrics, soft on little skin.",
        "LO",
    ),
)

CATEGORIES: tuple[DemoCategory, ...] = (
    DemoCategory("apparel", "服装", "Apparel", None, 1),
    DemoCategory("tshirts", "T恤", "T-shirts", "apparel", 1),
    DemoCategory("dresses", "连衣裙", "Dresses", "apparel", 2),
    DemoCategory("jackets", "外套", "Jackets", "apparel", 3),
    DemoCategory("hoodies", "卫衣", "Hoodies", "apparel", 4),
    DemoCategory("trousers", "裤装", "Trousers", "apparel", 5),
    DemoCategory("electronics", "数码", "Electronics", None, 2),
    DemoCategory("earphones", "耳机", "Earphones", "electronics", 1),
    DemoCategory("chargers", "充电", "Chargers", "electronics", 2),
    DemoCategory("phone-cases", "手机壳", "Phone cases", "electronics", 3),
    DemoCategory("speakers", "音箱", "Speakers", "electronics", 4),
    DemoCategory("wearables", "智能穿戴", "Wearables", "electronics", 5),
    DemoCategory("kitchen", "厨房", "Kitchen", None, 3),
    DemoCategory("cookware", "锅具", "Cookware", "kitchen", 1),
    DemoCategory("knives", "刀具", "Knives", "kitchen", 2),
    DemoCategory("tableware", "餐具", "Tableware", "kitchen", 3),
    DemoCategory("appliances", "厨房小电", "Small appliances", "kitchen", 4),
    DemoCategory("beauty", "美妆", "Beauty", None, 4),
    DemoCategory("skincare", "护肤", "Skincare", "beauty", 1),
    DemoCategory("makeup", "彩妆", "Make-up", "beauty", 2),
    DemoCategory("fragrance", "香氛", "Fragrance", "beauty", 3),
    DemoCategory("outdoor", "户外", "Outdoor", None, 5),
    DemoCategory("tents", "帐篷", "Tents", "outdoor", 1),
    DemoCategory("backpacks", "背包", "Backpacks", "outdoor", 2),
    DemoCategory("camping", "露营装备", "Camping gear", "outdoor", 3),
    DemoCategory("hiking-shoes", "户外鞋", "Hiking shoes", "outdoor", 4),
    DemoCategory("baby", "母婴", "Baby & Kids", None, 6),
    DemoCategory("kids-clothing", "童装", "Kids' clothing", "baby", 1),
    DemoCategory("baby-care", "婴儿护理", "Baby care", "baby", 2),
    DemoCategory("toys", "玩具", "Toys", "baby", 3),
)


def _email(local: str) -> str:
    return f"{local}@{DEMO_EMAIL_DOMAIN}"


USERS: tuple[DemoUser, ...] = (
    DemoUser(
        _email("buyer"),
        Role.BUYER,
        "小林 Lin (demo buyer)",
        "search, pick a colour and size, order and pay; /orders tracks parcels, changes "
        "and returns",
        phone="13800138000",
    ),
    DemoUser(
        _email("merchant"),
        Role.MERCHANT,
        "潮流服饰 店长 (demo merchant)",
        "Trendy Apparel's orders: ship them at /merchant/orders, answer /merchant/after-sales",
        merchant_slug=MERCHANTS[0].slug,
    ),
    DemoUser(
        _email("reviewer"),
        Role.REVIEWER,
        "审核员 Reviewer",
        "a staff login; this build has no reviewer pages yet",
    ),
    DemoUser(
        _email("agent"),
        Role.AGENT,
        "客服 Agent",
        "judge after-sales cases at /agent/after-sales, change orders for buyers",
    ),
    DemoUser(
        _email("admin"),
        Role.ADMIN,
        "管理员 Admin",
        "/risk/holds, /payments/reconciliation, /logistics/cases, /dev/inbox (one-time codes)",
    ),
    *(
        DemoUser(
            _email(m.slug),
            Role.MERCHANT,
            f"{m.name} 店长 ({m.name_en})",
            f"{m.name_en}'s orders at /merchant/orders",
            merchant_slug=m.slug,
        )
        for m in MERCHANTS[1:]
    ),
)

PRODUCTS: tuple[ProductTemplate, ...] = (*WEAR_PRODUCTS, *TECH_PRODUCTS, *HOME_PRODUCTS)


@dataclass(frozen=True, slots=True)
class DemoProduct:
    """A template with its expanded SKUs and the merchant that lists it."""

    merchant: DemoMerchant
    template: ProductTemplate
    skus: tuple[SkuSpec, ...]


def merchant_for(template: ProductTemplate) -> DemoMerchant:
    for merchant in MERCHANTS:
        if template.code.startswith(merchant.sku_prefix):
            return merchant
    raise LookupError(f"no demo merchant has SKU prefix of {template.code}")


def demo_products(seed: int = STOCK_SEED) -> list[DemoProduct]:
    """Every demo product with its SKUs; the same ``seed`` always gives the same stock."""
    return [
        DemoProduct(
            merchant=merchant_for(template),
            template=template,
            skus=tuple(expand_skus(template, random.Random(f"{seed}:{template.code}"))),
        )
        for template in PRODUCTS
    ]
