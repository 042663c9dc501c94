"""Live tracking of an order over server-sent events (the JSON API's route serves it; the
order page's script listens).

A stream starts with the order's tracking as it is now, then sends it again whenever it
changed: on a notice from the order's broadcast channel, and at a slow interval in any case
(a notice can be missed: with SQLite and a separate worker process, or while a node's
listening connection is being reopened). The framing, the ping comments that keep proxies
from closing the connection and the noticing of a client gone are sse-starlette's
(``EventSourceResponse``); this module says what to send. Streams are bounded: each lasts at
most a few minutes (the browser's EventSource reconnects by itself), and a process serves a
limited number at once.
Every read opens its own short unit of work, so a waiting stream holds no connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sse_starlette import ServerSentEvent

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError
from kuaidan.core.ports import Adapters
from kuaidan.core.templating import templates
from kuaidan.ordering import service
from kuaidan.ordering.readmodels import OrderView, TrackingView
from kuaidan.ordering.service import live


class TooManyStreams(DomainError):
    code = "too_many_streams"
    status = 503


@dataclass(frozen=True, slots=True)
class StreamLimits:
    recheck_s: float = 3.0
    heartbeat_s: float = 15.0
    max_s: float = 300.0
    max_streams: int = 500
    zone: str = "Asia/Shanghai"


class _Gate:
    """How many streams this process serves now."""

    def __init__(self) -> None:
        self.open = 0


GATE = _Gate()


def fragments(
    order: OrderView, tracking: TrackingView, *, zone: str, csrf_token: str, buyer: bool
) -> dict[str, Any]:
    """The pieces of the order page that change, rendered as the page renders them."""
    parts = templates.env.get_template("ordering/_tracking.html").module
    return {
        "mark": tracking.mark,
        "order_status": order.status.value,
        "shipment_status": tracking.shipment.status.value if tracking.shipment else None,
        "panel": str(parts.panel(tracking, order, zone, csrf_token, buyer)),  # type: ignore[attr-defined]
        "timeline": str(parts.live_timeline(order)),  # type: ignore[attr-defined]
        "badge": str(parts.live_badge(order)),  # type: ignore[attr-defined]
    }


def sse(event: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, ensure_ascii=False, default=str), event=event)


async def read_snapshot(
    uow: UnitOfWork, number: str, user: UserInfo, *, zone: str, csrf_token: str
) -> tuple[int, dict[str, Any]]:
    """The order's id and its live pieces; NotFound for anyone who may not see it."""
    order = await service.get_order(uow=uow, number=number, viewer=user)
    tracking = await service.get_tracking(uow=uow, number=number, viewer=user)
    buyer = user.role is Role.BUYER
    data = fragments(order, tracking, zone=zone, csrf_token=csrf_token, buyer=buyer)
    return order.summary.id, data


async def tracking_events(
    new_uow: Callable[[], UnitOfWork],
    adapters: Adapters,
    *,
    number: str,
    user: UserInfo,
    first: tuple[int, dict[str, Any]],
    limits: StreamLimits,
    csrf_token: str,
) -> AsyncIterator[ServerSentEvent]:
    """The event stream of one viewer of one order (see the module's docstring)."""
    if GATE.open >= limits.max_streams:
        raise TooManyStreams("too many live pages are open; the page still works on reload")
    order_id, data = first
    return _events(new_uow, adapters, order_id, number, user, data, limits, csrf_token)


async def _events(
    new_uow: Callable[[], UnitOfWork],
    adapters: Adapters,
    order_id: int,
    number: str,
    user: UserInfo,
    data: dict[str, Any],
    limits: StreamLimits,
    csrf_token: str,
) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    GATE.open += 1
    try:
        async with live.broadcast_of(adapters).subscribe(live.channel_of(order_id)) as inbox:
            yield ServerSentEvent(retry=int(limits.recheck_s * 1000))
            yield sse("tracking", data)
            mark, started = data["mark"], loop.time()
            while loop.time() - started < limits.max_s:
                await inbox.get(timeout_s=limits.recheck_s)
                fresh = await _mark(new_uow, number, user)
                if fresh is None:
                    yield sse("gone", {})
                    return
                if fresh != mark:
                    _, data = await _snapshot(new_uow, number, user, limits, csrf_token)
                    mark = data["mark"]
                    yield sse("tracking", data)
            yield sse("bye", {})
    finally:
        GATE.open -= 1


async def _mark(new_uow: Callable[[], UnitOfWork], number: str, user: UserInfo) -> str | None:
    uow = new_uow()
    try:
        return await service.tracking_mark(uow=uow, number=number, viewer=user)
    except DomainError:
        return None
    finally:
        await uow.close()


async def _snapshot(
    new_uow: Callable[[], UnitOfWork],
    number: str,
    user: UserInfo,
    limits: StreamLimits,
    csrf_token: str,
) -> tuple[int, dict[str, Any]]:
    uow = new_uow()
    try:
        return await read_snapshot(uow, number, user, zone=limits.zone, csrf_token=csrf_token)
    finally:
        await uow.close()
