"""Database engine, declarative base, column types and the unit of work.

The use case owns the transaction: ``async with uow.atomic():`` is re-entrant, so a service
that calls another area's service shares one transaction, and only the outermost block
commits. Repositories, helpers and routes never commit.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from kuaidan.core.clock import Clock, SystemClock
from kuaidan.core.crypto import Cipher
from kuaidan.core.ports import NO_ADAPTERS, Adapters

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

log = logging.getLogger(__name__)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 (SQLAlchemy's API)


async def insert_new(session: AsyncSession, statement: Any, row: Base) -> int:
    """Write a new mapped object with ``statement`` (an INSERT of its table RETURNING the id,
    built once by the caller) instead of adding it to the session and flushing, and give it
    its id. The object stays out of the session: it is for reading, and later changes go
    through statements of their own, never through it."""
    given = vars(row)
    table = row.__table__
    values = {column.key: given[column.key] for column in table.columns if column.key in given}
    row_id = int((await session.execute(statement, values)).scalar_one())
    row.id = row_id  # type: ignore[attr-defined]
    return row_id


# PostgreSQL's answers while it shuts down, restarts or is full; class 08 is any lost link.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_UNAVAILABLE_WORDS = (
    "the database system is",
    "cannot connect now",
    "connection is closed",
    "connection was closed",
    "database is locked",
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means the database cannot be reached for now: a
    refused or lost connection, a server shutting down or starting up, an exhausted pool, a
    locked SQLite file. Such a failure says nothing about the request, so it is answered 503
    for the client to retry, not 500."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(
            error,
            DisconnectionError | PoolTimeout | ConnectionError | TimeoutError | socket.gaierror,
        ):
            return True
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and (
            sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
        ):
            return True
        if type(error).__module__.startswith(("asyncpg", "sqlalchemy", "sqlite3")):
            text = str(error).lower()
            if any(words in text for words in _UNAVAILABLE_WORDS):
                return True
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        for linked in (error.__cause__, getattr(error, "orig", None)):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return False


# A pooled connection unused for this long is pinged before it is handed out again.
IDLE_PING_AFTER_S = 5.0


class Database:
    """One engine and session factory per process, for SQLite or PostgreSQL."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        idle_ping_after_s: float = IDLE_PING_AFTER_S,
    ) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine, after_s=idle_ping_after_s)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _ping_when_idle(engine: AsyncEngine, *, after_s: float) -> None:
    """Ping a pooled connection on checkout only when it has been idle for ``after_s``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, and asyncpg's ping is three round
    trips (BEGIN, an empty statement, ROLLBACK): under load, about a twentieth of the server's
    CPU for connections used milliseconds ago. A connection that went bad while idle (a
    restart, a failover, a dropped socket) is still found out and replaced before use; one that
    breaks within the last seconds fails its statement, which invalidates the whole pool, and
    that request is answered 500 for its client to retry (placements are idempotent).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < after_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the pooled connection is gone") from exc
        if not alive:
            raise DisconnectionError("the pooled connection did not answer")


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and explicit BEGIN so writers take the lock first.

    pysqlite's own transaction handling is switched off (isolation_level=None) and we emit
    BEGIN ourselves: a write transaction starts with ``BEGIN IMMEDIATE`` so two writers queue
    on the busy timeout instead of failing when a read lock cannot be upgraded.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


AfterCommit = Callable[[], Awaitable[None]]


class TransactionAborted(RuntimeError):
    """An inner atomic block failed; the outer block must not commit half of the work."""


class UnitOfWork:
    """A session plus what a use case needs around it: the cipher, the clock, after-commit hooks.

    One per request (or job run). ``atomic()`` opens the transaction; re-entering joins it.
    """

    def __init__(
        self,
        db: Database,
        *,
        cipher: Cipher,
        clock: Clock | None = None,
        outbox_signal: Callable[[], None] | None = None,
        adapters: Adapters | None = None,
    ) -> None:
        self.db = db
        # Outside parties (payment provider, carriers) bound to ports by the composition root.
        self.adapters: Adapters = NO_ADAPTERS if adapters is None else adapters
        self._outbox_signal = outbox_signal
        self.session: AsyncSession = db.sessionmaker()
        self.cipher = cipher
        self.clock: Clock = clock or SystemClock()
        self._depth = 0
        self._failed = False
        self._after_commit: list[AfterCommit] = []

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def in_atomic(self) -> bool:
        return self._depth > 0

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` once the outermost transaction has committed (never on rollback)."""
        if callback not in self._after_commit:
            self._after_commit.append(callback)

    async def notify_outbox(self) -> None:
        """Wake the local worker: new events were committed."""
        if self._outbox_signal is not None:
            self._outbox_signal()

    async def end_reads(self) -> None:
        """End a read-only transaction opened by earlier reads, giving its connection back to
        the pool (before waiting on something slow). Inside ``atomic()`` it does nothing."""
        if not self._depth and self.session.in_transaction():
            await self.session.commit()

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[UnitOfWork]:
        if self._depth:
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._failed = True
                raise
            finally:
                self._depth -= 1
            return
        if self.session.in_transaction():
            # End a read-only transaction opened by earlier reads; the write starts fresh.
            await self.session.commit()
        if self.db.is_sqlite:
            await self.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        self._depth, self._failed = 1, False
        try:
            yield self
            if self._failed:
                raise TransactionAborted("an inner unit of work failed; nothing was committed")
            await self.session.commit()
        except BaseException:
            self._after_commit.clear()
            await self.session.rollback()
            raise
        finally:
            self._depth = 0
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            await callback()

    async def close(self) -> None:
        """Give the connection back. One the database dropped meanwhile (a restart) cannot
        even be rolled back: it is thrown away instead, and nothing fails for it, since the
        request's answer was decided already."""
        try:
            await self.session.close()
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("a connection lost while being given back was thrown away: %r", exc)
            await self.session.invalidate()
