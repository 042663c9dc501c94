"""``kuaidan bench risk``: how fast the risk engine decides, in-process, on a real database.

A scratch database (SQLite in a temporary directory unless a URL is given) is migrated (so it
holds the default rule file's 17 rules and listed networks) and given a realistic history:
buyers with 90 days of successful payments, devices and IP addresses shared the way real
traffic shares them. Then one decision after another is timed through
``risk.service.assess``, the path ``payments.start_payment`` takes: gather the facts (about
eight reads), evaluate the rules, record the attempt, device and links, commit. The pure
``evaluate`` is timed on its own too.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kuaidan.bootstrap import Container, build_container
from kuaidan.config import Settings
from kuaidan.core.migrate import upgrade
from kuaidan.risk import service as risk
from kuaidan.risk.domain import RiskContext, Signals, evaluate

SEED = 20261125


class MovableClock:
    """The bench's clock: history is written in the past, decisions happen now."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


@dataclass
class RiskBenchResult:
    decisions: int
    buyers: int
    history_payments: int
    backend: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    commit_ms: list[float] = field(default_factory=list)
    evaluate_us: list[float] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)

    def percentile(self, values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def per_second(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0

    def _p(self, values: list[float], *ps: float, digits: int = 2) -> str:
        return " / ".join(f"{self.percentile(values, p):.{digits}f}" for p in ps)

    def lines(self) -> list[tuple[str, str]]:
        lat = self.latencies_ms
        return [
            ("backend", self.backend),
            ("rules", "the default rule file: 17 rules, 3 listed networks"),
            ("history", f"{self.buyers} buyers, {self.history_payments} paid payments"),
            ("decisions", str(self.decisions)),
            ("decision p50 / p99 / max (ms)", self._p(lat, 50, 99, 100)),
            ("decisions/s, one core", f"{1000 / statistics.fmean(lat):.0f}"),
            ("commit p50 / p99 (ms), own txn", self._p(self.commit_ms, 50, 99)),
            ("decisions/s, each committed", f"{self.per_second:.0f}"),
            ("evaluate() p50 / p99 (µs)", self._p(self.evaluate_us, 50, 99, digits=1)),
            ("actions", ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items()))),
        ]


@dataclass(frozen=True)
class _World:
    rng: random.Random
    buyers: int
    devices: list[str]
    ips: list[str]
    run: str = field(default_factory=lambda: f"{time.time_ns():x}")

    def context(self, buyer: int) -> RiskContext:
        rng = self.rng
        device = self.devices[buyer % len(self.devices)] if rng.random() < 0.9 else None
        if rng.random() < 0.05:
            device = f"fresh-device-{rng.getrandbits(48):012x}"
        ip = self.ips[(buyer * 7) % len(self.ips)]
        if rng.random() < 0.01:
            ip = f"203.0.113.{rng.randrange(1, 255)}"  # a listed range
        return RiskContext(ip=ip, device_id=device, user_agent="bench/1.0")

    def amount(self) -> int:
        return max(100, int(self.rng.lognormvariate(9.2, 0.9)))  # median about 100 yuan


