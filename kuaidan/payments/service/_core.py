"""Payment use cases: start a payment, take the provider's word for it, refund, close.

Functions take keyword arguments and return plain dataclasses from ``payments.domain``. Those
that run in the caller's transaction never call the provider; the ones that call it
(``sync_payment`` and the handlers' ``perform_*``) refuse to run inside a transaction and
record the outcome in a short transaction of their own. ``PaymentSucceeded`` is published by
the one conditional update that moves a payment to succeeded, whichever path gets there first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError

from kuaidan.accounts.domain import safe_next
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput, NotFound
from kuaidan.core.outbox import publish
from kuaidan.payments import repository
from kuaidan.payments.adapters.base import PaymentProvider
from kuaidan.payments.domain import (
    SUCCEEDABLE_STATUSES,
    Discrepancy,
    FindingKind,
    Notification,
    PaymentInfo,
    PaymentMismatch,
    PaymentStart,
    PaymentStatus,
    ProviderError,
    RefundInfo,
    RefundStatus,
    ReturnInfo,
    SignatureInvalid,
    TradeStatus,
    check_refund,
    mismatch_problems,
    status_after_refunds,
    trade_problems,
)
from kuaidan.payments.events import (
    PaymentBlocked,
    PaymentCloseRequested,
    PaymentHeld,
    PaymentSucceeded,
    RefundFailed,
    RefundRequested,
    RefundSucceeded,
)
from kuaidan.payments.models import Payment, PaymentNotification, Refund
from kuaidan.payments.service.findings import record_finding
from kuaidan.payments.service.setup import PAYMENTS, PaymentsConfig
from kuaidan.risk import service as risk
from kuaidan.risk.domain import Action, Assessment, RiskContext
from kuaidan.security import service as security

log = logging.getLogger(__name__)

REFERENCE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
SUBJECT_MAX_LENGTH = 256
NOTIFY_PATH = "/api/v1/payments/notify/{provider}"
RETURN_PATH = "/payments/return/{provider}"


def provider_name(*, uow: UnitOfWork) -> str:
    """The configured provider's name: the one whose notification and return routes answer."""
    return _provider(uow).name


def _config(uow: UnitOfWork) -> PaymentsConfig:
    return uow.adapters[PAYMENTS]  # PortNotBound when no provider is bound


def _provider(uow: UnitOfWork) -> PaymentProvider:
    return _config(uow).provider


# --- small helpers ---------------------------------------------------------------------------


def _info(payment: Payment) -> PaymentInfo:
    return PaymentInfo(
        payment_id=payment.id,
        reference=payment.reference,
        provider=payment.provider,
        amount_fen=payment.amount_fen,
        currency=payment.currency,
        status=PaymentStatus(payment.status),
        buyer_id=payment.buyer_id,
        subject=payment.subject,
        provider_trade_no=payment.provider_trade_no,
        created_at=payment.created_at,
        paid_at=payment.paid_at,
        refunded_fen=payment.refunded_fen,
    )


def _refund_info(refund: Refund, reference: str) -> RefundInfo:
    return RefundInfo(
        refund_id=refund.id,
        payment_id=refund.payment_id,
        reference=reference,
        request_no=refund.request_no,
        amount_fen=refund.amount_fen,
        reason=refund.reason,
        status=RefundStatus(refund.status),
        created_at=refund.created_at,
        done_at=refund.done_at,
        last_error=refund.last_error,
    )


async def _outside_call_ahead(uow: UnitOfWork) -> None:
    """Refuse to run in a transaction; end the read-only one earlier reads opened."""
    if uow.in_atomic:
        raise RuntimeError("the payment provider is never called with a transaction open")
    if uow.session.in_transaction():
        await uow.session.commit()  # read-only: ends the snapshot, writes nothing


async def _require_payment(uow: UnitOfWork, reference: str, *, lock: bool = False) -> Payment:
    payment = await repository.get_payment(uow.session, reference=reference, for_update=lock)
    if payment is None:
        raise NotFound("no such payment", details={"reference": reference})
    return payment


async def _record_success(
    uow: UnitOfWork, payment: Payment, *, trade_no: str, paid_at: datetime
) -> bool:
    """Inside a transaction: mark succeeded and publish the event, once per payment."""
    changed = await repository.mark_succeeded(
        uow.session,
        payment_id=payment.id,
        from_statuses=tuple(s.value for s in SUCCEEDABLE_STATUSES),
        trade_no=trade_no,
        paid_at=paid_at,
    )
    if changed:
        event = PaymentSucceeded(
            payment_id=payment.id,
            reference=payment.reference,
            amount_fen=payment.amount_fen,
            currency=payment.currency,
            provider_trade_no=trade_no,
            paid_at=paid_at,
        )
        await publish(uow, event, key=payment.reference)
    return changed


