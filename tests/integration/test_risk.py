"""Payment risk over real HTTPS on SQLite and PostgreSQL: a suspicious purchase is held, the
buyer verifies with the code from the (dev) notifier and pays; wrong codes block it and the
orders are cancelled; analysts approve or reject holds; holds expire; rules are data.

Buyers sign up through the API; each test uses new buyers and new device ids, so the velocity
and history signals of one test never reach another. Loopback is in the ignored networks, so
the IP signals stay quiet here (a listed range is checked through the service).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, text

from kuaidan.accounts.domain import Role
from kuaidan.core.db import UnitOfWork, UTCDateTime
from kuaidan.core.notify import dev_inbox
from kuaidan.inventory import service as inventory
from kuaidan.payments import service as payments
from kuaidan.payments.domain import PaymentStatus
from kuaidan.risk import service as risk
from kuaidan.risk.domain import RiskContext
from kuaidan.security import service as security
from tests.conftest import LiveServer, PaySandbox, eventually
from tests.factories import (
    PASSWORD,
    AddressFactory,
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    SkuFactory,
    UserFactory,
)

BIG_PRICE = 388_800  # 3,888 yuan: "high with no history"
SMALL_PRICE = 1_990
CODE_RE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


# --- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def opened(server: LiveServer) -> AsyncIterator[UnitOfWork]:
    uow = server.uow()
    try:
        yield uow
    finally:
        await uow.close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@dataclass
class Shop:
    merchant_id: int
    category: str
    staff: dict[str, str]
    admin: dict[str, str]


@dataclass
class Buyer:
    id: int
    token: str
    address_id: int
    device: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def headers(self) -> dict[str, str]:
        return {**self.auth, "X-Device-Id": self.device, "User-Agent": "risk-test/1.0"}


async def token_for(api: httpx.AsyncClient, email: str) -> str:
    answer = await api.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


async def staff(
    server: LiveServer, api: httpx.AsyncClient, role: Role, **extra: Any
) -> dict[str, str]:
    async with opened(server) as uow:
        user = await UserFactory.create(uow, role=role, **extra)
    return bearer(await token_for(api, user.email))


@pytest.fixture(scope="module")
async def shop(server: LiveServer) -> Shop:
    token = uuid.uuid4().hex[:10]
    async with opened(server) as uow:
        merchant = await MerchantFactory.create(uow, slug=f"risk-{token}")
        category = await CategoryFactory.create(uow, slug=f"risk-{token}", name="数码")
    async with server.client() as api:
        crew = await staff(server, api, Role.MERCHANT, merchant_id=merchant.id)
        admin = await staff(server, api, Role.ADMIN)
    return Shop(merchant.id, category.slug, crew, admin)


async def new_sku(server: LiveServer, shop: Shop, price: int, stock: int = 10) -> int:
    async with opened(server) as uow:
        detail = await ProductFactory.create(
            uow,
            merchant_id=shop.merchant_id,
            category_slug=shop.category,
            skus=[SkuFactory.build(price_fen=price, stock=stock)],
        )
    return detail.skus[0].id


async def available(server: LiveServer, sku_id: int) -> int:
    async with opened(server) as uow:
        return (await inventory.get_levels(uow=uow, sku_ids=[sku_id]))[sku_id].available


async def new_buyer(api: httpx.AsyncClient) -> Buyer:
    new = UserFactory.build()
    body = {"email": new.email, "password": new.password, "display_name": new.display_name}
    user = await api.post("/api/v1/auth/register", json=body)
    assert user.status_code == 201, user.text
    token = await token_for(api, new.email)
    address = await api.post(
        "/api/v1/me/addresses", json=AddressFactory.body(), headers=bearer(token)
    )
    assert address.status_code == 201, address.text
    return Buyer(user.json()["id"], token, address.json()["id"], f"dev-{uuid.uuid4().hex}")


async def place(api: httpx.AsyncClient, buyer: Buyer, sku: int, qty: int = 1) -> dict[str, Any]:
    body = {"items": [{"sku_id": sku, "quantity": qty}], "address_id": buyer.address_id}
    headers = {**buyer.headers, "Idempotency-Key": uuid.uuid4().hex}
    answer = await api.post("/api/v1/checkouts", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    placed: dict[str, Any] = answer.json()
    return placed


async def payment_status(api: httpx.AsyncClient, buyer: Buyer, reference: str) -> str:
    answer = await api.get(f"/api/v1/payments/{reference}", headers=buyer.auth)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def order_of(api: httpx.AsyncClient, number: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = await api.get(f"/api/v1/orders/{number}", headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def code_for(server: LiveServer, buyer: Buyer, *, after: int = 0) -> str:
    """The newest code the dev notifier holds for the buyer (waits for the worker)."""

    async def newest() -> str | None:
        async with opened(server) as uow:
            messages = await dev_inbox(uow, user_id=buyer.id)
        fresh = [m for m in messages if m.id > after]
        match = CODE_RE.search(fresh[0].body) if fresh else None
        return match.group(1) if match else None

    code: str = await eventually(newest)
    return code


async def inbox_top(server: LiveServer, buyer: Buyer) -> int:
    async with opened(server) as uow:
        messages = await dev_inbox(uow, user_id=buyer.id)
    return messages[0].id if messages else 0


async def verify(api: httpx.AsyncClient, buyer: Buyer, reference: str, code: str) -> httpx.Response:
    return await api.post(
        f"/api/v1/payments/{reference}/verify", json={"code": code}, headers=buyer.auth
    )


async def pay(sandbox: PaySandbox, pay_url: str) -> None:
    async with sandbox.client() as client:
        page = await client.get(pay_url)
        assert page.status_code == 200, page.text
        match = re.search(r'name="token" value="([^"]+)"', page.text)
        assert match is not None
        paid = await client.post("/cashier/pay", data={"token": match.group(1)})
    assert paid.status_code == 303, paid.text


async def audit_actions(server: LiveServer, reference: str) -> list[str]:
    async with opened(server) as uow:
        entries = await security.list_entries(uow=uow, subject=f"payment:{reference}")
    return [e.action for e in reversed(entries)]


async def suspicious_checkout(
    api: httpx.AsyncClient, buyer: Buyer, small: int, big: int
) -> dict[str, Any]:
    """A new device, a burst of three small attempts, then an unusual amount."""
    for _ in range(3):
        allowed = await place(api, buyer, small)
        assert allowed["checkout"]["pay_url"], "small early attempts are allowed"
    return await place(api, buyer, big)


@pytest.fixture(autouse=True)
async def stock_stays_consistent(server: LiveServer) -> AsyncIterator[None]:
    yield
    async with opened(server) as uow:
        assert await inventory.audit(uow=uow) == []


# --- the done-when scenarios ------------------------------------------------------------------


async def test_a_suspicious_purchase_is_held_then_verified_by_the_buyer_and_paid(
    server: LiveServer, api: httpx.AsyncClient, pay_sandbox: PaySandbox, shop: Shop
) -> None:
    small, big = await new_sku(server, shop, SMALL_PRICE), await new_sku(server, shop, BIG_PRICE)
    buyer = await new_buyer(api)
    placed = await suspicious_checkout(api, buyer, small, big)
    reference, number = placed["checkout"]["reference"], placed["orders"][0]["number"]
    assert placed["checkout"]["pay_url"] is None
    assert await payment_status(api, buyer, reference) == "held"
    assert await available(server, big) == 9, "the stock stays reserved while held"

    async def merchant_sees_awaiting_verification() -> bool:
        found = await order_of(api, number, shop.staff)
        return any(e["action"] == "payment_held" for e in found["timeline"])

    await eventually(merchant_sees_awaiting_verification)
    assert (await order_of(api, number, shop.staff))["status"] == "pending_payment"
    ship = await api.post(
        f"/api/v1/merchant/orders/{number}/ship",
        json={"carrier_code": "shunfeng", "tracking_number": "SF1234567890"},
        headers=shop.staff,
    )
    assert ship.status_code == 409, "a held order cannot ship"

    hold = await api.get(f"/api/v1/risk/holds/{reference}", headers=shop.admin)
    assert hold.status_code == 200, hold.text
    detail = hold.json()
    assert detail["hold"]["action"] == "verify" and detail["hold"]["score"] == 75
    rules = {r["rule"] for r in detail["hold"]["reasons"]}
    assert {"new_device", "buyer_burst", "device_burst", "high_amount_no_history"} <= rules
    assert detail["buyer"]["paid_count_90d"] == 0 and len(detail["buyer"]["attempts"]) == 4

    asked = await api.get(f"/checkouts/{reference}", headers={**buyer.auth, "accept": "text/html"})
    assert 'data-testid="verify-form"' in asked.text and "review-notice" not in asked.text
    code = await code_for(server, buyer)
    bad_format = await verify(api, buyer, reference, "12ab56")
    assert bad_format.status_code == 422
    answer = await verify(api, buyer, reference, code)
    assert answer.status_code == 200, answer.text
    released = answer.json()
    assert released["status"] == "created" and released["pay_url"].startswith(pay_sandbox.url)

    async def checkout_has_pay_url() -> bool:
        found = await api.get(f"/api/v1/checkouts/{reference}", headers=buyer.auth)
        return bool(found.json()["checkout"]["pay_url"])

    await eventually(checkout_has_pay_url)
    await pay(pay_sandbox, released["pay_url"])

    async def paid() -> bool:
        return bool((await order_of(api, number, buyer.auth))["status"] == "paid")

    await eventually(paid)
    again = await verify(api, buyer, reference, code)
    assert again.status_code == 409, "a code works once"
    after = await api.get(f"/api/v1/risk/holds/{reference}", headers=shop.admin)
    assert after.json()["hold"]["status"] == "verified"

    async def history_learned() -> bool:
        found = await api.get(f"/api/v1/risk/holds/{reference}", headers=shop.admin)
        return bool(found.json()["buyer"]["paid_count_90d"] >= 1)

    await eventually(history_learned)


async def test_wrong_codes_block_the_payment_and_cancel_its_orders(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    small, big = await new_sku(server, shop, SMALL_PRICE), await new_sku(server, shop, BIG_PRICE)
    buyer = await new_buyer(api)
    placed = await suspicious_checkout(api, buyer, small, big)
    reference, number = placed["checkout"]["reference"], placed["orders"][0]["number"]
    code = await code_for(server, buyer)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        answer = await verify(api, buyer, reference, wrong)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["details"]["tries_left"] == left
        assert await payment_status(api, buyer, reference) == "held", "nothing changed"
    last = await verify(api, buyer, reference, wrong)
    assert last.status_code == 403 and last.json()["error"]["code"] == "payment_blocked"
    assert await payment_status(api, buyer, reference) == "blocked"
    late = await verify(api, buyer, reference, code)
    assert late.status_code == 409, "the right code is too late once blocked"

    async def cancelled() -> bool:
        return bool((await order_of(api, number, buyer.auth))["status"] == "cancelled")

    await eventually(cancelled)
    assert await available(server, big) == 10, "the stock went back on sale"
    actions = await audit_actions(server, reference)
    assert actions.count("risk.code_wrong") == 4 and "risk.code_blocked" in actions


async def test_someone_elses_code_attempts_are_not_found_and_change_nothing(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    small, big = await new_sku(server, shop, SMALL_PRICE), await new_sku(server, shop, BIG_PRICE)
    owner, stranger = await new_buyer(api), await new_buyer(api)
    placed = await suspicious_checkout(api, owner, small, big)
    reference = placed["checkout"]["reference"]
    code = await code_for(server, owner)
    answer = await verify(api, stranger, reference, code)
    assert answer.status_code == 404
    assert await payment_status(api, owner, reference) == "held"
    assert (await verify(api, owner, reference, code)).status_code == 200


async def test_a_new_code_replaces_the_old_one_and_resends_are_limited(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    small, big = await new_sku(server, shop, SMALL_PRICE), await new_sku(server, shop, BIG_PRICE)
    buyer = await new_buyer(api)
    reference = (await suspicious_checkout(api, buyer, small, big))["checkout"]["reference"]
    first = await code_for(server, buyer)
    top = await inbox_top(server, buyer)
    too_soon = await api.post(f"/api/v1/payments/{reference}/verification-code", headers=buyer.auth)
    assert too_soon.status_code == 429
    # Two minutes pass, as far as the resend limit can tell.
    async with opened(server) as uow, uow.atomic():
        await uow.session.execute(
            text("UPDATE risk_attempts SET code_expires_at = :t WHERE reference = :r").bindparams(
                bindparam("t", type_=UTCDateTime())
            ),
            {"t": datetime.now(UTC) + timedelta(minutes=8), "r": reference},
        )
    sent = await api.post(f"/api/v1/payments/{reference}/verification-code", headers=buyer.auth)
    assert sent.status_code == 200, sent.text
    second = await code_for(server, buyer, after=top)
    if second != first:
        assert (await verify(api, buyer, reference, first)).status_code == 422
    assert (await verify(api, buyer, reference, second)).status_code == 200


# --- analysts ---------------------------------------------------------------------------------


async def review_hold(
    api: httpx.AsyncClient, server: LiveServer, shop: Shop, sku: int
) -> tuple[Buyer, dict[str, Any]]:
    """A new account that just changed its phone buys big from a new device: review hold."""
    buyer = await new_buyer(api)
    changed = await api.patch("/api/v1/me", json={"phone": "+86 136-5555-0000"}, headers=buyer.auth)
    assert changed.status_code == 200, changed.text
    placed = await place(api, buyer, sku)
    reference = placed["checkout"]["reference"]
    assert await payment_status(api, buyer, reference) == "held"
    detail = (await api.get(f"/api/v1/risk/holds/{reference}", headers=shop.admin)).json()
    assert detail["hold"]["action"] == "hold", detail
    return buyer, placed


async def test_an_analyst_approves_one_hold_and_rejects_another_and_both_are_audited(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    big = await new_sku(server, shop, BIG_PRICE)
    buyer, placed = await review_hold(api, server, shop, big)
    reference = placed["checkout"]["reference"]
    assert (await verify(api, buyer, reference, "123456")).status_code == 409, "no code here"
    waiting = await api.get(
        f"/checkouts/{reference}", headers={**buyer.auth, "accept": "text/html"}
    )
    assert waiting.status_code == 200
    assert 'data-testid="review-notice"' in waiting.text, "the buyer is told an analyst reviews"
    assert 'data-testid="verify-form"' not in waiting.text, "and is asked for no code"
    listed = await api.get("/api/v1/risk/holds", headers=shop.admin)
    assert reference in [item["hold"]["reference"] for item in listed.json()["items"]]
    forbidden = await api.get("/api/v1/risk/holds", headers=buyer.auth)
    assert forbidden.status_code == 403
    page = await api.get("/risk/holds", headers={**shop.admin, "accept": "text/html"})
    assert page.status_code == 200 and reference in page.text and "<script" not in page.text

    approve = await api.post(
        f"/api/v1/risk/holds/{reference}/approve",
        json={"note": "called the buyer, it is them"},
        headers=shop.admin,
    )
    assert approve.status_code == 200 and approve.json()["status"] == "approved"
    twice = await api.post(
        f"/api/v1/risk/holds/{reference}/approve", json={"note": "again"}, headers=shop.admin
    )
    assert twice.status_code == 409

    async def payable() -> bool:
        found = await api.get(f"/api/v1/checkouts/{reference}", headers=buyer.auth)
        return bool(found.json()["checkout"]["pay_url"])

    await eventually(payable)
    assert await payment_status(api, buyer, reference) == "created"

    other, rejected = await review_hold(api, server, shop, big)
    ref2 = rejected["checkout"]["reference"]
    reject = await api.post(
        f"/api/v1/risk/holds/{ref2}/reject", json={"note": "stolen account"}, headers=shop.admin
    )
    assert reject.status_code == 200

    async def cancelled() -> bool:
        found = await order_of(api, rejected["orders"][0]["number"], other.auth)
        return bool(found["status"] == "cancelled")

    await eventually(cancelled)
    assert await payment_status(api, other, ref2) == "blocked"
    assert "risk.hold_approved" in await audit_actions(server, reference)
    assert "risk.hold_rejected" in await audit_actions(server, ref2)


async def test_an_unverified_hold_expires_and_its_orders_are_cancelled(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    big = await new_sku(server, shop, BIG_PRICE)
    buyer, placed = await review_hold(api, server, shop, big)
    reference = placed["checkout"]["reference"]
    async with opened(server) as uow:
        expired = await risk.expire_holds(uow=uow, now=uow.now() + timedelta(hours=25))
    assert expired >= 1

    async def cancelled() -> bool:
        found = await order_of(api, placed["orders"][0]["number"], buyer.auth)
        return bool(found["status"] == "cancelled")

    await eventually(cancelled)
    assert await payment_status(api, buyer, reference) == "closed"
    assert await available(server, big) == 10


async def test_a_listed_network_blocks_a_payment_at_once(server: LiveServer) -> None:
    reference = f"RL{uuid.uuid4().hex[:12]}"
    async with opened(server) as uow:
        started = await payments.start_payment(
            uow=uow,
            reference=reference,
            amount_fen=990,
            currency="CNY",
            subject="listed network",
            buyer_id=4242,
            return_path="/",
            context=RiskContext.of(ip="203.0.113.77", device_id=None, user_agent="x"),
        )
    assert started.status is PaymentStatus.BLOCKED and started.pay_url is None
    assert "payments.blocked" in await audit_actions(server, reference)


# --- rules as data ----------------------------------------------------------------------------


async def test_analysts_edit_rules_and_networks_and_every_edit_is_audited(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    rules = await api.get("/api/v1/risk/rules", headers=shop.admin)
    assert rules.status_code == 200
    positions = [r["position"] for r in rules.json()]
    assert positions == sorted(positions) and len(positions) == 17
    wrong_way = {
        "position": 500,
        "when": [{"signal": "account_age_hours", "op": ">", "value": 1000}],
        "score": 30,
    }
    refused = await api.put("/api/v1/risk/rules/old_account", json=wrong_way, headers=shop.admin)
    assert refused.status_code == 422
    rule = {
        "position": 500,
        "description": "Night owl test rule",
        "when": [{"signal": "amount_fen", "op": ">=", "value": 99_999_999}],
        "score": 5,
        "action": "verify",
    }
    try:
        put = await api.put("/api/v1/risk/rules/huge_amount", json=rule, headers=shop.admin)
        assert put.status_code == 200, put.text
        names = [
            r["name"] for r in (await api.get("/api/v1/risk/rules", headers=shop.admin)).json()
        ]
        assert "huge_amount" in names
        gone = await api.delete("/api/v1/risk/rules/huge_amount", headers=shop.admin)
        assert gone.status_code == 204
        net = await api.post(
            "/api/v1/risk/networks",
            json={"cidr": "198.18.7.0/24", "note": "test"},
            headers=shop.admin,
        )
        assert net.status_code == 201
        again = await api.post(
            "/api/v1/risk/networks", json={"cidr": "198.18.7.0/24"}, headers=shop.admin
        )
        assert again.status_code == 409
        unlisted = await api.delete(
            "/api/v1/risk/networks", params={"cidr": "198.18.7.0/24"}, headers=shop.admin
        )
        assert unlisted.status_code == 204
    finally:
        reset = await api.post("/api/v1/risk/rules/reset", headers=shop.admin)
        assert reset.status_code == 200 and len(reset.json()) == 17
    audit = await api.get("/api/v1/risk/audit", headers=shop.admin)
    actions = {e["action"] for e in audit.json()}
    assert {"risk.rule_added", "risk.rule_deleted", "risk.rules_reset"} <= actions
    assert {"risk.network_listed", "risk.network_unlisted"} <= actions


# --- odds and ends ----------------------------------------------------------------------------


async def test_the_dev_inbox_page_is_for_admins_and_only_when_enabled(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    html = {"accept": "text/html"}
    assert (await api.get("/dev/inbox", headers={**shop.admin, **html})).status_code == 404
    server.settings.dev_inbox_page = True
    try:
        page = await api.get("/dev/inbox", headers={**shop.admin, **html})
        assert page.status_code == 200 and "<script" not in page.text
        buyer = await new_buyer(api)
        assert (await api.get("/dev/inbox", headers={**buyer.auth, **html})).status_code == 403
    finally:
        server.settings.dev_inbox_page = False


async def test_pages_give_browsers_a_device_cookie_once(api: httpx.AsyncClient) -> None:
    first = await api.get("/", headers={"accept": "text/html"})
    cookie = first.headers.get("set-cookie", "")
    assert "kd_device=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    again = await api.get(
        "/", headers={"accept": "text/html", "cookie": "kd_device=already-here-123"}
    )
    assert "kd_device=" not in again.headers.get("set-cookie", "")


async def test_decisions_and_code_checks_are_counted_on_metrics(
    server: LiveServer, api: httpx.AsyncClient, shop: Shop
) -> None:
    small, big = await new_sku(server, shop, SMALL_PRICE), await new_sku(server, shop, BIG_PRICE)
    buyer = await new_buyer(api)
    reference = (await suspicious_checkout(api, buyer, small, big))["checkout"]["reference"]
    code = await code_for(server, buyer)
    wrong = f"{(int(code) + 3) % 1_000_000:06d}"
    assert (await verify(api, buyer, reference, wrong)).status_code == 422
    assert (await verify(api, buyer, reference, code)).status_code == 200
    text = (await api.get("/metrics")).text
    for line in (
        'kuaidan_risk_decisions_total{action="allow"}',
        'kuaidan_risk_decisions_total{action="verify"}',
        'kuaidan_risk_code_checks_total{outcome="wrong"}',
        'kuaidan_risk_code_checks_total{outcome="passed"}',
        'kuaidan_risk_holds_resolved_total{outcome="verified"}',
    ):
        assert line in text, line


async def test_refused_and_replayed_notifications_are_security_events(
    server: LiveServer, pay_sandbox: PaySandbox
) -> None:
    from tests.integration.test_payments import notify, provider_signed, start

    reference = f"SE{uuid.uuid4().hex[:12]}"
    await start(server, reference)
    genuine = provider_signed(pay_sandbox, out_trade_no=reference)
    forged = {**genuine, "total_amount": "0.01"}
    assert (await notify(server, forged)).status_code == 400
    other_amount = provider_signed(
        pay_sandbox, out_trade_no=reference, total_amount="1.00", notify_id=f"m{reference}"
    )
    assert (await notify(server, other_amount)).status_code == 400
    assert (await notify(server, genuine)).text == "success"
    assert (await notify(server, genuine)).text == "success", "a replay changes nothing"
    unknown = f"NO{reference}"
    stray = provider_signed(pay_sandbox, out_trade_no=unknown, notify_id=f"u{reference}")
    assert (await notify(server, stray)).status_code == 400
    actions = await audit_actions(server, reference)
    assert {
        "payments.notification_rejected",
        "payments.notification_mismatch",
        "payments.notification_replayed",
    } <= set(actions)
    assert "payments.notification_mismatch" in await audit_actions(server, unknown)
