"""The order's life over real HTTPS on SQLite and PostgreSQL: paying through the sandbox,
shipping, completion, cancellation with refunds, expiry, and who sees an order.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kuaidan.accounts.domain import Role
from kuaidan.core import signing
from kuaidan.ordering import service as ordering
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PaymentStatus
from tests.conftest import LiveServer, PaySandbox, eventually
from tests.integration import ordering_support as support
from tests.integration.ordering_support import (
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
from tests.integration.test_payments import sandbox_trade

# The shared fixtures, bound into this module.
market = support.market
stock_stays_consistent = support.stock_stays_consistent


# --- paying and the order's life --------------------------------------------------------------


async def test_an_order_is_paid_shipped_delivered_and_completed(server, api, market, pay_sandbox):
    sku_a = await new_sku(server, market, market.shop_a, 2000, 5)
    sku_b = await new_sku(server, market, market.shop_b, 1000, 5)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku_a, 1), (sku_b, 1)])
    number = placed["orders"][0]["number"]
    seller, rival = (
        await staff(server, api, Role.MERCHANT, market.shop_a),
        await staff(server, api, Role.MERCHANT, market.shop_b),
    )
    to_ship = (await api.get("/api/v1/merchant/orders?status=paid", headers=seller)).json()
    assert number in {o["number"] for o in to_ship["items"]}
    ship = {"carrier_code": "shunfeng", "tracking_number": f"SF{uuid.uuid4().int % 10**12:012d}"}
    path = f"/api/v1/merchant/orders/{number}/ship"
    assert (await api.post(path, json=ship, headers=rival)).status_code == 404
    bad = await api.post(path, json={**ship, "tracking_number": "no spaces!"}, headers=seller)
    assert bad.status_code == 422
    shipped = await api.post(path, json=ship, headers=seller)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert await reservations(server, number) == ["consumed"]
    assert await available(server, sku_a) == 4

    late = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "x"}, headers=buyer.auth
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "illegal_transition"
    admin = await staff(server, api, Role.ADMIN)
    delivered = await api.post(f"/api/v1/orders/{number}/deliver", headers=admin)
    assert delivered.status_code == 200 and delivered.json()["status"] == "delivered"
    done = await api.post(f"/api/v1/orders/{number}/confirm-receipt", headers=buyer.auth)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    actions = [e["action"] for e in done.json()["timeline"]]
    assert actions == ["placed", "pay", "ship", "deliver", "confirm_receipt"]
    again = await api.post(f"/api/v1/orders/{number}/confirm-receipt", headers=buyer.auth)
    assert again.status_code == 409


async def _pay_page_token(sandbox: PaySandbox, pay_url: str) -> str:
    """The buyer opens the provider's pay page (the trade exists from then on)."""
    async with sandbox.client() as client:
        page = await client.get(pay_url)
    assert page.status_code == 200, page.text
    found = re.search(r'name="token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def test_a_cancelled_unpaid_order_can_no_longer_be_paid_at_the_provider(
    server, api, market, pay_sandbox
):
    sku = await new_sku(server, market, market.shop_a, 3300, 5)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    reference, number = placed["checkout"]["reference"], placed["orders"][0]["number"]
    token = await _pay_page_token(pay_sandbox, placed["checkout"]["pay_url"])
    cancelled = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "买错了"}, headers=buyer.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    assert not cancelled.json()["refund_requested"]

    async def closed_at_provider() -> bool:
        return bool((await sandbox_trade(pay_sandbox, reference))["trade_status"] == "TRADE_CLOSED")

    await eventually(closed_at_provider)
    async with pay_sandbox.client() as client:
        paid = await client.post("/cashier/pay", data={"token": token})
    assert paid.status_code == 400, paid.text
    async with opened(server) as uow:
        info = await payments.get_payment(uow=uow, reference=reference)
    assert info is not None and info.status is PaymentStatus.CLOSED
    shown = (await api.get(f"/api/v1/checkouts/{reference}", headers=buyer.auth)).json()
    assert shown["checkout"]["pay_url"] is None