# --- start and read --------------------------------------------------------------------------


def _check_start(
    provider: PaymentProvider, *, reference: str, amount_fen: int, currency: str, subject: str
) -> str:
    if not REFERENCE_RE.match(reference):
        raise InvalidInput("a payment reference is 1-64 letters, digits, '-' or '_'")
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidInput("a payment is a positive amount of fen")
    if currency != provider.currency:
        raise InvalidInput(f"the payment provider takes {provider.currency} only")
    cleaned = " ".join(subject.split())[:SUBJECT_MAX_LENGTH]
    if not cleaned:
        raise InvalidInput("a payment needs a subject")
    return cleaned


def _pay_url(config: PaymentsConfig, payment: Payment, *, return_path: str, now: datetime) -> str:
    name = config.provider.name
    return_url = (
        f"{config.public_base_url}{RETURN_PATH.format(provider=name)}"
        f"?{urlencode({'next': safe_next(return_path)})}"
    )
    return config.provider.page_pay_url(
        reference=payment.reference,
        amount_fen=payment.amount_fen,
        subject=payment.subject,
        notify_url=f"{config.public_base_url}{NOTIFY_PATH.format(provider=name)}",
        return_url=return_url,
        now=now,
    )


RISK_STATUSES = {
    Action.ALLOW: PaymentStatus.CREATED,
    Action.VERIFY: PaymentStatus.HELD,
    Action.HOLD: PaymentStatus.HELD,
    Action.BLOCK: PaymentStatus.BLOCKED,
}


@dataclass(frozen=True, slots=True)
class _Start:
    reference: str
    amount_fen: int
    currency: str
    subject: str
    buyer_id: int
    return_path: str
    context: RiskContext | None


async def _find_or_add(uow: UnitOfWork, start: _Start, *, new: bool) -> Payment:
    """The payment with this reference, or a new one as risk decides: created, held or
    blocked. Only a new payment is assessed; asking again returns the first answer.
    ``new``: the reference was made in this transaction, so there is nothing to find."""
    payment = None
    if not new:
        payment = await repository.get_payment(
            uow.session, reference=start.reference, for_update=True
        )
    if payment is not None:
        if (payment.amount_fen, payment.currency, payment.buyer_id) != (
            start.amount_fen,
            start.currency,
            start.buyer_id,
        ):
            raise Conflict("this reference belongs to a different payment")
        return payment
    assessment = await risk.assess(
        uow=uow,
        reference=start.reference,
        buyer_id=start.buyer_id,
        amount_fen=start.amount_fen,
        currency=start.currency,
        context=start.context,
    )
    payment = Payment(
        reference=start.reference,
        provider=_provider(uow).name,
        amount_fen=start.amount_fen,
        currency=start.currency,
        status=RISK_STATUSES[assessment.decision.action].value,
        buyer_id=start.buyer_id,
        subject=start.subject,
        created_at=uow.now(),
        refunded_fen=0,
        version=1,
        return_path=safe_next(start.return_path)[:500],
    )
    payment = await repository.add_payment(uow.session, payment)
    await _announce_decision(uow, payment, assessment)
    return payment


async def _announce_decision(uow: UnitOfWork, payment: Payment, assessment: Assessment) -> None:
    """A held payment and a blocked one are events (ordering reacts); a block is audited."""
    decision = assessment.decision
    if payment.status == PaymentStatus.HELD.value and assessment.hold_expires_at is not None:
        held = PaymentHeld(
            payment.id,
            payment.reference,
            payment.buyer_id,
            decision.action.value,
            decision.score,
            assessment.hold_expires_at,
        )
        await publish(uow, held, key=payment.reference)
    elif payment.status == PaymentStatus.BLOCKED.value:
        reasons = ", ".join(r.rule for r in decision.reasons) or "score"
        reason = f"risk score {decision.score} ({reasons})"
        await publish(
            uow, PaymentBlocked(payment.id, payment.reference, reason), key=payment.reference
        )
        await security.record(
            uow=uow,
            actor_id=payment.buyer_id,
            action="payments.blocked",
            subject=f"payment:{payment.reference}",
            details={"score": decision.score, "rules": [r.rule for r in decision.reasons]},
        )


