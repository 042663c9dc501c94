"""Inventory use cases: stock levels, reservations for orders, per-buyer limits, the ledger.

Writes open ``uow.atomic()`` (joining the caller's transaction, so an order and its
reservation commit together or not at all); reads take no write lock. Stock rows are changed
only by conditional UPDATEs, one per SKU, in ascending sku_id order (DESIGN.md §5, §6). A
caller that reserves and releases for one holder in one transaction locks the holder first
(e.g. its order row), so two such transactions cannot wait on each other.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, DomainError, InvalidInput, NotFound
from kuaidan.core.ports import Port
from kuaidan.inventory import repository
from kuaidan.inventory.domain import (
    HOLDER_MAX_LENGTH,
    REASON_MAX_LENGTH,
    FlashClaim,
    FlashHold,
    MovementKind,
    OutOfStock,
    ReservationInfo,
    ReservationStatus,
    Shortage,
    StockInvariantBroken,
    StockLevel,
    audit_problems,
    check_label,
    check_positive,
    check_purchase_limit,
    check_quantity,
    reservation_lines,
)
from kuaidan.inventory.flashsale import HOLD_PREFIX, claim_holder
from kuaidan.inventory.flashsale import FlashSale as FlashSale  # the gate's type, for callers
from kuaidan.inventory.models import ReservationRow, StockLevelRow

log = logging.getLogger(__name__)
# The process's flash-sale gate, bound by the composition root; a process may run without one.
FLASH_SALE = Port("inventory.flash_sale", FlashSale)
DEFAULT_HOLD_TTL = timedelta(minutes=2)

# --- stock levels -------------------------------------------------------------------------


def _level(row: StockLevelRow) -> StockLevel:
    return StockLevel(
        sku_id=row.sku_id,
        on_hand=row.on_hand,
        reserved=row.reserved,
        per_buyer_limit=row.per_buyer_limit,
    )


async def create_stock(*, uow: UnitOfWork, sku_id: int, on_hand: int) -> StockLevel:
    """Start keeping stock for a new SKU; the opening count is the ledger's first entry."""
    check_quantity(on_hand)
    async with uow.atomic():
        now = uow.now()
        await repository.insert_stock(uow.session, sku_id=sku_id, on_hand=on_hand, now=now)
        await repository.add_movement(
            uow.session,
            sku_id=sku_id,
            kind=MovementKind.INITIAL,
            quantity=on_hand,
            reference=None,
            now=now,
        )
        return StockLevel(sku_id=sku_id, on_hand=on_hand, reserved=0)


async def get_levels(*, uow: UnitOfWork, sku_ids: Collection[int]) -> dict[int, StockLevel]:
    """Stock of the given SKUs; SKUs without a stock row are absent."""
    rows = await repository.by_sku_ids(uow.session, set(sku_ids))
    return {row.sku_id: _level(row) for row in rows}


async def _locked_level(uow: UnitOfWork, sku_id: int) -> StockLevel:
    rows = await repository.by_sku_ids(uow.session, [sku_id], lock=True)
    if not rows:
        raise NotFound(f"no stock is kept for SKU {sku_id}")
    return _level(rows[0])


async def set_on_hand(*, uow: UnitOfWork, sku_id: int, on_hand: int) -> StockLevel:
    """Set the counted stock; it may not drop below the units already reserved (Conflict).

    The difference to the previous count goes into the ledger as an adjustment.
    """
    check_quantity(on_hand)
    async with uow.atomic():
        before = await _locked_level(uow, sku_id)
        now = uow.now()
        changed = on_hand >= before.reserved and await repository.set_on_hand(
            uow.session, sku_id=sku_id, on_hand=on_hand, now=now
        )
        if not changed:
            raise Conflict(
                f"on_hand {on_hand} is below the {before.reserved} units reserved for open orders",
                details={"sku_id": sku_id, "reserved": before.reserved},
            )
        if on_hand != before.on_hand:
            await repository.add_movement(
                uow.session,
                sku_id=sku_id,
                kind=MovementKind.ADJUST,
                quantity=on_hand - before.on_hand,
                reference="stock count",
                now=now,
            )
        return StockLevel(sku_id, on_hand, before.reserved, before.per_buyer_limit)


