"""The flash-sale path for hot SKUs: a sold-out gate, admission control and batched claims.

One :class:`FlashSale` per process, wired by the composition root into every unit of work.
For a SKU that many checkouts want at once:

- a sold-out mark (in memory, shared through Redis when configured) answers "sold out" with
  no database write once the database has said so;
- claims queue per SKU and are granted in batches: one transaction locks the stock row once,
  applies the per-buyer limits, reserves the batch's units with one conditional UPDATE and
  inserts one ``flash:`` reservation per buyer. The buyer's order then adopts its reservation
  (no further write on the stock row). Each hold records the lease of the process that
  granted it (:class:`HoldLease`, renewed every second or so); a hold whose lease expired
  (the process died or stalled) is released by the SKU's next batch, under the stock row
  lock, or by a job; a hold whose order never commits is released after ``hold_ttl`` at last.
  A hold's holder is the same for every retry of one placement (buyer, Idempotency-Key, SKU,
  quantity): a retry whose hold a dead node still holds under a live lease takes it over in
  its batch instead of being refused for it;
- the queue is bounded: beyond it a claim gets 429 at once.

The gate only ever says "no" early; every unit sold went through the conditional update.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import NotFound, RateLimited
from kuaidan.inventory import repository
from kuaidan.inventory.domain import (
    FlashClaim,
    FlashHold,
    OutOfStock,
    PurchaseLimitExceeded,
    Refusal,
    Shortage,
    allocate,
)
from kuaidan.inventory.gate import Batcher, InFlight, QueueFull, SoldOutMarks

log = logging.getLogger(__name__)

HOLD_PREFIX = "flash:"
REDIS_KEY = "kuaidan:soldout:{sku}"


def new_holder() -> str:
    return HOLD_PREFIX + secrets.token_hex(12)


def claim_holder(sku_id: int, claim: FlashClaim) -> str:
    """The holder of the claim's hold: the same for every retry of one placement (buyer,
    Idempotency-Key, SKU, quantity), so a retry on any node finds the hold granted to it;
    random for a claim without a key."""
    if claim.key is None or claim.buyer_id is None:
        return new_holder()
    placement = f"{claim.buyer_id}\n{sku_id}\n{claim.quantity}\n{claim.key}"
    return HOLD_PREFIX + hashlib.sha256(placement.encode()).hexdigest()[:24]


class HoldLease:
    """This process's lease on its flash holds: a ``hold_leases`` row renewed every
    ``renew_every_s`` by a background task, taken at the first batch. A lease found expired
    at renewal is never revived (its holds may be released already): a new one is taken."""

    def __init__(self, *, ttl_s: float, renew_every_s: float) -> None:
        self.ttl_s, self.renew_every_s = ttl_s, renew_every_s
        self.lease_id: int | None = None
        self._renewed = 0.0  # monotonic time of the last successful renewal
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._make_uow: Any = None

    async def current(self, make_uow: Any) -> int:
        """The lease id to grant holds under, taken or renewed first if it may be stale."""
        self._make_uow = make_uow
        async with self._lock:
            if self.lease_id is None or time.monotonic() - self._renewed > self.ttl_s / 2:
                await self._renew()
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._renew_forever())
            assert self.lease_id is not None
            return self.lease_id

    async def _renew(self) -> None:
        uow: UnitOfWork = self._make_uow()
        started = time.monotonic()
        try:
            async with uow.atomic():
                now = uow.now()
                until = now + timedelta(seconds=self.ttl_s)
                kept = self.lease_id is not None and await repository.renew_lease(
                    uow.session, lease_id=self.lease_id, now=now, expires_at=until
                )
                if not kept:
                    if self.lease_id is not None:
                        log.warning(
                            "flash hold lease %s had expired; taking a new one", self.lease_id
                        )
                    self.lease_id = await repository.insert_lease(
                        uow.session,
                        host=socket.gethostname()[:255],
                        pid=os.getpid(),
                        now=now,
                        expires_at=until,
                    )
        finally:
            await uow.close()
        self._renewed = started

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                async with self._lock:
                    await self._renew()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: the lease lapses, holds come back
                log.warning("could not renew the flash hold lease", exc_info=True)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class FlashSale:
    """The process's gate: marks, in-flight counts and one batcher per hot SKU."""

    def __init__(
        self,
        *,
        hot_threshold: int = 4,
        sold_out_ttl_s: float = 1.0,
        max_batch: int = 100,
        max_queue: int = 1000,
        hold_ttl: timedelta = timedelta(minutes=2),
        lease_ttl_s: float = 4.0,
        lease_renew_s: float = 1.0,
        redis: Any | None = None,
    ) -> None:
        self.lease = HoldLease(ttl_s=lease_ttl_s, renew_every_s=lease_renew_s)
        self.marks = SoldOutMarks(sold_out_ttl_s)
        self.inflight = InFlight(hot_threshold)
        self.max_batch, self.max_queue = max_batch, max_queue
        self.hold_ttl = hold_ttl
        self.redis = redis
        self._batchers: dict[int, Batcher] = {}
        # SKUs whose lapsed mark the edge let one request through for: that request asks the
        # database (the next placement of the SKU to reach the gate, in fact).
        self._asking: set[int] = set()

    # --- the sold-out gate ---------------------------------------------------------------

    async def is_sold_out(self, sku_id: int) -> bool:
        """Known sold out here, or (for a hot SKU) marked by another node in Redis."""
        if sku_id in self._asking:
            self._asking.discard(sku_id)
            return False
        if self.marks.is_marked(sku_id, time.monotonic()):
            return True
        if self.redis is None or not self.inflight.is_hot(sku_id):
            return False
        try:
            shared = await self.redis.pttl(REDIS_KEY.format(sku=sku_id))
        except Exception:  # Redis down: the database still answers
            log.warning("redis unavailable for the sold-out gate", exc_info=True)
            return False
        if isinstance(shared, int) and shared > 0:
            self.marks.mark_until(sku_id, time.monotonic() + shared / 1000)
            return True
        return False

    def first_marked(self, sku_ids: Sequence[int]) -> int | None:
        """The first of ``sku_ids`` marked sold out in this process (no Redis, no database),
        for the edge. The one caller who finds a mark lapsed is let through to ask the database
        (the mark is extended for the others meanwhile, and :meth:`is_sold_out` lets that
        request's placement, or the next one of the SKU, past the mark)."""
        if not self.marks:
            return None
        now = time.monotonic()
        for sku_id in sku_ids:
            if self.marks.is_live(sku_id, now):
                return sku_id
            if self.marks.has(sku_id) and not self.marks.is_marked(sku_id, now):
                self._asking.add(sku_id)
        return None

    async def mark_sold_out(self, sku_id: int) -> None:
        self.marks.mark(sku_id, time.monotonic())
        if self.redis is not None and self.marks.ttl_s > 0:
            try:
                ttl_ms = int(self.marks.ttl_s * 1000)
                await self.redis.set(REDIS_KEY.format(sku=sku_id), 1, px=ttl_ms)
            except Exception:
                log.warning("redis unavailable for the sold-out gate", exc_info=True)

    async def clear(self, sku_id: int) -> None:
        """Stock came back (release, restock): ask the database again at once."""
        self.marks.clear(sku_id)
        if self.redis is not None:
            try:
                await self.redis.delete(REDIS_KEY.format(sku=sku_id))
            except Exception:
                log.warning("redis unavailable for the sold-out gate", exc_info=True)

    # --- batched claims ------------------------------------------------------------------

    def has_batched(self, sku_id: int) -> bool:
        """Whether the SKU was hot in this process since it started."""
        return sku_id in self._batchers

    async def claim(self, uow: UnitOfWork, sku_id: int, claim: FlashClaim) -> FlashHold:
        """Queue the claim for the SKU's next batch; its hold, or why not (raised)."""
        batcher = self._batchers.get(sku_id)
        if batcher is None:
            batcher = Batcher(
                run=lambda claims: self._run_batch(uow.db, uow, sku_id, claims),
                max_batch=self.max_batch,
                max_queue=self.max_queue,
                sold_out=lambda claim: OutOfStock([Shortage(sku_id, claim.quantity, 0)]),
            )
            self._batchers[sku_id] = batcher
        try:
            return await batcher.claim(claim)
        except QueueFull:
            raise RateLimited(
                "many buyers want this item right now; try again in a moment",
                details={"sku_id": sku_id},
            ) from None

    async def _run_batch(
        self, db: Any, template: UnitOfWork, sku_id: int, claims: Sequence[FlashClaim]
    ) -> tuple[list[FlashHold | Exception], int | None]:
        def make_uow() -> UnitOfWork:
            return UnitOfWork(db, cipher=template.cipher, clock=template.clock)

        lease_id = await self.lease.current(make_uow)
        uow = make_uow()
        try:
            results, left = await grant_batch(uow, sku_id, claims, lease_id=lease_id)
        finally:
            await uow.close()
        if left is not None and left <= 0:
            await self.mark_sold_out(sku_id)
        return results, left

    async def aclose(self) -> None:
        await self.lease.aclose()


