"""Ordering's pure additions: checkout references, request hashing, cart keys, shipment input,
refund numbers, and the cart's read model (flags, groups, totals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.core.errors import InvalidInput
from kuaidan.ordering.domain import (
    Actor,
    CartOwner,
    OrderAction,
    OrderStatus,
    ParsedReference,
    PriceChange,
    check_guest_key,
    check_idempotency_key,
    check_shipment,
    checkout_reference,
    clean_note,
    clean_reason,
    hash_guest_key,
    new_checkout_reference,
    order_id_of_refund,
    parse_checkout_reference,
    price_changed_error,
    refund_request_no,
    request_hash,
    stock_holder,
    transition,
)
from kuaidan.ordering.readmodels import (
    CartLine,
    CartView,
    LineProblem,
    group_cart_lines,
    line_problem,
)

KEY = b"c" * 32
AT = datetime(2026, 11, 25, 3, tzinfo=UTC)


@given(st.integers(min_value=1, max_value=2**31 - 1))
def test_an_older_derived_reference_parses_back_to_its_id(checkout_id: int) -> None:
    reference = checkout_reference(checkout_id, AT, key=KEY)
    assert reference.startswith("KC20261125") and len(reference) == 20
    parsed = parse_checkout_reference(reference.lower(), key=KEY)
    assert parsed == ParsedReference(reference, "20261125", checkout_id)


def test_new_references_are_random_and_carry_no_id() -> None:
    """Two databases (or one restored from a backup) issue references the provider has not
    seen: nothing in a new reference comes from a row id or the key."""
    issued = {new_checkout_reference(AT) for _ in range(1000)}
    assert len(issued) == 1000
    for reference in issued:
        assert reference.startswith("KC20261125") and len(reference) == 30
        parsed = parse_checkout_reference(f" {reference.lower()} ", key=KEY)
        assert parsed == ParsedReference(reference, "20261125", None)


def test_a_malformed_reference_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        parse_checkout_reference("KD20261125123", key=KEY)


def test_the_request_hash_ignores_key_order_but_not_values() -> None:
    one = request_hash({"items": [[1, 2]], "address_id": 3})
    assert one == request_hash({"address_id": 3, "items": [[1, 2]]})
    assert one != request_hash({"address_id": 3, "items": [[1, 3]]})
    assert len(one) == 64


@pytest.mark.parametrize("key", ["", " ", "x" * 101, "tab\there", "中文"])
def test_idempotency_keys_are_printable_ascii_up_to_100(key: str) -> None:
    with pytest.raises(InvalidInput):
        check_idempotency_key(key)


def test_a_guest_key_is_long_and_stored_only_as_a_hash() -> None:
    key = "A" * 43
    assert check_guest_key(key) == key
    assert hash_guest_key(key) != key and len(hash_guest_key(key)) == 64
    with pytest.raises(InvalidInput):
        check_guest_key("short")
    with pytest.raises(InvalidInput):
        check_guest_key("x" * 40 + "/")


def test_a_cart_belongs_to_a_buyer_or_a_guest_never_both() -> None:
    assert CartOwner.buyer(7).buyer_id == 7
    with pytest.raises(ValueError, match="not both"):
        CartOwner(buyer_id=1, guest_key="A" * 43)
    with pytest.raises(ValueError, match="not both"):
        CartOwner()


def test_shipment_input_is_cleaned_and_checked() -> None:
    assert check_shipment("  顺丰  速运 ", "sf-123456") == ("顺丰 速运", "SF-123456")
    with pytest.raises(InvalidInput, match="tracking"):
        check_shipment("SF", "12 34")
    with pytest.raises(InvalidInput, match="carrier"):
        check_shipment("<script>", "SF123456")


def test_reasons_and_notes_are_one_line_and_bounded() -> None:
    assert clean_reason("  changed \n my mind ") == "changed my mind"
    with pytest.raises(InvalidInput):
        clean_reason("   ")
    assert clean_note("  ") is None
    with pytest.raises(InvalidInput):
        clean_note("x" * 201)


def test_refund_numbers_and_holders_derive_from_the_order() -> None:
    assert refund_request_no(42, "cancel") == "order-42-cancel"
    assert order_id_of_refund("order-42-cancel") == 42
    assert order_id_of_refund("R-elsewhere") is None
    assert stock_holder(42) == "order:42"


def test_a_price_change_lists_every_changed_line() -> None:
    error = price_changed_error([PriceChange(1, 100, 120)])
    assert error.status == 409 and error.code == "price_changed"
    assert error.details == {"changes": [{"sku_id": 1, "seen_fen": 100, "now_fen": 120}]}


def test_a_parcel_without_a_delivery_scan_still_auto_completes() -> None:
    after = transition(OrderStatus.SHIPPED, OrderAction.AUTO_COMPLETE, actor=Actor.SYSTEM)
    assert after is OrderStatus.COMPLETED


# --- the cart's read model -------------------------------------------------------------------


def _line(
    sku: int,
    merchant: int | None,
    *,
    qty: int = 1,
    seen: int = 1000,
    now: int = 1000,
    problem: LineProblem | None = None,
    minutes: int = 0,
) -> CartLine:
    return CartLine(
        sku_id=sku,
        product_id=sku * 10,
        merchant_id=merchant,
        title=f"item {sku}",
        sku_label="",
        attributes={},
        image=None,
        quantity=qty,
        price_seen_fen=seen,
        price_fen=now,
        available=5,
        problem=problem,
        added_at=AT + timedelta(minutes=minutes),
    )


@pytest.mark.parametrize(
    ("quantity", "available", "orderable", "problem"),
    [
        (1, None, False, LineProblem.GONE),
        (1, 5, False, LineProblem.DELISTED),
        (1, 0, True, LineProblem.OUT_OF_STOCK),
        (3, 2, True, LineProblem.NOT_ENOUGH),
        (2, 2, True, None),
    ],
)
def test_line_problems(
    quantity: int, available: int | None, orderable: bool, problem: LineProblem | None
) -> None:
    assert line_problem(quantity=quantity, available=available, orderable=orderable) is problem


def test_the_cart_groups_per_merchant_and_totals_only_orderable_lines() -> None:
    lines = [
        _line(3, 2, qty=2, minutes=1),
        _line(1, 1, seen=900, now=1000),
        _line(2, 2, problem=LineProblem.OUT_OF_STOCK),
        _line(9, None, problem=LineProblem.GONE),
    ]
    cart = CartView(group_cart_lines(lines, {1: "甲", 2: "乙"}))
    assert [(g.merchant_id, g.merchant_name) for g in cart.groups] == [
        (1, "甲"),
        (2, "乙"),
        (None, ""),
    ]
    assert [g.items_fen for g in cart.groups] == [1000, 2000, 0]
    assert cart.total_fen == 3000 and cart.quantity == 5 and cart.has_problems
    assert [(c.sku_id, c.seen_fen, c.now_fen) for c in cart.price_changes] == [(1, 900, 1000)]
    assert [line.sku_id for line in cart.lines] == [1, 2, 3, 9], "oldest line first"
    assert cart.lines[1].out_of_stock and cart.lines[3].delisted and not cart.lines[0].delisted
