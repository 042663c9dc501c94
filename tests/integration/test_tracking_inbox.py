"""The tracking inbox: pushes are verified and stored at once, and applied in batches.

Over real HTTPS to the real server (whose in-process worker runs the apply job), and, where a
test must control when pushes are applied, on a database of its own with no worker: there the
test runs the apply step itself, also twice at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import JSON, text

from kuaidan.bootstrap import Container, build_container
from kuaidan.config import Settings
from kuaidan.logistics import jobs, service
from kuaidan.logistics.adapters.kuaidi100 import md5_sign
from kuaidan.logistics.bench import JOURNEY as BENCH_JOURNEY
from kuaidan.logistics.domain import Place, ShipmentStatus
from kuaidan.logistics.domain.tracking import RANK
from tests.conftest import LiveServer, eventually, isolated_database

PUSH_PATH = "/api/v1/logistics/callbacks/kuaidi100"
HANGZHOU, GUANGZHOU = Place("浙江", "杭州"), Place("广东", "广州")
JOURNEY = (  # (time, context, statusCode)
    ("2026-11-10 09:00:00", "【杭州】快件已揽收", "103"),
    ("2026-11-10 21:00:00", "快件已到达【杭州转运中心】", "1002"),
    ("2026-11-11 15:00:00", "快件已到达【广州】派件城市", "1001"),
    ("2026-11-12 08:00:00", "【广州】快递员正在派件", "5"),
    ("2026-11-12 11:00:00", "快件已签收", "301"),
)
STATES = ("1", "0", "0", "5", "3")


def body_of(nu: str, scans: list[tuple[str, str, str]], state: str) -> dict[str, Any]:
    data = [
        {"time": t, "ftime": t, "context": c, "location": "广州", "statusCode": code}
        for t, c, code in reversed(scans)  # newest first, as the aggregator sends them
    ]
    result = {"nu": nu, "com": "zhongtong", "state": state, "data": data}
    return {"status": "polling", "lastResult": result}


def form_of(body: dict[str, Any], salt: str) -> dict[str, str]:
    param = json.dumps(body, ensure_ascii=False)
    return {"param": param, "sign": md5_sign(param, salt)}


def snapshot(nu: str, upto: int, salt: str) -> dict[str, str]:
    """The aggregator's push after ``upto`` scans of the journey."""
    return form_of(body_of(nu, list(JOURNEY[:upto]), STATES[upto - 1]), salt)


async def salt_of(container: Container) -> str:
    uow = container.unit_of_work()
    try:
        return service.push_salt(uow)
    finally:
        await uow.close()


async def track(container: Container, nu: str) -> str:
    """A parcel the merchant booked itself; returns the shipment's reference."""
    uow = container.unit_of_work()
    try:
        await service.ensure_default_carriers(uow=uow)
        info = await service.track_shipment(
            uow=uow, merchant_id=3, carrier_code="zhongtong", tracking_number=nu,
            origin=HANGZHOU, destination=GUANGZHOU, weight_g=900,
        )  # fmt: skip
    finally:
        await uow.close()
    return info.reference


async def scalar(container: Container, sql: str, **params: Any) -> Any:
    uow = container.unit_of_work()
    try:
        return await uow.session.scalar(text(sql), params)
    finally:
        await uow.close()


async def inbox_rows(container: Container, nu: str, status: str | None = None) -> int:
    where = "tracking_number = :n" + (" AND status = :s" if status else "")
    sql = f"SELECT count(*) FROM logistics_tracking_inbox WHERE {where}"
    return int(await scalar(container, sql, n=nu, s=status) or 0)


async def scans(container: Container, reference: str) -> int:
    sql = (
        "SELECT count(*) FROM logistics_scans c JOIN logistics_shipments s "
        "ON s.id = c.shipment_id WHERE s.reference = :r"
    )
    return int(await scalar(container, sql, r=reference) or 0)


EVENTS = text(
    "SELECT topic, payload FROM outbox_events WHERE key = :k AND topic LIKE 'shipment.%' "
    "ORDER BY id"
).columns(payload=JSON)


async def events(container: Container, reference: str) -> list[tuple[str, dict[str, Any]]]:
    uow = container.unit_of_work()
    try:
        rows = (await uow.session.execute(EVENTS, {"k": reference})).all()
    finally:
        await uow.close()
    return [(topic, payload) for topic, payload in rows]


