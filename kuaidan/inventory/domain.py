"""Stock arithmetic, reservation rules and the value types shared with other areas. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kuaidan.core.errors import Conflict, InvalidInput

HOLDER_MAX_LENGTH = 64
REASON_MAX_LENGTH = 200


@dataclass(frozen=True, slots=True)
class StockLevel:
    """Stock of one SKU: ``on_hand`` units in the warehouse, ``reserved`` by open orders."""

    sku_id: int
    on_hand: int
    reserved: int
    per_buyer_limit: int | None = None

    @property
    def available(self) -> int:
        """What buyers can still order: on_hand − reserved (never negative)."""
        return self.on_hand - self.reserved

    @property
    def in_stock(self) -> bool:
        return self.available > 0


class ReservationStatus(StrEnum):
    """An open reservation holds units; it ends released (back to stock) or consumed (sold)."""

    OPEN = "open"
    RELEASED = "released"
    CONSUMED = "consumed"


class MovementKind(StrEnum):
    """Kinds of ledger entries; their signed quantities add up to ``on_hand``."""

    INITIAL = "initial"
    RESTOCK = "restock"
    ADJUST = "adjust"
    SOLD = "sold"


@dataclass(frozen=True, slots=True)
class ReservationInfo:
    """One SKU's units held for a holder (e.g. ``order:123``)."""

    id: int
    sku_id: int
    holder: str
    buyer_id: int | None
    quantity: int
    status: ReservationStatus
    created_at: datetime
    closed_at: datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Shortage:
    """A SKU that cannot cover a reservation: ``requested`` units, only ``available`` left."""

    sku_id: int
    requested: int
    available: int


class OutOfStock(Conflict):
    """Some SKUs of a reservation are short; nothing of it was reserved."""

    code = "out_of_stock"

    def __init__(self, shortages: Iterable[Shortage]) -> None:
        self.shortages = sorted(shortages, key=lambda s: s.sku_id)
        listed = ", ".join(
            f"SKU {s.sku_id} ({s.requested} wanted, {s.available} left)" for s in self.shortages
        )
        super().__init__(
            f"not enough stock: {listed}",
            details={
                "skus": [
                    {"sku_id": s.sku_id, "requested": s.requested, "available": s.available}
                    for s in self.shortages
                ]
            },
        )


class PurchaseLimitExceeded(Conflict):
    """The buyer would hold more of a SKU than its per-buyer limit allows."""

    code = "purchase_limit"

    def __init__(self, *, sku_id: int, limit: int, already: int, requested: int) -> None:
        super().__init__(
            f"SKU {sku_id} is limited to {limit} per buyer; you already have {already}",
            details={"sku_id": sku_id, "limit": limit, "already": already, "requested": requested},
        )


class StockInvariantBroken(RuntimeError):
    """The stored stock disagrees with its reservations: a bug or a manual edit, never a user."""


def check_quantity(value: int, *, field: str = "on_hand") -> int:
    """A stock quantity: a non-negative whole number."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{field} must be a whole number ≥ 0", details={field: value})
    return value


def check_positive(value: int, *, field: str) -> int:
    """A whole number ≥ 1 (units to reserve or restock, a purchase limit)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(f"{field} must be a whole number ≥ 1", details={field: value})
    return value


def check_label(value: str, *, field: str, max_length: int) -> str:
    """A non-empty one-line label such as a holder (``order:123``) or a reason."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidInput(f"{field} must be 1–{max_length} characters", details={field: value})
    return value


def reservation_lines(items: Mapping[int, int]) -> list[tuple[int, int]]:
    """Validated (sku_id, quantity) pairs in ascending sku_id order: the order rows are locked in.

    Locking every transaction's rows in the same order is what keeps concurrent multi-SKU
    reservations from deadlocking.
    """
    if not items:
        raise InvalidInput("nothing to reserve")
    for sku_id in items:
        if not isinstance(sku_id, int) or isinstance(sku_id, bool):
            raise InvalidInput("SKU ids must be whole numbers", details={"sku_id": sku_id})
    return [(sku_id, check_positive(items[sku_id], field="quantity")) for sku_id in sorted(items)]


def within_purchase_limit(*, limit: int | None, already: int, requested: int) -> bool:
    """Whether a buyer holding ``already`` units (open or bought) may reserve ``requested`` more."""
    return limit is None or already + requested <= limit


def check_purchase_limit(*, sku_id: int, limit: int | None, already: int, requested: int) -> None:
    """Raise PurchaseLimitExceeded unless the buyer stays within the SKU's per-buyer limit."""
    if not within_purchase_limit(limit=limit, already=already, requested=requested):
        assert limit is not None
        raise PurchaseLimitExceeded(
            sku_id=sku_id, limit=limit, already=already, requested=requested
        )


