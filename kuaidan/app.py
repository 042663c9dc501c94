"""ASGI factory: routers, middleware, error handlers, static files and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from kuaidan import deps, openapi
from kuaidan.accounts import api as accounts_api
from kuaidan.accounts import pages as accounts_pages
from kuaidan.bootstrap import Container, build_container
from kuaidan.catalog import api as catalog_api
from kuaidan.catalog import pages as catalog_pages
from kuaidan.config import Settings, load_settings
from kuaidan.core.asgi import HttpMiddleware, ResponseStart
from kuaidan.core.db import database_unavailable
from kuaidan.core.errors import DomainError, ServiceUnavailable, Unauthorized
from kuaidan.core.logs import RequestContextMiddleware
from kuaidan.core.secrets import load_or_create_secrets
from kuaidan.core.templating import STATIC_DIR, render
from kuaidan.core.worker import Worker
from kuaidan.logistics import api as logistics_api
from kuaidan.logistics import console_api as logistics_console_api
from kuaidan.logistics import pages as logistics_pages
from kuaidan.merchants import api as merchants_api
from kuaidan.ops import api as ops_api
from kuaidan.ops.metrics import MetricsMiddleware
from kuaidan.ordering import api as ordering_api
from kuaidan.ordering import pages as ordering_pages
from kuaidan.ordering.aftersales import api as aftersales_api
from kuaidan.ordering.aftersales import pages as aftersales_pages
from kuaidan.ordering.api.edge import SoldOutEdge
from kuaidan.ordering.changes import api as changes_api
from kuaidan.ordering.changes import pages as changes_pages
from kuaidan.ordering.interception import api as interception_api
from kuaidan.ordering.interception import pages as interception_pages
from kuaidan.payments import api as payments_api
from kuaidan.payments import pages as payments_pages
from kuaidan.risk import api as risk_api
from kuaidan.risk import pages as risk_pages
from kuaidan.security.middleware import (
    BodySizeLimitMiddleware,
    DeviceCookieMiddleware,
    SecurityHeadersMiddleware,
)

log = logging.getLogger("kuaidan")

SESSION_COOKIE = deps.SESSION_COOKIE


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = container is None
        app.state.container = container or build_container(settings)
        stop = asyncio.Event()
        worker_task = None
        if settings.run_worker_in_process:
            worker = app.state.container.worker(settings=settings.worker_settings())
            worker_task = asyncio.create_task(
                _run_worker_later(worker, stop, settings.worker_start_delay_s),
                name="kuaidan-worker",
            )
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            if own:
                await app.state.container.aclose()

    app = FastAPI(
        title="kuaidan",
        version="0.1.0",
        summary="24/7 online ordering for a live-commerce marketplace",
        lifespan=lifespan,
        # The interactive docs pages load their scripts from a CDN, which our CSP forbids;
        # the OpenAPI document itself is served at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    if container is not None:
        app.state.container = container
    session_key = (
        container.secrets.session_key
        if container
        else load_or_create_secrets(settings.data_dir).session_key
    )
    _add_middleware(app, settings, session_key)
    _add_error_handlers(app)
    openapi.install(app)
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    media_dir = settings.data_dir / "media"
    media_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=media_dir), name="media")
    return app


def _include_routers(app: FastAPI) -> None:
    """Every area's JSON routes under /api/v1 and its pages at the root."""
    page_deps = [Depends(deps.load_optional_user)]
    app.include_router(ops_api.router)
    app.include_router(accounts_api.router, prefix="/api/v1")
    app.include_router(catalog_api.router, prefix="/api/v1")
    app.include_router(payments_api.router, prefix="/api/v1")
    app.include_router(merchants_api.router, prefix="/api/v1")
    app.include_router(ordering_api.router, prefix="/api/v1")
    # Ordering's sub-areas, tagged as ordering's own: their routes after the core's, their pages
    # before them (/merchant/after-sales is matched before /merchant/orders/{number}).
    app.include_router(changes_api.router, prefix="/api/v1", tags=["ordering"])
    app.include_router(interception_api.router, prefix="/api/v1", tags=["ordering"])
    app.include_router(aftersales_api.router, prefix="/api/v1", tags=["ordering"])
    app.include_router(risk_api.router, prefix="/api/v1")
    app.include_router(logistics_api.router, prefix="/api/v1")
    app.include_router(logistics_console_api.router, prefix="/api/v1")
    app.include_router(accounts_pages.router, dependencies=page_deps)
    app.include_router(catalog_pages.router, dependencies=page_deps)
    app.include_router(payments_pages.router, dependencies=page_deps)
    app.include_router(risk_pages.router, dependencies=page_deps)
    app.include_router(aftersales_pages.router, dependencies=page_deps)
    app.include_router(changes_pages.router, dependencies=page_deps)
    app.include_router(interception_pages.router, dependencies=page_deps)
    app.include_router(ordering_pages.router, dependencies=page_deps)
    app.include_router(logistics_pages.router, dependencies=page_deps)


