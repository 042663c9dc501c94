"""A cancelled checkout can no longer be paid: cancelling its last unpaid order closes the
trade at the provider (later, when the provider cannot be reached at the time), its pay page
refuses, and a payment held by risk can no longer be released to a pay link.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, closing, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from kuaidan.payments import service as payments
from kuaidan.payments.domain import PaymentStatus
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually, live_server
from tests.conftest import postgres_url as base_postgres_url
from tests.integration import ordering_support as support
from tests.integration import test_risk as risky
from tests.integration.ordering_support import (
    Market,
    new_buyer,
    new_sku,
    open_market,
    opened,
    place,
)
from tests.integration.payments_support import scratch_postgres
from tests.integration.test_payments import sandbox_trade

# The shared fixtures, bound into this module.
market = support.market
stock_stays_consistent = support.stock_stays_consistent
shop = risky.shop


async def cancel(api: httpx.AsyncClient, number: str, auth: dict[str, str]) -> dict[str, Any]:
    answer = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "不要了"}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    cancelled: dict[str, Any] = answer.json()
    assert cancelled["status"] == "cancelled" and not cancelled["refund_requested"]
    return cancelled


async def trade_status(sandbox: PaySandbox, reference: str) -> str:
    return str((await sandbox_trade(sandbox, reference))["trade_status"])


async def closed_at_provider(sandbox: PaySandbox, reference: str) -> None:
    async def closed() -> bool:
        async with sandbox.client() as client:
            answer = await client.get(f"/sandbox/trades/{reference}")  # 404: not known yet
        return answer.status_code == 200 and answer.json()["trade_status"] == "TRADE_CLOSED"

    await eventually(closed)


async def payment_status(server: LiveServer, reference: str) -> PaymentStatus:
    async with opened(server) as uow:
        info = await payments.get_payment(uow=uow, reference=reference)
    assert info is not None
    return info.status


# --- the pay page and the API ----------------------------------------------------------------


async def test_the_pay_page_of_a_cancelled_checkout_refuses(server, api, market, pay_sandbox):
    sku = await new_sku(server, market, market.shop_b, 2500, 3)
    buyer = await new_buyer(api)
    placed = await place(api, buyer, [(sku, 1)])
    reference, pay_url = placed["checkout"]["reference"], placed["checkout"]["pay_url"]
    await cancel(api, placed["orders"][0]["number"], buyer.auth)

    # Never opened by the buyer, the trade is closed all the same: the link can never pay.
    await closed_at_provider(pay_sandbox, reference)
    async with pay_sandbox.client() as client:
        page = await client.get(pay_url)
    assert page.status_code == 400 and "TRADE_HAS_CLOSE" in page.text, page.text
    shown = await api.get(f"/checkouts/{reference}", headers={**buyer.auth, "accept": "text/html"})
    assert shown.status_code == 200 and 'data-testid="pay-now"' not in shown.text
    read = await api.get(f"/api/v1/checkouts/{reference}", headers=buyer.auth)
    assert read.json()["checkout"]["pay_url"] is None


async def test_a_held_payment_whose_orders_are_cancelled_is_never_released_to_pay(
    server: LiveServer, api: httpx.AsyncClient, shop: risky.Shop
) -> None:
    small = await risky.new_sku(server, shop, risky.SMALL_PRICE)
    big = await risky.new_sku(server, shop, risky.BIG_PRICE)
    buyer = await risky.new_buyer(api)
    placed = await risky.suspicious_checkout(api, buyer, small, big)
    reference, number = placed["checkout"]["reference"], placed["orders"][0]["number"]
    assert await risky.payment_status(api, buyer, reference) == "held"
    code = await risky.code_for(server, buyer)
    await cancel(api, number, buyer.auth)

    assert await payment_status(server, reference) is PaymentStatus.CLOSED
    answer = await risky.verify(api, buyer, reference, code)
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "not_awaiting_verification" and "closed" in error["message"]
    again = await api.post(f"/api/v1/payments/{reference}/verification-code", headers=buyer.auth)
    assert again.status_code == 409, again.text
    shown = await api.get(f"/checkouts/{reference}", headers={**buyer.auth, "accept": "text/html"})
    assert 'data-testid="verify-form"' not in shown.text
    assert 'data-testid="pay-now"' not in shown.text


# --- a provider out of reach -----------------------------------------------------------------


@dataclass
class Gate:
    """A TCP forwarder to the payment sandbox that can be made unreachable: while shut, every
    connection is dropped as it arrives (and counted)."""

    upstream: tuple[str, int]
    listener: socket.socket = field(init=False)
    shut: bool = False
    dropped: int = 0

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                if self.shut:
                    self.dropped += 1
                    conn.close()
                    continue
                threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn: socket.socket) -> None:
        with closing(conn), closing(socket.create_connection(self.upstream)) as up:
            pipes = [
                threading.Thread(target=_pipe, args=(conn, up), daemon=True),
                threading.Thread(target=_pipe, args=(up, conn), daemon=True),
            ]
            for pipe in pipes:
                pipe.start()
            for pipe in pipes:
                pipe.join()

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@dataclass
class GatedSandbox(PaySandbox):
    """The same sandbox, reached by kuaidan through ``gate``."""

    gate: Gate | None = None

    @property
    def url(self) -> str:
        assert self.gate is not None
        return re.sub(r":\d+", f":{self.gate.port}", self.handle.url, count=1)


@pytest.fixture(scope="module")
def gate(pay_sandbox: PaySandbox) -> Iterator[Gate]:
    port = int(httpx.URL(pay_sandbox.url).port or 443)
    opened_gate = Gate(upstream=("127.0.0.1", port))
    try:
        yield opened_gate
    finally:
        opened_gate.close()


@pytest.fixture(scope="module")
async def gated_server(
    server: LiveServer,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
    gate: Gate,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveServer]:
    """A kuaidan server on ``server``'s backend that reaches the provider through ``gate``."""
    sandbox = GatedSandbox(pay_sandbox.handle, pay_sandbox.merchant_dir, gate=gate)
    data_dir = tmp_path_factory.mktemp(f"gated-{server.backend}")
    async with AsyncExitStack() as stack:
        url = None
        if server.backend == "postgres":
            base = base_postgres_url()
            assert base is not None
            url = await stack.enter_async_context(scratch_postgres(base, "gated"))
        running = await stack.enter_async_context(
            live_server(data_dir, url, sandbox, carrier_sandbox)
        )
        yield running


