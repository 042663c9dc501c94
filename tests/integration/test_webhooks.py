"""Merchant webhooks: order events reach the merchant's HTTPS receiver, signed, retried."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role
from kuaidan.core import outbox
from kuaidan.merchants import service as merchants
from kuaidan.merchants.domain import SIGNATURE_HEADER, verify_webhook_signature
from kuaidan.ordering.events import OrderPaid
from tests.conftest import LiveServer

# Far above any order the other tests place: ordering's own handler of ``order.paid`` finds no
# such order and leaves it alone.
NO_ORDER = 900_000_000


def order_paid(order_id: int, number: str, merchant_id: int, total_fen: int) -> OrderPaid:
    """An ``order.paid`` as ordering publishes it, of an order that is not in the database."""
    return OrderPaid(
        order_id=NO_ORDER + order_id,
        number=number,
        buyer_id=NO_ORDER,
        merchant_id=merchant_id,
        total_fen=total_fen,
        currency="CNY",
        paid_at=datetime.now(UTC),
    )


class Receiver:
    """A merchant's webhook receiver on loopback HTTPS; can be told to fail the first calls."""

    def __init__(self, server: LiveServer) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                status = 500 if receiver.fail_next > 0 else 200
                receiver.fail_next = max(receiver.fail_next - 1, 0)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server.ca_file, server.settings.data_dir / "tls-key.pem")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver(server: LiveServer) -> Iterator[Receiver]:
    running = Receiver(server)
    yield running
    running.close()


async def _merchant_client(server: LiveServer, unique: str) -> tuple[int, httpx.AsyncClient]:
    """A merchant, its staff account, and an API client (not yet opened) holding its token."""
    uow = server.uow()
    try:
        shop = await merchants.create_merchant(
            uow=uow, slug=f"hooks-{unique}", name=f"钩子店 {unique}", name_en=f"Hooks {unique}"
        )
        email, password = f"staff-{unique}@hooks.kuaidan.test", f"pw-{unique}-long"
        await accounts.create_user(
            uow=uow,
            email=email,
            password=password,
            role=Role.MERCHANT,
            display_name="staff",
            merchant_id=shop.id,
        )
    finally:
        await uow.close()
    async with server.client() as anonymous:
        token = await anonymous.post(
            "/api/v1/auth/tokens", json={"email": email, "password": password}
        )
    client = server.client(headers={"Authorization": f"Bearer {token.json()['token']}"})
    return shop.id, client


async def _publish(server: LiveServer, event: OrderPaid) -> int:
    uow = server.uow()
    try:
        async with uow.atomic():
            return await outbox.publish(uow, event)
    finally:
        await uow.close()


async def _wait_for(predicate: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the webhook")
        await asyncio.sleep(0.1)


async def test_order_event_reaches_the_receiver_signed(
    server: LiveServer, receiver: Receiver, unique: str
) -> None:
    merchant_id, client = await _merchant_client(server, unique)
    async with client:
        created = await client.post(
            "/api/v1/merchant/webhooks", json={"url": receiver.url, "topics": ["order.paid"]}
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        listed = (await client.get("/api/v1/merchant/webhooks")).json()
        assert [w["url"] for w in listed] == [receiver.url] and "secret" not in listed[0]

        event_id = await _publish(server, order_paid(7, "KD1", merchant_id, 12900))
        await _wait_for(lambda: len(receiver.requests) >= 1)
        headers, body = receiver.requests[0]
        assert headers["Kuaidan-Event-Id"] == str(event_id)
        assert headers["Kuaidan-Event-Type"] == "order.paid"
        now = int(datetime.now(UTC).timestamp())
        assert verify_webhook_signature(secret, headers[SIGNATURE_HEADER], body, now=now)
        assert not verify_webhook_signature(secret, headers[SIGNATURE_HEADER], body + b" ", now=now)
        assert json.loads(body)["data"]["total_fen"] == 12900

        deliveries = (await client.get("/api/v1/merchant/webhook-deliveries")).json()
        assert deliveries[0]["event_id"] == event_id


async def test_failed_delivery_is_retried_and_other_merchants_get_nothing(
    server: LiveServer, receiver: Receiver, unique: str
) -> None:
    merchant_id, client = await _merchant_client(server, unique)
    async with client:
        await client.post(
            "/api/v1/merchant/webhooks", json={"url": receiver.url, "topics": ["order.paid"]}
        )
        receiver.fail_next = 1
        await _publish(server, order_paid(8, "KD2", merchant_id + 100_000, 1))  # not theirs
        await _publish(server, order_paid(9, "KD3", merchant_id, 500))
        await _wait_for(lambda: len(receiver.requests) >= 2)
        bodies = [json.loads(body)["data"]["order_id"] for _, body in receiver.requests]
        assert bodies == [NO_ORDER + 9] * 2, "one failure, one retry, nothing for another shop"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "http://shop.example.com/hooks", "topics": ["order.paid"]}, "https"),
        ({"url": "https://shop.example.com/hooks", "topics": ["order.eaten"]}, "order events"),
    ],
)
async def test_bad_webhook_registrations_are_refused(
    server: LiveServer, unique: str, body: dict[str, Any], message: str
) -> None:
    _merchant_id, client = await _merchant_client(server, unique)
    async with client:
        response = await client.post("/api/v1/merchant/webhooks", json=body)
        assert response.status_code == 422
        assert message in response.json()["error"]["message"]


async def test_a_buyer_cannot_manage_webhooks(api: httpx.AsyncClient, unique: str) -> None:
    email, password = f"b-{unique}@hooks.kuaidan.test", f"pw-{unique}-long"
    await api.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": "b"},
    )
    token = await api.post("/api/v1/auth/tokens", json={"email": email, "password": password})
    response = await api.get(
        "/api/v1/merchant/webhooks", headers={"Authorization": f"Bearer {token.json()['token']}"}
    )
    assert response.status_code == 403
