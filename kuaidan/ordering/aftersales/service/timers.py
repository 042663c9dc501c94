"""After-sales timers: requests the shop left unanswered are escalated, undisputed rejections
and returns never sent are closed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict
from kuaidan.ordering.aftersales import repository
from kuaidan.ordering.aftersales.domain import Actor as CaseActor
from kuaidan.ordering.aftersales.domain import (
    CaseStatus,
    CaseStep,
)
from kuaidan.ordering.aftersales.service._case import (
    _advance,
)
from kuaidan.ordering.service import order_rows

if TYPE_CHECKING:
    pass

_TIMERS: Mapping[CaseStatus, tuple[CaseStep, str]] = {
    CaseStatus.REQUESTED: (CaseStep.ESCALATE, "the shop did not answer in time"),
    CaseStatus.REJECTED: (CaseStep.EXPIRE, "the rejection was not disputed in time"),
    CaseStatus.AWAITING_RETURN: (CaseStep.EXPIRE, "the goods were not sent back in time"),
}


async def run_timers(*, uow: UnitOfWork, limit: int = 100, now: datetime | None = None) -> int:
    """Escalate unanswered requests, close undisputed rejections and returns never sent; each
    case in its own transaction, skipped if someone acted on it meanwhile. ``now`` defaults to
    the clock's (tests look ahead)."""
    now = now or uow.now()
    ids = await repository.due_after_sales(
        uow.session, statuses=[s.value for s in _TIMERS], now=now, limit=limit
    )
    await uow.end_reads()
    done = 0
    for case_id in ids:
        async with uow.atomic():
            case = await repository.get_after_sales(uow.session, case_id)
            if case is None or case.due_at is None or case.due_at > now:
                continue
            timer = _TIMERS.get(CaseStatus(case.status))
            row = await order_rows.lock_order(uow, case.order_id)
            if timer is None or row is None:
                continue
            what, note = timer
            try:
                await _advance(
                    uow, row, case, what, CaseActor.SYSTEM, None, note=note,
                    values={"due_at": None},
                )  # fmt: skip
            except Conflict:
                continue
            done += 1
    return done
