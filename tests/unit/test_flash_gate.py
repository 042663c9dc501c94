"""The flash-sale gate's pure parts: allocation, sold-out marks, hot detection, batching."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.inventory.domain import FlashClaim, FlashHold, OutOfStock, Refusal, Shortage, allocate
from kuaidan.inventory.gate import Batcher, InFlight, QueueFull, SoldOutMarks


def test_allocate_grants_first_come_until_sold_out() -> None:
    claims = [FlashClaim(1, 2), FlashClaim(2, 2), FlashClaim(3, 1), FlashClaim(4, 1)]
    got = allocate(available=5, limit=None, held={}, claims=claims)
    assert got[:3] == [2, 2, 1]
    assert got[3] == Refusal("sold_out", 0)


def test_allocate_counts_earlier_purchases_and_this_batch_against_the_limit() -> None:
    claims = [FlashClaim(1, 1), FlashClaim(1, 1), FlashClaim(2, 1)]
    got = allocate(available=10, limit=1, held={2: 1}, claims=claims)
    assert got == [1, Refusal("limit", 9, 1), Refusal("limit", 9, 1)]


@given(
    available=st.integers(0, 50),
    limit=st.one_of(st.none(), st.integers(1, 3)),
    wants=st.lists(st.tuples(st.integers(1, 8), st.integers(1, 3)), max_size=60),
)
def test_allocate_never_oversells_nor_passes_a_limit(
    available: int, limit: int | None, wants: list[tuple[int, int]]
) -> None:
    claims = [FlashClaim(buyer, qty) for buyer, qty in wants]
    got = allocate(available=available, limit=limit, held={}, claims=claims)
    granted = [g for g in got if isinstance(g, int)]
    assert sum(granted) <= available
    per_buyer: dict[int, int] = {}
    for claim, grant in zip(claims, got, strict=True):
        if isinstance(grant, int):
            assert grant == claim.quantity
            per_buyer[claim.buyer_id or 0] = per_buyer.get(claim.buyer_id or 0, 0) + grant
    if limit is not None:
        assert all(units <= limit for units in per_buyer.values())


def test_a_lapsed_sold_out_mark_sends_one_caller_to_ask_again() -> None:
    marks = SoldOutMarks(ttl_s=1.0)
    assert not marks and not marks.is_marked(7, now=9.0)
    marks.mark(7, now=10.0)
    assert marks.is_marked(7, now=10.5)
    # Lapsed: a look changes nothing; the first caller asks the database, and the others
    # still hear "sold out" meanwhile.
    assert not marks.is_live(7, now=11.0) and marks.has(7)
    assert not marks.is_marked(7, now=11.0)
    assert marks.is_live(7, now=11.1)
    assert marks.is_marked(7, now=11.1) and marks.is_marked(7, now=11.9)
    # Nobody cleared it (that caller found nothing either): the next lapse sends one more.
    assert not marks.is_marked(7, now=12.0)
    assert marks.is_marked(7, now=12.2)
    # Whoever finds stock clears it, and everyone goes to the database again.
    marks.clear(7)
    assert not marks.has(7) and not marks.is_marked(7, now=12.3)
    assert not marks.is_marked(7, now=12.4)


def test_a_sku_is_hot_with_enough_checkouts_in_flight() -> None:
    inflight = InFlight(threshold=2)
    inflight.enter(3)
    assert not inflight.is_hot(3)
    inflight.enter(3)
    assert inflight.is_hot(3)
    inflight.leave(3)
    inflight.leave(3)
    assert not inflight.is_hot(3)
    assert not InFlight(threshold=0).is_hot(3)


class FakeStock:
    """A batch runner over an in-memory count, recording each batch's size."""

    def __init__(self, units: int) -> None:
        self.units = units
        self.batches: list[int] = []

    async def run(
        self, claims: Sequence[FlashClaim]
    ) -> tuple[list[FlashHold | Exception], int | None]:
        self.batches.append(len(claims))
        await asyncio.sleep(0.01)
        results: list[FlashHold | Exception] = []
        for i, claim in enumerate(claims):
            if claim.quantity <= self.units:
                self.units -= claim.quantity
                results.append(FlashHold(i, f"flash:{i}", 1, claim.quantity, self.units))
            else:
                results.append(OutOfStock([Shortage(1, claim.quantity, self.units)]))
        return results, self.units


