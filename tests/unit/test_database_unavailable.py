"""Which failures mean "the database cannot be reached for now" (503, retry) and which are
bugs or refusals of the request (not 503)."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kuaidan.core.db import database_unavailable


def _wrapped(orig: Exception, *, invalidated: bool = False) -> Exception:
    return DBAPIError.instance("SELECT 1", {}, orig, Exception, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "reset by peer"),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        PoolTimeout("QueuePool limit of size 10 overflow 10 reached"),
        OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")),
    ],
)
def test_an_outage_is_unavailable(error: Exception) -> None:
    assert database_unavailable(error)


def test_a_statement_that_met_a_dropped_connection_is_unavailable() -> None:
    assert database_unavailable(_wrapped(Exception("boom"), invalidated=True))


def test_the_cause_is_followed_through_wrapping_errors() -> None:
    try:
        try:
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        except Exception as exc:
            raise RuntimeError("while placing the order") from exc
    except RuntimeError as outer:
        assert database_unavailable(outer)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        IntegrityError("INSERT", {}, Exception("duplicate key value")),
        OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: orders")),
        asyncpg.exceptions.InterfaceError("another operation is in progress"),
        FileNotFoundError(2, "media file"),
    ],
)
def test_a_bug_or_a_refusal_is_not_unavailable(error: Exception) -> None:
    assert not database_unavailable(error)
