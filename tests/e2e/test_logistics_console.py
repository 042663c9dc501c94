"""In Chromium, over TLS: a parcel delayed in transit and a lost parcel each open an exception
case; an admin finds them in the console, resolves the delayed one by chasing the carrier and
the lost one by a refund (after a mistyped claim amount is refused), and reads the carrier's
scorecards as charts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role
from kuaidan.logistics import service
from kuaidan.logistics.domain import ExceptionKind, ShipmentStatus
from tests.conftest import CarrierSandbox, LiveServer
from tests.integration.test_logistics_consoles import (
    call,
    carrier_profile,
    reaches,
    ship,
)

pytestmark = pytest.mark.e2e

PASSWORD = "long-enough-pass-1"
TIMEOUT_MS = 20_000
MERCHANT_ID = 990_001


async def _cases(server: LiveServer, sandbox: CarrierSandbox, code: str) -> dict[str, Any]:
    """A delayed parcel (the detection job run two days after its last scan) and a lost one."""
    delayed = await ship(
        server, sandbox, MERCHANT_ID, fate="delay", delay_hours=5000, carrier_code=code
    )
    moving = await reaches(server, delayed.reference, ShipmentStatus.IN_TRANSIT)
    lost = await ship(server, sandbox, MERCHANT_ID, fate="lost", carrier_code=code)
    await reaches(server, lost.reference, ShipmentStatus.LOST)
    last_scan = max(s.at for s in moving.scans)
    await call(server, service.detect_exceptions, now=last_scan + timedelta(hours=49))
    kinds = {}
    for info in (delayed, lost):
        found = await call(server, service.list_exception_cases, reference=info.reference)
        kinds[info.order_number] = [c.kind for c in found]
    assert kinds == {
        delayed.order_number: [ExceptionKind.STALE_IN_TRANSIT],
        lost.order_number: [ExceptionKind.LOST],
    }
    return {"delayed": delayed, "lost": lost}


async def _open_case(page: Any, base: str, order_number: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{base}/logistics/cases")
    await page.get_by_test_id("filter-order").fill(order_number)
    await page.get_by_test_id("filter-submit").click()
    rows = page.get_by_test_id("case-row")
    await expect(rows).to_have_count(1)
    await rows.first.get_by_test_id("case-link").click()
    await expect(page.get_by_test_id("case")).to_have_attribute("data-status", "open")


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_admin_resolves_a_delayed_and_a_lost_parcel_and_reads_the_scorecards(
    server: LiveServer, carrier_sandbox: CarrierSandbox, browser: Any
) -> None:
    from playwright.async_api import expect

    code = f"e2e{uuid.uuid4().hex[:6]}"
    await call(server, service.add_carrier, profile=carrier_profile(code))
    shipped = await _cases(server, carrier_sandbox, code)
    now = datetime.now(UTC)
    await call(
        server, service.compute_scorecards, start=now - timedelta(days=1),
        end=now + timedelta(days=90), carrier_codes={code},
    )  # fmt: skip
    email = f"ops-{uuid.uuid4().hex[:8]}@kuaidan.test"
    await call(
        server, accounts.create_user, email=email, password=PASSWORD, role=Role.ADMIN,
        display_name="物流运营",
    )  # fmt: skip

    base, problems = server.base_url, []
    context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: problems.append(f"script: {exc}"))
        await page.goto(f"{base}/login?next=/logistics/cases")
        await page.fill("#email", email)
        await page.fill("#password", PASSWORD)
        await page.locator('[data-testid="login-form"] [type="submit"]').click()
        await expect(page.get_by_test_id("case-filters")).to_be_visible()

        await _open_case(page, base, shipped["delayed"].order_number)
        await expect(page.get_by_test_id("tracking-number")).to_have_text(
            shipped["delayed"].tracking_number
        )
        await page.get_by_test_id("resolution-chase").check()
        await page.get_by_test_id("resolve-note").fill("已催促承运商，明日派送")
        await page.get_by_test_id("resolve").click()
        await expect(page.get_by_test_id("notice")).to_be_visible()
        case = page.get_by_test_id("case")
        await expect(case).to_have_attribute("data-resolution", "chase")
        await expect(page.get_by_test_id("notes")).to_contain_text("已催促承运商")

        await _open_case(page, base, shipped["lost"].order_number)
        await page.get_by_test_id("resolution-claim").check()
        await page.get_by_test_id("claim-yuan").fill("12.345")
        await page.get_by_test_id("resolve").click()
        await expect(page.get_by_test_id("error")).to_contain_text("at most two decimals")
        await expect(page.get_by_test_id("case")).to_have_attribute("data-status", "open")
        await page.get_by_test_id("claim-yuan").fill("")
        await page.get_by_test_id("resolution-refund").check()
        await page.get_by_test_id("resolve").click()
        await expect(page.get_by_test_id("case")).to_have_attribute("data-resolution", "refund")

        await page.goto(f"{base}/logistics/scorecards")
        await page.get_by_test_id("carrier-select").select_option(code)
        await page.get_by_role("button", name="查看 Show").click()
        await expect(page.get_by_test_id("scorecards")).to_have_attribute("data-carrier", code)
        for chart in ("on-time", "intact", "satisfaction", "exceptions", "claims", "eta"):
            await expect(page.get_by_test_id(f"chart-{chart}")).to_be_visible()
        exceptions = page.get_by_test_id("chart-exceptions").locator("g.point")
        await expect(exceptions).to_have_count(1)
        await expect(exceptions).to_have_attribute("data-value", "1.0000")  # both parcels
        await expect(page.get_by_test_id("sc-shipments")).to_have_text("2")
        await page.get_by_test_id("compute").click()
        await expect(page.get_by_test_id("notice")).to_be_visible()
        assert problems == [], f"errors on the pages: {problems}"
    finally:
        await context.close()
