"""Shared fixtures: a real server over TLS on loopback, on SQLite and on PostgreSQL.

Integration tests take the ``server`` fixture: a uvicorn server running the real app in a
thread, over HTTPS with a self-signed certificate, on a fresh database that has been migrated
with the real migrations. The same tests run once per backend; PostgreSQL comes from
``KUAIDAN_TEST_DATABASE_URL`` (CI sets it and also sets KUAIDAN_TEST_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from kuaidan.app import create_app
from kuaidan.bootstrap import Container, build_container
from kuaidan.config import Settings
from kuaidan.core.db import UnitOfWork
from kuaidan.core.migrate import upgrade
from kuaidan.core.signing import ensure_key_pair
from kuaidan.core.tls import ensure_self_signed, server_context
from kuaidan.simulators.alipaygw.server import GatewayHandle, start_in_thread
from kuaidan.simulators.carrier.server import SimulatorHandle
from kuaidan.simulators.carrier.server import start_in_thread as start_carrier_in_thread

PG_URL_ENV = "KUAIDAN_TEST_DATABASE_URL"


def postgres_url() -> str | None:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        if os.environ.get("KUAIDAN_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_URL_ENV} is not set but PostgreSQL tests are required")
        return None
    return Settings(database_url=url).effective_database_url


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@asynccontextmanager
async def isolated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """A migrated database of its own, with no server (and so no worker) attached to it.

    For tests that must see every row of a table, e.g. the outbox's. On PostgreSQL it is a
    separate database beside the one in ``KUAIDAN_TEST_DATABASE_URL``, dropped afterwards.
    """
    data_dir = tmp_path_factory.mktemp(f"isolated-{backend}")
    if backend == "sqlite":
        settings = make_settings(data_dir, None, run_worker=False)
        await upgrade(settings.effective_database_url)
        yield settings
        return
    base = postgres_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {PG_URL_ENV}")
    url = make_url(base)
    name = f"{url.database}_iso_{uuid.uuid4().hex[:6]}"
    # No pool: a test may restart PostgreSQL, and the drop afterwards needs a fresh connection.
    admin = create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        settings = make_settings(
            data_dir,
            url.set(database=name).render_as_string(hide_password=False),
            run_worker=False,
        )
        await upgrade(settings.effective_database_url)
        yield settings
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@dataclass
class LiveServer:
    """A running kuaidan server and a way to reach its database from the test's own loop."""

    backend: str
    base_url: str
    settings: Settings
    ca_file: Path
    container: Container

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, verify=self.ssl_context(), timeout=30.0, **kwargs
        )

    def uow(self) -> UnitOfWork:
        return self.container.unit_of_work()


class _ThreadedServer:
    def __init__(self, settings: Settings, cert: Path, key: Path) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(settings),
            log_level="warning",
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            ssl_context_factory=lambda _c, _d: server_context(cert, key),
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def make_settings(data_dir: Path, database_url: str | None, *, run_worker: bool = True) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        run_worker_in_process=run_worker,
        worker_poll_interval_s=0.2,
        worker_start_delay_s=0.0,
        log_level="warning",
        # Test receivers of webhooks listen on loopback with the server's own certificate.
        webhook_allow_private=True,
        webhook_ca_file=data_dir / "tls-cert.pem",
    )


# kuaidan's certificate and Alipay app key pair, which every test server shares.
MERCHANT_FILES = ("tls-cert.pem", "tls-key.pem", "alipay-app-private.pem", "alipay-app-public.pem")
ALIPAY_APP_ID = "2021000117600001"
SELLER_ID = "2088102177000001"


@dataclass
class PaySandbox:
    """The payment sandbox: the local Alipay gateway, over HTTPS in a thread on a loopback port.

    ``merchant_dir`` holds kuaidan's certificate and app key pair; every test server gets a
    copy, so the one gateway verifies (and is verified by) whichever server is running.
    """

    handle: GatewayHandle
    merchant_dir: Path

    @property
    def url(self) -> str:
        return self.handle.url

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/gateway.do"

    def share_merchant_files(self, data_dir: Path) -> None:
        for name in MERCHANT_FILES:
            shutil.copy2(self.merchant_dir / name, data_dir / name)

    def kuaidan_settings(self) -> dict[str, Any]:
        return {
            "pay_alipay_gateway_url": self.gateway_url,
            "pay_alipay_app_id": ALIPAY_APP_ID,
            "pay_alipay_seller_id": SELLER_ID,
            "pay_alipay_ca": self.handle.cert,
            "pay_alipay_public_key": self.handle.config.public_key_file,
        }

    def client(self) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(self.handle.cert))
        return httpx.AsyncClient(base_url=self.url, verify=context, timeout=30.0)


