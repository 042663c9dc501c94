"""The API's published contract: the OpenAPI document's error answers and security, and 405s.

FastAPI writes the document from the routes; this module completes it in one place. Every
operation declares the error answers it can really give, each with the one error body, and
says who may call it (an API token as a bearer, or the page session cookie; both are declared
as schemes in ``kuaidan.deps``, where the caller is resolved). Routes registered one per method
would make a 405 name only the first route's methods; ``allowed_methods`` names them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field
from starlette.routing import compile_path

from kuaidan import deps

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ERROR_REF = "#/components/schemas/ErrorAnswer"
REASONS = {
    400: "The body could not be read as JSON (malformed, or not UTF-8)",
    401: "Not signed in, or the API token is invalid, expired or revoked",
    403: "Signed in, but this role may not do it (or a form lacks its CSRF token)",
    404: "Nothing with this id, or not the caller's",
    409: "The state of things forbids it now (already done, changed meanwhile, out of stock)",
    413: "The body is larger than the server accepts",
    422: "The input is not valid; ``details`` names each field and what is wrong with it",
    423: "The account is locked after too many failed sign-ins",
    429: "Too many requests of this kind; try again later",
    503: "The database is briefly unavailable; retry after ``Retry-After`` seconds",
}
# Answers that only some use cases give, by operation: path and method as in the document.
EXTRA_ANSWERS: dict[tuple[str, str], frozenset[int]] = {
    ("/api/v1/auth/tokens", "post"): frozenset({401, 423}),  # a wrong password; locked
    ("/api/v1/cart", "get"): frozenset({403}),  # staff have no cart
    ("/api/v1/products", "get"): frozenset({404}),  # an unknown category
    ("/api/v1/checkouts", "post"): frozenset({404, 429}),  # the address; a full flash queue
    ("/api/v1/payments/{reference}/verification-code", "post"): frozenset({429}),
}
# Changes that nothing can forbid once the caller and the input are right.
NEVER_CONFLICT: frozenset[tuple[str, str]] = frozenset(
    {
        ("/api/v1/auth/tokens", "post"),
        ("/api/v1/auth/tokens/{token_id}", "delete"),
        ("/api/v1/me", "patch"),
        ("/api/v1/me/addresses/{address_id}", "patch"),
        ("/api/v1/me/addresses/{address_id}", "delete"),
        ("/api/v1/merchant/webhooks/{endpoint_id}", "delete"),
        ("/api/v1/cart/items/{sku_id}", "delete"),
    }
)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: e.g. not_found, out_of_stock")
    message: str = Field(description="For people: what went wrong and what to do")
    details: Any = Field(None, description="Per field (validation) or per case, when known")


class ErrorAnswer(BaseModel):
    """Every error answer of the API has this one shape."""

    error: ErrorDetail


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorAnswer, ErrorDetail):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)
        schemas[model.__name__] = schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, method, route in _operations(app):
        operation = document["paths"][path][method]
        _declare_errors(operation, _error_answers(path, method, route))
        if _uses(route.dependant, deps.load_optional_user) and not _uses(
            route.dependant, deps.require_user
        ):
            operation.setdefault("security", []).append({})  # a guest may call it too
    return document


def _operations(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(app.routes):
        route = context.route
        if isinstance(route, APIRoute) and route.include_in_schema and context.path:
            for method in sorted(route.methods or ()):
                yield context.path, method.lower(), route


def _error_answers(path: str, method: str, route: APIRoute) -> set[int]:
    """What this operation can answer besides success: 401/403 when it needs a caller or a
    role (or a CSRF token), 404 when a path names something, 409 for a change that the state
    of things can forbid, 422 when it takes input, 400 and 413 for a body, 503 with the
    database."""
    dependant = route.dependant
    answers = set(EXTRA_ANSWERS.get((path, method), ()))
    if _uses(dependant, deps.load_optional_user):
        answers.add(401)
    csrf = _uses(dependant, deps.csrf_protect) and method.upper() in WRITE_METHODS
    if csrf or _uses_role_check(dependant):
        answers.add(403)
    if bool(_fields(dependant)) or route.body_field is not None:
        answers.add(422)
    if "{" in path:
        answers.add(404)
    if method.upper() in WRITE_METHODS and (path, method) not in NEVER_CONFLICT:
        answers.add(409)
    if route.body_field is not None:
        answers |= {400, 413}
    if _uses(dependant, deps.get_uow):
        answers.add(503)
    return answers


def _declare_errors(operation: dict[str, Any], answers: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's own validation body, which we never send
    for status in sorted(answers):
        responses[str(status)] = {
            "description": REASONS[status],
            "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
        }


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _uses(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call for d in _walk(dependant))


def _uses_role_check(dependant: Dependant) -> bool:
    return any(getattr(d.call, "__qualname__", "") == deps.ROLE_CHECK for d in _walk(dependant))


def _fields(dependant: Dependant) -> list[Any]:
    found: list[Any] = []
    for d in _walk(dependant):
        found += d.path_params + d.query_params + d.header_params + d.cookie_params
    return found


def allowed_methods(app: Any, path: str) -> str:
    """Every method some route takes at ``path``, for the ``Allow`` header of a 405."""
    patterns: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(
        app.state, "allow_patterns", None
    )
    if patterns is None:
        patterns = [
            (compile_path(context.path)[0], frozenset(context.methods or ()))
            for context in iter_route_contexts(app.routes)
            if context.path
        ]
        app.state.allow_patterns = patterns
    methods: set[str] = set()
    for pattern, route_methods in patterns:
        if pattern.match(path):
            methods |= route_methods
    return ", ".join(sorted(methods))
