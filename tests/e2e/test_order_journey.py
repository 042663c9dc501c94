"""In Chromium, over TLS: a buyer registers, adds an address, puts two shops' SKUs in the cart
through the variant picker, checks out, pays on the sandbox's page, each shop ships its order
from the merchant console (with a tracking number of its own booking), and the buyer confirms
receipt, with the timeline showing each step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from kuaidan.accounts.domain import Role
from kuaidan.catalog.domain import NewSku
from kuaidan.logistics import service as logistics
from tests.conftest import LiveServer
from tests.factories import (
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    SkuFactory,
    UserFactory,
)

pytestmark = pytest.mark.e2e

PASSWORD = "long-enough-pass-1"
TIMEOUT_MS = 20_000


@dataclass
class Shop:
    product_id: int
    sku_id: int  # the SKU the buyer picks
    staff_email: str
    choice: tuple[str, ...]  # the picker values that select it


async def _open_shop(
    server: LiveServer, unique: str, tag: str, skus: list[NewSku], choice: tuple[str, ...]
) -> Shop:
    """A merchant with one listed product and a staff account; the SKU ``choice`` picks."""
    uow = server.uow()
    try:
        shop = await MerchantFactory.create(
            uow,
            slug=f"{tag}-{unique}",
            name=f"{tag}店 {unique}",
            name_en=f"{tag} {unique}",
            ships_from=("上海", "上海"),
        )
        category = await CategoryFactory.create(uow, slug="e2e-goods")
        await logistics.ensure_default_carriers(uow=uow)
        product = await ProductFactory.create(
            uow,
            merchant_id=shop.id,
            title=f"{tag} 商品 {unique}",
            category_slug=category.slug,
            skus=skus,
        )
        staff = await UserFactory.create(
            uow,
            password=PASSWORD,
            role=Role.MERCHANT,
            display_name=f"{tag} staff",
            merchant_id=shop.id,
        )
    finally:
        await uow.close()
    wanted = {sku.code: sku.id for sku in product.skus}[skus[-1].code]
    return Shop(product.id, wanted, staff.email, choice)


async def _shops(server: LiveServer, unique: str) -> list[Shop]:
    tees = [
        SkuFactory.build(attributes={"colour": "黑色 Black", "size": "M"}, price_fen=5900, stock=5),
        SkuFactory.build(attributes={"colour": "白色 White", "size": "L"}, price_fen=6900, stock=5),
    ]
    mugs = [
        SkuFactory.build(attributes={"容量 Size": "350ml"}, price_fen=2500, stock=5),
        SkuFactory.build(attributes={"容量 Size": "500ml"}, price_fen=3500, stock=5),
    ]
    return [
        await _open_shop(server, unique, "tee", tees, ("白色 White", "L")),
        await _open_shop(server, unique, "mug", mugs, ("500ml",)),
    ]


async def _watched_page(context: Any, problems: list[str]) -> Any:
    """A new page whose script errors and console errors (CSP included) are collected."""
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda exc: problems.append(f"script: {exc}"))

    def console(msg: Any) -> None:
        where = str(msg.location.get("url", ""))
        if msg.type == "error" and not where.endswith("/favicon.ico"):
            problems.append(f"console: {msg.text} at {where}")

    page.on("console", console)
    return page


async def _register_with_address(page: Any, base: str, unique: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{base}/register")
    await page.fill("#email", f"journey-{unique}@buyer.kuaidan.test")
    await page.fill("#display_name", f"买家{unique[:4]}")
    await page.fill("#password", PASSWORD)
    await page.fill("#password_again", PASSWORD)
    await page.locator('[data-testid="register-form"] [type="submit"]').click()
    await expect(page.get_by_test_id("current-user")).to_contain_text(f"买家{unique[:4]}")
    await page.goto(f"{base}/account")
    await page.locator(".add-address summary").click()
    form = page.locator('form[action="/account/addresses"]')
    for name, value in {
        "recipient": "赵六",
        "phone": "+86 137-1234-0000",
        "province": "广东省",
        "city": "深圳市",
        "district": "南山区",
        "line": "科技园 1 号",
    }.items():
        await form.locator(f'[name="{name}"]').fill(value)
    await form.locator('[type="submit"]').click()
    await expect(page.get_by_test_id("address")).to_have_count(1)


async def _add_to_cart(page: Any, base: str, shop: Shop) -> None:
    from playwright.async_api import expect

    await page.goto(f"{base}/p/{shop.product_id}")
    button = page.get_by_test_id("add-to-cart")
    await expect(button).to_be_disabled()
    option = page.locator('[data-testid="variant-option"]')
    for value in shop.choice:
        await option.and_(page.locator(f'[data-value="{value}"]')).click()
    sku = str(shop.sku_id)
    await expect(page.get_by_test_id("add-to-cart-sku")).to_have_value(sku)
    await button.click()
    await expect(page.locator(f'[data-testid="cart-line"][data-sku-id="{sku}"]')).to_be_visible()


def unique_tail(shop: Shop) -> str:
    """A tracking number of the shop's own booking, unique per shop and run."""
    return f"{shop.sku_id:06d}{shop.staff_email.split('@')[0][-10:]}".replace("-", "")[:30]


