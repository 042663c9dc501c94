"""/metrics is served to the configured scraper addresses (loopback by default) or to a
request with the metrics token; anyone else gets a 403 in the error shape and no metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from kuaidan.app import create_app
from kuaidan.bootstrap import build_container
from kuaidan.config import Settings
from tests.conftest import make_settings


@asynccontextmanager
async def _client(
    tmp_path_factory: pytest.TempPathFactory, client_ip: str, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    data_dir = tmp_path_factory.mktemp("metrics")
    settings = make_settings(data_dir, None, run_worker=False).model_copy(update=overrides)
    container = build_container(settings)
    app = create_app(settings, container=container)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://shop.test") as client:
            yield client
    finally:
        await container.aclose()


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "kuaidan_http_requests_total" not in response.text


async def test_metrics_are_refused_to_an_address_not_allowed(tmp_path_factory) -> None:
    async with _client(tmp_path_factory, "203.0.113.9") as client:
        _refused(await client.get("/metrics"))


async def test_metrics_are_served_to_loopback_by_default(tmp_path_factory) -> None:
    async with _client(tmp_path_factory, "127.0.0.1") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "kuaidan_http_requests_total" in response.text


async def test_metrics_are_served_to_a_configured_network(tmp_path_factory) -> None:
    allowed = ("10.1.0.0/16",)
    async with _client(tmp_path_factory, "10.1.2.3", metrics_allow_networks=allowed) as client:
        assert (await client.get("/metrics")).status_code == 200
    async with _client(tmp_path_factory, "127.0.0.1", metrics_allow_networks=allowed) as client:
        _refused(await client.get("/metrics"))


async def test_metrics_are_served_anywhere_with_the_token_and_refused_with_a_wrong_one(
    tmp_path_factory,
) -> None:
    token = "s3cret-scrape-token"
    async with _client(tmp_path_factory, "203.0.113.9", metrics_token=token) as client:
        good = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert good.status_code == 200
        assert "kuaidan_http_requests_total" in good.text
        _refused(await client.get("/metrics", headers={"Authorization": "Bearer wrong"}))
        _refused(await client.get("/metrics"))


def test_a_metrics_network_that_is_not_one_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="metrics_allow_networks"):
        Settings(metrics_allow_networks=("not-a-network",))