async def test_a_cancel_while_the_provider_is_unreachable_closes_the_trade_later(
    gated_server: LiveServer, gate: Gate, pay_sandbox: PaySandbox
) -> None:
    server = gated_server
    market: Market = await open_market(server)
    async with server.client() as api:
        sku = await new_sku(server, market, market.shop_a, 1800, 2)
        buyer = await new_buyer(api)
        placed = await place(api, buyer, [(sku, 1)])
        reference = placed["checkout"]["reference"]
        async with pay_sandbox.client() as client:
            page = await client.get(placed["checkout"]["pay_url"])
        assert page.status_code == 200, page.text
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token is not None

        gate.shut = True
        try:
            await cancel(api, placed["orders"][0]["number"], buyer.auth)

            async def close_tried() -> bool:
                return gate.dropped > 0

            await eventually(close_tried)  # the worker tried to close the trade, and failed
            assert await trade_status(pay_sandbox, reference) == "WAIT_BUYER_PAY"
            assert await payment_status(server, reference) is PaymentStatus.CLOSED
            shown = (
                await api.get(f"/api/v1/orders/{placed['orders'][0]['number']}", headers=buyer.auth)
            ).json()
            assert shown["status"] == "cancelled"
        finally:
            gate.shut = False

        await closed_at_provider(pay_sandbox, reference)  # retried once the provider is back
        async with pay_sandbox.client() as client:
            paid = await client.post("/cashier/pay", data={"token": token.group(1)})
        assert paid.status_code == 400, paid.text
