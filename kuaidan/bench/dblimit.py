"""The physical limit: the minimal order transaction sent straight to the database.

One transaction = a conditional stock decrement, one order row and 3 line rows, one commit;
asyncpg on PostgreSQL, sqlite3 (threads) on SQLite, no HTTP and no ORM. It runs on scratch
tables of its own (``bench_dl_*``) in the same database, dropped afterwards, so it pays the
same disk, WAL and fsync as the platform does.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from kuaidan.bench.stats import Figures, Recorder, summarise

STOCK = 1_000_000_000
PRICE = 990
# Writers beyond this share the connections, as the platform's pool makes its requests do.
MAX_CONNECTIONS = 32

PG_SETUP = (
    "DROP TABLE IF EXISTS bench_dl_lines, bench_dl_orders, bench_dl_stock",
    "CREATE TABLE bench_dl_stock (sku_id int PRIMARY KEY, on_hand int NOT NULL,"
    " reserved int NOT NULL, CHECK (reserved <= on_hand))",
    "CREATE TABLE bench_dl_orders (id bigserial PRIMARY KEY, buyer_id int NOT NULL,"
    " total int NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE bench_dl_lines (id bigserial PRIMARY KEY, order_id bigint NOT NULL"
    " REFERENCES bench_dl_orders (id), sku_id int NOT NULL, quantity int NOT NULL,"
    " price int NOT NULL)",
)
PG_TEARDOWN = "DROP TABLE IF EXISTS bench_dl_lines, bench_dl_orders, bench_dl_stock"
RESERVE = (
    "UPDATE bench_dl_stock SET reserved = reserved + {p} WHERE sku_id = {s}"
    " AND on_hand - reserved >= {p} RETURNING on_hand - reserved"
)
ORDER = "INSERT INTO bench_dl_orders (buyer_id, total) VALUES ({b}, {t}) RETURNING id"
LINES = (
    "INSERT INTO bench_dl_lines (order_id, sku_id, quantity, price) VALUES"
    " ({o}, {s}, 1, {p}), ({o}, {s}, 1, {p}), ({o}, {s}, 1, {p})"
)


@dataclass(frozen=True, slots=True)
class DbLimitPlan:
    """How the raw transactions run: ``skus`` rows shared by ``concurrency`` writers."""

    concurrency: int
    duration_s: float
    skus: int

    @property
    def scenario(self) -> str:
        return "db-limit one-sku" if self.skus == 1 else "db-limit spread"


def sku_for(worker: int, iteration: int, skus: int) -> int:
    """The SKU a writer decrements on its n-th transaction (spread evenly, deterministic)."""
    return 1 + (worker * 7919 + iteration * 104729) % skus


async def run_db_limit(url: str, plan: DbLimitPlan) -> Figures:
    """Run the raw transactions against ``url`` (a SQLAlchemy URL) for the plan's duration."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        recorder, elapsed = await asyncio.to_thread(_sqlite_run, Path(parsed.database or ""), plan)
        backend = "sqlite"
    else:
        recorder, elapsed = await _postgres_run(url, plan)
        backend = "postgres"
    return summarise(
        recorder,
        scenario=plan.scenario,
        backend=backend,
        concurrency=plan.concurrency,
        duration_s=elapsed,
        extra={"skus": plan.skus},
    )


# --- PostgreSQL: asyncpg, one connection per writer ---------------------------------------


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_run(url: str, plan: DbLimitPlan) -> tuple[Recorder, float]:
    import asyncpg

    dsn = _asyncpg_dsn(url)
    admin = await asyncpg.connect(dsn)
    try:
        for statement in PG_SETUP:
            await admin.execute(statement)
        await admin.execute(
            "INSERT INTO bench_dl_stock SELECT g, $1, 0 FROM generate_series(1, $2) g",
            STOCK,
            plan.skus,
        )
        size = min(plan.concurrency, MAX_CONNECTIONS)
        pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
        recorder = Recorder()
        started = time.perf_counter()
        deadline = started + plan.duration_s
        await asyncio.gather(
            *(_pg_writer(pool, i, plan, deadline, recorder) for i in range(plan.concurrency))
        )
        elapsed = time.perf_counter() - started
        await pool.close()
        return recorder, elapsed
    finally:
        await admin.execute(PG_TEARDOWN)
        await admin.close()


