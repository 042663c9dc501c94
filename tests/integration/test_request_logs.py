"""A served request's log lines are JSON objects with its request id, trace id and the
order or checkout it worked on: a client's report (its ``X-Request-ID``) leads to the lines."""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx
import pytest

from tests.conftest import isolated_database
from tests.integration.test_durability import ServerProcess, _open_shop

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_each_line_of_a_request_carries_its_ids(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with isolated_database("sqlite", tmp_path_factory) as settings:
        shop = await _open_shop(settings)
        log = settings.data_dir / "server.log"
        server = ServerProcess(settings, log=log)
        server.env["KUAIDAN_LOG_LEVEL"] = "info"
        server.start()
        try:
            verify = ssl.create_default_context(cafile=str(server.ca))
            auth = {"Authorization": f"Bearer {shop.token}"}
            async with httpx.AsyncClient(
                base_url=server.base_url, verify=verify, headers=auth, timeout=30
            ) as client:
                items = [{"sku_id": shop.sku_ids[0], "quantity": 1}]
                body = {"items": items, "address_id": shop.address_id}
                placed = await client.post(
                    "/api/v1/checkouts",
                    json=body,
                    headers={
                        "Idempotency-Key": "logs-1",
                        "X-Request-ID": "client-req-1",
                        "traceparent": f"00-{TRACE}-b7ad6b7169203331-01",
                    },
                )
                assert placed.status_code == 201, placed.text
                assert placed.headers["x-request-id"] == "client-req-1"
                reference = placed.json()["checkout"]["reference"]
                number = placed.json()["orders"][0]["number"]
                read = await client.get(
                    f"/api/v1/orders/{number}", headers={"X-Request-ID": "client-req-2"}
                )
                assert read.status_code == 200, read.text
                odd = await client.get("/healthz", headers={"X-Request-ID": "not an id"})
                generated = odd.headers["x-request-id"]
                assert generated != "not an id" and len(generated) == 16
        finally:
            server.stop()
    lines = _lines(log.read_text())  # every line parses: nothing is logged as bare text
    access = {line["request_id"]: line for line in lines if line["logger"] == "uvicorn.access"}
    placing = access["client-req-1"]
    assert placing["trace_id"] == TRACE and placing["checkout"] == reference
    assert "POST /api/v1/checkouts" in placing["event"]
    reading = access["client-req-2"]
    assert reading["order"] == number and len(reading["trace_id"]) == 32
    assert reading["trace_id"] != TRACE  # a request without traceparent starts a trace
    assert generated in access
