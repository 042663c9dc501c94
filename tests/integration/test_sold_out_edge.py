"""The sold-out edge: once a SKU is known sold out, its checkouts are answered before the
application stack, the same answer the route gives, and a winner's retry still gets its order."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kuaidan.bootstrap import Container, build_container
from kuaidan.core.tls import ensure_self_signed
from kuaidan.inventory import service as inventory
from tests.conftest import PaySandbox, _ThreadedServer, isolated_database
from tests.integration.test_flash_sale import Sale, open_sale

UNKNOWN_TOKEN = "kd_" + "x" * 43


@dataclass
class Edge:
    base_url: str
    ca: str
    container: Container

    def client(self) -> httpx.AsyncClient:
        verify = ssl.create_default_context(cafile=self.ca)
        return httpx.AsyncClient(base_url=self.base_url, verify=verify, timeout=30.0)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@asynccontextmanager
async def _server(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    pay_sandbox: PaySandbox,
    *,
    sold_out_ttl_s: float,
) -> AsyncIterator[Edge]:
    async with isolated_database(backend, tmp_path_factory) as settings:
        pay_sandbox.share_merchant_files(settings.data_dir)
        settings = settings.model_copy(
            update={**pay_sandbox.kuaidan_settings(), "flash_sold_out_ttl_s": sold_out_ttl_s}
        )
        cert, key = ensure_self_signed(settings.data_dir)
        running = _ThreadedServer(settings, cert, key)
        running.start()
        container = build_container(settings)
        try:
            yield Edge(f"https://127.0.0.1:{running.port}", str(cert), container)
        finally:
            running.stop()
            await container.aclose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def edge(
    backend: str, tmp_path_factory: pytest.TempPathFactory, pay_sandbox: PaySandbox
) -> AsyncIterator[Edge]:
    """A server whose sold-out marks last a minute, so the test decides when they go."""
    async with _server(backend, tmp_path_factory, pay_sandbox, sold_out_ttl_s=60.0) as served:
        yield served


async def _checkout(
    client: httpx.AsyncClient, sale: Sale, who: int, key: str, *, token: str | None = None
) -> httpx.Response:
    buyer = sale.buyers[who]
    return await client.post(
        "/api/v1/checkouts",
        json={"items": [{"sku_id": sale.sku_id, "quantity": 1}], "address_id": buyer.address_id},
        headers={"Authorization": f"Bearer {token or buyer.token}", "Idempotency-Key": key},
    )


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict)
    return dict(body["error"])


async def test_known_sold_out_is_answered_before_the_token_and_a_winner_retry_gets_its_order(
    edge: Edge,
) -> None:
    sale = await open_sale(edge.container, units=1, buyers=3, tag=uuid.uuid4().hex[:8])
    async with edge.client() as client:
        # Nothing is marked yet: an unknown token is refused as on any other route.
        refused = await _checkout(client, sale, 2, uuid.uuid4().hex, token=UNKNOWN_TOKEN)
        assert refused.status_code == 401

        winner_key = uuid.uuid4().hex
        won = await _checkout(client, sale, 0, winner_key)
        assert won.status_code == 201, won.text
        # The database says sold out (through the whole route), and the gate remembers it.
        lost = await _checkout(client, sale, 1, uuid.uuid4().hex)
        assert lost.status_code == 409 and _error(lost)["code"] == "out_of_stock"

        # Now the edge answers: the same answer, without asking who it is.
        early = await _checkout(client, sale, 2, uuid.uuid4().hex, token=UNKNOWN_TOKEN)
        assert early.status_code == 409
        assert _error(early) == _error(lost)

        # The winner's retry with its key is not a sold-out: it gets its order back.
        again = await _checkout(client, sale, 0, winner_key)
        assert again.status_code == 200, again.text
        assert again.json()["checkout"]["reference"] == won.json()["checkout"]["reference"]
        assert [o["number"] for o in again.json()["orders"]] == [
            o["number"] for o in won.json()["orders"]
        ]


async def test_requests_the_route_would_refuse_still_get_the_route_s_answer(edge: Edge) -> None:
    sale = await open_sale(edge.container, units=1, buyers=2, tag=uuid.uuid4().hex[:8])
    async with edge.client() as client:
        assert (await _checkout(client, sale, 0, uuid.uuid4().hex)).status_code == 201
        assert (await _checkout(client, sale, 1, uuid.uuid4().hex)).status_code == 409
        headers = {"Authorization": f"Bearer {UNKNOWN_TOKEN}", "Idempotency-Key": "k-1"}
        item = {"sku_id": sale.sku_id, "quantity": 1}
        address = sale.buyers[1].address_id
        # Not valid as a checkout: the route validates it after the token, so 401 first.
        for body in (
            {"items": [{**item, "quantity": 0}], "address_id": address},
            {"items": [item], "address_id": address, "surprise": True},
            {"from_cart": True, "address_id": address},
        ):
            answer = await client.post("/api/v1/checkouts", json=body, headers=headers)
            assert answer.status_code == 401, body
        no_key = await client.post(
            "/api/v1/checkouts",
            json={"items": [item], "address_id": address},
            headers={"Authorization": f"Bearer {sale.buyers[1].token}"},
        )
        assert no_key.status_code == 422
        # With a valid token, an invalid body gets the route's own 422, not a sold-out.
        bad = await client.post(
            "/api/v1/checkouts",
            json={"items": [{**item, "quantity": 0}], "address_id": address},
            headers={"Authorization": f"Bearer {sale.buyers[1].token}", "Idempotency-Key": "k-2"},
        )
        assert bad.status_code == 422 and _error(bad)["code"] == "invalid_input"


async def test_many_at_once_share_the_key_reads_and_the_winner_still_gets_its_order(
    edge: Edge,
) -> None:
    sale = await open_sale(edge.container, units=1, buyers=2, tag=uuid.uuid4().hex[:8])
    async with edge.client() as client:
        winner_key = uuid.uuid4().hex
        won = await _checkout(client, sale, 0, winner_key)
        assert won.status_code == 201, won.text
        assert (await _checkout(client, sale, 1, uuid.uuid4().hex)).status_code == 409
        # Forty losers with tokens nobody knows, and the winner's retry in the middle of them.
        losers = [
            _checkout(client, sale, 1, uuid.uuid4().hex, token=UNKNOWN_TOKEN) for _ in range(40)
        ]
        answers = await asyncio.gather(
            *losers[:20], _checkout(client, sale, 0, winner_key), *losers[20:]
        )
    retry = answers[20]
    assert retry.status_code == 200, retry.text
    assert retry.json()["checkout"]["reference"] == won.json()["checkout"]["reference"]
    others = answers[:20] + answers[21:]
    assert {a.status_code for a in others} == {409}
    assert {_error(a)["code"] for a in others} == {"out_of_stock"}


async def test_stock_put_back_elsewhere_is_sold_once_the_mark_lapses(
    backend: str, tmp_path_factory: pytest.TempPathFactory, pay_sandbox: PaySandbox
) -> None:
    """The edge never answers from a lapsed mark: the next checkout goes to the database,
    which has the unit another node (here the test's own container) put back."""
    async with _server(backend, tmp_path_factory, pay_sandbox, sold_out_ttl_s=0.5) as served:
        await _sold_again_after_the_lapse(served)


async def _sold_again_after_the_lapse(short_marks: Edge) -> None:
    sale = await open_sale(short_marks.container, units=1, buyers=3, tag=uuid.uuid4().hex[:8])
    async with short_marks.client() as client:
        assert (await _checkout(client, sale, 0, uuid.uuid4().hex)).status_code == 201
        assert (await _checkout(client, sale, 1, uuid.uuid4().hex)).status_code == 409
        uow = short_marks.container.unit_of_work()
        try:
            await inventory.restock(uow=uow, sku_id=sale.sku_id, quantity=1, reason="found")
        finally:
            await uow.close()
        # The server was not told: while its mark stands, the edge still says sold out.
        early = await _checkout(client, sale, 2, uuid.uuid4().hex, token=UNKNOWN_TOKEN)
        assert early.status_code == 409
        await asyncio.sleep(0.6)
        again = await _checkout(client, sale, 1, uuid.uuid4().hex)
        assert again.status_code == 201, again.text
        # Sold out again, found by the database and marked anew.
        assert (await _checkout(client, sale, 2, uuid.uuid4().hex)).status_code == 409
