"""The tracking-callback bench's logistics side: many parcels, each pushed its growing scan
history the way an aggregator does, every push sent twice (the copy later) and a share of
parcels' pushes out of order; then the database's account of what was stored and applied.

The composition (which database, which server, over HTTPS or straight into the service) is
``kuaidan bench callbacks`` (``kuaidan/bench/callbacks.py``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kuaidan.core import signing
from kuaidan.core.db import UnitOfWork
from kuaidan.logistics import service
from kuaidan.logistics.adapters.kuaidi100 import md5_sign
from kuaidan.logistics.domain import Place, SignatureInvalid

UowFactory = Callable[[], UnitOfWork]
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
    duplicate_share: float = 1.0  # share of pushes sent a second time, later
    out_of_order_share: float = 0.2  # share of parcels whose pushes swap places pairwise
    concurrency: int = 32
    seed: int = 7

    @property
    def distinct_pushes(self) -> int:
        return self.parcels * len(JOURNEY)


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
    """Each parcel's pushes in journey order, parcels interleaved; for a share of parcels the
    pushes swap places pairwise (2 before 1, 4 before 3 …); duplicates re-sent later."""
    rng = random.Random(plan.seed)  # noqa: S311 (a load shape, not a secret)
    start = datetime.now(UTC)
    rounds: list[list[dict[str, str]]] = [[] for _ in JOURNEY]
    swapped = set(rng.sample(numbers, int(len(numbers) * plan.out_of_order_share)))
    for number in numbers:
        steps = list(range(1, len(JOURNEY) + 1))
        if number in swapped:
            for i in range(0, len(steps) - 1, 2):
                steps[i], steps[i + 1] = steps[i + 1], steps[i]
        for slot, step in enumerate(steps):
            rounds[slot].append(_push(number, step, start, salt))
    ordered: list[dict[str, str]] = []
    for batch in rounds:
        rng.shuffle(batch)
        ordered.extend(batch)
    keyed = [(float(i), form) for i, form in enumerate(ordered)]
    for i in rng.sample(range(len(ordered)), int(len(ordered) * plan.duplicate_share)):
        keyed.append((rng.uniform(i + 0.5, len(ordered)), ordered[i]))  # a later, second copy
    keyed.sort(key=lambda pair: pair[0])
    return [form for _, form in keyed]


async def pending_pushes(uow_factory: UowFactory) -> int:
    uow = uow_factory()
    try:
        status = await service.inbox_status(uow=uow, limit=0)
    finally:
        await uow.close()
    return status.counts.get("pending", 0)


async def audit(uow_factory: UowFactory, numbers: list[str], plan: BenchPlan) -> dict[str, object]:
    """Every distinct push stored once and applied, every scan stored once, every parcel
    delivered."""
    prefix = numbers[0][:-7]
    uow = uow_factory()
    try:
        counts = await service.tracking_counts(uow=uow, tracking_prefix=prefix)
        inbox = await service.inbox_audit(uow=uow, tracking_prefix=prefix)
    finally:
        await uow.close()
    expected = len(numbers) * len(JOURNEY)
    return {
        "distinct pushes stored": f"{counts.callbacks} of {plan.distinct_pushes}",
        "pushes by status": {k: v for k, v in inbox.counts.items() if k.startswith("pushes")},
        "scans stored": f"{counts.scans} of {expected}",
        "scans stored twice": inbox.counts.get("scans stored twice", 0),
        "parcels delivered": f"{counts.delivered} of {len(numbers)}",
    }


async def lags_s(uow_factory: UowFactory, numbers: list[str]) -> list[tuple[datetime, float]]:
    """Each applied push: when it arrived, and seconds from arrival to application."""
    uow = uow_factory()
    try:
        inbox = await service.inbox_audit(uow=uow, tracking_prefix=numbers[0][:-7])
    finally:
        await uow.close()
    return [(got, (done - got).total_seconds()) for got, done in inbox.lags]


async def accept_directly(uow_factory: UowFactory, form: dict[str, str]) -> bool:
    """Store one push through the accept use case (no HTTP): each call its own unit of work."""
    uow = uow_factory()
    try:
        await service.accept_push(uow=uow, param=form["param"], sign=form["sign"])
    except SignatureInvalid:
        return False
    finally:
        await uow.close()
    return True


async def apply_all(uow_factory: UowFactory, *, batch: int) -> int:
    """Apply pending pushes until none is left; returns how many were claimed."""
    uow = uow_factory()
    total = 0
    try:
        while True:
            outcome = await service.apply_pushes(uow=uow, limit=batch)
            total += outcome.claimed
            if outcome.claimed < batch:
                return total
    finally:
        await uow.close()
