"""In Chromium, over TLS: a scripted suspicious purchase (a new device, a burst of attempts,
then an unusual amount) is held and the buyer verifies it on the checkout page with the code
from the notifier, then pays; the same purchase with wrong codes is blocked; the analysts'
console shows both outcomes.

The buyers signed up two days ago (their account and address book are backdated), so what
makes the purchase suspicious is exactly the script: the browser is a device never seen, three
quick attempts come first, and 3,888 yuan is far above a history of nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from kuaidan.accounts.domain import Role
from kuaidan.core.db import UTCDateTime
from kuaidan.core.notify import dev_inbox
from tests.conftest import LiveServer, eventually
from tests.e2e.layout import assert_badges_stay_put, box, inside
from tests.e2e.test_order_journey import PASSWORD, TIMEOUT_MS, _watched_page
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    SkuFactory,
    UserFactory,
)

pytestmark = pytest.mark.e2e

SMALL_PRICE, BIG_PRICE = 1_990, 388_800
CODE_RE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


async def _shop(server: LiveServer, unique: str) -> list[tuple[int, int]]:
    """A shop with a cheap and an expensive product: (product id, SKU id) of each."""
    uow = server.uow()
    try:
        shop = await MerchantFactory.create(uow)
        category = await CategoryFactory.create(uow, slug="e2e-tech", name="数码", name_en="Tech")
        ids = []
        for tag, price in (("cable", SMALL_PRICE), ("phone", BIG_PRICE)):
            product = await ProductFactory.create(
                uow,
                merchant_id=shop.id,
                title=f"{tag} {unique}",
                category_slug=category.slug,
                skus=[SkuFactory.build(price_fen=price, stock=20)],
            )
            ids.append((product.id, product.skus[0].id))
    finally:
        await uow.close()
    return ids


async def _buyer_of_two_days(server: LiveServer, email: str) -> int:
    """A buyer with an address who signed up two days ago (so only the script is unusual)."""
    uow = server.uow()
    try:
        user = await UserFactory.create(uow, email=email, password=PASSWORD, display_name="老买家")
        await AddressFactory.create(uow, user_id=user.id, is_default=True)
        backdate = text(
            "UPDATE users SET created_at = :at, address_changed_at = :at WHERE id = :id"
        ).bindparams(bindparam("at", type_=UTCDateTime()))
        async with uow.atomic():
            await uow.session.execute(
                backdate, {"at": uow.now() - timedelta(days=2), "id": user.id}
            )
    finally:
        await uow.close()
    return user.id


async def _newest_code(server: LiveServer, user_id: int) -> str:
    async def newest() -> str | None:
        uow = server.uow()
        try:
            messages = await dev_inbox(uow, user_id=user_id)
        finally:
            await uow.close()
        match = CODE_RE.search(messages[0].body) if messages else None
        return match.group(1) if match else None

    code: str = await eventually(newest)
    return code


async def _log_in(page: Any, base: str, email: str, target: str) -> None:
    await page.goto(f"{base}/login?next={target}")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.locator('[data-testid="login-form"] [type="submit"]').click()
    await page.wait_for_url(re.compile(re.escape(target) + "$"))


async def _place(page: Any, base: str, item: tuple[int, int]) -> None:
    """Put the item (product id, SKU id) in the cart and place the order from the checkout."""
    from playwright.async_api import expect

    await page.goto(f"{base}/p/{item[0]}?sku={item[1]}")
    await page.get_by_test_id("add-to-cart").click()
    await expect(page.get_by_test_id("cart-line")).to_have_count(1)
    await page.get_by_test_id("checkout-button").click()
    await page.get_by_test_id("place-order").click()


async def _suspicious_purchase(
    page: Any, base: str, small: tuple[int, int], big: tuple[int, int]
) -> str:
    """Three quick small attempts (each left unpaid at the provider), then the big one: the
    checkout page asks for a code. Returns the held payment's reference."""
    from playwright.async_api import expect

    for _ in range(3):
        await _place(page, base, small)
        await expect(page.get_by_test_id("amount")).to_have_text("¥19.90")  # the sandbox page
    await _place(page, base, big)
    result = page.get_by_test_id("checkout-result")
    await expect(result).to_have_attribute("data-state", "held")
    await expect(page.get_by_test_id("verify-form")).to_be_visible()
    reference = await result.get_attribute("data-reference")
    assert reference
    return str(reference)


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_held_purchase_verified_by_one_buyer_and_blocked_for_another(
    server: LiveServer, browser: Any, unique: str
) -> None:
    from playwright.async_api import expect

    base = server.base_url
    small, big = await _shop(server, unique)
    problems: list[str] = []

    # The first buyer enters the right code, then pays at the provider.
    honest = f"honest-{unique}@buyer.kuaidan.test"
    honest_id = await _buyer_of_two_days(server, honest)
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await _log_in(page, base, honest, "/cart")
        verified = await _suspicious_purchase(page, base, small, big)
        await page.get_by_test_id("verify-code").fill(await _newest_code(server, honest_id))
        await page.get_by_test_id("verify-submit").click()
        await page.get_by_test_id("pay-now").click()
        await expect(page.get_by_test_id("amount")).to_have_text("¥3888.00")
        await page.get_by_role("button", name="确认付款 Pay").click()
        result = page.get_by_test_id("checkout-result")
        await expect(result).to_have_attribute("data-state", "paid", timeout=TIMEOUT_MS)
    finally:
        await context.close()

    # The second buyer (someone who does not have the code) guesses and is blocked.
    guesser = f"guesser-{unique}@buyer.kuaidan.test"
    guesser_id = await _buyer_of_two_days(server, guesser)
    guesses: list[str] = []  # a refused code answers 422 (then 403): expected, and logged
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, guesses)
        await _log_in(page, base, guesser, "/cart")
        blocked = await _suspicious_purchase(page, base, small, big)
        real = await _newest_code(server, guesser_id)
        wrong = f"{(int(real) + 1) % 1_000_000:06d}"
        for left in (4, 3, 2, 1):
            await page.get_by_test_id("verify-code").fill(wrong)
            await page.get_by_test_id("verify-submit").click()
            await expect(page.get_by_test_id("tries-left")).to_contain_text(str(left))
        await page.get_by_test_id("verify-code").fill(wrong)
        await page.get_by_test_id("verify-submit").click()
        result = page.get_by_test_id("checkout-result")
        await expect(result).to_have_attribute("data-state", "blocked")
        await expect(page.get_by_test_id("blocked-notice")).to_be_visible()
        await expect(page.get_by_test_id("checkout-order")).to_have_count(1)
        number = await page.get_by_test_id("checkout-order").first.get_attribute("data-number")

        async def cancelled() -> bool:  # the block cancels the order through the worker
            await page.goto(f"{base}/orders/{number}")
            status = await page.get_by_test_id("order").get_attribute("data-status")
            return bool(status == "cancelled")

        await eventually(cancelled)
    finally:
        await context.close()
    refused = [p for p in guesses if f"/checkouts/{blocked}/verify" in p]
    assert len(refused) == 5 and all(("422" in p) != ("403" in p) for p in refused), guesses
    assert len(guesses) == 5, f"errors on the pages: {guesses}"

    # The analysts' console shows both outcomes.
    uow = server.uow()
    try:
        analyst = await UserFactory.create(
            uow, password=PASSWORD, role=Role.ADMIN, display_name="风控"
        )
    finally:
        await uow.close()
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await _watched_page(context, problems)
        await _log_in(page, base, analyst.email, "/risk/holds")
        rows = page.get_by_test_id("decided-hold")
        for reference, status in ((verified, "verified"), (blocked, "blocked")):
            row = rows.and_(page.locator(f'[data-reference="{reference}"]'))
            await expect(row).to_have_attribute("data-status", status)
            await expect(row).to_contain_text("new_device")
            await expect(row).to_contain_text("buyer_burst")
            await expect(row).to_contain_text("high_amount_no_history")
            outcome = row.locator("td").nth(3)  # 结果 Outcome
            await expect(outcome).to_have_text(status)
            assert inside(await box(outcome.locator(".badge")), await box(outcome))
        await assert_badges_stay_put(page)
    finally:
        await context.close()
    assert problems == [], f"errors on the pages: {problems}"
