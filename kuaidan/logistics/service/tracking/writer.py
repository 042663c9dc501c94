"""Group commit for accepted pushes: the pushes that arrive while one INSERT is in flight are
stored together by the next, one multi-row ``INSERT … ON CONFLICT DO NOTHING`` committed on
its own. Each carrier call is answered only once its push is committed; an idle process stores
a push at once (no timer), a busy one stores many per round trip.

One writer per event loop and database (``serve --workers N`` has one per worker process).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kuaidan.core.db import Database
from kuaidan.logistics.repository import inbox as inbox_repo

MAX_GROUP = 500

_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, PushWriter]] = (
    weakref.WeakKeyDictionary()
)


def writer_for(db: Database) -> PushWriter:
    per_loop = _writers.setdefault(asyncio.get_running_loop(), {})
    writer = per_loop.get(id(db))
    if writer is None or writer.db is not db:
        writer = per_loop[id(db)] = PushWriter(db)
    return writer


class PushWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def store(self, values: dict[str, Any]) -> bool:
        """Store one push; True when this call stored it, False when it was stored before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((values, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="kuaidan-push-writer")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                async with self._connection() as connection:
                    stored = await inbox_repo.insert_pushes(connection, [v for v, _ in group])
            except Exception as exc:  # every caller of the group hears of it
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), first in zip(group, _firsts(group, stored), strict=True):
                if not future.done():
                    future.set_result(first)

    @asynccontextmanager
    async def _connection(self) -> Any:
        """PostgreSQL: an autocommitted statement (no BEGIN/COMMIT round trips). SQLite: a
        write transaction of its own (``BEGIN IMMEDIATE``)."""
        if self.db.is_sqlite:
            async with self.db.engine.connect() as connection:
                immediate = await connection.execution_options(sqlite_begin="IMMEDIATE")
                async with immediate.begin():
                    yield immediate
        else:
            async with self.db.engine.connect() as connection:
                autocommit: AsyncConnection = await connection.execution_options(
                    isolation_level="AUTOCOMMIT"
                )
                yield autocommit


def _firsts(group: list[tuple[dict[str, Any], Any]], stored: set[str]) -> Iterator[bool]:
    """True for the first of a group's pushes with a content hash the INSERT stored."""
    seen: set[str] = set()
    for values, _ in group:
        key = values["content_hash"]
        yield key in stored and key not in seen
        seen.add(key)
