"""The flash-sale gate's in-memory parts: sold-out marks, hot-SKU detection, claim batching.

No database here. The gate may only say "no" early (sold out, too busy); every "yes" still
comes from the database's conditional update, run by whoever drives the :class:`Batcher`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from kuaidan.core.batching import MicroBatcher
from kuaidan.inventory.domain import FlashClaim, FlashHold


class SoldOutMarks:
    """SKUs the database said are sold out, remembered for ``ttl_s`` (then asked again).

    When a mark lapses, the one caller who finds it so is told "not marked" and goes to the
    database; the mark is extended for everyone else meanwhile (a sale's thousands of buyers
    would otherwise all go to the database at once, every ``ttl_s``). Whoever then finds stock
    clears the mark. Releases and restocks elsewhere are seen at most ``ttl_s`` late, plus the
    time that one request takes; a mark never sells anything.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._until: dict[int, float] = {}

    def mark(self, sku_id: int, now: float) -> None:
        if self.ttl_s > 0:
            self._until[sku_id] = now + self.ttl_s

    def mark_until(self, sku_id: int, until: float) -> None:
        """A mark another node made, for as long as it has left."""
        self._until[sku_id] = max(until, self._until.get(sku_id, until))

    def is_marked(self, sku_id: int, now: float) -> bool:
        until = self._until.get(sku_id)
        if until is None:
            return False
        if until <= now:
            self._until[sku_id] = now + self.ttl_s
            return False
        return True

    def is_live(self, sku_id: int, now: float) -> bool:
        """Marked and not lapsed, asking nothing and changing nothing (a lapsed mark is left
        for :meth:`is_marked` to hand to the one caller who asks the database again)."""
        until = self._until.get(sku_id)
        return until is not None and until > now

    def has(self, sku_id: int) -> bool:
        """Marked, lapsed or not."""
        return sku_id in self._until

    def clear(self, sku_id: int) -> None:
        self._until.pop(sku_id, None)

    def __bool__(self) -> bool:
        """Any mark at all, expired ones included: a cheap "nothing to look at" first."""
        return bool(self._until)


class InFlight:
    """How many checkouts of each SKU this process is working on right now.

    A SKU with at least ``threshold`` of them is hot: its claims are batched. 0 turns
    batching off.
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self._count: dict[int, int] = {}

    def enter(self, sku_id: int) -> int:
        self._count[sku_id] = self._count.get(sku_id, 0) + 1
        return self._count[sku_id]

    def leave(self, sku_id: int) -> None:
        left = self._count.get(sku_id, 0) - 1
        if left > 0:
            self._count[sku_id] = left
        else:
            self._count.pop(sku_id, None)

    def is_hot(self, sku_id: int) -> bool:
        return self.threshold > 0 and self._count.get(sku_id, 0) >= self.threshold


class QueueFull(Exception):
    """More claims are waiting for this SKU than could possibly be granted soon."""


# Runs one batch: a hold or the refusal for each claim, and the units left afterwards.
RunBatch = Callable[
    [Sequence[FlashClaim]], Awaitable[tuple[Sequence[FlashHold | Exception], int | None]]
]


class Batcher:
    """Claims on one hot SKU, queued and granted in batches: one transaction per batch.

    While a batch runs, new claims queue; the next batch takes up to ``max_batch`` of them.
    At most ``max_queue`` wait, and no more than the units known to be left plus one batch:
    beyond that a claim is refused at once (QueueFull) instead of waiting without bound.
    When a batch leaves nothing, the claims that queued while it ran are refused with
    ``sold_out(claim)`` at once: the database's answer is newer than they are, and another
    transaction would only say it again (after the winners' own, which hold the connections).
    """

    def __init__(
        self,
        run: RunBatch,
        *,
        max_batch: int = 100,
        max_queue: int = 1000,
        known_left: int | None = None,
        sold_out: Callable[[FlashClaim], Exception] | None = None,
    ) -> None:
        self._run = run
        self.max_queue = max_queue
        self.known_left = known_left
        self.sold_out = sold_out
        self._batches: MicroBatcher[FlashClaim, FlashHold] = MicroBatcher(
            self._grant, max_batch=max_batch, after_batch=self._after_batch
        )

    @property
    def max_batch(self) -> int:
        return self._batches.max_batch

    def admit(self, claim: FlashClaim) -> None:
        waiting = sum(c.quantity for c in self._batches.pending)
        limit = self.max_queue
        if self.known_left is not None:
            limit = min(limit, self.known_left + self.max_batch)
        if waiting + claim.quantity > limit:
            raise QueueFull

    async def claim(self, claim: FlashClaim) -> FlashHold:
        self.admit(claim)
        return await self._batches.submit(claim)

    async def _grant(self, claims: list[FlashClaim]) -> Sequence[FlashHold | Exception]:
        results, self.known_left = await self._run(claims)
        return results

    def _after_batch(self) -> None:
        if self.sold_out is not None and self.known_left is not None and self.known_left <= 0:
            self._batches.refuse_pending(self.sold_out)