async def test_a_checkout_stays_payable_while_one_of_its_orders_is_not_cancelled(
    server, api, market, pay_sandbox
):
    sku_a = await new_sku(server, market, market.shop_a, 1200, 5)
    sku_b = await new_sku(server, market, market.shop_b, 800, 5)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku_a, 1), (sku_b, 1)])
    reference = placed["checkout"]["reference"]
    await _pay_page_token(pay_sandbox, placed["checkout"]["pay_url"])
    first, second = (o["number"] for o in placed["orders"])
    path = f"/api/v1/orders/{first}/cancel"
    assert (await api.post(path, json={"reason": "x"}, headers=buyer.auth)).status_code == 200
    await asyncio.sleep(1.0)  # the worker's passes: a close would have reached the provider
    assert (await sandbox_trade(pay_sandbox, reference))["trade_status"] == "WAIT_BUYER_PAY"
    path = f"/api/v1/orders/{second}/cancel"
    assert (await api.post(path, json={"reason": "x"}, headers=buyer.auth)).status_code == 200

    async def closed_at_provider() -> bool:
        return bool((await sandbox_trade(pay_sandbox, reference))["trade_status"] == "TRADE_CLOSED")

    await eventually(closed_at_provider)


async def test_cancelling_a_paid_order_refunds_it_and_releases_its_stock(
    server, api, market, pay_sandbox
):
    sku = await new_sku(server, market, market.shop_a, 4200, 3)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku, 2)])
    number = placed["orders"][0]["number"]
    assert await available(server, sku) == 1
    cancelled = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "不想要了"}, headers=buyer.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["refund_requested"]
    assert [e["action"] for e in body["timeline"]][-2:] == ["cancel", "refund_requested"]
    assert await available(server, sku) == 3

    async def refunded() -> bool:
        return (await order(api, number, buyer.auth))["refunded_at"] is not None

    await eventually(refunded)
    timeline = (await order(api, number, buyer.auth))["timeline"]
    assert timeline[-1]["action"] == "refunded"
    async with opened(server) as uow:
        info = await payments.get_payment(uow=uow, reference=placed["checkout"]["reference"])
    assert info is not None and info.refunded_fen == 2 * 4200


async def test_a_cancel_racing_a_ship_has_exactly_one_winner(
    server: LiveServer, api, market, pay_sandbox
):
    sku = await new_sku(server, market, market.shop_b, 1500, 3)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)])
    number = placed["orders"][0]["number"]
    seller = await staff(server, api, Role.MERCHANT, market.shop_b)

    async def cancel() -> httpx.Response:
        async with server.client() as client:
            return await client.post(
                f"/api/v1/orders/{number}/cancel", json={"reason": "race"}, headers=buyer.auth
            )

    async def ship() -> httpx.Response:
        async with server.client() as client:
            body = {"carrier_code": "zhongtong", "tracking_number": f"ZT{uuid.uuid4().hex[:12]}"}
            return await client.post(
                f"/api/v1/merchant/orders/{number}/ship", json=body, headers=seller
            )

    answers = await asyncio.gather(cancel(), ship())
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    final = await order(api, number, buyer.auth)
    assert final["status"] in ("cancelled", "shipped")
    assert await available(server, sku) == (3 if final["status"] == "cancelled" else 2)


async def test_unpaid_orders_expire_release_their_stock_and_close_the_payment(server, api, market):
    sku_a = await new_sku(server, market, market.shop_a, 700, 4)
    sku_b = await new_sku(server, market, market.shop_b, 300, 4)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku_a, 4), (sku_b, 1)])
    assert (await available(server, sku_a), await available(server, sku_b)) == (0, 3)
    async with opened(server) as uow:
        early = await ordering.expire_overdue_orders(uow=uow)
        later = uow.now() + timedelta(seconds=server.settings.order_payment_ttl_s + 1)
        expired = await ordering.expire_overdue_orders(uow=uow, now=later)
    assert early == 0 and expired >= 2
    for placed_order in placed["orders"]:
        found = await order(api, placed_order["number"], buyer.auth)
        assert found["status"] == "cancelled" and found["cancel_reason"] == "not paid in time"
        assert found["timeline"][-1]["action"] == "expire"
        assert found["timeline"][-1]["actor"] == "system"
    assert (await available(server, sku_a), await available(server, sku_b)) == (4, 4)
    async with opened(server) as uow:
        info = await payments.get_payment(uow=uow, reference=placed["checkout"]["reference"])
    assert info is not None and info.status == PaymentStatus.CLOSED


async def expire_later(server: LiveServer) -> int:
    """Run the expiry as if the payment window had passed."""
    async with opened(server) as uow:
        later = uow.now() + timedelta(seconds=server.settings.order_payment_ttl_s + 1)
        return await ordering.expire_overdue_orders(uow=uow, now=later)


async def sandbox_hook(sandbox: PaySandbox, path: str, **body: Any) -> None:
    async with sandbox.client() as client:
        answer = await client.post(f"/sandbox/{path}", json=body)
    assert answer.status_code == 200, answer.text


