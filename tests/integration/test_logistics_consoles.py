"""The logistics consoles over real HTTPS with cookies and tokens, on SQLite and PostgreSQL:
the exception case queue and its resolutions, the merchant's own tasks, the carriers console
(a suspended carrier is no longer quoted) and the scorecards page with its SVG charts.

Shipments are real: requested through the service, booked and moved by the carrier simulator
(fates injected through its test hooks); cases are opened by the detection use case.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.logistics import service
from kuaidan.logistics.domain import (
    CarrierProfile,
    ExceptionKind,
    Place,
    Recipient,
    Resolution,
    ShipmentInfo,
    ShipmentStatus,
)
from kuaidan.logistics.domain.carriers import PenaltyTerms, ServiceAgreement
from kuaidan.logistics.domain.defaults import DEFAULT_CARRIERS
from kuaidan.security import service as audit
from tests.conftest import CarrierSandbox, LiveServer, eventually
from tests.factories import PASSWORD, MerchantFactory, UserFactory

HTML = {"accept": "text/html,application/xhtml+xml"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HANGZHOU = Place("浙江", "杭州")
SHANGHAI = Place("上海", "上海")
BUYER_ADDRESS = Recipient("李雷", "13800138000", "上海市浦东新区世纪大道 100 号")
BUYER_ID = 4242


# --- helpers ---------------------------------------------------------------------------------


@asynccontextmanager
async def opened(server: LiveServer) -> AsyncIterator[UnitOfWork]:
    uow = server.uow()
    try:
        yield uow
    finally:
        await uow.close()


async def call(server: LiveServer, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
    async with opened(server) as uow:
        return await fn(uow=uow, **kwargs)


async def count(server: LiveServer, sql: str, **params: Any) -> int:
    async with opened(server) as uow:
        return int(await uow.session.scalar(text(sql), params) or 0)


@dataclass
class World:
    admin: UserInfo
    shop_a: int
    shop_b: int
    staff_a: UserInfo
    staff_b: UserInfo
    buyer: UserInfo


async def _user(server: LiveServer, role: Role, merchant_id: int | None = None) -> UserInfo:
    async with opened(server) as uow:
        return await UserFactory.create(uow, role=role, merchant_id=merchant_id)


@pytest.fixture(scope="module")
async def world(server: LiveServer) -> World:
    token = uuid.uuid4().hex[:8]
    async with opened(server) as uow:
        a = await MerchantFactory.create(uow, slug=f"lga-{token}")
        b = await MerchantFactory.create(uow, slug=f"lgb-{token}")
        await service.ensure_default_carriers(uow=uow)
    return World(
        admin=await _user(server, Role.ADMIN),
        shop_a=a.id,
        shop_b=b.id,
        staff_a=await _user(server, Role.MERCHANT, a.id),
        staff_b=await _user(server, Role.MERCHANT, b.id),
        buyer=await _user(server, Role.BUYER),
    )


@asynccontextmanager
async def signed_in(server: LiveServer, user: UserInfo | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies and asks for HTML, as a browser does, logged in as ``user``."""
    async with server.client(headers=HTML) as client:
        if user is not None:
            token = await csrf(client, "/login")
            form = {"email": user.email, "password": PASSWORD, "next": "/", "csrf_token": token}
            answer = await client.post("/login", data=form)
            assert answer.status_code == 303, answer.text
        yield client


async def bearer(server: LiveServer, user: UserInfo) -> dict[str, str]:
    async with server.client() as client:
        body = {"email": user.email, "password": PASSWORD}
        answer = await client.post("/api/v1/auth/tokens", json=body)
    assert answer.status_code == 201, answer.text
    return {"authorization": f"Bearer {answer.json()['token']}"}


async def csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    match = CSRF_RE.search(page.text)
    assert match is not None, page.text[:500]
    return match.group(1)


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, form: dict[str, str]
) -> httpx.Response:
    """Submit a form the way the page does: with the session's CSRF token."""
    return await client.post(action, data={**form, "csrf_token": await csrf(client, page)})