async def start_payment(
    *,
    uow: UnitOfWork,
    reference: str,
    amount_fen: int,
    currency: str,
    subject: str,
    buyer_id: int,
    return_path: str,
    context: RiskContext | None = None,
    new_reference: bool = False,
) -> PaymentStart:
    """Record a payment (or find the same one again) and sign the provider's pay-page URL.

    Risk decides first (``context``: the buyer's IP, device and user agent): a held payment
    has no URL until it is released, a blocked one never has one (``PaymentHeld`` and
    ``PaymentBlocked`` tell ordering). Runs in the caller's transaction and calls nobody: the
    URL is signed locally. ``new_reference``: the caller made the reference in the same
    transaction (a checkout's), so no earlier payment can have it and none is looked for.
    """
    subject = _check_start(
        _provider(uow),
        reference=reference,
        amount_fen=amount_fen,
        currency=currency,
        subject=subject,
    )
    start = _Start(reference, amount_fen, currency, subject, buyer_id, return_path, context)
    async with uow.atomic():
        payment = await _find_or_add(uow, start, new=new_reference)
    status = PaymentStatus(payment.status)
    url = None
    if status == PaymentStatus.CREATED:
        url = _pay_url(_config(uow), payment, return_path=return_path, now=uow.now())
    return PaymentStart(
        payment_id=payment.id, reference=payment.reference, status=status, pay_url=url
    )


async def get_payment(*, uow: UnitOfWork, reference: str) -> PaymentInfo | None:
    payment = await repository.get_payment(uow.session, reference=reference)
    return _info(payment) if payment else None


# --- the provider's word: notifications, returns, queries -------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationOutcome:
    accepted: bool
    detail: str


async def _record_rejected(
    uow: UnitOfWork,
    *,
    out_trade_no: str | None,
    verified: bool,
    outcome: str,
    kind: str = "notification_rejected",
) -> None:
    async with uow.atomic():
        row = PaymentNotification(
            provider=_provider(uow).name,
            notify_id=None,
            out_trade_no=(out_trade_no or "")[:64] or None,
            received_at=uow.now(),
            verified=verified,
            outcome=outcome[:2000],
        )
        await repository.add_notification(uow.session, row)
        await _security_event(uow, kind, out_trade_no, outcome)


async def _security_event(uow: UnitOfWork, kind: str, reference: str | None, detail: str) -> None:
    """A refused or replayed provider message goes to the audit log (in the caller's
    transaction); the provider is the outsider, so there is no actor."""
    await security.record(
        uow=uow,
        actor_id=None,
        action=f"payments.{kind}",
        subject=f"payment:{(reference or '?')[:64]}",
        details={"detail": detail[:500]},
    )


async def handle_notification(*, uow: UnitOfWork, params: Mapping[str, str]) -> NotificationOutcome:
    """Verify and apply an asynchronous notification; duplicates are accepted no-ops."""
    try:
        note = _provider(uow).verify_notification(params)
    except (SignatureInvalid, ProviderError) as exc:
        await _record_rejected(
            uow, out_trade_no=params.get("out_trade_no"), verified=False, outcome=exc.message
        )
        log.warning("rejected a payment notification: %s", exc.message)
        return NotificationOutcome(False, exc.message)
    try:
        return await _apply_notification(uow, note)
    except IntegrityError:  # the same notify_id was applied concurrently
        return NotificationOutcome(True, "duplicate")


async def _apply_notification(uow: UnitOfWork, note: Notification) -> NotificationOutcome:
    if note.sent_at is not None and note.sent_at < uow.now() - _config(uow).notify_max_age:
        detail = "replayed: sent too long ago"
        await _record_rejected(
            uow,
            out_trade_no=note.out_trade_no,
            verified=True,
            outcome=detail,
            kind="notification_replayed",
        )
        log.warning("rejected a stale payment notification for %s", note.out_trade_no)
        return NotificationOutcome(False, detail)
    async with uow.atomic():
        if await repository.notification_seen(uow.session, notify_id=note.notify_id):
            await _security_event(uow, "notification_replayed", note.out_trade_no, "duplicate")
            return NotificationOutcome(True, "duplicate")
        payment = await repository.get_payment(
            uow.session, reference=note.out_trade_no, for_update=True
        )
        problems = ["unknown reference"] if payment is None else _problems(uow, note, payment)
        if problems or payment is None:
            outcome = "rejected: " + ", ".join(problems)
            await _security_event(uow, "notification_mismatch", note.out_trade_no, outcome)
        else:
            outcome = "accepted"
            if note.trade_status.is_paid:
                paid_at = note.paid_at or uow.now()
                changed = await _record_success(
                    uow, payment, trade_no=note.trade_no, paid_at=paid_at
                )
                outcome = "accepted: succeeded" if changed else "accepted: already recorded"
        row = PaymentNotification(
            provider=_provider(uow).name,
            notify_id=None if problems else note.notify_id,
            out_trade_no=note.out_trade_no[:64],
            received_at=uow.now(),
            verified=True,
            outcome=outcome,
        )
        await repository.add_notification(uow.session, row)
    return NotificationOutcome(not problems, outcome)


