"""The tracking-callback bench: many parcels, each pushed its growing scan history the way an
aggregator does, with a share of pushes sent again later (duplicates that also arrive out of
order), then a check that every scan was stored exactly once and every parcel delivered.

The composition (which database, which server, over HTTP or straight into the service) is the
caller's: ``kuaidan bench callbacks`` in the CLI wires it. Figures: pushes per second and
latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kuaidan.core import signing
from kuaidan.core.db import UnitOfWork
from kuaidan.logistics import service
from kuaidan.logistics.adapters.kuaidi100 import md5_sign
from kuaidan.logistics.domain import Place

UowFactory = Callable[[], UnitOfWork]
Send = Callable[[dict[str, str]], Awaitable[bool]]
CARRIER = "zhongtong"
ORIGIN, DESTINATION = Place("浙江", "杭州"), Place("广东", "广州")
JOURNEY = (
    ("1", "103", "【杭州】快件已揽收", "杭州"),
    ("0", "1002", "快件已到达【杭州转运中心】", "杭州"),
    ("0", "1002", "快件已到达【广州转运中心】", "广州"),
    ("0", "1001", "快件已到达【广州】派件城市", "广州"),
    ("5", "5", "【广州】快递员正在派件", "广州"),
    ("3", "301", "快件已签收，签收人：本人", "广州"),
)


@dataclass(frozen=True, slots=True)
class BenchPlan:
    parcels: int = 1000
    duplicate_share: float = 0.3
    concurrency: int = 32
    seed: int = 7


@dataclass
class BenchResult:
    pushes: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    checks: dict[str, object] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.pushes / self.seconds if self.seconds else 0.0

    def percentile(self, pct: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


async def prepare(uow_factory: UowFactory, plan: BenchPlan, run_id: str) -> list[str]:
    """Carriers, and ``plan.parcels`` tracked shipments; returns their tracking numbers."""
    numbers = [f"BC{run_id}{i:07d}" for i in range(plan.parcels)]
    uow = uow_factory()
    try:
        await service.ensure_default_carriers(uow=uow)
        for start in range(0, len(numbers), 200):
            async with uow.atomic():
                for number in numbers[start : start + 200]:
                    await service.track_shipment(
                        uow=uow, merchant_id=1, carrier_code=CARRIER, tracking_number=number,
                        origin=ORIGIN, destination=DESTINATION, weight_g=1500,
                    )  # fmt: skip
    finally:
        await uow.close()
    return numbers


def _push(number: str, scans: int, start: datetime, salt: str) -> dict[str, str]:
    data = []
    for i, (_state, code, context, location) in enumerate(JOURNEY[:scans]):
        at = signing.format_protocol_time(start + timedelta(hours=7 * i))
        data.append({"time": at, "ftime": at, "context": context, "location": location,
                     "statusCode": code})  # fmt: skip
    state = JOURNEY[scans - 1][0]
    body = {
        "status": "shutdown" if state == "3" else "polling",
        "billstatus": "got",
        "message": "",
        "lastResult": {"message": "ok", "nu": number, "com": CARRIER, "state": state,
                       "ischeck": "1" if state == "3" else "0", "data": data[::-1]},
    }  # fmt: skip
    param = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return {"param": param, "sign": md5_sign(param, salt)}


def build_pushes(numbers: list[str], salt: str, plan: BenchPlan) -> list[dict[str, str]]:
    """Each parcel's pushes in journey order, parcels interleaved; duplicates re-sent later."""
    rng = random.Random(plan.seed)  # noqa: S311 (a load shape, not a secret)
    start = datetime.now(UTC)
    rounds: list[list[dict[str, str]]] = [[] for _ in JOURNEY]
    for number in numbers:
        for step in range(1, len(JOURNEY) + 1):
            rounds[step - 1].append(_push(number, step, start, salt))
    ordered: list[dict[str, str]] = []
    for batch in rounds:
        rng.shuffle(batch)
        ordered.extend(batch)
    keyed = [(float(i), form) for i, form in enumerate(ordered)]
    for i in rng.sample(range(len(ordered)), int(len(ordered) * plan.duplicate_share)):
        keyed.append((rng.uniform(i + 0.5, len(ordered)), ordered[i]))  # a later, second copy
    keyed.sort(key=lambda pair: pair[0])
    ordered = [form for _, form in keyed]
    return ordered


async def drive(send: Send, pushes: list[dict[str, str]], concurrency: int) -> BenchResult:
    """Send every push with ``concurrency`` senders; each push is timed."""
    queue = iter(pushes)
    result = BenchResult(pushes=len(pushes), seconds=0.0)

    async def sender() -> None:
        for form in queue:
            began = time.perf_counter()
            ok = await send(form)
            result.latencies_ms.append((time.perf_counter() - began) * 1000)
            result.failures += not ok

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - began
    return result


async def verify(uow_factory: UowFactory, numbers: list[str], pushes: int) -> dict[str, object]:
    """Every scan stored once, every parcel delivered, every push kept."""
    uow = uow_factory()
    try:
        counts = await service.tracking_counts(uow=uow, tracking_prefix=numbers[0][:-7])
    finally:
        await uow.close()
    expected = len(numbers) * len(JOURNEY)
    missing = expected - counts.scans
    return {
        "scans stored": f"{counts.scans} of {expected}",
        "lost or duplicated scans": "none" if not missing else f"{-missing:+d}",
        "parcels delivered": f"{counts.delivered} of {len(numbers)}",
        "pushes kept": f"{counts.callbacks} of {pushes}",
    }


def service_sender(uow_factory: UowFactory) -> Send:
    """Push straight into the ingestion use case (no HTTP): the database path alone."""

    async def send(form: dict[str, str]) -> bool:
        uow = uow_factory()
        try:
            outcome = await service.ingest_callback(uow=uow, param=form["param"], sign=form["sign"])
        finally:
            await uow.close()
        return outcome.accepted

    return send
