"""Every SQL statement on the tracking inbox: pushes stored as received (one grouped INSERT
per burst), claimed in batches, applied, parked dead, retried; and the batch reads the apply
step makes. Nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kuaidan.logistics.models import (
    Shipment,
    TrackingInbox,
    TrackingScan,
)
from kuaidan.logistics.repository import FRESH

_INSERT_PUSHES = {
    name: maker(TrackingInbox)
    .on_conflict_do_nothing(index_elements=["content_hash"])
    .returning(TrackingInbox.content_hash)
    for name, maker in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


async def insert_pushes(connection: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """One multi-row statement: the pushes whose content hash is not stored yet. Returns the
    content hashes this statement stored."""
    stmt = _INSERT_PUSHES[connection.dialect.name]  # built once: compiled once, then cached
    return set((await connection.scalars(stmt, list(rows))).all())


INBOX_CLAIM_COLUMNS = (
    TrackingInbox.id,
    TrackingInbox.carrier_code,
    TrackingInbox.tracking_number,
    TrackingInbox.param,
    TrackingInbox.sign,
)


async def claim_pushes(
    session: AsyncSession, *, limit: int, push_id: int | None = None
) -> list[tuple[Any, ...]]:
    """Pending pushes, oldest first, locked for this transaction (others skip them)."""
    stmt = select(*INBOX_CLAIM_COLUMNS).where(TrackingInbox.status == "pending")
    stmt = stmt.where(TrackingInbox.id == push_id) if push_id is not None else stmt
    stmt = stmt.order_by(TrackingInbox.id).limit(limit).with_for_update(skip_locked=True)
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def requeue_orphans_of(
    session: AsyncSession, *, carrier_code: str, tracking_number: str
) -> int:
    """One parcel's orphan pushes go back to ``pending`` (its shipment has just appeared)."""
    result = await session.execute(
        update(TrackingInbox)
        .where(
            TrackingInbox.tracking_number == tracking_number,
            TrackingInbox.carrier_code == carrier_code,
            TrackingInbox.status == "orphan",
        )
        .values(status="pending")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


async def requeue_adoptable_orphans(session: AsyncSession) -> int:
    """Orphan pushes whose shipment exists by now go back to ``pending``."""
    known = exists().where(
        Shipment.carrier_code == TrackingInbox.carrier_code,
        Shipment.tracking_number == TrackingInbox.tracking_number,
    )
    result = await session.execute(
        update(TrackingInbox)
        .where(TrackingInbox.status == "orphan", known)
        .values(status="pending")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


async def shipments_by_tracking(
    session: AsyncSession, *, parcels: Sequence[tuple[str, str]]
) -> list[Shipment]:
    """The shipments of (carrier code, tracking number) pairs, locked in id order."""
    if not parcels:
        return []
    stmt = (
        select(Shipment)
        .where(tuple_(Shipment.carrier_code, Shipment.tracking_number).in_(sorted(set(parcels))))
        .order_by(Shipment.id)
        .with_for_update()
        .execution_options(**FRESH)
    )
    return list(await session.scalars(stmt))


async def fingerprints_of(
    session: AsyncSession, *, shipment_ids: Sequence[int]
) -> set[tuple[int, str]]:
    if not shipment_ids:
        return set()
    rows = await session.execute(
        select(TrackingScan.shipment_id, TrackingScan.fingerprint).where(
            TrackingScan.shipment_id.in_(sorted(set(shipment_ids)))
        )
    )
    return {(int(sid), str(fp)) for sid, fp in rows.all()}


async def insert_rows(
    session: AsyncSession, model: type[Any], rows: Sequence[dict[str, Any]]
) -> None:
    """A multi-row INSERT of scans or ETA predictions (no ORM objects)."""
    if rows:
        await session.execute(insert(model), list(rows))


async def finish_pushes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record each push's outcome (``id``, ``status``, ``shipment_id``, ``new_scans``,
    ``outcome``, ``applied_at``): one executemany by primary key."""
    if rows:
        await session.execute(update(TrackingInbox), list(rows))


async def mark_push_dead(session: AsyncSession, *, push_id: int, error: str, at: datetime) -> None:
    await session.execute(
        update(TrackingInbox)
        .where(TrackingInbox.id == push_id, TrackingInbox.status == "pending")
        .values(
            status="dead",
            error=error[:4000],
            outcome="dead: could not be applied",
            attempts=TrackingInbox.attempts + 1,
            applied_at=at,
        )
        .execution_options(synchronize_session=False)
    )


async def inbox_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(TrackingInbox.status, func.count()).group_by(TrackingInbox.status)
    )
    return {str(status): int(n) for status, n in rows.all()}


async def dead_pushes(session: AsyncSession, *, limit: int) -> list[TrackingInbox]:
    rows = await session.scalars(
        select(TrackingInbox)
        .where(TrackingInbox.status == "dead")
        .order_by(TrackingInbox.id.desc())
        .limit(limit)
    )
    return list(rows)


async def retry_dead_pushes(session: AsyncSession, *, push_id: int | None) -> int:
    stmt = update(TrackingInbox).where(TrackingInbox.status == "dead")
    stmt = stmt.where(TrackingInbox.id == push_id) if push_id is not None else stmt
    result = await session.execute(
        stmt.values(status="pending", error=None, outcome=None, applied_at=None).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0))


async def pushes_for(session: AsyncSession, *, tracking_number: str) -> list[TrackingInbox]:
    rows = await session.scalars(
        select(TrackingInbox)
        .where(TrackingInbox.tracking_number == tracking_number)
        .order_by(TrackingInbox.id)
    )
    return list(rows)


async def inbox_audit(session: AsyncSession, *, prefix: str) -> dict[str, int]:
    """For the callback bench: pushes by status, scans stored twice, pushes not finished."""
    pattern = prefix.replace("%", "").replace("_", "") + "%"
    by_status = await session.execute(
        select(TrackingInbox.status, func.count())
        .where(TrackingInbox.tracking_number.like(pattern))
        .group_by(TrackingInbox.status)
    )
    counts = {f"pushes {status}": int(n) for status, n in by_status.all()}
    twice = (
        select(TrackingScan.shipment_id, TrackingScan.fingerprint)
        .join(Shipment, Shipment.id == TrackingScan.shipment_id)
        .where(Shipment.tracking_number.like(pattern))
        .group_by(TrackingScan.shipment_id, TrackingScan.fingerprint)
        .having(func.count() > 1)
        .subquery()
    )
    counts["scans stored twice"] = int(
        await session.scalar(select(func.count()).select_from(twice)) or 0
    )
    return counts


async def push_lags(session: AsyncSession, *, prefix: str) -> list[tuple[datetime, datetime]]:
    """(received_at, applied_at) of the applied pushes of a bench run."""
    pattern = prefix.replace("%", "").replace("_", "") + "%"
    rows = await session.execute(
        select(TrackingInbox.received_at, TrackingInbox.applied_at).where(
            TrackingInbox.tracking_number.like(pattern),
            TrackingInbox.applied_at.is_not(None),
        )
    )
    return [(a, b) for a, b in rows.all() if b is not None]


async def lane_histories(
    session: AsyncSession, *, lanes: Sequence[tuple[int, str, str]], limit: int
) -> dict[tuple[int, str, str], list[tuple[Any, ...]]]:
    """``lane_history`` for several lanes (carrier id, origin, destination) in one query."""
    if not lanes:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=(Shipment.carrier_id, Shipment.origin_province, Shipment.dest_province),
            order_by=Shipment.delivered_at.desc(),
        )
        .label("rank")
    )
    inner = (
        select(
            Shipment.carrier_id,
            Shipment.origin_province,
            Shipment.dest_province,
            Shipment.booked_at,
            Shipment.picked_up_at,
            Shipment.in_city_at,
            Shipment.out_for_delivery_at,
            Shipment.delivered_at,
            rank,
        )
        .where(
            tuple_(Shipment.carrier_id, Shipment.origin_province, Shipment.dest_province).in_(
                sorted(set(lanes))
            ),
            Shipment.delivered_at.is_not(None),
        )
        .subquery()
    )
    rows = await session.execute(select(inner).where(inner.c.rank <= limit).order_by(inner.c.rank))
    found: dict[tuple[int, str, str], list[tuple[Any, ...]]] = {lane: [] for lane in lanes}
    for row in rows.all():
        found.setdefault((row[0], row[1], row[2]), []).append(tuple(row[3:8]))
    return found


async def pending_push_ids(session: AsyncSession, *, limit: int) -> list[int]:
    rows = await session.scalars(
        select(TrackingInbox.id)
        .where(TrackingInbox.status == "pending")
        .order_by(TrackingInbox.id)
        .limit(limit)
    )
    return [int(i) for i in rows]
