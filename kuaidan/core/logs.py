"""Logs: one JSON object a line (or readable lines for a terminal), every line carrying the ids
of what it is about.

The code logs through the standard library (``logging.getLogger(__name__)``, %-style
arguments); structlog's formatter renders every record, uvicorn's included, and adds the ids
bound for the current task: ``request_id`` and ``trace_id`` for an HTTP request (from its
``X-Request-ID`` and W3C ``traceparent`` headers, or new ones), ``order`` once a request or a
job works on one order, ``event``/``topic``/``handler`` while the worker delivers an event,
``job`` while it runs a job. The configuration is a ``logging.config`` dictionary, so that
uvicorn applies it in every worker process of ``serve --workers N``.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from starlette.types import Receive, Scope, Send

from kuaidan.core.asgi import Headers, HttpMiddleware, ResponseStart

LogFormat = Literal["json", "console"]
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def _chain() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(fmt: LogFormat = "json") -> logging.Formatter:
    """The formatter of every record: JSON lines, or aligned text for a terminal."""
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
        finish = [structlog.processors.dict_tracebacks, renderer]
    else:
        finish = [structlog.dev.ConsoleRenderer(colors=False)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_chain(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish],
    )


def logging_config(level: str, fmt: LogFormat) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary: everything, uvicorn's loggers included, to
    standard error through :func:`formatter` at ``level``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"kuaidan": {"()": f"{__name__}.formatter", "fmt": fmt}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "kuaidan",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Every line logged inside carries ``ids``; on the way out the task's ids are as they
    were before, including any :func:`bind` made inside (a delivery's order ends with it)."""
    before = structlog.contextvars.get_contextvars()
    structlog.contextvars.bind_contextvars(**ids)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)


def bind(**ids: object) -> None:
    """From here on, lines of the current task carry ``ids`` (a request's order, say); the
    request's or the delivery's own :func:`bound` block ends them."""
    structlog.contextvars.bind_contextvars(**ids)


def request_ids(headers: list[tuple[bytes, bytes]]) -> tuple[str, str]:
    """The request's id and trace id: the client's when well formed, else new ones."""
    request_id = trace_id = None
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            request_id = text if _REQUEST_ID.match(text) else None
        elif name == b"traceparent":
            found = _TRACEPARENT.match(value.decode("latin-1"))
            trace_id = found.group(1) if found and found.group(1) != "0" * 32 else None
    return request_id or secrets.token_hex(8), trace_id or secrets.token_hex(16)


class RequestContextMiddleware(HttpMiddleware):
    """Binds ``request_id`` and ``trace_id`` for the request's lines and answers with its
    ``X-Request-ID``, so that a client's report can be found in the logs."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id, trace_id = request_ids(scope.get("headers", []))

        def add_id(headers: Headers) -> Headers:
            kept = [h for h in headers if h[0] != b"x-request-id"]
            return [*kept, (b"x-request-id", request_id.encode("latin-1"))]

        with bound(request_id=request_id, trace_id=trace_id):
            await self.app(scope, receive, ResponseStart(send, edit=add_id))
