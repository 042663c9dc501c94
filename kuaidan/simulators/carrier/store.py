"""The simulator's state: parcels (with their planned journey) and push attempts, in a small
SQLite file. Times are ISO-8601 UTC text; a parcel's scans are its plan's first ``emitted``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kuaidan.simulators._sqlite import SqliteStore

ACTIVE, DONE, CANCELLED = "active", "done", "cancelled"

SCHEMA = """
CREATE TABLE IF NOT EXISTS parcels (
    nu TEXT PRIMARY KEY,
    com TEXT NOT NULL,
    order_id TEXT NOT NULL UNIQUE,
    task_id TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    salt TEXT NOT NULL,
    route TEXT NOT NULL,
    fate TEXT NOT NULL,
    label TEXT NOT NULL,
    booked_at TEXT NOT NULL,
    plan TEXT NOT NULL,
    emitted INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nu TEXT NOT NULL,
    scans INTEGER NOT NULL,
    result TEXT NOT NULL,
    ok INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Parcel:
    nu: str
    com: str
    order_id: str
    task_id: str
    callback_url: str
    salt: str
    route: dict[str, str]
    fate: str
    label: str
    booked_at: str
    plan: list[dict[str, Any]]
    emitted: int
    status: str

    def scans(self, count: int | None = None, *, speed: float = 1.0) -> list[dict[str, Any]]:
        """The emitted scans (or the first ``count``), each stamped on the clock the parcel was
        booked by: ``speed`` planned hours pass per hour of that clock (the time factor when
        booked on the real clock, 1 on a shared simulated one), so a released scan is never
        dated after the moment it was released."""
        start = datetime.fromisoformat(self.booked_at)
        chosen = self.plan[: self.emitted if count is None else min(count, self.emitted)]
        return [
            {**scan, "at": (start + timedelta(hours=scan["hours"] / speed)).isoformat()}
            for scan in chosen
        ]

    @property
    def last_state(self) -> str | None:
        return str(self.plan[self.emitted - 1]["state"]) if self.emitted else None


class Store(SqliteStore):
    """Thread-safe access to the simulator's SQLite file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)

    @staticmethod
    def _parcel(row: sqlite3.Row | None) -> Parcel | None:
        if row is None:
            return None
        data = dict(row)
        data["route"], data["plan"] = json.loads(data["route"]), json.loads(data["plan"])
        return Parcel(**data)

    def parcel(self, nu: str) -> Parcel | None:
        with self._tx() as conn:
            return self._parcel(
                conn.execute("SELECT * FROM parcels WHERE nu = ?", (nu,)).fetchone()
            )

    def by_order(self, order_id: str) -> Parcel | None:
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM parcels WHERE order_id = ?", (order_id,)).fetchone()
            return self._parcel(row)

    def add(self, parcel: Parcel) -> Parcel:
        """Insert a new parcel; an order booked before keeps its first parcel."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO parcels (nu, com, order_id, task_id, callback_url, salt,"
                " route, fate, label, booked_at, plan, emitted, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (
                    parcel.nu, parcel.com, parcel.order_id, parcel.task_id, parcel.callback_url,
                    parcel.salt, json.dumps(parcel.route), parcel.fate, parcel.label,
                    parcel.booked_at, json.dumps(parcel.plan), ACTIVE,
                ),
            )  # fmt: skip
            row = conn.execute(
                "SELECT * FROM parcels WHERE order_id = ?", (parcel.order_id,)
            ).fetchone()
        found = self._parcel(row)
        assert found is not None
        return found

    def active(self) -> list[Parcel]:
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM parcels WHERE status = ?", (ACTIVE,)).fetchall()
        return [p for p in (self._parcel(r) for r in rows) if p is not None]

    def set_emitted(self, nu: str, emitted: int, *, done: bool) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE parcels SET emitted = MAX(emitted, ?), status = ? WHERE nu = ?"
                " AND status = ?",
                (emitted, DONE if done else ACTIVE, nu, ACTIVE),
            )

    def replan(self, nu: str, *, expect_emitted: int, plan: list[dict[str, Any]]) -> bool:
        """Replace the rest of the journey, if no scan was emitted meanwhile."""
        with self._tx() as conn:
            changed = conn.execute(
                "UPDATE parcels SET plan = ? WHERE nu = ? AND emitted = ? AND status = ?",
                (json.dumps(plan), nu, expect_emitted, ACTIVE),
            ).rowcount
        return changed == 1

    def cancel(self, nu: str) -> bool:
        """Cancel a parcel that has no scan yet."""
        with self._tx() as conn:
            changed = conn.execute(
                "UPDATE parcels SET status = ? WHERE nu = ? AND emitted = 0 AND status = ?",
                (CANCELLED, nu, ACTIVE),
            ).rowcount
        return changed == 1

    def note_push(self, nu: str, *, scans: int, result: str, ok: bool) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO pushes (nu, scans, result, ok) VALUES (?, ?, ?, ?)",
                (nu, scans, result[:300], int(ok)),
            )

    def pushes(self, nu: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT scans, result, ok FROM pushes WHERE nu = ? ORDER BY id", (nu,)
            ).fetchall()
        return [dict(row) for row in rows]
