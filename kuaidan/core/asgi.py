"""The one way to write the platform's HTTP middleware: pure ASGI, no buffering.

Starlette's ``BaseHTTPMiddleware`` reads a streamed answer through a queue and breaks
server-sent events and disconnect detection, so every middleware here is an ASGI app around
the next one. :class:`HttpMiddleware` passes anything that is not one of the HTTP requests it
is for straight on; :class:`ResponseStart` is the ``send`` that sees the answer start (has it
started, with what status) and may change its headers on the way out.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]


class HttpMiddleware:
    """A pure ASGI middleware for HTTP requests: ``handle`` runs for those ``applies`` accepts
    (every HTTP request unless overridden); WebSocket, lifespan and the rest pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope):
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    def applies(self, scope: Scope) -> bool:
        return True

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class ResponseStart:
    """A ``send`` that notes the answer's start (``started``, ``status``) and, given ``edit``,
    passes the start's headers through it before they go out."""

    def __init__(self, send: Send, *, edit: Callable[[Headers], Headers] | None = None) -> None:
        self._send = send
        self._edit = edit
        self.started = False
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            if self._edit is not None:
                message = {**message, "headers": self._edit(list(message.get("headers", [])))}
        await self._send(message)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower case), or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def send_json(send: Send, status: int, body: object) -> None:
    """A whole JSON answer, for middleware that answers before any route runs."""
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
