"""The gateway's state: trades, refunds and notification attempts in a small SQLite file
(``alipaygw.db`` in its own directory), so trades outlive a restart.

Amounts are integer fen and times ISO-8601 UTC text. Every status change is one conditional
UPDATE, so paying twice, or paying a closed trade, cannot happen whatever the interleaving.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kuaidan.simulators._sqlite import SqliteStore

WAIT, SUCCESS, CLOSED = "WAIT_BUYER_PAY", "TRADE_SUCCESS", "TRADE_CLOSED"

SCHEMA = """
CREATE TABLE IF NOT EXISTS trades (
    app_id TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    trade_no TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    total_fen INTEGER NOT NULL,
    status TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    return_url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    gmt_payment TEXT,
    refunded_fen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, out_trade_no)
);
CREATE TABLE IF NOT EXISTS refunds (
    app_id TEXT NOT NULL,
    out_request_no TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    -- As at Alipay, a refund request number is unique within its trade.
    PRIMARY KEY (app_id, out_trade_no, out_request_no)
);
CREATE TABLE IF NOT EXISTS notifications (
    notify_id TEXT PRIMARY KEY,
    out_trade_no TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    last_result TEXT
);
"""


@dataclass(frozen=True, slots=True)
class Trade:
    app_id: str
    out_trade_no: str
    trade_no: str
    token: str
    subject: str
    total_fen: int
    status: str
    notify_url: str
    return_url: str
    created_at: str
    expires_at: str
    gmt_payment: str | None
    refunded_fen: int


@dataclass(frozen=True, slots=True)
class NewTrade:
    app_id: str
    out_trade_no: str
    trade_no: str
    token: str
    subject: str
    total_fen: int
    notify_url: str
    return_url: str
    created_at: datetime
    expires_at: datetime


class Store(SqliteStore):
    """Thread-safe access to the gateway's SQLite file (each call is short and local)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)

    def _trade(self, conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> Trade | None:
        row = conn.execute(f"SELECT * FROM trades WHERE {where}", args).fetchone()  # noqa: S608
        return Trade(**dict(row)) if row else None

    def trade(self, app_id: str, out_trade_no: str) -> Trade | None:
        with self._tx() as conn:
            return self._trade(conn, "app_id = ? AND out_trade_no = ?", (app_id, out_trade_no))

    def trade_by_token(self, token: str) -> Trade | None:
        with self._tx() as conn:
            return self._trade(conn, "token = ?", (token,))

    def open_trade(self, new: NewTrade) -> Trade:
        """The trade for ``out_trade_no``, created on the buyer's first visit."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO trades (app_id, out_trade_no, trade_no, token, subject,"
                " total_fen, status, notify_url, return_url, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.app_id,
                    new.out_trade_no,
                    new.trade_no,
                    new.token,
                    new.subject,
                    new.total_fen,
                    WAIT,
                    new.notify_url,
                    new.return_url,
                    new.created_at.isoformat(timespec="microseconds"),
                    new.expires_at.isoformat(timespec="microseconds"),
                ),
            )
            found = self._trade(
                conn, "app_id = ? AND out_trade_no = ?", (new.app_id, new.out_trade_no)
            )
        assert found is not None
        return found

    def pay(self, token: str, *, now: datetime) -> tuple[Trade | None, bool]:
        """Pay a waiting trade that has not expired; True when this call paid it."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE trades SET status = ? WHERE token = ? AND status = ? AND expires_at < ?",
                (CLOSED, token, WAIT, now.isoformat(timespec="microseconds")),
            )
            changed = conn.execute(
                "UPDATE trades SET status = ?, gmt_payment = ? WHERE token = ? AND status = ?",
                (SUCCESS, now.isoformat(timespec="microseconds"), token, WAIT),
            ).rowcount
            return self._trade(conn, "token = ?", (token,)), changed == 1

    def close_trade(self, new: NewTrade) -> Trade:
        """Close a waiting trade; an unknown one is recorded closed so it can never be paid."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO trades (app_id, out_trade_no, trade_no, token, subject,"
                " total_fen, status, notify_url, return_url, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, '', 0, ?, '', '', ?, ?)",
                (
                    new.app_id,
                    new.out_trade_no,
                    new.trade_no,
                    new.token,
                    CLOSED,
                    new.created_at.isoformat(timespec="microseconds"),
                    new.expires_at.isoformat(timespec="microseconds"),
                ),
            )
            conn.execute(
                "UPDATE trades SET status = ? WHERE app_id = ? AND out_trade_no = ? AND status = ?",
                (CLOSED, new.app_id, new.out_trade_no, WAIT),
            )
            found = self._trade(
                conn, "app_id = ? AND out_trade_no = ?", (new.app_id, new.out_trade_no)
            )
        assert found is not None
        return found

    def refund(
        self, *, app_id: str, out_trade_no: str, request_no: str, amount_fen: int, now: datetime
    ) -> tuple[str, Trade | None]:
        """``ok``, ``duplicate``, ``not_found``, ``not_paid``, ``too_much`` or ``conflict``."""
        with self._tx() as conn:
            trade = self._trade(conn, "app_id = ? AND out_trade_no = ?", (app_id, out_trade_no))
            if trade is None:
                return "not_found", None
            earlier = conn.execute(
                "SELECT amount_fen FROM refunds"
                " WHERE app_id = ? AND out_trade_no = ? AND out_request_no = ?",
                (app_id, out_trade_no, request_no),
            ).fetchone()
            if earlier is not None:
                return ("duplicate" if earlier[0] == amount_fen else "conflict"), trade
            if trade.status != SUCCESS:
                return "not_paid", trade
            if amount_fen <= 0 or trade.refunded_fen + amount_fen > trade.total_fen:
                return "too_much", trade
            conn.execute(
                "INSERT INTO refunds (app_id, out_request_no, out_trade_no, amount_fen,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (
                    app_id,
                    request_no,
                    out_trade_no,
                    amount_fen,
                    now.isoformat(timespec="microseconds"),
                ),
            )
            conn.execute(
                "UPDATE trades SET refunded_fen = refunded_fen + ?"
                " WHERE app_id = ? AND out_trade_no = ?",
                (amount_fen, app_id, out_trade_no),
            )
            return "ok", self._trade(
                conn, "app_id = ? AND out_trade_no = ?", (app_id, out_trade_no)
            )

    def set_total(self, *, app_id: str, out_trade_no: str, total_fen: int) -> bool:
        """Test hook: the provider's record of the trade's amount changes (a discrepancy)."""
        with self._tx() as conn:
            changed = conn.execute(
                "UPDATE trades SET total_fen = ? WHERE app_id = ? AND out_trade_no = ?",
                (total_fen, app_id, out_trade_no),
            ).rowcount
        return changed == 1

    def refund_of(self, *, app_id: str, out_trade_no: str, request_no: str) -> int | None:
        """The amount refunded under ``request_no`` of the trade; None when there is none."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT amount_fen FROM refunds"
                " WHERE app_id = ? AND out_trade_no = ? AND out_request_no = ?",
                (app_id, out_trade_no, request_no),
            ).fetchone()
        return int(row[0]) if row else None

    def note_attempt(self, notify_id: str, out_trade_no: str, *, result: str, ok: bool) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO notifications (notify_id, out_trade_no) VALUES (?, ?)",
                (notify_id, out_trade_no),
            )
            conn.execute(
                "UPDATE notifications SET attempts = attempts + 1, last_result = ?,"
                " delivered = MAX(delivered, ?) WHERE notify_id = ?",
                (result[:500], int(ok), notify_id),
            )

    def notifications(self, out_trade_no: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT * FROM notifications WHERE out_trade_no = ? ORDER BY rowid",
                (out_trade_no,),
            ).fetchall()
        return [dict(row) for row in rows]