async def restock(*, uow: UnitOfWork, sku_id: int, quantity: int, reason: str) -> StockLevel:
    """Add ``quantity`` received units to on_hand, recorded in the ledger with ``reason``."""
    check_positive(quantity, field="quantity")
    check_label(reason, field="reason", max_length=REASON_MAX_LENGTH)
    async with uow.atomic():
        now = uow.now()
        row = await repository.add_on_hand(uow.session, sku_id=sku_id, quantity=quantity, now=now)
        if row is None:
            raise NotFound(f"no stock is kept for SKU {sku_id}")
        _stock_returned(uow, [sku_id])
        await repository.add_movement(
            uow.session,
            sku_id=sku_id,
            kind=MovementKind.RESTOCK,
            quantity=quantity,
            reference=reason,
            now=now,
        )
        return _level(row)


async def set_purchase_limit(*, uow: UnitOfWork, sku_id: int, limit: int | None) -> StockLevel:
    """Limit how many units of a SKU one buyer may hold or have bought (None: no limit)."""
    if limit is not None:
        check_positive(limit, field="limit")
    async with uow.atomic():
        if not await repository.set_purchase_limit(
            uow.session, sku_id=sku_id, limit=limit, now=uow.now()
        ):
            raise NotFound(f"no stock is kept for SKU {sku_id}")
        return await _locked_level(uow, sku_id)


# --- reservations -------------------------------------------------------------------------


async def reserve(
    *, uow: UnitOfWork, holder: str, items: Mapping[int, int], buyer_id: int | None = None
) -> dict[int, int]:
    """Reserve ``items`` (sku_id → units) for ``holder``, all or nothing; available afterwards.

    Each SKU is one conditional UPDATE (enough available, or no change), in ascending sku_id
    order. A short SKU raises OutOfStock, a SKU without stock NotFound, a buyer past a SKU's
    per-buyer limit PurchaseLimitExceeded; the transaction then rolls back, so nothing stays
    reserved. The limit is checked after the UPDATE has taken the SKU's row lock, so two
    concurrent reservations of one buyer are counted one after the other.
    """
    return await reserve_many(uow=uow, holders={holder: items}, buyer_id=buyer_id)


async def reserve_many(
    *, uow: UnitOfWork, holders: Mapping[str, Mapping[int, int]], buyer_id: int | None = None
) -> dict[int, int]:
    """Reserve for several holders at once (one checkout's orders), all or nothing.

    All their SKUs are locked in one ascending pass, so two checkouts that span the same
    merchants can never lock each other's rows in opposite orders.
    """
    if not holders:
        raise InvalidInput("nothing to reserve")
    if buyer_id is not None and (not isinstance(buyer_id, int) or isinstance(buyer_id, bool)):
        raise InvalidInput("buyer_id must be a whole number", details={"buyer_id": buyer_id})
    per_holder = {
        check_label(holder, field="holder", max_length=HOLDER_MAX_LENGTH): reservation_lines(items)
        for holder, items in holders.items()
    }
    totals: dict[int, int] = {}
    for lines in per_holder.values():
        for sku_id, quantity in lines:
            totals[sku_id] = totals.get(sku_id, 0) + quantity
    async with uow.atomic():
        available = await _take_units(uow, sorted(totals.items()), buyer_id)
        for holder, lines in per_holder.items():
            await repository.insert_reservations(
                uow.session,
                holder=holder,
                buyer_id=buyer_id,
                lines=[repository.NewReservation(sku_id, quantity) for sku_id, quantity in lines],
                now=uow.now(),
            )
        return available


async def _take_units(
    uow: UnitOfWork, lines: Sequence[tuple[int, int]], buyer_id: int | None
) -> dict[int, int]:
    now = uow.now()
    available: dict[int, int] = {}
    for index, (sku_id, quantity) in enumerate(lines):
        done = await repository.reserve_units(
            uow.session, sku_id=sku_id, quantity=quantity, now=now
        )
        if done is None:
            raise await _why_not_reserved(uow, lines[index:])
        if buyer_id is not None and done.per_buyer_limit is not None:
            already = await repository.units_held_by_buyer(
                uow.session, buyer_id=buyer_id, sku_id=sku_id, now=now
            )
            check_purchase_limit(
                sku_id=sku_id, limit=done.per_buyer_limit, already=already, requested=quantity
            )
        available[sku_id] = done.available
    return available


