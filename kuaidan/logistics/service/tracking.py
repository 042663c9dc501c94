"""Tracking pushes: verify, keep every push as received, store each scan once, and move the
shipment's status forward only (``domain.tracking``), publishing what changed.

A verified push for a tracking number we do not know (yet) is kept and answered as received:
the booking that names it adopts it when it is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import publish
from kuaidan.logistics import repository
from kuaidan.logistics.domain import ShipmentStatus, SignatureInvalid
from kuaidan.logistics.domain.tracking import (
    ScanReport,
    TrackingPush,
    TrackState,
    advance,
    is_terminal,
)
from kuaidan.logistics.events import (
    ShipmentDelivered,
    ShipmentPickedUp,
    ShipmentReturned,
    ShipmentStatusChanged,
)
from kuaidan.logistics.models import Shipment, TrackingCallback, TrackingScan
from kuaidan.logistics.service._common import config_of, milestones_of, push_salt
from kuaidan.logistics.service.eta import refresh_eta

log = logging.getLogger(__name__)

MAX_PARAM_CHARS = 200_000
MOVING = frozenset(ShipmentStatus) - {ShipmentStatus.PROBLEM, ShipmentStatus.CANCELLED}
RETRIES = 3


@dataclass(frozen=True, slots=True)
class TrackingCounts:
    scans: int
    delivered: int
    callbacks: int


async def tracking_counts(*, uow: UnitOfWork, tracking_prefix: str) -> TrackingCounts:
    """Totals over the parcels whose tracking numbers start with ``tracking_prefix``
    (audits and the callback bench)."""
    return TrackingCounts(*await repository.tracking_counts(uow.session, prefix=tracking_prefix))


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    accepted: bool
    detail: str
    new_scans: int = 0


async def ingest_callback(*, uow: UnitOfWork, param: str, sign: str) -> CallbackOutcome:
    """One push: verified, stored, applied once. Duplicates are accepted and change nothing."""
    try:
        if len(param) > MAX_PARAM_CHARS:
            raise SignatureInvalid("the push is too large")
        push = config_of(uow).gateway.verify_push(param=param, sign=sign, salt=push_salt(uow))
    except SignatureInvalid as exc:
        log.warning("rejected a tracking push: %s", exc.message)
        await _store(uow, param=param, sign=sign, push=None, outcome=exc.message)
        return CallbackOutcome(False, exc.message)
    for attempt in range(RETRIES):
        try:
            return await _ingest(uow, push, param=param, sign=sign)
        except IntegrityError:  # the same scans stored concurrently: look again
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _store(
    uow: UnitOfWork,
    *,
    param: str,
    sign: str,
    push: TrackingPush | None,
    outcome: str,
    shipment_id: int | None = None,
    new_scans: int = 0,
) -> TrackingCallback:
    row = TrackingCallback(
        received_at=uow.now(),
        carrier_code=push.carrier_code if push else None,
        tracking_number=push.tracking_number if push else None,
        shipment_id=shipment_id,
        verified=push is not None,
        outcome=outcome[:200],
        new_scans=new_scans,
        param=param[:MAX_PARAM_CHARS],
        sign=sign[:64],
    )
    async with uow.atomic():
        await repository.add(uow.session, row)
    return row


async def _ingest(uow: UnitOfWork, push: TrackingPush, *, param: str, sign: str) -> CallbackOutcome:
    async with uow.atomic():
        row = await repository.shipment_by_tracking(
            uow.session,
            carrier_code=push.carrier_code,
            tracking_number=push.tracking_number,
            for_update=True,
        )
        if row is None:
            outcome = "unknown tracking number: kept for its shipment"
            await _store(uow, param=param, sign=sign, push=push, outcome=outcome)
            log.info("push for unknown parcel %s %s", push.carrier_code, push.tracking_number)
            return CallbackOutcome(True, outcome)
        fresh = await new_scans(uow, row, push)
        outcome = f"{len(fresh)} new scan(s)" if fresh else "duplicate: nothing new"
        callback = await _store(
            uow,
            param=param,
            sign=sign,
            push=push,
            outcome=outcome,
            shipment_id=row.id,
            new_scans=len(fresh),
        )
        if fresh:
            await apply_scans(uow, row, fresh, callback_id=callback.id)
    return CallbackOutcome(True, outcome, len(fresh))


async def new_scans(uow: UnitOfWork, row: Shipment, push: TrackingPush) -> list[ScanReport]:
    """The push's scans not stored yet, oldest first, each once."""
    known = await repository.fingerprints(uow.session, shipment_id=row.id)
    fresh: dict[str, ScanReport] = {}
    for scan in push.scans:
        key = scan.fingerprint()
        if key not in known and key not in fresh:
            fresh[key] = scan
    return sorted(fresh.values(), key=lambda s: s.at)


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def _note_milestones(row: Shipment, scan: ScanReport) -> None:
    status = scan.status
    if status in MOVING:
        row.picked_up_at = _earliest(row.picked_up_at, scan.at)
    if scan.arrived_in_destination_city or status in (
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
    ):
        row.in_city_at = _earliest(row.in_city_at, scan.at)
    if status in (ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.DELIVERED):
        row.out_for_delivery_at = _earliest(row.out_for_delivery_at, scan.at)
    if status == ShipmentStatus.DAMAGED:
        row.damaged_at = _earliest(row.damaged_at, scan.at)
    if row.last_scan_at is None or scan.at > row.last_scan_at:
        row.last_scan_at = scan.at


