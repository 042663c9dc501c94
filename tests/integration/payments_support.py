"""Both payment protocols behind one test driver: the sandbox provider and the local Alipay
gateway, each over real HTTPS, each with a kuaidan server configured for it.

``alipay_server`` is a kuaidan server with ``pay_provider=alipay`` on the same backend as the
``server`` fixture (SQLite, or a PostgreSQL database of its own beside the test database).
``provider`` is parametrized over both: the same behaviour tests run against both protocols.
"""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from kuaidan.core import signing
from kuaidan.core.migrate import upgrade
from kuaidan.core.tls import ensure_self_signed
from kuaidan.payments import service
from kuaidan.payments.domain import PaymentInfo, PaymentStart, PaymentStatus
from kuaidan.simulators.alipaygw.server import GatewayHandle
from kuaidan.simulators.alipaygw.server import start_in_thread as start_gateway
from tests.conftest import (
    LiveServer,
    PaySandbox,
    _ThreadedServer,
    make_settings,
    postgres_url,
)

SELLER_ID = "2088102177000001"
ALIPAY_APP_ID = "2021000117600001"
ALIPAY_APP_FILES = ("alipay-app-private.pem", "alipay-app-public.pem")


@pytest.fixture(scope="session")
def alipay_gateway(pay_sandbox: PaySandbox) -> Iterator[GatewayHandle]:
    """The local Alipay gateway; kuaidan's app keys sit beside the sandbox's merchant files."""
    merchant_dir = pay_sandbox.merchant_dir
    signing.ensure_key_pair(merchant_dir / ALIPAY_APP_FILES[0], merchant_dir / ALIPAY_APP_FILES[1])
    settings = make_settings(merchant_dir, None).model_copy(
        update={
            "host": "127.0.0.1",
            "pay_alipay_app_id": ALIPAY_APP_ID,
            "pay_alipay_seller_id": SELLER_ID,
            "sandbox_alipay_notify_delays_s": (0, 0.3, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0),
            "sandbox_alipay_test_hooks": True,
        }
    )
    handle = start_gateway(settings, port=0)
    try:
        yield handle
    finally:
        handle.stop()


async def _fresh_postgres(base: str, suffix: str) -> str:
    url = make_url(base)
    name = f"{url.database}_{suffix}"
    admin = create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def alipay_server(
    server: LiveServer,
    pay_sandbox: PaySandbox,
    alipay_gateway: GatewayHandle,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveServer]:
    """kuaidan configured for Alipay (only settings differ), on ``server``'s backend."""
    data_dir = tmp_path_factory.mktemp(f"alipay-{server.backend}")
    url = None
    if server.backend == "postgres":
        base = postgres_url()
        assert base is not None
        url = await _fresh_postgres(base, "alipay")
    pay_sandbox.share_merchant_files(data_dir)
    merchant = pay_sandbox.merchant_dir
    settings = make_settings(data_dir, url).model_copy(
        update={
            "pay_provider": "alipay",
            "pay_alipay_gateway_url": alipay_gateway.gateway_url,
            "pay_alipay_app_id": ALIPAY_APP_ID,
            "pay_alipay_seller_id": SELLER_ID,
            "pay_alipay_app_private_key": merchant / ALIPAY_APP_FILES[0],
            "pay_alipay_app_public_key": merchant / ALIPAY_APP_FILES[1],
            "pay_alipay_public_key": alipay_gateway.config.public_key_file,
            "pay_alipay_ca": alipay_gateway.cert,
            "db_pool_size": 3,
        }
    )
    await upgrade(settings.effective_database_url)
    cert, key = ensure_self_signed(data_dir)
    running = _ThreadedServer(settings, cert, key)
    settings.public_url = f"https://127.0.0.1:{running.port}"
    running.start()
    from kuaidan.bootstrap import build_container

    container = build_container(settings)
    try:
        yield LiveServer(
            backend=server.backend,
            base_url=f"https://127.0.0.1:{running.port}",
            settings=settings,
            ca_file=cert,
            container=container,
        )
    finally:
        await container.aclose()
        running.stop()


