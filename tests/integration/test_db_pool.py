"""Pooled PostgreSQL connections: a connection that died while idle is replaced before use,
without a ping on every checkout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kuaidan.core.db import Database
from tests.conftest import PG_URL_ENV, postgres_url

pytestmark = pytest.mark.postgres


def _url() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests need {PG_URL_ENV}")
    return url


async def _backend_pid(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(db: Database, pid: int) -> None:
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await conn.commit()


@asynccontextmanager
async def _killed_in_the_pool(*, idle_ping_after_s: float) -> AsyncIterator[tuple[Database, int]]:
    """A one-connection pool whose connection (backend pid given) was killed after use."""
    db = Database(_url(), pool_size=1, idle_ping_after_s=idle_ping_after_s)
    admin = Database(_url(), pool_size=1)
    try:
        first = await _backend_pid(db)
        await _terminate(admin, first)
        yield db, first
    finally:
        await db.dispose()
        await admin.dispose()


async def test_a_connection_killed_while_idle_is_replaced_before_use() -> None:
    async with _killed_in_the_pool(idle_ping_after_s=0.0) as (db, first):
        # The pooled connection is dead; checkout pings it, finds out and connects anew.
        assert await _backend_pid(db) != first


async def test_a_recently_used_connection_is_not_pinged_and_a_failure_renews_the_pool() -> None:
    async with _killed_in_the_pool(idle_ping_after_s=3600.0) as (db, first):
        # Used a moment ago: handed out without a ping, so the statement meets the dead socket.
        with pytest.raises(DBAPIError):
            await _backend_pid(db)
        # That failure invalidated the pool: the next checkout connects anew.
        assert await _backend_pid(db) != first