@pytest.fixture(scope="session")
def pay_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaySandbox]:
    merchant_dir = tmp_path_factory.mktemp("pay-sandbox")
    ensure_self_signed(merchant_dir)
    ensure_key_pair(merchant_dir / MERCHANT_FILES[2], merchant_dir / MERCHANT_FILES[3])
    settings = Settings(
        data_dir=merchant_dir,
        host="127.0.0.1",
        pay_alipay_app_id=ALIPAY_APP_ID,
        pay_alipay_seller_id=SELLER_ID,
        sandbox_alipay_notify_delays_s=(0, 0.3, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0),
        sandbox_alipay_test_hooks=True,
        log_level="warning",
    )
    handle = start_in_thread(settings, port=0)
    try:
        yield PaySandbox(handle=handle, merchant_dir=merchant_dir)
    finally:
        handle.stop()


# Simulated hours per real second in tests: a parcel's journey takes well under a second.
CARRIER_TIME_FACTOR = 100 * 3600.0


@dataclass
class CarrierSandbox:
    """The carrier simulator over HTTPS in a thread on a loopback port; it pushes to whichever
    test server booked a parcel, trusting the certificate all test servers share."""

    handle: SimulatorHandle

    @property
    def url(self) -> str:
        return self.handle.url

    def kuaidan_settings(self) -> dict[str, Any]:
        return {
            "carrier_sandbox_url": self.url,
            "carrier_sandbox_ca": self.handle.cert,
            "carrier_sandbox_credentials": self.handle.config.credentials_file,
        }

    def client(self) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(self.handle.cert))
        return httpx.AsyncClient(base_url=self.url, verify=context, timeout=30.0)


@pytest.fixture(scope="session")
def carrier_sandbox(pay_sandbox: PaySandbox) -> Iterator[CarrierSandbox]:
    settings = Settings(
        data_dir=pay_sandbox.merchant_dir,
        host="127.0.0.1",
        sandbox_carrier_time_factor=CARRIER_TIME_FACTOR,
        sandbox_carrier_push_delays_s=(0, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0),
        sandbox_carrier_delay_probability=0.0,
        sandbox_carrier_loss_probability=0.0,
        sandbox_carrier_damage_probability=0.0,
        sandbox_carrier_seed=11,
        sandbox_carrier_test_hooks=True,
        log_level="warning",
    )
    handle = start_carrier_in_thread(settings, port=0)
    try:
        yield CarrierSandbox(handle=handle)
    finally:
        handle.stop()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> AsyncIterator[LiveServer]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    url: str | None = None
    if backend == "postgres":
        url = postgres_url()
        if url is None:
            pytest.skip(f"PostgreSQL tests need {PG_URL_ENV}")
        await reset_postgres(url)
    async with live_server(data_dir, url, pay_sandbox, carrier_sandbox) as running:
        yield running


@asynccontextmanager
async def live_server(
    data_dir: Path, url: str | None, pay_sandbox: PaySandbox, carrier_sandbox: CarrierSandbox
) -> AsyncIterator[LiveServer]:
    """A kuaidan server in a thread on ``data_dir`` (and ``url``, or SQLite there), migrated,
    paid through the local Alipay gateway and shipping through the carrier simulator."""
    pay_sandbox.share_merchant_files(data_dir)
    outside = {**pay_sandbox.kuaidan_settings(), **carrier_sandbox.kuaidan_settings()}
    settings = make_settings(data_dir, url).model_copy(update=outside)
    await upgrade(settings.effective_database_url)
    cert, key = ensure_self_signed(data_dir)
    running = _ThreadedServer(settings, cert, key)
    # The port is known once the socket is bound; links sent out (notify/return URLs) carry it.
    settings.public_url = f"https://127.0.0.1:{running.port}"
    running.start()
    container = build_container(settings)
    try:
        yield LiveServer(
            backend="sqlite" if url is None else "postgres",
            base_url=f"https://127.0.0.1:{running.port}",
            settings=settings,
            ca_file=cert,
            container=container,
        )
    finally:
        await container.aclose()
        running.stop()


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as client:
        yield client


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 20) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout_s`` (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.1)


@pytest.fixture
def unique() -> Iterator[str]:
    """A short random token to keep test data from colliding across tests and runs."""
    yield uuid.uuid4().hex[:10]
