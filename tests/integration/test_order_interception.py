"""Interception after shipping, over real HTTPS on SQLite and PostgreSQL, with the carrier
simulator stopping (or failing to stop) parcels: a redirect reships to the new address, a
cancel refunds the order less the buyer's fee, a failed interception lets the parcel go on and
tells the buyer, bad requests change nothing, and redelivered events change nothing twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kuaidan.accounts.domain import Role
from kuaidan.core.notify import dev_inbox
from kuaidan.logistics import service as logistics
from kuaidan.logistics.domain.carriers import INTERCEPT_FEES_FEN
from kuaidan.ordering.domain import parse_order_number
from kuaidan.ordering.interception import service as interception
from kuaidan.ordering.service._common import order_number_key
from kuaidan.security import service as security
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually
from tests.factories import UserFactory
from tests.integration import ordering_support as support
from tests.integration.ordering_support import (
    ADDRESS,
    PASSWORD,
    Buyer,
    Market,
    bearer,
    new_buyer,
    new_sku,
    opened,
    order,
    paid_checkout,
    staff,
)
from tests.integration.test_ordering_pages import HTML, csrf

market = support.market
stock_stays_consistent = support.stock_stays_consistent

NEW_ADDRESS = {
    "recipient": "王五",
    "phone": "+86 138-0000-1111",
    "province": "北京市",
    "city": "北京市",
    "district": "海淀区",
    "line": "中关村大街 1 号",
    "postcode": "100080",
}


@dataclass
class Shop:
    market: Market
    seller: dict[str, str]
    agent: dict[str, str]


@pytest.fixture(scope="module")
async def shop(server: LiveServer, market: Market) -> Shop:
    async with server.client() as api:
        seller = await staff(server, api, Role.MERCHANT, market.shop_a)
        agent = await staff(server, api, Role.AGENT)
    return Shop(market, seller, agent)


async def hooks(sandbox: CarrierSandbox, **settings: Any) -> None:
    async with sandbox.client() as client:
        answer = await client.post("/sandbox/hooks", json=settings)
    assert answer.status_code == 200, answer.text


async def sim_parcel(sandbox: CarrierSandbox, nu: str) -> dict[str, Any]:
    async with sandbox.client() as client:
        answer = await client.get(f"/sandbox/parcels/{nu}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def shipped_order(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier: CarrierSandbox,
    buyer: Buyer | None = None,
    **fate: Any,
) -> tuple[str, Buyer]:
    """A paid order shipped with the best carrier; ``fate`` sets the simulator's hooks for its
    parcel (reset afterwards)."""
    sku = await new_sku(server, shop.market, shop.market.shop_a, 2300, 5)
    buyer = buyer or await new_buyer(api)
    number = (await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)]))["orders"][0]["number"]
    if fate:
        await hooks(carrier, **fate)
    try:
        shipped = await api.post(
            f"/api/v1/merchant/orders/{number}/ship", json={}, headers=shop.seller
        )
        assert shipped.status_code == 200, shipped.text

        async def booked() -> bool:
            return bool((await order(api, number, buyer.auth))["tracking_number"])

        await eventually(booked)
    finally:
        if fate:
            await hooks(carrier, delay_hours=80.0, manual_next=False)
    return number, buyer


async def parcel_status(api: httpx.AsyncClient, number: str, buyer: Buyer) -> str:
    answer = await api.get(f"/api/v1/orders/{number}/tracking", headers=buyer.auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["shipment"]["status"])


async def picked_up(api: httpx.AsyncClient, number: str, buyer: Buyer) -> None:
    async def moving() -> bool:
        return await parcel_status(api, number, buyer) in ("picked_up", "in_transit")

    await eventually(moving)


async def ask(
    api: httpx.AsyncClient, number: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await api.post(f"/api/v1/orders/{number}/interceptions", json=body, headers=headers)


async def case_reaches(
    api: httpx.AsyncClient, number: str, buyer: Buyer, status: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        answer = await api.get(f"/api/v1/orders/{number}/interceptions", headers=buyer.auth)
        assert answer.status_code == 200, answer.text
        cases = answer.json()
        return cases[0] if cases and cases[0]["status"] == status else None

    found: dict[str, Any] = await eventually(check, timeout_s=30)
    return found


def actions(found: dict[str, Any]) -> list[str]:
    return [entry["action"] for entry in found["timeline"]]


async def expected_fee(server: LiveServer, reference: str) -> int:
    async with opened(server) as uow:
        shipment = await logistics.get_shipment(uow=uow, reference=reference, with_scans=False)
    return INTERCEPT_FEES_FEN[shipment.zone]


async def merchant_pages(server: LiveServer, market: Market, number: str) -> tuple[str, str]:
    """The shop's order page and its interception page, as a signed-in member of staff."""
    async with opened(server) as uow:
        staff = await UserFactory.create(uow, role=Role.MERCHANT, merchant_id=market.shop_a)
    async with server.client(headers=HTML) as client:
        form = {"email": staff.email, "password": PASSWORD, "next": "/"}
        form["csrf_token"] = await csrf(client, "/login")
        assert (await client.post("/login", data=form)).status_code == 303
        order_page = await client.get(f"/merchant/orders/{number}")
        case_page = await client.get(f"/merchant/orders/{number}/interception")
    assert order_page.status_code == case_page.status_code == 200
    return order_page.text, case_page.text


