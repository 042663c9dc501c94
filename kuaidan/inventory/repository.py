"""SQL on the inventory tables: stock levels, reservations and the stock movement ledger.

Every change of a stock row is one conditional UPDATE whose WHERE clause carries the rule
(enough available, never below what is reserved), so no change is a read-modify-write.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.inventory.domain import MovementKind, ReservationStatus, StockFigures
from kuaidan.inventory.models import (
    HoldLeaseRow,
    ReservationRow,
    StockLevelRow,
    StockMovementRow,
)

NO_SYNC = {"synchronize_session": False}
OPEN = ReservationStatus.OPEN.value


@dataclass(frozen=True, slots=True)
class Reserved:
    """What the conditional reserve update returned for its SKU."""

    available: int
    per_buyer_limit: int | None


@dataclass(frozen=True, slots=True)
class NewReservation:
    sku_id: int
    quantity: int


# --- stock levels -------------------------------------------------------------------------


async def insert_stock(session: AsyncSession, *, sku_id: int, on_hand: int, now: datetime) -> None:
    session.add(StockLevelRow(sku_id=sku_id, on_hand=on_hand, reserved=0, updated_at=now))
    await session.flush()


# Every placement reads its SKUs' stock: the read (and its locking twin) is built once.
_BY_SKU_IDS = (
    select(StockLevelRow)
    .where(StockLevelRow.sku_id.in_(bindparam("sku_ids", expanding=True)))
    .order_by(StockLevelRow.sku_id)
    .execution_options(populate_existing=True)
)
_BY_SKU_IDS_LOCKED = _BY_SKU_IDS.with_for_update()


async def by_sku_ids(
    session: AsyncSession, sku_ids: Collection[int], *, lock: bool = False
) -> Sequence[StockLevelRow]:
    """Stock rows of these SKUs in sku_id order; ``lock`` takes their row locks (PostgreSQL)."""
    if not sku_ids:
        return []
    query = _BY_SKU_IDS_LOCKED if lock else _BY_SKU_IDS
    rows = await session.scalars(query, {"sku_ids": list(sku_ids)})
    return rows.all()


async def set_on_hand(session: AsyncSession, *, sku_id: int, on_hand: int, now: datetime) -> bool:
    """Set on_hand unless it would fall below what is reserved; False when nothing changed."""
    result = await session.execute(
        update(StockLevelRow)
        .where(StockLevelRow.sku_id == sku_id, StockLevelRow.reserved <= on_hand)
        .values(on_hand=on_hand, version=StockLevelRow.version + 1, updated_at=now)
        .execution_options(**NO_SYNC)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_purchase_limit(
    session: AsyncSession, *, sku_id: int, limit: int | None, now: datetime
) -> bool:
    result = await session.execute(
        update(StockLevelRow)
        .where(StockLevelRow.sku_id == sku_id)
        .values(per_buyer_limit=limit, version=StockLevelRow.version + 1, updated_at=now)
        .execution_options(**NO_SYNC)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# The tables themselves, for Core statements on the hot path.
STOCK_TABLE: Table = StockLevelRow.__table__  # type: ignore[assignment]
STOCK = STOCK_TABLE.c
RESERVATIONS: Table = ReservationRow.__table__  # type: ignore[assignment]


# Built once, with bound parameters: building it and its cache key on every call would cost
# about as much as running it.
_RESERVE = (
    update(STOCK_TABLE)
    .where(
        STOCK.sku_id == bindparam("reserve_sku_id"),
        STOCK.on_hand - STOCK.reserved >= bindparam("quantity"),
    )
    .values(
        reserved=STOCK.reserved + bindparam("quantity"),
        version=STOCK.version + 1,
        updated_at=bindparam("now", type_=STOCK.updated_at.type),
    )
    .returning(STOCK.on_hand - STOCK.reserved, STOCK.per_buyer_limit)
)


async def reserve_units(
    session: AsyncSession, *, sku_id: int, quantity: int, now: datetime
) -> Reserved | None:
    """Reserve ``quantity`` units if that many are available (taking the row lock); else None.

    A Core statement on the hot path: the ORM's bulk-update machinery costs more CPU than the
    database spends on the row.
    """
    result = await session.execute(
        _RESERVE, {"reserve_sku_id": sku_id, "quantity": quantity, "now": now}
    )
    row = result.one_or_none()
    return None if row is None else Reserved(available=row[0], per_buyer_limit=row[1])


async def unreserve_units(
    session: AsyncSession, *, sku_id: int, quantity: int, sold: bool, now: datetime
) -> bool:
    """Give back ``quantity`` reserved units: to stock, or out of it when ``sold``.

    Guarded so that reserved cannot go below zero (on_hand ≥ reserved by a CHECK constraint);
    False when it would.
    """
    level = StockLevelRow
    values: dict[str, Any] = {
        "reserved": level.reserved - quantity,
        "version": level.version + 1,
        "updated_at": now,
    }
    if sold:
        values["on_hand"] = level.on_hand - quantity
    result = await session.execute(
        update(level)
        .where(level.sku_id == sku_id, level.reserved >= quantity)
        .values(values)
        .execution_options(**NO_SYNC)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_on_hand(
    session: AsyncSession, *, sku_id: int, quantity: int, now: datetime
) -> StockLevelRow | None:
    """Add ``quantity`` units to on_hand; the row afterwards, or None when there is none."""
    result = await session.execute(
        update(StockLevelRow)
        .where(StockLevelRow.sku_id == sku_id)
        .values(
            on_hand=StockLevelRow.on_hand + quantity,
            version=StockLevelRow.version + 1,
            updated_at=now,
        )
        .returning(StockLevelRow)
        .execution_options(populate_existing=True, **NO_SYNC)
    )
    return result.scalar_one_or_none()


# --- reservations -------------------------------------------------------------------------

_INSERT_RESERVATIONS = insert(RESERVATIONS)


async def insert_reservations(
    session: AsyncSession,
    *,
    holder: str,
    buyer_id: int | None,
    lines: Sequence[NewReservation],
    now: datetime,
) -> None:
    await session.execute(
        _INSERT_RESERVATIONS,
        [
            {
                "sku_id": line.sku_id,
                "holder": holder,
                "buyer_id": buyer_id,
                "quantity": line.quantity,
                "status": OPEN,
                "created_at": now,
            }
            for line in lines
        ],
    )


async def units_held_by_buyer(
    session: AsyncSession, *, buyer_id: int, sku_id: int, now: datetime
) -> int:
    """Units of the SKU the buyer holds in open reservations or has bought (consumed ones);
    a hold whose lease expired counts no more (it can never be adopted)."""
    held = await session.scalar(
        select(func.coalesce(func.sum(ReservationRow.quantity), 0)).where(
            ReservationRow.buyer_id == buyer_id,
            ReservationRow.sku_id == sku_id,
            ReservationRow.status.in_([OPEN, ReservationStatus.CONSUMED.value]),
            _lease_live(now),
        )
    )
    return int(held or 0)


async def close_open_reservations(
    session: AsyncSession,
    *,
    holder: str,
    status: ReservationStatus,
    reason: str | None,
    now: datetime,
    lease_expired: bool = False,
) -> list[tuple[int, int]]:
    """Close the holder's open reservations (only those whose lease has expired, with
    ``lease_expired``); (sku_id, quantity) of each one closed.

    The WHERE clause re-checks ``status = 'open'`` (and the lease) under the row locks, so of
    two concurrent calls for one holder only the first closes anything.
    """
    where = [ReservationRow.holder == holder, ReservationRow.status == OPEN]
    if lease_expired:
        where += [ReservationRow.lease_id.is_not(None), ~_lease_live(now)]
    result = await session.execute(
        update(ReservationRow)
        .where(*where)
        .values(status=status.value, closed_at=now, reason=reason)
        .returning(ReservationRow.sku_id, ReservationRow.quantity)
        .execution_options(**NO_SYNC)
    )
    return [(sku_id, quantity) for sku_id, quantity in result.all()]


async def reservations_of(session: AsyncSession, holder: str) -> Sequence[ReservationRow]:
    rows = await session.scalars(
        select(ReservationRow)
        .where(ReservationRow.holder == holder)
        .order_by(ReservationRow.id)
        .execution_options(populate_existing=True)
    )
    return rows.all()


# --- ledger and audit ---------------------------------------------------------------------


async def add_movement(
    session: AsyncSession,
    *,
    sku_id: int,
    kind: MovementKind,
    quantity: int,
    reference: str | None,
    now: datetime,
) -> None:
    await session.execute(
        insert(StockMovementRow).values(
            sku_id=sku_id, kind=kind.value, quantity=quantity, reference=reference, at=now
        )
    )


async def stock_figures(
    session: AsyncSession, sku_ids: Collection[int] | None
) -> list[StockFigures]:
    """Each SKU's stock row beside its open reservations and ledger sum, in one statement.

    One statement reads one snapshot, so concurrent reservations cannot make it disagree.
    """
    level = StockLevelRow
    open_units = (
        select(func.coalesce(func.sum(ReservationRow.quantity), 0))
        .where(ReservationRow.sku_id == level.sku_id, ReservationRow.status == OPEN)
        .scalar_subquery()
    )
    ledger = (
        select(func.coalesce(func.sum(StockMovementRow.quantity), 0))
        .where(StockMovementRow.sku_id == level.sku_id)
        .scalar_subquery()
    )
    query = select(level.sku_id, level.on_hand, level.reserved, open_units, ledger).order_by(
        level.sku_id
    )
    if sku_ids is not None:
        query = query.where(level.sku_id.in_(sku_ids))
    rows = await session.execute(query)
    return [
        StockFigures(
            sku_id=row[0],
            on_hand=row[1],
            reserved=row[2],
            open_reserved=int(row[3]),
            ledger_on_hand=int(row[4]),
        )
        for row in rows
    ]


# --- flash-sale holds ---------------------------------------------------------------------


async def lock_stock(session: AsyncSession, sku_id: int) -> tuple[int, int | None] | None:
    """(available, per_buyer_limit) of the SKU under its row lock (PostgreSQL), or None."""
    level = StockLevelRow
    row = (
        await session.execute(
            select(level.on_hand - level.reserved, level.per_buyer_limit)
            .where(level.sku_id == sku_id)
            .with_for_update()
        )
    ).one_or_none()
    return None if row is None else (int(row[0]), row[1])


async def units_held_by_buyers(
    session: AsyncSession, *, sku_id: int, buyer_ids: Collection[int], now: datetime
) -> dict[int, int]:
    """Units of the SKU each buyer holds open or has bought, for several buyers at once; a
    hold whose lease expired counts no more (it is being released, or is about to be)."""
    if not buyer_ids:
        return {}
    rows = await session.execute(
        select(ReservationRow.buyer_id, func.sum(ReservationRow.quantity))
        .where(
            ReservationRow.sku_id == sku_id,
            ReservationRow.buyer_id.in_(set(buyer_ids)),
            ReservationRow.status.in_([OPEN, ReservationStatus.CONSUMED.value]),
            _lease_live(now),
        )
        .group_by(ReservationRow.buyer_id)
    )
    return {int(buyer): int(units) for buyer, units in rows.all() if buyer is not None}


async def insert_holds(
    session: AsyncSession,
    *,
    sku_id: int,
    holds: Sequence[tuple[str, int | None, int]],
    now: datetime,
    lease_id: int | None = None,
) -> dict[str, int]:
    """Open reservations (holder, buyer_id, quantity) of one SKU in one statement; their ids
    by holder (each hold has a holder of its own)."""
    if not holds:
        return {}
    result = await session.execute(
        insert(ReservationRow).returning(ReservationRow.holder, ReservationRow.id),
        [
            {
                "sku_id": sku_id,
                "holder": holder,
                "buyer_id": buyer_id,
                "quantity": quantity,
                "status": OPEN,
                "created_at": now,
                "lease_id": lease_id,
            }
            for holder, buyer_id, quantity in holds
        ],
    )
    return {str(holder): int(row_id) for holder, row_id in result.all()}


async def adopt_reservation(
    session: AsyncSession, *, reservation_id: int, holder: str, new_holder: str, now: datetime
) -> bool:
    """Hand an open reservation to a new holder (its order); False when it is not open or
    its lease has expired (it is as good as released). The order's reservation has no lease."""
    result = await session.execute(
        update(ReservationRow)
        .where(
            ReservationRow.id == reservation_id,
            ReservationRow.holder == holder,
            ReservationRow.status == OPEN,
            _lease_live(now),
        )
        .values(holder=new_holder, lease_id=None)
        .execution_options(**NO_SYNC)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def stale_holders(
    session: AsyncSession, *, prefix: str, before: datetime, limit: int
) -> list[str]:
    """Holders starting with ``prefix`` whose open reservations were made before ``before``."""
    rows = await session.scalars(
        select(ReservationRow.holder)
        .where(
            ReservationRow.holder.startswith(prefix, autoescape=True),
            ReservationRow.status == OPEN,
            ReservationRow.created_at < before,
        )
        .order_by(ReservationRow.id)
        .limit(limit)
    )
    return list(dict.fromkeys(rows.all()))


# --- leases on flash holds ----------------------------------------------------------------


def _lease_live(now: datetime) -> Any:
    """No lease, or a lease not yet expired."""
    expired = exists().where(
        HoldLeaseRow.id == ReservationRow.lease_id, HoldLeaseRow.expires_at < now
    )
    return or_(ReservationRow.lease_id.is_(None), ~expired)


async def insert_lease(
    session: AsyncSession, *, host: str, pid: int, now: datetime, expires_at: datetime
) -> int:
    result = await session.execute(
        insert(HoldLeaseRow)
        .values(host=host, pid=pid, started_at=now, renewed_at=now, expires_at=expires_at)
        .returning(HoldLeaseRow.id)
    )
    return int(result.scalar_one())


async def renew_lease(
    session: AsyncSession, *, lease_id: int, now: datetime, expires_at: datetime
) -> bool:
    """Extend a lease that has not expired; False when it has (its holds are forfeit)."""
    result = await session.execute(
        update(HoldLeaseRow)
        .where(HoldLeaseRow.id == lease_id, HoldLeaseRow.expires_at >= now)
        .values(renewed_at=now, expires_at=expires_at)
        .execution_options(**NO_SYNC)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def has_open_hold(session: AsyncSession, *, holder: str) -> bool:
    found = await session.scalar(
        select(ReservationRow.id)
        .where(ReservationRow.holder == holder, ReservationRow.status == OPEN)
        .limit(1)
    )
    return found is not None


async def take_over_holds(
    session: AsyncSession,
    *,
    sku_id: int,
    holders: Collection[str],
    lease_id: int | None,
    now: datetime,
) -> dict[str, int]:
    """The SKU's open holds of these holders whose lease is still live (it counts against
    the buyer's limit), now under ``lease_id``: their ids by holder. One whose lease expired
    counts no more, is released, and is never revived. Holds locked by someone else (being
    adopted or released right now) are skipped: under the stock row lock nothing may wait on a
    reservation row."""
    if not holders:
        return {}
    found = await session.execute(
        select(ReservationRow.id, ReservationRow.holder)
        .where(
            ReservationRow.sku_id == sku_id,
            ReservationRow.status == OPEN,
            ReservationRow.holder.in_(set(holders)),
            _lease_live(now),
        )
        .order_by(ReservationRow.id)
        .with_for_update(skip_locked=True)
    )
    ids = {str(holder): int(hold_id) for hold_id, holder in found.all()}
    if ids:
        await session.execute(
            update(ReservationRow)
            .where(ReservationRow.id.in_(ids.values()))
            .values(lease_id=lease_id)
            .execution_options(**NO_SYNC)
        )
    return ids


async def release_expired_lease_holds(
    session: AsyncSession, *, sku_id: int, prefix: str, now: datetime
) -> int:
    """Release the SKU's open holds whose lease expired; the units released.

    Call under the SKU's stock row lock. Holds locked by someone else (being adopted or
    released right now) are skipped, so this never waits on a reservation row while holding
    the stock row; the caller gives the units back to the stock row.
    """
    expired = (
        select(ReservationRow.id)
        .join(HoldLeaseRow, HoldLeaseRow.id == ReservationRow.lease_id)
        .where(
            ReservationRow.sku_id == sku_id,
            ReservationRow.status == OPEN,
            ReservationRow.holder.startswith(prefix, autoescape=True),
            HoldLeaseRow.expires_at < now,
        )
        .order_by(ReservationRow.id)
        .with_for_update(skip_locked=True, of=ReservationRow)
    )
    ids = list((await session.scalars(expired)).all())
    if not ids:
        return 0
    result = await session.execute(
        update(ReservationRow)
        .where(ReservationRow.id.in_(ids), ReservationRow.status == OPEN)
        .values(
            status=ReservationStatus.RELEASED.value, closed_at=now, reason="flash lease expired"
        )
        .returning(ReservationRow.quantity)
        .execution_options(**NO_SYNC)
    )
    return sum(int(q) for q in result.scalars().all())


async def expired_lease_holders(
    session: AsyncSession, *, prefix: str, now: datetime, limit: int
) -> list[str]:
    """Holders of open holds whose lease has expired, oldest first."""
    rows = await session.scalars(
        select(ReservationRow.holder)
        .join(HoldLeaseRow, HoldLeaseRow.id == ReservationRow.lease_id)
        .where(
            ReservationRow.holder.startswith(prefix, autoescape=True),
            ReservationRow.status == OPEN,
            HoldLeaseRow.expires_at < now,
        )
        .order_by(ReservationRow.id)
        .limit(limit)
    )
    return list(dict.fromkeys(rows.all()))