async def test_a_checkout_paid_but_not_yet_notified_is_not_expired(
    server, api, market, pay_sandbox
):
    sku = await new_sku(server, market, market.shop_b, 600, 2)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    number, reference = placed["orders"][0]["number"], placed["checkout"]["reference"]
    async with pay_sandbox.client() as client:
        assert (await client.get(placed["checkout"]["pay_url"])).status_code == 200
    await sandbox_hook(pay_sandbox, "hooks", suppress_next=1)
    await sandbox_hook(pay_sandbox, "pay", out_trade_no=reference)
    await expire_later(server)

    async def is_paid() -> bool:
        return bool((await order(api, number, buyer.auth))["status"] == "paid")

    await eventually(is_paid)
    assert await available(server, sku) == 1


async def test_a_payment_after_expiry_is_refunded(server, api, market, pay_sandbox):
    sku = await new_sku(server, market, market.shop_a, 1234, 2)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    number, reference = placed["orders"][0]["number"], placed["checkout"]["reference"]
    assert await expire_later(server) >= 1
    late = provider_notification(pay_sandbox, reference, "12.34")
    async with server.client() as client:
        answer = await client.post("/api/v1/payments/notify/alipay", data=late)
    assert answer.status_code == 200 and answer.text == "success", answer.text

    async def refund_requested() -> dict[str, Any] | None:
        found = await order(api, number, buyer.auth)
        return found if found["refund_requested"] else None

    found = await eventually(refund_requested)
    assert found["status"] == "cancelled"
    assert found["timeline"][-1]["action"] == "refund_requested"
    assert "paid after the order was cancelled" in found["timeline"][-1]["note"]
    assert await available(server, sku) == 2


def provider_notification(sandbox: PaySandbox, reference: str, yuan: str) -> dict[str, str]:
    """A payment notification signed with the provider's key, as the provider sends it."""
    now = signing.format_protocol_time(datetime.now(UTC))
    params = {
        "notify_id": f"late-{reference}",
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "trade_status": "TRADE_SUCCESS",
        "trade_no": f"T{reference}",
        "out_trade_no": reference,
        "total_amount": yuan,
        "app_id": sandbox.handle.config.app_id,
        "seller_id": sandbox.handle.config.seller_id,
        "charset": "utf-8",
        "version": "1.0",
        "gmt_payment": now,
        "sign_type": "RSA2",
    }
    key = sandbox.handle.config.private_key_file.read_bytes()
    params["sign"] = signing.sign_params(params, key, exclude=signing.NOTIFY_EXCLUDE)
    return params


async def test_auto_complete_finishes_orders_nobody_confirmed(server, api, market, pay_sandbox):
    sku = await new_sku(server, market, market.shop_a, 1100, 2)
    buyer = await new_buyer(api)
    placed = await paid_checkout(api, pay_sandbox, buyer, [(sku, 1)])
    number = placed["orders"][0]["number"]
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    body = {"carrier_code": "yuantong", "tracking_number": f"YT{uuid.uuid4().hex[:12]}"}
    shipped = await api.post(f"/api/v1/merchant/orders/{number}/ship", json=body, headers=seller)
    assert shipped.status_code == 200, shipped.text
    async with opened(server) as uow:
        after = timedelta(days=server.settings.order_auto_complete_days)
        later = uow.now() + after + timedelta(minutes=1)
        await ordering.auto_complete_orders(uow=uow, after=after, now=later)
    found = await order(api, number, buyer.auth)
    assert found["status"] == "completed"
    assert found["timeline"][-1]["action"] == "auto_complete"


# --- who sees what ---------------------------------------------------------------------------


async def test_only_the_buyer_its_merchant_and_staff_see_an_order(server, api, market):
    sku = await new_sku(server, market, market.shop_a, 900, 2)
    buyer, other = await new_buyer(api), await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    number, reference = placed["orders"][0]["number"], placed["checkout"]["reference"]
    seller = await staff(server, api, Role.MERCHANT, market.shop_a)
    rival = await staff(server, api, Role.MERCHANT, market.shop_b)
    agent = await staff(server, api, Role.AGENT)
    for headers in (other.auth, rival):
        answer = await api.get(f"/api/v1/orders/{number}", headers=headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    for headers in (buyer.auth, seller, agent):
        assert (await api.get(f"/api/v1/orders/{number}", headers=headers)).status_code == 200
    stolen = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "mine now"}, headers=other.auth
    )
    assert stolen.status_code == 404
    assert (await api.get(f"/api/v1/checkouts/{reference}", headers=other.auth)).status_code == 404
    probe = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert (await api.get(f"/api/v1/orders/{probe}", headers=buyer.auth)).status_code == 404
    assert (await api.get("/api/v1/orders/KD123", headers=buyer.auth)).status_code == 404
    assert (await api.get(f"/api/v1/orders/{number}")).status_code == 401