async def _why_not_reserved(uow: UnitOfWork, rest: Sequence[tuple[int, int]]) -> DomainError:
    """The error for a reservation whose first remaining line could not be reserved.

    Lists every remaining SKU that is short (as read now), the failed one always included.
    """
    levels = await get_levels(uow=uow, sku_ids=[sku_id for sku_id, _ in rest])
    missing = [sku_id for sku_id, _ in rest if sku_id not in levels]
    if missing:
        return NotFound(
            "no stock is kept for SKU " + ", ".join(map(str, missing)),
            details={"sku_ids": missing},
        )
    return OutOfStock(
        Shortage(sku_id, quantity, levels[sku_id].available)
        for index, (sku_id, quantity) in enumerate(rest)
        if index == 0 or levels[sku_id].available < quantity
    )


async def release(*, uow: UnitOfWork, holder: str, reason: str) -> int:
    """Give the units of the holder's open reservations back to stock; how many were released.

    Idempotent: a second call finds nothing open and releases 0.
    """
    check_label(holder, field="holder", max_length=HOLDER_MAX_LENGTH)
    check_label(reason, field="reason", max_length=REASON_MAX_LENGTH)
    async with uow.atomic():
        return await _close(uow, holder, ReservationStatus.RELEASED, reason)


async def consume(*, uow: UnitOfWork, holder: str) -> int:
    """Ship the holder's open reservations: their units leave stock as sold; how many.

    Idempotent: a second call finds nothing open and consumes 0.
    """
    check_label(holder, field="holder", max_length=HOLDER_MAX_LENGTH)
    async with uow.atomic():
        return await _close(uow, holder, ReservationStatus.CONSUMED, None)


async def _close(
    uow: UnitOfWork,
    holder: str,
    status: ReservationStatus,
    reason: str | None,
    *,
    lease_expired: bool = False,
) -> int:
    now = uow.now()
    closed = await repository.close_open_reservations(
        uow.session,
        holder=holder,
        status=status,
        reason=reason,
        now=now,
        lease_expired=lease_expired,
    )
    units: dict[int, int] = {}
    for sku_id, quantity in closed:
        units[sku_id] = units.get(sku_id, 0) + quantity
    sold = status is ReservationStatus.CONSUMED
    if not sold and units:
        _stock_returned(uow, units)
    for sku_id in sorted(units):
        if not await repository.unreserve_units(
            uow.session, sku_id=sku_id, quantity=units[sku_id], sold=sold, now=now
        ):
            raise StockInvariantBroken(
                f"SKU {sku_id}: fewer units reserved than {holder}'s open reservations hold"
            )
        if sold:
            await repository.add_movement(
                uow.session,
                sku_id=sku_id,
                kind=MovementKind.SOLD,
                quantity=-units[sku_id],
                reference=holder,
                now=now,
            )
    return len(closed)


def _reservation(row: ReservationRow) -> ReservationInfo:
    return ReservationInfo(
        id=row.id,
        sku_id=row.sku_id,
        holder=row.holder,
        buyer_id=row.buyer_id,
        quantity=row.quantity,
        status=ReservationStatus(row.status),
        created_at=row.created_at,
        closed_at=row.closed_at,
        reason=row.reason,
    )


async def reservations_of(*, uow: UnitOfWork, holder: str) -> list[ReservationInfo]:
    """Every reservation of the holder, open or closed, oldest first."""
    return [_reservation(row) for row in await repository.reservations_of(uow.session, holder)]


async def audit(*, uow: UnitOfWork, sku_ids: Collection[int] | None = None) -> list[str]:
    """Violations of the stock invariants (all SKUs, or the given ones); empty when all hold."""
    figures = await repository.stock_figures(uow.session, None if sku_ids is None else set(sku_ids))
    return audit_problems(figures)


# --- the flash-sale path (see inventory.flashsale) -----------------------------------------


def _flash(uow: UnitOfWork) -> FlashSale | None:
    return uow.adapters.get(FLASH_SALE)


def _stock_returned(uow: UnitOfWork, sku_ids: Collection[int]) -> None:
    """Once committed, units of these SKUs are on sale again: lift their sold-out marks."""
    gate = _flash(uow)
    if gate is None:
        return
    returned = sorted(sku_ids)

    async def lift() -> None:
        for sku_id in returned:
            await gate.clear(sku_id)

    uow.after_commit(lift)


