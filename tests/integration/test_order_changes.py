"""Changes before shipping over real HTTPS on SQLite and PostgreSQL: address changes (and
their limit), colour/size swaps and quantities with stock reserved and released atomically,
partial refunds, the merchant's approval after packing (and its automatic approval), agents
acting on the buyer's behalf (audited), bad input leaving the order unchanged, and the
change-vs-ship and last-unit races.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from PIL import Image

from kuaidan.accounts.domain import Role
from kuaidan.inventory import service as inventory
from kuaidan.ordering.changes import service as ordering
from kuaidan.ordering.domain import parse_order_number
from kuaidan.ordering.service._common import order_number_key
from kuaidan.payments import service as payments
from kuaidan.security import service as security
from tests.conftest import LiveServer, PaySandbox, eventually
from tests.factories import AddressFactory, ProductFactory, SkuFactory
from tests.integration import ordering_support as support
from tests.integration.ordering_support import (
    Buyer,
    Market,
    available,
    new_buyer,
    new_sku,
    opened,
    order,
    paid_checkout,
    place,
    reservations,
    staff,
)

market = support.market
stock_stays_consistent = support.stock_stays_consistent

OTHER_ADDRESS = AddressFactory.body(province="上海", city="上海", district="徐汇区")


@dataclass
class Colours:
    black: int
    red: int
    white: int  # dearer


async def colours(
    server: LiveServer, market: Market, stock: tuple[int, int, int] = (5, 5, 5)
) -> Colours:
    """A product in three colours of one shop (black 3000, red 2500, white 3600 fen)."""
    code = uuid.uuid4().hex[:8]
    skus = [
        SkuFactory.build(attributes={"颜色 Colour": name}, price_fen=price, stock=units)
        for (name, price), units in zip(
            [("黑色 Black", 3000), ("红色 Red", 2500), ("白色 White", 3600)], stock, strict=True
        )
    ]
    picture = server.settings.data_dir / "media" / "products" / code / "1.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (20, 60, 200)).save(picture)
    async with opened(server) as uow:
        detail = await ProductFactory.create(
            uow,
            merchant_id=market.shop_a,
            category_slug=market.category,
            images=[f"products/{code}/1.png"],
            skus=skus,
        )
    ids = sorted((s.price_fen, s.id) for s in detail.skus)
    return Colours(black=ids[1][1], red=ids[0][1], white=ids[2][1])


async def second_address(api: httpx.AsyncClient, buyer: Buyer) -> int:
    made = await api.post("/api/v1/me/addresses", json=OTHER_ADDRESS, headers=buyer.auth)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def rid() -> str:
    return uuid.uuid4().hex


async def change_line(
    api: httpx.AsyncClient, number: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    body.setdefault("request_id", rid())
    return await api.post(f"/api/v1/orders/{number}/changes/line", json=body, headers=headers)


async def change_address(
    api: httpx.AsyncClient, number: str, headers: dict[str, str], address_id: int, **extra: Any
) -> httpx.Response:
    body = {"address_id": address_id, "request_id": extra.get("request_id", rid())}
    return await api.post(f"/api/v1/orders/{number}/changes/address", json=body, headers=headers)


async def paid_tee(
    server: LiveServer, api: httpx.AsyncClient, market: Market, pay_sandbox: PaySandbox,
    quantity: int = 1, stock: tuple[int, int, int] = (5, 5, 5),
) -> tuple[str, Buyer, Colours]:  # fmt: skip
    tee = await colours(server, market, stock)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(tee.black, quantity)])
    return placed["orders"][0]["number"], buyer, tee


# --- address ---------------------------------------------------------------------------------


async def test_buyer_changes_the_address_at_most_five_times(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, _tee = await paid_tee(server, api, market, pay_sandbox)
    other = await second_address(api, buyer)
    first = await change_address(api, number, buyer.auth, other)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "applied" and first.json()["kind"] == "address"
    seen = await order(api, number, buyer.auth)
    assert seen["address"]["city"] == "上海" and seen["address"]["district"] == "徐汇区"
    assert seen["timeline"][-1]["action"] == "changed"
    for n in range(4):
        again = await change_address(api, number, buyer.auth, other if n % 2 else buyer.address_id)
        assert again.status_code == 201, again.text
    sixth = await change_address(api, number, buyer.auth, other)
    assert sixth.status_code == 409 and sixth.json()["error"]["code"] == "change_limit_reached"


async def test_a_repeated_request_id_is_the_same_change(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, _tee = await paid_tee(server, api, market, pay_sandbox)
    other = await second_address(api, buyer)
    key = rid()
    first = await change_address(api, number, buyer.auth, other, request_id=key)
    second = await change_address(api, number, buyer.auth, other, request_id=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    listed = await api.get(f"/api/v1/orders/{number}/changes", headers=buyer.auth)
    assert len(listed.json()) == 1


# --- swap and quantity -----------------------------------------------------------------------


async def test_swap_colour_reserves_new_sku_releases_old_and_refunds_the_difference(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    swapped = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.red)
    assert swapped.status_code == 201, swapped.text
    assert swapped.json()["difference_fen"] == -500
    assert await available(server, tee.black) == 5
    assert await available(server, tee.red) == 4
    seen = await order(api, number, buyer.auth)
    assert [line["sku_id"] for line in seen["lines"]] == [tee.red]
    assert seen["total_fen"] == 2500
    request_no = swapped.json()["refund_request_no"]
    async with opened(server) as uow:
        refund = await payments.get_refund(uow=uow, request_no=request_no)
    assert refund is not None and refund.amount_fen == 500


async def test_quantity_change_on_an_unpaid_order_is_refused_while_its_payment_is_open(
    server: LiveServer, api, market
):
    tee = await colours(server, market)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(tee.black, 1)])
    number = placed["orders"][0]["number"]
    more = await change_line(api, number, buyer.auth, sku_id=tee.black, quantity=2)
    assert more.status_code == 409 and more.json()["error"]["code"] == "change_amount_unpaid"
    other = await second_address(api, buyer)
    moved = await change_address(api, number, buyer.auth, other)
    assert moved.status_code == 201, moved.text
    assert await available(server, tee.black) == 4


async def test_out_of_stock_swap_changes_nothing(server: LiveServer, api, market, pay_sandbox):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox, stock=(5, 0, 5))
    refused = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.red)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "out_of_stock"
    seen = await order(api, number, buyer.auth)
    assert [line["sku_id"] for line in seen["lines"]] == [tee.black]
    assert await reservations(server, number) == ["open"]
    assert await available(server, tee.black) == 4
    listed = await api.get(f"/api/v1/orders/{number}/changes", headers=buyer.auth)
    assert listed.json() == []


async def test_bad_input_is_a_clear_error_and_the_order_is_unchanged(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    stranger_sku = await new_sku(server, market, market.shop_a, 3000, 5)
    cases = [
        ({"sku_id": tee.black, "new_sku_id": stranger_sku}, 422, "not_same_product"),
        ({"sku_id": tee.black, "quantity": 0}, 422, None),
        ({"sku_id": tee.black, "quantity": 100}, 422, None),
        ({"sku_id": tee.red, "quantity": 1}, 422, None),
        ({"sku_id": tee.black}, 422, None),
    ]
    for body, code, error in cases:
        answer = await change_line(api, number, buyer.auth, **body)
        assert answer.status_code == code, (body, answer.text)
        if error:
            assert answer.json()["error"]["code"] == error
    intruder = await new_buyer(api)
    hidden = await change_line(api, number, intruder.auth, sku_id=tee.black, quantity=1)
    assert hidden.status_code == 404
    seen = await order(api, number, buyer.auth)
    assert [(x["sku_id"], x["quantity"]) for x in seen["lines"]] == [(tee.black, 1)]
    assert await available(server, tee.black) == 4


async def test_shipped_or_cancelled_orders_cannot_change(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    shipped = await api.post(
        f"/api/v1/merchant/orders/{number}/ship",
        json={"carrier_code": "zhongtong", "tracking_number": f"ZT{uuid.uuid4().hex[:12]}"},
        headers=seller,
    )
    assert shipped.status_code == 200, shipped.text
    refused = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.red)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "change_not_allowed"
    other_number, other_buyer, other_tee = await paid_tee(server, api, market, pay_sandbox)
    cancelled = await api.post(
        f"/api/v1/orders/{other_number}/cancel", json={"reason": "no"}, headers=other_buyer.auth
    )
    assert cancelled.status_code == 200
    again = await change_address(api, other_number, other_buyer.auth, other_buyer.address_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "change_not_allowed"
    assert await available(server, other_tee.black) == 5


# --- agents, packing and approval ------------------------------------------------------------


async def test_agent_changes_on_the_buyers_behalf_and_is_audited(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    agent = await staff(server, api, Role.AGENT)
    done = await change_line(api, number, agent, sku_id=tee.black, quantity=1, new_sku_id=tee.red)
    assert done.status_code == 201, done.text
    assert done.json()["requested_by_role"] == "agent"
    timeline = (await order(api, number, buyer.auth))["timeline"]
    assert "on the buyer's behalf" in timeline[-1]["note"]
    order_id, _day = parse_order_number(number, key=order_number_key(server.container.cipher))
    async with opened(server) as uow:
        entries = await security.list_entries(uow=uow, subject=f"order:{order_id}")
    assert [e.action for e in entries] == ["ordering.change_requested"]
    assert entries[0].details["on_behalf_of"] == buyer.id
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    denied = await change_line(api, number, seller, sku_id=tee.red, quantity=1)
    assert denied.status_code == 404


async def test_after_packing_a_change_waits_for_the_merchant(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    packing = await api.post(f"/api/v1/merchant/orders/{number}/packing", headers=seller)
    assert packing.status_code == 204, packing.text
    asked = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.red)
    assert asked.status_code == 201 and asked.json()["status"] == "pending_approval"
    assert await available(server, tee.red) == 5  # nothing reserved before the approval
    second = await change_address(api, number, buyer.auth, buyer.address_id)
    assert second.status_code == 409  # one open change at a time
    change_id = asked.json()["id"]
    path = f"/api/v1/merchant/orders/{number}/changes/{change_id}/decision"
    approved = await api.post(path, json={"approve": True}, headers=seller)
    assert approved.status_code == 200 and approved.json()["status"] == "applied"
    assert await available(server, tee.red) == 4 and await available(server, tee.black) == 5
    twice = await api.post(path, json={"approve": False}, headers=seller)
    assert twice.status_code == 409


async def test_merchant_rejects_and_unanswered_changes_are_auto_approved(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    await api.post(f"/api/v1/merchant/orders/{number}/packing", headers=seller)
    asked = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.red)
    path = f"/api/v1/merchant/orders/{number}/changes/{asked.json()['id']}/decision"
    rejected = await api.post(path, json={"approve": False, "reason": "已打包"}, headers=seller)
    assert rejected.json()["status"] == "rejected" and rejected.json()["reason"] == "已打包"
    other = await second_address(api, buyer)
    waiting = await change_address(api, number, buyer.auth, other)
    assert waiting.json()["status"] == "pending_approval"
    async with opened(server) as uow:
        assert await ordering.auto_approve_changes(uow=uow, wait=timedelta(hours=12)) == 0
    async with opened(server) as uow:
        assert await ordering.auto_approve_changes(uow=uow, wait=timedelta(0)) >= 1
    seen = await order(api, number, buyer.auth)
    assert seen["address"]["city"] == "上海"
    assert [line["sku_id"] for line in seen["lines"]] == [tee.black]


# --- extra payment of a dearer change ----------------------------------------------------------


async def dearer_swap(
    server: LiveServer, api: httpx.AsyncClient, market: Market, pay_sandbox: PaySandbox
) -> tuple[str, Buyer, Colours, dict[str, Any]]:
    """A paid black tee swapped for the dearer white one: the change awaits 600 fen."""
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    asked = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.white)
    assert asked.status_code == 201, asked.text
    change = asked.json()
    assert change["status"] == "awaiting_payment" and change["difference_fen"] == 600
    assert change["pay_url"] and change["payment_reference"]
    # The white unit is held for the buyer; the black one stays the order's until it is paid.
    assert await available(server, tee.white) == 4 and await available(server, tee.black) == 4
    seen = await order(api, number, buyer.auth)
    assert [line["sku_id"] for line in seen["lines"]] == [tee.black]
    assert seen["timeline"][-1]["action"] == "change_awaiting_payment"
    return number, buyer, tee, change


async def test_a_dearer_change_is_applied_when_its_extra_payment_succeeds(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee, change = await dearer_swap(server, api, market, pay_sandbox)
    other = await second_address(api, buyer)
    meanwhile = await change_address(api, number, buyer.auth, other)
    assert meanwhile.status_code == 409  # one open change at a time
    async with opened(server) as uow:
        extra = await payments.get_payment(uow=uow, reference=change["payment_reference"])
    assert extra is not None and extra.amount_fen == 600
    await support.pay(pay_sandbox, change["pay_url"])

    async def applied() -> dict[str, Any] | None:
        seen = await order(api, number, buyer.auth)
        return seen if seen["lines"][0]["sku_id"] == tee.white else None

    seen = await eventually(applied)
    assert seen["total_fen"] == 3600 and seen["timeline"][-1]["action"] == "changed"
    listed = (await api.get(f"/api/v1/orders/{number}/changes", headers=buyer.auth)).json()
    assert listed[0]["status"] == "applied" and listed[0]["pay_url"] is None
    assert await available(server, tee.white) == 4 and await available(server, tee.black) == 5
    assert await reservations(server, number) == ["released", "open"]
    async with opened(server) as uow:  # the same news again changes nothing
        assert await ordering.record_change_payment(uow=uow, reference=extra.reference)
    assert await available(server, tee.white) == 4


async def test_an_unpaid_dearer_change_fails_and_releases_its_stock(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee, change = await dearer_swap(server, api, market, pay_sandbox)
    async with opened(server) as uow:
        assert await ordering.expire_change_payments(uow=uow, ttl=timedelta(hours=1)) == 0
    assert await available(server, tee.white) == 4
    async with opened(server) as uow:
        assert await ordering.expire_change_payments(uow=uow, ttl=timedelta(0)) == 1
    listed = (await api.get(f"/api/v1/orders/{number}/changes", headers=buyer.auth)).json()
    assert listed[0]["status"] == "failed" and "in time" in listed[0]["reason"]
    assert await available(server, tee.white) == 5 and await available(server, tee.black) == 4
    seen = await order(api, number, buyer.auth)
    assert [line["sku_id"] for line in seen["lines"]] == [tee.black] and seen["total_fen"] == 3000
    assert seen["timeline"][-1]["action"] == "change_failed"

    async def closed() -> bool:
        async with opened(server) as uow:
            found = await payments.get_payment(uow=uow, reference=change["payment_reference"])
        return found is not None and found.status.value == "closed"

    await eventually(closed)
    # The order may change again.
    cheaper = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.red)
    assert cheaper.status_code == 201 and cheaper.json()["status"] == "applied"


async def test_an_extra_payment_for_a_shipped_order_is_refunded(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee, change = await dearer_swap(server, api, market, pay_sandbox)
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    shipped = await api.post(
        f"/api/v1/merchant/orders/{number}/ship",
        json={"carrier_code": "zhongtong", "tracking_number": f"ZT{uuid.uuid4().hex[:12]}"},
        headers=seller,
    )
    assert shipped.status_code == 200, shipped.text
    await support.pay(pay_sandbox, change["pay_url"])

    async def failed() -> dict[str, Any] | None:
        listed = (await api.get(f"/api/v1/orders/{number}/changes", headers=buyer.auth)).json()
        return listed[0] if listed[0]["status"] == "failed" else None

    settled = await eventually(failed)
    assert settled["refund_request_no"]
    async with opened(server) as uow:
        refund = await payments.get_refund(uow=uow, request_no=settled["refund_request_no"])
    assert refund is not None and refund.amount_fen == 600
    assert await available(server, tee.white) == 5
    seen = await order(api, number, buyer.auth)
    assert [line["sku_id"] for line in seen["lines"]] == [tee.black]


async def test_an_approved_dearer_change_then_awaits_its_payment(
    server: LiveServer, api, market, pay_sandbox
):
    number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    await api.post(f"/api/v1/merchant/orders/{number}/packing", headers=seller)
    asked = await change_line(api, number, buyer.auth, sku_id=tee.black, new_sku_id=tee.white)
    assert asked.json()["status"] == "pending_approval" and asked.json()["pay_url"] is None
    assert await available(server, tee.white) == 5
    path = f"/api/v1/merchant/orders/{number}/changes/{asked.json()['id']}/decision"
    approved = await api.post(path, json={"approve": True}, headers=seller)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "awaiting_payment"
    assert await available(server, tee.white) == 4
    await support.pay(pay_sandbox, str(approved.json()["pay_url"]))

    async def applied() -> bool:
        seen = await order(api, number, buyer.auth)
        return bool(seen["lines"][0]["sku_id"] == tee.white)

    await eventually(applied)
    assert await available(server, tee.white) == 4 and await available(server, tee.black) == 5


# --- races (the same tests run on PostgreSQL with real row locks) ----------------------------


async def test_a_change_racing_the_ship_has_exactly_one_outcome(
    server: LiveServer, api, market, pay_sandbox
):
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    outcomes: set[str] = set()
    for _round in range(6):
        number, buyer, tee = await paid_tee(server, api, market, pay_sandbox)

        async def swap(n: str = number, b: Buyer = buyer, t: Colours = tee) -> httpx.Response:
            async with server.client() as client:
                return await change_line(client, n, b.auth, sku_id=t.black, new_sku_id=t.red)

        async def ship(n: str = number) -> httpx.Response:
            async with server.client() as client:
                body = {"carrier_code": "zhongtong", "tracking_number": f"ZT{rid()[:12]}"}
                return await client.post(
                    f"/api/v1/merchant/orders/{n}/ship", json=body, headers=seller
                )

        changed, shipped = await asyncio.gather(swap(), ship())
        assert shipped.status_code == 200, shipped.text
        final = await order(api, number, buyer.auth)
        assert final["status"] == "shipped"
        held = await reservations(server, number)
        assert "open" not in held and held[-1] == "consumed"
        if changed.status_code == 201:  # the ship saw the changed order
            outcomes.add("changed first")
            assert [x["sku_id"] for x in final["lines"]] == [tee.red]
            assert await available(server, tee.black) == 5
        else:
            outcomes.add("shipped first")
            assert changed.status_code == 409, changed.text
            assert [x["sku_id"] for x in final["lines"]] == [tee.black]
            assert await available(server, tee.red) == 5
        async with opened(server) as uow:
            assert await inventory.audit(uow=uow, sku_ids=[tee.black, tee.red]) == []
    assert outcomes


async def test_a_swap_racing_another_buyer_for_the_last_unit(
    server: LiveServer, api, market, pay_sandbox
):
    for _round in range(4):
        number, buyer, tee = await paid_tee(server, api, market, pay_sandbox, stock=(5, 1, 5))
        rival = await new_buyer(api)

        async def swap(n: str = number, b: Buyer = buyer, t: Colours = tee) -> httpx.Response:
            async with server.client() as client:
                return await change_line(client, n, b.auth, sku_id=t.black, new_sku_id=t.red)

        async def buy(r: Buyer = rival, t: Colours = tee) -> httpx.Response:
            async with server.client() as client:
                body = {"items": [{"sku_id": t.red, "quantity": 1}], "address_id": r.address_id}
                headers = {**r.auth, "Idempotency-Key": rid()}
                return await client.post("/api/v1/checkouts", json=body, headers=headers)

        changed, bought = await asyncio.gather(swap(), buy())
        codes = sorted([changed.status_code, bought.status_code])
        assert codes == [201, 409], (changed.text, bought.text)
        assert await available(server, tee.red) == 0
        expected_black = 4 if changed.status_code == 409 else 5
        assert await available(server, tee.black) == expected_black
