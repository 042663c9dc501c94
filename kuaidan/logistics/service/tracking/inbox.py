"""Tracking pushes: accepted fast, applied in batches.

Accepting a push (the carrier's HTTP call) verifies its signature and shape and stores it in
the inbox with one ``INSERT … ON CONFLICT DO NOTHING`` keyed by a hash of its content, so the
same push twice is one row. The apply step (the job ``logistics.apply_tracking_pushes``) claims
pending pushes in batches (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so appliers share the
work), loads their shipments in one query, applies each push in arrival order with the rules
of ``domain.tracking``, and writes scans, shipments, events and the pushes' outcomes in the
same transaction. A push for a tracking number we do not know waits as an ``orphan`` until its
shipment appears; a push that cannot be applied is parked ``dead`` with its error, alone.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from kuaidan.core.db import UnitOfWork
from kuaidan.logistics import repository
from kuaidan.logistics.domain import SignatureInvalid
from kuaidan.logistics.domain.tracking import TrackingPush
from kuaidan.logistics.models import Shipment
from kuaidan.logistics.repository import inbox as inbox_repo
from kuaidan.logistics.service._common import config_of, push_salt
from kuaidan.logistics.service.tracking.apply import Batch, apply_push
from kuaidan.logistics.service.tracking.writer import writer_for

log = logging.getLogger(__name__)

# Errors that say nothing about a push: the connection or the server (a restart, a timeout).
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def _transient(exc: Exception) -> bool:
    """The database's trouble, not the push's: the job runs again later."""
    if isinstance(exc, TRANSIENT):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or "deadlock" in str(exc.orig).lower()
    )


MAX_PARAM_CHARS = 200_000
MAX_STATE_CHARS = 4  # Kuaidi100's states are "0" … "14"; scans keep at most 4 characters
WAKE_EVERY_S = 0.1  # at most this often an accepted push wakes the local worker
_last_wake = 0.0


@dataclass(frozen=True, slots=True)
class PushReceipt:
    """A push accepted: ``stored`` is False when the same push had been stored before."""

    stored: bool
    carrier_code: str
    tracking_number: str


def verify(uow: UnitOfWork, *, param: str, sign: str) -> TrackingPush:
    """The push's facts; ``SignatureInvalid`` when it is not genuine, too large or unreadable."""
    if len(param) > MAX_PARAM_CHARS:
        raise SignatureInvalid("the push is too large")
    push = config_of(uow).gateway.verify_push(param=param, sign=sign, salt=push_salt(uow))
    if len(push.state) > MAX_STATE_CHARS or any(
        len(s.state or "") > MAX_STATE_CHARS for s in push.scans
    ):
        raise SignatureInvalid("a signed push we cannot read: state is a short code")
    return push


async def accept_push(*, uow: UnitOfWork, param: str, sign: str) -> PushReceipt:
    """Verify and store one push, committed before this returns: one multi-row INSERT for the
    pushes that arrive together (``writer``), never a transaction of the caller's."""
    try:
        push = verify(uow, param=param, sign=sign)
    except SignatureInvalid as exc:
        log.warning("rejected a tracking push: %s", exc.message)
        raise
    values = {
        "content_hash": hashlib.sha256(param.encode("utf-8")).hexdigest(),
        "received_at": uow.now(),
        "carrier_code": push.carrier_code,
        "tracking_number": push.tracking_number,
        "param": param,
        "sign": sign[:64],
        "status": "pending",
        "attempts": 0,
        "new_scans": 0,
    }
    stored = await writer_for(uow.db).store(values)
    if stored:
        await _wake(uow)
    else:
        log.debug("duplicate push for %s %s", push.carrier_code, push.tracking_number)
    return PushReceipt(stored, push.carrier_code, push.tracking_number)


async def _wake(uow: UnitOfWork) -> None:
    """Wake this process's worker so the apply job runs soon (throttled: a flood of pushes
    keeps the worker busy anyway)."""
    global _last_wake
    now = time.monotonic()
    if now - _last_wake >= WAKE_EVERY_S:
        _last_wake = now
        await uow.notify_outbox()


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    claimed: int
    applied: int = 0
    orphans: int = 0
    dead: int = 0


async def apply_pushes(*, uow: UnitOfWork, limit: int = 200) -> ApplyOutcome:
    """Apply up to ``limit`` pending pushes in one transaction. When that fails, the same
    pushes are applied one per transaction, and one that still fails is parked ``dead``."""
    try:
        return await _apply_batch(uow, limit=limit)
    except Exception as exc:
        if _transient(exc):
            raise
        log.warning("a batch of tracking pushes failed; applying them one by one", exc_info=True)
    ids = await inbox_repo.pending_push_ids(uow.session, limit=limit)
    await uow.end_reads()
    total = ApplyOutcome(0)
    for push_id in ids:
        try:
            done = await _apply_batch(uow, limit=1, push_id=push_id)
        except Exception as exc:
            if _transient(exc):
                raise
            await _park(uow, push_id, exc)  # this push's own fault: its data, a rule
            done = ApplyOutcome(1, dead=1)
        total = ApplyOutcome(
            total.claimed + done.claimed,
            total.applied + done.applied,
            total.orphans + done.orphans,
            total.dead + done.dead,
        )
    return total


