"""After-sales on delivered orders, over real HTTPS on SQLite and PostgreSQL, with the carrier
simulator carrying the parcels and the pay sandbox making the refunds: a no-reason return
refunded less the pickup, a return for a fault with the buyer's own parcel and the postage
made good, an exchange reserving and shipping the replacement, a refund for missing items, a
rejection disputed and ruled on, the timers that escalate and close, a trusted buyer refunded
when the goods are handed in, and bad requests that change nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kuaidan.catalog import service as catalog
from kuaidan.inventory import service as inventory
from kuaidan.logistics import service as logistics
from kuaidan.merchants.domain import SIGNATURE_HEADER, verify_webhook_signature
from kuaidan.ordering import repository as ordering_repository
from kuaidan.ordering.aftersales import service as aftersales
from kuaidan.ordering.domain import parse_order_number
from kuaidan.ordering.service._common import order_number_key
from kuaidan.payments import service as payments
from kuaidan.security import service as security
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually
from tests.integration import ordering_support as support
from tests.integration.ordering_support import (
    Buyer,
    new_buyer,
    new_sku,
    opened,
    order,
    paid_checkout,
)
from tests.integration.test_auto_complete_interception import sim_reaches
from tests.integration.test_order_changes import colours
from tests.integration.test_order_interception import Shop, hooks, shipped_order
from tests.integration.test_order_interception import shop as shop
from tests.integration.test_webhooks import Receiver

market = support.market
stock_stays_consistent = support.stock_stays_consistent

RETURN_ADDRESS = {
    "recipient": "测试店 售后",
    "phone": "0571-88880000",
    "province": "浙江",
    "city": "杭州",
    "line": "余杭区文一西路 969 号 退货仓",
}


@pytest.fixture(scope="module", autouse=True)
async def return_address(server: LiveServer, shop: Shop) -> None:
    async with server.client() as api:
        answer = await api.put(
            "/api/v1/merchant/return-address", json=RETURN_ADDRESS, headers=shop.seller
        )
    assert answer.status_code == 200, answer.text


async def delivered_order(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier: CarrierSandbox,
    items: list[tuple[int, int]] | None = None,
    buyer: Buyer | None = None,
) -> tuple[str, Buyer]:
    """A paid order of ``items`` (sku, quantity; a fresh 23-yuan SKU by default), shipped with
    the best carrier and delivered (the carrier pushes the whole journey)."""
    if items is None:
        items = [(await new_sku(server, shop.market, shop.market.shop_a, 2300, 5), 1)]
    buyer = buyer or await new_buyer(api)
    number = (await paid_checkout(api, pay_sandbox, buyer, items))["orders"][0]["number"]
    await hooks(carrier, manual_next=True)
    shipped = await api.post(f"/api/v1/merchant/orders/{number}/ship", json={}, headers=shop.seller)
    assert shipped.status_code == 200, shipped.text

    async def booked() -> str | None:
        tracking: str | None = (await order(api, number, buyer.auth))["tracking_number"]
        return tracking

    await deliver(carrier, await eventually(booked))

    async def delivered() -> bool:
        return bool((await order(api, number, buyer.auth))["status"] == "delivered")

    await eventually(delivered, timeout_s=30)
    return number, buyer


async def deliver(carrier: CarrierSandbox, nu: str) -> None:
    """Once the simulator's parcel has made its whole journey, push all its scans now."""
    await sim_reaches(carrier, nu, done=True)
    async with carrier.client() as client:
        pushed = await client.post(f"/sandbox/parcels/{nu}/push", json={})
    assert pushed.json() == {"accepted": True}


def case_url(number: str, case_id: int | None = None) -> str:
    base = f"/api/v1/orders/{number}/after-sales"
    return base if case_id is None else f"{base}/{case_id}"


