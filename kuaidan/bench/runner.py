"""The bench scenarios: each runs its load against a server (given or spawned), measures the
database's own limit in the same run, and returns a :class:`Report`."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kuaidan.bench import prepare as prep
from kuaidan.bench.dblimit import DbLimitPlan, run_db_limit
from kuaidan.bench.load import Target, checkout_load, flash_load, orders_exist
from kuaidan.bench.report import Report
from kuaidan.bench.spawn import SpawnedServer, ca_of
from kuaidan.bench.stats import Figures, Recorder, summarise
from kuaidan.bench.verify import check_sale
from kuaidan.bootstrap import Container, build_container
from kuaidan.config import Settings

Tick = Callable[[], None]


@dataclass(frozen=True)
class RunOptions:
    """Where the load goes: ``server_url``, or a server spawned with ``workers`` processes."""

    settings: Settings
    server_url: str | None = None
    workers: int = 2
    ca: Path | None = None
    insecure: bool = False
    server_env: dict[str, str] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        return "sqlite" if self.settings.is_sqlite else "postgres"


@asynccontextmanager
async def target_of(options: RunOptions) -> AsyncIterator[Target]:
    """The server to load: the given URL, or one spawned for the run and stopped after it.

    A spawned server's CPU seconds are counted (``Target.cpu_seconds``): CPU per order is a
    figure that a busy machine disturbs much less than throughput.
    """
    if options.server_url:
        verify: ssl.SSLContext | bool = not options.insecure
        if not options.insecure:
            verify = ssl.create_default_context(
                cafile=str(options.ca or ca_of(options.settings.data_dir))
            )
        yield Target(options.server_url.rstrip("/"), verify)
        return
    server = SpawnedServer(options.settings, workers=options.workers, extra_env=options.server_env)
    await asyncio.to_thread(server.start)
    try:
        context = ssl.create_default_context(cafile=str(server.ca))
        yield Target(server.base_url, context, cpu_seconds=server.cpu_seconds)
    finally:
        await asyncio.to_thread(server.stop)


@asynccontextmanager
async def container_of(settings: Settings) -> AsyncIterator[Container]:
    container = build_container(settings)
    try:
        yield container
    finally:
        await container.aclose()


def load_fixture(settings: Settings) -> prep.Fixture:
    path = prep.fixture_path(settings.data_dir)
    if not path.exists():
        raise SystemExit(f"no bench data in {path}: run `kuaidan bench prepare` first")
    return prep.Fixture.load(path)


def cpu_figures(cpu_s: float, answers: int) -> dict[str, float]:
    """Server CPU of the run, in total and per answer (0 when the server was not spawned)."""
    per = round(cpu_s * 1000 / answers, 2) if answers and cpu_s > 0 else 0.0
    return {"server_cpu_s": round(cpu_s, 2), "server_cpu_ms_per_answer": per}


async def db_limit(
    options: RunOptions, *, concurrency: int, duration_s: float, skus: int
) -> Figures:
    plan = DbLimitPlan(concurrency=concurrency, duration_s=duration_s, skus=skus)
    return await run_db_limit(options.settings.effective_database_url, plan)


async def run_db_limit_command(
    options: RunOptions, *, concurrency: int, duration_s: float, skus: int
) -> Report:
    report = Report(command="db-limit")
    for count in (skus, 1):
        report.figures.append(
            await db_limit(options, concurrency=concurrency, duration_s=duration_s, skus=count)
        )
    return report


async def run_checkout(
    options: RunOptions, *, concurrency: int, duration_s: float, tick: Tick
) -> Report:
    """Steady checkout over the spread SKUs, then the raw limit over as many SKUs."""
    fixture = load_fixture(options.settings)
    report = Report(command="checkout")
    recorder = Recorder()
    async with target_of(options) as target:
        cpu_before = target.cpu_seconds()
        elapsed = await checkout_load(
            target,
            fixture,
            concurrency=concurrency,
            duration_s=duration_s,
            recorder=recorder,
            tick=tick,
        )
        cpu = target.cpu_seconds() - cpu_before
    app = summarise(
        recorder,
        scenario="checkout",
        backend=options.backend,
        concurrency=concurrency,
        duration_s=elapsed,
        extra={"workers": options.workers, **cpu_figures(cpu, recorder.total)},
    )
    limit = await db_limit(
        options, concurrency=concurrency, duration_s=duration_s, skus=len(fixture.skus)
    )
    report.figures += [app, limit]
    report.add_ratio("checkout / db-limit spread", app, limit)
    return report


@dataclass(frozen=True)
class FlashPlan:
    buyers: int
    concurrency: int
    units: int
    per_buyer: int = 1
    max_duration_s: float = 120.0


async def _flash(
    options: RunOptions, container: Container, target: Target, plan: FlashPlan, tick: Tick
) -> tuple[Figures, dict[str, object]]:
    fixture = load_fixture(options.settings)
    sku = await prep.flash_sku(
        container, merchant_id=fixture.merchant_ids[-1], units=plan.units, limit=plan.per_buyer
    )
    buyers = [fixture.buyers[i % len(fixture.buyers)] for i in range(plan.buyers)]
    recorder = Recorder()
    cpu_before = target.cpu_seconds()
    elapsed, acked = await flash_load(
        target,
        buyers,
        sku_id=sku,
        concurrency=plan.concurrency,
        max_duration_s=plan.max_duration_s,
        recorder=recorder,
        tick=tick,
    )
    cpu = target.cpu_seconds() - cpu_before
    missing = await orders_exist(target, acked)
    sale = await check_sale(
        container, sku_id=sku, stock=plan.units, acknowledged=recorder.count("ok"), missing=missing
    )
    window = (recorder.last_ok or 0.0) - (recorder.first_ok or 0.0)
    accept_rate = round(recorder.count("ok") / window, 1) if window > 0 else 0.0
    extra: dict[str, object] = {
        "sku_id": sku,
        "units": plan.units,
        "buyers": plan.buyers,
        "accepted_rate_per_s": accept_rate,
        "orders_in_db": sale.orders_in_db,
        "oversold": sale.oversold,
        **cpu_figures(cpu, recorder.total),
    }
    figures = summarise(
        recorder,
        scenario="flash-sale",
        backend=options.backend,
        concurrency=plan.concurrency,
        duration_s=elapsed,
        extra=extra,
    )
    return figures, {"flash-sale problems": sale.problems or "none", **extra}


async def run_flash_sale(options: RunOptions, plan: FlashPlan, *, tick: Tick) -> Report:
    """Buyers race for a fresh SKU's units; the database is checked; the raw one-SKU limit."""
    report = Report(command="flash-sale")
    async with container_of(options.settings) as container, target_of(options) as target:
        figures, checks = await _flash(options, container, target, plan, tick)
    limit = await db_limit(options, concurrency=plan.concurrency, duration_s=5.0, skus=1)
    report.figures += [figures, limit]
    report.checks.update(checks)
    accepted = float(figures.extra["accepted_rate_per_s"])
    report.ratios["flash accepted rate / db-limit one-sku"] = (
        round(accepted / limit.rate_per_s, 3) if limit.rate_per_s else None
    )
    return report


async def run_mixed(
    options: RunOptions, plan: FlashPlan, *, concurrency: int, duration_s: float, tick: Tick
) -> Report:
    """Ordinary checkout for other merchants runs while a flash sale is on."""
    fixture = load_fixture(options.settings)
    report = Report(command="mixed")
    recorder = Recorder()
    async with container_of(options.settings) as container, target_of(options) as target:
        steady = checkout_load(
            target,
            fixture,
            concurrency=concurrency,
            duration_s=duration_s,
            recorder=recorder,
            tick=tick,
        )
        elapsed, (flash, checks) = await asyncio.gather(
            steady, _flash(options, container, target, plan, tick)
        )
    report.figures += [
        summarise(
            recorder,
            scenario="checkout during flash sale",
            backend=options.backend,
            concurrency=concurrency,
            duration_s=elapsed,
        ),
        flash,
    ]
    report.checks.update(checks)
    return report