def _problems(uow: UnitOfWork, note: Notification, payment: Payment) -> list[str]:
    """What does not fit between a verified notification and our payment: the app, the
    amount, the currency and, for a paid trade, the trade itself (each problem once)."""
    problems = mismatch_problems(
        expected_app_id=_provider(uow).app_id,
        app_id=note.app_id,
        expected_amount_fen=payment.amount_fen,
        amount_fen=note.amount_fen,
        expected_currency=payment.currency,
        currency=_provider(uow).currency,
    )
    if note.paid_at is not None and note.trade_status.is_paid:
        problems += trade_problems(
            expected_amount_fen=payment.amount_fen,
            payment_created_at=payment.created_at,
            trade=TradeStatus(
                reference=note.out_trade_no,
                state=note.trade_status,
                trade_no=note.trade_no,
                amount_fen=note.amount_fen,
                paid_at=note.paid_at,
            ),
        )
    return list(dict.fromkeys(problems))


def verify_return(*, uow: UnitOfWork, params: Mapping[str, str]) -> ReturnInfo:
    """The browser's return from the pay page, verified; raises ``SignatureInvalid``."""
    info = _provider(uow).verify_return(params)
    if info.app_id != _provider(uow).app_id:
        raise PaymentMismatch("the return is for another merchant app")
    return info


async def _apply_paid_status(uow: UnitOfWork, reference: str, status: TradeStatus) -> None:
    """In its own transaction: record success when the provider's facts match our payment."""
    async with uow.atomic():
        payment = await _require_payment(uow, reference, lock=True)
        expected = payment.amount_fen
        problems = trade_problems(
            expected_amount_fen=expected,
            payment_created_at=payment.created_at,
            trade=status,
        )
        if not problems and status.trade_no:  # trade_problems refuses a missing one
            await _record_success(
                uow, payment, trade_no=status.trade_no, paid_at=status.paid_at or uow.now()
            )
            return
    # Never a payment: a reconciliation finding for a person to look at, then refused.
    detail = "the provider's paid trade does not fit: " + ", ".join(problems)
    kind = (
        FindingKind.AMOUNT_MISMATCH
        if status.amount_fen != expected
        else FindingKind.STATUS_MISMATCH
    )
    found = Discrepancy(
        kind, reference, detail, expected_fen=expected, actual_fen=status.amount_fen
    )
    await record_finding(uow, found, provider=_provider(uow).name, trigger="payment_query")
    raise PaymentMismatch(f"the provider's trade does not fit this payment: {', '.join(problems)}")


async def sync_payment(*, uow: UnitOfWork, reference: str) -> PaymentInfo:
    """Ask the provider (outside any transaction) and record success if the buyer paid."""
    payment = await _require_payment(uow, reference)
    if PaymentStatus(payment.status) not in SUCCEEDABLE_STATUSES:
        return _info(payment)
    await _outside_call_ahead(uow)
    status = await _provider(uow).query(reference)
    if status.state.is_paid:
        await _apply_paid_status(uow, reference, status)
    return _info(await _require_payment(uow, reference))


# --- refunds ---------------------------------------------------------------------------------


