"""The after-sales pages over real HTTPS on SQLite and PostgreSQL: who may open which page (a
buyer sees only their own orders, the shop only its own, the queues only their roles), a
refused request shows the form again with the message and the error's status, a double
submission of the form is one case, and the shop answers from its queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kuaidan.accounts.domain import Role
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually
from tests.integration import ordering_support as support
from tests.integration.ordering_support import Market, bearer, new_sku, order, paid_checkout
from tests.integration.test_order_changes_pages import form_tokens, signed_in, user
from tests.integration.test_order_interception import buyer_with_email
from tests.integration.test_ordering_pages import csrf

market = support.market
stock_stays_consistent = support.stock_stays_consistent

RETURN_ADDRESS = {
    "recipient": "甲店 售后",
    "phone": "021-5555-0000",
    "province": "上海",
    "city": "上海",
    "line": "浦东新区 世纪大道 100 号",
}
CASE_RE = re.compile(r'data-testid="after-sales-case" data-case-id="([0-9]+)"')


@dataclass
class Staff:
    seller: str  # emails to sign in on the pages with
    other_seller: str
    agent: str
    seller_auth: dict[str, str]


@pytest.fixture(scope="module")
async def staff(server: LiveServer, market: Market) -> Staff:
    seller = await user(server, Role.MERCHANT, market.shop_a)
    async with server.client() as api:
        token = await support.token_for(api, seller)
        answer = await api.put(
            "/api/v1/merchant/return-address", json=RETURN_ADDRESS, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text
    return Staff(
        seller=seller,
        other_seller=await user(server, Role.MERCHANT, market.shop_b),
        agent=await user(server, Role.AGENT),
        seller_auth=bearer(token),
    )


async def delivered_order(
    server: LiveServer, api: httpx.AsyncClient, market: Market, staff: Staff, pay: PaySandbox
) -> tuple[str, str]:
    """A paid order of shop A, shipped with the best carrier and delivered; its number and the
    buyer's email."""
    sku = await new_sku(server, market, market.shop_a, 2300, 5)
    buyer, email = await buyer_with_email(api)
    number = (await paid_checkout(api, pay, buyer, [(sku, 1)]))["orders"][0]["number"]
    shipped = await api.post(
        f"/api/v1/merchant/orders/{number}/ship", json={}, headers=staff.seller_auth
    )
    assert shipped.status_code == 200, shipped.text

    async def delivered() -> bool:
        return bool((await order(api, number, buyer.auth))["status"] == "delivered")

    await eventually(delivered, timeout_s=30)
    return number, email


async def ask_form(client: httpx.AsyncClient, number: str, **fields: str) -> dict[str, Any]:
    path = f"/orders/{number}/after-sales"
    tokens = await form_tokens(client, path)
    page = (await client.get(path)).text
    line = re.search(r'name="line" value="([0-9]+)"', page)
    assert line is not None, page[:500]
    return {**tokens, "line": line.group(1), f"qty_{line.group(1)}": "1", **fields}