async def _pg_writer(
    pool: Any, worker: int, plan: DbLimitPlan, deadline: float, recorder: Recorder
) -> None:
    reserve = RESERVE.format(p="$2", s="$1")
    order = ORDER.format(b="$1", t="$2")
    lines = LINES.format(o="$1", s="$2", p="$3")
    iteration = 0
    while (now := time.perf_counter()) < deadline:
        sku = sku_for(worker, iteration, plan.skus)
        iteration += 1
        try:
            async with pool.acquire() as conn, conn.transaction():
                left = await conn.fetchval(reserve, sku, 3)
                if left is None:
                    raise RuntimeError("sold out")
                order_id = await conn.fetchval(order, worker, 3 * PRICE)
                await conn.execute(lines, order_id, sku, PRICE)
        except Exception as exc:  # every failure is counted by kind, none stops the run
            recorder.record(type(exc).__name__, time.perf_counter() - now)
            continue
        done = time.perf_counter()
        recorder.record("ok", done - now, at=done)


# --- SQLite: sqlite3 in threads, BEGIN IMMEDIATE like the platform ------------------------


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=15)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=15000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _sqlite_run(path: Path, plan: DbLimitPlan) -> tuple[Recorder, float]:
    admin = _sqlite_connect(path)
    statements = [
        s.replace("bigserial", "INTEGER").replace("timestamptz", "TEXT") for s in PG_SETUP
    ]
    statements = [s.replace("now()", "CURRENT_TIMESTAMP") for s in statements]
    for statement in statements[:1]:
        admin.executescript(statement.replace(", ", ";DROP TABLE IF EXISTS ") + ";")
    for statement in statements[1:]:
        admin.execute(statement)
    admin.executemany("INSERT INTO bench_dl_stock VALUES (?, ?, 0)", _stock_rows(plan.skus))
    recorder = Recorder()
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + plan.duration_s
    threads = [
        threading.Thread(target=_sqlite_writer, args=(path, i, plan, deadline, recorder, lock))
        for i in range(plan.concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for table in ("bench_dl_lines", "bench_dl_orders", "bench_dl_stock"):
        admin.execute(f"DROP TABLE IF EXISTS {table}")
    admin.close()
    return recorder, elapsed


def _stock_rows(skus: int) -> list[tuple[int, int]]:
    return [(sku, STOCK) for sku in range(1, skus + 1)]


def _sqlite_writer(
    path: Path,
    worker: int,
    plan: DbLimitPlan,
    deadline: float,
    recorder: Recorder,
    lock: threading.Lock,
) -> None:
    conn = _sqlite_connect(path)
    record: Callable[..., None] = recorder.record
    reserve = RESERVE.format(p="?2", s="?1")
    order = ORDER.format(b="?1", t="?2")
    lines = LINES.format(o="?1", s="?2", p="?3")
    iteration = 0
    while (now := time.perf_counter()) < deadline:
        sku = sku_for(worker, iteration, plan.skus)
        iteration += 1
        try:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute(reserve, (sku, 3)).fetchone() is None:
                raise RuntimeError("sold out")
            order_id = conn.execute(order, (worker, 3 * PRICE)).fetchone()[0]
            conn.execute(lines, (order_id, sku, PRICE))
            conn.execute("COMMIT")
        except Exception as exc:  # counted by kind; the transaction is rolled back
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            with lock:
                record(type(exc).__name__, time.perf_counter() - now)
            continue
        done = time.perf_counter()
        with lock:
            record("ok", done - now, at=done)
    conn.close()
