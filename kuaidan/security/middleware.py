"""Pure ASGI middleware at the edge: security headers and a request-body size limit."""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuaidan.core.asgi import Headers, HttpMiddleware, ResponseStart, send_json
from kuaidan.security.domain import DEVICE_COOKIE

HARDENING = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' "
        b"'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; "
        b"form-action 'self' https:",
    ),
]


class SecurityHeadersMiddleware(HttpMiddleware):
    """HSTS on HTTPS responses, plus the usual hardening headers on every response."""

    def __init__(self, app: ASGIApp, *, hsts_max_age_s: int = 31_536_000) -> None:
        super().__init__(app)
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains".encode()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = list(HARDENING)
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", self.hsts))

        def add(headers: Headers) -> Headers:
            present = {name.lower() for name, _ in headers}
            return headers + [h for h in extra if h[0] not in present]

        await self.app(scope, receive, ResponseStart(send, edit=add))


class BodySizeLimitMiddleware(HttpMiddleware):
    """Refuse bodies over ``max_bytes`` with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reject(send, 400, "bad_request", "invalid Content-Length")
                    return
                if declared > self.max_bytes:
                    await _reject(send, 413, "payload_too_large", self._message())
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        answer = ResponseStart(send)
        try:
            await self.app(scope, limited_receive, answer)
        except _BodyTooLarge:
            if not answer.started:
                await _reject(send, 413, "payload_too_large", self._message())

    def _message(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"


class _BodyTooLarge(Exception):
    pass


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    await send_json(send, status, {"error": {"code": code, "message": message}})


class DeviceCookieMiddleware(HttpMiddleware):
    """Give every browser a first-party device id (``kd_device``) on its first page view.

    Payment risk reads it to recognise a device it has seen before. Only HTML responses to
    GET requests set it, and only when the request carried none; it is HttpOnly, Secure,
    SameSite=Lax and random (it says nothing about the person).
    """

    COOKIE = DEVICE_COOKIE
    MAX_AGE_S = 2 * 365 * 24 * 3600

    def applies(self, scope: Scope) -> bool:
        return scope.get("method") == "GET" and not self._has_cookie(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        def add(headers: Headers) -> Headers:
            if dict(headers).get(b"content-type", b"").startswith(b"text/html"):
                headers.append((b"set-cookie", self._cookie()))
            return headers

        await self.app(scope, receive, ResponseStart(send, edit=add))

    def _has_cookie(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"cookie" and f"{self.COOKIE}=".encode() in value:
                return True
        return False

    def _cookie(self) -> bytes:
        value = secrets.token_urlsafe(24)
        return (
            f"{self.COOKIE}={value}; Max-Age={self.MAX_AGE_S}; Path=/; "
            "HttpOnly; Secure; SameSite=Lax"
        ).encode()
