"""Pure stock rules: reservation lines, the per-buyer limit, the audit, and an in-memory model.

``StockModel`` is the oracle the integration tests hold the database to: the same reserve,
release, consume, restock and count operations on plain dictionaries, written for clarity.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.core.errors import Conflict, InvalidInput, NotFound
from kuaidan.inventory.domain import (
    OutOfStock,
    PurchaseLimitExceeded,
    ReservationStatus,
    Shortage,
    StockFigures,
    StockLevel,
    audit_problems,
    check_label,
    check_positive,
    check_purchase_limit,
    reservation_lines,
    within_purchase_limit,
)

# --- the oracle ---------------------------------------------------------------------------


@dataclass
class ModelReservation:
    sku_id: int
    holder: str
    buyer_id: int | None
    quantity: int
    status: ReservationStatus = ReservationStatus.OPEN


class StockModel:
    """Stock of a few SKUs kept in memory, following the rules of DESIGN.md §5."""

    def __init__(self, stock: Mapping[int, int]) -> None:
        self.on_hand = dict(stock)
        self.reserved = dict.fromkeys(stock, 0)
        self.limits: dict[int, int | None] = dict.fromkeys(stock)
        self.ledger = dict(stock)
        self.reservations: list[ModelReservation] = []

    def level(self, sku_id: int) -> StockLevel:
        return StockLevel(sku_id, self.on_hand[sku_id], self.reserved[sku_id], self.limits[sku_id])

    def held_by(self, buyer_id: int, sku_id: int) -> int:
        return sum(
            r.quantity
            for r in self.reservations
            if r.buyer_id == buyer_id
            and r.sku_id == sku_id
            and r.status is not ReservationStatus.RELEASED
        )

    def open_of(self, holder: str) -> dict[int, int]:
        units: dict[int, int] = {}
        for r in self.reservations:
            if r.holder == holder and r.status is ReservationStatus.OPEN:
                units[r.sku_id] = units.get(r.sku_id, 0) + r.quantity
        return units

    def reserve(
        self, holder: str, items: Mapping[int, int], buyer_id: int | None = None
    ) -> dict[int, int]:
        lines = reservation_lines(items)
        for index, (sku_id, quantity) in enumerate(lines):
            if sku_id not in self.on_hand or self.level(sku_id).available < quantity:
                self._refuse(lines[index:])
            if buyer_id is not None:
                check_purchase_limit(
                    sku_id=sku_id,
                    limit=self.limits[sku_id],
                    already=self.held_by(buyer_id, sku_id),
                    requested=quantity,
                )
        for sku_id, quantity in lines:
            self.reserved[sku_id] += quantity
            self.reservations.append(ModelReservation(sku_id, holder, buyer_id, quantity))
        return {sku_id: self.level(sku_id).available for sku_id, _ in lines}

    def _refuse(self, rest: list[tuple[int, int]]) -> None:
        missing = [sku_id for sku_id, _ in rest if sku_id not in self.on_hand]
        if missing:
            raise NotFound("no stock", details={"sku_ids": missing})
        raise OutOfStock(
            Shortage(sku_id, quantity, self.level(sku_id).available)
            for index, (sku_id, quantity) in enumerate(rest)
            if index == 0 or self.level(sku_id).available < quantity
        )

    def _close(self, holder: str, status: ReservationStatus) -> int:
        closed = 0
        for r in self.reservations:
            if r.holder == holder and r.status is ReservationStatus.OPEN:
                r.status, closed = status, closed + 1
                self.reserved[r.sku_id] -= r.quantity
                if status is ReservationStatus.CONSUMED:
                    self.on_hand[r.sku_id] -= r.quantity
                    self.ledger[r.sku_id] -= r.quantity
        return closed

    def release(self, holder: str) -> int:
        return self._close(holder, ReservationStatus.RELEASED)

    def consume(self, holder: str) -> int:
        return self._close(holder, ReservationStatus.CONSUMED)

    def restock(self, sku_id: int, quantity: int) -> StockLevel:
        self.on_hand[sku_id] += quantity
        self.ledger[sku_id] += quantity
        return self.level(sku_id)

    def set_on_hand(self, sku_id: int, on_hand: int) -> StockLevel:
        if on_hand < self.reserved[sku_id]:
            raise Conflict("below reserved", details={"sku_id": sku_id})
        self.ledger[sku_id] += on_hand - self.on_hand[sku_id]
        self.on_hand[sku_id] = on_hand
        return self.level(sku_id)

    def set_limit(self, sku_id: int, limit: int | None) -> None:
        self.limits[sku_id] = limit

    def figures(self) -> list[StockFigures]:
        return [
            StockFigures(
                sku_id=sku_id,
                on_hand=self.on_hand[sku_id],
                reserved=self.reserved[sku_id],
                open_reserved=sum(
                    r.quantity
                    for r in self.reservations
                    if r.sku_id == sku_id and r.status is ReservationStatus.OPEN
                ),
                ledger_on_hand=self.ledger[sku_id],
            )
            for sku_id in sorted(self.on_hand)
        ]


# --- reservation lines and labels ---------------------------------------------------------


@given(st.dictionaries(st.integers(1, 10**6), st.integers(1, 1000), min_size=1))
def test_reservation_lines_come_in_ascending_sku_order(items: dict[int, int]) -> None:
    lines = reservation_lines(items)
    assert [sku_id for sku_id, _ in lines] == sorted(items)
    assert dict(lines) == items


@pytest.mark.parametrize("items", [{}, {1: 0}, {1: -2}, {1: True}, {1: 1.5}, {True: 1}, {"7": 1}])
def test_reservation_lines_refuse_empty_or_non_positive_quantities(items: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput):
        reservation_lines(items)


def test_labels_and_positive_numbers_are_checked() -> None:
    assert check_label("order:1", field="holder", max_length=64) == "order:1"
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(InvalidInput):
            check_label(bad, field="holder", max_length=64)
    assert check_positive(3, field="limit") == 3
    with pytest.raises(InvalidInput):
        check_positive(0, field="limit")


# --- the per-buyer limit ------------------------------------------------------------------


@given(st.integers(0, 50), st.integers(1, 50))
def test_no_limit_allows_any_quantity(already: int, requested: int) -> None:
    assert within_purchase_limit(limit=None, already=already, requested=requested)


@given(st.integers(1, 20), st.integers(0, 20), st.integers(1, 20))
def test_limit_allows_exactly_up_to_the_limit(limit: int, already: int, requested: int) -> None:
    allowed = within_purchase_limit(limit=limit, already=already, requested=requested)
    assert allowed == (already + requested <= limit)
    if allowed and requested > 1:  # asking for less is never refused when more is allowed
        assert within_purchase_limit(limit=limit, already=already, requested=requested - 1)


def test_limit_breach_is_a_conflict_with_its_figures() -> None:
    check_purchase_limit(sku_id=7, limit=2, already=1, requested=1)
    with pytest.raises(PurchaseLimitExceeded) as caught:
        check_purchase_limit(sku_id=7, limit=2, already=1, requested=2)
    error = caught.value
    assert isinstance(error, Conflict) and error.status == 409
    assert error.to_dict()["code"] == "purchase_limit"
    assert error.details == {"sku_id": 7, "limit": 2, "already": 1, "requested": 2}


def test_out_of_stock_lists_each_short_sku_in_order() -> None:
    error = OutOfStock([Shortage(9, 3, 1), Shortage(2, 5, 0)])
    assert isinstance(error, Conflict) and error.status == 409 and error.code == "out_of_stock"
    assert error.details == {
        "skus": [
            {"sku_id": 2, "requested": 5, "available": 0},
            {"sku_id": 9, "requested": 3, "available": 1},
        ]
    }
    assert "SKU 2" in error.message and "SKU 9" in error.message


# --- the audit ----------------------------------------------------------------------------


def test_audit_names_every_broken_invariant() -> None:
    good = StockFigures(1, on_hand=5, reserved=2, open_reserved=2, ledger_on_hand=5)
    assert audit_problems([good]) == []
    drifted = StockFigures(2, on_hand=5, reserved=3, open_reserved=2, ledger_on_hand=5)
    oversold = StockFigures(3, on_hand=1, reserved=2, open_reserved=2, ledger_on_hand=1)
    negative = StockFigures(4, on_hand=1, reserved=-1, open_reserved=-1, ledger_on_hand=1)
    unledgered = StockFigures(5, on_hand=7, reserved=0, open_reserved=0, ledger_on_hand=6)
    problems = audit_problems([drifted, oversold, negative, unledgered])
    assert len(problems) == 4
    assert problems[0].startswith("SKU 2: reserved is 3")
    assert "available is negative" in problems[1]
    assert "reserved is negative" in problems[2]
    assert "ledger adds up to 6" in problems[3]


# --- the model keeps the invariants, and a refused reservation changes nothing ------------

SKUS = (1, 2, 3)
operation = st.one_of(
    st.tuples(
        st.just("reserve"),
        st.sampled_from(["a", "b", "c"]),
        st.dictionaries(st.sampled_from((*SKUS, 4)), st.integers(1, 4), min_size=1, max_size=3),
        st.sampled_from([None, 1, 2]),
    ),
    st.tuples(st.just("release"), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("consume"), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("restock"), st.sampled_from(SKUS), st.integers(1, 5)),
    st.tuples(st.just("count"), st.sampled_from(SKUS), st.integers(0, 8)),
    st.tuples(st.just("limit"), st.sampled_from(SKUS), st.sampled_from([None, 1, 2, 3])),
)


def apply(model: StockModel, op: tuple) -> None:  # type: ignore[type-arg]
    name, *args = op
    if name == "reserve":
        model.reserve(args[0], args[1], args[2])
    elif name == "release":
        model.release(args[0])
    elif name == "consume":
        model.consume(args[0])
    elif name == "restock":
        model.restock(args[0], args[1])
    elif name == "count":
        model.set_on_hand(args[0], args[1])
    else:
        model.set_limit(args[0], args[1])


def snapshot(model: StockModel) -> tuple[object, ...]:
    return (
        dict(model.on_hand),
        dict(model.reserved),
        [(r.sku_id, r.holder, r.quantity, r.status) for r in model.reservations],
    )


@given(st.lists(st.integers(0, 6), min_size=3, max_size=3), st.lists(operation, max_size=30))
def test_model_keeps_the_invariants_and_refusals_change_nothing(
    stock: list[int],
    ops: list[tuple],  # type: ignore[type-arg]
) -> None:
    model = StockModel(dict(zip(SKUS, stock, strict=True)))
    for op in ops:
        before = snapshot(model)
        try:
            apply(model, op)
        except (Conflict, NotFound):
            assert snapshot(model) == before
        assert audit_problems(model.figures()) == []
        for sku_id in SKUS:
            assert model.level(sku_id).available >= 0


@given(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1, max_size=8))
def test_model_buyer_never_holds_more_than_the_limit(limit: int, wanted: list[int]) -> None:
    model = StockModel({1: 100})
    model.set_limit(1, limit)
    for index, quantity in enumerate(wanted):
        with contextlib.suppress(PurchaseLimitExceeded):
            model.reserve(f"order:{index}", {1: quantity}, buyer_id=7)
        if index % 3 == 2:
            model.consume(f"order:{index}")
    assert model.held_by(7, 1) <= limit
