"""A server starting on top of a backlog of events answers first: its in-process worker waits
``worker_start_delay_s`` before the first pass, and then drains the backlog as usual."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar

import httpx
import pytest

from kuaidan.app import create_app
from kuaidan.bootstrap import Container, build_container
from kuaidan.core import outbox
from kuaidan.core.tls import ensure_self_signed
from tests.conftest import eventually, isolated_database


@dataclass(frozen=True)
class Noted:
    topic: ClassVar[str] = "test.noted"
    n: int


async def _waiting(container: Container) -> int:
    uow = container.unit_of_work()
    try:
        return (await outbox.backlog(uow))["events_waiting"]
    finally:
        await uow.close()


@asynccontextmanager
async def _started_on_a_backlog(
    tmp_path_factory: pytest.TempPathFactory, *, delay_s: float
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async with isolated_database("sqlite", tmp_path_factory) as base:
        settings = base.model_copy(
            update={"run_worker_in_process": True, "worker_start_delay_s": delay_s}
        )
        ensure_self_signed(settings.data_dir)  # webhook deliveries trust the server's own
        container = build_container(settings)
        uow = container.unit_of_work()
        async with uow.atomic():
            await outbox.publish(uow, Noted(1))
        await uow.close()
        app = create_app(settings, container=container)
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="https://shop.test"
                ) as client:
                    yield container, client
        finally:
            await container.aclose()


async def test_a_started_server_answers_before_its_worker_takes_on_the_backlog(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with _started_on_a_backlog(tmp_path_factory, delay_s=3600.0) as (container, client):
        assert (await client.get("/readyz")).status_code == 200
        await asyncio.sleep(1.0)  # several poll intervals: a worker running now would have run
        assert await _waiting(container) == 1


async def test_the_in_process_worker_drains_the_backlog_once_its_delay_has_passed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with _started_on_a_backlog(tmp_path_factory, delay_s=0.3) as (container, _client):

        async def drained() -> bool:
            return await _waiting(container) == 0

        await eventually(drained, timeout_s=20)
