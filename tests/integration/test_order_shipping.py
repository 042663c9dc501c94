"""Orders shipped through the logistics area, over real HTTPS on SQLite and PostgreSQL, with
the carrier simulator booking parcels and pushing signed scans (100 simulated hours a second):
proposals, booking, own tracking numbers, refused bookings, delivery, exception cases with
their resolutions, auto-booking on payment, the live tracking stream, and bad input.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from kuaidan.accounts.domain import Role
from kuaidan.core import outbox, signing
from kuaidan.core.broadcast import build_broadcast
from kuaidan.core.notify import dev_inbox
from kuaidan.core.outbox import OutboxDelivery, OutboxEvent
from kuaidan.logistics import service as logistics
from kuaidan.logistics.adapters.kuaidi100 import md5_sign
from kuaidan.logistics.domain import CarrierStatus, Resolution
from kuaidan.logistics.domain.carriers import PriceTable, ZonePrice
from kuaidan.logistics.domain.defaults import DEFAULT_CARRIERS
from kuaidan.logistics.models import Shipment, TrackingInbox
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually
from tests.integration import ordering_support as support
from tests.integration.ordering_support import (
    Buyer,
    Market,
    new_buyer,
    new_sku,
    opened,
    order,
    paid_checkout,
    reservations,
    staff,
)

market = support.market
stock_stays_consistent = support.stock_stays_consistent

PUSH_PATH = "/api/v1/logistics/callbacks/kuaidi100"


@dataclass
class Shop:
    market: Market
    seller: dict[str, str]
    rival: dict[str, str]


@pytest.fixture(scope="module")
async def shop(server: LiveServer, market: Market) -> Shop:
    async with server.client() as api:
        seller = await staff(server, api, Role.MERCHANT, market.shop_a)
        rival = await staff(server, api, Role.MERCHANT, market.shop_b)
    return Shop(market, seller, rival)


async def work_left(server: LiveServer, since: datetime) -> int:
    """Shipments since ``since`` still on their way (not at an end, not refused a booking),
    pushes not applied yet, and events since then with a handler still to run."""
    ended = ("delivered", "returned", "lost", "cancelled")
    moving = select(func.count()).where(
        Shipment.created_at >= since, Shipment.booking != "failed", Shipment.status.not_in(ended)
    )
    pushes = select(func.count()).where(TrackingInbox.status == "pending")
    handlers_due = select(OutboxDelivery.id).where(
        OutboxDelivery.event_id == OutboxEvent.id, OutboxDelivery.status == outbox.PENDING
    )
    events = select(func.count()).where(
        OutboxEvent.created_at >= since, ~OutboxEvent.fanned_out | handlers_due.exists()
    )
    async with opened(server) as uow:
        return sum([int(await uow.session.scalar(q) or 0) for q in (moving, pushes, events)])


@pytest.fixture(scope="module", autouse=True)
async def parcels_come_to_rest(server: LiveServer) -> AsyncIterator[None]:
    """The parcels shipped here go on moving after their test. When the module is done, wait
    until each has reached its end and every push and event it caused has been handled, so
    that the next module starts on a database that nothing of this one still writes to."""
    async with opened(server) as uow:
        since = uow.now()
    yield

    async def at_rest() -> bool:
        return await work_left(server, since) == 0

    await eventually(at_rest, timeout_s=60)


async def hooks(sandbox: CarrierSandbox, **settings: Any) -> None:
    async with sandbox.client() as client:
        answer = await client.post("/sandbox/hooks", json=settings)
    assert answer.status_code == 200, answer.text


async def paid_order(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop, pay_sandbox: PaySandbox
) -> tuple[str, Buyer, int]:
    sku = await new_sku(server, shop.market, shop.market.shop_a, 2300, 5)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)])
    return placed["orders"][0]["number"], buyer, sku


async def ship(
    api: httpx.AsyncClient, number: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await api.post(f"/api/v1/merchant/orders/{number}/ship", json=body, headers=headers)


async def tracking(api: httpx.AsyncClient, number: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = await api.get(f"/api/v1/orders/{number}/tracking", headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def order_reaches(
    api: httpx.AsyncClient, number: str, buyer: Buyer, **wanted: Any
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await order(api, number, buyer.auth)
        return found if all(found.get(k) == v for k, v in wanted.items()) else None

    result: dict[str, Any] = await eventually(check)
    return result


async def booked(api: httpx.AsyncClient, number: str, buyer: Buyer) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await order(api, number, buyer.auth)
        return found if found["tracking_number"] else None

    result: dict[str, Any] = await eventually(check)
    return result


def actions(found: dict[str, Any]) -> list[str]:
    return [entry["action"] for entry in found["timeline"]]


# --- settings and proposals -----------------------------------------------------------------


async def test_a_shop_sets_its_ship_from_place_and_bad_places_are_refused(
    api: httpx.AsyncClient, shop: Shop
) -> None:
    path = "/api/v1/merchant/shipping-settings"
    saved = await api.put(
        path, json={"province": "上海市", "city": "上海市 Shanghai"}, headers=shop.seller
    )
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"province": "上海", "city": "上海", "auto_book_carrier": False}
    nowhere = await api.put(path, json={"province": "Atlantis", "city": "X"}, headers=shop.seller)
    assert nowhere.status_code == 422
    blind = await api.put(path, json={"auto_book_carrier": True}, headers=shop.seller)
    assert blind.status_code == 422
    assert (await api.get(path, headers=shop.seller)).json()["province"] == "上海"


async def test_the_best_carrier_is_booked_and_the_parcel_delivers_the_order(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop, pay_sandbox: PaySandbox
) -> None:
    number, buyer, _ = await paid_order(server, api, shop, pay_sandbox)
    proposed = await api.get(f"/api/v1/merchant/orders/{number}/carriers", headers=shop.seller)
    assert proposed.status_code == 200, proposed.text
    options = proposed.json()
    assert options[0]["best"] and [o["score"] for o in options] == sorted(
        (o["score"] for o in options), reverse=True
    )
    assert all(o["reasons"] and o["price_fen"] > 0 for o in options)

    shipped = await ship(api, number, shop.seller)
    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["status"] == "shipped" and body["shipment_reference"]
    assert body["carrier"] == options[0]["name"]
    assert await reservations(server, number) == ["consumed"]

    found = await booked(api, number, buyer)
    parcel = (await tracking(api, number, buyer.auth))["shipment"]
    assert parcel["carrier_code"] == options[0]["code"]
    assert parcel["tracking_number"] == found["tracking_number"]
    delivered = await order_reaches(api, number, buyer, status="delivered")
    assert actions(delivered)[:4] == ["placed", "pay", "ship", "shipment_booked"]
    assert actions(delivered)[-1] == "deliver"
    done = await tracking(api, number, buyer.auth)
    assert done["shipment"]["status"] == "delivered" and done["can_rate"]
    assert len(done["shipment"]["scans"]) >= 5

    rated = await api.post(
        f"/api/v1/orders/{number}/delivery-rating", json={"stars": 5}, headers=buyer.auth
    )
    assert rated.status_code == 201 and rated.json()["rating"] == 5
    twice = await api.post(
        f"/api/v1/orders/{number}/delivery-rating", json={"stars": 1}, headers=buyer.auth
    )
    assert twice.status_code == 409


async def test_the_merchant_overrides_the_proposed_carrier(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop, pay_sandbox: PaySandbox
) -> None:
    number, buyer, _ = await paid_order(server, api, shop, pay_sandbox)
    options = (
        await api.get(f"/api/v1/merchant/orders/{number}/carriers", headers=shop.seller)
    ).json()
    chosen = options[-1]
    assert not chosen["best"]
    shipped = await ship(api, number, shop.seller, carrier_code=chosen["code"])
    assert shipped.status_code == 200, shipped.text
    await booked(api, number, buyer)
    parcel = (await tracking(api, number, buyer.auth))["shipment"]
    assert parcel["carrier_code"] == chosen["code"] and parcel["carrier_name"] == chosen["name"]


async def test_a_parcel_the_shop_booked_itself_is_tracked_to_delivery(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop, pay_sandbox: PaySandbox
) -> None:
    number, buyer, _ = await paid_order(server, api, shop, pay_sandbox)
    nu = f"SF{uuid.uuid4().int % 10**12:012d}"
    shipped = await ship(api, number, shop.seller, carrier_code="shunfeng", tracking_number=nu)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["tracking_number"] == nu
    uow = server.uow()
    try:
        salt = logistics.push_salt(uow)
    finally:
        await uow.close()
    now = signing.format_protocol_time(server.container.clock.now())
    data = [{"time": now, "ftime": now, "context": "已签收", "location": "杭州", "statusCode": "3"}]
    param = json.dumps(
        {
            "status": "shutdown",
            "lastResult": {"nu": nu, "com": "shunfeng", "state": "3", "data": data},
        },
        ensure_ascii=False,
    )
    pushed = await api.post(PUSH_PATH, data={"param": param, "sign": md5_sign(param, salt)})
    assert pushed.status_code == 200, pushed.text
    delivered = await order_reaches(api, number, buyer, status="delivered")
    assert delivered["tracking_number"] == nu


async def test_a_refused_booking_lets_the_shop_ship_again(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop, pay_sandbox: PaySandbox, unique: str
) -> None:
    code = f"Refusing{unique}"  # the aggregator serves no such company: it refuses the booking
    template = DEFAULT_CARRIERS[0]
    costly = PriceTable({zone: ZonePrice(50_000, 50_000) for zone in template.prices.zones})
    profile = type(template)(
        code, "拒单快递", template.status, (), template.area, costly, template.agreement
    )
    async with opened(server) as uow:
        await logistics.add_carrier(uow=uow, profile=profile)
    try:
        number, buyer, _ = await paid_order(server, api, shop, pay_sandbox)
        first = await ship(api, number, shop.seller, carrier_code=code)
        assert first.status_code == 200, first.text

        async def refused() -> bool:
            found = await tracking(api, number, buyer.auth)
            return bool(found["shipment"]["booking"] == "failed")

        await eventually(refused)
        await eventually(lambda: _has(api, number, buyer, "booking_failed"))
        found = await order(api, number, buyer.auth)
        assert found["status"] == "shipped" and found["tracking_number"] is None

        again = await ship(api, number, shop.seller)
        assert again.status_code == 200, again.text
        assert again.json()["shipment_reference"] != first.json()["shipment_reference"]
        rebooked = await booked(api, number, buyer)
        assert "rebooked" in actions(rebooked)
        later = await tracking(api, number, buyer.auth)
        assert [e["booking"] for e in later["earlier"]] == ["failed"]
        twice = await ship(api, number, shop.seller)
        assert twice.status_code == 409
    finally:
        async with opened(server) as uow:
            await logistics.set_carrier_status(
                uow=uow, code=code, status=CarrierStatus.SUSPENDED, reason="test carrier"
            )


# --- exceptions and their resolutions ---------------------------------------------------------


async def lost_parcel(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> tuple[str, Buyer, int]:
    """A shipped order whose parcel the carrier loses; returns its number, buyer and case."""
    number, buyer, _ = await paid_order(server, api, shop, pay_sandbox)
    await hooks(carrier_sandbox, next_fate="lost")
    assert (await ship(api, number, shop.seller)).status_code == 200

    async def lost() -> bool:
        found = await tracking(api, number, buyer.auth)
        return bool(found["shipment"]["status"] == "lost")

    await eventually(lost)
    async with opened(server) as uow:
        await logistics.detect_exceptions(uow=uow)
    cases = (await tracking(api, number, buyer.auth))["cases"]
    assert [(c["kind"], c["status"]) for c in cases] == [("lost", "open")]
    return number, buyer, cases[0]["case_id"]


async def resolve(server: LiveServer, case_id: int, resolution: Resolution) -> None:
    async with opened(server) as uow:
        await logistics.resolve_exception(
            uow=uow, case_id=case_id, resolution=resolution, actor="ops", note="客服处理"
        )


async def test_a_lost_parcel_tells_the_buyer_and_a_refund_resolution_refunds_the_order(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer, case_id = await lost_parcel(server, api, shop, pay_sandbox, carrier_sandbox)

    async def told() -> list[Any]:
        async with opened(server) as uow:
            inbox = await dev_inbox(uow, user_id=buyer.id)
        return [m for m in inbox if number in m.body and "丢失" in m.body]

    assert len(await eventually(told)) == 1
    noted = await order_reaches(api, number, buyer, status="shipped")
    await eventually(lambda: _has(api, number, buyer, "shipment_exception"))
    page = await api.get(f"/orders/{number}", headers={**buyer.auth, "accept": "text/html"})
    assert page.status_code == 200
    assert 'data-testid="tracking-case" data-kind="lost" data-status="open"' in page.text
    assert noted["refund_requested"] is False

    await resolve(server, case_id, Resolution.REFUND)
    refunded = await order_reaches(api, number, buyer, refund_requested=True)
    assert "exception_resolved" in actions(refunded)
    finished = await eventually(lambda: _refunded(api, number, buyer))
    assert finished["timeline"][-1]["action"] == "refunded"
    page = await api.get(f"/orders/{number}", headers={**buyer.auth, "accept": "text/html"})
    assert 'data-kind="lost" data-status="resolved"' in page.text and "已退款" in page.text


async def _has(api: httpx.AsyncClient, number: str, buyer: Buyer, action: str) -> bool:
    return action in actions(await order(api, number, buyer.auth))


async def _refunded(api: httpx.AsyncClient, number: str, buyer: Buyer) -> dict[str, Any] | None:
    found = await order(api, number, buyer.auth)
    return found if found["refunded_at"] else None


async def test_a_reship_resolution_sends_a_second_parcel_that_delivers_the_order(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer, case_id = await lost_parcel(server, api, shop, pay_sandbox, carrier_sandbox)
    first = (await order(api, number, buyer.auth))["shipment_reference"]
    await resolve(server, case_id, Resolution.RESHIP)
    delivered = await order_reaches(api, number, buyer, status="delivered")
    assert delivered["shipment_reference"] != first
    assert {"exception_resolved", "reshipped", "deliver"} <= set(actions(delivered))
    found = await tracking(api, number, buyer.auth)
    assert [e["status"] for e in found["earlier"]] == ["lost"]
    assert found["shipment"]["status"] == "delivered"
    assert delivered["refund_requested"] is False


# --- booking on payment ---------------------------------------------------------------------


async def test_a_shop_that_opted_in_has_paid_orders_booked_at_once(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop, pay_sandbox: PaySandbox
) -> None:
    path = "/api/v1/merchant/shipping-settings"
    opted = {"province": "江苏", "city": "南京", "auto_book_carrier": True}
    assert (await api.put(path, json=opted, headers=shop.rival)).status_code == 200
    try:
        sku = await new_sku(server, shop.market, shop.market.shop_b, 1800, 3)
        buyer = await new_buyer(api)
        placed = await support.place(api, buyer, [(sku, 1)])
        await support.pay(pay_sandbox, placed["checkout"]["pay_url"])
        number = placed["orders"][0]["number"]
        found = await booked(api, number, buyer)
        assert found["status"] in ("shipped", "delivered")
        assert actions(found)[:3] == ["placed", "pay", "ship"]
        assert found["timeline"][2]["actor"] == "system"
    finally:
        await api.put(path, json={**opted, "auto_book_carrier": False}, headers=shop.rival)


# --- the live tracking stream -----------------------------------------------------------------


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            yield event, json.loads(line[len("data: ") :])


async def test_the_tracking_stream_sends_each_move_to_the_buyer_only(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer, _ = await paid_order(server, api, shop, pay_sandbox)
    stranger = await new_buyer(api)
    path = f"/api/v1/orders/{number}/tracking/events"
    assert (await api.get(path, headers=stranger.auth)).status_code == 404
    assert (await api.get(path, headers=shop.rival)).status_code == 404
    assert (await api.get(path)).status_code == 401

    await hooks(carrier_sandbox, manual_next=True)
    assert (await ship(api, number, shop.seller)).status_code == 200
    nu = (await booked(api, number, buyer))["tracking_number"]
    seen: list[str | None] = []
    async with server.client() as client, client.stream("GET", path, headers=buyer.auth) as live:
        assert live.status_code == 200
        assert live.headers["content-type"].startswith("text/event-stream")
        async with asyncio.timeout(30):
            async for event, data in sse_events(live):
                assert event == "tracking"
                seen.append(data["shipment_status"])
                if data["shipment_status"] == "created":
                    async with carrier_sandbox.client() as carrier:
                        pushed = await carrier.post(f"/sandbox/parcels/{nu}/push", json={"upto": 1})
                    assert pushed.json() == {"accepted": True}
                if data["shipment_status"] == "picked_up":
                    assert 'data-shipment-status="picked_up"' in data["panel"]
                    break
    assert seen[0] == "created" and seen[-1] == "picked_up"
    await release(carrier_sandbox, nu)


async def release(carrier_sandbox: CarrierSandbox, nu: str) -> None:
    """Push a held parcel's whole journey once the simulator has played it to its end."""
    async with carrier_sandbox.client() as carrier:

        async def finished() -> bool:
            found = (await carrier.get(f"/sandbox/parcels/{nu}")).json()
            return bool(found["status"] == "done")

        await eventually(finished)
        pushed = await carrier.post(f"/sandbox/parcels/{nu}/push", json={})
    assert pushed.json() == {"accepted": True}