async def request_refund(
    *, uow: UnitOfWork, reference: str, amount_fen: int, reason: str, request_no: str
) -> RefundInfo:
    """Record a refund and its event in the caller's transaction; a handler asks the provider.

    Idempotent per ``request_no``: the same request returns the same refund.
    """
    if not REFERENCE_RE.match(request_no):
        raise InvalidInput("a refund request number is 1-64 letters, digits, '-' or '_'")
    async with uow.atomic():
        payment = await _require_payment(uow, reference, lock=True)
        existing = await repository.get_refund(uow.session, request_no=request_no)
        if existing is not None:
            if (existing.payment_id, existing.amount_fen) != (payment.id, amount_fen):
                raise Conflict("this request_no belongs to a different refund")
            return _refund_info(existing, reference)
        in_flight = await repository.in_flight_refunds_fen(uow.session, payment_id=payment.id)
        check_refund(
            status=PaymentStatus(payment.status),
            paid_fen=payment.amount_fen,
            committed_fen=payment.refunded_fen + in_flight,
            amount_fen=amount_fen,
        )
        refund = Refund(
            payment_id=payment.id,
            request_no=request_no,
            amount_fen=amount_fen,
            reason=(" ".join(reason.split()) or "refund")[:256],
            status=RefundStatus.REQUESTED.value,
            created_at=uow.now(),
        )
        await repository.add_refund(uow.session, refund)
        event = RefundRequested(refund.id, payment.id, reference, amount_fen, request_no)
        await publish(uow, event, key=reference)
    return _refund_info(refund, reference)


async def get_refund(*, uow: UnitOfWork, request_no: str) -> RefundInfo | None:
    refund = await repository.get_refund(uow.session, request_no=request_no)
    if refund is None:
        return None
    payment = await repository.get_payment_by_id(uow.session, payment_id=refund.payment_id)
    return _refund_info(refund, payment.reference if payment else "")


async def perform_refund(*, uow: UnitOfWork, refund_id: int) -> None:
    """The handler's half of a refund: ask the provider, then record what it said."""
    refund = await repository.get_refund(uow.session, refund_id=refund_id)
    if refund is None or refund.status != RefundStatus.REQUESTED.value:
        return
    payment = await repository.get_payment_by_id(uow.session, payment_id=refund.payment_id)
    assert payment is not None
    request = RefundRequested(
        refund.id, payment.id, payment.reference, refund.amount_fen, refund.request_no
    )
    await _outside_call_ahead(uow)
    try:
        result = await _provider(uow).refund(
            reference=request.reference,
            amount_fen=request.amount_fen,
            request_no=request.request_no,
            reason=refund.reason,
        )
    except ProviderError as exc:
        async with uow.atomic():
            await repository.note_refund_error(uow.session, refund_id=refund_id, error=exc.message)
        raise
    await _record_refund_result(uow, request, succeeded=result.succeeded, error=result.error)


async def _record_refund_result(
    uow: UnitOfWork, request: RefundRequested, *, succeeded: bool, error: str | None
) -> None:
    status = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
    async with uow.atomic():
        payment = await repository.get_payment_by_id(
            uow.session, payment_id=request.payment_id, for_update=True
        )
        assert payment is not None
        changed = await repository.finish_refund(
            uow.session,
            refund_id=request.refund_id,
            status=status.value,
            done_at=uow.now(),
            error=error,
        )
        if not changed:
            return
        args = (request.refund_id, request.payment_id, request.reference, request.amount_fen)
        if succeeded:
            total = payment.refunded_fen + request.amount_fen
            new_status = status_after_refunds(paid_fen=payment.amount_fen, refunded_fen=total)
            await repository.set_refunded(
                uow.session, payment_id=payment.id, refunded_fen=total, status=new_status.value
            )
            await publish(uow, RefundSucceeded(*args, request.request_no), key=request.reference)
        else:
            failed = RefundFailed(*args, request.request_no, error or "refused")
            await publish(uow, failed, key=request.reference)


# --- closing an unpaid payment -----------------------------------------------------------------


async def close_payment(*, uow: UnitOfWork, reference: str) -> PaymentInfo:
    """Record that an unpaid payment must be closed; a handler closes it at the provider."""
    async with uow.atomic():
        payment = await _require_payment(uow, reference, lock=True)
        if payment.status == PaymentStatus.CREATED.value:
            await repository.set_status(
                uow.session,
                payment_id=payment.id,
                from_status=PaymentStatus.CREATED.value,
                to_status=PaymentStatus.CLOSED.value,
            )
            await publish(uow, PaymentCloseRequested(payment.id, reference), key=reference)
        payment = await _require_payment(uow, reference)
    return _info(payment)


async def perform_close(*, uow: UnitOfWork, reference: str) -> None:
    """The handler's half of a close: close at the provider; a payment that won the race wins."""
    payment = await _require_payment(uow, reference)
    if payment.status != PaymentStatus.CLOSED.value:
        return
    await _outside_call_ahead(uow)
    result = await _provider(uow).close(reference)
    if result.paid is not None:
        await _apply_paid_status(uow, reference, result.paid)
    elif not result.closed:
        raise ProviderError("the provider neither closed the trade nor reports it paid")
