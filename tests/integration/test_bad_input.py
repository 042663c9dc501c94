"""Sweep every API route with bad input: always a clear 4xx in one JSON shape, never a 500.

The routes come from the app's own OpenAPI document, so a new route is swept the day it lands.
Each route gets malformed JSON, a body of the wrong type, unknown fields, an oversized body,
bad pagination and unknown or malformed ids, both anonymously and as an admin (who passes every
role check, so the input itself is what gets judged). Nothing may be written by any of it.

A second sweep sends ids that cannot exist (2⁶³, 10³⁰, 0, negative) in every integer path,
query and body field, and control characters in every text field of a body that is otherwise
well formed, as a buyer and as an admin: each is refused with a 4xx, never stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from kuaidan.accounts.domain import Role
from tests.conftest import LiveServer
from tests.factories import PASSWORD, UserFactory

UNKNOWN_ID = "987654321"
WRITE_METHODS = {"post", "put", "patch", "delete"}
# Tables that change on their own while the server runs (worker, readiness probe).
SELF_CHANGING_TABLES = {"outbox_events", "outbox_deliveries", "scheduled_jobs", "ops_heartbeats"}
IMPOSSIBLE_INTS = (2**63, 10**30, -1)  # no integer field takes these; ids take no 0 either
CONTROL_TEXTS = ("nul\x00here", "bell\x07", "esc\x1b[2J", "c1\x85next", "del\x7f")


@dataclass(frozen=True)
class Probe:
    label: str
    method: str
    path: str
    content: bytes | None = None
    content_type: str | None = None
    params: dict[str, str] | None = None
    field: str | None = None  # a body field that must be refused by name (422)


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


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _sample(schema: dict[str, Any], node: dict[str, Any]) -> Any:
    """A small value that the node's JSON Schema accepts (required properties only)."""
    node = _resolve(schema, node)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return _sample(schema, next(n for n in node[key] if n.get("type") != "null"))
    if "enum" in node:
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    kind = node.get("type")
    if kind == "object":
        return {
            name: _sample(schema, prop)
            for name, prop in node.get("properties", {}).items()
            if name in node.get("required", ())
        }
    if kind == "array":
        return [_sample(schema, node["items"])] * max(1, node.get("minItems", 1))
    if kind in ("integer", "number"):
        return max(1, int(node.get("minimum", 1)))
    if kind == "boolean":
        return True
    return "x" * max(1, node.get("minLength", 1))