async def ask(
    api: httpx.AsyncClient, number: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    body.setdefault("request_id", uuid.uuid4().hex)
    body.setdefault("reason", "不想要了 changed my mind")
    return await api.post(case_url(number), json=body, headers=headers)


async def first_line(api: httpx.AsyncClient, number: str, buyer: Buyer) -> dict[str, Any]:
    line: dict[str, Any] = (await order(api, number, buyer.auth))["lines"][0]
    return line


async def case_reaches(
    api: httpx.AsyncClient, number: str, case_id: int, headers: dict[str, str], status: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        answer = await api.get(case_url(number, case_id), headers=headers)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found if found["status"] == status else None

    found: dict[str, Any] = await eventually(check, timeout_s=30)
    return found


async def act(
    api: httpx.AsyncClient,
    number: str,
    case_id: int,
    what: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    answer = await api.post(f"{case_url(number, case_id)}/{what}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def refund_of(server: LiveServer, case_id: int) -> int | None:
    async with opened(server) as uow:
        refund = await payments.get_refund(
            uow=uow, request_no=aftersales.refund_request_no(case_id)
        )
    return None if refund is None else refund.amount_fen


async def test_a_no_reason_return_is_picked_up_and_refunded_less_the_pickup(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
    line = await first_line(api, number, buyer)
    asked = await ask(
        api, number, buyer.auth, kind="return", items=[{"sku_id": line["sku_id"], "quantity": 1}]
    )
    assert asked.status_code == 201, asked.text
    case = asked.json()
    assert case["status"] == "requested" and case["value_fen"] == line["unit_price_fen"]
    assert case["answer_by"] is not None and case["return_bearer"] == "buyer"
    assert [s["step"] for s in case["steps"]] == ["request"]

    approved = await act(api, number, case["case_id"], "decision", shop.seller, {"approve": True})
    assert approved["status"] == "awaiting_return"
    assert "余杭区文一西路" in approved["return_to"]

    await hooks(carrier_sandbox, manual_next=True)
    sent = await act(api, number, case["case_id"], "send-back", buyer.auth, {})
    assert sent["status"] == "returning" and sent["return_shipment"]
    booked = await case_reaches(api, number, case["case_id"], buyer.auth, "returning")

    nu = await eventually(lambda: tracking_of(api, number, case["case_id"], buyer), timeout_s=30)
    await deliver(carrier_sandbox, nu)
    done = await case_reaches(api, number, case["case_id"], buyer.auth, "refunded")
    shipping = booked["return_shipping_fen"]
    assert shipping and shipping > 0
    assert done["refund_fen"] == line["unit_price_fen"] - shipping
    assert await refund_of(server, case["case_id"]) == done["refund_fen"]
    assert done["refunded_at"] is not None
    steps = [s["step"] for s in done["steps"]]
    assert steps == ["request", "approve", "send_back", "receive", "refund_done"]
    timeline = [e["action"] for e in (await order(api, number, buyer.auth))["timeline"]]
    assert "after_sales_refunded" in timeline and "refund_requested" in timeline
    # The order itself stays delivered: after-sales is beside it.
    assert (await order(api, number, buyer.auth))["status"] == "delivered"


async def test_a_fault_is_returned_in_the_buyers_own_parcel_and_the_postage_made_good(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    # Two bought, one faulty: the refund (goods and postage) stays within what was paid.
    items = [(await new_sku(server, shop.market, shop.market.shop_a, 2300, 5), 2)]
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox, items)
    line = await first_line(api, number, buyer)
    asked = await ask(
        api, number, buyer.auth, kind="quality", reason="屏幕有划痕 the screen is scratched",
        items=[{"sku_id": line["sku_id"], "quantity": 1}],
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    case_id = asked.json()["case_id"]
    assert asked.json()["return_bearer"] == "merchant"
    await act(api, number, case_id, "decision", shop.seller, {"approve": True})
    own = {"carrier_code": "shunfeng", "tracking_number": f"SF{uuid.uuid4().int % 10**12:012d}"}
    sent = await act(api, number, case_id, "send-back", buyer.auth, own)
    assert sent["return_tracking"] == own["tracking_number"]
    # The buyer may not confirm the shop's receipt.
    refused = await api.post(f"{case_url(number, case_id)}/received", headers=buyer.auth)
    assert refused.status_code == 403
    received = await act(api, number, case_id, "received", shop.seller)
    assert received["status"] in ("refunding", "refunded")
    done = await case_reaches(api, number, case_id, buyer.auth, "refunded")
    assert done["refund_fen"] == line["unit_price_fen"] + sent["return_shipping_fen"]


async def test_an_exchange_reserves_the_new_size_and_ships_it_once_the_old_is_back(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    stock_stays_consistent: None,
) -> None:
    tee = await colours(server, shop.market, stock=(5, 1, 5))
    items = [(tee.black, 1)]
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox, items)
    line = await first_line(api, number, buyer)
    other = tee.red  # cheaper: allowed, one left
    dearer = await ask(
        api, number, buyer.auth, kind="exchange", exchange_sku_id=tee.white,
        items=[{"sku_id": line["sku_id"], "quantity": 1}],
    )  # fmt: skip
    assert dearer.status_code == 409, dearer.text
    unrelated = await new_sku(server, shop.market, shop.market.shop_a, 100, 5)
    wrong = await ask(
        api, number, buyer.auth, kind="exchange", exchange_sku_id=unrelated,
        items=[{"sku_id": line["sku_id"], "quantity": 1}],
    )  # fmt: skip
    assert wrong.status_code == 422, wrong.text
    asked = await ask(
        api, number, buyer.auth, kind="exchange", exchange_sku_id=other,
        items=[{"sku_id": line["sku_id"], "quantity": 1}],
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    case_id = asked.json()["case_id"]
    assert await support.available(server, other) == 0  # the buyer's, while it travels
    # A second exchange for the same (now reserved) size finds none: out of stock.
    another, rival = await delivered_order(
        server, api, shop, pay_sandbox, carrier_sandbox, [(tee.black, 1)]
    )
    rival_line = await first_line(api, another, rival)
    out = await ask(
        api, another, rival.auth, kind="exchange", exchange_sku_id=other,
        items=[{"sku_id": rival_line["sku_id"], "quantity": 1}],
    )  # fmt: skip
    assert out.status_code == 409 and out.json()["error"]["code"] == "out_of_stock", out.text
    assert (await api.get(case_url(another), headers=rival.auth)).json() == []

    await act(api, number, case_id, "decision", shop.seller, {"approve": True})
    await hooks(carrier_sandbox, manual_next=True)
    sent = await act(api, number, case_id, "send-back", buyer.auth, {})
    nu = await eventually(lambda: tracking_of(api, number, case_id, buyer), timeout_s=30)
    await hooks(carrier_sandbox, manual_next=True)  # the replacement, booked on receipt
    await deliver(carrier_sandbox, nu)
    shipping = await case_reaches(api, number, case_id, buyer.auth, "exchange_shipping")
    assert shipping["replacement_shipment"] and shipping["refund_fen"] is None
    assert sent["return_shipment"] != shipping["replacement_shipment"]
    async with opened(server) as uow:
        held = await inventory.reservations_of(uow=uow, holder=aftersales.exchange_holder(case_id))
    assert held and all(r.status != "active" for r in held)
    done = await replacement_delivered(server, api, carrier_sandbox, number, shipping, buyer)
    assert done["steps"][-1]["step"] == "replacement_delivered"


async def tracking_of(
    api: httpx.AsyncClient, number: str, case_id: int, buyer: Buyer
) -> str | None:
    found = await api.get(case_url(number, case_id), headers=buyer.auth)
    value: str | None = found.json()["return_tracking"]
    return value


async def replacement_delivered(
    server: LiveServer,
    api: httpx.AsyncClient,
    carrier: CarrierSandbox,
    number: str,
    case: dict[str, Any],
    buyer: Buyer,
) -> dict[str, Any]:
    async def booked() -> str | None:
        async with opened(server) as uow:
            found = await logistics.get_shipment(
                uow=uow, reference=case["replacement_shipment"], with_scans=False
            )
        return found.tracking_number

    await deliver(carrier, await eventually(booked, timeout_s=30))
    return await case_reaches(api, number, case["case_id"], buyer.auth, "exchanged")


async def later(server: LiveServer, **delta: float) -> int:
    """One run of the after-sales timers as if ``delta`` had passed."""
    async with opened(server) as uow:
        done: int = await aftersales.run_timers(uow=uow, now=uow.now() + timedelta(**delta))
    return done


async def test_missing_items_are_refunded_once_the_shop_agrees(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    items = [(await new_sku(server, shop.market, shop.market.shop_a, 1500, 9), 3)]
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox, items)
    line = await first_line(api, number, buyer)
    asked = await ask(
        api, number, buyer.auth, kind="missing", reason="少了一件 one was missing",
        items=[{"sku_id": line["sku_id"], "quantity": 1}],
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    case_id = asked.json()["case_id"]
    # A reject needs its reason.
    bare = await api.post(
        f"{case_url(number, case_id)}/decision", json={"approve": False}, headers=shop.seller
    )
    assert bare.status_code == 422, bare.text
    approved = await act(api, number, case_id, "decision", shop.seller, {"approve": True})
    assert approved["status"] in ("refunding", "refunded") and approved["return_to"] is None
    done = await case_reaches(api, number, case_id, buyer.auth, "refunded")
    assert done["refund_fen"] == 1500 == await refund_of(server, case_id)
    # The two others can still be claimed, but not a fourth unit.
    more = await ask(
        api, number, buyer.auth, kind="missing", items=[{"sku_id": line["sku_id"], "quantity": 3}]
    )
    assert more.status_code == 409, more.text


async def test_a_rejection_is_disputed_and_the_platform_rules_for_the_buyer(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
    line = await first_line(api, number, buyer)
    claim = [{"sku_id": line["sku_id"], "quantity": 1}]
    case_id = (await ask(api, number, buyer.auth, kind="quality", items=claim)).json()["case_id"]
    rejected = await act(
        api, number, case_id, "decision", shop.seller, {"approve": False, "reason": "人为损坏"}
    )
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "人为损坏"
    # Only the platform decides now; the shop cannot change its mind on a disputed case.
    disputed = await act(
        api, number, case_id, "dispute", buyer.auth, {"reason": "到货即损坏，有开箱视频"}
    )
    assert disputed["status"] == "disputed"
    again = await api.post(
        f"{case_url(number, case_id)}/decision", json={"approve": True}, headers=shop.seller
    )
    assert again.status_code == 409, again.text
    queue = (await api.get("/api/v1/after-sales", headers=shop.agent)).json()
    assert case_id in [c["case_id"] for c in queue]
    ruled = await act(
        api, number, case_id, "decision", shop.agent, {"approve": True, "reason": "视频可信"}
    )
    assert ruled["status"] == "awaiting_return" and ruled["return_to"]
    assert [s["step"] for s in ruled["steps"]] == ["request", "reject", "dispute", "rule_for_buyer"]
    async with opened(server) as uow:
        entries = await security.list_entries(
            uow=uow, action_prefix="ordering.after_sales_rule_for_buyer"
        )
    assert any(e.details.get("case_id") == case_id for e in entries)


async def test_timers_escalate_silence_and_close_what_nobody_pursued(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    stock_stays_consistent: None,
) -> None:
    tee = await colours(server, shop.market)
    number, buyer = await delivered_order(
        server, api, shop, pay_sandbox, carrier_sandbox, [(tee.black, 2)]
    )
    silent = (
        await ask(
            api, number, buyer.auth, kind="return", items=[{"sku_id": tee.black, "quantity": 1}]
        )
    ).json()
    exchange = (await ask(
        api, number, buyer.auth, kind="exchange", exchange_sku_id=tee.red,
        items=[{"sku_id": tee.black, "quantity": 1}],
    )).json()  # fmt: skip
    before = await support.available(server, tee.red)
    assert await later(server, hours=47) == 0
    assert await later(server, hours=49) >= 2
    escalated = await case_reaches(api, number, silent["case_id"], buyer.auth, "escalated")
    assert escalated["steps"][-1]["actor"] == "system"
    await case_reaches(api, number, exchange["case_id"], buyer.auth, "escalated")
    ruled = await act(
        api, number, silent["case_id"], "decision", shop.agent,
        {"approve": False, "reason": "超出无理由范围"},
    )  # fmt: skip
    assert ruled["status"] == "closed"
    await act(api, number, exchange["case_id"], "decision", shop.agent, {"approve": True})
    # Approved but never sent back: closed after the send-back window, its stock freed.
    await later(server, days=8)
    await case_reaches(api, number, exchange["case_id"], buyer.auth, "closed")
    assert await support.available(server, tee.red) == before + 1


async def test_a_trusted_buyer_is_refunded_when_the_goods_are_handed_in(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    buyer = await new_buyer(api)
    for _ in range(3):
        done, _ = await delivered_order(
            server, api, shop, pay_sandbox, carrier_sandbox, buyer=buyer
        )
        confirmed = await api.post(f"/api/v1/orders/{done}/confirm-receipt", headers=buyer.auth)
        assert confirmed.status_code == 200, confirmed.text
    number, _ = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox, buyer=buyer)
    line = await first_line(api, number, buyer)
    asked = await ask(
        api, number, buyer.auth, kind="return", items=[{"sku_id": line["sku_id"], "quantity": 1}]
    )
    assert asked.json()["trusted"] is True
    case_id = asked.json()["case_id"]
    await act(api, number, case_id, "decision", shop.seller, {"approve": True})
    await hooks(carrier_sandbox, manual_next=True)
    sent = await act(api, number, case_id, "send-back", buyer.auth, {})
    assert sent["status"] == "returning" and sent["refund_fen"] is not None

    async def refunded_early() -> dict[str, Any] | None:
        found: dict[str, Any] = (
            await api.get(case_url(number, case_id), headers=buyer.auth)
        ).json()
        return found if found["refunded_at"] else None

    early = await eventually(refunded_early, timeout_s=30)
    assert early["status"] == "returning"  # the money is back before the goods
    nu = await eventually(lambda: tracking_of(api, number, case_id, buyer), timeout_s=30)
    await deliver(carrier_sandbox, nu)
    await case_reaches(api, number, case_id, buyer.auth, "refunded")


async def test_bad_requests_are_refused_and_change_nothing(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
    line = await first_line(api, number, buyer)
    claim = [{"sku_id": line["sku_id"], "quantity": 1}]
    # Not delivered yet: the before-shipping and interception paths apply, not after-sales.
    shipped, other = await shipped_order(
        server, api, shop, pay_sandbox, carrier_sandbox, manual_next=True
    )
    early = await ask(
        api, shipped, other.auth, kind="return",
        items=[{"sku_id": (await first_line(api, shipped, other))["sku_id"], "quantity": 1}],
    )  # fmt: skip
    assert early.status_code == 409 and early.json()["error"]["code"] == "after_sales_not_allowed"
    cases: list[tuple[dict[str, Any], int]] = [
        ({"kind": "return", "items": [{"sku_id": 999_999, "quantity": 1}]}, 422),
        ({"kind": "return", "items": [{"sku_id": line["sku_id"], "quantity": 2}]}, 409),
        ({"kind": "return", "items": claim * 2}, 422),
        ({"kind": "return", "items": []}, 422),
        ({"kind": "return", "items": claim, "exchange_sku_id": line["sku_id"]}, 422),
        ({"kind": "exchange", "items": claim, "exchange_sku_id": line["sku_id"]}, 422),
        ({"kind": "exchange", "items": claim}, 422),
        ({"kind": "refund", "items": claim}, 422),
        ({"kind": "return", "items": claim, "reason": " "}, 422),
    ]
    for body, code in cases:
        answer = await ask(api, number, buyer.auth, **body)
        assert answer.status_code == code, (body, answer.text)
    # Others' orders are invisible; a shop does not ask on the buyer's behalf.
    stranger = await new_buyer(api)
    assert (await ask(api, number, stranger.auth, kind="return", items=claim)).status_code == 404
    assert (await ask(api, number, shop.seller, kind="return", items=claim)).status_code == 403
    assert (await api.get(case_url(number), headers=buyer.auth)).json() == []

    # A double submission is one case.
    first = await ask(api, number, buyer.auth, kind="return", items=claim, request_id="same")
    second = await ask(api, number, buyer.auth, kind="return", items=claim, request_id="same")
    assert first.status_code == second.status_code == 201
    assert first.json()["case_id"] == second.json()["case_id"]
    assert len((await api.get(case_url(number), headers=buyer.auth)).json()) == 1
    case_id = first.json()["case_id"]
    # Steps out of turn.
    out_of_turn: list[tuple[str, dict[str, str], dict[str, Any] | None]] = [
        ("send-back", buyer.auth, {}),  # not approved yet
        ("dispute", buyer.auth, {"reason": "为什么"}),  # not rejected
        ("received", shop.seller, None),
    ]
    for what, headers, payload in out_of_turn:
        answer = await api.post(
            f"{case_url(number, case_id)}/{what}", json=payload, headers=headers
        )
        assert answer.status_code == 409, (what, answer.text)
    withdrawn = await act(api, number, case_id, "withdraw", buyer.auth)
    assert withdrawn["status"] == "closed"
    twice = await api.post(f"{case_url(number, case_id)}/withdraw", headers=buyer.auth)
    assert twice.status_code == 409


async def test_windows_and_excluded_categories(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
    line = await first_line(api, number, buyer)
    claim = [{"sku_id": line["sku_id"], "quantity": 1}]
    async with opened(server) as uow:
        order_id = parse_order_number(number, key=order_number_key(uow.cipher))[0]
        async with uow.atomic():
            await ordering_repository.set_order_fields(
                uow.session, order_id, {"delivered_at": uow.now() - timedelta(days=8)}
            )
    late = await ask(api, number, buyer.auth, kind="return", items=claim)
    assert late.status_code == 409 and "7-day" in late.json()["error"]["message"]
    # A fault may still be reported within the longer quality window.
    fault = await ask(api, number, buyer.auth, kind="quality", items=claim, reason="开胶了")
    assert fault.status_code == 201, fault.text

    fresh, other = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
    async with opened(server) as uow:
        await catalog.set_return_window(uow=uow, slug=shop.market.category, days=0)
    try:
        line = await first_line(api, fresh, other)
        excluded = await ask(
            api, fresh, other.auth, kind="return", items=[{"sku_id": line["sku_id"], "quantity": 1}]
        )
        assert excluded.status_code == 409 and "category" in excluded.json()["error"]["message"]
    finally:
        async with opened(server) as uow:
            await catalog.set_return_window(uow=uow, slug=shop.market.category, days=None)


async def test_an_agent_asks_on_the_buyers_behalf_and_is_audited(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
    line = await first_line(api, number, buyer)
    asked = await ask(
        api, number, shop.agent, kind="return", items=[{"sku_id": line["sku_id"], "quantity": 1}]
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["requested_by"] == "agent"
    async with opened(server) as uow:
        entries = await security.list_entries(
            uow=uow, action_prefix="ordering.after_sales_requested"
        )
    assert any(e.details.get("case_id") == asked.json()["case_id"] for e in entries)
    mine = (await api.get("/api/v1/after-sales", headers=buyer.auth)).json()
    assert asked.json()["case_id"] in [c["case_id"] for c in mine]


async def test_two_racing_requests_for_the_last_unit_make_one_case(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
    line = await first_line(api, number, buyer)
    claim = [{"sku_id": line["sku_id"], "quantity": 1}]
    answers = await asyncio.gather(
        *(ask(api, number, buyer.auth, kind=kind, items=claim) for kind in ("return", "missing"))
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert len((await api.get(case_url(number), headers=buyer.auth)).json()) == 1
    # And two racing decisions on one case make one step.
    case_id = next(a.json()["case_id"] for a in answers if a.status_code == 201)
    decisions = await asyncio.gather(
        *(
            api.post(f"{case_url(number, case_id)}/decision", json=body, headers=shop.seller)
            for body in ({"approve": True}, {"approve": False, "reason": "不同意"})
        )
    )
    assert sorted(d.status_code for d in decisions) == [200, 409], [d.text for d in decisions]
    steps = (await api.get(case_url(number, case_id), headers=buyer.auth)).json()["steps"]
    assert len(steps) == 2


async def test_the_shops_webhook_hears_of_each_step(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    receiver = Receiver(server)
    try:
        created = await api.post(
            "/api/v1/merchant/webhooks",
            json={"url": receiver.url, "topics": ["order.after_sales_changed"]},
            headers=shop.seller,
        )
        assert created.status_code == 201, created.text
        number, buyer = await delivered_order(server, api, shop, pay_sandbox, carrier_sandbox)
        line = await first_line(api, number, buyer)
        asked = await ask(
            api,
            number,
            buyer.auth,
            kind="missing",
            items=[{"sku_id": line["sku_id"], "quantity": 1}],
        )
        case_id = asked.json()["case_id"]
        await act(api, number, case_id, "decision", shop.seller, {"approve": True})
        await case_reaches(api, number, case_id, buyer.auth, "refunded")

        async def steps() -> list[str]:
            bodies = [json.loads(body)["data"] for _, body in receiver.requests]
            return [b["step"] for b in bodies if b["case_id"] == case_id]

        async def all_told() -> bool:
            return await steps() == ["request", "approve", "refund_done"]

        await eventually(all_told)
        headers, body = receiver.requests[0]
        assert headers["Kuaidan-Event-Type"] == "order.after_sales_changed"
        now = int(datetime.now(UTC).timestamp())
        secret = created.json()["secret"]
        assert verify_webhook_signature(secret, headers[SIGNATURE_HEADER], body, now=now)
    finally:
        receiver.close()
        for hook in (await api.get("/api/v1/merchant/webhooks", headers=shop.seller)).json():
            await api.delete(f"/api/v1/merchant/webhooks/{hook['id']}", headers=shop.seller)
