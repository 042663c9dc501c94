"""What the after-sales pages show beside the cases: per order line, how many units may still
be claimed and the other colours/sizes of its product an exchange could give (with what is
left of each, and why one cannot be chosen); whether anything can be asked for now; and the
carriers a buyer may name for a parcel they sent themselves. Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from kuaidan.accounts.domain import UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, NotFound
from kuaidan.logistics import service as logistics
from kuaidan.logistics.domain.carriers import CarrierStatus
from kuaidan.ordering.aftersales import repository
from kuaidan.ordering.aftersales.domain import check_order, claimed_units
from kuaidan.ordering.service import order_rows
from kuaidan.ordering.service.order_rows import OrderLine


@dataclass(frozen=True, slots=True)
class ExchangeOption:
    sku_id: int
    label: str
    price_fen: int
    available: int
    why_not: str | None  # None: it can be chosen

    @property
    def choosable(self) -> bool:
        return self.why_not is None


@dataclass(frozen=True, slots=True)
class ClaimableLine:
    sku_id: int  # names the line: a SKU is on an order once
    title: str
    sku_label: str
    quantity: int
    unit_price_fen: int
    free: int  # units not in another case
    options: tuple[ExchangeOption, ...]


@dataclass(frozen=True, slots=True)
class CarrierChoice:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class AskPanel:
    blocked: str | None  # why nothing can be asked for on this order now (None: it can)
    lines: tuple[ClaimableLine, ...]
    carriers: tuple[CarrierChoice, ...]

    @property
    def can_ask(self) -> bool:
        return self.blocked is None and any(line.free for line in self.lines)


async def _options(uow: UnitOfWork, line: OrderLine) -> tuple[ExchangeOption, ...]:
    """The product's other colours/sizes on sale; a dearer one or one sold out is shown but
    cannot be chosen (an exchange never costs more than what was paid)."""
    try:
        product = await catalog.get_product(uow=uow, product_id=line.product_id)
    except NotFound:
        return ()
    found = []
    for sku in product.skus:
        if sku.id == line.sku_id or not sku.is_active:
            continue
        why_not = None
        if sku.available < 1:
            why_not = "缺货 Out of stock"
        elif sku.price_fen > line.unit_price_fen:
            why_not = "价格更高 Costs more than you paid"
        found.append(ExchangeOption(sku.id, sku.label, sku.price_fen, sku.available, why_not))
    return tuple(found)


async def ask_panel(*, uow: UnitOfWork, number: str, by: UserInfo) -> AskPanel:
    """What the buyer (or an agent for them) may ask for on the order now."""
    row = await order_rows.visible_order(uow, number, by)
    try:
        check_order(row.status, delivered_at=row.delivered_at or row.completed_at)
        blocked = None
    except DomainError as exc:
        blocked = exc.message
    if blocked is not None:
        return AskPanel(blocked, (), ())
    cases = await repository.after_sales_of(uow.session, row.id)
    claimed = claimed_units((case.status, case.items) for case in cases)
    lines = (await order_rows.lines_of(uow, [row.id])).get(row.id, [])
    claimable = []
    for line in lines:
        claimable.append(
            ClaimableLine(
                sku_id=line.sku_id, title=line.title,
                sku_label=line.sku_label, quantity=line.quantity,
                unit_price_fen=line.unit_price_fen,
                free=max(0, line.quantity - claimed.get(line.sku_id, 0)),
                options=await _options(uow, line),
            )
        )  # fmt: skip
    carriers = tuple(
        CarrierChoice(c.code, c.name)
        for c in await logistics.list_carriers(uow=uow)
        if c.status is not CarrierStatus.SUSPENDED
    )
    return AskPanel(None, tuple(claimable), carriers)
