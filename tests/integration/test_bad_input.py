"""Sweep every API route with bad input: always a clear 4xx in one JSON shape, never a 500.

The routes come from the app's own OpenAPI document, so a new route is swept the day it lands.
Each route gets malformed JSON, a body of the wrong type, unknown fields, an oversized body,
bad pagination and unknown or malformed ids, both anonymously and as an admin (who passes every
role check, so the input itself is what gets judged). Nothing may be written by any of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role
from tests.conftest import LiveServer

UNKNOWN_ID = "987654321"
WRITE_METHODS = {"post", "put", "patch", "delete"}
# Tables that change on their own while the server runs (worker, readiness probe).
SELF_CHANGING_TABLES = {"outbox_events", "outbox_deliveries", "scheduled_jobs", "ops_heartbeats"}


@dataclass(frozen=True)
class Probe:
    label: str
    method: str
    path: str
    content: bytes | None = None
    content_type: str | None = None
    params: dict[str, str] | None = None


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _api_operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        if path.startswith("/api/"):
            for method, op in item.items():
                if method in WRITE_METHODS | {"get"}:
                    yield method, path, op


def probes_for(method: str, path: str, op: dict[str, Any], max_body: int) -> Iterator[Probe]:
    concrete = _fill(path, UNKNOWN_ID)
    if "{" in path:
        yield Probe("unknown id", method, concrete, b"{}", "application/json")
        yield Probe("malformed id", method, _fill(path, "not-an-id"), b"{}", "application/json")
    query = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
    for name in query & {"page", "page_size"}:
        for bad in ("0", "-3", "many", "100000000"):
            yield Probe(f"bad {name}={bad}", method, concrete, params={name: bad})
    if method in WRITE_METHODS and "requestBody" in op:
        json_type = "application/json"
        yield Probe("malformed json", method, concrete, b'{"title": "unclosed', json_type)
        yield Probe("wrong type", method, concrete, b'[1, 2, "three"]', json_type)
        yield Probe("wrong field types", method, concrete, b'{"email": 5, "price": []}', json_type)
        yield Probe("unknown fields", method, concrete, b'{"zz_unknown": true}', json_type)
        yield Probe(
            "oversized", method, concrete, b"[" + b"1," * (max_body // 2) + b"1]", json_type
        )


async def _row_counts(server: LiveServer) -> dict[str, int]:
    uow = server.uow()
    try:
        conn = await uow.session.connection()
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        counts = {}
        for table in sorted(set(tables) - SELF_CHANGING_TABLES - {"alembic_version"}):
            counts[table] = (
                await conn.execute(text(f'SELECT count(*) FROM "{table}"'))
            ).scalar_one()
        return counts
    finally:
        await uow.close()


async def _admin_token(server: LiveServer, api: httpx.AsyncClient, unique: str) -> str:
    email, password = f"sweep-{unique}@ops.kuaidan.test", f"sweep-pass-{unique}"
    uow = server.uow()
    try:
        await accounts.create_user(
            uow=uow, email=email, password=password, role=Role.ADMIN, display_name="sweeper"
        )
    finally:
        await uow.close()
    response = await api.post(
        "/api/v1/auth/tokens", json={"email": email, "password": password, "name": "sweep"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _check(probe: Probe, response: httpx.Response, failures: list[str]) -> None:
    where = f"{probe.method.upper()} {probe.path} [{probe.label}] → {response.status_code}"
    if not 400 <= response.status_code < 500:
        failures.append(f"{where}: expected a 4xx; body {response.text[:200]}")
        return
    try:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
    except (ValueError, KeyError, TypeError, AssertionError):
        failures.append(f"{where}: not the error shape: {response.text[:200]}")


async def test_api_sweep_answers_bad_input_with_clear_4xx_and_writes_nothing(
    server: LiveServer, api: httpx.AsyncClient, unique: str
) -> None:
    token = await _admin_token(server, api, unique)
    schema = (await api.get("/openapi.json")).json()
    before = await _row_counts(server)
    failures: list[str] = []
    swept = 0
    for method, path, op in _api_operations(schema):
        for probe in probes_for(method, path, op, server.settings.max_body_bytes):
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                if probe.content_type:
                    headers = {**headers, "Content-Type": probe.content_type}
                response = await api.request(
                    probe.method,
                    probe.path,
                    content=probe.content,
                    params=probe.params,
                    headers=headers,
                )
                _check(probe, response, failures)
                swept += 1
    assert swept > 20, "the sweep found too few routes to be meaningful"
    assert failures == []
    assert await _row_counts(server) == before, "a rejected request wrote something"


@pytest.mark.parametrize(
    "path",
    [
        "/p/987654321",
        "/p/not-a-number",
        "/c/no-such-category",
        "/search?page=-1",
        "/search?page_size=100000",
        "/search?min_price=cheap",
        "/search?min_price=50&max_price=10",
        "/no/such/page",
    ],
)
async def test_pages_answer_bad_input_with_a_friendly_page(
    api: httpx.AsyncClient, path: str
) -> None:
    response = await api.get(path, headers={"Accept": "text/html"})
    assert 400 <= response.status_code < 500 or response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    assert "Traceback" not in response.text
    if response.status_code == 200:  # a search with bad filters explains instead of failing
        assert (
            "error" in response.text.lower()
            or "无效" in response.text
            or "invalid" in response.text.lower()
        )


async def test_unknown_api_route_and_wrong_method_are_json_errors(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await api.delete("/api/v1/products")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
