"""Every ``kuaidan bench`` command, for a few seconds at tiny scale, against a server it spawns
itself, on SQLite and on PostgreSQL. The figures are not judged here, only that each command
runs, answers in JSON and (for flash sales) finds the database consistent."""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kuaidan.bench.load import classify, place
from kuaidan.bench.prepare import BenchBuyer
from kuaidan.bench.stats import Recorder
from kuaidan.bench.wire import Connection, Endpoint, RequestTimeout
from kuaidan.config import Settings
from kuaidan.core.tls import ensure_self_signed, server_context
from tests.conftest import isolated_database

TIMEOUT_S = 180


def _bench(settings: Settings, *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "KUAIDAN_DATA_DIR": str(settings.data_dir),
        "KUAIDAN_DATABASE_URL": settings.effective_database_url,
        "KUAIDAN_LOG_LEVEL": "warning",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kuaidan", "bench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout) if "--json" in args else {}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def bench_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    import asyncio

    manager = isolated_database(request.param, tmp_path_factory)
    loop = asyncio.new_event_loop()
    try:
        settings = loop.run_until_complete(manager.__aenter__())
        _bench(settings, "prepare", "--buyers", "60", "--skus", "8")
        yield settings
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


def test_prepare_writes_a_fixture(bench_db: Settings) -> None:
    fixture = json.loads(Path(bench_db.data_dir / "bench" / "fixture.json").read_text())
    assert len(fixture["buyers"]) == 60 and len(fixture["skus"]) == 8


def test_bench_checkout_places_orders_and_compares_with_the_raw_limit(bench_db: Settings) -> None:
    out = _bench(
        bench_db, "checkout", "--concurrency", "4", "--duration", "2", "--workers", "1", "--json"
    )
    app, limit = out["figures"]
    assert app["scenario"] == "checkout" and app["ok"] > 0
    assert limit["scenario"] == "db-limit spread" and limit["ok"] > 0
    assert out["ratios"]["checkout / db-limit spread"] > 0


def test_bench_flash_sale_sells_exactly_the_units(bench_db: Settings) -> None:
    out = _bench(
        bench_db,
        "flash-sale",
        "--buyers",
        "40",
        "--units",
        "5",
        "--concurrency",
        "20",
        "--workers",
        "1",
        "--json",
    )
    flash = out["figures"][0]
    assert flash["ok"] == 5
    assert out["checks"]["flash-sale problems"] == "none"
    assert out["checks"]["oversold"] == 0


def test_bench_db_limit_runs_spread_and_on_one_sku(bench_db: Settings) -> None:
    out = _bench(
        bench_db, "db-limit", "--concurrency", "4", "--duration", "1", "--skus", "20", "--json"
    )
    assert [f["scenario"] for f in out["figures"]] == ["db-limit spread", "db-limit one-sku"]
    assert all(f["ok"] > 0 for f in out["figures"])


def test_bench_mixed_runs_checkout_beside_a_flash_sale(bench_db: Settings) -> None:
    out = _bench(
        bench_db,
        "mixed",
        "--concurrency",
        "2",
        "--duration",
        "2",
        "--buyers",
        "30",
        "--units",
        "3",
        "--flash-concurrency",
        "10",
        "--workers",
        "1",
        "--json",
    )
    steady, flash = out["figures"]
    assert steady["ok"] > 0 and flash["ok"] == 3


def test_bench_placement_counts_statements_and_cpu_per_order(
    bench_db: Settings, tmp_path: Path
) -> None:
    profile = tmp_path / "placement.txt"
    out = _bench(bench_db, "placement", "--orders", "5", "--profile", str(profile), "--json")
    (figure,) = out["figures"]
    assert figure["ok"] == 5 and figure["errors"] == {}
    # A placement writes at least the checkout, the order, its lines, the reservation, the
    # payment and the outbox event; the count is what the statements listener saw.
    assert figure["extra"]["statements_per_order"] >= 6
    assert figure["extra"]["cpu_ms_per_order"] > 0
    commonest = out["checks"]["statements per order, commonest"]
    assert any(shape.startswith("INSERT INTO orders") for shape in commonest)
    assert "placement" in profile.read_text(encoding="utf-8")


# The lean client of the hot loops, against a scripted TLS server on loopback.


