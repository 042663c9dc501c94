"""Reading after-sales cases: an order's, one, and the queues of a shop, the platform and a
buyer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Forbidden
from kuaidan.ordering.aftersales import repository
from kuaidan.ordering.aftersales.domain import (
    FOR_PLATFORM,
    OPEN,
    CaseStatus,
    CaseView,
)
from kuaidan.ordering.aftersales.service._case import (
    _view,
    _visible_case,
)
from kuaidan.ordering.service import order_rows

if TYPE_CHECKING:
    pass


async def list_cases(*, uow: UnitOfWork, number: str, viewer: UserInfo) -> list[CaseView]:
    """The order's cases, newest first, for whoever may see the order."""
    row = await order_rows.visible_order(uow, number, viewer)
    cases = await repository.after_sales_of(uow.session, row.id)
    steps = await repository.after_sales_steps(uow.session, [c.id for c in cases])
    return [await _view(uow, row, case, steps[case.id]) for case in reversed(cases)]


async def get_case(*, uow: UnitOfWork, number: str, case_id: int, viewer: UserInfo) -> CaseView:
    row, case = await _visible_case(uow, number, case_id, viewer)
    return await _view(uow, row, case)


async def queue(*, uow: UnitOfWork, by: UserInfo, open_only: bool = True) -> list[CaseView]:
    """Cases to look at: a shop's own, the platform's (escalated and disputed), a buyer's."""
    statuses: frozenset[CaseStatus] | None = OPEN if open_only else None
    match by.role:
        case Role.MERCHANT if by.merchant_id is not None:
            rows = await repository.list_after_sales(
                uow.session, merchant_id=by.merchant_id, statuses=_values(statuses)
            )
        case Role.AGENT | Role.ADMIN:
            rows = await repository.list_after_sales(
                uow.session, statuses=_values(FOR_PLATFORM if open_only else None)
            )
        case Role.BUYER:
            rows = await repository.list_after_sales(
                uow.session, buyer_id=by.id, statuses=_values(statuses)
            )
        case _:
            raise Forbidden("no after-sales queue for this account")
    steps = await repository.after_sales_steps(uow.session, [c.id for c in rows])
    orders = await order_rows.orders_by_id(uow, [c.order_id for c in rows])
    return [await _view(uow, orders[case.order_id], case, steps[case.id]) for case in rows]


def _values(statuses: frozenset[CaseStatus] | None) -> list[str] | None:
    return None if statuses is None else sorted(s.value for s in statuses)