def _leaves(
    schema: dict[str, Any], node: dict[str, Any], path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each integer or free-text leaf of a body schema, as a path into a sampled body."""
    node = _resolve(schema, node)
    for key in ("anyOf", "oneOf"):
        for option in node.get(key, ()):
            yield from _leaves(schema, option, path)
    kind = node.get("type")
    if kind == "object":
        for name, prop in node.get("properties", {}).items():
            yield from _leaves(schema, prop, (*path, name))
    elif kind == "array":
        yield from _leaves(schema, node["items"], (*path, 0))
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        yield from _leaves(schema, node["additionalProperties"], (*path, "*"))
    elif kind == "integer" or (kind == "string" and not {"enum", "format"} & node.keys()):
        yield path, kind


def _with(
    body: Any,
    schema: dict[str, Any],
    op_body: dict[str, Any],
    path: tuple[str | int, ...],
    value: Any,
) -> Any:
    """A copy of ``body`` with the leaf at ``path`` set to ``value`` (filling what is missing)."""
    body = json.loads(json.dumps(body))
    node, target = _resolve(schema, op_body), body
    for depth, step in enumerate(path):
        node = _resolve(schema, node)
        options = [node, *(_resolve(schema, n) for n in node.get("anyOf", ()))]
        node = next(o for o in options if o.get("type") in ("object", "array"))
        if step == "*":  # a value of a map: under the key "1"
            child, step = node["additionalProperties"], "1"
        else:
            child = node["properties"][step] if isinstance(step, str) else node["items"]
        last = depth == len(path) - 1
        if isinstance(step, str):
            if last:
                target[step] = value
            else:
                target = target.setdefault(step, _sample(schema, child))
        else:
            if not target:
                target.append(_sample(schema, child))
            if last:
                target[0] = value
            else:
                target = target[0]
        node = child
    return body


def edge_probes(
    schema: dict[str, Any], method: str, path: str, op: dict[str, Any]
) -> Iterator[Probe]:
    """Impossible ids in each integer parameter and body field; control characters in text."""
    json_type = "application/json"
    params = op.get("parameters", [])
    body_schema = op.get("requestBody", {}).get("content", {}).get(json_type, {}).get("schema")
    body = _sample(schema, body_schema) if body_schema else None
    content = json.dumps(body).encode() if body_schema else None
    fill = {p["name"]: UNKNOWN_ID if _int(schema, p["schema"]) else "x" for p in params}
    fill = {**dict.fromkeys(re.findall(r"\{([^}]+)\}", path), "x"), **fill}
    concrete = _fill_each(path, fill)
    for param in params:
        if not _int(schema, param["schema"]):
            continue
        name = param["name"]
        for bad in _impossible(name):
            label = f"{param['in']} {name}={bad}"
            if param["in"] == "path":
                where = _fill_each(path, {**fill, name: str(bad)})
                yield Probe(label, method, where, content, json_type if content else None)
            elif param["in"] == "query":
                yield Probe(
                    label,
                    method,
                    concrete,
                    content,
                    json_type if content else None,
                    params={param["name"]: str(bad)},
                )
    if body_schema is None:
        return
    for leaf, kind in _leaves(schema, body_schema):
        name = next((s for s in reversed(leaf) if isinstance(s, str) and s != "*"), "")
        values: tuple[int | str, ...] = _impossible(name) if kind == "integer" else CONTROL_TEXTS
        for wrong in values:
            sent = json.dumps(_with(body, schema, body_schema, leaf, wrong)).encode()
            label = f"body {'.'.join(map(str, leaf))}={wrong!r}"
            yield Probe(label, method, concrete, sent, json_type, field=name)


def _impossible(name: str) -> tuple[int, ...]:
    return (
        (*IMPOSSIBLE_INTS, 0) if name == "id" or name.endswith(("_id", "_ids")) else IMPOSSIBLE_INTS
    )


def _fill_each(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values[m[1]], path)


def _int(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    node = _resolve(schema, node)
    return node.get("type") == "integer" or any(_int(schema, n) for n in node.get("anyOf", ()))


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


async def _admin_token(server: LiveServer, api: httpx.AsyncClient, role: Role = Role.ADMIN) -> str:
    uow = server.uow()
    try:
        user = await UserFactory.create(uow, role=role, display_name="sweeper")
    finally:
        await uow.close()
    response = await api.post(
        "/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD, "name": "sweep"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _named_fields(details: Any) -> set[str]:
    """The fields an error names: each ``loc`` of a validation error, or a domain error's."""
    if isinstance(details, dict):
        return {str(details.get("field"))}
    return {str(part) for d in details or () if isinstance(d, dict) for part in d.get("loc", ())}


def _check(probe: Probe, response: httpx.Response, failures: list[str]) -> bool:
    """A 4xx in the error shape; a bad body field sent by someone allowed to call the route
    is a 422 naming that field, whatever the rest of the request. True when it was judged
    (the caller's role was not refused first)."""
    where = f"{probe.method.upper()} {probe.path} [{probe.label}] → {response.status_code}"
    if not 400 <= response.status_code < 500:
        failures.append(f"{where}: expected a 4xx; body {response.text[:200]}")
        return False
    try:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
    except (ValueError, KeyError, TypeError, AssertionError):
        failures.append(f"{where}: not the error shape: {response.text[:200]}")
        return False
    if response.status_code in (401, 403):
        return False
    if probe.field:
        named = probe.field in _named_fields(error.get("details"))
        if response.status_code != 422 or not named:
            failures.append(f"{where}: expected a 422 naming {probe.field}: {response.text[:200]}")
    return True


async def test_api_sweep_answers_bad_input_with_clear_4xx_and_writes_nothing(
    server: LiveServer, api: httpx.AsyncClient
) -> None:
    token = await _admin_token(server, api)
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


async def test_api_sweep_refuses_impossible_ids_and_control_characters(
    server: LiveServer, api: httpx.AsyncClient
) -> None:
    roles = (Role.ADMIN, Role.BUYER, Role.MERCHANT)  # one of them may call each route
    tokens = [await _admin_token(server, api, role) for role in roles]
    schema = (await api.get("/openapi.json")).json()
    before = await _row_counts(server)
    failures: list[str] = []
    swept = 0
    for method, path, op in _api_operations(schema):
        for probe in edge_probes(schema, method, path, op):
            judged = False
            for token in tokens:
                headers = {"Authorization": f"Bearer {token}"}
                if probe.content_type:
                    headers["Content-Type"] = probe.content_type
                response = await api.request(
                    probe.method,
                    probe.path,
                    content=probe.content,
                    params=probe.params,
                    headers=headers,
                )
                judged |= _check(probe, response, failures)
                swept += 1
            if probe.field and not judged:
                failures.append(f"{method.upper()} {path} [{probe.label}]: no role was let in")
    assert swept > 200, "the sweep found too few integer and text fields to be meaningful"
    assert failures == [], "\n".join(failures)
    assert await _row_counts(server) == before, "a refused request wrote something"


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


async def test_control_characters_in_real_requests_are_refused_naming_the_field(
    server: LiveServer, api: httpx.AsyncClient
) -> None:
    """On an order that exists (the sweep's unknown ids stop at a 404 first): a NUL or another
    control character in a note or a reason is a 422 naming the field, and nothing is stored.
    The pages' forms reach the same cleaning in the service (``core.text.one_line``)."""
    from tests.integration.ordering_support import new_buyer, new_sku, open_market, place

    market = await open_market(server)
    sku = await new_sku(server, market, market.shop_a, 2500, 10)
    buyer = await new_buyer(api)
    items = [{"sku_id": sku, "quantity": 1}]
    body = {"items": items, "address_id": buyer.address_id, "note": "请放门口\x00"}
    headers = {**buyer.auth, "Idempotency-Key": "nul-note"}
    refused = await api.post("/api/v1/checkouts", json=body, headers=headers)
    assert refused.status_code == 422, refused.text
    assert "note" in json.dumps(refused.json()["error"])
    too_far = {**body, "note": "", "accepted_prices": {str(2**63): 2500}}
    refused = await api.post("/api/v1/checkouts", json=too_far, headers=headers)
    assert refused.status_code == 422, refused.text
    assert "accepted_prices" in json.dumps(refused.json()["error"])

    placed = await place(api, buyer, [(sku, 1)])
    number = placed["orders"][0]["number"]
    for reason in ("不要了\x00", "bell\x07", "c1\x85"):
        cancel = await api.post(
            f"/api/v1/orders/{number}/cancel", json={"reason": reason}, headers=buyer.auth
        )
        assert cancel.status_code == 422, cancel.text
        assert "reason" in json.dumps(cancel.json()["error"])
    shown = (await api.get(f"/api/v1/orders/{number}", headers=buyer.auth)).json()
    assert shown["status"] == "pending_payment"

    uow = server.uow()
    try:
        # Read back rather than LIKE: SQLite ends a pattern at its NUL, matching every note.
        notes = await uow.session.execute(text("SELECT note FROM orders WHERE note IS NOT NULL"))
        assert not [note for (note,) in notes if "\x00" in note]
    finally:
        await uow.close()


async def test_page_forms_refuse_control_characters_with_the_form_and_the_field(
    server: LiveServer, api: httpx.AsyncClient
) -> None:
    """A control character typed into a page's form (a place, an address, a reason) shows the
    form again with a message naming the field, and nothing of it is stored. (A place name is
    matched against the places logistics knows, so a NUL in it never reaches storage.)"""
    from kuaidan.merchants import service as merchants
    from tests.integration.ordering_support import Buyer, new_sku, open_market, place, token_for
    from tests.integration.test_ordering_pages import browser_like, csrf, log_in, new_user

    market = await open_market(server)
    staff = await new_user(server, Role.MERCHANT, merchant_id=market.shop_a)
    async with browser_like(server) as client:
        await log_in(client, staff)
        token = await csrf(client, "/merchant/settings/shipping")
        address = {"recipient": "售后\x07", "phone": "13800001111", "province": "浙江"}
        address |= {"city": "杭州", "line": "文三路 90 号", "csrf_token": token}
        answer = await client.post("/merchant/settings/shipping/return-address", data=address)
        assert answer.status_code == 422, answer.text[:300]
        assert 'name="recipient"' in answer.text and "recipient must not contain" in answer.text

    buyer_user = await new_user(server)
    buyer_token = await token_for(api, buyer_user.email)
    addresses = await api.get(
        "/api/v1/me/addresses", headers={"Authorization": f"Bearer {buyer_token}"}
    )
    buyer = Buyer(buyer_user.id, buyer_token, addresses.json()[0]["id"])
    sku = await new_sku(server, market, market.shop_a, 2500, 10)
    number = (await place(api, buyer, [(sku, 1)]))["orders"][0]["number"]
    async with browser_like(server) as client:
        await log_in(client, buyer_user)
        token = await csrf(client, f"/orders/{number}")
        answer = await client.post(
            f"/orders/{number}/cancel", data={"reason": "不要了\x00", "csrf_token": token}
        )
        assert answer.status_code == 422, answer.text[:300]
        assert 'name="reason"' in answer.text and "reason must not contain" in answer.text

    uow = server.uow()
    try:
        assert await merchants.get_return_address(uow=uow, merchant_id=market.shop_a) is None
    finally:
        await uow.close()
    shown = await api.get(f"/api/v1/orders/{number}", headers=buyer.auth)
    assert shown.json()["status"] == "pending_payment"
