"""Logistics against the carrier simulator over real HTTPS and the real kuaidan server.

The simulator runs in a thread on a loopback port at 100 simulated hours per second: it books
parcels, releases their scans as simulated time passes and pushes Kuaidi100-style signed
callbacks to the server, whose in-process worker books the carrier. Fates (delay, loss) are
injected through the simulator's test hooks.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from kuaidan.core import signing
from kuaidan.logistics import service
from kuaidan.logistics.adapters.kuaidi100 import md5_sign
from kuaidan.logistics.domain import (
    CaseStatus,
    ExceptionKind,
    Place,
    Recipient,
    Resolution,
    ShipmentInfo,
    ShipmentStatus,
)
from kuaidan.logistics.domain.tracking import RANK
from tests.conftest import CarrierSandbox, LiveServer, eventually

PUSH_PATH = "/api/v1/logistics/callbacks/kuaidi100"
HANGZHOU = Place("浙江", "杭州")
SHANGHAI = Place("上海", "上海")
CHENGDU = Place("四川", "成都")
BUYER = Recipient("李雷", "13800138000", "上海市浦东新区世纪大道 100 号")


async def call(server: LiveServer, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
    uow = server.uow()
    try:
        return await fn(uow=uow, **kwargs)
    finally:
        await uow.close()


async def scalar(server: LiveServer, sql: str, **params: Any) -> Any:
    uow = server.uow()
    try:
        return await uow.session.scalar(text(sql), params)
    finally:
        await uow.close()


async def hooks(sandbox: CarrierSandbox, **settings: Any) -> None:
    async with sandbox.client() as client:
        answer = await client.post("/sandbox/hooks", json=settings)
    assert answer.status_code == 200, answer.text


async def parcel(sandbox: CarrierSandbox, nu: str) -> dict[str, Any]:
    async with sandbox.client() as client:
        answer = await client.get(f"/sandbox/parcels/{nu}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def ship(
    server: LiveServer,
    sandbox: CarrierSandbox,
    *,
    fate: str = "normal",
    delay_hours: float = 80.0,
    carrier_code: str | None = None,
    destination: Place = SHANGHAI,
    manual: bool = False,
    simulated_stamps: bool = False,
) -> ShipmentInfo:
    """Ask for a shipment (with the simulator's next fate set) and wait for its booking.
    ``simulated_stamps``: its scans are dated in simulated time (days late in seconds)."""
    await call(server, service.ensure_default_carriers)
    await hooks(
        sandbox,
        next_fate=fate,
        delay_hours=delay_hours,
        manual_next=manual,
        simulated_stamps_next=simulated_stamps,
    )
    info: ShipmentInfo = await call(
        server,
        service.request_shipment,
        merchant_id=7,
        buyer_id=42,
        origin=HANGZHOU,
        destination=destination,
        weight_g=1800,
        recipient=BUYER,
        carrier_code=carrier_code,
    )

    async def booked() -> ShipmentInfo | None:
        found = await shipment(server, info.reference)
        return found if found.tracking_number else None

    result: ShipmentInfo = await eventually(booked)
    return result


async def shipment(server: LiveServer, reference: str) -> ShipmentInfo:
    result: ShipmentInfo = await call(server, service.get_shipment, reference=reference)
    return result


async def reaches(server: LiveServer, reference: str, *statuses: ShipmentStatus) -> ShipmentInfo:
    async def check() -> ShipmentInfo | None:
        found = await shipment(server, reference)
        return found if found.status in statuses else None

    result: ShipmentInfo = await eventually(check)
    return result


async def count(server: LiveServer, table: str, where: str, **params: Any) -> int:
    return int(await scalar(server, f"SELECT count(*) FROM {table} WHERE {where}", **params) or 0)


async def settled(server: LiveServer, nu: str) -> None:
    """Wait until the apply job has handled every stored push of ``nu``."""

    async def nothing_pending() -> bool:
        waiting = await count(
            server, "logistics_tracking_inbox", "tracking_number = :n AND status = 'pending'", n=nu
        )
        return waiting == 0

    await eventually(nothing_pending)


async def events(server: LiveServer, topic: str, key: str) -> int:
    return await count(server, "outbox_events", "topic = :t AND key = :k", t=topic, k=key)


async def push(server: LiveServer, form: dict[str, str]) -> httpx.Response:
    async with server.client() as client:
        return await client.post(PUSH_PATH, data=form)


async def signed(server: LiveServer, body: dict[str, Any]) -> dict[str, str]:
    """A push signed with this installation's salt, as only the aggregator could."""
    uow = server.uow()
    try:
        salt = service.push_salt(uow)
    finally:
        await uow.close()
    param = json.dumps(body, ensure_ascii=False)
    return {"param": param, "sign": md5_sign(param, salt)}


def last_result(nu: str, com: str, state: str, scans: list[tuple[str, str, str]]) -> dict[str, Any]:
    data = [
        {"time": t, "ftime": t, "context": c, "location": "上海", "statusCode": code}
        for t, c, code in scans
    ]
    return {"status": "polling", "lastResult": {"nu": nu, "com": com, "state": state, "data": data}}


# --- carriers and selection ---------------------------------------------------------------------


async def test_default_carriers_are_seeded_once_and_ranked_for_a_lane(server: LiveServer) -> None:
    await call(server, service.ensure_default_carriers)
    assert await call(server, service.ensure_default_carriers) == []
    codes = {c.code for c in await call(server, service.list_carriers)}
    assert {"shunfeng", "zhongtong", "yuantong", "jd", "ems"} <= codes
    to_tibet = await call(
        server, service.quote_carriers, origin=HANGZHOU, destination=Place("西藏", "拉萨"),
        weight_g=1200,
    )  # fmt: skip
    assert {q.code for q in to_tibet}.isdisjoint({"zhongtong", "yuantong"})
    assert [q.score for q in to_tibet] == sorted((q.score for q in to_tibet), reverse=True)


# --- the journey: booking, scans, status, ETA -------------------------------------------------


async def test_a_booked_parcel_is_tracked_to_delivery_with_a_moving_eta(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    booked = await ship(server, carrier_sandbox, destination=CHENGDU, manual=True)
    assert booked.booking == "booked" and booked.eta is not None
    assert await events(server, "shipment.booked", booked.reference) == 1
    nu = booked.tracking_number or ""

    async def journey_over() -> dict[str, Any] | None:
        found = await parcel(carrier_sandbox, nu)
        return found if found["status"] == "done" else None

    total = len((await eventually(journey_over))["scans"])
    seen: list[ShipmentInfo] = []
    async with carrier_sandbox.client() as client:
        for upto in range(1, total + 1):  # the aggregator's pushes, one scan more each time
            answer = await client.post(f"/sandbox/parcels/{nu}/push", json={"upto": upto})
            assert answer.json() == {"accepted": True}
            await settled(server, nu)
            seen.append(await shipment(server, booked.reference))
    ranks = [RANK[s.status] for s in seen]
    assert ranks == sorted(ranks) and seen[0].status == ShipmentStatus.PICKED_UP
    done = seen[-1]
    assert done.status == ShipmentStatus.DELIVERED and len(done.scans) == total
    assert done.delivered_at is not None and done.eta is None  # nothing left to estimate
    ranges = {(s.eta.stage, s.eta.earliest, s.eta.latest) for s in [booked, *seen] if s.eta}
    assert len({stage for stage, _, _ in ranges}) >= 4  # booked → … → out for delivery
    assert all(s.eta.earliest <= s.eta.latest for s in seen if s.eta)
    assert await events(server, "shipment.picked_up", booked.reference) == 1
    assert await events(server, "shipment.delivered", booked.reference) == 1


async def test_a_duplicate_or_older_push_changes_nothing(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    info = await ship(server, carrier_sandbox)
    done = await reaches(server, info.reference, ShipmentStatus.DELIVERED)
    changes = await events(server, "shipment.status_changed", info.reference)
    nu = info.tracking_number or ""
    await settled(server, nu)
    stored = await count(server, "logistics_tracking_inbox", "tracking_number = :n", n=nu)
    async with carrier_sandbox.client() as client:
        again = await client.post(f"/sandbox/parcels/{nu}/push", json={})
        older = await client.post(f"/sandbox/parcels/{nu}/push", json={"upto": 2})
    assert again.json() == {"accepted": True} and older.json() == {"accepted": True}
    await settled(server, nu)
    after = await shipment(server, info.reference)
    assert (after.status, len(after.scans)) == (done.status, len(done.scans))
    assert await events(server, "shipment.status_changed", info.reference) == changes
    # The same content again is the same row; an older snapshot not seen before is one more
    # row, applied as a duplicate.
    added = await count(server, "logistics_tracking_inbox", "tracking_number = :n", n=nu) - stored
    duplicates = await count(
        server,
        "logistics_tracking_inbox",
        "tracking_number = :n AND outcome LIKE 'duplicate%'",
        n=nu,
    )
    assert added <= 1 and duplicates == added


async def test_an_out_of_order_scan_is_stored_but_does_not_regress(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    info = await ship(server, carrier_sandbox)
    done = await reaches(server, info.reference, ShipmentStatus.DELIVERED)
    assert done.picked_up_at is not None
    early = signing.format_protocol_time(done.picked_up_at + timedelta(minutes=30))
    late_scan = (early, "快件在分拣中心补录扫描", "0")
    body = last_result(info.tracking_number or "", info.carrier_code, "0", [late_scan])
    answer = await push(server, await signed(server, body))
    assert answer.json()["returnCode"] == "200"
    await settled(server, info.tracking_number or "")
    after = await shipment(server, info.reference)
    assert after.status == ShipmentStatus.DELIVERED
    assert len(after.scans) == len(done.scans) + 1


# --- pushes we must not trust, or cannot place ------------------------------------------------


async def test_a_push_with_a_bad_signature_is_rejected_and_not_stored(server: LiveServer) -> None:
    body = last_result("SF000000000001", "shunfeng", "3", [("2026-11-11 10:00:00", "签收", "3")])
    form = await signed(server, body)
    form["sign"] = "0" * 32
    answer = await push(server, form)
    assert answer.status_code == 400
    assert answer.json()["result"] is False and answer.json()["returnCode"] == "400"
    kept = await count(server, "logistics_tracking_inbox", "tracking_number = 'SF000000000001'")
    assert kept == 0
    malformed = await push(server, {"param": "{not json", "sign": "x"})
    assert malformed.status_code == 400
    missing = await push(server, {"sign": "x"})
    assert missing.status_code == 400


async def test_a_push_for_an_unknown_tracking_number_is_kept_and_acknowledged(
    server: LiveServer, unique: str
) -> None:
    nu = f"ZZ{unique}"
    body = last_result(nu, "zhongtong", "0", [("2026-11-11 10:00:00", "已揽收", "1")])
    answer = await push(server, await signed(server, body))
    assert answer.status_code == 200 and answer.json()["message"] == "成功"
    await settled(server, nu)
    kept = await count(
        server,
        "logistics_tracking_inbox",
        "tracking_number = :n AND shipment_id IS NULL AND status = 'orphan'",
        n=nu,
    )
    assert kept == 1
    assert await count(server, "logistics_shipments", "tracking_number = :n", n=nu) == 0


# --- exceptions -------------------------------------------------------------------------------


async def test_a_delayed_parcel_opens_a_stale_case_through_the_detection_job(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    info = await ship(server, carrier_sandbox, fate="delay", delay_hours=5000)
    moving = await reaches(server, info.reference, ShipmentStatus.IN_TRANSIT)
    last_scan = await scalar(
        server,
        "SELECT last_scan_at FROM logistics_shipments WHERE reference = :r",
        r=info.reference,
    )
    assert moving.status == ShipmentStatus.IN_TRANSIT and last_scan is not None
    if isinstance(last_scan, str):
        last_scan = datetime.fromisoformat(last_scan).replace(tzinfo=UTC)
    later = last_scan.replace(tzinfo=UTC) + timedelta(hours=49)
    opened = await call(server, service.detect_exceptions, now=later)
    assert opened >= 1
    cases = await call(server, service.list_exception_cases, reference=info.reference)
    assert [c.kind for c in cases] == [ExceptionKind.STALE_IN_TRANSIT]
    assert await events(server, "shipment.exception", info.reference) == 1
    await call(server, service.detect_exceptions, now=later)  # the same episode: nothing new
    assert len(await call(server, service.list_exception_cases, reference=info.reference)) == 1
    resolved = await call(
        server, service.resolve_exception, case_id=cases[0].case_id,
        resolution=Resolution.CHASE, actor="ops", note="催促承运商",
    )  # fmt: skip
    assert resolved.status == CaseStatus.RESOLVED and "催促" in resolved.notes


async def test_a_lost_parcel_opens_a_lost_case(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    info = await ship(server, carrier_sandbox, fate="lost")
    await reaches(server, info.reference, ShipmentStatus.LOST)
    await call(server, service.detect_exceptions)
    cases = await call(server, service.list_exception_cases, reference=info.reference)
    assert [c.kind for c in cases] == [ExceptionKind.LOST]
    claim = await call(
        server, service.resolve_exception, case_id=cases[0].case_id,
        resolution=Resolution.CLAIM, actor="ops", claim_fen=19900,
    )  # fmt: skip
    assert claim.claim_fen == 19900


async def test_an_interception_turns_the_parcel_back(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    info = await ship(server, carrier_sandbox, fate="delay", delay_hours=5000)
    await reaches(server, info.reference, ShipmentStatus.IN_TRANSIT)
    await call(server, service.request_interception, reference=info.reference, reason="买家取消")
    back = await reaches(server, info.reference, ShipmentStatus.RETURNING, ShipmentStatus.RETURNED)
    assert back.status in (ShipmentStatus.RETURNING, ShipmentStatus.RETURNED)
    assert await events(server, "shipment.interception_result", info.reference) == 1


# --- scorecards -------------------------------------------------------------------------------


async def test_a_carrier_breaching_its_agreement_goes_on_probation(
    server: LiveServer, carrier_sandbox: CarrierSandbox, unique: str
) -> None:
    from kuaidan.logistics.domain.carriers import PenaltyTerms, ServiceAgreement
    from kuaidan.logistics.domain.defaults import DEFAULT_CARRIERS

    code = f"slow{unique}"
    template = DEFAULT_CARRIERS[0]
    promise = dict.fromkeys(template.agreement.promise_days, 1)
    terms = PenaltyTerms(min_shipments=3, on_time_floor=0.0, intact_floor=0.0)
    profile = type(template)(
        code, "慢递测试", template.status, (), template.area, template.prices,
        ServiceAgreement(promise, 0.9, 0.99, 4.0, terms),
    )  # fmt: skip
    await call(server, service.add_carrier, profile=profile)
    shipped = [
        await ship(
            server,
            carrier_sandbox,
            fate="delay",
            delay_hours=40,
            carrier_code=code,
            simulated_stamps=True,
        )
        for _ in range(3)
    ]
    for info in shipped:
        await reaches(server, info.reference, ShipmentStatus.DELIVERED)
    await call(server, service.rate_delivery, reference=shipped[0].reference, buyer_id=42, stars=2)
    now = datetime.now(UTC)
    cards = await call(
        server, service.compute_scorecards, start=now - timedelta(days=1),
        end=now + timedelta(days=90), apply_penalties=True, carrier_codes={code},
    )  # fmt: skip
    [card] = cards
    assert (card.card.shipments, card.card.delivered, card.card.on_time) == (3, 3, 0)
    assert card.card.satisfaction == 2.0 and "on_time" in card.breaches
    assert (await call(server, service.get_carrier, code=code)).status == "probation"
    assert await events(server, "carrier.status_changed", code) == 1
    accuracy = await call(
        server, service.eta_accuracy_report, since=now - timedelta(days=1),
        until=now + timedelta(days=90), carrier_code=code,
    )  # fmt: skip
    assert accuracy.predictions >= 3
