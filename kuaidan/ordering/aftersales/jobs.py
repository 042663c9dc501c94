"""After-sales' scheduled work: escalate or close the cases whose timer ran out. The job keeps
the name it had in the ordering core."""

from __future__ import annotations

import logging
from datetime import timedelta

from kuaidan.core.db import UnitOfWork
from kuaidan.core.worker import Job, Registry
from kuaidan.ordering.aftersales import service as aftersales

log = logging.getLogger(__name__)


async def after_sales_timers(uow: UnitOfWork) -> None:
    done = await aftersales.run_timers(uow=uow)
    if done:
        log.info("escalated or closed %s after-sales cases", done)


REGISTRY = Registry(
    jobs=[Job("ordering.after_sales_timers", timedelta(minutes=5), after_sales_timers)]
)
