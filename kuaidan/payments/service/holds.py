"""A payment held by risk: the buyer verifies with a one-time code, or asks for a new one;
an analyst's approval or rejection and an expired hold arrive as risk's events.

Released, a held payment is ``created`` again with a fresh pay link (``PaymentReleased``);
stopped, it is ``blocked`` (``PaymentBlocked``); expired, it is ``closed``
(``PaymentHoldExpired``). Ordering reacts to those three. Closed too when ordering cancels all
its orders while it is held. Nothing here calls the provider.
"""

from __future__ import annotations

from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import NotFound
from kuaidan.core.outbox import publish
from kuaidan.payments import repository
from kuaidan.payments.domain import PaymentStart, PaymentStatus
from kuaidan.payments.events import PaymentBlocked, PaymentHoldExpired, PaymentReleased
from kuaidan.payments.models import Payment
from kuaidan.payments.service._core import _config, _pay_url, _require_payment
from kuaidan.risk import service as risk
from kuaidan.risk.domain import (
    CodeCheck,
    CodeOutcome,
    NotAwaitingVerification,
    VerificationFailed,
)
from kuaidan.risk.domain import PaymentBlocked as Blocked
from kuaidan.security import service as security

HELD = PaymentStatus.HELD.value


async def _held_payment(uow: UnitOfWork, reference: str, buyer_id: int) -> Payment:
    payment = await _require_payment(uow, reference, lock=True)
    if payment.buyer_id != buyer_id:
        raise NotFound("no such payment", details={"reference": reference})
    if payment.status != HELD:
        raise NotAwaitingVerification(f"this payment is {payment.status}, not held")
    return payment


async def _release(uow: UnitOfWork, payment: Payment) -> PaymentStart:
    """Held → created with a pay link, in the caller's transaction."""
    await repository.set_status(
        uow.session,
        payment_id=payment.id,
        from_status=HELD,
        to_status=PaymentStatus.CREATED.value,
    )
    config, now = _config(uow), uow.now()
    url = _pay_url(config, payment, return_path=payment.return_path or "/", now=now)
    event = PaymentReleased(payment.id, payment.reference, url, now + config.pay_window)
    await publish(uow, event, key=payment.reference)
    return PaymentStart(payment.id, payment.reference, PaymentStatus.CREATED, url)


async def _block(uow: UnitOfWork, payment: Payment, *, reason: str) -> None:
    changed = await repository.set_status(
        uow.session,
        payment_id=payment.id,
        from_status=HELD,
        to_status=PaymentStatus.BLOCKED.value,
    )
    if changed:
        event = PaymentBlocked(payment.id, payment.reference, reason)
        await publish(uow, event, key=payment.reference)


async def verify_payment(
    *, uow: UnitOfWork, reference: str, buyer_id: int, code: str
) -> PaymentStart:
    """The buyer's one-time code: right, the payment is released and its pay link returned;
    wrong, VerificationFailed with the tries left (the last wrong one blocks the payment and
    its orders are cancelled). The count of wrong codes is kept even though this raises."""
    started: PaymentStart | None = None
    async with uow.atomic():
        payment = await _held_payment(uow, reference, buyer_id)
        check = await risk.check_code(uow=uow, reference=reference, buyer_id=buyer_id, code=code)
        if check.outcome is CodeOutcome.PASSED:
            started = await _release(uow, payment)
        elif check.outcome is CodeOutcome.BLOCKED:
            await _block(uow, payment, reason="too many wrong verification codes")
    if started is None:
        raise _refusal(check)
    return started


def _refusal(check: CodeCheck) -> Exception:
    if check.outcome is CodeOutcome.BLOCKED:
        return Blocked("too many wrong codes: the payment is blocked and its orders cancelled")
    if check.outcome is CodeOutcome.EXPIRED:
        return VerificationFailed(
            "the code has expired; ask for a new one", details={"expired": True}
        )
    if check.outcome is CodeOutcome.REVIEW:
        return NotAwaitingVerification("this payment waits for a review by our risk team")
    return VerificationFailed("the code is not right", details={"tries_left": check.tries_left})


async def resend_code(*, uow: UnitOfWork, reference: str, buyer_id: int) -> datetime:
    """A new one-time code for the buyer's held payment; returns until when it is valid."""
    async with uow.atomic():
        await _held_payment(uow, reference, buyer_id)
        return await risk.resend_code(uow=uow, reference=reference, buyer_id=buyer_id)


async def release_hold(*, uow: UnitOfWork, reference: str) -> bool:
    """An analyst approved the hold (risk's event): the payment gets its pay link."""
    async with uow.atomic():
        payment = await _require_payment(uow, reference, lock=True)
        if payment.status != HELD:
            return False
        await _release(uow, payment)
        return True


async def block_hold(*, uow: UnitOfWork, reference: str, reason: str) -> bool:
    """An analyst rejected the hold (risk's event): the payment is blocked."""
    async with uow.atomic():
        payment = await _require_payment(uow, reference, lock=True)
        if payment.status != HELD:
            return False
        await _block(uow, payment, reason=reason)
        return True


async def close_held_payment(*, uow: UnitOfWork, reference: str) -> bool:
    """Every order of a held payment was cancelled: it is closed, so neither a code nor an
    analyst can release it to a pay link any more. It never had one, so there is nothing to
    close at the provider."""
    async with uow.atomic():
        payment = await _require_payment(uow, reference, lock=True)
        if not await repository.set_status(
            uow.session,
            payment_id=payment.id,
            from_status=HELD,
            to_status=PaymentStatus.CLOSED.value,
        ):
            return False
        await security.record(
            uow=uow, actor_id=None, action="payments.hold_closed", subject=f"payment:{reference}"
        )
        return True


async def expire_hold(*, uow: UnitOfWork, reference: str) -> bool:
    """Nobody resolved the hold in time (risk's event): the payment is closed. It never had a
    pay link, so there is nothing to close at the provider."""
    async with uow.atomic():
        payment = await _require_payment(uow, reference, lock=True)
        if not await repository.set_status(
            uow.session,
            payment_id=payment.id,
            from_status=HELD,
            to_status=PaymentStatus.CLOSED.value,
        ):
            return False
        await publish(uow, PaymentHoldExpired(payment.id, reference), key=reference)
        await security.record(
            uow=uow, actor_id=None, action="payments.hold_expired", subject=f"payment:{reference}"
        )
        return True
