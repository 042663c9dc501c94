"""The review console's use cases and the life of a hold: approve, reject, expire; the list
of holds with the buyer's history; the amounts of successful payments that make the history.

An analyst's decision and an expiry are recorded here and published as events; payments
reacts to them (risk never calls payments), and ordering reacts to payments in turn.
"""

from __future__ import annotations

from datetime import datetime

from kuaidan.accounts import service as accounts
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import NotFound
from kuaidan.core.outbox import publish
from kuaidan.core.text import one_line
from kuaidan.risk import repository
from kuaidan.risk.domain import (
    Action,
    AttemptStatus,
    BuyerHistory,
    HoldInfo,
    NotAwaitingVerification,
    median_fen,
)
from kuaidan.risk.events import HoldApproved, HoldExpired, HoldRejected
from kuaidan.risk.models import RiskAttempt, RiskPaidAmount
from kuaidan.risk.service._config import config, count_after_commit
from kuaidan.risk.service.assess import HISTORY_WINDOW
from kuaidan.security import service as security

NOTE_MAX_LENGTH = 500


def hold_info(row: RiskAttempt) -> HoldInfo:
    return HoldInfo(
        reference=row.reference,
        buyer_id=row.buyer_id,
        amount_fen=row.amount_fen,
        currency=row.currency,
        score=row.score,
        action=Action(row.action),
        status=AttemptStatus(row.status),
        reasons=tuple(row.reasons or ()),
        device_id=row.device_id,
        ip=row.ip,
        created_at=row.created_at,
        hold_expires_at=row.hold_expires_at,
        resolved_at=row.resolved_at,
        note=row.note,
        wrong_codes=row.wrong_codes,
    )


async def list_holds(
    *, uow: UnitOfWork, statuses: tuple[AttemptStatus, ...] = (AttemptStatus.HELD,), limit: int = 50
) -> list[HoldInfo]:
    """Attempts in the given states, newest first (the open holds by default)."""
    rows = await repository.attempts(
        uow.session, statuses=[s.value for s in statuses], limit=max(1, min(limit, 200))
    )
    return [hold_info(row) for row in rows]


async def get_hold(*, uow: UnitOfWork, reference: str) -> HoldInfo:
    row = await repository.get_attempt(uow.session, reference)
    if row is None:
        raise NotFound("no such payment attempt")
    return hold_info(row)


async def buyer_history(
    *, uow: UnitOfWork, buyer_id: int, now: datetime | None = None
) -> BuyerHistory:
    """The buyer's account age, 90-day payments and latest attempts, for the analyst."""
    moment = now or uow.now()
    facts = await accounts.get_change_facts(uow=uow, user_id=buyer_id)
    paid = await repository.paid_amounts(
        uow.session, buyer_id=buyer_id, since=moment - HISTORY_WINDOW
    )
    rows = await repository.attempts(uow.session, buyer_id=buyer_id, limit=20)
    return BuyerHistory(
        buyer_id=buyer_id,
        account_created_at=facts.created_at if facts else None,
        paid_count_90d=len(paid),
        paid_median_fen=median_fen(paid),
        paid_max_fen=max(paid) if paid else None,
        attempts=tuple(hold_info(row) for row in rows),
    )


async def _decide(
    uow: UnitOfWork, *, reference: str, analyst_id: int, note: str, to: AttemptStatus
) -> HoldInfo:
    text = one_line(note, field="note")[:NOTE_MAX_LENGTH]
    async with uow.atomic():
        row = await repository.get_attempt(uow.session, reference, for_update=True)
        if row is None:
            raise NotFound("no such payment attempt")
        values = {"status": to.value, "resolved_at": uow.now(), "resolved_by": analyst_id}
        changed = await repository.resolve(
            uow.session,
            attempt_id=row.id,
            from_status=AttemptStatus.HELD.value,
            values={**values, "note": text, "code_hash": None, "code_expires_at": None},
        )
        if not changed:
            raise NotAwaitingVerification(f"this payment is {row.status}, not held")
        event = (HoldApproved if to is AttemptStatus.APPROVED else HoldRejected)(
            reference, analyst_id, text
        )
        await publish(uow, event, key=reference)
        await security.record(
            uow=uow,
            actor_id=analyst_id,
            action=f"risk.hold_{to.value}",
            subject=f"payment:{reference}",
            details={"note": text, "score": row.score, "amount_fen": row.amount_fen},
        )
        row = await repository.get_attempt(uow.session, reference)
        assert row is not None
    count_after_commit(uow, config(uow).metrics.hold_resolved, to.value)
    return hold_info(row)


async def approve_hold(*, uow: UnitOfWork, reference: str, analyst_id: int, note: str) -> HoldInfo:
    """Let a held payment through: the buyer gets a pay link again."""
    return await _decide(
        uow, reference=reference, analyst_id=analyst_id, note=note, to=AttemptStatus.APPROVED
    )


async def reject_hold(*, uow: UnitOfWork, reference: str, analyst_id: int, note: str) -> HoldInfo:
    """Stop a held payment: it is blocked and its orders are cancelled."""
    return await _decide(
        uow, reference=reference, analyst_id=analyst_id, note=note, to=AttemptStatus.REJECTED
    )


async def expire_holds(*, uow: UnitOfWork, now: datetime | None = None, limit: int = 100) -> int:
    """Holds nobody resolved within the hold time expire (each in its own transaction)."""
    moment = now or uow.now()
    expired = 0
    for reference in await repository.expired_holds(uow.session, now=moment, limit=limit):
        async with uow.atomic():
            row = await repository.get_attempt(uow.session, reference, for_update=True)
            if row is None:
                continue
            values = {"status": AttemptStatus.EXPIRED.value, "resolved_at": moment}
            values |= {"code_hash": None, "code_expires_at": None}
            if await repository.resolve(
                uow.session, attempt_id=row.id, from_status=AttemptStatus.HELD.value, values=values
            ):
                await publish(uow, HoldExpired(reference), key=reference)
                expired += 1
                count_after_commit(uow, config(uow).metrics.hold_resolved, "expired")
    return expired


async def record_paid(
    *, uow: UnitOfWork, reference: str, amount_fen: int, paid_at: datetime
) -> bool:
    """A payment succeeded: its amount joins the buyer's history (once per reference).

    The buyer is the one of the assessed attempt; a payment risk never saw is skipped.
    """
    async with uow.atomic():
        attempt = await repository.get_attempt(uow.session, reference)
        if attempt is None:
            return False
        row = RiskPaidAmount(
            reference=reference, buyer_id=attempt.buyer_id, amount_fen=amount_fen, paid_at=paid_at
        )
        return await repository.add_paid_amount(uow.session, row)