# --- bad input --------------------------------------------------------------------------------


async def test_bad_shipping_requests_are_refused_and_change_nothing(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop, pay_sandbox: PaySandbox
) -> None:
    number, buyer, _ = await paid_order(server, api, shop, pay_sandbox)
    refusals: list[tuple[dict[str, str], dict[str, Any], int]] = [
        (shop.seller, {"carrier_code": "no-such-carrier"}, 422),
        (shop.seller, {"tracking_number": "SF0000000001"}, 422),  # whose number?
        (shop.seller, {"carrier_code": "shunfeng", "tracking_number": "no spaces!"}, 422),
        (shop.seller, {"weight_g": 0}, 422),
        (shop.seller, {"carrier": "顺丰"}, 422),  # the old free-text carrier name
        (shop.rival, {}, 404),  # another shop's order
    ]
    for headers, body, expected in refusals:
        answer = await ship(api, number, headers, **body)
        assert answer.status_code == expected, (body, answer.text)
        assert "error" in answer.json()
    unpaid = await support.place(
        api, buyer, [(await new_sku(server, shop.market, shop.market.shop_a, 900, 2), 1)]
    )
    pending = unpaid["orders"][0]["number"]
    assert (await ship(api, pending, shop.seller)).status_code == 409
    found = await order(api, number, buyer.auth)
    assert found["status"] == "paid" and found["shipment_reference"] is None
    assert await reservations(server, number) == ["open"]
    assert (await tracking(api, number, buyer.auth))["shipment"] is None
    assert (await ship(api, number, shop.seller)).status_code == 200
    again = await ship(api, number, shop.seller)
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"


async def test_a_broadcast_reaches_the_subscribers_of_another_node(server: LiveServer) -> None:
    """Two broadcasts stand for two app nodes: on PostgreSQL a notice published by one reaches
    the other's subscriber (LISTEN/NOTIFY); in-process only its own subscribers."""
    url = server.settings.effective_database_url
    here, there = build_broadcast(url), build_broadcast(url)
    channel = f"order:test-{uuid.uuid4().hex[:8]}"
    try:
        async with here.subscribe(channel) as mine, there.subscribe(channel) as theirs:
            await there.publish(channel, "moved")
            assert await theirs.get(timeout_s=5) == "moved"
            received = await mine.get(timeout_s=5 if server.backend == "postgres" else 0.2)
            assert received == ("moved" if server.backend == "postgres" else None)
            await there.publish("order:elsewhere", "not for us")
            assert await mine.get(timeout_s=0.3) is None
    finally:
        await here.aclose()
        await there.aclose()
