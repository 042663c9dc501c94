"""In Chromium: the product page's picture follows the colour the buyer picks, and goes back
to the first picture when the colour is cleared."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from tests.conftest import LiveServer
from tests.e2e.test_order_journey import _watched_page
from tests.factories import CategoryFactory, MerchantFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.e2e
COLOUR, SIZE = "颜色 Colour", "尺码 Size"


async def test_the_picture_follows_the_chosen_colour(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    pictures = []
    for n, rgb in ((1, (20, 20, 20)), (2, (150, 150, 150))):
        relative = f"products/{unique}/{n}.png"
        path = server.settings.data_dir / "media" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), rgb).save(path)
        pictures.append(relative)
    uow = server.uow()
    try:
        shop = await MerchantFactory.create(uow)
        category = await CategoryFactory.create(uow, slug="e2e-wear", name="服饰", name_en="Wear")
        product = await ProductFactory.create(
            uow,
            merchant_id=shop.id,
            title=f"卫衣 Hoodie {unique}",
            category_slug=category.slug,
            images=pictures,
            skus=[
                SkuFactory.build(attributes={COLOUR: colour, SIZE: size}, price_fen=9900, stock=3)
                for colour in ("黑色 Black", "灰色 Grey")
                for size in ("M", "L")
            ],
        )
    finally:
        await uow.close()
    problems: list[str] = []
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await page.goto(f"{server.base_url}/p/{product.id}")
        await expect(page.locator('[data-testid="variant-picker"].is-live')).to_be_visible()
        image = page.get_by_test_id("product-image")
        await expect(image).to_have_attribute("src", f"/media/{pictures[0]}")
        grey = page.locator('[data-testid="variant-option"][data-value="灰色 Grey"]')
        await grey.click()
        await expect(image).to_have_attribute("src", f"/media/{pictures[1]}")
        await page.locator('[data-testid="variant-option"][data-value="L"]').click()
        await expect(image).to_have_attribute("src", f"/media/{pictures[1]}")
        await grey.click()  # cleared
        await expect(image).to_have_attribute("src", f"/media/{pictures[0]}")
        assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
    finally:
        await context.close()
    assert problems == [], f"errors on the pages: {problems}"