async def test_only_the_buyer_the_shop_and_agents_open_the_pages(
    server: LiveServer,
    api: httpx.AsyncClient,
    market: Market,
    staff: Staff,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, email = await delivered_order(server, api, market, staff, pay_sandbox)
    _other, stranger = await buyer_with_email(api)
    async with signed_in(server, email) as client:
        shown = await client.get(f"/orders/{number}")
        assert 'data-testid="after-sales-card"' in shown.text
        assert f"/orders/{number}/after-sales" in shown.text
        for path in (
            "/merchant/after-sales",
            "/agent/after-sales",
            f"/agent/orders/{number}/after-sales",
        ):
            assert (await client.get(path)).status_code == 403, path
    async with signed_in(server, stranger) as client:
        assert (await client.get(f"/orders/{number}/after-sales")).status_code == 404
        form = {"csrf_token": await csrf(client, "/orders"), "kind": "return", "reason": "xx"}
        posted = await client.post(f"/orders/{number}/after-sales", data=form)
        assert posted.status_code == 404
    async with signed_in(server, staff.other_seller) as client:
        assert (await client.get(f"/merchant/orders/{number}/after-sales")).status_code == 404
        assert (await client.get(f"/orders/{number}/after-sales")).status_code == 403
    async with signed_in(server, staff.seller) as client:
        page = await client.get(f"/merchant/orders/{number}/after-sales")
        assert page.status_code == 200 and 'data-testid="after-sales-form"' not in page.text
        form = {"csrf_token": await csrf(client, "/merchant/after-sales"), "ruling": "buyer"}
        ruled = await client.post(f"/agent/orders/{number}/after-sales/1/ruling", data=form)
        assert ruled.status_code == 403
    async with signed_in(server, staff.agent) as client:
        page = await client.get(f"/agent/orders/{number}/after-sales")
        assert page.status_code == 200 and 'data-testid="after-sales-on-behalf"' in page.text
        assert (await client.get("/agent/after-sales")).status_code == 200
        assert (await client.get(f"/orders/{number}/after-sales")).status_code == 403


@pytest.mark.parametrize("case_page", ["after-sales", "changes", "interception"])
async def test_each_case_page_admits_by_its_path(
    server: LiveServer,
    api: httpx.AsyncClient,
    market: Market,
    staff: Staff,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    case_page: str,
) -> None:
    """One rule for every after-order page: ``/orders/…`` is the buyer's, ``/agent/…`` an
    agent's or admin's, ``/merchant/…`` the shop's staff's; another shop's order is 404."""
    number, email = await delivered_order(server, api, market, staff, pay_sandbox)
    buyer_path, agent_path = f"/orders/{number}/{case_page}", f"/agent/orders/{number}/{case_page}"
    merchant_path = f"/merchant/orders/{number}/{case_page}"
    expected = {
        email: {buyer_path: 200, agent_path: 403, merchant_path: 403},
        staff.seller: {buyer_path: 403, agent_path: 403, merchant_path: 200},
        staff.other_seller: {merchant_path: 404},
        staff.agent: {buyer_path: 403, agent_path: 200, merchant_path: 403},
    }
    for who, answers in expected.items():
        async with signed_in(server, who) as client:
            for path, status in answers.items():
                assert (await client.get(path)).status_code == status, (who, path)


async def test_a_delivered_order_offers_no_interception(
    server: LiveServer,
    api: httpx.AsyncClient,
    market: Market,
    staff: Staff,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, email = await delivered_order(server, api, market, staff, pay_sandbox)
    async with signed_in(server, email) as client:
        shown = await client.get(f"/orders/{number}")
        page = await client.get(f"/orders/{number}/interception")
    assert shown.status_code == 200 and 'data-testid="after-sales-card"' in shown.text
    assert "Redirect or cancel" not in shown.text
    assert f"/orders/{number}/interception" not in shown.text
    assert page.status_code == 200
    assert "Redirect or cancel" not in page.text
    assert 'data-testid="interception-form"' not in page.text


async def test_a_refused_request_shows_the_form_again_with_its_status(
    server: LiveServer,
    api: httpx.AsyncClient,
    market: Market,
    staff: Staff,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, email = await delivered_order(server, api, market, staff, pay_sandbox)
    async with signed_in(server, email) as client:
        path = f"/orders/{number}/after-sales"
        # An exchange without the colour/size wanted: 422, the form again with what was typed.
        form = await ask_form(client, number, kind="exchange", reason="换个颜色 another colour")
        refused = await client.post(path, data=form)
        assert refused.status_code == 422
        assert 'data-testid="form-error"' in refused.text
        assert "换个颜色 another colour" in refused.text
        assert CASE_RE.search(refused.text) is None
        # Twice the same form (a double click): one case.
        form = await ask_form(client, number, kind="return", reason="不喜欢 changed my mind")
        for _ in range(2):
            assert (await client.post(path, data=form)).status_code == 303
        page = await client.get(path)
        assert len(CASE_RE.findall(page.text)) == 1
        assert 'data-testid="after-sales-withdraw"' in page.text
        # The one item is claimed: another request for it is refused with 409.
        second = {**form, "request_id": "another-request-0001"}
        refused = await client.post(path, data=second)
        assert refused.status_code == 409 and 'data-testid="form-error"' in refused.text
    case_id = CASE_RE.findall(page.text)[0]
    async with signed_in(server, staff.seller) as client:
        queue = await client.get("/merchant/after-sales")
        assert f'data-case-id="{case_id}"' in queue.text
        assert 'data-testid="after-sales-answer-by"' in queue.text
        detail = f"/merchant/orders/{number}/after-sales"
        form = {"csrf_token": await csrf(client, detail), "decision": "reject", "reason": ""}
        refused = await client.post(f"{detail}/{case_id}/decision", data=form)
        assert refused.status_code == 422 and 'data-testid="form-error"' in refused.text
        form["reason"] = "已使用 the item was used"
        done = await client.post(f"{detail}/{case_id}/decision", data=form)
        assert done.status_code == 303
        # Deciding again: the case is no longer waiting for an answer (409, with the message).
        again = await client.post(f"{detail}/{case_id}/decision", data=form)
        assert again.status_code == 409 and 'data-testid="form-error"' in again.text
    async with signed_in(server, email) as client:
        page = await client.get(f"/orders/{number}/after-sales")
        assert "已使用 the item was used" in page.text
        assert 'data-testid="after-sales-dispute-form"' in page.text


async def test_an_order_not_yet_delivered_has_no_form(
    server: LiveServer,
    api: httpx.AsyncClient,
    market: Market,
    staff: Staff,
    pay_sandbox: PaySandbox,
) -> None:
    sku = await new_sku(server, market, market.shop_a, 1800, 5)
    buyer, email = await buyer_with_email(api)
    number = (await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)]))["orders"][0]["number"]
    async with signed_in(server, email) as client:
        page = await client.get(f"/orders/{number}/after-sales")
        assert page.status_code == 200
        assert 'data-testid="after-sales-blocked"' in page.text
        assert 'data-testid="after-sales-form"' not in page.text
        form = {
            "csrf_token": await csrf(client, f"/orders/{number}/after-sales"),
            "kind": "return", "reason": "不要了 no longer needed", "request_id": "r" * 32,
            "line": "1", "qty_1": "1",
        }  # fmt: skip
        refused = await client.post(f"/orders/{number}/after-sales", data=form)
        assert refused.status_code == 409 and 'data-testid="form-error"' in refused.text
        shown = await client.get(f"/orders/{number}")
        assert 'data-testid="after-sales-card"' not in shown.text
