"""A node killed during a flash sale strands no stock and refuses no buyer for its holds.

Two real `kuaidan serve` processes sell 100 units on one PostgreSQL database to buyers limited
to one each; one is SIGKILLed while it holds units granted to checkouts it never finished.
Its buyers retry on the other node with their Idempotency-Keys. The dead node's holds must be
off its lease within seconds (taken over by their placements' retries, or back on sale when
its lease lapses), every unit sold exactly once, and no buyer refused for a hold of their own
that the dead node kept. First, the same hand-over in one process, on either database.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from kuaidan.accounts import service as accounts
from kuaidan.bench.flashkill import KillPlan, open_sale, run_kill_sale
from kuaidan.bootstrap import build_container
from kuaidan.inventory import service as inventory
from kuaidan.inventory.domain import FlashClaim, FlashHold
from kuaidan.inventory.flashsale import grant_batch
from kuaidan.ordering import service as ordering
from tests.conftest import LiveServer, isolated_database

PLAN = KillPlan(units=100, buyers=260, per_buyer=1, settle_s=30.0)
# A retry takes its hold over at once; a hold nobody retries for goes back on sale once the
# lease lapses (at most 4 s after the kill), at the SKU's next batch or at the release job
# (every 5 s): 9 s at worst, and some slack for a busy machine. Measured: 1.8-7.3 s; before
# the lease, after the hold time (147 s). See docs/benchmarks.md.
RETURN_BOUND_S = 12.0


async def test_a_retry_on_another_node_takes_over_the_hold_granted_to_its_placement(
    server: LiveServer,
) -> None:
    """A node granted the buyer's checkout a hold, then died before the order committed;
    while its lease has not lapsed yet the buyer retries (same Idempotency-Key) on another
    node: the order adopts that very hold. No purchase_limit for it, no second unit taken."""
    dead = build_container(server.settings.model_copy(update={"db_pool_size": 4}))
    alive = build_container(
        server.settings.model_copy(update={"db_pool_size": 4, "flash_hot_inflight": 1})
    )
    try:
        sku_id, [buyer] = await open_sale(alive, KillPlan(units=2, buyers=1))
        key = uuid.uuid4().hex
        gate = dead.adapters[inventory.FLASH_SALE]
        lease_id = await gate.lease.current(dead.unit_of_work)
        uow = dead.unit_of_work()
        try:
            claim = FlashClaim(buyer.user_id, 1, key)
            [orphan], _left = await grant_batch(uow, sku_id, [claim], lease_id=lease_id)
        finally:
            await uow.close()
        assert isinstance(orphan, FlashHold)
        await gate.aclose()  # the node is gone: nothing renews its lease any more

        uow = alive.unit_of_work()
        try:
            who = await accounts.get_user(uow=uow, user_id=buyer.user_id)
            assert who is not None
            placed = await ordering.place_checkout(
                uow=uow,
                buyer=who,
                items=[(sku_id, 1)],
                address_id=buyer.address_id,
                idempotency_key=key,
            )
            found = await uow.session.execute(
                text("SELECT id, holder, status FROM reservations WHERE sku_id = :s"),
                {"s": sku_id},
            )
            reservations = found.all()
            level = (await inventory.get_levels(uow=uow, sku_ids=[sku_id]))[sku_id]
            problems = await inventory.audit(uow=uow, sku_ids=[sku_id])
        finally:
            await uow.close()
    finally:
        await dead.aclose()
        await alive.aclose()
    assert len(placed.orders) == 1
    [(reservation_id, holder, status)] = reservations
    assert (reservation_id, status) == (orphan.reservation_id, "open")
    assert not holder.startswith("flash:")  # the order's now
    assert (level.reserved, level.on_hand, problems) == (1, 2, [])


@pytest.mark.postgres
async def test_a_killed_nodes_holds_go_back_on_sale_within_seconds_and_all_units_sell(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with isolated_database("postgres", tmp_path_factory) as settings:
        sale = await run_kill_sale(settings, PLAN)
    figures = "\n".join(sale.lines())

    assert sale.stranded > 0, "the kill should have left holds of the dead node open"
    assert sale.holds_returned_s is not None, figures
    assert sale.holds_returned_s < RETURN_BOUND_S, figures
    assert sale.handed_back + sale.released == sale.stranded, figures
    # Every unit sold, once: 100 orders of one unit, all reserved, none left, nobody over.
    assert (sale.orders, sale.units_ordered) == (PLAN.units, PLAN.units), figures
    assert (sale.on_hand, sale.reserved) == (PLAN.units, PLAN.units), figures
    assert sale.most_units_one_buyer == PLAN.per_buyer, figures
    assert sale.problems == [], figures
    assert sale.sold_out_s is not None, figures
    # Their buyers: each hold taken over became its own buyer's order, and nobody was told
    # they had reached the limit by a hold the dead node kept.
    assert sale.orphaned_served >= sale.handed_back, figures
    assert set(sale.refusals) <= {"out_of_stock"}, figures
