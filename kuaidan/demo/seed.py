"""Seed the demo marketplace through the areas' services, once.

Each merchant is created together with all of its products in one transaction, so a
merchant that exists is a merchant whose catalogue is complete: its slug is the seed's
marker. Accounts are looked up by e-mail and categories are upserted, so running the seed
again creates nothing and takes well under a second. Pictures are drawn in worker
threads before any transaction opens (missing ones are drawn again on every run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role
from kuaidan.bootstrap import Container
from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import NewProduct, NewSku, ProductStatus
from kuaidan.core.db import UnitOfWork
from kuaidan.demo.data import (
    CATEGORIES,
    DEMO_PASSWORD,
    MERCHANTS,
    USERS,
    DemoProduct,
    demo_products,
)
from kuaidan.demo.images import draw_product_images, image_paths
from kuaidan.demo.spec import DemoUser
from kuaidan.logistics import service as logistics
from kuaidan.merchants import service as merchants
from kuaidan.merchants.domain import ReturnAddress, ShippingSettings

# Called as progress(what is happening, steps done, steps in all).
Progress = Callable[[str, int, int], None]

BUYER_ADDRESS = {
    "recipient": "林小满 Lin Xiaoman",
    "phone": "13800138000",
    "province": "上海市 Shanghai",
    "city": "上海市 Shanghai",
    "district": "徐汇区 Xuhui",
    "line": "漕溪北路 88 号 3 号楼 1201 室 (Room 1201, Bldg 3, 88 Caoxi North Rd)",
    "postcode": "200030",
}


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a seed run did; counts are of things created by this run."""

    already_seeded: bool
    seconds: float
    merchants: int = 0
    products: int = 0
    skus: int = 0
    users: int = 0
    images: int = 0


@dataclass
class _Tally:
    total: int
    progress: Progress | None
    done: int = 0

    def step(self, description: str, advance: int = 1) -> None:
        self.done += advance
        if self.progress is not None:
            self.progress(description, self.done, self.total)


async def seed_demo(*, container: Container, progress: Progress | None = None) -> DemoSummary:
    """Create the demo marketplace unless it is there already; returns what was created."""
    started = time.perf_counter()
    products = demo_products()
    media_dir = container.settings.data_dir / "media"
    uow = container.unit_of_work()
    try:
        if await is_seeded(uow=uow):
            await seed_shipping(uow)  # also for a demo seeded before shipping existed
            images = await _draw_images(products, media_dir, None)
            return DemoSummary(True, time.perf_counter() - started, images=images)
        tally = _Tally(total=1 + 2 * len(products) + len(USERS), progress=progress)
        await _seed_categories(uow)
        tally.step("categories")
        images = await _draw_images(products, media_dir, tally)
        created = await _seed_merchants(uow, products, tally)
        users = await _seed_users(uow, tally)
        await seed_shipping(uow)
    finally:
        await uow.close()
    return DemoSummary(
        already_seeded=False,
        seconds=time.perf_counter() - started,
        merchants=len(created),
        products=sum(1 for p in products if p.merchant.slug in created),
        skus=sum(len(p.skus) for p in products if p.merchant.slug in created),
        users=users,
        images=images,
    )


# Where each demo shop ships from, and whether paid orders book a carrier at once.
SHIP_FROM: dict[str, tuple[str, str, bool]] = {
    "trendy-apparel": ("广东", "广州", False),
    "digital-pioneer": ("广东", "深圳", True),
    "good-kitchen": ("浙江", "杭州", False),
    "beauty-corner": ("上海", "上海", False),
}
DEFAULT_SHIP_FROM = ("浙江", "杭州", False)


# Each ship-from city's telephone area code and a warehouse street there, for return addresses.
RETURN_STREETS: dict[str, tuple[str, str]] = {
    "广州": ("020", "天河区天河路 385 号 售后仓 (After-sales, 385 Tianhe Rd)"),
    "深圳": ("0755", "南山区科苑路 15 号 售后部 (After-sales, 15 Keyuan Rd)"),
    "杭州": ("0571", "西湖区文三路 90 号 售后仓库 (After-sales, 90 Wensan Rd)"),
    "上海": ("021", "徐汇区漕溪北路 88 号 售后服务部 (After-sales, 88 Caoxi North Rd)"),
}


async def seed_shipping(uow: UnitOfWork) -> None:
    """The default carriers, and a ship-from place and a return address for every demo shop
    that has none."""
    await logistics.ensure_default_carriers(uow=uow)
    for index, merchant in enumerate(MERCHANTS, start=1):
        info = await merchants.get_merchant_by_slug(uow=uow, slug=merchant.slug)
        if info is None:
            continue
        province, city, auto = SHIP_FROM.get(merchant.slug, DEFAULT_SHIP_FROM)
        if not info.ship_from_province:
            await merchants.set_shipping_settings(
                uow=uow, merchant_id=info.id, settings=ShippingSettings(province, city, auto)
            )
        if await merchants.get_return_address(uow=uow, merchant_id=info.id) is None:
            await merchants.set_return_address(
                uow=uow,
                merchant_id=info.id,
                address=demo_return_address(merchant.name, province, city, index),
            )


