"""What the change pages show beside the order: its changes, whether packing started, whether
a change may be asked for now (and why not), the buyer's address book and, per line, the other
colours/sizes of its product with what is left of each."""

from __future__ import annotations

from dataclasses import dataclass

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import AddressInfo, Role, UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, NotFound
from kuaidan.ordering.changes.domain import (
    MAX_ADDRESS_CHANGES,
    ChangeInfo,
    ChangeKind,
    check_changeable,
)
from kuaidan.ordering.changes.service.requests import list_changes, order_facts
from kuaidan.ordering.service import order_rows


@dataclass(frozen=True, slots=True)
class SwapOption:
    sku_id: int
    label: str
    price_fen: int
    available: int


@dataclass(frozen=True, slots=True)
class ChangePanel:
    changes: list[ChangeInfo]
    packing_started: bool
    blocked: str | None  # why no change can be asked for now (None: it can)
    address_changes_left: int
    addresses: list[AddressInfo]
    swaps: dict[int, list[SwapOption]]  # by the line's SKU: the other colours/sizes

    @property
    def pending(self) -> list[ChangeInfo]:
        return [c for c in self.changes if c.status.value == "pending_approval"]


async def change_panel(*, uow: UnitOfWork, number: str, by: UserInfo) -> ChangePanel:
    """The order's changes and, for its buyer or an agent, what they may change now."""
    row = await order_rows.visible_order(uow, number, by)
    facts = await order_facts(uow, row)
    try:
        check_changeable(facts, ChangeKind.SWAP)
        blocked = None
    except DomainError as exc:
        blocked = exc.message
    asker = by.role in (Role.BUYER, Role.AGENT)
    addresses: list[AddressInfo] = []
    swaps: dict[int, list[SwapOption]] = {}
    if asker and blocked is None:
        addresses = await accounts.list_addresses(uow=uow, user_id=row.buyer_id)
        lines = (await order_rows.lines_of(uow, [row.id]))[row.id]
        taken = {x.sku_id for x in lines}
        for line in lines:
            try:
                product = await catalog.get_product(uow=uow, product_id=line.product_id)
            except NotFound:
                continue  # no longer listed: only its quantity may change
            swaps[line.sku_id] = [
                SwapOption(s.id, s.label, s.price_fen, s.available)
                for s in product.skus
                if s.id not in taken and s.is_active
            ]
    return ChangePanel(
        changes=await list_changes(uow=uow, number=number, by=by),
        packing_started=row.packing_started_at is not None,
        blocked=blocked,
        address_changes_left=max(0, MAX_ADDRESS_CHANGES - facts.address_changes),
        addresses=addresses,
        swaps=swaps,
    )
