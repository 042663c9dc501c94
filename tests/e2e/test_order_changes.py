"""In Chromium, over TLS: changes before shipping. The buyer of a paid order delivers it to a
new address, swaps a line for a cheaper colour and sees the difference refunded, and, once the
shop has started packing, asks for a change the shop approves in its console.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.test_order_journey import (
    PASSWORD,
    TIMEOUT_MS,
    Shop,
    _add_to_cart,
    _open_shop,
    _register_with_address,
    _watched_page,
)
from tests.factories import SkuFactory

pytestmark = pytest.mark.e2e


async def _tee_shop(server: LiveServer, unique: str) -> Shop:
    """A shop selling a tee in red (59 yuan) and black (69 yuan); the buyer picks black."""
    skus = [
        SkuFactory.build(attributes={"颜色 Colour": "红色 Red"}, price_fen=5900, stock=5),
        SkuFactory.build(attributes={"颜色 Colour": "黑色 Black"}, price_fen=6900, stock=5),
    ]
    return await _open_shop(server, unique, "tee", skus, ("黑色 Black",))


async def _paid_order(page: Any, base: str, shop: Shop, unique: str) -> str:
    """The buyer registers, orders the shop's tee and pays on the sandbox: the order number."""
    from playwright.async_api import expect

    await _register_with_address(page, base, unique)
    await _add_to_cart(page, base, shop)
    await page.get_by_test_id("checkout-button").click()
    await page.get_by_test_id("place-order").click()
    await page.get_by_role("button", name="确认付款 Pay").click()
    result = page.get_by_test_id("checkout-result")
    await expect(result).to_have_attribute("data-state", "paid", timeout=TIMEOUT_MS)
    return str(await page.get_by_test_id("checkout-order").first.get_attribute("data-number"))


