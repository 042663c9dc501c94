"""The OpenAPI document is the API's contract: what it declares is what the server answers.

Security schemes are declared, and each operation's error answers: those it can give (a wrong
password is a 401, an unknown category a 404), not those it cannot (nothing is looked up by id
when signing in), each with the one error body; a 405 names every method the path takes. The
bounded schemathesis run in test_schemathesis.py checks the answers themselves.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", "/api/v1/cart/items/5", {"PUT", "DELETE"}),
        ("PUT", "/api/v1/me/addresses/1", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/api/v1/products", {"GET"}),
    ],
)
async def test_method_not_allowed_names_every_method_of_the_path(
    api: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await api.request(method, path)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    named = {part.strip() for part in response.headers["allow"].split(",")}
    assert named == allowed


@pytest.fixture
async def document(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def _declared(document: dict[str, Any], method: str, path: str) -> set[int]:
    responses = document["paths"][path][method.lower()]["responses"]
    return {int(status) for status in responses if status[0] in "45"}


@pytest.mark.parametrize(
    ("method", "path", "declared", "not_declared"),
    [
        # A wrong password is a 401 and a locked account a 423; nothing is looked up by id.
        ("POST", "/api/v1/auth/tokens", {401, 422, 423}, {404, 409}),
        ("POST", "/api/v1/auth/register", {409, 422}, {401, 404}),
        # Anyone may read the catalogue: no 401 or 403; an unknown category is a 404.
        ("GET", "/api/v1/products", {404, 422}, {401, 403, 409}),
        ("GET", "/api/v1/products/{product_id}", {404, 422}, {401, 403, 409}),
        # A buyer's own things: signed in (401), a role (403), by id (404).
        ("GET", "/api/v1/me", {401}, {404, 409, 422}),
        ("DELETE", "/api/v1/me/addresses/{address_id}", {401, 403, 404, 422}, {409}),
        ("POST", "/api/v1/me/addresses", {401, 403, 409, 422}, {404}),
        # Staff have no cart; a line can be out of stock.
        ("GET", "/api/v1/cart", {401, 403}, {404, 409}),
        ("PUT", "/api/v1/cart/items/{sku_id}", {403, 404, 409, 422}, set()),
        ("POST", "/api/v1/checkouts", {401, 403, 404, 409, 422, 429}, set()),
        ("POST", "/api/v1/payments/{reference}/verification-code", {404, 409, 429}, set()),
        ("POST", "/api/v1/risk/rules/reset", {401, 403, 409}, {404, 422}),
    ],
)
async def test_each_operation_declares_the_errors_it_can_give_and_no_others(
    document: dict[str, Any], method: str, path: str, declared: set[int], not_declared: set[int]
) -> None:
    answers = _declared(document, method, path)
    assert declared <= answers, f"{method} {path} lacks {declared - answers}"
    assert not answers & not_declared, f"{method} {path} declares {answers & not_declared}"


async def test_every_error_answer_has_the_one_error_body_and_signed_in_routes_a_scheme(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"]["in"] == "cookie"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorAnswer"}, (path, status)
            password_login = (method, path) == ("post", "/api/v1/auth/tokens")
            if "401" in operation["responses"] and not password_login:
                assert {"bearer": []} in operation.get("security", []), (method, path)


async def test_a_wrong_password_is_the_declared_401(api: httpx.AsyncClient) -> None:
    body = {"email": "nobody@example.com", "password": "not the password"}
    response = await api.post("/api/v1/auth/tokens", json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