async def ship(
    server: LiveServer,
    sandbox: CarrierSandbox,
    merchant_id: int,
    *,
    fate: str = "normal",
    delay_hours: float = 80.0,
    carrier_code: str | None = None,
    simulated_stamps: bool = False,
) -> ShipmentInfo:
    """A shipment with the simulator's next fate set, booked; its order number is unique.
    ``simulated_stamps``: its scans are dated in simulated time (days late in seconds)."""
    async with sandbox.client() as client:
        hooks = {
            "next_fate": fate,
            "delay_hours": delay_hours,
            "manual_next": False,
            "simulated_stamps_next": simulated_stamps,
        }
        assert (await client.post("/sandbox/hooks", json=hooks)).status_code == 200
    info: ShipmentInfo = await call(
        server,
        service.request_shipment,
        merchant_id=merchant_id,
        buyer_id=BUYER_ID,
        order_id=None,
        order_number=f"KDT{uuid.uuid4().hex[:12].upper()}",
        origin=HANGZHOU,
        destination=SHANGHAI,
        weight_g=1500,
        recipient=BUYER_ADDRESS,
        carrier_code=carrier_code,
    )

    async def booked() -> ShipmentInfo | None:
        found = await call(server, service.get_shipment, reference=info.reference)
        return found if found.tracking_number else None

    result: ShipmentInfo = await eventually(booked)
    return result


async def reaches(server: LiveServer, reference: str, *statuses: ShipmentStatus) -> ShipmentInfo:
    async def check() -> ShipmentInfo | None:
        found = await call(server, service.get_shipment, reference=reference)
        return found if found.status in statuses else None

    result: ShipmentInfo = await eventually(check)
    return result


async def case_of(server: LiveServer, info: ShipmentInfo, kind: ExceptionKind) -> int:
    """Run the detection use case until the shipment's case of ``kind`` is open."""
    await call(server, service.detect_exceptions)
    cases = await call(server, service.list_exception_cases, reference=info.reference)
    [case] = [c for c in cases if c.kind == kind]
    return int(case.case_id)


async def delayed_case(
    server: LiveServer, sandbox: CarrierSandbox, merchant_id: int
) -> tuple[ShipmentInfo, int]:
    """A parcel silent in transit; the detection job run 49 hours after its last scan."""
    info = await ship(server, sandbox, merchant_id, fate="delay", delay_hours=5000)
    moving = await reaches(server, info.reference, ShipmentStatus.IN_TRANSIT)
    last = max(s.at for s in moving.scans)
    await call(server, service.detect_exceptions, now=last + timedelta(hours=49))
    cases = await call(server, service.list_exception_cases, reference=info.reference)
    assert [c.kind for c in cases] == [ExceptionKind.STALE_IN_TRANSIT]
    return info, int(cases[0].case_id)


async def lost_case(
    server: LiveServer, sandbox: CarrierSandbox, merchant_id: int
) -> tuple[ShipmentInfo, int]:
    info = await ship(server, sandbox, merchant_id, fate="lost")
    await reaches(server, info.reference, ShipmentStatus.LOST)
    return info, await case_of(server, info, ExceptionKind.LOST)


async def resolved_events(server: LiveServer, reference: str) -> int:
    return await count(
        server,
        "SELECT count(*) FROM outbox_events WHERE topic = 'shipment.exception_resolved' "
        "AND key = :k",
        k=reference,
    )


def carrier_profile(code: str, *, promise_days: int = 4) -> CarrierProfile:
    template = DEFAULT_CARRIERS[0]
    promise = dict.fromkeys(template.agreement.promise_days, promise_days)
    terms = PenaltyTerms(min_shipments=3, lost_compensation_cap_fen=100_000)
    agreement = ServiceAgreement(promise, 0.9, 0.99, 4.5, terms)
    return CarrierProfile(
        code, f"测试快递 {code}", template.status, (), template.area, template.prices, agreement
    )


