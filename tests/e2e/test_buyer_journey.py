"""In Chromium, over TLS: register → search → product page → pick a colour and size."""

from __future__ import annotations

from typing import Any

import pytest

from kuaidan.catalog.domain import NewSku
from tests.conftest import LiveServer
from tests.factories import CategoryFactory, MerchantFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.e2e


async def _list_tee(server: LiveServer, unique: str) -> dict[str, int]:
    """A tee in two colours and two sizes; red/L costs more and black/L is sold out."""
    uow = server.uow()
    try:
        shop = await MerchantFactory.create(uow, slug=f"e2e-{unique}")
        category = await CategoryFactory.create(
            uow, slug="e2e-tees", name="T恤", name_en="T-shirts"
        )

        def sku(code: str, colour: str, size: str, price: int, stock: int, **more: Any) -> NewSku:
            return SkuFactory.build(
                code=f"{unique}-{code}",
                attributes={"colour": colour, "size": size},
                price_fen=price,
                stock=stock,
                **more,
            )

        skus = [
            sku("BK-M", "黑色 Black", "M", 5900, 12),
            sku("BK-L", "黑色 Black", "L", 5900, 0),
            sku("RD-M", "红色 Red", "M", 6900, 3, list_price_fen=9900),
            sku("RD-L", "红色 Red", "L", 7900, 7),
        ]
        product = await ProductFactory.create(
            uow,
            merchant_id=shop.id,
            title=f"纯棉圆领T恤 Cotton Crew Tee {unique}",
            description="100% cotton.",
            category_slug=category.slug,
            specs=[("材质 Material", "棉 Cotton")],
            skus=skus,
        )
        return {sku.code: sku.id for sku in product.skus}
    finally:
        await uow.close()


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_register_search_and_pick_a_variant(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    sku_ids = await _list_tee(server, unique)
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(f"{server.base_url}/register")
        await page.fill("#email", f"e2e-{unique}@buyer.kuaidan.test")
        await page.fill("#display_name", f"小明{unique[:4]}")
        await page.fill("#password", "long-enough-pass-1")
        await page.fill("#password_again", "long-enough-pass-1")
        await page.locator('[data-testid="register-form"] [type="submit"]').click()
        await expect(page.get_by_test_id("current-user")).to_contain_text(f"小明{unique[:4]}")

        await page.fill('header input[name="q"]', unique)
        await page.press('header input[name="q"]', "Enter")
        cards = page.get_by_test_id("product-card")
        await expect(cards).to_have_count(1)
        await cards.first.click()

        await expect(page.get_by_test_id("product-title")).to_contain_text("Cotton Crew Tee")
        price = page.get_by_test_id("sku-price")
        availability = page.get_by_test_id("sku-availability")
        option = page.locator('[data-testid="variant-option"]')

        await option.and_(page.locator('[data-value="红色 Red"]')).click()
        await option.and_(page.locator('[data-value="L"]')).click()
        await expect(price).to_have_text("¥79.00")
        await expect(availability).to_contain_text("7")
        await expect(availability).to_have_attribute("data-state", "in-stock")
        selected = page.get_by_test_id("selected-sku")
        await expect(selected).to_have_attribute("data-sku-id", str(sku_ids[f"{unique}-RD-L"]))

        await option.and_(page.locator('[data-value="M"]')).click()
        await expect(price).to_have_text("¥69.00")
        await expect(page.get_by_test_id("sku-list-price")).to_have_text("¥99.00")
        await expect(selected).to_have_attribute("data-sku-id", str(sku_ids[f"{unique}-RD-M"]))

        # Black in L is sold out: once black is chosen, L cannot be picked.
        await option.and_(page.locator('[data-value="黑色 Black"]')).click()
        await expect(price).to_have_text("¥59.00")
        await expect(option.and_(page.locator('[data-value="L"]'))).to_be_disabled()
        assert errors == [], f"script errors on the page: {errors}"
    finally:
        await context.close()