async def apply_scans(
    uow: UnitOfWork, row: Shipment, scans: list[ScanReport], *, callback_id: int | None
) -> None:
    """Inside the caller's transaction (``row`` locked): store ``scans`` and move the status."""
    now = uow.now()
    await repository.add_scans(
        uow.session,
        [
            TrackingScan(
                shipment_id=row.id,
                fingerprint=s.fingerprint(),
                scanned_at=s.at,
                context=s.context,
                location=s.location,
                state=s.state,
                sub_code=s.sub_code,
                status=s.status.value if s.status else None,
                callback_id=callback_id,
                received_at=now,
            )
            for s in scans
        ],
    )
    before = TrackState(ShipmentStatus(row.status), ShipmentStatus(row.progress), row.status_at)
    stage_before, picked_before = milestones_of(row).stage(), row.picked_up_at
    state = before
    for scan in scans:
        state = advance(state, scan.status, scan.at)
        _note_milestones(row, scan)
    if state != before:
        _set_state(row, state)
    if milestones_of(row).stage() != stage_before or state.status != before.status:
        await refresh_eta(uow, row)
    if picked_before is None and row.picked_up_at is not None:
        await _publish_picked_up(uow, row)
    if state.status != before.status:
        await publish_status(uow, row, previous=before.status)


def _set_state(row: Shipment, state: TrackState) -> None:
    row.status, row.progress, row.status_at = state.status, state.progress, state.status_at
    if is_terminal(state.status):
        row.finished_at = row.finished_at or state.status_at
        row.eta_earliest = row.eta_latest = None
    if state.status == ShipmentStatus.DELIVERED:
        row.delivered_at = row.delivered_at or state.status_at
    row.version += 1


async def _publish_picked_up(uow: UnitOfWork, row: Shipment) -> None:
    assert row.picked_up_at is not None and row.tracking_number is not None
    event = ShipmentPickedUp(
        row.id,
        row.reference,
        row.order_id,
        row.order_number,
        row.tracking_number,
        row.picked_up_at,
    )
    await publish(uow, event, key=row.reference)


async def publish_status(uow: UnitOfWork, row: Shipment, *, previous: ShipmentStatus) -> None:
    """``shipment.status_changed`` and, for delivery and return, their own topics."""
    at = row.status_at or uow.now()
    tracking = row.tracking_number or ""
    changed = ShipmentStatusChanged(
        row.id,
        row.reference,
        row.order_id,
        row.order_number,
        row.merchant_id,
        row.buyer_id,
        tracking,
        row.status,
        previous.value,
        at,
        row.eta_earliest,
        row.eta_latest,
    )
    await publish(uow, changed, key=row.reference)
    if row.status == ShipmentStatus.DELIVERED:
        delivered = ShipmentDelivered(
            row.id,
            row.reference,
            row.order_id,
            row.order_number,
            row.merchant_id,
            row.buyer_id,
            row.carrier_code,
            tracking,
            at,
        )
        await publish(uow, delivered, key=row.reference)
    elif row.status == ShipmentStatus.RETURNED:
        returned = ShipmentReturned(
            row.id, row.reference, row.order_id, row.order_number, row.merchant_id, tracking, at
        )
        await publish(uow, returned, key=row.reference)


async def adopt_orphans(uow: UnitOfWork, row: Shipment) -> int:
    """Inside the booking's transaction: apply pushes that arrived before the booking did."""
    assert row.tracking_number is not None
    orphans = await repository.orphan_callbacks(
        uow.session, carrier_code=row.carrier_code, tracking_number=row.tracking_number
    )
    gateway, salt = config_of(uow).gateway, push_salt(uow)
    for callback in orphans:
        push = gateway.verify_push(param=callback.param, sign=callback.sign, salt=salt)
        fresh = await new_scans(uow, row, push)
        if fresh:
            await apply_scans(uow, row, fresh, callback_id=callback.id)
        await repository.link_callback(uow.session, callback_id=callback.id, shipment_id=row.id)
    return len(orphans)
