"""``kuaidan bench placement``: the cost of one checkout inside the process, without TLS, the
HTTP server or other load: CPU and SQL statements per placed order, optionally a profile.

The checkout goes through the whole application (middleware, authentication, the JSON API) via
an in-memory ASGI transport, one order after another, so what it measures is the code a
request runs, not the machine's contention. The in-process worker is off: the orders' events
wait in the outbox, as they would for a separate ``kuaidan worker``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event

from kuaidan.app import create_app
from kuaidan.bench.load import spread_items
from kuaidan.bench.report import Report
from kuaidan.bench.runner import container_of, load_fixture
from kuaidan.bench.stats import Recorder, summarise
from kuaidan.config import Settings

WARMUP = 20


@dataclass
class _Statements:
    total: int = 0
    by_shape: Counter[str] = field(default_factory=Counter)

    def count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.total += 1
        self.by_shape[statement[:120]] += 1  # normalised once, at the end

    def commonest(self, per: int) -> dict[str, float]:
        merged: Counter[str] = Counter()
        for shape, n in self.by_shape.items():
            merged[" ".join(shape.split())[:90]] += n
        return {shape: round(n / per, 1) for shape, n in merged.most_common(12)}


async def run_placement(
    settings: Settings, *, orders: int, profile: bool = False
) -> tuple[Report, str | None]:
    """Place ``orders`` checkouts one by one: CPU ms and statements per order, the commonest
    statements, and (with ``profile``) a pyinstrument text profile of the run."""
    fixture = load_fixture(settings)
    settings = settings.model_copy(update={"run_worker_in_process": False})
    rng = random.Random(7)
    recorder = Recorder()
    async with container_of(settings) as container:
        app = create_app(container=container)
        seen = _Statements()
        engine = container.db.engine.sync_engine
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:

            async def place(i: int) -> None:
                buyer = fixture.buyers[i % len(fixture.buyers)]
                body = {"items": spread_items(rng, fixture.skus), "address_id": buyer.address_id}
                headers = {
                    "Authorization": f"Bearer {buyer.token}",
                    "Idempotency-Key": uuid.uuid4().hex,
                }
                started = time.perf_counter()
                answer = await client.post("/api/v1/checkouts", json=body, headers=headers)
                recorder.record(
                    "ok" if answer.status_code == 201 else f"http_{answer.status_code}",
                    time.perf_counter() - started,
                )
                if answer.status_code != 201:
                    raise SystemExit(f"checkout refused: {answer.status_code} {answer.text}")

            for i in range(WARMUP):
                await place(i)
            recorder = Recorder()
            profiler = _profiler() if profile else None
            event.listen(engine, "before_cursor_execute", seen.count)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                for i in range(orders):
                    await place(WARMUP + i)
            finally:
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                event.remove(engine, "before_cursor_execute", seen.count)
            if profiler is not None:
                profiler.stop()
    text = profiler.output_text(unicode=False, color=False) if profiler is not None else None
    backend = "sqlite" if container.db.is_sqlite else "postgres"
    figure = summarise(
        recorder,
        scenario="placement (in-process)",
        backend=backend,
        concurrency=1,
        duration_s=wall,
        extra={
            "cpu_ms_per_order": round(cpu * 1000 / orders, 2),
            "statements_per_order": round(seen.total / orders, 1),
        },
    )
    report = Report(
        command="placement",
        figures=[figure],
        checks={"statements per order, commonest": seen.commonest(orders)},
    )
    return report, text


def _profiler() -> Any:
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled")
    profiler.start()
    return profiler
