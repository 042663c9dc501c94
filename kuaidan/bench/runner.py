"""The bench scenarios: each runs its load against a server (given or spawned), measures the
database's own limit in the same run, and returns a :class:`Report`."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url

from kuaidan.bench import prepare as prep
from kuaidan.bench.dblimit import DbLimitPlan, run_db_limit
from kuaidan.bench.load import Target, checkout_load, flash_load, no_cpu, orders_exist
from kuaidan.bench.report import Report
from kuaidan.bench.spawn import SERVE, SpawnedServer, ca_of, postgres_cpu_seconds
from kuaidan.bench.stats import Figures, Recorder, summarise
from kuaidan.bench.verify import check_sale
from kuaidan.bootstrap import Container, build_container
from kuaidan.config import Settings

Tick = Callable[[], None]
# A database on one of these hosts runs on this machine, where its processes can be read.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


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

    def database_cpu(self) -> Callable[[], float]:
        """How to read the database server's CPU seconds: a PostgreSQL on this machine only
        (SQLite runs inside the server's processes, a remote database cannot be read)."""
        url = make_url(self.settings.effective_database_url)
        if self.settings.is_sqlite or (url.host or "localhost") not in LOCAL_HOSTS:
            return no_cpu
        return postgres_cpu_seconds


@asynccontextmanager
async def target_of(
    options: RunOptions, *, command: tuple[str, ...] = SERVE
) -> AsyncIterator[Target]:
    """The server to load: the given URL, or one spawned for the run (``kuaidan serve``, or
    another ``command``) and stopped after it.

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
    server = SpawnedServer(
        options.settings, workers=options.workers, extra_env=options.server_env, command=command
    )
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


@dataclass
class CpuMeter:
    """CPU seconds of the server (when spawned) and of this process over a load phase.

    The load generator shares the machine with the server, so its own CPU per answer is
    reported beside the server's: together they bound the throughput the machine can reach.
    """

    target: Target
    database: Callable[[], float] = no_cpu
    server_s: float = 0.0
    client_s: float = 0.0
    database_s: float = 0.0

    def start(self) -> None:
        self.server_s = self.target.cpu_seconds()
        self.client_s = time.process_time()
        self.database_s = self.database()

    def stop(self) -> None:
        self.server_s = self.target.cpu_seconds() - self.server_s
        self.client_s = time.process_time() - self.client_s
        self.database_s = self.database() - self.database_s

    def figures(self, answers: int) -> dict[str, float]:
        """CPU of the phase, in total and per answer (server 0 when it was not spawned, the
        database 0 when it is not a PostgreSQL on this machine)."""
        figures = {
            "server_cpu_s": round(self.server_s, 2),
            "server_cpu_ms_per_answer": _per_answer_ms(self.server_s, answers),
            "client_cpu_s": round(self.client_s, 2),
            "client_cpu_ms_per_answer": _per_answer_ms(self.client_s, answers),
        }
        if self.database_s > 0:
            figures["database_cpu_s"] = round(self.database_s, 2)
            figures["database_cpu_ms_per_answer"] = _per_answer_ms(self.database_s, answers)
        return figures


def _per_answer_ms(cpu_s: float, answers: int) -> float:
    return round(cpu_s * 1000 / answers, 3) if answers and cpu_s > 0 else 0.0


async def db_limit(
    options: RunOptions, *, concurrency: int, duration_s: float, skus: int
) -> Figures:
    plan = DbLimitPlan(concurrency=concurrency, duration_s=duration_s, skus=skus)
    meter = CpuMeter(Target("", False), database=options.database_cpu())
    meter.start()
    figures = await run_db_limit(options.settings.effective_database_url, plan)
    meter.stop()
    database = meter.figures(figures.ok)
    figures.extra.update({k: v for k, v in database.items() if k.startswith("database")})
    return figures


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
        meter = CpuMeter(target, database=options.database_cpu())
        meter.start()
        elapsed = await checkout_load(
            target,
            fixture,
            concurrency=concurrency,
            duration_s=duration_s,
            recorder=recorder,
            tick=tick,
        )
        meter.stop()
    app = summarise(
        recorder,
        scenario="checkout",
        backend=options.backend,
        concurrency=concurrency,
        duration_s=elapsed,
        extra={"workers": options.workers, **meter.figures(recorder.total)},
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
    meter = CpuMeter(target, database=options.database_cpu())
    meter.start()
    elapsed, acked = await flash_load(
        target,
        buyers,
        sku_id=sku,
        concurrency=plan.concurrency,
        max_duration_s=plan.max_duration_s,
        recorder=recorder,
        tick=tick,
    )
    meter.stop()
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
        **meter.figures(recorder.total),
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
        meter = CpuMeter(target, database=options.database_cpu())
        meter.start()
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
        meter.stop()
    # Both loads share the server and this process, so their CPU is only known together.
    shared = {"cpu_of": "both loads", **meter.figures(recorder.total + flash.attempts)}
    report.figures += [
        summarise(
            recorder,
            scenario="checkout during flash sale",
            backend=options.backend,
            concurrency=concurrency,
            duration_s=elapsed,
            extra={"workers": options.workers, **shared},
        ),
        flash,
    ]
    report.checks.update(checks)
    return report


FLOOR_SERVER = ("bench", "floor-server")
FLOOR_BUYERS = 2000


@dataclass(frozen=True)
class FloorPlan:
    """The floor's load: ``concurrency`` buyers for ``duration_s``, or ``requests`` answers."""

    concurrency: int
    duration_s: float
    requests: int | None = None


def floor_buyers(requests: int | None) -> Iterable[prep.BenchBuyer]:
    """Made-up buyers shaped like prepared ones (the floor checks no token), in turn, for
    ``requests`` attempts or without end."""
    buyers = [
        prep.BenchBuyer(user_id=i, token=f"kd_{secrets.token_urlsafe(32)}", address_id=i)
        for i in range(1, FLOOR_BUYERS + 1)
    ]
    endless = itertools.cycle(buyers)
    return endless if requests is None else itertools.islice(endless, requests)


async def run_floor(options: RunOptions, plan: FloorPlan, *, tick: Tick) -> Report:
    """The flash sale's load against the bare sold-out app (no framework, no database)."""
    recorder = Recorder()
    async with target_of(options, command=FLOOR_SERVER) as target:
        meter = CpuMeter(target)
        meter.start()
        elapsed, _ = await flash_load(
            target,
            floor_buyers(plan.requests),
            sku_id=1,
            concurrency=plan.concurrency,
            max_duration_s=plan.duration_s,
            recorder=recorder,
            tick=tick,
        )
        meter.stop()
    figures = summarise(
        recorder,
        scenario="floor",
        backend="none",
        concurrency=plan.concurrency,
        duration_s=elapsed,
        extra={"workers": options.workers, **meter.figures(recorder.total)},
    )
    return Report(command="floor", figures=[figures])