# --- who may see what --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/logistics/cases", "/logistics/carriers", "/logistics/scorecards"]
)
async def test_only_admins_open_the_consoles(server: LiveServer, world: World, path: str) -> None:
    async with signed_in(server, None) as guest:
        asked = await guest.get(path)
        assert asked.status_code == 303 and asked.headers["location"].startswith("/login")
    for user in (world.buyer, world.staff_a):
        async with signed_in(server, user) as client:
            refused = await client.get(path)
            assert refused.status_code == 403, refused.text[:300]
    async with signed_in(server, world.admin) as admin:
        shown = await admin.get(path)
        assert shown.status_code == 200
        assert 'data-testid="logistics-console-link"' in shown.text
    async with server.client() as api:
        answer = await api.get("/api/v1/logistics/cases", headers=await bearer(server, world.buyer))
        assert answer.status_code == 403


async def test_a_delayed_parcel_is_chased_by_its_merchant_and_hidden_from_others(
    server: LiveServer, carrier_sandbox: CarrierSandbox, world: World
) -> None:
    info, case_id = await delayed_case(server, carrier_sandbox, world.shop_a)
    async with signed_in(server, world.admin) as admin:
        queue = await admin.get("/logistics/cases", params={"order": info.order_number})
        rows = re.findall(
            r'data-testid="case-row" data-case-id="(\d+)" data-kind="(\w+)"', queue.text
        )
        assert rows == [(str(case_id), "stale_in_transit")]
        other = await admin.get(
            "/logistics/cases", params={"order": info.order_number, "kind": "lost"}
        )
        assert 'data-testid="no-cases"' in other.text
        page = await admin.get(f"/logistics/cases/{case_id}")
        assert info.tracking_number and info.tracking_number in page.text
        assert page.text.count('data-testid="scan"') >= 2
        assert "浙江/杭州 → 上海/上海" in page.text

    async with signed_in(server, world.staff_b) as stranger:
        tasks = await stranger.get("/merchant/logistics/tasks")
        assert f'data-case-id="{case_id}"' not in tasks.text
        assert (await stranger.get(f"/merchant/logistics/tasks/{case_id}")).status_code == 404
        sneaked = await post_form(
            stranger, "/merchant/logistics/tasks", f"/merchant/logistics/tasks/{case_id}/chase",
            {"note": "不是我的"},
        )  # fmt: skip
        assert sneaked.status_code == 404
    async with server.client() as api:
        mine = await api.get(
            "/api/v1/merchant/logistics/cases", headers=await bearer(server, world.staff_b)
        )
        assert case_id not in [c["case_id"] for c in mine.json()]

    async with signed_in(server, world.staff_a) as staff:
        tasks = await staff.get("/merchant/logistics/tasks")
        assert f'data-case-id="{case_id}"' in tasks.text and "催件" in tasks.text
        task = f"/merchant/logistics/tasks/{case_id}"
        empty = await post_form(staff, task, f"{task}/notes", {"note": "   "})
        assert empty.status_code == 422 and "a note needs some text" in empty.text
        noted = await post_form(staff, task, f"{task}/notes", {"note": "已联系顺丰客服"})
        assert noted.status_code == 303
        chased = await post_form(staff, task, f"{task}/chase", {"note": "承运商答应明天派送"})
        assert chased.status_code == 303
        shown = await staff.get(task)
        assert 'data-status="resolved"' in shown.text and "已联系顺丰客服" in shown.text
    [case] = await call(server, service.list_exception_cases, reference=info.reference)
    assert case.resolution == "chase" and "承运商答应明天派送" in case.notes
    assert await resolved_events(server, info.reference) == 1

    async with signed_in(server, world.admin) as admin:
        again = await post_form(
            admin, f"/logistics/cases/{case_id}", f"/logistics/cases/{case_id}/resolve",
            {"resolution": "refund"},
        )  # fmt: skip
        assert again.status_code == 409 and "resolved already" in again.text
    assert await resolved_events(server, info.reference) == 1


