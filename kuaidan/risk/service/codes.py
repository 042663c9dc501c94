"""One-time codes for a held payment: issue (through the outbox), resend, check.

A code is six random digits, valid ``code_ttl``; only a keyed hash of it is stored (the
blind-index HMAC, bound to the payment's reference), and it travels to the notifier
encrypted. ``code_max_tries`` wrong codes block the attempt; every wrong one is audited.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import NotFound, RateLimited
from kuaidan.core.notify import Message
from kuaidan.core.outbox import publish
from kuaidan.risk import repository
from kuaidan.risk.domain import (
    CODE_DIGITS,
    Action,
    AttemptStatus,
    CodeCheck,
    CodeOutcome,
    NotAwaitingVerification,
)
from kuaidan.risk.events import VerificationCodeIssued
from kuaidan.risk.models import RiskAttempt
from kuaidan.risk.service._config import config, count_after_commit
from kuaidan.security import service as security

CODE_CONTEXT = "risk.code"


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(uow: UnitOfWork, reference: str, code: str) -> str:
    return uow.cipher.blind_index(code, context=f"{CODE_CONTEXT}:{reference}")


async def issue_code(uow: UnitOfWork, attempt: RiskAttempt) -> datetime:
    """A fresh code for a held attempt (the last one stops working); in the caller's
    transaction. Returns until when it is valid."""
    code, now = _new_code(), uow.now()
    expires_at = now + config(uow).policy.code_ttl
    values = {
        "code_hash": code_hash(uow, attempt.reference, code),
        "code_expires_at": expires_at,
        "codes_sent": attempt.codes_sent + 1,
    }
    await repository.set_attempt_fields(uow.session, attempt.id, values)
    event = VerificationCodeIssued(
        reference=attempt.reference,
        buyer_id=attempt.buyer_id,
        code_enc=uow.cipher.encrypt(code, context=CODE_CONTEXT),
        expires_at=expires_at,
    )
    await publish(uow, event, key=attempt.reference)
    return expires_at


def reveal(uow: UnitOfWork, event: VerificationCodeIssued) -> str:
    """The code in an issued event, for the notifier's message only."""
    return uow.cipher.decrypt(event.code_enc, context=CODE_CONTEXT)


async def _held_for_verification(uow: UnitOfWork, reference: str, buyer_id: int) -> RiskAttempt:
    attempt = await repository.get_attempt(uow.session, reference, for_update=True)
    if attempt is None or attempt.buyer_id != buyer_id:
        raise NotFound("no such payment")
    if attempt.status != AttemptStatus.HELD.value:
        raise NotAwaitingVerification("this payment is not waiting for verification")
    return attempt


async def resend_code(*, uow: UnitOfWork, reference: str, buyer_id: int) -> datetime:
    """Send the buyer a new code (at most ``max_codes`` per hold, one a minute)."""
    policy = config(uow).policy
    async with uow.atomic():
        attempt = await _held_for_verification(uow, reference, buyer_id)
        if attempt.action != Action.VERIFY.value:
            raise NotAwaitingVerification("this payment waits for a review, not for a code")
        if attempt.codes_sent >= policy.max_codes:
            raise RateLimited("no more codes for this payment; contact support")
        last_sent = (attempt.code_expires_at or uow.now()) - policy.code_ttl
        if attempt.code_expires_at and uow.now() < last_sent + policy.code_resend_after:
            raise RateLimited("a code was sent a moment ago; wait a minute before asking again")
        return await issue_code(uow, attempt)


async def check_code(*, uow: UnitOfWork, reference: str, buyer_id: int, code: str) -> CodeCheck:
    """Check the buyer's code in the caller's transaction: passed, wrong (tries left),
    blocked (the last try was wrong), expired (ask for a new one) or review (no code here)."""
    cfg = config(uow)
    async with uow.atomic():
        attempt = await _held_for_verification(uow, reference, buyer_id)
        if attempt.action != Action.VERIFY.value:
            return CodeCheck(CodeOutcome.REVIEW, 0)
        left = cfg.policy.code_max_tries - attempt.wrong_codes
        if attempt.code_expires_at is None or uow.now() >= attempt.code_expires_at:
            return CodeCheck(CodeOutcome.EXPIRED, left)
        if attempt.code_hash and hmac.compare_digest(
            code_hash(uow, reference, code), attempt.code_hash
        ):
            await _resolve(uow, attempt, AttemptStatus.VERIFIED, wrong=attempt.wrong_codes)
            check = CodeCheck(CodeOutcome.PASSED, left)
        elif left <= 1:
            await _resolve(uow, attempt, AttemptStatus.BLOCKED, wrong=attempt.wrong_codes + 1)
            check = CodeCheck(CodeOutcome.BLOCKED, 0)
        else:
            wrong = attempt.wrong_codes + 1
            await repository.set_attempt_fields(uow.session, attempt.id, {"wrong_codes": wrong})
            check = CodeCheck(CodeOutcome.WRONG, left - 1)
        if check.outcome is not CodeOutcome.PASSED:
            await security.record(
                uow=uow,
                actor_id=buyer_id,
                action=f"risk.code_{check.outcome.value}",
                subject=f"payment:{reference}",
                details={"tries_left": check.tries_left},
            )
    count_after_commit(uow, cfg.metrics.code_checked, check.outcome.value)
    return check


async def _resolve(
    uow: UnitOfWork, attempt: RiskAttempt, status: AttemptStatus, wrong: int
) -> None:
    values = {
        "status": status.value,
        "resolved_at": uow.now(),
        "wrong_codes": wrong,
        "code_hash": None,
        "code_expires_at": None,
    }
    await repository.resolve(
        uow.session, attempt_id=attempt.id, from_status=AttemptStatus.HELD.value, values=values
    )
    count_after_commit(uow, config(uow).metrics.hold_resolved, status.value)


async def send_code(*, uow: UnitOfWork, event: VerificationCodeIssued, event_id: int) -> None:
    """Hand an issued code to the notifier (no transaction open; once per event)."""
    minutes = max(int(config(uow).policy.code_ttl.total_seconds() // 60), 1)
    code = reveal(uow, event)
    message = Message(
        user_id=event.buyer_id,
        channel="sms",
        subject="支付验证码 Payment verification code",
        body=(
            f"【快单】您的支付验证码为 {code}，{minutes} 分钟内有效，请勿告诉他人。"
            f" kuaidan: your payment code is {code}, valid for {minutes} minutes."
            " Never share it."
        ),
        dedupe_key=f"{CODE_CONTEXT}:{event_id}",
    )
    await config(uow).notifier.send(uow, message)
