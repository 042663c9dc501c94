"""``serve --workers 2``: ``/metrics`` adds up every worker process, whichever of them
answers the scrape. Each worker used to answer with its own counters only, so one scrape
saw about half of the traffic and the next another half."""

from __future__ import annotations

import asyncio
import re
import ssl

import httpx
import pytest

from kuaidan.bench.spawn import SpawnedServer
from tests.conftest import isolated_database

REQUESTS, CONCURRENCY, SCRAPES = 60, 12, 6
SERVED = re.compile(
    r'^kuaidan_http_requests_total\{method="GET",route="/readyz",status="200"\} (\S+)$', re.M
)


def _served(exposition: str) -> float:
    found = SERVED.search(exposition)
    return float(found.group(1)) if found else 0.0


async def test_metrics_of_a_two_worker_server_count_the_requests_of_both(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with isolated_database("sqlite", tmp_path_factory) as settings:
        server = SpawnedServer(settings, workers=2, extra_env={})
        server.start()
        try:
            context = ssl.create_default_context(cafile=str(server.ca))
            # A new connection for every request: the two workers take them as they come.
            limits = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(
                base_url=server.base_url, verify=context, limits=limits, timeout=30
            ) as client:
                gate = asyncio.Semaphore(CONCURRENCY)

                async def ready() -> None:
                    async with gate:
                        assert (await client.get("/readyz")).status_code == 200

                await asyncio.gather(*(ready() for _ in range(REQUESTS)))
                scrapes = []
                for _ in range(SCRAPES):
                    answer = await client.get("/metrics")
                    assert answer.status_code == 200, answer.text
                    scrapes.append(_served(answer.text))
        finally:
            server.stop()
    assert scrapes == [REQUESTS] * SCRAPES