async def test_a_lost_parcel_claim_is_validated_then_stored_in_fen(
    server: LiveServer, carrier_sandbox: CarrierSandbox, world: World
) -> None:
    info, case_id = await lost_case(server, carrier_sandbox, world.shop_a)
    page, action = f"/logistics/cases/{case_id}", f"/logistics/cases/{case_id}/resolve"
    async with signed_in(server, world.staff_a) as staff:
        task = await staff.get(f"/merchant/logistics/tasks/{case_id}")
        assert 'data-testid="chase-form"' not in task.text and "平台将补发" in task.text
        refused = await post_form(
            staff, f"/merchant/logistics/tasks/{case_id}",
            f"/merchant/logistics/tasks/{case_id}/chase", {},
        )  # fmt: skip
        assert refused.status_code == 409 and "the platform decides" in refused.text
    async with signed_in(server, world.admin) as admin:
        for amount, message in [
            ("", "Enter yuan"),
            ("abc", "Enter yuan"),
            ("-5", "Enter yuan"),
            ("12.345", "at most two decimals"),
            ("1e3", "Enter yuan"),
            ("1,99.5", "Enter yuan"),
            ("１２.５x", "Enter yuan"),
            ("²", "Enter yuan"),
            ("0", "more than ¥0.00"),
            ("0.00", "more than ¥0.00"),
            ("2000.01", "exceeds the agreement"),  # the default cap is ¥2,000.00 per parcel
        ]:
            bad = await post_form(
                admin, page, action, {"resolution": "claim", "claim_yuan": amount}
            )
            assert bad.status_code == 422, (amount, bad.status_code)
            assert message in bad.text, amount
            assert f'value="{amount}"' in bad.text  # the form keeps what was typed
        nothing = await post_form(admin, page, action, {})
        assert nothing.status_code == 422 and "Choose how to resolve" in nothing.text
        mixed = await post_form(admin, page, action, {"resolution": "refund", "claim_yuan": "5"})
        assert mixed.status_code == 422 and "Only a claim carries an amount" in mixed.text
        assert await resolved_events(server, info.reference) == 0
        claimed = await post_form(
            admin, page, action,
            {"resolution": "claim", "claim_yuan": "￥1,299.5", "note": "按协议索赔"},
        )  # fmt: skip
        assert claimed.status_code == 303
        shown = await admin.get(page)
        assert 'data-resolution="claim"' in shown.text and "¥1,299.50" in shown.text
    [case] = await call(server, service.list_exception_cases, reference=info.reference)
    assert (case.status, case.resolution, case.claim_fen) == ("resolved", "claim", 129950)
    assert await resolved_events(server, info.reference) == 1
    entries = await call(server, audit.list_entries, subject=f"exception_case:{case_id}")
    assert [(e.action, e.actor_id, e.details["claim_fen"]) for e in entries] == [
        ("logistics.case_resolved", world.admin.id, 129950)
    ]


async def test_reship_from_the_console_and_refund_through_the_api(
    server: LiveServer, carrier_sandbox: CarrierSandbox, world: World
) -> None:
    first, first_case = await lost_case(server, carrier_sandbox, world.shop_b)
    second, second_case = await lost_case(server, carrier_sandbox, world.shop_b)
    async with signed_in(server, world.admin) as admin:
        page = f"/logistics/cases/{first_case}"
        no_token = await admin.post(f"{page}/resolve", data={"resolution": "reship"})
        assert no_token.status_code == 403
        reship = await post_form(admin, page, f"{page}/resolve", {"resolution": "reship"})
        assert reship.status_code == 303
    headers = await bearer(server, world.admin)
    async with server.client() as api:
        listed = await api.get(
            "/api/v1/logistics/cases",
            params={"order_number": second.order_number, "status": "open"},
            headers=headers,
        )
        assert [c["case_id"] for c in listed.json()] == [second_case]
        path = f"/api/v1/logistics/cases/{second_case}/resolve"
        with_money = await api.post(
            path, json={"resolution": "refund", "claim_fen": 100}, headers=headers
        )
        assert with_money.status_code == 422
        unknown = await api.post(path, json={"resolution": "shrug"}, headers=headers)
        assert unknown.status_code == 422
        refund = await api.post(
            path, json={"resolution": "refund", "note": "退款给买家"}, headers=headers
        )
        assert refund.status_code == 200 and refund.json()["resolution"] == "refund"
        twice = await api.post(path, json={"resolution": "refund"}, headers=headers)
        assert twice.status_code == 409 and "resolved already" in twice.json()["error"]["message"]
        missing = await api.post(
            "/api/v1/logistics/cases/2147483000/resolve", json={"resolution": "chase"},
            headers=headers,
        )  # fmt: skip
        assert missing.status_code == 404
    assert [
        c.resolution
        for c in await call(server, service.list_exception_cases, reference=first.reference)
    ] == ["reship"]
    assert await resolved_events(server, first.reference) == 1
    assert await resolved_events(server, second.reference) == 1