async def grant_batch(
    uow: UnitOfWork, sku_id: int, claims: Sequence[FlashClaim], *, lease_id: int | None = None
) -> tuple[list[FlashHold | Exception], int | None]:
    """One transaction for a batch: lock the stock row, hand retried placements the holds
    granted to them before (now under ``lease_id``), take back the holds of expired leases,
    grant the rest, reserve, insert their holds under ``lease_id``."""
    holders = [claim_holder(sku_id, claim) for claim in claims]
    async with uow.atomic():
        locked = await repository.lock_stock(uow.session, sku_id)
        if locked is None:
            missing = NotFound(f"no stock is kept for SKU {sku_id}")
            return [missing] * len(claims), None
        available, limit = locked
        keyed = {
            holder
            for holder, claim in zip(holders, claims, strict=True)
            if claim.key is not None and claim.buyer_id is not None
        }
        held_ids = await repository.take_over_holds(
            uow.session, sku_id=sku_id, holders=keyed, lease_id=lease_id, now=uow.now()
        )
        available += await _take_back_expired(uow, sku_id)
        # A placement sent twice at once (same key) in one batch shares one grant.
        first: dict[str, int] = {}
        for index, holder in enumerate(holders):
            if holder not in held_ids:
                first.setdefault(holder, index)
        todo = sorted(first.values())
        allocated = await _allocate(uow, sku_id, available, limit, claims, todo)
        grants = dict(zip(todo, allocated, strict=True))
        granted = [i for i in todo if isinstance(grants[i], int)]
        total = sum(claims[i].quantity for i in granted)
        left = available - total
        if granted:
            now = uow.now()
            done = await repository.reserve_units(
                uow.session, sku_id=sku_id, quantity=total, now=now
            )
            assert done is not None, "the row is locked and has the units"
            held_ids |= await repository.insert_holds(
                uow.session,
                sku_id=sku_id,
                holds=[(holders[i], claims[i].buyer_id, claims[i].quantity) for i in granted],
                now=now,
                lease_id=lease_id,
            )
    results: list[FlashHold | Exception] = [
        FlashHold(held_ids[holder], holder, sku_id, claim.quantity, left)
        if holder in held_ids
        else _refused(sku_id, limit, claim, grants[first[holder]])
        for holder, claim in zip(holders, claims, strict=True)
    ]
    return results, left