async def test_batcher_groups_waiting_claims_and_never_grants_more_than_stock() -> None:
    stock = FakeStock(units=10)
    batcher = Batcher(run=stock.run, max_batch=100, max_queue=1000)
    outcomes = await asyncio.gather(
        *(batcher.claim(FlashClaim(i, 1)) for i in range(40)), return_exceptions=True
    )
    holds = [o for o in outcomes if isinstance(o, FlashHold)]
    assert len(holds) == 10
    assert all(isinstance(o, OutOfStock) for o in outcomes if not isinstance(o, FlashHold))
    assert len(stock.batches) < 40, "claims that waited together went in one batch"


async def test_claims_that_waited_for_the_batch_that_sold_out_hear_so_without_another() -> None:
    stock = FakeStock(units=10)

    def sold_out(claim: FlashClaim) -> Exception:
        return OutOfStock([Shortage(1, claim.quantity, 0)])

    batcher = Batcher(run=stock.run, max_batch=5, max_queue=1000, sold_out=sold_out)
    outcomes = await asyncio.gather(
        *(batcher.claim(FlashClaim(i, 1)) for i in range(40)), return_exceptions=True
    )
    assert sum(isinstance(o, FlashHold) for o in outcomes) == 10
    assert sum(isinstance(o, OutOfStock) for o in outcomes) == 30
    assert stock.batches == [5, 5], "the 30 still waiting were answered by the second batch"
    # A claim that comes later is a new question: it goes to the database again.
    later = await asyncio.gather(batcher.claim(FlashClaim(99, 1)), return_exceptions=True)
    assert isinstance(later[0], OutOfStock) and stock.batches == [5, 5, 1]


async def test_batcher_refuses_at_once_when_the_queue_is_past_what_can_be_sold() -> None:
    release = asyncio.Event()

    async def slow(claims: Sequence[FlashClaim]) -> tuple[list[FlashHold | Exception], int]:
        await release.wait()
        return [OutOfStock([Shortage(1, c.quantity, 0)]) for c in claims], 0

    batcher = Batcher(run=slow, max_batch=2, max_queue=1000, known_left=1)
    running = asyncio.create_task(batcher.claim(FlashClaim(0, 1)))  # the batch in flight
    await asyncio.sleep(0)
    # Three wait behind it: as many as one unit left plus one batch could ever take.
    waiting = [asyncio.create_task(batcher.claim(FlashClaim(i, 1))) for i in range(1, 4)]
    await asyncio.sleep(0)
    with pytest.raises(QueueFull):
        batcher.admit(FlashClaim(9, 1))
    release.set()
    await asyncio.gather(running, *waiting, return_exceptions=True)


async def test_the_edge_lets_one_request_through_a_lapsed_mark_and_its_placement_asks() -> None:
    from kuaidan.inventory.flashsale import FlashSale

    gate = FlashSale(sold_out_ttl_s=0.05)
    await gate.mark_sold_out(7)
    assert gate.first_marked([3, 7]) == 7  # live: the edge answers
    assert await gate.is_sold_out(7)
    await asyncio.sleep(0.06)
    # Lapsed: the first to look is let through; the mark is extended for everyone else.
    assert gate.first_marked([7]) is None
    assert gate.first_marked([7]) == 7
    # That request's placement gets past the mark once, to ask the database; the next do not.
    assert not await gate.is_sold_out(7)
    assert await gate.is_sold_out(7)
