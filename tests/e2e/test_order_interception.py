"""In Chromium, over TLS: a buyer whose order is on its way asks to send the parcel to a new
address, watches the case go step by step (carrier asked, intercepted, back at the shop,
reshipped, with the fee shown), and the new parcel arrives at the new address.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CarrierSandbox, LiveServer, eventually
from tests.e2e.test_order_journey import (
    TIMEOUT_MS,
    _add_to_cart,
    _open_shop,
    _register_with_address,
    _watched_page,
)
from tests.e2e.test_tracking_journey import _ship_with_proposed_carrier
from tests.factories import SkuFactory

pytestmark = pytest.mark.e2e


async def _hooks(carrier_sandbox: CarrierSandbox, **settings: Any) -> None:
    async with carrier_sandbox.client() as client:
        answer = await client.post("/sandbox/hooks", json=settings)
    assert answer.status_code == 200, answer.text


async def _reloaded_until(page: Any, testid: str, attribute: str, wanted: str) -> None:
    """Reload until the element's attribute says ``wanted`` (bounded by ``eventually``)."""

    async def there() -> bool:
        await page.reload()
        found = await page.get_by_test_id(testid).first.get_attribute(attribute)
        return bool(found == wanted)

    await eventually(there, timeout_s=30)


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_the_buyer_redirects_a_parcel_in_transit_and_the_new_one_arrives(
    server: LiveServer, browser: Any, carrier_sandbox: CarrierSandbox, unique: str
) -> None:
    from playwright.async_api import expect

    base = server.base_url
    skus = [
        SkuFactory.build(attributes={"颜色 Colour": "黑色 Black"}, price_fen=3900, stock=5),
        SkuFactory.build(attributes={"颜色 Colour": "白色 White"}, price_fen=3900, stock=5),
    ]
    shop = await _open_shop(server, unique, "mug", skus, ("白色 White",))
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

        # The parcel goes quiet in transit for a long while: there is time to stop it.
        await _hooks(carrier_sandbox, next_fate="delay", delay_hours=100_000)
        try:
            await _ship_with_proposed_carrier(browser, base, shop, number, problems)
        finally:
            await _hooks(carrier_sandbox, delay_hours=80.0)

        await page.goto(f"{base}/orders/{number}")
        status = page.get_by_test_id("tracking-status")
        await expect(status).to_have_attribute("data-status", "in_transit", timeout=TIMEOUT_MS)
        await page.get_by_test_id("interception-link").click()
        await page.get_by_test_id("interception-redirect").check()
        await page.get_by_test_id("interception-reason").fill("搬家了 I moved")
        await page.get_by_test_id("interception-recipient").fill("王五")
        await page.get_by_test_id("interception-phone").fill("13800001111")
        await page.get_by_test_id("interception-province").fill("北京市")
        await page.get_by_test_id("interception-city").fill("北京市")
        await page.get_by_test_id("interception-line").fill("中关村大街 1 号")
        await page.get_by_test_id("interception-submit").click()

        await expect(page.get_by_test_id("notice")).to_be_visible()
        case = page.get_by_test_id("interception-case")
        await expect(case).to_have_count(1)
        await expect(page.get_by_test_id("interception-fee")).to_contain_text("¥")
        await expect(page.get_by_test_id("interception-address")).to_contain_text("北京")
        await expect(page.get_by_test_id("interception-form")).to_have_count(0)
        await _reloaded_until(page, "interception-case", "data-status", "reshipped")
        await expect(page.get_by_test_id("interception-new-shipment")).to_be_visible()
        entries = page.locator('[data-testid="timeline-entry"]')
        actions = await entries.evaluate_all("es => es.map(e => e.dataset.action)")
        for step in ("requested", "intercepting", "succeeded", "returned", "reshipped"):
            assert f"interception_{step}" in actions

        await page.goto(f"{base}/orders/{number}")
        await _reloaded_until(page, "order", "data-status", "delivered")
        await expect(page.get_by_test_id("order")).to_contain_text("北京")
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await context.close()