@dataclass(frozen=True, slots=True)
class StockFigures:
    """What an audit compares for one SKU: the row, its open reservations and its ledger."""

    sku_id: int
    on_hand: int
    reserved: int
    open_reserved: int
    ledger_on_hand: int


def audit_problems(figures: Iterable[StockFigures]) -> list[str]:
    """Human-readable violations of the stock invariants; empty when all hold.

    For every SKU: reserved = the units of its open reservations, 0 ≤ reserved ≤ on_hand,
    and on_hand = the sum of its ledger movements.
    """
    problems: list[str] = []
    for f in figures:
        if f.reserved != f.open_reserved:
            problems.append(
                f"SKU {f.sku_id}: reserved is {f.reserved} but open reservations hold "
                f"{f.open_reserved}"
            )
        if f.reserved < 0:
            problems.append(f"SKU {f.sku_id}: reserved is negative ({f.reserved})")
        if f.reserved > f.on_hand:
            problems.append(
                f"SKU {f.sku_id}: available is negative (on_hand {f.on_hand}, "
                f"reserved {f.reserved})"
            )
        if f.on_hand != f.ledger_on_hand:
            problems.append(
                f"SKU {f.sku_id}: on_hand is {f.on_hand} but the ledger adds up to "
                f"{f.ledger_on_hand}"
            )
    return problems


# --- flash sales: several buyers' claims on one hot SKU, granted in one go -----------------


@dataclass(frozen=True, slots=True)
class FlashClaim:
    """One buyer's wish for ``quantity`` units of a hot SKU, queued for the next batch.
    ``key`` is the placement's Idempotency-Key: every retry of that placement claims the same
    hold, so a retry finds the hold a dead node granted it."""

    buyer_id: int | None
    quantity: int
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a claim got nothing: ``sold_out`` (``available`` left) or the buyer's ``limit``."""

    reason: str
    available: int
    already: int = 0


def allocate(
    *,
    available: int,
    limit: int | None,
    held: Mapping[int, int],
    claims: Iterable[FlashClaim],
) -> list[int | Refusal]:
    """Grant claims first come, first served: units per claim, or why it got none.

    A claim is granted whole or not at all, never beyond ``available``, and never past the
    per-buyer ``limit`` counting what each buyer ``held`` before and was granted in this batch.
    """
    left = available
    taken: dict[int, int] = {}
    granted: list[int | Refusal] = []
    for claim in claims:
        already = held.get(claim.buyer_id, 0) if claim.buyer_id is not None else 0
        already += taken.get(claim.buyer_id, 0) if claim.buyer_id is not None else 0
        if not within_purchase_limit(limit=limit, already=already, requested=claim.quantity):
            granted.append(Refusal("limit", left, already))
        elif claim.quantity > left:
            granted.append(Refusal("sold_out", left))
        else:
            left -= claim.quantity
            if claim.buyer_id is not None:
                taken[claim.buyer_id] = taken.get(claim.buyer_id, 0) + claim.quantity
            granted.append(claim.quantity)
    return granted


@dataclass(slots=True)
class FlashHold:
    """Units of a hot SKU held for a buyer by a batch, under a ``flash:`` holder, until the
    buyer's order adopts them (or the hold expires and they go back on sale)."""

    reservation_id: int
    holder: str
    sku_id: int
    quantity: int
    available_after: int
    adopted: bool = False
