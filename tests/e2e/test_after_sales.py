"""In Chromium, over TLS: after-sales on delivered orders, one flow per test. The buyer asks on
the order's after-sales page, the shop answers on its own, the goods go back in a parcel (a
pickup the platform books and the carrier simulator delivers on demand, or the buyer's own),
and the buyer sees the case end refunded with the right amount, or exchanged; a rejection is
disputed and an agent rules from the platform's queue; an unanswered request is escalated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kuaidan.accounts.domain import Role
from kuaidan.catalog.domain import NewSku
from kuaidan.core.money import format_minor
from kuaidan.ordering.aftersales import service as aftersales
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually
from tests.e2e.test_order_journey import PASSWORD, TIMEOUT_MS, Shop, _open_shop, _watched_page
from tests.factories import SkuFactory, UserFactory
from tests.integration.ordering_support import PASSWORD as BUYER_PASSWORD
from tests.integration.ordering_support import Buyer, bearer, order, paid_checkout
from tests.integration.test_after_sales import deliver
from tests.integration.test_order_interception import buyer_with_email, hooks

pytestmark = pytest.mark.e2e

RETURN_ADDRESS = {
    "recipient": "售后部 Returns",
    "phone": "021-5555-0000",
    "province": "上海",
    "city": "上海",
    "line": "浦东新区 世纪大道 100 号",
}


@dataclass
class Delivered:
    number: str
    buyer: Buyer
    email: str  # the buyer's, to sign in with (the integration helpers' password)
    shop: Shop


async def _staff_token(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    answer = await api.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return bearer(str(answer.json()["token"]))


async def _delivered(
    server: LiveServer,
    pay_sandbox: PaySandbox,
    unique: str,
    tag: str,
    skus: list[NewSku],
    quantity: int = 1,
) -> Delivered:
    """A shop with a return address, and a buyer's paid order of its last SKU, shipped with
    the best carrier and delivered (set up through the JSON API: the pages under test are the
    after-sales ones)."""
    shop = await _open_shop(server, unique, tag, skus, ())
    async with server.client() as api:
        seller = await _staff_token(api, shop.staff_email)
        answer = await api.put(
            "/api/v1/merchant/return-address", json=RETURN_ADDRESS, headers=seller
        )
        assert answer.status_code == 200, answer.text
        buyer, email = await buyer_with_email(api)
        placed = await paid_checkout(api, pay_sandbox, buyer, [(shop.sku_id, quantity)])
        number = str(placed["orders"][0]["number"])
        shipped = await api.post(f"/api/v1/merchant/orders/{number}/ship", json={}, headers=seller)
        assert shipped.status_code == 200, shipped.text

        async def delivered() -> bool:
            return bool((await order(api, number, buyer.auth))["status"] == "delivered")

        await eventually(delivered, timeout_s=30)
    return Delivered(number, buyer, email, shop)


@asynccontextmanager
async def _signed_in(
    browser: Any, base: str, email: str, password: str, problems: list[str], start: str
) -> AsyncIterator[Any]:
    """A page of a fresh browser context, signed in and sent to ``start``."""
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await page.goto(f"{base}/login?next={start}")
        await page.fill("#email", email)
        await page.fill("#password", password)
        await page.locator('[data-testid="login-form"] [type="submit"]').click()
        await page.wait_for_url(f"**{start}")
        yield page
    finally:
        await context.close()


def _buyer(browser: Any, server: LiveServer, order: Delivered, problems: list[str]) -> Any:
    return _signed_in(
        browser, server.base_url, order.email, BUYER_PASSWORD, problems, f"/orders/{order.number}"
    )


def _merchant(browser: Any, server: LiveServer, order: Delivered, problems: list[str]) -> Any:
    return _signed_in(
        browser,
        server.base_url,
        order.shop.staff_email,
        PASSWORD,
        problems,
        "/merchant/after-sales",
    )


async def _ask(
    page: Any, kind: str, reason: str, *, quantity: int | None = None, exchange: str | None = None
) -> None:
    """From the order page: open after-sales and send the request for the order's one line
    (``exchange``: the start of the wanted colour/size's option text)."""
    from playwright.async_api import expect

    await page.get_by_test_id("after-sales-link").click()
    await page.get_by_test_id(f"after-sales-kind-{kind}").check()
    await page.get_by_test_id("after-sales-line-check").first.check()
    if quantity is not None:
        await page.get_by_test_id("after-sales-line-qty").first.fill(str(quantity))
    if exchange is not None:
        choice = page.get_by_test_id("after-sales-exchange-choice")
        options = await choice.locator("option").evaluate_all(
            "os => os.map(o => [o.value, o.textContent.trim()])"
        )
        wanted = [value for value, text in options if text.startswith(exchange)]
        assert len(wanted) == 1, options
        await choice.select_option(value=wanted[0])
    await page.get_by_test_id("after-sales-reason").fill(reason)
    await page.get_by_test_id("after-sales-submit").click()
    await expect(page.get_by_test_id("notice")).to_be_visible()
    await _case_is(page, "requested")


async def _case_is(page: Any, status: str) -> None:
    from playwright.async_api import expect

    await expect(page.get_by_test_id("after-sales-case").first).to_have_attribute(
        "data-status", status, timeout=TIMEOUT_MS
    )


async def _reloaded_until(page: Any, status: str) -> None:
    """Reload until the case shows ``status`` (the outside parties' word arrives in the
    background), bounded by ``eventually``."""

    async def there() -> bool:
        await page.reload()
        found = await page.get_by_test_id("after-sales-case").first.get_attribute("data-status")
        return bool(found == status)

    await eventually(there, timeout_s=40)


async def _approve(merchant: Any, number: str) -> None:
    """The shop opens the case from its queue and approves it."""
    from playwright.async_api import expect

    row = merchant.locator(f'[data-testid="after-sales-row"][data-number="{number}"]')
    await expect(row).to_have_count(1)
    await expect(row.get_by_test_id("after-sales-answer-by")).to_be_visible()
    await row.get_by_test_id("after-sales-link").click()
    await merchant.get_by_test_id("after-sales-approve").click()
    await expect(merchant.get_by_test_id("notice")).to_be_visible()


async def _pickup_delivered_on_demand(page: Any, carrier_sandbox: CarrierSandbox) -> str:
    """The buyer books a pickup; the carrier holds the parcel's news until the test pushes it
    (so the page shows it on its way first); returns the tracking number."""
    from playwright.async_api import expect

    await hooks(carrier_sandbox, manual_next=True)
    try:
        await page.get_by_test_id("after-sales-pickup").click()
        await expect(page.get_by_test_id("notice")).to_be_visible()
        await _case_is(page, "returning")

        async def tracking() -> str | None:
            await page.reload()
            shown = (await page.get_by_test_id("after-sales-tracking").inner_text()).strip()
            return shown if shown.isalnum() else None

        nu: str = await eventually(tracking, timeout_s=30)
    finally:
        await hooks(carrier_sandbox, manual_next=False)

    await deliver(carrier_sandbox, nu)
    return nu


async def _case(api: httpx.AsyncClient, item: Delivered) -> dict[str, Any]:
    answer = await api.get(f"/api/v1/orders/{item.number}/after-sales", headers=item.buyer.auth)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()[0]
    return found


def _skus(price: int) -> list[NewSku]:
    """Sizes M and L at one price, five of each."""
    return [
        SkuFactory.build(attributes={"尺码 Size": size}, price_fen=price, stock=5)
        for size in ("M", "L")
    ]


async def test_a_no_reason_return_picked_up_is_refunded_less_the_parcel_back(
    server: LiveServer,
    browser: Any,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    unique: str,
) -> None:
    from playwright.async_api import expect

    item = await _delivered(server, pay_sandbox, unique, "tee", _skus(5900))
    problems: list[str] = []
    async with _buyer(browser, server, item, problems) as page:
        await expect(page.get_by_test_id("after-sales-card")).to_be_visible()
        await _ask(page, "return", "不喜欢 I changed my mind")
        await expect(page.get_by_test_id("after-sales-answer-by")).to_be_visible()
        async with _merchant(browser, server, item, problems) as merchant:
            await _approve(merchant, item.number)
            await _case_is(merchant, "awaiting_return")
        await page.reload()
        await _case_is(page, "awaiting_return")
        await expect(page.get_by_test_id("after-sales-return-to")).to_contain_text("世纪大道")
        await _pickup_delivered_on_demand(page, carrier_sandbox)
        await _reloaded_until(page, "refunded")
        async with server.client() as api:
            case = await _case(api, item)
        assert case["return_shipping_fen"] > 0
        assert (
            case["refund_fen"]
            == case["value_fen"] - case["return_shipping_fen"]
            == 5900 - case["return_shipping_fen"]
        )
        refund = page.get_by_test_id("after-sales-refund")
        await expect(refund).to_contain_text(format_minor(case["refund_fen"]))
        steps = await page.get_by_test_id("after-sales-step").evaluate_all(
            "es => es.map(e => e.dataset.step)"
        )
        assert steps[:1] == ["request"] and "send_back" in steps and steps[-1] == "refund_done"
    assert problems == [], f"errors on the pages: {problems}"


async def test_a_faulty_item_sent_back_by_the_buyer_is_refunded_with_the_parcel(
    server: LiveServer,
    browser: Any,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    unique: str,
) -> None:
    from playwright.async_api import expect

    # Two bought, one back: the refund (the item and the parcel back) stays within what was paid.
    item = await _delivered(server, pay_sandbox, unique, "kettle", _skus(12900), quantity=2)
    problems: list[str] = []
    async with _buyer(browser, server, item, problems) as page:
        await _ask(page, "quality", "底座漏水 The base leaks", quantity=1)
        async with _merchant(browser, server, item, problems) as merchant:
            await _approve(merchant, item.number)
            await page.reload()
            await _case_is(page, "awaiting_return")
            await page.get_by_test_id("after-sales-tracking-input").fill(f"OWN{unique.upper()}")
            await page.get_by_test_id("after-sales-own-submit").click()
            await expect(page.get_by_test_id("notice")).to_be_visible()
            await _case_is(page, "returning")
            await expect(page.get_by_test_id("after-sales-tracking")).to_have_text(
                f"OWN{unique.upper()}"
            )
            await merchant.reload()
            await merchant.get_by_test_id("after-sales-received").click()
            await expect(merchant.get_by_test_id("notice")).to_be_visible()
        await _reloaded_until(page, "refunded")
        async with server.client() as api:
            case = await _case(api, item)
        assert case["return_bearer"] == "merchant" and case["return_shipping_fen"] > 0
        assert case["refund_fen"] == 12900 + case["return_shipping_fen"]
        await expect(page.get_by_test_id("after-sales-refund")).to_contain_text(
            format_minor(case["refund_fen"])
        )
    assert problems == [], f"errors on the pages: {problems}"


async def test_an_exchange_for_another_size_comes_back_and_the_new_one_arrives(
    server: LiveServer,
    browser: Any,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    unique: str,
) -> None:
    from playwright.async_api import expect

    skus = [
        *_skus(19900),
        SkuFactory.build(attributes={"尺码 Size": "XL"}, price_fen=19900, stock=0),
    ]
    skus = [skus[0], skus[2], skus[1]]  # the buyer has L; XL is sold out
    item = await _delivered(server, pay_sandbox, unique, "shoe", skus)
    problems: list[str] = []
    async with _buyer(browser, server, item, problems) as page:
        await page.get_by_test_id("after-sales-link").click()
        choice = page.get_by_test_id("after-sales-exchange-choice")
        await expect(choice.locator("option", has_text="XL")).to_be_disabled()
        await page.goto(f"{server.base_url}/orders/{item.number}")
        await _ask(page, "exchange", "偏大 Too big", exchange="M ")
        await expect(page.get_by_test_id("after-sales-exchange")).to_contain_text("M")
        async with _merchant(browser, server, item, problems) as merchant:
            await _approve(merchant, item.number)
        await page.reload()
        await _pickup_delivered_on_demand(page, carrier_sandbox)
        await _reloaded_until(page, "exchanged")
        await expect(page.get_by_test_id("after-sales-status")).to_contain_text("换货完成")
        await expect(page.get_by_test_id("after-sales-replacement")).to_be_visible()
        await expect(page.get_by_test_id("after-sales-refund")).to_have_count(0)
    assert problems == [], f"errors on the pages: {problems}"


async def test_missing_items_are_refunded_once_the_shop_approves(
    server: LiveServer, browser: Any, pay_sandbox: PaySandbox, unique: str
) -> None:
    from playwright.async_api import expect

    item = await _delivered(server, pay_sandbox, unique, "socks", _skus(2900))
    problems: list[str] = []
    async with _buyer(browser, server, item, problems) as page:
        await _ask(page, "missing", "包裹里没有 Not in the parcel")
        await expect(page.get_by_test_id("after-sales-send-back")).to_have_count(0)
        async with _merchant(browser, server, item, problems) as merchant:
            await _approve(merchant, item.number)
        await _reloaded_until(page, "refunded")
        await expect(page.get_by_test_id("after-sales-refund")).to_contain_text("¥29.00")
        await expect(page.get_by_test_id("after-sales-return-to")).to_have_count(0)
    assert problems == [], f"errors on the pages: {problems}"


async def _agent(server: LiveServer) -> str:
    uow = server.uow()
    try:
        agent = await UserFactory.create(
            uow, password=PASSWORD, role=Role.AGENT, display_name="客服 agent"
        )
    finally:
        await uow.close()
    return agent.email


async def test_a_rejection_disputed_is_ruled_for_the_buyer_by_an_agent(
    server: LiveServer, browser: Any, pay_sandbox: PaySandbox, unique: str
) -> None:
    from playwright.async_api import expect

    item = await _delivered(server, pay_sandbox, unique, "lamp", _skus(8800))
    agent = await _agent(server)
    problems: list[str] = []
    async with _buyer(browser, server, item, problems) as page:
        await _ask(page, "return", "颜色不符 Not the colour shown")
        async with _merchant(browser, server, item, problems) as merchant:
            await (
                merchant.locator(f'[data-number="{item.number}"]')
                .get_by_test_id("after-sales-link")
                .click()
            )
            await merchant.get_by_test_id("after-sales-reject").click()
            await expect(merchant.get_by_test_id("form-error")).to_be_visible()  # no reason
            await merchant.get_by_test_id("after-sales-decision-reason").fill("已拆封 Opened")
            await merchant.get_by_test_id("after-sales-reject").click()
            await _case_is(merchant, "rejected")
        await page.reload()
        await expect(page.get_by_test_id("after-sales-decision")).to_have_text("已拆封 Opened")
        await page.get_by_test_id("after-sales-dispute-reason").fill("只是试穿 Only tried on")
        await page.get_by_test_id("after-sales-dispute").click()
        await _case_is(page, "disputed")
        async with _signed_in(
            browser, server.base_url, agent, PASSWORD, problems, "/agent/after-sales"
        ) as desk:
            row = desk.locator(f'[data-testid="after-sales-row"][data-number="{item.number}"]')
            await expect(row).to_have_attribute("data-status", "disputed")
            await row.get_by_test_id("after-sales-link").click()
            await desk.get_by_test_id("after-sales-ruling-reason").fill("未使用 Unused, tags on")
            await desk.get_by_test_id("after-sales-rule-buyer").click()
            await _case_is(desk, "awaiting_return")
        await page.reload()
        await _case_is(page, "awaiting_return")
        await expect(page.get_by_test_id("after-sales-pickup")).to_be_visible()
        await expect(page.get_by_test_id("after-sales-return-to")).to_contain_text("售后部")
    # The one refused answer (a rejection without its reason) came back as a 422 page.
    refused = [p for p in problems if "status of 422" in p and p.endswith("/decision")]
    assert len(refused) == 1 and [p for p in problems if p not in refused] == [], problems


async def test_a_request_the_shop_leaves_unanswered_reaches_the_agents_queue(
    server: LiveServer, browser: Any, pay_sandbox: PaySandbox, unique: str
) -> None:
    from playwright.async_api import expect

    item = await _delivered(server, pay_sandbox, unique, "bag", _skus(15900))
    agent = await _agent(server)
    problems: list[str] = []
    async with _buyer(browser, server, item, problems) as page:
        await _ask(page, "return", "买错了 Wrong model")
        uow = server.uow()
        try:
            later = datetime.now(UTC) + timedelta(hours=49)
            assert await aftersales.run_timers(uow=uow, now=later) >= 1
        finally:
            await uow.close()
        await page.reload()
        await _case_is(page, "escalated")
    async with _signed_in(
        browser, server.base_url, agent, PASSWORD, problems, "/agent/after-sales"
    ) as desk:
        row = desk.locator(f'[data-testid="after-sales-row"][data-number="{item.number}"]')
        await expect(row).to_have_attribute("data-status", "escalated")
    assert problems == [], f"errors on the pages: {problems}"