async def _swap_to_red(page: Any, base: str, number: str, shop: Shop) -> None:
    await page.goto(f"{base}/orders/{number}")
    await page.get_by_test_id("changes-link").click()
    form = page.locator(f'[data-testid="line-change-form"][data-sku-id="{shop.sku_id}"]')
    await form.get_by_test_id("swap-choice").select_option(index=1)  # the other colour
    await form.get_by_test_id("change-line").click()
    await page.get_by_test_id("notice").wait_for()


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_buyer_changes_the_delivery_address(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    base, shop = server.base_url, await _tee_shop(server, unique)
    problems: list[str] = []
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        number = await _paid_order(page, base, shop, unique)
        await page.goto(f"{base}/orders/{number}")
        await expect(page.get_by_test_id("order-address")).to_contain_text("深圳市")
        await page.get_by_test_id("changes-link").click()
        await expect(page.get_by_test_id("no-changes")).to_be_visible()
        await page.get_by_test_id("address-choice-new").check()
        for name, value in {
            "recipient": "钱七",
            "phone": "+86 139-0000-1111",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "line": "文三路 8 号",
        }.items():
            await page.get_by_test_id(f"new-{name}").fill(value)
        await page.get_by_test_id("change-address").click()
        await expect(page.get_by_test_id("notice")).to_be_visible()
        change = page.get_by_test_id("change")
        await expect(change).to_have_count(1)
        await expect(change).to_have_attribute("data-status", "applied")

        await page.get_by_role("link", name=f"‹ 订单 Order {number}").click()
        await expect(page.get_by_test_id("order")).to_have_attribute("data-status", "paid")
        address = page.get_by_test_id("order-address")
        await expect(address).to_contain_text("钱七")
        await expect(address).to_contain_text("杭州市")
        last = page.get_by_test_id("timeline-entry").last
        await expect(last).to_have_attribute("data-action", "changed")
        await expect(last).to_contain_text("订单已修改 Order changed")
        await expect(page.get_by_test_id("changes-latest")).to_have_attribute(
            "data-action", "changed"
        )
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await context.close()


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_buyer_swaps_for_a_cheaper_colour_and_is_refunded(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    base, shop = server.base_url, await _tee_shop(server, unique)
    problems: list[str] = []
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        number = await _paid_order(page, base, shop, unique)
        await _swap_to_red(page, base, number, shop)
        change = page.get_by_test_id("change")
        await expect(change).to_have_attribute("data-kind", "swap")
        await expect(change).to_have_attribute("data-status", "applied")
        await expect(page.get_by_test_id("change-refund")).to_contain_text("¥10.00")

        await page.goto(f"{base}/orders/{number}")
        line = page.get_by_test_id("order-line")
        await expect(line).to_have_count(1)
        await expect(line).not_to_have_attribute("data-sku-id", str(shop.sku_id))
        await expect(line).to_contain_text("红色 Red")
        await expect(page.get_by_test_id("order-total")).to_have_text("¥59.00")
        last = page.get_by_test_id("timeline-entry").last
        await expect(last).to_have_attribute("data-action", "changed")
        await expect(last).to_contain_text("-1000 fen")
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await context.close()


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_after_packing_the_shop_approves_the_change(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    base, shop = server.base_url, await _tee_shop(server, unique)
    problems: list[str] = []
    buyer = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    merchant = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(buyer, problems)
        number = await _paid_order(page, base, shop, unique)

        console = await _watched_page(merchant, problems)
        await console.goto(f"{base}/login?next=/merchant/orders/{number}")
        await console.fill("#email", shop.staff_email)
        await console.fill("#password", PASSWORD)
        await console.locator('[data-testid="login-form"] [type="submit"]').click()
        await console.get_by_test_id("start-packing").click()
        await expect(console.get_by_test_id("packing-started")).to_be_visible()

        await _swap_to_red(page, base, number, shop)
        change = page.get_by_test_id("change")
        await expect(change).to_have_attribute("data-status", "pending_approval")
        await expect(page.get_by_test_id("packing-started")).to_be_visible()

        await console.goto(f"{base}/merchant/orders/{number}")
        card = console.get_by_test_id("changes-card")
        await expect(card).to_have_attribute("data-packing", "started")
        await expect(console.get_by_test_id("changes-latest")).to_have_attribute(
            "data-action", "change_requested"
        )
        await console.get_by_test_id("changes-link").click()
        await console.get_by_test_id("approve-change").click()
        await expect(console.get_by_test_id("notice")).to_be_visible()
        await expect(console.get_by_test_id("change")).to_have_attribute("data-status", "applied")

        await page.goto(f"{base}/orders/{number}")
        await expect(page.get_by_test_id("order-line")).to_contain_text("红色 Red")
        last = page.get_by_test_id("timeline-entry").last
        await expect(last).to_have_attribute("data-action", "changed")
        await expect(last).to_contain_text("商家 Merchant")
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await merchant.close()
        await buyer.close()


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_buyer_pays_the_difference_of_a_dearer_size(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    skus = [
        SkuFactory.build(attributes={"尺码 Size": "M"}, price_fen=19900, stock=5),
        SkuFactory.build(attributes={"尺码 Size": "XL"}, price_fen=21900, stock=5),
        SkuFactory.build(attributes={"尺码 Size": "S"}, price_fen=18900, stock=5),
    ]
    shop = await _open_shop(server, unique, "coat", skus, ("S",))
    base = server.base_url
    problems: list[str] = []
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        number = await _paid_order(page, base, shop, unique)
        await page.goto(f"{base}/orders/{number}/changes")
        form = page.locator(f'[data-testid="line-change-form"][data-sku-id="{shop.sku_id}"]')
        await form.get_by_test_id("swap-choice").select_option(label="XL · ¥219.00")
        await form.get_by_test_id("change-line").click()
        change = page.get_by_test_id("change")
        await expect(change).to_have_attribute("data-status", "awaiting_payment")
        await expect(page.get_by_test_id("change-extra")).to_contain_text("¥30.00")

        await page.get_by_test_id("change-pay").click()
        await expect(page.get_by_test_id("amount")).to_have_text("¥30.00")  # the sandbox
        await page.get_by_role("button", name="确认付款 Pay").click()
        await page.wait_for_url(f"**/orders/{number}/changes*")
        for _ in range(40):  # the provider's notice is handled in the background
            if await change.get_attribute("data-status") == "applied":
                break
            await page.wait_for_timeout(250)
            await page.reload()
        await expect(change).to_have_attribute("data-status", "applied")
        await page.goto(f"{base}/orders/{number}")
        await expect(page.get_by_test_id("order-line")).to_contain_text("XL")
        await expect(page.get_by_test_id("order-total")).to_have_text("¥219.00")
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await context.close()