async def _run_worker_later(worker: Worker, stop: asyncio.Event, delay_s: float) -> None:
    """The in-process worker, from ``delay_s`` after start-up on. A server restarted in a
    flash sale finds a backlog of events, and draining it at once took the event loop, the
    CPU and the pool from the requests already waiting: answers came seconds later. The
    outbox keeps every event meanwhile; nothing is lost by starting a little later."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay_s)
    if not stop.is_set():
        await worker.run_forever(stop)


def _add_middleware(app: FastAPI, settings: Settings, session_key: str) -> None:
    # Added innermost first: the body limit and headers wrap everything, metrics see all.
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=True,
    )
    app.add_middleware(DeviceCookieMiddleware)
    app.add_middleware(SoldOutEdge)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ErrorAnswerMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts_max_age_s=settings.hsts_max_age_s)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)  # outermost: every line of the request has its ids


class ErrorAnswerMiddleware(HttpMiddleware):
    """Answers an exception that escaped the routes and inner middleware with a complete
    response: 503 with Retry-After when the database cannot be reached, else 500.

    Starlette's last-resort handler (the ``Exception`` handler below) answers and then raises
    again, and uvicorn answers a raise by closing the connection: a kept-alive client's next
    request on it fails. Here the error ends with the response and the connection stays
    usable. After the response has started it cannot be completed, so it is raised on.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = ResponseStart(send)
        try:
            await self.app(scope, receive, answer)
        except Exception as exc:
            if answer.started:
                raise
            # A failure before the session middleware ran still renders the error page.
            scope.setdefault("session", {})
            response = unexpected_error_response(Request(scope), exc)
            await response(scope, receive, send)


def unexpected_error_response(request: Request, exc: Exception) -> Response:
    """The answer to an exception no handler knows: 503 if the database is unreachable for
    now (the client retries; nothing was half-written, the transaction rolled back), else 500.
    """
    if database_unavailable(exc):
        log.warning(
            "database unavailable on %s %s: %s", request.method, request.url.path, repr(exc)
        )
        return domain_error_response(request, ServiceUnavailable())
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "internal_error", "something went wrong on our side")


def domain_error_response(request: Request, exc: DomainError) -> Response:
    response = error_response(request, exc.status, exc.code, exc.message, exc.details or None)
    if isinstance(exc, ServiceUnavailable):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


def wants_html(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/healthz", "/readyz", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_response(
    request: Request, status: int, code: str, message: str, details: Any = None
) -> Response:
    if wants_html(request):
        return render(
            request,
            "error.html",
            {"status": status, "code": code, "message": message},
            status_code=status,
        )
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, Unauthorized) and wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return domain_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "msg": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        return error_response(request, 422, "invalid_input", "the request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        code = codes.get(exc.status_code, "http_error")
        response = error_response(request, exc.status_code, code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:  # every method of the path, not the first route's alone
            response.headers["Allow"] = openapi.allowed_methods(request.app, request.scope["path"])
        return response

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        # Only errors in the outermost middleware get here (ErrorAnswerMiddleware answers the
        # rest). Starlette raises them on after this answer and uvicorn then closes the
        # connection, so the answer says so and the client opens a new one.
        response = unexpected_error_response(request, exc)
        response.headers["Connection"] = "close"
        return response