def assert_events_once_and_forward(found: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """No event twice, and every status change to a higher rank: returns the statuses."""
    topics = [t for t, _ in found if t != "shipment.status_changed"]
    assert len(topics) == len(set(topics)), topics
    statuses = [p["status"] for t, p in found if t == "shipment.status_changed"]
    assert len(statuses) == len(set(statuses)), statuses
    ranks = [RANK[ShipmentStatus(s)] for s in statuses]
    assert ranks == sorted(ranks), statuses
    return statuses


async def settled(container: Container, nu: str) -> None:
    async def nothing_pending() -> bool:
        return await inbox_rows(container, nu, "pending") == 0

    await eventually(nothing_pending)


# --- through the server: HTTPS in, the in-process worker applies ------------------------------


async def test_the_same_push_twice_is_one_row_one_scan_one_event(
    server: LiveServer, unique: str
) -> None:
    nu = f"IN{unique}".upper()
    reference = await track(server.container, nu)
    form = snapshot(nu, 1, await salt_of(server.container))
    async with server.client() as client:
        answers = await asyncio.gather(*(client.post(PUSH_PATH, data=form) for _ in range(2)))
        again = await client.post(PUSH_PATH, data=form)
    for answer in [*answers, again]:
        assert answer.status_code == 200
        assert answer.json() == {"result": True, "returnCode": "200", "message": "成功"}
    await settled(server.container, nu)
    assert await inbox_rows(server.container, nu) == 1
    assert await inbox_rows(server.container, nu, "applied") == 1
    assert await scans(server.container, reference) == 1
    found = await events(server.container, reference)
    assert [t for t, _ in found].count("shipment.picked_up") == 1
    assert assert_events_once_and_forward(found) == ["picked_up"]


async def test_out_of_order_pushes_never_move_the_status_back(
    server: LiveServer, unique: str
) -> None:
    nu = f"OO{unique}".upper()
    reference = await track(server.container, nu)
    salt = await salt_of(server.container)
    async with server.client() as client:
        for upto in (4, 2, 5, 1, 3):  # newest snapshots first, older ones after
            answer = await client.post(PUSH_PATH, data=snapshot(nu, upto, salt))
            assert answer.status_code == 200
        await settled(server.container, nu)
        late = body_of(nu, [("2026-11-10 22:00:00", "快件在分拣中心补录扫描", "1002")], "0")
        assert (await client.post(PUSH_PATH, data=form_of(late, salt))).status_code == 200
    await settled(server.container, nu)
    info = await service_call(server.container, service.get_shipment, reference=reference)
    assert info.status == ShipmentStatus.DELIVERED
    assert len(info.scans) == len(JOURNEY) + 1  # the late scan is stored, not applied backwards
    assert await inbox_rows(server.container, nu, "applied") == 6
    found = await events(server.container, reference)
    assert assert_events_once_and_forward(found)[-1] == "delivered"
    assert [t for t, _ in found].count("shipment.delivered") == 1


async def service_call(container: Container, fn: Any, **kwargs: Any) -> Any:
    uow = container.unit_of_work()
    try:
        return await fn(uow=uow, **kwargs)
    finally:
        await uow.close()


async def test_a_push_for_an_unknown_number_is_applied_when_the_shipment_appears(
    server: LiveServer, unique: str
) -> None:
    nu = f"UK{unique}".upper()
    salt = await salt_of(server.container)
    async with server.client() as client:
        answer = await client.post(PUSH_PATH, data=snapshot(nu, 2, salt))
    assert answer.status_code == 200
    await settled(server.container, nu)
    assert await inbox_rows(server.container, nu, "orphan") == 1
    reference = await track(server.container, nu)  # the orphan goes back to the queue
    await settled(server.container, nu)
    assert await inbox_rows(server.container, nu, "applied") == 1
    assert await scans(server.container, reference) == 2
    info = await service_call(server.container, service.get_shipment, reference=reference)
    assert info.status == ShipmentStatus.IN_TRANSIT


async def test_unsigned_or_malformed_pushes_are_refused_logged_and_not_stored(
    server: LiveServer, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kuaidan")
    nu = f"BAD{unique}".upper()
    salt = await salt_of(server.container)
    good = snapshot(nu, 1, salt)
    not_json = "{not json"
    no_result = json.dumps({"status": "polling"})
    cases = [
        {**good, "sign": "0" * 32},  # badly signed
        {"param": good["param"]},  # unsigned
        {"sign": good["sign"]},  # no param
        {"param": not_json, "sign": md5_sign(not_json, salt)},  # signed, but not JSON
        {"param": no_result, "sign": md5_sign(no_result, salt)},  # signed, no lastResult
        form_of(body_of(nu, [("yesterday", "?", "1")], "1"), salt),  # a time we cannot read
        form_of(body_of("", [JOURNEY[0]], "1"), salt),  # no tracking number
        form_of(body_of(nu, [JOURNEY[0]], "123456"), salt),  # a state that is no state
    ]
    async with server.client() as client:
        answers = [await client.post(PUSH_PATH, data=form) for form in cases]
        junk = await client.post(
            PUSH_PATH, content=b"\xff\xfe", headers={"content-type": "text/plain"}
        )
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["result"] is False and answer.json()["returnCode"] == "400"
    assert junk.status_code == 400
    assert await inbox_rows(server.container, nu) == 0
    rejected = [r for r in caplog.records if "rejected a tracking push" in r.getMessage()]
    assert len(rejected) >= len(cases) + 1


# --- on a database of its own: the test runs the apply step -----------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def quiet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Container]:
    """A migrated database with no worker running: pushes wait until the test applies them."""
    async with isolated_database(request.param, tmp_path_factory) as settings:
        container = build_container(settings.model_copy(update={"db_pool_size": 4}))
        try:
            yield container
        finally:
            await container.aclose()


async def accept(container: Container, form: dict[str, str]) -> None:
    uow = container.unit_of_work()
    try:
        await service.accept_push(uow=uow, param=form["param"], sign=form["sign"])
    finally:
        await uow.close()


async def apply_until_empty(container: Container, *, limit: int) -> int:
    uow = container.unit_of_work()
    total = 0
    try:
        while (outcome := await service.apply_pushes(uow=uow, limit=limit)).claimed:
            total += outcome.claimed
    finally:
        await uow.close()
    return total


async def run_job(container: Container, *, batch: int) -> None:
    """One run of the apply job, as a worker runs it: with a unit of work of its own."""
    uow = container.unit_of_work()
    try:
        await jobs.apply_tracking_pushes(batch)(uow)
    finally:
        await uow.close()


async def test_a_push_that_cannot_be_applied_goes_dead_without_blocking_the_others(
    quiet: Container, unique: str
) -> None:
    salt = await salt_of(quiet)
    numbers = [f"DP{unique}{i}".upper() for i in range(3)]
    for nu in numbers:
        await track(quiet, nu)
    poison = numbers[1]  # a scan dated at the end of time: its ETA cannot be computed
    await accept(quiet, snapshot(numbers[0], 2, salt))
    await accept(
        quiet, form_of(body_of(poison, [("9999-12-31 20:00:00", "揽收", "103")], "1"), salt)
    )
    await accept(quiet, snapshot(numbers[2], 3, salt))
    assert await apply_until_empty(quiet, limit=200) == 3
    assert [await inbox_rows(quiet, nu, "applied") for nu in numbers] == [1, 0, 1]
    assert await inbox_rows(quiet, poison, "dead") == 1
    status = await service_call(quiet, service.inbox_status)
    assert status.counts.get("dead") == 1 and status.counts.get("pending", 0) == 0
    [dead] = status.dead
    assert dead.tracking_number == poison and dead.error and "Error" in dead.error
    shown = kuaidan(quiet.settings, "logistics", "inbox")
    assert f"dead push #{dead.push_id} zhongtong {poison}" in shown
    assert await service_call(quiet, service.retry_dead_pushes) == 1
    assert await inbox_rows(quiet, poison, "pending") == 1


async def test_concurrent_accepts_and_two_appliers_apply_each_push_exactly_once(
    quiet: Container, unique: str
) -> None:
    salt = await salt_of(quiet)
    numbers = [f"CC{unique}{i:02d}".upper() for i in range(12)]
    references = [await track(quiet, nu) for nu in numbers]
    forms = [snapshot(nu, upto, salt) for upto in range(1, 6) for nu in numbers]
    # Every push twice, all at once, each accept with a unit of work of its own.
    await asyncio.gather(*(accept(quiet, form) for form in forms + forms[::-1]))
    for nu in numbers:
        assert await inbox_rows(quiet, nu, "pending") == len(JOURNEY)
    await asyncio.gather(run_job(quiet, batch=7), run_job(quiet, batch=7))  # two job runs at once
    for nu, reference in zip(numbers, references, strict=True):
        assert await inbox_rows(quiet, nu, "applied") == len(JOURNEY)
        assert await scans(quiet, reference) == len(JOURNEY)
        found = await events(quiet, reference)
        assert assert_events_once_and_forward(found)[-1] == "delivered"
        assert [t for t, _ in found].count("shipment.picked_up") == 1


def kuaidan(settings: Settings, *args: str) -> str:
    """Run the ``kuaidan`` command on this database; returns what it printed."""
    env = {
        **os.environ,
        "KUAIDAN_DATA_DIR": str(settings.data_dir),
        "KUAIDAN_DATABASE_URL": settings.effective_database_url,
        "KUAIDAN_LOG_LEVEL": "warning",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kuaidan", *args],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


# --- the bench command, at a tiny scale ------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def bench_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    async with isolated_database(request.param, tmp_path_factory) as settings:
        yield settings


def test_bench_callbacks_over_https_finds_nothing_lost_or_doubled(bench_db: Settings) -> None:
    args = ["callbacks", "--parcels", "8", "--concurrency", "4", "--workers", "1", "--json"]
    report = json.loads(kuaidan(bench_db, "bench", *args))
    accepted, applied = report["figures"]
    distinct = 8 * len(BENCH_JOURNEY)
    assert accepted["ok"] == 2 * distinct and applied["ok"] == distinct  # every push twice
    checks = report["checks"]
    assert checks["distinct pushes stored"] == f"{distinct} of {distinct}"
    assert checks["scans stored"] == f"{distinct} of {distinct}"
    assert checks["duplicate events"] == 0 and checks["status regressions"] == 0