@dataclass
class Provider:
    """One protocol's provider and the kuaidan server configured for it."""

    name: str
    server: LiveServer
    url: str  # where the provider's pay page lives (a prefix of every pay URL)
    cert: str
    private_key: bytes  # the provider's own signing key: only tests sign with it
    app_id: str
    pay_form: str  # the pay page's form action

    @property
    def notify_path(self) -> str:
        return f"/api/v1/payments/notify/{self.name}"

    def client(self) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=self.cert)
        return httpx.AsyncClient(verify=context, timeout=30.0)

    async def hook(self, path: str, **body: Any) -> dict[str, Any]:
        base = self.url.split("/gateway")[0]
        async with self.client() as client:
            answer = await client.post(f"{base}/sandbox/{path}", json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def trade(self, reference: str) -> dict[str, Any]:
        base = self.url.split("/gateway")[0]
        async with self.client() as client:
            answer = await client.get(f"{base}/sandbox/trades/{reference}")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def open_page(self, started: PaymentStart) -> str:
        """The buyer's browser opens the pay page; returns the page's form token."""
        assert started.pay_url is not None and started.pay_url.startswith(self.url)
        async with self.client() as client:
            page = await client.get(started.pay_url)
        assert page.status_code == 200, page.text
        match = re.search(r'name="token" value="([^"]+)"', page.text)
        assert match is not None
        return match.group(1)

    def signed_notification(
        self, *, sent_at: datetime | None = None, **fields: str
    ) -> dict[str, str]:
        """A notification signed with the provider's key (as only the provider could)."""
        now = signing.format_protocol_time(sent_at or datetime.now(UTC))
        reference = fields.get("out_trade_no", "x")
        params = {
            "notify_id": uuid.uuid4().hex,
            "notify_time": now,
            "notify_type": "trade_status_sync",
            "trade_status": "TRADE_SUCCESS",
            "trade_no": "T" + reference,
            "total_amount": "123.45",
            "app_id": self.app_id,
            "gmt_payment": now,
            "sign_type": "RSA2",
        }
        if self.name == "alipay":
            params.update(seller_id=SELLER_ID, charset="utf-8", version="1.0")
        params.update(fields)
        params.pop("sign", None)
        params["sign"] = signing.sign_params(
            params, self.private_key, exclude=signing.NOTIFY_EXCLUDE
        )
        return params

    async def notify(self, params: dict[str, str]) -> httpx.Response:
        async with self.server.client() as client:
            return await client.post(self.notify_path, data=params)


@pytest.fixture(params=["sandbox", "alipay"])
def provider(
    request: pytest.FixtureRequest, server: LiveServer, pay_sandbox: PaySandbox
) -> Provider:
    if request.param == "sandbox":
        return Provider(
            name="sandbox",
            server=server,
            url=pay_sandbox.url + "/gateway?",
            cert=str(pay_sandbox.handle.cert),
            private_key=pay_sandbox.handle.config.private_key_file.read_bytes(),
            app_id=server.settings.pay_app_id,
            pay_form="/gateway/pay",
        )
    alipay: LiveServer = request.getfixturevalue("alipay_server")
    gateway: GatewayHandle = request.getfixturevalue("alipay_gateway")
    return Provider(
        name="alipay",
        server=alipay,
        url=gateway.gateway_url + "?",
        cert=str(gateway.cert),
        private_key=gateway.config.private_key_file.read_bytes(),
        app_id=ALIPAY_APP_ID,
        pay_form="/cashier/pay",
    )


# --- kuaidan's side ------------------------------------------------------------------------


async def start(
    server: LiveServer, reference: str, *, amount_fen: int = 12345, currency: str = "CNY"
) -> PaymentStart:
    uow = server.uow()
    try:
        return await service.start_payment(
            uow=uow,
            reference=reference,
            amount_fen=amount_fen,
            currency=currency,
            subject="双十一 羽绒服 · 黑色 XL",
            buyer_id=42,
            return_path=f"/orders/{reference}",
        )
    finally:
        await uow.close()


async def payment(server: LiveServer, reference: str) -> PaymentInfo:
    uow = server.uow()
    try:
        info = await service.get_payment(uow=uow, reference=reference)
    finally:
        await uow.close()
    assert info is not None
    return info


async def succeeded(server: LiveServer, reference: str) -> PaymentInfo | None:
    info = await payment(server, reference)
    return info if info.status == PaymentStatus.SUCCEEDED else None


async def scalar(server: LiveServer, sql: str, **params: Any) -> Any:
    uow = server.uow()
    try:
        return await uow.session.scalar(text(sql), params)
    finally:
        await uow.close()


async def events(server: LiveServer, topic: str, reference: str) -> int:
    sql = "SELECT count(*) FROM outbox_events WHERE topic = :t AND key = :k"
    return int(await scalar(server, sql, t=topic, k=reference) or 0)


async def audits(server: LiveServer, action: str, reference: str) -> int:
    sql = "SELECT count(*) FROM audit_log WHERE action = :a AND subject = :s"
    return int(await scalar(server, sql, a=action, s=f"payment:{reference}") or 0)