async def _allocate(
    uow: UnitOfWork,
    sku_id: int,
    available: int,
    limit: int | None,
    claims: Sequence[FlashClaim],
    todo: Sequence[int],
) -> list[int | Refusal]:
    """The grants of ``claims[i]`` for ``i`` in ``todo``, per-buyer limits applied."""
    wanted = [claims[i] for i in todo]
    held: dict[int, int] = {}
    if limit is not None:
        held = await repository.units_held_by_buyers(
            uow.session,
            sku_id=sku_id,
            buyer_ids={c.buyer_id for c in wanted if c.buyer_id is not None},
            now=uow.now(),
        )
    return allocate(available=available, limit=limit, held=held, claims=wanted)


async def _take_back_expired(uow: UnitOfWork, sku_id: int) -> int:
    """Under the locked stock row: release the SKU's holds of expired leases; units freed."""
    now = uow.now()
    freed = await repository.release_expired_lease_holds(
        uow.session, sku_id=sku_id, prefix=HOLD_PREFIX, now=now
    )
    if freed:
        done = await repository.unreserve_units(
            uow.session, sku_id=sku_id, quantity=freed, sold=False, now=now
        )
        assert done, "the released holds' units were reserved"
        log.info("SKU %s: %s units of expired flash leases back on sale", sku_id, freed)
    return freed


def _refused(sku_id: int, limit: int | None, claim: FlashClaim, grant: int | Refusal) -> Exception:
    assert isinstance(grant, Refusal)
    if grant.reason == "limit" and limit is not None:
        return PurchaseLimitExceeded(
            sku_id=sku_id, limit=limit, already=grant.already, requested=claim.quantity
        )
    return OutOfStock([Shortage(sku_id, claim.quantity, grant.available)])