async def buyer_with_email(api: httpx.AsyncClient) -> tuple[Buyer, str]:
    """A new buyer with an address, and the email to sign in on the pages with."""
    new = UserFactory.build()
    body = {"email": new.email, "password": new.password, "display_name": new.display_name}
    assert (await api.post("/api/v1/auth/register", json=body)).status_code == 201
    answer = await api.post("/api/v1/auth/tokens", json={k: body[k] for k in ("email", "password")})
    token = str(answer.json()["token"])
    user = (await api.get("/api/v1/me", headers=bearer(token))).json()
    address = await api.post("/api/v1/me/addresses", json=ADDRESS, headers=bearer(token))
    assert address.status_code == 201, address.text
    return Buyer(user["id"], token, address.json()["id"]), body["email"]


# --- redirect -------------------------------------------------------------------------------


async def test_a_redirected_parcel_comes_back_and_a_new_one_reaches_the_new_address(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    # A parcel that stays silent in transit for a long while, so it can still be stopped.
    number, buyer = await shipped_order(
        server, api, shop, pay_sandbox, carrier_sandbox, next_fate="delay", delay_hours=100_000
    )
    await picked_up(api, number, buyer)
    old = (await order(api, number, buyer.auth))["shipment_reference"]

    asked = await ask(
        api, number, buyer.auth, kind="redirect", reason="搬家了 moved", address=NEW_ADDRESS
    )
    assert asked.status_code == 201, asked.text
    case = asked.json()
    assert (case["kind"], case["status"], case["bearer"]) == ("redirect", "requested", "buyer")
    assert case["fee_fen"] == case["fee_charged_fen"] == await expected_fee(server, old)
    assert "北京" in case["new_address"]
    again = await ask(api, number, buyer.auth, kind="cancel", reason="twice")
    assert again.status_code == 409, again.text

    done = await case_reaches(api, number, buyer, "reshipped")
    assert done["new_shipment"] and done["new_shipment"] != old
    delivered = await support_order_reaches(api, number, buyer, "delivered")
    assert delivered["shipment_reference"] == done["new_shipment"]
    assert delivered["address"]["city"] == "北京"
    assert delivered["address"]["recipient"] == "王五"
    steps = actions(delivered)
    for step in ("requested", "intercepting", "succeeded", "returned", "reshipped"):
        assert f"interception_{step}" in steps
    assert steps.index("interception_returned") < steps.index("reshipped")
    async with opened(server) as uow:
        new = await logistics.get_shipment(uow=uow, reference=done["new_shipment"])
        first = await logistics.get_shipment(uow=uow, reference=old, with_scans=False)
    assert (new.destination.city, new.status.value) == ("北京", "delivered")
    assert first.status.value == "returned"
    order_page, case_page = await merchant_pages(server, shop.market, number)
    assert 'data-testid="interception-status" data-status="reshipped"' in order_page
    assert 'data-testid="interception-case" data-status="reshipped"' in case_page
    assert 'data-testid="interception-form"' not in case_page

    # The carrier's answer and the parcel's return, delivered again, change nothing.
    async with opened(server) as uow:
        assert not await interception.record_interception_result(
            uow=uow, reference=old, succeeded=True, message="again"
        )
        assert not await interception.record_parcel_returned(uow=uow, reference=old)
        assert not await interception.note_interception_sent(uow=uow, reference=old)
        order_id, _day = parse_order_number(number, key=order_number_key(server.container.cipher))
        shipments = await logistics.shipments_for_order(uow=uow, order_id=order_id)
    assert len(shipments) == 2
    assert actions(await order(api, number, buyer.auth)) == steps


async def support_order_reaches(
    api: httpx.AsyncClient, number: str, buyer: Buyer, status: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await order(api, number, buyer.auth)
        return found if found["status"] == status else None

    result: dict[str, Any] = await eventually(check, timeout_s=30)
    return result


# --- cancel ---------------------------------------------------------------------------------


async def test_a_cancelled_parcel_comes_back_and_the_order_is_refunded_less_the_fee(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await shipped_order(
        server, api, shop, pay_sandbox, carrier_sandbox, next_fate="delay", delay_hours=100_000
    )
    await picked_up(api, number, buyer)
    placed = await order(api, number, buyer.auth)
    fee = await expected_fee(server, placed["shipment_reference"])

    asked = await ask(api, number, buyer.auth, kind="cancel", reason="不要了 changed my mind")
    assert asked.status_code == 201, asked.text
    done = await case_reaches(api, number, buyer, "refunded")
    assert done["refund_fen"] == placed["total_fen"] - fee

    async def refunded() -> dict[str, Any] | None:
        found = await order(api, number, buyer.auth)
        return found if found["refunded_at"] else None

    found = await eventually(refunded, timeout_s=30)
    assert f"{placed['total_fen'] - fee} fen" in " ".join(
        e["note"] or "" for e in found["timeline"] if e["action"] == "refunded"
    )
    # The parcel is back and the money too: the order ends cancelled, never auto-completed.
    assert found["status"] == "cancelled" and found["cancel_reason"] == "intercepted and returned"
    assert "return" in [e["action"] for e in found["timeline"]]
    # No second interception while the refund is recorded.
    assert (await ask(api, number, buyer.auth, kind="cancel", reason="x")).status_code == 409


async def test_an_agent_asks_on_the_buyers_behalf_and_the_merchant_bears_its_error(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await shipped_order(
        server, api, shop, pay_sandbox, carrier_sandbox, next_fate="delay", delay_hours=100_000
    )
    await picked_up(api, number, buyer)
    refused = await ask(api, number, buyer.auth, kind="cancel", reason="x", cause="merchant_error")
    assert refused.status_code == 403, refused.text
    asked = await ask(
        api, number, shop.agent, kind="cancel", reason="发错货 wrong item", cause="merchant_error"
    )
    assert asked.status_code == 201, asked.text
    assert (asked.json()["requested_by"], asked.json()["bearer"]) == ("agent", "merchant")
    done = await case_reaches(api, number, buyer, "refunded")

    async def refunded() -> dict[str, Any] | None:
        found = await order(api, number, buyer.auth)
        return found if found["refunded_at"] else None

    assert done["refund_fen"] == (await eventually(refunded, timeout_s=30))["total_fen"]
    async with opened(server) as uow:
        audited = await security.list_entries(uow=uow, subject=f"order:{number}")
    assert [e.action for e in audited] == ["order.intercept"]


# --- failure --------------------------------------------------------------------------------


async def test_a_parcel_the_carrier_cannot_stop_is_delivered_and_the_buyer_is_told(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    # The carrier's news of this parcel is held back: it is signed for before we hear of it.
    buyer, email = await buyer_with_email(api)
    number, buyer = await shipped_order(
        server, api, shop, pay_sandbox, carrier_sandbox, buyer, manual_next=True
    )
    nu = (await order(api, number, buyer.auth))["tracking_number"]

    async def signed() -> bool:
        return bool((await sim_parcel(carrier_sandbox, nu))["status"] == "done")

    await eventually(signed)
    # The buyer asks on the page: a bad address is shown again with the error, then a cancel.
    async with server.client(headers=HTML) as client:
        form = {"email": email, "password": PASSWORD, "next": "/"}
        form["csrf_token"] = await csrf(client, "/login")
        assert (await client.post("/login", data=form)).status_code == 303
        path = f"/orders/{number}/interception"
        token = await csrf(client, path)
        bad = {**NEW_ADDRESS, "province": "Atlantis", "kind": "redirect", "reason": "x"}
        refused = await client.post(path, data={**bad, "csrf_token": token})
        assert refused.status_code == 422, refused.text[:300]
        assert 'data-testid="interception-form"' in refused.text
        asked = await client.post(
            path, data={"kind": "cancel", "reason": "too late?", "csrf_token": token}
        )
        assert asked.status_code == 303, asked.text[:300]
        shown = await client.get(asked.headers["location"])
    assert 'data-testid="interception-case" data-status="' in shown.text
    failed = await case_reaches(api, number, buyer, "failed")
    assert failed["carrier_message"]
    assert failed["fee_fen"] > 0 and failed["fee_charged_fen"] == 0

    async def told() -> list[Any]:
        async with opened(server) as uow:
            inbox = await dev_inbox(uow, user_id=buyer.id)
        return [m for m in inbox if "拦截失败" in m.subject]

    assert len(await eventually(told)) == 1
    async with carrier_sandbox.client() as client:
        pushed = await client.post(f"/sandbox/parcels/{nu}/push", json={})
    assert pushed.status_code == 200, pushed.text
    delivered = await support_order_reaches(api, number, buyer, "delivered")
    assert delivered["refunded_at"] is None
    assert "interception_failed" in actions(delivered)
    # The pages say so: nothing is charged, and nothing is offered on a delivered order.
    async with server.client(headers=HTML) as client:
        form = {"email": email, "password": PASSWORD, "next": "/"}
        form["csrf_token"] = await csrf(client, "/login")
        assert (await client.post("/login", data=form)).status_code == 303
        case_page = (await client.get(f"/orders/{number}/interception")).text
        order_page = (await client.get(f"/orders/{number}")).text
    fee = re.search(r'data-testid="interception-fee"[^>]*>([^<]*)<', case_page)
    assert fee is not None and "¥" not in fee.group(1) and "不收取" in fee.group(1), fee
    assert "Redirect or cancel" not in case_page + order_page
    assert 'data-testid="interception-status" data-status="failed"' in order_page


# --- bad input ------------------------------------------------------------------------------


async def test_bad_interception_requests_are_refused_and_change_nothing(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    sku = await new_sku(server, shop.market, shop.market.shop_a, 1500, 5)
    buyer = await new_buyer(api)
    paid = (await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)]))["orders"][0]["number"]
    not_shipped = await ask(api, paid, buyer.auth, kind="cancel", reason="x")
    assert not_shipped.status_code == 409, not_shipped.text
    assert not_shipped.json()["error"]["code"] == "interception_not_allowed"

    number, owner = await shipped_order(server, api, shop, pay_sandbox, carrier_sandbox)
    stranger = await new_buyer(api)
    assert (await ask(api, number, stranger.auth, kind="cancel", reason="x")).status_code == 404
    bad_place = {**NEW_ADDRESS, "province": "Atlantis"}
    for body in (
        {"kind": "redirect", "reason": "x", "address": bad_place},
        {"kind": "redirect", "reason": "x"},
        {"kind": "cancel", "reason": "x", "address": NEW_ADDRESS},
        {"kind": "redirect", "reason": "x", "address": {**NEW_ADDRESS, "line": "x"}},
        {"kind": "teleport", "reason": "x"},
        {"kind": "cancel", "reason": "   "},
    ):
        answer = await ask(api, number, owner.auth, **body)
        assert answer.status_code == 422, (body, answer.text)
    merchant = await ask(api, number, shop.seller, kind="cancel", reason="x")
    assert merchant.status_code == 403, merchant.text

    delivered = await support_order_reaches(api, number, owner, "delivered")
    late = await ask(api, number, owner.auth, kind="cancel", reason="x")
    assert late.status_code == 409, late.text
    listed = await api.get(f"/api/v1/orders/{number}/interceptions", headers=owner.auth)
    assert listed.json() == []
    after = await order(api, number, owner.auth)
    assert (after["status"], after["shipment_reference"]) == (
        "delivered",
        delivered["shipment_reference"],
    )
    assert not any(a.startswith("interception_") for a in actions(after))
