"""The change pages over real HTTPS on SQLite and PostgreSQL: the buyer changes the address
(from the book and a new one) and swaps a colour on the forms, a refused change shows the form
again with the message and the error's status, an agent acts from its own page (audited), and
the shop marks packing started and rejects a change with its reason on its console.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from kuaidan.accounts.domain import Role
from kuaidan.ordering.domain import parse_order_number
from kuaidan.ordering.service._common import order_number_key
from kuaidan.security import service as security
from tests.conftest import LiveServer
from tests.factories import UserFactory
from tests.integration import ordering_support as support
from tests.integration.ordering_support import PASSWORD, available, opened, order
from tests.integration.test_order_changes import colours, paid_tee
from tests.integration.test_ordering_pages import HTML, csrf

market = support.market
stock_stays_consistent = support.stock_stays_consistent

REQUEST_RE = re.compile(r'name="request_id" value="([0-9a-f]{32})"')
NEW = {
    "recipient": "钱七",
    "phone": "+86 139-0000-1111",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
    "line": "文三路 8 号",
}


@asynccontextmanager
async def signed_in(server: LiveServer, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client(headers=HTML) as client:
        form = {"email": email, "password": PASSWORD, "next": "/"}
        form["csrf_token"] = await csrf(client, "/login")
        assert (await client.post("/login", data=form)).status_code == 303
        yield client


async def form_tokens(client: httpx.AsyncClient, path: str) -> dict[str, str]:
    page = await client.get(path)
    assert page.status_code == 200, page.text[:500]
    found = REQUEST_RE.search(page.text)
    assert found is not None, page.text[:500]
    return {"csrf_token": await csrf(client, path), "request_id": found.group(1)}


async def user(server: LiveServer, role: Role, merchant_id: int | None = None) -> str:
    async with opened(server) as uow:
        created = await UserFactory.create(uow, role=role, merchant_id=merchant_id)
    return created.email


async def buyer_email(api: httpx.AsyncClient, buyer_id: int, token: str) -> str:
    me = await api.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert me.json()["id"] == buyer_id
    return str(me.json()["email"])


async def test_buyer_changes_address_and_colour_on_the_pages(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    email = await buyer_email(api, buyer.id, buyer.token)
    async with signed_in(server, email) as client:
        shown = await client.get(f"/orders/{number}")
        assert 'data-testid="changes-card"' in shown.text
        path = f"/orders/{number}/changes"
        # A new address missing its street is refused with the form again, nothing written.
        tokens = await form_tokens(client, path)
        bad = {**NEW, "line": "", "address_id": "new", **tokens}
        refused = await client.post(f"{path}/address", data=bad)
        assert refused.status_code == 422, refused.text[:300]
        assert 'data-testid="address-change-form"' in refused.text
        assert 'data-testid="form-error"' in refused.text
        book = await api.get("/api/v1/me/addresses", headers=buyer.auth)
        assert len(book.json()) == 1
        # A new address: it joins the book and the order takes it; the same submission twice
        # is one change.
        tokens = await form_tokens(client, path)
        moved = await client.post(f"{path}/address", data={**NEW, "address_id": "new", **tokens})
        assert moved.status_code == 303, moved.text[:300]
        again = await client.post(f"{path}/address", data={**NEW, "address_id": "new", **tokens})
        assert again.status_code == 303
        seen = await order(api, number, buyer.auth)
        assert (seen["address"]["province"], seen["address"]["city"]) == ("浙江省", "杭州市")
        assert (
            len((await api.get(f"/api/v1/orders/{number}/changes", headers=buyer.auth)).json()) == 1
        )
        # Another colour, cheaper: the difference is refunded.
        tokens = await form_tokens(client, path)
        swap = {"sku_id": str(tee.black), "new_sku_id": str(tee.red), "quantity": "1", **tokens}
        swapped = await client.post(f"{path}/line", data=swap)
        assert swapped.status_code == 303, swapped.text[:300]
        page = await client.get(swapped.headers["location"])
        assert 'data-testid="notice"' in page.text
        assert 'data-testid="change-refund"' in page.text and "¥5.00" in page.text
        # Another product's SKU is refused with its message.
        other = await colours(server, market)
        tokens = await form_tokens(client, path)
        wrong = {"sku_id": str(tee.red), "new_sku_id": str(other.red), "quantity": "1", **tokens}
        answered = await client.post(f"{path}/line", data=wrong)
        assert answered.status_code == 422 and "same product" in answered.text
        # A page without its CSRF token is refused.
        forged = await client.post(f"{path}/line", data={**wrong, "csrf_token": "x"})
        assert forged.status_code == 403
        # A dearer colour waits for the difference, paid through the provider's page.
        tokens = await form_tokens(client, path)
        dearer = {"sku_id": str(tee.red), "new_sku_id": str(tee.white), "quantity": "1", **tokens}
        waiting = await client.post(f"{path}/line", data=dearer)
        assert waiting.status_code == 303 and waiting.headers["location"].endswith("msg=to_pay")
        page = await client.get(waiting.headers["location"])
        assert 'data-status="awaiting_payment"' in page.text
        assert 'data-testid="change-pay"' in page.text and "¥11.00" in page.text
    seen = await order(api, number, buyer.auth)
    assert [line["sku_id"] for line in seen["lines"]] == [tee.red]
    assert await available(server, tee.red) == 4 and await available(server, tee.black) == 5
    actions = [entry["action"] for entry in seen["timeline"]]
    assert actions.count("changed") == 2 and actions[-1] == "change_awaiting_payment"
    assert await available(server, tee.white) == 4


async def test_agent_acts_from_its_page_and_the_shop_decides_on_its_console(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    seller_email = await user(server, Role.MERCHANT, market.shop_a)
    async with signed_in(server, seller_email) as shop:
        console = await shop.get(f"/merchant/orders/{number}")
        assert 'data-testid="start-packing"' in console.text
        token = await csrf(shop, f"/merchant/orders/{number}")
        packed = await shop.post(f"/merchant/orders/{number}/packing", data={"csrf_token": token})
        assert packed.status_code == 303, packed.text[:300]
        console = await shop.get(f"/merchant/orders/{number}")
        assert 'data-packing="started"' in console.text
        assert 'data-testid="start-packing"' not in console.text
    agent_email = await user(server, Role.AGENT)
    async with signed_in(server, agent_email) as agent:
        path = f"/agent/orders/{number}/changes"
        page = await agent.get(path)
        assert 'data-testid="on-behalf"' in page.text
        tokens = await form_tokens(agent, path)
        swap = {"sku_id": str(tee.black), "new_sku_id": str(tee.red), "quantity": "1", **tokens}
        asked = await agent.post(f"/agent/orders/{number}/changes/line", data=swap)
        assert asked.status_code == 303, asked.text[:300]
        assert asked.headers["location"].endswith("msg=requested")
    change_id = (await api.get(f"/api/v1/orders/{number}/changes", headers=buyer.auth)).json()[0][
        "id"
    ]
    async with signed_in(server, seller_email) as shop:
        pending = await shop.get(f"/merchant/orders/{number}/changes")
        assert 'data-testid="reject-form"' in pending.text
        token = await csrf(shop, f"/merchant/orders/{number}/changes")
        decision = f"/merchant/orders/{number}/changes/{change_id}/decision"
        unsaid = await shop.post(decision, data={"decision": "reject", "csrf_token": token})
        assert unsaid.status_code == 422  # a rejection says why
        said = {"decision": "reject", "reason": "已打包好 Already packed", "csrf_token": token}
        rejected = await shop.post(decision, data=said)
        assert rejected.status_code == 303, rejected.text[:300]
        twice = await shop.post(decision, data={**said, "decision": "approve"})
        assert twice.status_code == 409 and 'data-testid="form-error"' in twice.text
    email = await buyer_email(api, buyer.id, buyer.token)
    async with signed_in(server, email) as client:
        mine = await client.get(f"/orders/{number}/changes")
        assert 'data-status="rejected"' in mine.text and "Already packed" in mine.text
        stranger = await client.get("/orders/KD00000000000000/changes")
        assert stranger.status_code == 404
    assert await available(server, tee.red) == 5
    order_id, _day = parse_order_number(number, key=order_number_key(server.container.cipher))
    async with opened(server) as uow:
        entries = await security.list_entries(uow=uow, subject=f"order:{order_id}")
    assert [e.action for e in entries] == ["ordering.change_requested"]
