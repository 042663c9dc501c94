"""``kuaidan bench prepare``: a bench merchant, products, SKUs and buyers, made through services.

What the load needs (tokens, address ids, SKU ids and prices) is written to a JSON fixture in
the data dir, so later runs start at once. A flash sale gets a fresh one-SKU product per run,
so its stock and per-buyer limits start clean.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from kuaidan.accounts import service as accounts
from kuaidan.bootstrap import Container
from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import NewProduct, NewSku
from kuaidan.core.db import UnitOfWork
from kuaidan.inventory import service as inventory
from kuaidan.merchants import service as merchants

BULK = 500
SKUS_PER_PRODUCT = 50
STOCK_PER_SKU = 10_000_000
CATEGORY = "bench"
ADDRESS = accounts.BulkAddress("压测买家", "13800138000", "上海", "上海", "世纪大道 100 号")


@dataclass(frozen=True, slots=True)
class BenchBuyer:
    user_id: int
    token: str
    address_id: int


@dataclass(frozen=True, slots=True)
class Fixture:
    """The bench's data: merchants (ids), buyers, and (sku_id, price) of the spread SKUs."""

    merchant_ids: list[int]
    buyers: list[BenchBuyer]
    skus: list[tuple[int, int]]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Fixture:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            merchant_ids=list(raw["merchant_ids"]),
            buyers=[BenchBuyer(**b) for b in raw["buyers"]],
            skus=[(int(s), int(p)) for s, p in raw["skus"]],
        )


def fixture_path(data_dir: Path) -> Path:
    return data_dir / "bench" / "fixture.json"


async def prepare(
    container: Container,
    *,
    buyers: int,
    skus: int,
    merchants_count: int = 4,
    progress: Callable[[int], None] = lambda _n: None,
) -> Fixture:
    """Create merchants with ``skus`` SKUs among them and ``buyers`` buyers; report progress."""
    tag = secrets.token_hex(3)
    uow = container.unit_of_work()
    try:
        await catalog.ensure_category(uow=uow, slug=CATEGORY, name="压测", name_en="Bench")
        shop_ids: list[int] = []
        made: list[tuple[int, int]] = []
        for index in range(merchants_count):
            shop = await merchants.create_merchant(
                uow=uow, slug=f"bench-{tag}-{index}", name=f"压测店 {index}", name_en="Bench"
            )
            shop_ids.append(shop.id)
        per_shop = max(1, skus // merchants_count)
        for index, shop_id in enumerate(shop_ids):
            made += await _skus_for(uow, shop_id, per_shop, f"B{tag}{index}")
            progress(per_shop)
        people: list[BenchBuyer] = []
        for start in range(0, buyers, BULK):
            count = min(BULK, buyers - start)
            emails = [f"bench-{tag}-{start + i}@buyer.kuaidan.test" for i in range(count)]
            batch = await accounts.create_buyers_in_bulk(
                uow=uow, emails=emails, password=secrets.token_urlsafe(12), address=ADDRESS
            )
            people += [BenchBuyer(b.user_id, b.token, b.address_id) for b in batch]
            progress(count)
        return Fixture(shop_ids, people, made)
    finally:
        await uow.close()


async def _skus_for(uow: UnitOfWork, shop_id: int, count: int, code: str) -> list[tuple[int, int]]:
    made: list[tuple[int, int]] = []
    for start in range(0, count, SKUS_PER_PRODUCT):
        size = min(SKUS_PER_PRODUCT, count - start)
        product = await catalog.create_product(
            uow=uow,
            merchant_id=shop_id,
            product=NewProduct(
                title=f"压测商品 {code}-{start}",
                description="",
                category_slug=CATEGORY,
                specs=[],
                images=[],
                skus=[
                    NewSku(f"{code}-{start + i}", {"n": str(i)}, 990 + i, STOCK_PER_SKU)
                    for i in range(size)
                ],
            ),
        )
        made += [(sku.id, sku.price_fen) for sku in product.skus]
    return made


async def flash_sku(container: Container, *, merchant_id: int, units: int, limit: int) -> int:
    """A fresh one-SKU product with ``units`` in stock and a per-buyer ``limit``; its SKU id."""
    uow = container.unit_of_work()
    code = f"FLASH-{secrets.token_hex(4)}"
    try:
        product = await catalog.create_product(
            uow=uow,
            merchant_id=merchant_id,
            product=NewProduct(
                title=f"秒杀 {code}",
                description="",
                category_slug=CATEGORY,
                specs=[],
                images=[],
                skus=[NewSku(code, {"n": "1"}, 1990, units)],
            ),
        )
        sku_id = product.skus[0].id
        await inventory.set_purchase_limit(uow=uow, sku_id=sku_id, limit=limit)
        return sku_id
    finally:
        await uow.close()