async def _park(uow: UnitOfWork, push_id: int, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"
    log.error("tracking push %s cannot be applied and is parked as dead: %s", push_id, error)
    async with uow.atomic():
        await inbox_repo.mark_push_dead(uow.session, push_id=push_id, error=error, at=uow.now())


def _finished(push_id: int, status: str, **values: Any) -> dict[str, Any]:
    row = {"shipment_id": None, "new_scans": 0, "outcome": None, "error": None}
    return {**row, **values, "id": push_id, "status": status}


async def _finish(uow: UnitOfWork, finished: list[dict[str, Any]]) -> None:
    at = uow.now()
    await inbox_repo.finish_pushes(uow.session, [{**f, "applied_at": at} for f in finished])


async def _apply_batch(uow: UnitOfWork, *, limit: int, push_id: int | None = None) -> ApplyOutcome:
    async with uow.atomic():
        session = uow.session
        claimed = await inbox_repo.claim_pushes(session, limit=limit, push_id=push_id)
        if not claimed:
            return ApplyOutcome(0)
        parcels = [(str(c[1]), str(c[2])) for c in claimed]
        rows = await inbox_repo.shipments_by_tracking(session, parcels=parcels)
        by_parcel = {(r.carrier_code, r.tracking_number): r for r in rows}
        batch = await Batch.open(uow, rows)
        finished: list[dict[str, Any]] = []
        with session.no_autoflush:
            for pid, carrier_code, number, param, sign in claimed:
                finished.append(
                    _apply_one(uow, batch, by_parcel.get((carrier_code, number)), pid, param, sign)
                )
        await batch.write()
        await _finish(uow, finished)
    statuses = [f["status"] for f in finished]
    return ApplyOutcome(
        len(claimed), statuses.count("applied"), statuses.count("orphan"), statuses.count("dead")
    )


def _apply_one(
    uow: UnitOfWork, batch: Batch, row: Shipment | None, push_id: int, param: str, sign: str
) -> dict[str, Any]:
    try:
        push = verify(uow, param=param, sign=sign)
    except SignatureInvalid as exc:  # stored verified: only a changed salt gets here
        return _finished(push_id, "dead", error=exc.message, outcome="dead: unverified")
    if row is None:
        log.info("push for unknown parcel %s %s", push.carrier_code, push.tracking_number)
        outcome = "unknown tracking number: kept for its shipment"
        return _finished(push_id, "orphan", outcome=outcome)
    fresh = apply_push(batch, row, push, callback_id=push_id)
    outcome = f"{fresh} new scan(s)" if fresh else "duplicate: nothing new"
    return _finished(push_id, "applied", shipment_id=row.id, new_scans=fresh, outcome=outcome)


async def requeue_orphans(*, uow: UnitOfWork) -> int:
    """Orphan pushes whose shipment exists by now go back to the queue (a booking that raced
    with the apply step adopts nothing; this catches it)."""
    async with uow.atomic():
        return await inbox_repo.requeue_adoptable_orphans(uow.session)


async def adopt_orphans(uow: UnitOfWork, row: Shipment) -> int:
    """Inside the booking's transaction: pushes that arrived before the booking did go back to
    the queue, and the worker applies them once the booking commits (a push that cannot be
    applied never fails the booking). Returns how many were adopted."""
    assert row.tracking_number is not None
    session = uow.session
    legacy = await repository.orphan_callbacks(
        session, carrier_code=row.carrier_code, tracking_number=row.tracking_number
    )
    if legacy:  # pushes stored before the inbox existed: applied here, as they always were
        batch = await Batch.open(uow, [row])
        for callback in legacy:
            push = verify(uow, param=callback.param, sign=callback.sign)
            apply_push(batch, row, push, callback_id=callback.id)
            await repository.link_callback(session, callback_id=callback.id, shipment_id=row.id)
        await batch.write()
    requeued = await inbox_repo.requeue_orphans_of(
        session, carrier_code=row.carrier_code, tracking_number=row.tracking_number
    )
    if requeued:
        uow.after_commit(uow.notify_outbox)
    return len(legacy) + requeued


@dataclass(frozen=True, slots=True)
class DeadPush:
    push_id: int
    carrier_code: str
    tracking_number: str
    received_at: datetime
    error: str | None


@dataclass(frozen=True, slots=True)
class InboxStatus:
    counts: dict[str, int]
    dead: list[DeadPush]


async def inbox_status(*, uow: UnitOfWork, limit: int = 20) -> InboxStatus:
    """Pushes by status, and the latest dead ones with their errors (the CLI shows them)."""
    counts = await inbox_repo.inbox_counts(uow.session)
    dead = [
        DeadPush(d.id, d.carrier_code, d.tracking_number, d.received_at, d.error)
        for d in await inbox_repo.dead_pushes(uow.session, limit=limit)
    ]
    return InboxStatus(counts, dead)


async def retry_dead_pushes(*, uow: UnitOfWork, push_id: int | None = None) -> int:
    """Put dead pushes (one, or all) back in the queue."""
    async with uow.atomic():
        return await inbox_repo.retry_dead_pushes(uow.session, push_id=push_id)
