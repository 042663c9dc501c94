"""In Chromium at a phone's size (390 × 844): every main page, as guest, buyer, shop staff and
admin, is no wider than the screen, keeps its header links on screen, keeps its badges in
place and its radio buttons by their words. Screenshots land in the test's tmp dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kuaidan.accounts.domain import Role
from kuaidan.ordering.aftersales import service as aftersales
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox
from tests.e2e.layout import (
    PHONE,
    assert_badges_stay_put,
    assert_fits_phone,
    assert_radios_by_their_words,
)
from tests.e2e.test_after_sales import _delivered, _skus
from tests.e2e.test_order_journey import PASSWORD, _watched_page
from tests.factories import UserFactory
from tests.integration.ordering_support import PASSWORD as BUYER_PASSWORD
from tests.integration.ordering_support import order, paid_checkout
from tests.integration.test_after_sales import ask

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def _phone(
    browser: Any, base: str, problems: list[str], login: tuple[str, str] | None = None
) -> AsyncIterator[Any]:
    context = await browser.new_context(
        ignore_https_errors=True, locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        page = await _watched_page(context, problems)
        if login is not None:
            await page.goto(f"{base}/login?next=/")
            await page.fill("#email", login[0])
            await page.fill("#password", login[1])
            await page.locator('[data-testid="login-form"] [type="submit"]').click()
            await page.wait_for_url(f"{base}/")
        yield page
    finally:
        await context.close()


async def _visit(page: Any, base: str, shots: Path, name: str, path: str) -> int:
    answer = await page.goto(f"{base}{path}")
    assert answer is not None and answer.status == 200, f"{path}: {answer and answer.status}"
    await assert_fits_phone(page, shots, name)
    await assert_badges_stay_put(page)
    return await assert_radios_by_their_words(page)


async def test_every_main_page_fits_a_phone(
    server: LiveServer,
    browser: Any,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    unique: str,
    tmp_path: Path,
) -> None:
    from playwright.async_api import expect

    base, problems = server.base_url, list[str]()
    item = await _delivered(server, pay_sandbox, unique, "phone", _skus(5900))
    async with server.client() as api:
        paid = await paid_checkout(api, pay_sandbox, item.buyer, [(item.shop.sku_id, 1)])
        waiting = str(paid["orders"][0]["number"])
        put = await api.put(
            f"/api/v1/cart/items/{item.shop.sku_id}", json={"quantity": 1}, headers=item.buyer.auth
        )
        assert put.status_code == 200, put.text
    # A request the shop left unanswered: the agents' queue shows its longest status words.
    unanswered = await _delivered(server, pay_sandbox, unique, "phone-late", _skus(5900))
    async with server.client() as api:
        line = (await order(api, unanswered.number, unanswered.buyer.auth))["lines"][0]
        items = [{"sku_id": line["sku_id"], "quantity": 1}]
        asked = await ask(api, unanswered.number, unanswered.buyer.auth, kind="return", items=items)
        assert asked.status_code == 201, asked.text
    uow = server.uow()
    try:
        admin = await UserFactory.create(
            uow, password=PASSWORD, role=Role.ADMIN, display_name="管理员"
        )
        assert await aftersales.run_timers(uow=uow, now=datetime.now(UTC) + timedelta(hours=49))
    finally:
        await uow.close()

    radios = 0
    async with _phone(browser, base, problems) as page:
        for name, path in (
            ("home", "/"),
            ("search", f"/search?q={unique}"),
            ("product", f"/p/{item.shop.product_id}"),
            ("login", "/login"),
            ("register", "/register"),
        ):
            radios += await _visit(page, base, tmp_path, f"guest-{name}", path)
        header = page.locator(".topbar")
        await expect(header.get_by_role("link", name="注册 Register")).to_be_in_viewport(ratio=1)
        await expect(header.get_by_role("link", name="登录 Log in")).to_be_in_viewport(ratio=1)
    async with _phone(browser, base, problems, (item.email, BUYER_PASSWORD)) as page:
        for name, path in (
            ("cart", "/cart"),
            ("checkout", "/checkout"),
            ("orders", "/orders"),
            ("order-delivered", f"/orders/{item.number}"),
            ("order-paid", f"/orders/{waiting}"),
            ("changes", f"/orders/{waiting}/changes"),
            ("after-sales", f"/orders/{item.number}/after-sales"),
            ("account", "/account"),
        ):
            radios += await _visit(page, base, tmp_path, f"buyer-{name}", path)
    async with _phone(browser, base, problems, (item.shop.staff_email, PASSWORD)) as page:
        for name, path in (
            ("orders", "/merchant/orders"),
            ("order", f"/merchant/orders/{waiting}"),
            ("after-sales", "/merchant/after-sales"),
            ("logistics", "/merchant/logistics/tasks"),
        ):
            radios += await _visit(page, base, tmp_path, f"merchant-{name}", path)
    async with _phone(browser, base, problems, (admin.email, PASSWORD)) as page:
        await expect(page.get_by_test_id("risk-holds-link")).to_be_in_viewport(ratio=1)
        await expect(page.get_by_test_id("reconciliation-link")).to_be_in_viewport(ratio=1)
        for name, path in (
            ("risk-holds", "/risk/holds"),
            ("reconciliation", "/payments/reconciliation"),
            ("logistics-cases", "/logistics/cases"),
            ("carriers", "/logistics/carriers"),
            ("scorecards", "/logistics/scorecards"),
            ("after-sales", "/agent/after-sales"),
        ):
            radios += await _visit(page, base, tmp_path, f"admin-{name}", path)
    assert radios >= 6  # carrier choice, address change, after-sales kinds were all measured
    assert problems == [], f"errors on the pages: {problems}"
