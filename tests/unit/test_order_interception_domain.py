"""Interception rules: when a parcel may be stopped, who bears the carrier's fee, what a
cancelled order gives back, and the steps of a case (each taken once)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.logistics.domain.carriers import (
    INTERCEPT_FEES_FEN,
    ServiceAgreement,
    agreement_from_json,
    agreement_to_json,
)
from kuaidan.logistics.domain.geo import Zone
from kuaidan.ordering.interception.domain import (
    FINISHED,
    STEPS,
    Bearer,
    InterceptionCause,
    InterceptionNotAllowed,
    InterceptionStatus,
    InterceptionStep,
    bearer_of,
    check_may_intercept,
    refund_fen,
    step,
)

S, T = InterceptionStatus, InterceptionStep

MAY: dict[str, Any] = {
    "order_status": "shipped",
    "shipment_status": "in_transit",
    "parcel_terminal": False,
    "has_tracking": True,
    "open_case": False,
    "refund_in_progress": False,
}


def test_a_shipped_order_with_a_moving_parcel_may_be_intercepted() -> None:
    check_may_intercept(**MAY)
    check_may_intercept(**{**MAY, "shipment_status": "created"})  # booked, not yet scanned


@pytest.mark.parametrize(
    "change",
    [
        {"order_status": "paid"},
        {"order_status": "delivered"},
        {"order_status": "completed"},
        {"parcel_terminal": True, "shipment_status": "delivered"},
        {"shipment_status": "returning"},
        {"shipment_status": "refused"},
        {"has_tracking": False},
        {"shipment_status": None},
        {"open_case": True},
        {"refund_in_progress": True},
    ],
)
def test_an_interception_is_refused_when_the_parcel_cannot_be_stopped(
    change: dict[str, Any],
) -> None:
    with pytest.raises(InterceptionNotAllowed) as raised:
        check_may_intercept(**{**MAY, **change})
    assert raised.value.status == 409


def test_the_buyer_bears_a_change_of_mind_and_the_merchant_its_error() -> None:
    assert bearer_of(InterceptionCause.BUYER_CHANGED_MIND) is Bearer.BUYER
    assert bearer_of(InterceptionCause.MERCHANT_ERROR) is Bearer.MERCHANT


def test_a_cancel_refunds_the_total_less_the_fee_the_buyer_bears() -> None:
    assert refund_fen(total_fen=2300, fee_fen=800, bearer=Bearer.BUYER) == 1500
    assert refund_fen(total_fen=2300, fee_fen=800, bearer=Bearer.MERCHANT) == 2300
    assert refund_fen(total_fen=500, fee_fen=800, bearer=Bearer.BUYER) == 0


@given(st.integers(0, 10**8), st.integers(0, 10**6), st.sampled_from(list(Bearer)))
def test_a_refund_is_never_negative_nor_more_than_the_total(
    total: int, fee: int, bearer: Bearer
) -> None:
    assert 0 <= refund_fen(total_fen=total, fee_fen=fee, bearer=bearer) <= total


def test_a_redirect_runs_requested_to_reshipped_and_a_cancel_to_refunded() -> None:
    status = S.REQUESTED
    for what in (T.SENT, T.SUCCEEDED, T.RETURNED):
        after = step(status, what)
        assert after is not None
        status = after
    assert status is S.RETURNED
    assert step(status, T.RESHIPPED) is S.RESHIPPED
    assert step(status, T.REFUNDED) is S.REFUNDED
    assert step(S.INTERCEPTING, T.FAILED) is S.FAILED


def test_a_step_already_taken_or_out_of_turn_does_nothing() -> None:
    assert step(S.INTERCEPTING, T.SENT) is None
    assert step(S.SUCCEEDED, T.SUCCEEDED) is None
    assert step(S.FAILED, T.RETURNED) is None
    assert step(S.REQUESTED, T.RESHIPPED) is None
    for finished in FINISHED:
        assert all(step(finished, what) is None for what in T)


def test_the_parcels_return_may_come_before_the_carriers_answer() -> None:
    assert step(S.INTERCEPTING, T.RETURNED) is S.RETURNED
    assert all(after not in (S.REQUESTED,) for after in STEPS.values())


def test_an_agreement_carries_its_interception_fees_and_old_ones_get_the_defaults() -> None:
    agreement = ServiceAgreement(
        dict.fromkeys(Zone, 2),
        0.9,
        0.99,
        4.5,
        intercept_fee_fen={**INTERCEPT_FEES_FEN, Zone.FAR: 1500},
    )
    again = agreement_from_json(agreement_to_json(agreement))
    assert again.intercept_fee_for(Zone.FAR) == 1500
    assert again.intercept_fee_for(Zone.SAME_CITY) == INTERCEPT_FEES_FEN[Zone.SAME_CITY]
    stored = agreement_to_json(agreement)
    del stored["intercept_fee_fen"]
    assert agreement_from_json(stored).intercept_fee_fen == INTERCEPT_FEES_FEN
    with pytest.raises(Exception, match="interception fee"):
        agreement_from_json({**stored, "intercept_fee_fen": {"far": -1}})