# --- carriers ----------------------------------------------------------------------------------


async def test_a_suspended_carrier_is_no_longer_quoted(server: LiveServer, world: World) -> None:
    code = f"cheap{uuid.uuid4().hex[:6]}"
    await call(server, service.add_carrier, profile=carrier_profile(code))
    quoted = await call(
        server, service.quote_carriers, origin=HANGZHOU, destination=SHANGHAI, weight_g=1000
    )
    assert code in {q.code for q in quoted}
    action = f"/logistics/carriers/{code}/status"
    async with signed_in(server, world.admin) as admin:
        reasonless = await post_form(
            admin, "/logistics/carriers", action, {"status": "suspended", "reason": " "}
        )
        assert reasonless.status_code == 422 and "needs a reason" in reasonless.text
        assert (await call(server, service.get_carrier, code=code)).status == "active"
        bogus = await post_form(
            admin, "/logistics/carriers", action, {"status": "fired", "reason": "x"}
        )
        assert bogus.status_code == 422
        done = await post_form(
            admin, "/logistics/carriers", action, {"status": "suspended", "reason": "丢件过多"}
        )
        assert done.status_code == 303
        page = await admin.get("/logistics/carriers")
        section = page.text.split(f'data-code="{code}"', 1)[1].split("</section>", 1)[0]
        assert section.startswith(' data-status="suspended"') and "丢件过多" in section
        unknown = await post_form(
            admin,
            "/logistics/carriers",
            "/logistics/carriers/nope/status",
            {"status": "active", "reason": "x"},
        )
        assert unknown.status_code == 404
    quoted = await call(
        server, service.quote_carriers, origin=HANGZHOU, destination=SHANGHAI, weight_g=1000
    )
    assert code not in {q.code for q in quoted}
    entries = await call(server, audit.list_entries, subject=f"carrier:{code}")
    assert [(e.action, e.actor_id, e.details["to"]) for e in entries] == [
        ("logistics.carrier_status_changed", world.admin.id, "suspended")
    ]
    async with server.client() as api:
        back = await api.post(
            f"/api/v1/logistics/carriers/{code}/status",
            json={"status": "active", "reason": "整改完成"},
            headers=await bearer(server, world.admin),
        )
        assert back.status_code == 200 and back.json()["status"] == "active"
    quoted = await call(
        server, service.quote_carriers, origin=HANGZHOU, destination=SHANGHAI, weight_g=1000
    )
    assert code in {q.code for q in quoted}


# --- scorecards --------------------------------------------------------------------------------


def chart(html: str, chart_id: str) -> str:
    start = html.rindex("<svg", 0, html.index(f'data-testid="chart-{chart_id}"'))
    return html[start : html.index("</svg>", start)]


def points(svg: str) -> list[tuple[str, str]]:
    return re.findall(r'class="point" data-period="([^"]+)" data-value="([^"]+)"', svg)


