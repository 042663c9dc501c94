"""In Chromium, over TLS: a buyer orders and pays on the sandbox's page, the shop ships from its
console with the proposed carrier, the carrier simulator books the parcel and its scans are
pushed one step at a time (accelerated time, released by hand), and the buyer's open order
page follows the parcel live, without a reload, from booked to delivered; then the buyer
rates the delivery.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import CarrierSandbox, LiveServer, eventually
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


async def _ship_with_proposed_carrier(
    browser: Any, base: str, shop: Shop, number: str, problems: list[str]
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await page.goto(f"{base}/login?next=/merchant/orders/{number}")
        await page.fill("#email", shop.staff_email)
        await page.fill("#password", PASSWORD)
        await page.locator('[data-testid="login-form"] [type="submit"]').click()
        best = page.get_by_test_id("carrier-choice").first
        await expect(best).to_be_checked()  # the best carrier is preselected
        await page.get_by_test_id("ship-order").click()
        await expect(page.get_by_test_id("merchant-order")).to_have_attribute(
            "data-status", "shipped"
        )
    finally:
        await context.close()


async def _push(carrier_sandbox: CarrierSandbox, nu: str, upto: int) -> None:
    async with carrier_sandbox.client() as client:
        answer = await client.post(f"/sandbox/parcels/{nu}/push", json={"upto": upto})
    assert answer.json() == {"accepted": True}


async def _journey(carrier_sandbox: CarrierSandbox, nu: str) -> list[dict[str, Any]]:
    """The parcel's scans once its (accelerated) journey is over at the simulator."""

    async def over() -> list[dict[str, Any]] | None:
        async with carrier_sandbox.client() as client:
            found = (await client.get(f"/sandbox/parcels/{nu}")).json()
        return list(found["scans"]) if found["status"] == "done" else None

    scans: list[dict[str, Any]] = await eventually(over)
    return scans


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_the_buyer_watches_the_parcel_move_and_arrive(
    server: LiveServer, browser: Any, carrier_sandbox: CarrierSandbox, unique: str
) -> None:
    from playwright.async_api import expect

    base = server.base_url
    skus = [
        SkuFactory.build(attributes={"颜色 Colour": "黑色 Black"}, price_fen=8800, stock=5),
        SkuFactory.build(attributes={"颜色 Colour": "白色 White"}, price_fen=8800, stock=5),
    ]
    shop = await _open_shop(server, unique, "lamp", skus, ("白色 White",))
    problems: list[str] = []
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await _register_with_address(page, base, unique)
        await _add_to_cart(page, base, shop)
        await page.get_by_test_id("checkout-button").click()
        await page.get_by_test_id("place-order").click()
        await page.get_by_role("button", name="确认付款 Pay").click()
        result = page.get_by_test_id("checkout-result")
        await expect(result).to_have_attribute("data-state", "paid", timeout=TIMEOUT_MS)
        number = str(await page.get_by_test_id("checkout-order").first.get_attribute("data-number"))

        async with carrier_sandbox.client() as client:  # scans wait to be released by hand
            hooked = await client.post("/sandbox/hooks", json={"manual_next": True})
        assert hooked.status_code == 200
        await _ship_with_proposed_carrier(browser, base, shop, number, problems)

        await page.goto(f"{base}/orders/{number}")
        await page.evaluate("window.kuaidanTestSamePage = true")  # gone if the page reloads
        tracking_number = page.get_by_test_id("tracking-number")
        await expect(tracking_number).to_have_text(re.compile(r"^[A-Z]{2,4}[0-9]{8,}$"))
        status = page.get_by_test_id("tracking-status")
        await expect(status).to_have_attribute("data-status", "created")
        await expect(page.get_by_test_id("tracking-eta")).to_be_visible()
        nu = (await tracking_number.text_content() or "").strip()
        scans = await _journey(carrier_sandbox, nu)

        await _push(carrier_sandbox, nu, 1)
        await expect(status).to_have_attribute("data-status", "picked_up")
        await _push(carrier_sandbox, nu, 2)
        await expect(status).to_have_attribute("data-status", "in_transit")
        await expect(page.get_by_test_id("scan")).to_have_count(2)
        await _push(carrier_sandbox, nu, len(scans))
        await expect(status).to_have_attribute("data-status", "delivered")
        order = page.get_by_test_id("order")
        await expect(order).to_have_attribute("data-status", "delivered")
        await expect(page.get_by_test_id("scan")).to_have_count(len(scans))
        last = page.locator('[data-testid="timeline-entry"]').last
        await expect(last).to_have_attribute("data-action", "deliver")
        assert await page.evaluate("window.kuaidanTestSamePage === true"), "the page reloaded"

        await page.get_by_test_id("rate-stars").select_option("4")
        await page.get_by_test_id("rate-delivery").click()
        await expect(page.get_by_test_id("notice")).to_be_visible()
        await expect(page.get_by_test_id("rated")).to_contain_text("★★★★")
        await expect(page.get_by_test_id("rate-form")).to_have_count(0)
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await context.close()
