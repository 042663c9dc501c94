"""``kuaidan bench callbacks``: Kuaidi100-style tracking pushes at a server (or straight into
the accept use case), every push twice and some out of order; then the apply step is waited
for, timed, and the database is asked whether anything was lost, doubled or went backwards.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import JSON, text

from kuaidan.bench.report import Report
from kuaidan.bench.spawn import SpawnedServer
from kuaidan.bench.stats import Recorder, summarise
from kuaidan.bootstrap import Container, build_container
from kuaidan.config import Settings
from kuaidan.logistics import bench, service
from kuaidan.logistics.domain import ShipmentStatus
from kuaidan.logistics.domain.tracking import RANK

Send = Callable[[dict[str, str]], Awaitable[str]]
Tick = Callable[..., None]
DRAIN_POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class CallbackOptions:
    over: str = "http"  # http: a spawned `serve --workers N`; service: the use cases, no HTTP
    workers: int = 2
    appliers: int = 2  # service: concurrent apply loops
    drain_timeout_s: float = 600.0


async def drive(send: Send, pushes: list[dict[str, str]], concurrency: int, tick: Tick) -> Recorder:
    """Send every push with ``concurrency`` senders; each answer is timed by its outcome."""
    queue = iter(pushes)
    recorder = Recorder()

    async def sender() -> None:
        for form in queue:
            began = time.perf_counter()
            outcome = await send(form)
            recorder.record(outcome, time.perf_counter() - began, at=time.perf_counter())
            tick()

    # A task group, not a bare gather: when one sender fails, the others are cancelled and
    # awaited before the caller disposes of the engine, so no sender keeps a connection that
    # has gone back to the pool (asyncpg: "another operation is in progress").
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(sender())
    return recorder


async def _over_https(
    settings: Settings,
    pushes: list[dict[str, str]],
    plan: bench.BenchPlan,
    workers: int,
    tick: Tick,
) -> tuple[Recorder, float, SpawnedServer, float]:
    server = SpawnedServer(settings, workers=workers, extra_env={})
    await asyncio.to_thread(server.start)
    baseline = server.cpu_seconds()  # starting up is not part of the figure
    context = ssl.create_default_context(cafile=str(server.ca))
    # One connection per sender, as an aggregator's push workers would hold.
    clients = [
        httpx.AsyncClient(base_url=server.base_url, verify=context, timeout=30.0)
        for _ in range(plan.concurrency)
    ]
    free = list(clients)

    async def send(form: dict[str, str]) -> str:
        client = free.pop()
        try:
            for _ in range(3):  # as the aggregator would: a dropped connection is retried
                try:
                    answer = await client.post(service.CALLBACK_PATH, data=form)
                except httpx.TransportError:
                    continue
                return "ok" if answer.status_code == 200 else f"http_{answer.status_code}"
            return "transport_error"
        finally:
            free.append(client)

    try:
        began = time.perf_counter()
        recorder = await drive(send, pushes, plan.concurrency, tick)
        return recorder, time.perf_counter() - began, server, baseline
    finally:
        for client in clients:
            await client.aclose()


async def _drain(container: Container, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not await bench.pending_pushes(container.unit_of_work):
            return True
        await asyncio.sleep(DRAIN_POLL_S)
    return False


EVENTS = text(
    "SELECT e.key, e.topic, e.payload FROM outbox_events e "
    "JOIN logistics_shipments s ON s.reference = e.key "
    "WHERE s.tracking_number LIKE :prefix AND e.topic LIKE 'shipment.%' ORDER BY e.id"
).columns(payload=JSON)


async def event_checks(container: Container, prefix: str) -> dict[str, Any]:
    """Per shipment: at most one event of each status and of pickup, one delivery, and each
    status change to a higher rank than the one before (never backwards)."""
    uow = container.unit_of_work()
    try:
        rows = (await uow.session.execute(EVENTS, {"prefix": prefix + "%"})).all()
    finally:
        await uow.close()
    topics: dict[tuple[str, str], int] = {}
    statuses: dict[str, list[str]] = {}
    for key, topic, payload in rows:
        topics[(key, topic)] = topics.get((key, topic), 0) + 1
        if topic == "shipment.status_changed":
            statuses.setdefault(key, []).append(str(payload["status"]))
    doubled = sum(
        1 for (_, topic), n in topics.items() if n > 1 and topic != "shipment.status_changed"
    )
    doubled += sum(len(s) - len(set(s)) for s in statuses.values())
    regressed = sum(
        1
        for chain in statuses.values()
        for a, b in itertools.pairwise(chain)
        if ShipmentStatus.PROBLEM not in (a, b)
        and RANK[ShipmentStatus(b)] <= RANK[ShipmentStatus(a)]
    )
    delivered = sum(1 for (_, topic), n in topics.items() if topic == "shipment.delivered")
    return {
        "events": len(rows),
        "duplicate events": doubled,
        "status regressions": regressed,
        "delivered events": delivered,
    }


def _apply_figures(
    lags: list[tuple[Any, float]], backend: str, concurrency: int, seconds: float | None
) -> Any:
    recorder = Recorder()
    for _, lag in lags:
        recorder.record("ok", lag)
    if seconds is None and lags:
        first = min(got for got, _ in lags)
        last = max((got.timestamp() + lag for got, lag in lags), default=first.timestamp())
        seconds = last - first.timestamp()
    return summarise(
        recorder,
        scenario="callbacks applied (lag from arrival)",
        backend=backend,
        concurrency=concurrency,
        duration_s=seconds or 0.0,
    )


async def run_callbacks(
    settings: Settings, plan: bench.BenchPlan, options: CallbackOptions, tick: Tick
) -> Report:
    backend = "sqlite" if settings.effective_database_url.startswith("sqlite") else "postgres"
    report = Report(command="callbacks")
    container = build_container(settings)
    server = None
    try:
        numbers = await bench.prepare(container.unit_of_work, plan, secrets.token_hex(3).upper())
        uow = container.unit_of_work()
        salt = service.push_salt(uow)
        await uow.close()
        pushes = bench.build_pushes(numbers, salt, plan)
        apply_seconds: float | None = None
        extra: dict[str, float] = {}
        if options.over == "service":
            recorder, seconds = await _accept_directly(container, pushes, plan, tick)
            began = time.perf_counter()
            batch = settings.logistics_inbox_batch
            async with asyncio.TaskGroup() as group:  # each applier its own unit of work
                for _ in range(options.appliers):
                    group.create_task(bench.apply_all(container.unit_of_work, batch=batch))
            apply_seconds, drained = time.perf_counter() - began, True
        else:
            cpu = time.process_time()
            recorder, seconds, server, baseline = await _over_https(
                settings, pushes, plan, options.workers, tick
            )
            sending_cpu = server.cpu_seconds() - baseline
            extra["load generator CPU ms per push sent"] = _per(time.process_time() - cpu, pushes)
            drained = await _drain(container, options.drain_timeout_s)
            extra["server CPU ms per push sent, while sending"] = _per(sending_cpu, pushes)
            extra["server CPU ms per push sent, until drained"] = _per(
                server.cpu_seconds() - baseline, pushes
            )
        scenario = (
            "callbacks accepted (https)"
            if options.over == "http"
            else "callbacks accepted (service)"
        )
        report.figures.append(
            summarise(
                recorder,
                scenario=scenario,
                backend=backend,
                concurrency=plan.concurrency,
                duration_s=seconds,
                extra=extra,
            )
        )
        lags = await bench.lags_s(container.unit_of_work, numbers)
        concurrency = options.appliers if options.over == "service" else options.workers
        report.figures.append(_apply_figures(lags, backend, concurrency, apply_seconds))
        report.checks.update(
            {"pushes sent": len(pushes), "inbox drained": drained}
            | await bench.audit(container.unit_of_work, numbers, plan)
            | await event_checks(container, numbers[0][:-7])
        )
        return report
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await container.aclose()


def _per(cpu_s: float, pushes: list[dict[str, str]]) -> float:
    return round(cpu_s * 1000 / len(pushes), 2) if pushes else 0.0


async def _accept_directly(
    container: Container, pushes: list[dict[str, str]], plan: bench.BenchPlan, tick: Tick
) -> tuple[Recorder, float]:
    async def send(form: dict[str, str]) -> str:
        return "ok" if await bench.accept_directly(container.unit_of_work, form) else "refused"

    began = time.perf_counter()
    recorder = await drive(send, pushes, plan.concurrency, tick)
    return recorder, time.perf_counter() - began


def problems(report: Report, plan: bench.BenchPlan) -> list[str]:
    """What the checks say went wrong (the command exits non-zero on any)."""
    checks = report.checks
    found = []
    if not checks.get("inbox drained"):
        found.append("the inbox did not drain")
    expected = f"{plan.distinct_pushes} of {plan.distinct_pushes}"
    if checks.get("distinct pushes stored") != expected:
        found.append(f"distinct pushes stored: {checks.get('distinct pushes stored')}")
    if checks.get("scans stored") != expected or checks.get("scans stored twice"):
        found.append(f"scans stored: {checks.get('scans stored')}")
    for name in ("duplicate events", "status regressions"):
        if checks.get(name):
            found.append(f"{name}: {checks.get(name)}")
    if checks.get("parcels delivered") != f"{plan.parcels} of {plan.parcels}":
        found.append(f"parcels delivered: {checks.get('parcels delivered')}")
    return found
