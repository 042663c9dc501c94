"""Pooled PostgreSQL connections: a connection that died while idle is replaced before use,
without a ping on every checkout; one that PostgreSQL terminated while it sat in the pool fails
its next statement as a lost connection (answered 503), and the pool is renewed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from kuaidan.core.crypto import Cipher, Keyring
from kuaidan.core.db import Database, UnitOfWork, database_unavailable
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


@asynccontextmanager
async def _slow_to_hang_up(url: str) -> AsyncIterator[str]:
    """A TCP relay to PostgreSQL that passes everything on but tells the client the server
    hung up only a second after it did: the window in which a terminated connection has its
    goodbye (FATAL 57P01) but still looks connected."""
    target = make_url(url)

    async def relay(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, linger: float
    ) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        await asyncio.sleep(linger)
        writer.close()

    tasks: set[asyncio.Task[None]] = set()

    async def accept(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(target.host, target.port or 5432)
        tasks.add(asyncio.create_task(relay(client_r, server_w, 0.0)))
        tasks.add(asyncio.create_task(relay(server_r, client_w, 1.0)))

    relay_server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = relay_server.sockets[0].getsockname()[1]
    try:
        yield target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        relay_server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_connection_terminated_in_the_pool_fails_as_unavailable_and_renews_the_pool() -> (
    None
):
    async with _slow_to_hang_up(_url()) as relayed:
        db = Database(relayed, pool_size=1, idle_ping_after_s=3600.0)
        admin = Database(_url(), pool_size=1)
        try:
            first = await _backend_pid(db)
            await _terminate(admin, first)
            await asyncio.sleep(0.2)  # the goodbye has arrived; the hang-up has not
            # asyncpg, idle, cannot take the unsolicited error: its next statement reports
            # "another operation (2) is in progress". That is a lost connection, not a bug.
            with pytest.raises(DBAPIError) as failure:
                await _backend_pid(db)
            assert "another operation" in str(failure.value)
            assert failure.value.connection_invalidated
            assert database_unavailable(failure.value)
            assert await _backend_pid(db) != first
        finally:
            await db.dispose()
            await admin.dispose()


async def test_a_unit_of_work_whose_connection_was_dropped_closes_quietly() -> None:
    """A request's transaction when PostgreSQL restarts under it: giving the connection back
    cannot roll it back. That used to raise from the request's teardown, after its answer had
    been sent, and the server dropped the client's kept-alive connection."""
    db = Database(_url(), pool_size=1, idle_ping_after_s=3600.0)
    admin = Database(_url(), pool_size=1)
    try:
        keyring = Keyring(keys={"k1": bytes(32)}, active_id="k1", index_key=bytes(32))
        uow = UnitOfWork(db, cipher=Cipher(keyring))
        pid = int((await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        await _terminate(admin, pid)
        await asyncio.sleep(0.3)
        await uow.close()
        assert await _backend_pid(db) != pid  # the dropped connection was thrown away
    finally:
        await db.dispose()
        await admin.dispose()
