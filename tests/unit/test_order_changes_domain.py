"""The pure rules of changes before shipping: allowed states, limits, approval, money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.core.errors import InvalidInput
from kuaidan.ordering.changes.domain import (
    MAX_ADDRESS_CHANGES,
    ChangeAmountWhileUnpaid,
    ChangeKind,
    ChangeLimitReached,
    ChangeNotAllowed,
    Difference,
    NotSameProduct,
    OrderFacts,
    approval_due,
    change_extra_refund_no,
    change_payment_reference,
    change_refund_no,
    change_stock_holder,
    check_changeable,
    check_quantity,
    check_settlement,
    check_swap,
    line_difference,
    needs_approval,
    needs_extra_payment,
    payment_overdue,
)
from kuaidan.ordering.domain import OrderStatus

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def facts(**overrides: object) -> OrderFacts:
    values: dict[str, object] = {
        "status": OrderStatus.PAID,
        "refund_in_progress": False,
        "packing_started": False,
        "address_changes": 0,
        "open_change": False,
    }
    values.update(overrides)
    return OrderFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [OrderStatus.PENDING_PAYMENT, OrderStatus.PAID])
def test_unshipped_orders_may_change(status: OrderStatus) -> None:
    for kind in ChangeKind:
        check_changeable(facts(status=status), kind)


@pytest.mark.parametrize(
    "status",
    [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED],
)
def test_shipped_or_closed_orders_may_not_change(status: OrderStatus) -> None:
    with pytest.raises(ChangeNotAllowed, match=status.value):
        check_changeable(facts(status=status), ChangeKind.SWAP)


def test_a_refund_in_progress_or_an_open_change_blocks_changes() -> None:
    with pytest.raises(ChangeNotAllowed, match="refund"):
        check_changeable(facts(refund_in_progress=True), ChangeKind.ADDRESS)
    with pytest.raises(ChangeNotAllowed, match="still open"):
        check_changeable(facts(open_change=True), ChangeKind.QUANTITY)


def test_the_address_changes_at_most_five_times() -> None:
    check_changeable(facts(address_changes=MAX_ADDRESS_CHANGES - 1), ChangeKind.ADDRESS)
    with pytest.raises(ChangeLimitReached):
        check_changeable(facts(address_changes=MAX_ADDRESS_CHANGES), ChangeKind.ADDRESS)
    # The limit is on addresses only.
    check_changeable(facts(address_changes=MAX_ADDRESS_CHANGES), ChangeKind.SWAP)


def test_approval_is_needed_once_packing_started_on_a_paid_order() -> None:
    assert not needs_approval(facts())
    assert needs_approval(facts(packing_started=True))
    assert not needs_approval(facts(status=OrderStatus.PENDING_PAYMENT, packing_started=True))


def test_unanswered_requests_are_due_after_the_wait() -> None:
    wait = timedelta(hours=12)
    asked = NOW - wait
    assert approval_due(asked, wait, now=NOW)
    assert not approval_due(asked + timedelta(seconds=1), wait, now=NOW)


@pytest.mark.parametrize("quantity", [0, -1, 100, True])
def test_quantities_out_of_range_are_refused(quantity: int) -> None:
    with pytest.raises(InvalidInput):
        check_quantity(quantity)


def test_a_swap_stays_within_the_product() -> None:
    check_swap(line_product_id=1, line_sku_id=10, new_product_id=1, new_sku_id=11)
    with pytest.raises(NotSameProduct):
        check_swap(line_product_id=1, line_sku_id=10, new_product_id=2, new_sku_id=20)
    with pytest.raises(InvalidInput):
        check_swap(line_product_id=1, line_sku_id=10, new_product_id=1, new_sku_id=10)


def test_an_unpaid_order_may_not_change_its_amount() -> None:
    check_settlement(OrderStatus.PENDING_PAYMENT, Difference(3000, 3000))
    check_settlement(OrderStatus.PAID, Difference(3000, 2500))
    with pytest.raises(ChangeAmountWhileUnpaid):
        check_settlement(OrderStatus.PENDING_PAYMENT, Difference(3000, 2500))


def test_a_dearer_change_of_a_paid_order_waits_for_its_extra_payment() -> None:
    check_settlement(OrderStatus.PAID, Difference(3000, 3600))
    assert needs_extra_payment(OrderStatus.PAID, Difference(3000, 3600))
    assert not needs_extra_payment(OrderStatus.PAID, Difference(3000, 3000))
    assert not needs_extra_payment(OrderStatus.PAID, Difference(3000, 2500))
    assert not needs_extra_payment(OrderStatus.PENDING_PAYMENT, Difference(3000, 3600))


def test_an_extra_payment_is_overdue_after_the_payment_window() -> None:
    since = datetime(2026, 1, 1, 12, tzinfo=UTC)
    ttl = timedelta(minutes=15)
    assert not payment_overdue(since, ttl, now=since + ttl - timedelta(seconds=1))
    assert payment_overdue(since, ttl, now=since + ttl)
    assert change_payment_reference(7, "ab12").startswith("chg-7-")
    assert change_stock_holder(7) != change_stock_holder(8)
    assert change_extra_refund_no(7) != change_refund_no(7)


@given(st.integers(0, 100_000), st.integers(1, 99), st.integers(0, 100_000), st.integers(1, 99))
def test_a_difference_is_either_refunded_or_paid_extra(
    old_unit: int, old_qty: int, new_unit: int, new_qty: int
) -> None:
    diff = line_difference(
        old_unit_fen=old_unit, old_quantity=old_qty, new_unit_fen=new_unit, new_quantity=new_qty
    )
    assert diff.amount_fen == new_unit * new_qty - old_unit * old_qty
    assert diff.refund_fen >= 0 and diff.extra_fen >= 0
    assert diff.extra_fen - diff.refund_fen == diff.amount_fen
    assert min(diff.refund_fen, diff.extra_fen) == 0


def test_refund_numbers_are_derived_from_the_change() -> None:
    assert change_refund_no(42) == change_refund_no(42) != change_refund_no(43)
