"""The payment protocol behind one test driver: the local Alipay gateway over real HTTPS and
the kuaidan server of the ``server`` fixture, configured for it (SQLite, or PostgreSQL).

``provider`` bundles the two with what a test needs to act as the buyer's browser (open the
cashier, press pay), as the gateway (sign a notification with its key) or as its test hooks.
"""

from __future__ import annotations

import re
import ssl
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from kuaidan.core import signing
from kuaidan.payments import service
from kuaidan.payments.domain import PaymentInfo, PaymentStart, PaymentStatus
from tests.conftest import ALIPAY_APP_ID, MERCHANT_FILES, SELLER_ID, LiveServer, PaySandbox

ALIPAY_APP_FILES = MERCHANT_FILES[2:]


@asynccontextmanager
async def scratch_postgres(base: str, suffix: str) -> AsyncIterator[str]:
    """A new, empty database beside ``base``'s, dropped afterwards."""
    url = make_url(base)
    name = f"{url.database}_{suffix}"
    admin = create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@dataclass
class Provider:
    """The payment provider (the local Alipay gateway) and the kuaidan server using it."""

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
            "seller_id": SELLER_ID,
            "charset": "utf-8",
            "version": "1.0",
        }
        params.update(fields)
        params.pop("sign", None)
        params["sign"] = signing.sign_params(
            params, self.private_key, exclude=signing.NOTIFY_EXCLUDE
        )
        return params

    async def notify(self, params: dict[str, str]) -> httpx.Response:
        async with self.server.client() as client:
            return await client.post(self.notify_path, data=params)


@pytest.fixture
def provider(server: LiveServer, pay_sandbox: PaySandbox) -> Provider:
    return Provider(
        name="alipay",
        server=server,
        url=pay_sandbox.gateway_url + "?",
        cert=str(pay_sandbox.handle.cert),
        private_key=pay_sandbox.handle.config.private_key_file.read_bytes(),
        app_id=ALIPAY_APP_ID,
        pay_form="/cashier/pay",
    )


# --- kuaidan's side ------------------------------------------------------------------------


def buyer_of(reference: str) -> int:
    """A buyer of its own for each payment: no account, no history and no earlier attempts for
    risk to weigh (a fixed id is, late in a session, some other test's account)."""
    return 1_000_000_000 + zlib.crc32(reference.encode()) % 1_000_000_000


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
            buyer_id=buyer_of(reference),
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
