"""Applying a push's scans to its shipment: each scan stored once, the status moved forward only
(``domain.tracking``), the ETA refreshed, and what changed published.

The apply step handles many pushes in one transaction: a :class:`Batch` loads what it needs for
all of their shipments up front (known scan fingerprints, lane histories for the ETA), applies
the pushes one after the other in arrival order, exactly as if each had its own transaction,
and writes the scans, predictions and events at the end with multi-row INSERTs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kuaidan.core.db import UnitOfWork
from kuaidan.core.outbox import Event, publish, publish_many
from kuaidan.logistics.domain import ShipmentStatus
from kuaidan.logistics.domain.eta import Milestones
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
from kuaidan.logistics.models import EtaPrediction, Shipment, TrackingScan
from kuaidan.logistics.repository import inbox as inbox_repo
from kuaidan.logistics.service._common import milestones_of
from kuaidan.logistics.service.eta import HISTORY_LIMIT, estimate_onto

MOVING = frozenset(ShipmentStatus) - {ShipmentStatus.PROBLEM, ShipmentStatus.CANCELLED}
Lane = tuple[int, str, str]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def lane_of(row: Shipment) -> Lane:
    return (row.carrier_id, row.origin_province, row.dest_province)


@dataclass
class Batch:
    """One transaction's worth of applied pushes, written at once by :meth:`write`."""

    uow: UnitOfWork
    now: datetime
    known: set[tuple[int, str]]
    lanes: dict[Lane, list[Milestones]]
    scans: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[Event, str | None]] = field(default_factory=list)

    @classmethod
    async def open(cls, uow: UnitOfWork, rows: list[Shipment]) -> Batch:
        """Inside the caller's transaction, ``rows`` locked: what applying needs, two queries."""
        session = uow.session
        known = await inbox_repo.fingerprints_of(session, shipment_ids=[r.id for r in rows])
        open_lanes = [lane_of(r) for r in rows if not is_terminal(ShipmentStatus(r.status))]
        found = await inbox_repo.lane_histories(session, lanes=open_lanes, limit=HISTORY_LIMIT)
        lanes = {lane: [Milestones(*past) for past in rows_] for lane, rows_ in found.items()}
        return cls(uow=uow, now=uow.now(), known=known, lanes=lanes)

    def publish(self, event: Event, *, key: str) -> None:
        self.events.append((event, key))

    async def write(self) -> None:
        """The batch's scans, ETA predictions and events; updated shipments flush with them."""
        session = self.uow.session
        await inbox_repo.insert_rows(session, TrackingScan, self.scans)
        await inbox_repo.insert_rows(session, EtaPrediction, self.predictions)
        publish_many(self.uow, self.events)
        await session.flush()
        self.scans, self.predictions, self.events = [], [], []


def apply_push(batch: Batch, row: Shipment, push: TrackingPush, *, callback_id: int) -> int:
    """Apply one push to ``row`` (locked); returns how many of its scans were new."""
    fresh: dict[str, ScanReport] = {}
    for scan in push.scans:
        key = scan.fingerprint()
        if (row.id, key) not in batch.known and key not in fresh:
            fresh[key] = scan
    if fresh:
        batch.known.update((row.id, key) for key in fresh)
        apply_scans(batch, row, sorted(fresh.values(), key=lambda s: s.at), callback_id)
    return len(fresh)


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


def _scan_row(batch: Batch, row: Shipment, scan: ScanReport, callback_id: int) -> dict[str, Any]:
    return {
        "shipment_id": row.id,
        "fingerprint": scan.fingerprint(),
        "scanned_at": scan.at,
        "context": scan.context,
        "location": scan.location,
        "state": scan.state,
        "sub_code": scan.sub_code,
        "status": scan.status.value if scan.status else None,
        "callback_id": callback_id,
        "received_at": batch.now,
    }


def apply_scans(batch: Batch, row: Shipment, scans: list[ScanReport], callback_id: int) -> None:
    """Store ``scans`` (new ones, oldest first) and move the status; events in this order:
    ``shipment.picked_up`` on the first movement, then the status change and its topic."""
    batch.scans.extend(_scan_row(batch, row, s, callback_id) for s in scans)
    before = TrackState(ShipmentStatus(row.status), ShipmentStatus(row.progress), row.status_at)
    stage_before, picked_before = milestones_of(row).stage(), row.picked_up_at
    state = before
    for scan in scans:
        state = advance(state, scan.status, scan.at)
        _note_milestones(row, scan)
    if state != before:
        _set_state(batch, row, state)
    if milestones_of(row).stage() != stage_before or state.status != before.status:
        _refresh_eta(batch, row)
    if picked_before is None and row.picked_up_at is not None:
        batch.publish(picked_up_event(row), key=row.reference)
    if state.status != before.status:
        for event in status_events(row, previous=before.status, now=batch.now):
            batch.publish(event, key=row.reference)


def _set_state(batch: Batch, row: Shipment, state: TrackState) -> None:
    row.status, row.progress, row.status_at = state.status, state.progress, state.status_at
    if is_terminal(state.status):
        row.finished_at = row.finished_at or state.status_at
        row.eta_earliest = row.eta_latest = None
    if state.status == ShipmentStatus.DELIVERED and row.delivered_at is None:
        row.delivered_at = state.status_at
        _remember_delivery(batch, row)
    row.version += 1


def _remember_delivery(batch: Batch, row: Shipment) -> None:
    """A delivery in this batch joins its lane's history, as it would after its own commit."""
    history = batch.lanes.get(lane_of(row))
    if history is None or row.delivered_at is None:
        return
    history.append(milestones_of(row))
    history.sort(key=lambda m: m.delivered_at or EPOCH, reverse=True)
    del history[HISTORY_LIMIT:]


def _refresh_eta(batch: Batch, row: Shipment) -> None:
    """``service.eta.refresh_eta`` over the batch's lane history (loaded once per batch)."""
    prediction = estimate_onto(row, batch.lanes.get(lane_of(row), []), now=batch.now)
    if prediction is not None:
        batch.predictions.append(prediction)


def picked_up_event(row: Shipment) -> ShipmentPickedUp:
    assert row.picked_up_at is not None and row.tracking_number is not None
    return ShipmentPickedUp(
        row.id,
        row.reference,
        row.order_id,
        row.order_number,
        row.tracking_number,
        row.picked_up_at,
    )


def status_events(row: Shipment, *, previous: ShipmentStatus, now: datetime) -> list[Event]:
    """``shipment.status_changed`` and, for delivery and return, their own topics."""
    at = row.status_at or now
    tracking = row.tracking_number or ""
    found: list[Event] = [
        ShipmentStatusChanged(
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
    ]
    if row.status == ShipmentStatus.DELIVERED:
        found.append(
            ShipmentDelivered(
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
        )
    elif row.status == ShipmentStatus.RETURNED:
        found.append(
            ShipmentReturned(
                row.id, row.reference, row.order_id, row.order_number, row.merchant_id, tracking, at
            )
        )
    return found


async def publish_status(uow: UnitOfWork, row: Shipment, *, previous: ShipmentStatus) -> None:
    """Inside the caller's transaction: the status change's events (shipments use it too)."""
    for event in status_events(row, previous=previous, now=uow.now()):
        await publish(uow, event, key=row.reference)
