"""Broadcast: fire-and-forget messages to whoever listens on a channel now (live pages).

Not a queue: a message reaches the subscribers that exist when it is published and nobody
else, so a reader must be able to catch up by reading the database (tracking pages re-check
at a slow interval). Two backends behind one interface, :class:`Broadcast`:

- :class:`InProcessBroadcast` (the default): subscribers in this process only.
- :class:`PostgresBroadcast`: PostgreSQL ``LISTEN/NOTIFY`` on one database channel, so a
  change made on any node (or in a separate ``kuaidan worker``) reaches pages served by every
  node. Each process holds one listening connection, opened on the first subscription and
  opened again if it is lost.

Another backend (Redis pub/sub) would implement the same three methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import make_url

from kuaidan.core.ports import Port

log = logging.getLogger(__name__)

# Messages waiting per subscriber; a slow reader loses the oldest (it re-reads the database).
QUEUE_LIMIT = 64
MAX_MESSAGE_BYTES = 4000  # PostgreSQL's NOTIFY payload limit is 8000 bytes
PG_CHANNEL = "kuaidan_broadcast"


class Subscription:
    """Messages of one channel for one subscriber, newest kept when it falls behind."""

    def __init__(self, channel: str, limit: int = QUEUE_LIMIT) -> None:
        self.channel = channel
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=limit)

    def put(self, message: str) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(message)

    async def get(self, timeout_s: float) -> str | None:
        """The next message, or None when ``timeout_s`` passes without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout=timeout_s)
        except TimeoutError:
            return None


@runtime_checkable
class Broadcast(Protocol):
    async def publish(self, channel: str, message: str) -> None:
        """Send ``message`` to the channel's current subscribers (on every node)."""
        ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Listen on ``channel`` for as long as the context is open."""
        ...

    async def aclose(self) -> None: ...


# The process's broadcast, bound by the composition root.
BROADCAST = Port("broadcast", Broadcast)


class InProcessBroadcast:
    """Subscribers in this process; publishing is a loop over their queues."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    @property
    def subscriber_count(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    def deliver(self, channel: str, message: str) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.put(message)

    async def publish(self, channel: str, message: str) -> None:
        self.deliver(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel)
        self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(subscription)
                if not subs:
                    del self._subscribers[channel]

    async def aclose(self) -> None:
        self._subscribers.clear()


class PostgresBroadcast:
    """LISTEN/NOTIFY across nodes; local subscribers are served like the in-process ones."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._local = InProcessBroadcast()
        self._listener: Any = None
        self._publisher: Any = None
        self._lock = asyncio.Lock()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            self._local.deliver(str(data["c"]), str(data["m"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed broadcast payload")

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self._dsn, timeout=10)

    async def _ensure_listener(self) -> None:
        async with self._lock:
            if self._listener is not None and not self._listener.is_closed():
                return
            conn = await self._connect()
            await conn.add_listener(PG_CHANNEL, self._on_notify)
            self._listener = conn

    async def publish(self, channel: str, message: str) -> None:
        payload = json.dumps({"c": channel, "m": message}, ensure_ascii=False)
        if len(payload.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError("a broadcast message is a short notice, not a document")
        async with self._lock:
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await self._connect()
            await self._publisher.execute("SELECT pg_notify($1, $2)", PG_CHANNEL, payload)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        try:
            await self._ensure_listener()
        except Exception as exc:  # pages re-read the database instead
            log.warning("broadcast listener unavailable (%s); pages fall back to re-reading", exc)
        async with self._local.subscribe(channel) as subscription:
            yield subscription

    async def aclose(self) -> None:
        async with self._lock:
            for conn in (self._listener, self._publisher):
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=5)
            self._listener = self._publisher = None
        await self._local.aclose()


def build_broadcast(database_url: str) -> Broadcast:
    """PostgreSQL's LISTEN/NOTIFY when the database is PostgreSQL, else in-process."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresBroadcast(database_url)
    return InProcessBroadcast()
