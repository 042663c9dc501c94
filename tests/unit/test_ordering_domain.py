"""The order state machine, order numbers and checkout arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.core.errors import InvalidInput
from kuaidan.ordering.domain import (
    HOLDS_RESERVATION,
    TERMINAL,
    TRANSITIONS,
    Actor,
    IllegalTransition,
    Line,
    OrderAction,
    OrderStatus,
    allowed_actions,
    check_quantities,
    group_by_merchant,
    is_overdue,
    order_number,
    parse_order_number,
    price_changes,
    requires_refund,
    scramble,
    transition,
    unscramble,
)

S, A = OrderStatus, OrderAction
KEY = b"k" * 32


def test_happy_path_runs_from_pending_payment_to_completed() -> None:
    status = S.PENDING_PAYMENT
    for action, actor in [
        (A.PAY, Actor.SYSTEM),
        (A.SHIP, Actor.MERCHANT),
        (A.DELIVER, Actor.SYSTEM),
        (A.CONFIRM_RECEIPT, Actor.BUYER),
    ]:
        status = transition(status, action, actor=actor)
    assert status is S.COMPLETED


@pytest.mark.parametrize("status", [S.SHIPPED, S.DELIVERED, S.COMPLETED, S.CANCELLED])
def test_cancel_after_shipping_is_an_illegal_transition(status: OrderStatus) -> None:
    with pytest.raises(IllegalTransition) as err:
        transition(status, A.CANCEL, actor=Actor.BUYER)
    assert err.value.status == 409
    assert status.value in err.value.message


def test_a_buyer_cannot_mark_an_order_paid_or_shipped() -> None:
    with pytest.raises(IllegalTransition, match="buyer cannot pay"):
        transition(S.PENDING_PAYMENT, A.PAY, actor=Actor.BUYER)
    with pytest.raises(IllegalTransition, match="buyer cannot ship"):
        transition(S.PAID, A.SHIP, actor=Actor.BUYER)


def test_only_cancelling_a_paid_order_needs_a_refund() -> None:
    assert requires_refund(S.PAID, A.CANCEL)
    assert not requires_refund(S.PENDING_PAYMENT, A.CANCEL)
    assert not requires_refund(S.PENDING_PAYMENT, A.EXPIRE)


def test_allowed_actions_follow_the_table() -> None:
    assert allowed_actions(S.PAID, actor=Actor.BUYER) == [A.CANCEL]
    assert allowed_actions(S.PAID, actor=Actor.MERCHANT) == [A.SHIP, A.CANCEL]
    assert allowed_actions(S.DELIVERED, actor=Actor.BUYER) == [A.CONFIRM_RECEIPT]
    assert allowed_actions(S.SHIPPED, actor=Actor.BUYER) == [A.CONFIRM_RECEIPT]
    assert allowed_actions(S.COMPLETED, actor=Actor.ADMIN) == []


@given(st.lists(st.tuples(st.sampled_from(A), st.sampled_from(Actor)), max_size=12))
def test_any_sequence_of_actions_stays_on_the_graph(steps: list[tuple[OrderAction, Actor]]) -> None:
    status = S.PENDING_PAYMENT
    for action, actor in steps:
        try:
            after = transition(status, action, actor=actor)
        except IllegalTransition:
            continue
        assert (status, action) in TRANSITIONS
        assert status not in TERMINAL, "nothing leaves a terminal state"
        if after in HOLDS_RESERVATION:
            assert status in HOLDS_RESERVATION, "a released reservation is never taken back"
        status = after


@given(
    st.integers(min_value=0, max_value=10**10 - 1), st.integers(min_value=0, max_value=10**10 - 1)
)
def test_scramble_is_a_permutation(a: int, b: int) -> None:
    assert 0 <= scramble(a, key=KEY) < 10**10
    assert (scramble(a, key=KEY) == scramble(b, key=KEY)) == (a == b)
    assert unscramble(scramble(a, key=KEY), key=KEY) == a


def test_order_number_parses_back_to_id_and_date() -> None:
    placed = datetime(2026, 11, 25, 3, tzinfo=UTC)
    number = order_number(123456, placed, key=KEY, zone="Asia/Shanghai")
    assert parse_order_number(number.lower(), key=KEY) == (123456, "20261125")
    with pytest.raises(InvalidInput):
        parse_order_number("KD2026", key=KEY)


def test_order_number_uses_the_local_date_and_hides_the_sequence() -> None:
    late_evening_utc = datetime(2026, 11, 10, 17, 30, tzinfo=UTC)  # 01:30 on the 11th in Shanghai
    first = order_number(1, late_evening_utc, key=KEY, zone="Asia/Shanghai")
    second = order_number(2, late_evening_utc, key=KEY, zone="Asia/Shanghai")
    assert first.startswith("KD20261111") and len(first) == 20
    assert abs(int(first[10:]) - int(second[10:])) > 1


def _line(sku: int, merchant: int, qty: int = 1, price: int = 1000) -> Line:
    return Line(
        sku_id=sku, product_id=sku * 10, merchant_id=merchant, quantity=qty, unit_price_fen=price
    )


def test_checkout_groups_one_order_per_merchant() -> None:
    groups = group_by_merchant([_line(3, 2), _line(1, 1, 2, 500), _line(2, 2, 1, 250)])
    assert [g.merchant_id for g in groups] == [1, 2]
    assert [line.sku_id for line in groups[1].lines] == [2, 3]
    assert [g.items_fen for g in groups] == [1000, 1250]


@pytest.mark.parametrize("qty", [0, -1, 100])
def test_quantity_out_of_range_is_refused(qty: int) -> None:
    with pytest.raises(InvalidInput, match="quantity"):
        check_quantities([_line(1, 1, qty)])


def test_empty_cart_and_duplicate_lines_are_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        check_quantities([])
    with pytest.raises(InvalidInput, match="once"):
        check_quantities([_line(1, 1), _line(1, 1)])


def test_price_changes_are_reported_per_sku() -> None:
    changes = price_changes({1: 1000, 2: 500}, [_line(1, 1, price=1200), _line(2, 1, price=500)])
    assert [(c.sku_id, c.seen_fen, c.now_fen) for c in changes] == [(1, 1000, 1200)]


def test_unpaid_order_is_overdue_only_while_pending() -> None:
    deadline = datetime(2026, 11, 11, tzinfo=UTC)
    later = deadline + timedelta(seconds=1)
    assert is_overdue(status=S.PENDING_PAYMENT, deadline=deadline, now=later)
    assert not is_overdue(status=S.PENDING_PAYMENT, deadline=deadline, now=deadline - timedelta(1))
    assert not is_overdue(status=S.PAID, deadline=deadline, now=later)
