"""Payment rules: exact fen ↔ yuan, notification checks, refund limits, statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.core.errors import InvalidInput
from kuaidan.payments.domain import (
    PROVIDER_CLOCK_SKEW,
    PaymentStatus,
    RefundRefused,
    TradeState,
    TradeStatus,
    check_refund,
    fen_to_yuan,
    mismatch_problems,
    status_after_refunds,
    trade_problems,
    yuan_to_fen,
)


@pytest.mark.parametrize(
    ("fen", "text"), [(0, "0.00"), (1, "0.01"), (10, "0.10"), (12345, "123.45"), (100, "1.00")]
)
def test_fen_to_yuan_is_exact(fen: int, text: str) -> None:
    assert fen_to_yuan(fen) == text
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    ("text", "fen"), [("1", 100), ("1.5", 150), ("0.1", 10), ("99999", 9999900)]
)
def test_short_forms_are_accepted(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text", ["", "1.234", "-1.00", "+1", "1,000.00", "¥1", " 1.00", "1e3", "01.00", ".5", "1."]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        yuan_to_fen(text)


@pytest.mark.parametrize("fen", [-1, True, 1.5])
def test_fen_must_be_a_non_negative_int(fen: object) -> None:
    with pytest.raises(InvalidInput):
        fen_to_yuan(fen)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**13))
def test_round_trip_for_any_amount(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


def _problems(**changes: object) -> list[str]:
    args: dict[str, object] = {
        "expected_app_id": "app",
        "app_id": "app",
        "expected_amount_fen": 12345,
        "amount_fen": 12345,
        "expected_currency": "CNY",
        "currency": "CNY",
    }
    args.update(changes)
    return mismatch_problems(**args)  # type: ignore[arg-type]


def test_a_matching_message_has_no_problems() -> None:
    assert _problems() == []


def test_each_mismatch_is_named() -> None:
    assert _problems(app_id="other") == ["app_id does not match"]
    assert _problems(amount_fen=1) == ["amount does not match"]
    assert _problems(currency="USD") == ["currency does not match"]


def test_refund_within_the_paid_amount_passes() -> None:
    check_refund(status=PaymentStatus.SUCCEEDED, paid_fen=1000, committed_fen=400, amount_fen=600)


def test_refund_beyond_the_paid_amount_is_refused() -> None:
    with pytest.raises(RefundRefused) as caught:
        check_refund(
            status=PaymentStatus.PARTIALLY_REFUNDED,
            paid_fen=1000,
            committed_fen=400,
            amount_fen=601,
        )
    assert caught.value.details == {"refundable_fen": 600, "requested_fen": 601}


@pytest.mark.parametrize("status", [PaymentStatus.CREATED, PaymentStatus.CLOSED])
def test_unpaid_payments_cannot_be_refunded(status: PaymentStatus) -> None:
    with pytest.raises(RefundRefused):
        check_refund(status=status, paid_fen=1000, committed_fen=0, amount_fen=1)


def test_a_refund_is_positive() -> None:
    with pytest.raises(InvalidInput):
        check_refund(status=PaymentStatus.SUCCEEDED, paid_fen=1000, committed_fen=0, amount_fen=0)


def test_status_follows_the_refunded_total() -> None:
    assert status_after_refunds(paid_fen=100, refunded_fen=0) == PaymentStatus.SUCCEEDED
    assert status_after_refunds(paid_fen=100, refunded_fen=1) == PaymentStatus.PARTIALLY_REFUNDED
    assert status_after_refunds(paid_fen=100, refunded_fen=100) == PaymentStatus.REFUNDED


def test_paid_trade_states() -> None:
    assert TradeState.TRADE_SUCCESS.is_paid and TradeState.TRADE_FINISHED.is_paid
    assert not TradeState.WAIT_BUYER_PAY.is_paid and not TradeState.TRADE_CLOSED.is_paid


CREATED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _trade(
    amount_fen: int = 5900, paid_at: datetime | None = None, trade_no: str | None = "T1"
) -> TradeStatus:
    return TradeStatus(
        reference="KC20261207" + "0" * 20,
        state=TradeState.TRADE_SUCCESS,
        trade_no=trade_no,
        amount_fen=amount_fen,
        paid_at=paid_at or CREATED + timedelta(minutes=3),
    )


def test_a_trade_paid_after_the_payment_for_its_amount_fits() -> None:
    assert (
        trade_problems(expected_amount_fen=5900, payment_created_at=CREATED, trade=_trade()) == []
    )
    # The provider's clock may run a little behind ours.
    early = _trade(paid_at=CREATED - PROVIDER_CLOCK_SKEW + timedelta(seconds=1))
    assert trade_problems(expected_amount_fen=5900, payment_created_at=CREATED, trade=early) == []


def test_a_trade_paid_before_the_payment_existed_is_another_payment() -> None:
    """The old trade of a reset or restored database, though its amount is the same."""
    old = _trade(paid_at=CREATED - timedelta(minutes=18))
    problems = trade_problems(expected_amount_fen=5900, payment_created_at=CREATED, trade=old)
    assert problems == ["paid before this payment existed"]


def test_each_problem_of_a_trade_is_named() -> None:
    odd = _trade(amount_fen=5901, trade_no=None)
    problems = trade_problems(expected_amount_fen=5900, payment_created_at=CREATED, trade=odd)
    assert problems == ["amount does not match", "no trade number"]
