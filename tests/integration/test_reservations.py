"""Stock reservations on a real database: all or nothing, limits, ledger, races, a model check.

Every test lists its own product, so tests share one isolated database per backend. The
stateful test drives the services and the in-memory ``StockModel`` side by side and holds
the database to the model after every step; the concurrency tests fire hundreds of
reservations at once, each in its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kuaidan.bootstrap import Container, build_container
from kuaidan.catalog import service as catalog
from kuaidan.config import Settings
from kuaidan.core.db import TransactionAborted, UnitOfWork
from kuaidan.core.errors import Conflict, DomainError, InvalidInput, NotFound
from kuaidan.inventory import service as inventory
from kuaidan.inventory.domain import OutOfStock, PurchaseLimitExceeded, ReservationStatus
from kuaidan.merchants import service as merchants
from tests.conftest import isolated_database
from tests.factories import CategoryFactory, MerchantFactory, ProductFactory, SkuFactory
from tests.unit.test_inventory_domain import StockModel

T = TypeVar("T")
log = logging.getLogger(__name__)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    async with isolated_database(request.param, tmp_path_factory) as settings:
        yield settings.model_copy(update={"db_pool_size": 60})


@pytest.fixture(scope="module")
async def container(database: Settings) -> AsyncIterator[Container]:
    built = build_container(database)
    uow = built.unit_of_work()
    try:
        await open_shop(uow)
    finally:
        await uow.close()
    try:
        yield built
    finally:
        await built.aclose()


SHOP, CATEGORY = "stock-shop", "stock-tests"


async def open_shop(uow: UnitOfWork) -> int:
    merchant = await MerchantFactory.create(uow, slug=SHOP)
    await CategoryFactory.create(uow, slug=CATEGORY)
    return merchant.id


@asynccontextmanager
async def opened(container: Container) -> AsyncIterator[UnitOfWork]:
    uow = container.unit_of_work()
    try:
        yield uow
    finally:
        await uow.close()


async def in_own_transaction(container: Container, call: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async with opened(container) as uow:
        return await call(uow)


async def list_skus(container: Container, *stock: int) -> list[int]:
    """A new listed product with one SKU per opening stock figure; the SKU ids, ascending."""
    async with opened(container) as uow:
        merchant = await merchants.get_merchant_by_slug(uow=uow, slug=SHOP)
        assert merchant is not None
        product = await ProductFactory.create(
            uow,
            merchant_id=merchant.id,
            category_slug=CATEGORY,
            skus=[SkuFactory.build(price_fen=1000, stock=units) for units in stock],
        )
    return sorted(sku.id for sku in product.skus)


async def levels(container: Container, skus: list[int]) -> dict[int, tuple[int, int]]:
    async with opened(container) as uow:
        found = await inventory.get_levels(uow=uow, sku_ids=skus)
    return {sku_id: (level.on_hand, level.reserved) for sku_id, level in found.items()}


async def audit(container: Container, skus: list[int] | None = None) -> list[str]:
    async with opened(container) as uow:
        return await inventory.audit(uow=uow, sku_ids=skus)


def holder() -> str:
    return f"order:{uuid.uuid4().hex[:12]}"


# --- reserve, release, consume ------------------------------------------------------------


async def test_reserve_holds_units_and_returns_what_is_left(container: Container) -> None:
    shirt, socks = await list_skus(container, 5, 3)
    order = holder()
    async with opened(container) as uow:
        left = await inventory.reserve(uow=uow, holder=order, items={socks: 3, shirt: 2})
        held = await inventory.reservations_of(uow=uow, holder=order)
    assert left == {shirt: 3, socks: 0}
    assert await levels(container, [shirt, socks]) == {shirt: (5, 2), socks: (3, 3)}
    assert [(r.sku_id, r.quantity, r.status) for r in held] == [
        (shirt, 2, ReservationStatus.OPEN),
        (socks, 3, ReservationStatus.OPEN),
    ]
    assert all(r.holder == order and r.closed_at is None for r in held)
    assert await audit(container, [shirt, socks]) == []


async def test_release_gives_units_back_once(container: Container) -> None:
    shirt, socks = await list_skus(container, 5, 3)
    order = holder()
    async with opened(container) as uow:
        await inventory.reserve(uow=uow, holder=order, items={shirt: 2, socks: 1})
        assert await inventory.release(uow=uow, holder=order, reason="payment expired") == 2
        assert await inventory.release(uow=uow, holder=order, reason="payment expired") == 0
        held = await inventory.reservations_of(uow=uow, holder=order)
    assert await levels(container, [shirt, socks]) == {shirt: (5, 0), socks: (3, 0)}
    assert {r.status for r in held} == {ReservationStatus.RELEASED}
    assert all(r.reason == "payment expired" and r.closed_at is not None for r in held)
    assert await audit(container, [shirt, socks]) == []


async def test_consume_takes_units_out_of_stock_once_and_records_the_sale(
    container: Container,
) -> None:
    shirt, socks = await list_skus(container, 5, 3)
    order, other = holder(), holder()
    async with opened(container) as uow:
        await inventory.reserve(uow=uow, holder=order, items={shirt: 2, socks: 1})
        await inventory.reserve(uow=uow, holder=other, items={shirt: 1})
        assert await inventory.consume(uow=uow, holder=order) == 2
        assert await inventory.consume(uow=uow, holder=order) == 0
        assert await inventory.release(uow=uow, holder=order, reason="too late") == 0
        held = await inventory.reservations_of(uow=uow, holder=order)
    assert {r.status for r in held} == {ReservationStatus.CONSUMED}
    assert await levels(container, [shirt, socks]) == {shirt: (3, 1), socks: (2, 0)}
    assert await audit(container, [shirt, socks]) == []  # the ledger says on_hand too


async def test_out_of_stock_reserves_nothing_and_lists_every_short_sku(
    container: Container,
) -> None:
    plenty, scarce, none = await list_skus(container, 5, 1, 0)
    order = holder()
    async with opened(container) as uow:
        with pytest.raises(OutOfStock) as caught:
            await inventory.reserve(uow=uow, holder=order, items={none: 1, plenty: 2, scarce: 2})
        assert await inventory.reservations_of(uow=uow, holder=order) == []
    assert caught.value.status == 409
    assert caught.value.details == {
        "skus": [
            {"sku_id": scarce, "requested": 2, "available": 1},
            {"sku_id": none, "requested": 1, "available": 0},
        ]
    }
    assert await levels(container, [plenty, scarce, none]) == {
        plenty: (5, 0),
        scarce: (1, 0),
        none: (0, 0),
    }


async def test_a_refused_reservation_rolls_back_the_callers_whole_transaction(
    container: Container,
) -> None:
    shirt, socks = await list_skus(container, 5, 1)
    first, second = holder(), holder()
    async with opened(container) as uow:
        with pytest.raises(OutOfStock):
            async with uow.atomic():  # as an order placement would
                await inventory.reserve(uow=uow, holder=first, items={shirt: 1})
                await inventory.reserve(uow=uow, holder=second, items={shirt: 1, socks: 2})
        with pytest.raises(TransactionAborted):
            async with uow.atomic():  # swallowing the error cannot commit half of the work
                await inventory.reserve(uow=uow, holder=first, items={shirt: 1})
                with pytest.raises(OutOfStock):
                    await inventory.reserve(uow=uow, holder=second, items={socks: 2})
        assert await inventory.reservations_of(uow=uow, holder=first) == []
    assert await levels(container, [shirt, socks]) == {shirt: (5, 0), socks: (1, 0)}


async def test_unknown_skus_and_bad_requests_are_refused(container: Container) -> None:
    (shirt,) = await list_skus(container, 5)
    async with opened(container) as uow:
        with pytest.raises(NotFound):
            await inventory.reserve(uow=uow, holder=holder(), items={shirt: 1, 10**9: 1})
        for items in ({}, {shirt: 0}, {shirt: -1}):
            with pytest.raises(InvalidInput):
                await inventory.reserve(uow=uow, holder=holder(), items=items)
        with pytest.raises(InvalidInput):
            await inventory.reserve(uow=uow, holder=" ", items={shirt: 1})
        with pytest.raises(NotFound):
            await inventory.restock(uow=uow, sku_id=10**9, quantity=1, reason="delivery")
        with pytest.raises(NotFound):
            await inventory.set_purchase_limit(uow=uow, sku_id=10**9, limit=1)
    assert await levels(container, [shirt]) == {shirt: (5, 0)}


# --- per-buyer limits ---------------------------------------------------------------------


async def test_purchase_limit_counts_open_and_bought_units_not_released_ones(
    container: Container,
) -> None:
    limited, free = await list_skus(container, 20, 20)
    buyer, other_buyer = 501, 502
    first, second = holder(), holder()
    async with opened(container) as uow:
        level = await inventory.set_purchase_limit(uow=uow, sku_id=limited, limit=2)
        assert level.per_buyer_limit == 2
        await inventory.reserve(uow=uow, holder=first, items={limited: 1}, buyer_id=buyer)
        await inventory.consume(uow=uow, holder=first)
        with pytest.raises(PurchaseLimitExceeded) as caught:
            await inventory.reserve(
                uow=uow, holder=second, items={limited: 2, free: 5}, buyer_id=buyer
            )
        assert caught.value.details == {
            "sku_id": limited,
            "limit": 2,
            "already": 1,
            "requested": 2,
        }
        await inventory.reserve(uow=uow, holder=second, items={limited: 1}, buyer_id=buyer)
        await inventory.release(uow=uow, holder=second, reason="cancelled")
        await inventory.reserve(uow=uow, holder=holder(), items={limited: 1}, buyer_id=buyer)
        await inventory.reserve(uow=uow, holder=holder(), items={limited: 2}, buyer_id=other_buyer)
        await inventory.reserve(uow=uow, holder=holder(), items={limited: 5})  # no buyer known
        await inventory.set_purchase_limit(uow=uow, sku_id=limited, limit=None)
        await inventory.reserve(uow=uow, holder=holder(), items={limited: 3}, buyer_id=buyer)
        with pytest.raises(InvalidInput):
            await inventory.set_purchase_limit(uow=uow, sku_id=limited, limit=0)
    assert await levels(container, [limited, free]) == {limited: (19, 11), free: (20, 0)}
    assert await audit(container, [limited, free]) == []


# --- restock, counts and the ledger -------------------------------------------------------


async def test_restock_and_counts_keep_the_ledger_and_the_product_flag(
    container: Container,
) -> None:
    (shirt,) = await list_skus(container, 1)
    order = holder()
    async with opened(container) as uow:
        await inventory.reserve(uow=uow, holder=order, items={shirt: 1})
        assert (
            await inventory.restock(uow=uow, sku_id=shirt, quantity=4, reason="PO-7")
        ).available == 4
        with pytest.raises(Conflict):
            await inventory.set_on_hand(uow=uow, sku_id=shirt, on_hand=0)
        level = await inventory.set_on_hand(uow=uow, sku_id=shirt, on_hand=3)
        assert (level.on_hand, level.reserved, level.available) == (3, 1, 2)
        await inventory.set_on_hand(uow=uow, sku_id=shirt, on_hand=3)  # no change, no entry
        with pytest.raises(InvalidInput):
            await inventory.restock(uow=uow, sku_id=shirt, quantity=0, reason="nothing")
        sku = await catalog.set_stock(uow=uow, sku_id=shirt, on_hand=1)
        assert sku.available == 0
        product = await catalog.get_product(uow=uow, product_id=sku.product_id)
        assert product.in_stock is False
        await inventory.consume(uow=uow, holder=order)
    assert await levels(container, [shirt]) == {shirt: (0, 0)}
    assert await audit(container, [shirt]) == []
    assert await audit(container) == []  # every SKU of every test so far


# --- the database follows the model, step by step -----------------------------------------


class Runner:
    """Runs the services on a private event loop for the synchronous state machine."""

    def __init__(self, loop: asyncio.AbstractEventLoop, container: Container) -> None:
        self.loop, self.container = loop, container

    def call(self, call: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return self.loop.run_until_complete(in_own_transaction(self.container, call))

    def outcome(self, call: Callable[[UnitOfWork], Awaitable[Any]]) -> tuple[str, Any]:
        try:
            return "ok", self.call(call)
        except DomainError as error:
            return type(error).__name__, error.details


def model_outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", action()
    except DomainError as error:
        return type(error).__name__, error.details


HOLDERS, BUYERS = range(3), [None, 1, 2]


class ReservationMachine(RuleBasedStateMachine):
    """Reserve, release, consume, restock, count and limit over 3 SKUs, 3 holders, 2 buyers."""

    runner: ClassVar[Runner]  # set by the test on a subclass

    def __init__(self) -> None:
        super().__init__()
        self.token = uuid.uuid4().hex[:8]
        self.skus: list[int] = []
        self.model = StockModel({})

    def holder(self, index: int) -> str:
        return f"m{self.token}:{index}"

    @initialize(stock=st.lists(st.integers(0, 6), min_size=3, max_size=3))
    def open_stock(self, stock: list[int]) -> None:
        self.skus = self.runner.loop.run_until_complete(list_skus(self.runner.container, *stock))
        self.model = StockModel(dict(zip(self.skus, stock, strict=True)))

    @rule(
        index=st.sampled_from(HOLDERS),
        buyer=st.sampled_from(BUYERS),
        wanted=st.dictionaries(st.integers(0, 2), st.integers(1, 4), min_size=1, max_size=3),
    )
    def reserve(self, index: int, buyer: int | None, wanted: dict[int, int]) -> None:
        items = {self.skus[k]: n for k, n in wanted.items()}
        who = self.holder(index)
        expected = model_outcome(lambda: self.model.reserve(who, items, buyer))
        got = self.runner.outcome(
            lambda uow: inventory.reserve(uow=uow, holder=who, items=items, buyer_id=buyer)
        )
        assert got == expected

    @rule(index=st.sampled_from(HOLDERS))
    def release(self, index: int) -> None:
        who = self.holder(index)
        expected = self.model.release(who)
        assert (
            self.runner.call(lambda uow: inventory.release(uow=uow, holder=who, reason="r"))
            == expected
        )

    @rule(index=st.sampled_from(HOLDERS))
    def consume(self, index: int) -> None:
        who = self.holder(index)
        expected = self.model.consume(who)
        assert self.runner.call(lambda uow: inventory.consume(uow=uow, holder=who)) == expected

    @rule(k=st.integers(0, 2), quantity=st.integers(1, 5))
    def restock(self, k: int, quantity: int) -> None:
        sku_id = self.skus[k]
        expected = self.model.restock(sku_id, quantity)
        got = self.runner.call(
            lambda uow: inventory.restock(uow=uow, sku_id=sku_id, quantity=quantity, reason="in")
        )
        assert got == expected

    @rule(k=st.integers(0, 2), on_hand=st.integers(0, 8))
    def count(self, k: int, on_hand: int) -> None:
        sku_id = self.skus[k]
        expected = model_outcome(lambda: self.model.set_on_hand(sku_id, on_hand))
        got = self.runner.outcome(
            lambda uow: inventory.set_on_hand(uow=uow, sku_id=sku_id, on_hand=on_hand)
        )
        assert got[0] == expected[0] and (got[0] != "ok" or got[1] == expected[1])

    @rule(k=st.integers(0, 2), limit=st.sampled_from([None, 1, 2, 3]))
    def limit(self, k: int, limit: int | None) -> None:
        sku_id = self.skus[k]
        self.model.set_limit(sku_id, limit)
        self.runner.call(
            lambda uow: inventory.set_purchase_limit(uow=uow, sku_id=sku_id, limit=limit)
        )

    @precondition(lambda self: bool(self.skus))
    @invariant()
    def database_matches_the_model(self) -> None:
        skus = self.skus

        async def read(uow: UnitOfWork) -> tuple[Any, ...]:
            found = await inventory.get_levels(uow=uow, sku_ids=skus)
            problems = await inventory.audit(uow=uow, sku_ids=skus)
            held = [
                await inventory.reservations_of(uow=uow, holder=self.holder(i)) for i in HOLDERS
            ]
            return found, problems, held

        found, problems, held = self.runner.call(read)
        assert problems == []
        assert found == {sku_id: self.model.level(sku_id) for sku_id in skus}
        for index, reservations in zip(HOLDERS, held, strict=True):
            open_units: dict[int, int] = {}
            for r in reservations:
                if r.status is ReservationStatus.OPEN:
                    open_units[r.sku_id] = open_units.get(r.sku_id, 0) + r.quantity
            assert open_units == self.model.open_of(self.holder(index))


@pytest.mark.parametrize("backend", BACKENDS)
def test_database_follows_the_stock_model(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    loop = asyncio.new_event_loop()
    database = isolated_database(backend, tmp_path_factory)
    try:
        configured = loop.run_until_complete(database.__aenter__())
        container = build_container(configured)
        try:
            loop.run_until_complete(in_own_transaction(container, open_shop))

            class Machine(ReservationMachine):
                runner = Runner(loop, container)

            run_state_machine_as_test(
                Machine,
                settings=settings(
                    max_examples=25,
                    stateful_step_count=20,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
        finally:
            loop.run_until_complete(container.aclose())
            loop.run_until_complete(database.__aexit__(None, None, None))
    finally:
        loop.close()


# --- concurrency --------------------------------------------------------------------------


async def attempt(
    container: Container, gate: asyncio.Semaphore, items: dict[int, int], buyer: int | None = None
) -> tuple[str, dict[int, int], BaseException | None]:
    """One reservation in its own transaction: (holder, items, error or None)."""
    order = holder()
    async with gate, opened(container) as uow:
        try:
            await inventory.reserve(uow=uow, holder=order, items=items, buyer_id=buyer)
        except Exception as error:  # collected: the test asserts on every kind
            return order, items, error
    return order, items, None


async def test_hundreds_of_concurrent_reservations_never_oversell(container: Container) -> None:
    initial = [40, 30, 25, 20, 15]
    skus = await list_skus(container, *initial)
    rng = random.Random(20261111)
    requests: list[dict[int, int]] = []
    for _ in range(300):
        chosen = rng.sample(skus, rng.choice([1, 1, 2, 3]))  # multi-SKU orders in random order
        requests.append({sku_id: rng.randint(1, 3) for sku_id in chosen})
    gate = asyncio.Semaphore(50)
    started = time.perf_counter()
    results = await asyncio.gather(*(attempt(container, gate, items) for items in requests))
    elapsed = time.perf_counter() - started

    failures = [error for _, _, error in results if error is not None]
    assert all(isinstance(error, OutOfStock) for error in failures), failures[:3]
    granted = dict.fromkeys(skus, 0)
    for _, items, error in results:
        if error is None:
            for sku_id, quantity in items.items():
                granted[sku_id] += quantity
    found = await levels(container, skus)
    for sku_id, stock in zip(skus, initial, strict=True):
        assert granted[sku_id] <= stock
        assert found[sku_id] == (stock, granted[sku_id])
    assert 0 < len(failures) < len(results)
    assert await audit(container, skus) == []
    log.info(
        "%d reservations in %.2fs: %d granted, %d out of stock; units held %s",
        len(results),
        elapsed,
        len(results) - len(failures),
        len(failures),
        granted,
    )


async def test_concurrent_orders_of_one_buyer_stay_within_the_limit(
    container: Container,
) -> None:
    (limited,) = await list_skus(container, 100)
    async with opened(container) as uow:
        await inventory.set_purchase_limit(uow=uow, sku_id=limited, limit=2)
    gate = asyncio.Semaphore(50)
    results = await asyncio.gather(
        *(attempt(container, gate, {limited: 1}, buyer=777) for _ in range(40))
    )
    failures = [error for _, _, error in results if error is not None]
    assert len(results) - len(failures) == 2
    assert all(isinstance(error, PurchaseLimitExceeded) for error in failures), failures[:3]
    assert await levels(container, [limited]) == {limited: (100, 2)}
    assert await audit(container, [limited]) == []


async def test_checkouts_spanning_the_same_merchants_never_deadlock(container: Container) -> None:
    """Two orders per checkout, their SKUs interleaved: one ascending pass locks them all."""
    low_a, low_b, high_a, high_b = await list_skus(container, 200, 200, 200, 200)
    rng = random.Random(7)
    gate = asyncio.Semaphore(40)

    async def checkout() -> BaseException | None:
        first, second = (
            ({low_a: 1, high_b: 1}, {low_b: 1, high_a: 1})
            if rng.random() < 0.5
            else ({high_a: 1, low_b: 1}, {high_b: 1, low_a: 1})
        )
        async with gate, opened(container) as uow:
            try:
                await inventory.reserve_many(
                    uow=uow, holders={holder(): first, holder(): second}, buyer_id=None
                )
            except Exception as error:  # collected and asserted on below
                return error
        return None

    results = await asyncio.gather(*(checkout() for _ in range(120)))
    assert [error for error in results if error is not None] == []
    assert await levels(container, [low_a, high_b]) == {low_a: (200, 120), high_b: (200, 120)}
    assert await audit(container) == []