async def _ship(browser: Any, base: str, shop: Shop, number: str, problems: list[str]) -> None:
    """The shop's staff logs in (own browser context) and ships the order."""
    from playwright.async_api import expect

    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await page.goto(f"{base}/login?next=/merchant/orders")
        await page.fill("#email", shop.staff_email)
        await page.fill("#password", PASSWORD)
        await page.locator('[data-testid="login-form"] [type="submit"]').click()
        rows = page.get_by_test_id("order-row")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-number", number)
        await rows.first.get_by_test_id("order-link").click()
        await expect(page.get_by_test_id("carrier-option").first).to_be_visible()
        await page.get_by_test_id("ship-tracking").fill(f"OWN{unique_tail(shop)}")
        await page.get_by_test_id("ship-order").click()
        await expect(page.get_by_test_id("merchant-order")).to_have_attribute(
            "data-status", "shipped"
        )
    finally:
        await context.close()


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_order_pay_ship_and_confirm_across_two_shops(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    base, shops = server.base_url, await _shops(server, unique)
    problems: list[str] = []
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await _register_with_address(page, base, unique)
        for shop in shops:
            await _add_to_cart(page, base, shop)
        await expect(page.get_by_test_id("cart-group")).to_have_count(2)
        await expect(page.get_by_test_id("cart-count")).to_have_text("2")
        await expect(page.get_by_test_id("cart-total")).to_have_text("¥104.00")

        await page.get_by_test_id("checkout-button").click()
        await expect(page.get_by_test_id("checkout-total")).to_have_text("¥104.00")
        await page.get_by_test_id("place-order").click()
        await expect(page.get_by_test_id("amount")).to_have_text("¥104.00")  # the sandbox
        await page.get_by_role("button", name="确认付款 Pay").click()

        result = page.get_by_test_id("checkout-result")
        await expect(result).to_have_attribute("data-state", "paid", timeout=TIMEOUT_MS)
        orders = page.get_by_test_id("checkout-order")
        await expect(orders).to_have_count(2)
        numbers = [await orders.nth(i).get_attribute("data-number") for i in range(2)]
        assert all(numbers)

        for shop, number in zip(shops, numbers, strict=True):
            await _ship(browser, base, shop, str(number), problems)

        for number in numbers:
            await page.goto(f"{base}/orders/{number}")
            await page.get_by_test_id("confirm-receipt").click()
            await expect(page.get_by_test_id("notice")).to_be_visible()
            await expect(page.get_by_test_id("order")).to_have_attribute("data-status", "completed")
            steps = page.get_by_test_id("timeline-entry")
            actions = [await steps.nth(i).get_attribute("data-action") for i in range(4)]
            await expect(steps).to_have_count(4)
            assert actions == ["placed", "pay", "ship", "confirm_receipt"]
        await page.goto(f"{base}/orders?status=completed")
        await expect(page.get_by_test_id("order-row")).to_have_count(2)
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await context.close()