def _answer(status: int, body: bytes, *fields: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", "content-type: application/json", *fields]
    if not any(f.lower().startswith("transfer-encoding") for f in fields):
        head.append(f"content-length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


SILENT = b""  # a scripted reply: read the request, then say nothing until the client leaves


@dataclass
class Scripted:
    """Answers each request with the next reply; ``None`` closes the connection unanswered."""

    replies: list[bytes | None]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.replies:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"content-length: (\d+)", head.lower())
                body = await reader.readexactly(int(length.group(1)) if length else 0)
                self.requests.append(head + body)
                reply = self.replies.pop(0)
                if reply is None:
                    break
                if reply == SILENT:
                    await reader.read()
                    break
                writer.write(reply)
                await writer.drain()
                if b"connection: close" in reply.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted_server(
    tmp_path: Path, replies: list[bytes | None], *, timeout_s: float = 5.0
) -> AsyncIterator[tuple[Scripted, Connection]]:
    """The server, and a client connection to it (not yet open)."""
    cert, key = ensure_self_signed(tmp_path)
    script = Scripted(replies)
    server = await asyncio.start_server(
        script.handle, "127.0.0.1", 0, ssl=server_context(cert, key)
    )
    port = server.sockets[0].getsockname()[1]
    client_tls = ssl.create_default_context(cafile=str(cert))
    endpoint = Endpoint.of(f"https://127.0.0.1:{port}", client_tls)
    try:
        async with Connection(endpoint, timeout_s=timeout_s) as conn:
            yield script, conn
    finally:
        server.close()


async def test_one_connection_carries_a_buyers_requests(tmp_path: Path) -> None:
    replies: list[bytes | None] = [_answer(201, b'{"n":%d}' % i) for i in range(3)]
    async with scripted_server(tmp_path, replies) as (script, conn):
        answers = [
            await conn.request("POST", "/api/v1/checkouts", {"X-N": str(i)}, {"i": i})
            for i in range(3)
        ]
    assert answers == [(201, {"n": 0}), (201, {"n": 1}), (201, {"n": 2})]
    assert (conn.connects, script.connections) == (1, 1)
    first = script.requests[0].decode()
    assert first.startswith("POST /api/v1/checkouts HTTP/1.1\r\n")
    assert "Content-Length: 7\r\n" in first and first.endswith('X-N: 0\r\n\r\n{"i":0}')


async def test_a_chunked_answer_after_an_interim_one_is_read_whole(tmp_path: Path) -> None:
    chunked = b'5\r\n{"err\r\n0E;ext=1\r\nor":"chunked"}\r\n0\r\nx-trailer: 1\r\n\r\n'
    early_hints = b"HTTP/1.1 103 Early Hints\r\nlink: </x.css>\r\n\r\n"
    replies: list[bytes | None] = [
        early_hints + _answer(409, chunked, "transfer-encoding: chunked"),
        _answer(201, b"{}"),
    ]
    async with scripted_server(tmp_path, replies) as (script, conn):
        assert await conn.request("POST", "/x", {}, {}) == (409, {"error": "chunked"})
        assert await conn.request("POST", "/x", {}, {}) == (201, {})
    assert script.connections == 1


async def test_connection_close_is_honoured_and_the_next_request_reconnects(
    tmp_path: Path,
) -> None:
    replies: list[bytes | None] = [
        _answer(429, b'{"error":{"code":"rate_limited"}}', "connection: close"),
        _answer(201, b"{}"),
    ]
    async with scripted_server(tmp_path, replies) as (script, conn):
        status, body = await conn.request("POST", "/x", {}, {})
        assert classify(status, body) == "busy"
        assert await conn.request("GET", "/y") == (201, {})
    assert (conn.connects, script.connections) == (2, 2)
    assert script.requests[1].startswith(b"GET /y HTTP/1.1\r\n")


async def test_a_server_closing_mid_request_is_a_transport_error_outcome(tmp_path: Path) -> None:
    buyer = BenchBuyer(user_id=1, token="kd_x", address_id=1)
    recorder = Recorder()
    replies = [None, _answer(201, b"{}")]
    async with asyncio.timeout(10), scripted_server(tmp_path, replies) as (script, conn):
        first = await place(conn, buyer, [{"sku_id": 1, "quantity": 1}], recorder)
        second = await place(conn, buyer, [{"sku_id": 1, "quantity": 1}], recorder)
    assert (first, second) == ("RemoteProtocolError", "ok")
    assert recorder.count("RemoteProtocolError") == 1 and script.connections == 2


async def test_a_silent_server_times_the_request_out(tmp_path: Path) -> None:
    async with asyncio.timeout(10), scripted_server(tmp_path, [SILENT], timeout_s=0.3) as (_, conn):
        with pytest.raises(RequestTimeout):
            await conn.request("POST", "/x", {}, {})


def test_bench_floor_answers_sold_out_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    out = _bench(
        settings,
        "floor",
        "--concurrency",
        "4",
        "--duration",
        "1",
        "--workers",
        "1",
        "--data-dir",
        str(tmp_path),
        "--json",
    )
    (floor,) = out["figures"]
    assert floor["scenario"] == "floor" and floor["attempts"] > 20
    assert set(floor["by_outcome"]) == {"sold_out"} and floor["errors"] == {}
    assert 0 < floor["latency"]["p50_ms"] <= floor["latency"]["p99_ms"] < 5000
    assert floor["answers_per_s"] > 0
    assert floor["extra"]["server_cpu_ms_per_answer"] > 0
    assert floor["extra"]["client_cpu_ms_per_answer"] > 0


@pytest.mark.postgres
async def test_the_local_postgresql_cpu_reading_grows_with_the_database_s_work(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from sqlalchemy import text

    from kuaidan.bench.spawn import postgres_cpu_seconds
    from kuaidan.core.db import Database

    async with isolated_database("postgres", tmp_path_factory) as settings:
        db = Database(settings.effective_database_url, pool_size=1)
        try:
            before = postgres_cpu_seconds()
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT count(*) FROM generate_series(1, 3000000)"))
            # The backend's work counts while it lives, and after it ends (the postmaster's).
            during = postgres_cpu_seconds()
        finally:
            await db.dispose()
        after = postgres_cpu_seconds()
    assert during - before > 0.05
    assert after >= during - 0.01