async def test_the_scorecards_page_charts_the_computed_figures(
    server: LiveServer, carrier_sandbox: CarrierSandbox, world: World
) -> None:
    code = f"score{uuid.uuid4().hex[:6]}"
    await call(server, service.add_carrier, profile=carrier_profile(code))
    fates = [("normal", 80.0), ("normal", 80.0), ("delay", 200.0), ("damaged", 80.0)]
    shipped = [
        await ship(
            server,
            carrier_sandbox,
            world.shop_a,
            fate=f,
            delay_hours=h,
            carrier_code=code,
            simulated_stamps=True,
        )
        for f, h in fates
    ]
    for info in shipped:
        await reaches(server, info.reference, ShipmentStatus.DELIVERED)
    damaged = await case_of(server, shipped[3], ExceptionKind.DAMAGED)
    await call(
        server,
        service.resolve_exception,
        case_id=damaged,
        resolution=Resolution.CLAIM,
        actor="ops",
        claim_fen=1250,
    )
    for info, stars in ((shipped[0], 5), (shipped[1], 3)):
        await call(
            server, service.rate_delivery, reference=info.reference, buyer_id=BUYER_ID, stars=stars
        )
    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now + timedelta(days=90)
    await call(
        server,
        service.compute_scorecards,
        start=start - timedelta(days=30),
        end=start,
        carrier_codes={code},
    )
    [card] = await call(
        server, service.compute_scorecards, start=start, end=end, carrier_codes={code}
    )
    assert (card.card.shipments, card.card.on_time, card.card.intact) == (4, 3, 3)
    accuracy = await call(
        server, service.eta_accuracy_report, since=start, until=end, carrier_code=code
    )
    assert accuracy.predictions >= 4

    async with signed_in(server, world.admin) as admin:
        page = await admin.get("/logistics/scorecards", params={"carrier": code})
        missing = await admin.get("/logistics/scorecards", params={"carrier": "nope"})
    assert page.status_code == 200 and missing.status_code == 404
    html = page.text
    label = f"{start:%m-%d}"
    on_time = chart(html, "on-time")
    assert 'role="img"' in on_time and 'aria-labelledby="on-time-title on-time-desc"' in on_time
    assert '<title id="on-time-title">' in on_time and "90.0%" in on_time  # the target
    assert 'class="target" data-value="0.9"' in on_time
    assert points(on_time) == [(label, "0.7500")] and ">75.0%<" in on_time
    assert points(chart(html, "intact")) == [(label, "0.7500")]
    assert 'class="target" data-value="0.99"' in chart(html, "intact")
    assert points(chart(html, "satisfaction")) == [(label, "4.0000")]
    assert ">4.00<" in chart(html, "satisfaction")
    assert points(chart(html, "exceptions")) == [(label, "0.2500")]
    claims = chart(html, "claims")
    assert f'class="bar" data-period="{label}" data-value="12.5"' in claims and ">¥12.50<" in claims
    assert re.search(r'class="bar" data-period="[^"]+" data-value="0"', claims)  # the empty period
    eta = chart(html, "eta")
    assert points(eta) == [(label, f"{accuracy.within_range_rate:.4f}")]
    assert html.count('data-testid="scorecard-row"') == 2
    assert "75.0% (3/4)" in html and "25.0% (1)" in html
    assert "¥2.00" in html  # one late parcel × the agreement's late fee


async def test_admin_scores_the_last_complete_period_now(server: LiveServer, world: World) -> None:
    async with signed_in(server, world.admin) as admin:
        done = await post_form(
            admin, "/logistics/scorecards", "/logistics/scorecards/compute", {"carrier": "jd"}
        )
        assert done.status_code == 303 and done.headers["location"].endswith("carrier=jd")
    entries = await call(server, audit.list_entries, action_prefix="logistics.scorecards_computed")
    assert entries and entries[0].actor_id == world.admin.id
    async with server.client() as api:
        cards = await api.get(
            "/api/v1/logistics/carriers/jd/scorecards", params={"periods": 1},
            headers=await bearer(server, world.admin),
        )  # fmt: skip
    [latest] = cards.json()
    ended = datetime.fromisoformat(latest["period_end"])
    assert (
        ended
        <= datetime.now(UTC)
        < ended + timedelta(days=server.settings.logistics_scorecard_days)
    )