def demo_return_address(shop_name: str, province: str, city: str, index: int) -> ReturnAddress:
    """A shop's after-sales desk at a warehouse street of its ship-from city."""
    area_code, street = RETURN_STREETS.get(city, RETURN_STREETS["杭州"])
    return ReturnAddress(
        recipient=f"{shop_name} 售后",
        phone=f"{area_code}-8888{index:04d}",
        province=province,
        city=city,
        line=street,
    )


async def is_seeded(*, uow: UnitOfWork) -> bool:
    """True when every demo merchant (with its catalogue) and every demo account exists."""
    for merchant in MERCHANTS:
        if await merchants.get_merchant_by_slug(uow=uow, slug=merchant.slug) is None:
            return False
    for user in USERS:
        if await accounts.get_user_by_email(uow=uow, email=user.email) is None:
            return False
    return True


async def _seed_categories(uow: UnitOfWork) -> None:
    async with uow.atomic():
        for category in CATEGORIES:
            await catalog.ensure_category(
                uow=uow,
                slug=category.slug,
                name=category.name,
                name_en=category.name_en,
                parent_slug=category.parent_slug,
                position=category.position,
            )


async def _draw_images(
    products: Sequence[DemoProduct], media_dir: Path, tally: _Tally | None
) -> int:
    """Draw every missing picture in worker threads; returns how many files were written."""
    jobs = [
        asyncio.to_thread(draw_product_images, product.template, media_dir) for product in products
    ]
    written = 0
    for job in asyncio.as_completed(jobs):
        written += await job
        if tally is not None:
            tally.step("drawing product pictures")
    return written


async def _seed_merchants(
    uow: UnitOfWork, products: Sequence[DemoProduct], tally: _Tally
) -> set[str]:
    """Each missing merchant and its catalogue, one transaction per merchant."""
    created: set[str] = set()
    for merchant in MERCHANTS:
        own = [p for p in products if p.merchant.slug == merchant.slug]
        if await merchants.get_merchant_by_slug(uow=uow, slug=merchant.slug) is not None:
            tally.step(f"{merchant.name_en} is already there", len(own))
            continue
        async with uow.atomic():
            info = await merchants.create_merchant(
                uow=uow,
                slug=merchant.slug,
                name=merchant.name,
                name_en=merchant.name_en,
                description=merchant.description,
            )
            for product in own:
                await catalog.create_product(
                    uow=uow,
                    merchant_id=info.id,
                    product=new_product(product),
                    status=_status(product).value,
                )
                tally.step(f"listing {merchant.name_en}")
        created.add(merchant.slug)
    return created


def _status(product: DemoProduct) -> ProductStatus:
    pending = product.template.pending_review
    return ProductStatus.PENDING_REVIEW if pending else ProductStatus.LISTED


def new_product(product: DemoProduct) -> NewProduct:
    """The catalog's form of a demo product."""
    template = product.template
    return NewProduct(
        title=template.title,
        description=template.description,
        category_slug=template.category_slug,
        specs=list(template.specs),
        images=image_paths(template),
        skus=[
            NewSku(
                code=sku.code,
                attributes=dict(sku.attributes),
                price_fen=sku.price_fen,
                stock=sku.stock,
                list_price_fen=sku.list_price_fen,
            )
            for sku in product.skus
        ],
    )


async def _seed_users(uow: UnitOfWork, tally: _Tally) -> int:
    """Each missing demo account; the buyer also gets an encrypted phone and an address."""
    created = 0
    for user in USERS:
        if await accounts.get_user_by_email(uow=uow, email=user.email) is None:
            await _create_user(uow, user)
            created += 1
        tally.step(f"account {user.email}")
    return created


async def _create_user(uow: UnitOfWork, user: DemoUser) -> None:
    merchant_id = await _merchant_id(uow, user.merchant_slug)
    async with uow.atomic():
        info = await accounts.create_user(
            uow=uow,
            email=user.email,
            password=DEMO_PASSWORD,
            role=user.role,
            display_name=user.display_name,
            phone=user.phone,
            merchant_id=merchant_id,
        )
        if user.role is Role.BUYER:
            await accounts.add_address(uow=uow, user_id=info.id, is_default=True, **BUYER_ADDRESS)


async def _merchant_id(uow: UnitOfWork, slug: str | None) -> int | None:
    if slug is None:
        return None
    found = await merchants.get_merchant_by_slug(uow=uow, slug=slug)
    if found is None:
        raise LookupError(f"the demo merchant {slug!r} is missing")
    return found.id
