"""Live order pages: after a change of an order or its parcel commits, a short notice goes to
the order's broadcast channel; open tracking pages (SSE) re-read the order when it arrives."""

from __future__ import annotations

import json
import logging

from kuaidan.core.broadcast import BROADCAST, Broadcast, InProcessBroadcast
from kuaidan.core.db import UnitOfWork
from kuaidan.core.ports import Adapters

log = logging.getLogger(__name__)

_FALLBACK = InProcessBroadcast()


def broadcast_of(adapters: Adapters) -> Broadcast:
    """The process's broadcast (bound by the composition root), or a private one."""
    found = adapters.get(BROADCAST)
    return _FALLBACK if found is None else found


def channel_of(order_id: int) -> str:
    return f"order:{order_id}"


async def publish_change(uow: UnitOfWork, order_id: int, what: str) -> None:
    """Tell the order's open pages now (no transaction: the change is committed already)."""
    message = json.dumps({"order_id": order_id, "what": what})
    try:
        await broadcast_of(uow.adapters).publish(channel_of(order_id), message)
    except Exception:  # pages re-check on their own: a notice never fails a handler
        log.warning("could not broadcast a change of order %s", order_id, exc_info=True)


def announce(uow: UnitOfWork, order_id: int, what: str) -> None:
    """Inside a transaction: tell the order's open pages once it has committed."""

    async def send() -> None:
        await publish_change(uow, order_id, what)

    uow.after_commit(send)