@asynccontextmanager
async def flash_admission(
    *,
    uow: UnitOfWork,
    items: Sequence[tuple[int, int]],
    buyer_id: int | None,
    idempotency_key: str | None = None,
) -> AsyncIterator[FlashHold | None]:
    """Around one placement of ``items`` (sku_id, quantity), before its transaction opens.

    A SKU known to be sold out raises OutOfStock at once, with no write. A single-SKU
    placement of a hot SKU (many at once in this process) is granted through the SKU's batch
    and yields its hold, which the order must adopt (:func:`adopt_hold`); else yields None
    and the order reserves as usual. A hold not adopted by the end is released; an
    OutOfStock with nothing left marks the SKU sold out for a moment.
    """
    gate = _flash(uow)
    if gate is None or not items:
        yield None
        return
    for sku_id, quantity in items:
        if await gate.is_sold_out(sku_id):
            raise OutOfStock([Shortage(sku_id, quantity, 0)])
    # Marked but let through: this placement is the one asking again after the mark lapsed.
    asking = [sku_id for sku_id, _quantity in items if gate.marks.has(sku_id)]
    single = items[0][0] if len(items) == 1 else None
    hold: FlashHold | None = None
    if single is not None:
        gate.inflight.enter(single)
    try:
        if single is not None:
            claim = FlashClaim(buyer_id, items[0][1], idempotency_key)
            if await _through_batch(uow, gate, single, claim):
                await uow.end_reads()  # no connection is held while waiting for the batch
                hold = await gate.claim(uow, single, claim)
        yield hold
    except OutOfStock as exc:
        for shortage in exc.shortages:
            if shortage.available <= 0:
                await gate.mark_sold_out(shortage.sku_id)
        raise
    else:  # it found stock: the marks it asked about are out of date (stock came back)
        for sku_id in asking:
            await gate.clear(sku_id)
    finally:
        if single is not None:
            gate.inflight.leave(single)
        if hold is not None and not hold.adopted:
            await _drop_hold(uow, hold)


async def _through_batch(uow: UnitOfWork, gate: FlashSale, sku_id: int, claim: FlashClaim) -> bool:
    """Whether the claim goes through the SKU's batch: the SKU is hot in this process, or it
    was and the claim retries a placement a batch granted a hold to (here or on a node that
    died since), which the batch hands back to it."""
    if gate.inflight.is_hot(sku_id):
        return True
    if claim.key is None or claim.buyer_id is None or not gate.has_batched(sku_id):
        return False
    return await repository.has_open_hold(uow.session, holder=claim_holder(sku_id, claim))


async def _drop_hold(uow: UnitOfWork, hold: FlashHold) -> None:
    try:
        await release(uow=uow, holder=hold.holder, reason="checkout not completed")
    except Exception:  # the stale-hold job releases it later
        log.warning("could not release %s now; the job will", hold.holder, exc_info=True)


async def adopt_hold(*, uow: UnitOfWork, hold: FlashHold, holder: str) -> None:
    """Make the flash hold the reservation of ``holder`` (the order), in the caller's
    transaction; Conflict when the hold is gone (it expired and was released)."""
    check_label(holder, field="holder", max_length=HOLDER_MAX_LENGTH)
    async with uow.atomic():
        if not await repository.adopt_reservation(
            uow.session,
            reservation_id=hold.reservation_id,
            holder=hold.holder,
            new_holder=holder,
            now=uow.now(),
        ):
            raise Conflict("the units held for you ran out of time; please try again")

        async def adopted() -> None:
            hold.adopted = True

        uow.after_commit(adopted)


async def release_stale_holds(
    *, uow: UnitOfWork, older_than: timedelta | None = None, limit: int = 500
) -> int:
    """Release flash holds whose order never came: those whose process lease expired (the
    node died between the batch and the order), and, as the last line of defence, those
    older than the hold time; how many holders were released."""
    gate = _flash(uow)
    ttl = older_than if older_than is not None else DEFAULT_HOLD_TTL
    if older_than is None and gate is not None:
        ttl = gate.hold_ttl
    expired = await repository.expired_lease_holders(
        uow.session, prefix=HOLD_PREFIX, now=uow.now(), limit=limit
    )
    stale = await repository.stale_holders(
        uow.session, prefix=HOLD_PREFIX, before=uow.now() - ttl, limit=limit
    )
    released = 0
    for holder in expired:
        # Only while the lease is still expired: a retry of its placement may have taken the
        # hold over since (see inventory.flashsale.grant_batch).
        async with uow.atomic():
            closed = await _close(
                uow, holder, ReservationStatus.RELEASED, "flash lease expired", lease_expired=True
            )
        released += bool(closed)
    for holder in dict.fromkeys(stale):
        if holder not in expired:
            released += bool(await release(uow=uow, holder=holder, reason="flash hold expired"))
    return released
