"""Every error answer is a complete HTTP response: after a 500 the kept-alive connection still
serves the next request, and a database that cannot be reached is a 503 with Retry-After in
the error shape (a friendly page for browsers), never a 500."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kuaidan.app import create_app
from kuaidan.bench.spawn import free_port
from kuaidan.bootstrap import build_container
from kuaidan.config import Settings
from tests.conftest import make_settings


@contextmanager
def _serving(app: FastAPI) -> Iterator[int]:
    """``app`` served by uvicorn (as in production: httptools, keep-alive) on a loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _read_response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body, read off a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed the connection mid-answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: shop.test\r\nAccept: application/json\r\n\r\n".encode()


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("errors"), None, run_worker=False)


async def test_after_a_500_the_kept_alive_connection_answers_the_next_request(
    settings: Settings,
) -> None:
    container = build_container(settings)
    app = create_app(settings, container=container)

    async def fails() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/fails-for-the-test", fails)
    try:
        with _serving(app) as port, socket.create_connection(("127.0.0.1", port)) as conn:
            conn.settimeout(10)
            conn.sendall(_request("/api/v1/fails-for-the-test"))
            status, headers, body = _read_response(conn)
            assert status == 500
            assert httpx.Response(500, content=body).json()["error"]["code"] == "internal_error"
            assert headers.get("connection") != "close"
            # The same connection carries the next request and its answer.
            conn.sendall(_request("/healthz"))
            status, _headers, body = _read_response(conn)
            assert status == 200, body
    finally:
        await container.aclose()


@pytest.fixture
def unreachable(settings: Settings) -> Settings:
    """Settings whose PostgreSQL does not listen: every connection attempt is refused."""
    url = f"postgresql+asyncpg://kuaidan@127.0.0.1:{free_port()}/kuaidan"
    return settings.model_copy(update={"database_url": url})


async def test_an_unreachable_database_is_a_503_with_retry_after_in_the_error_shape(
    unreachable: Settings,
) -> None:
    container = build_container(unreachable)
    app = create_app(unreachable, container=container)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://shop.test") as client:
            api = await client.get("/api/v1/products")
            page = await client.get("/", headers={"Accept": "text/html"})
    finally:
        await container.aclose()
    assert api.status_code == 503, api.text
    assert int(api.headers["retry-after"]) > 0
    error = api.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"]
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["retry-after"]) > 0
    assert "<html" in page.text.lower()