def _world(buyers: int) -> _World:
    """Buyers, their devices and addresses; fresh names each run, so that a second run on the
    same database does not look like a burst from the first one's devices."""
    rng = random.Random(SEED)
    run = f"{time.time_ns():x}"
    devices = [f"dev-{run}-{n:06d}" for n in range(int(buyers * 1.2))]
    net = random.Random(run).randrange(0, 250)
    ips = [f"10.{net}.{n // 250 % 250}.{n % 250 + 1}" for n in range(max(buyers // 2, 1))]
    return _World(rng, buyers, devices, ips, run)


async def _seed_history(
    container: Container, clock: MovableClock, world: _World, per_buyer: int
) -> int:
    """``per_buyer`` successful payments per buyer spread over the last 80 days."""
    start, written = clock.at, 0
    uow = container.unit_of_work()
    try:
        for buyer in range(1, world.buyers + 1):
            for n in range(per_buyer):
                clock.at = start - timedelta(days=80) + timedelta(hours=n * 90 + buyer % 17)
                reference = f"HIST-{world.run}-{buyer}-{n}"
                amount = world.amount()
                await risk.assess(
                    uow=uow,
                    reference=reference,
                    buyer_id=buyer,
                    amount_fen=amount,
                    currency="CNY",
                    context=world.context(buyer),
                )
                await risk.record_paid(
                    uow=uow, reference=reference, amount_fen=amount, paid_at=clock.at
                )
                written += 1
    finally:
        clock.at = start
        await uow.close()
    return written


async def _timed_decisions(
    container: Container, world: _World, decisions: int
) -> tuple[list[float], list[float], dict[str, int], float]:
    """Each decision inside a transaction of its own, as in a checkout: the decision is timed
    up to the commit (which the checkout pays once for everything); the commit separately."""
    latencies: list[float] = []
    commits: list[float] = []
    actions: dict[str, int] = {}
    uow = container.unit_of_work()
    began = time.perf_counter()
    try:
        for n in range(decisions):
            buyer = world.rng.randrange(1, world.buyers + 1)
            context = world.context(buyer)
            amount = world.amount() * (6 if world.rng.random() < 0.05 else 1)
            async with uow.atomic():
                t0 = time.perf_counter()
                result = await risk.assess(
                    uow=uow,
                    reference=f"BENCH-{world.run}-{n}",
                    buyer_id=buyer,
                    amount_fen=amount,
                    currency="CNY",
                    context=context,
                )
                t1 = time.perf_counter()
            commits.append((time.perf_counter() - t1) * 1000)
            latencies.append((t1 - t0) * 1000)
            action = result.decision.action.value
            actions[action] = actions.get(action, 0) + 1
    finally:
        await uow.close()
    return latencies, commits, actions, time.perf_counter() - began


def _time_evaluate(rules: list[object], count: int) -> list[float]:
    from kuaidan.risk.domain import Rule

    typed = [r for r in rules if isinstance(r, Rule)]
    rng = random.Random(SEED)
    samples = []
    for _ in range(count):
        signals = Signals(
            amount_fen=rng.randrange(100, 500_000),
            account_age_hours=rng.uniform(0, 5000),
            device_age_minutes=rng.uniform(0, 100_000),
            buyer_attempts_hour=rng.randrange(0, 6),
            buyer_attempts_day=rng.randrange(0, 40),
            device_attempts_hour=rng.randrange(0, 6),
            ip_attempts_hour=rng.randrange(0, 20),
            history_payments=rng.randrange(0, 30),
            amount_to_median=rng.uniform(0, 8),
            accounts_on_device=rng.randrange(1, 5),
            accounts_on_ip=rng.randrange(1, 15),
        )
        t0 = time.perf_counter()
        evaluate(signals, typed)
        samples.append((time.perf_counter() - t0) * 1_000_000)
    return samples


async def run_risk_bench(
    *, database_url: str | None, decisions: int, buyers: int, history: int
) -> RiskBenchResult:
    """Migrate a scratch database, seed history, then time ``decisions`` decisions."""
    with tempfile.TemporaryDirectory(prefix="kuaidan-bench-risk-") as scratch:
        settings = Settings(data_dir=Path(scratch), database_url=database_url, log_level="warning")
        await upgrade(settings.effective_database_url)
        clock = MovableClock()
        container = build_container(settings, clock=clock)
        try:
            world = _world(buyers)
            written = await _seed_history(container, clock, world, history)
            latencies, commits, actions, seconds = await _timed_decisions(
                container, world, decisions
            )
            uow = container.unit_of_work()
            try:
                rules = list(await risk.list_rules(uow=uow))
            finally:
                await uow.close()
        finally:
            await container.aclose()
    backend = "SQLite (file, WAL)" if settings.is_sqlite else "PostgreSQL"
    result = RiskBenchResult(decisions, buyers, written, backend, seconds, latencies)
    result.commit_ms = commits
    result.evaluate_us = _time_evaluate(list(rules), 20_000)
    result.actions = actions
    return result
