"""A lean HTTP/1.1 client for the bench's hot loops: one keep-alive connection per buyer.

The load generator shares the machine's cores with the server it measures, so every
microsecond it spends per request is taken from the server and shows up in the figures. A
general client (pools, request and header objects, redirects, cookies) costs about 1 ms of
CPU per request, a third of what the server spends on a sold-out answer; this one writes the
request bytes itself and parses only what an answer needs: the status, Content-Length or
chunked framing, ``Connection: close`` and a JSON body.

A transport failure closes the connection and raises a :class:`TransportError` subclass whose
type name the bench records as the outcome; the next request connects again. A request is
never retried here: a retried checkout would be a second attempt the figures do not count.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

REQUEST_TIMEOUT_S = 30.0
HEAD_LIMIT = 64 * 1024
USER_AGENT = "kuaidan-bench"
COMPACT = (",", ":")
NO_BODY_STATUSES = frozenset({204, 304})
INTERIM = range(100, 200)


class TransportError(Exception):
    """The request got no complete answer; its connection, if one was open, is closed."""


class ConnectError(TransportError):
    """Connecting (TCP or the TLS handshake) failed."""


class ReadError(TransportError):
    """The connection failed while the request was written or its answer read."""


class RemoteProtocolError(TransportError):
    """The server closed the connection early or sent something that is not HTTP/1.1."""


class RequestTimeout(TransportError):
    """The request (with its connecting, if any) took longer than its timeout."""


def tls_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    """The client context: the given one, the default trust store, or none at all (False)."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where connections go, parsed once for every buyer: host, port, TLS and path prefix."""

    host: str
    port: int
    context: ssl.SSLContext | None
    host_header: str
    prefix: str = ""

    @property
    def fixed_fields(self) -> str:
        """The header lines every request carries."""
        return f"Host: {self.host_header}\r\nUser-Agent: {USER_AGENT}\r\nAccept: application/json"

    @classmethod
    def of(cls, base_url: str, verify: ssl.SSLContext | bool = True) -> Endpoint:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        return cls(
            host=host,
            port=port,
            context=tls_context(verify) if secure else None,
            host_header=shown if parts.port is None else f"{shown}:{port}",
            prefix=parts.path.rstrip("/"),
        )


class Connection:
    """One keep-alive connection, opened on the first request and again after a failure or a
    ``Connection: close``. Not shared: one request at a time."""

    def __init__(self, endpoint: Endpoint, *, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.connects = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
    ) -> tuple[int, Any]:
        """Send one request and read its whole answer: (status, parsed JSON body or None).
        Not for HEAD, whose answer announces a body it does not send."""
        payload = b"" if json_body is None else json.dumps(json_body, separators=COMPACT).encode()
        head = self._head(method, path, headers or {}, payload)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._exchange(head + payload)
        except TimeoutError:
            raise RequestTimeout(f"no answer within {self.timeout_s:g} s") from None

    def close(self) -> None:
        """Close the connection in order (TLS close_notify, then FIN)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    def _drop(self) -> None:
        """Abort the connection: after a failure its stream is out of step, so nothing more
        is sent on it."""
        if self._writer is not None:
            self._writer.transport.abort()
        self._reader = self._writer = None

    def _head(self, method: str, path: str, headers: dict[str, str], payload: bytes) -> bytes:
        lines = [f"{method} {self.endpoint.prefix}{path} HTTP/1.1", self.endpoint.fixed_fields]
        if payload or method in ("POST", "PUT", "PATCH"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _exchange(self, request: bytes) -> tuple[int, Any]:
        reader, writer = await self._connected()
        try:
            writer.write(request)
            status, fields = await _read_head(reader)
            while status in INTERIM:  # e.g. 103 Early Hints: the final answer follows
                status, fields = await _read_head(reader)
            body = await _body(reader, status, fields)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self._drop()
            raise RemoteProtocolError(_why(exc)) from exc
        except OSError as exc:  # ssl.SSLError and the connection resets are OSErrors
            self._drop()
            raise ReadError(_why(exc)) from exc
        except BaseException:  # cancelled (the timeout, too) halfway through the answer
            self._drop()
            raise
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, _json(fields, body)

    async def _connected(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The open connection, or a new one when there is none or the server closed it idle."""
        if self._writer is not None and self._reader is not None:
            if not (self._reader.at_eof() or self._writer.is_closing()):
                return self._reader, self._writer
            self._drop()
        end = self.endpoint
        try:
            reader, writer = await asyncio.open_connection(
                end.host,
                end.port,
                ssl=end.context,
                server_hostname=end.host if end.context is not None else None,
                limit=HEAD_LIMIT,
            )
        except OSError as exc:
            raise ConnectError(_why(exc)) from exc
        self._reader, self._writer = reader, writer
        self.connects += 1
        return reader, writer


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status code and the header fields (names in lower case) of an answer's head."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:60]!r}")
    fields: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    if version == "HTTP/1.0" and fields.get("connection", "").lower() != "keep-alive":
        fields["connection"] = "close"
    return int(rest[:3]), fields


async def _body(reader: asyncio.StreamReader, status: int, fields: dict[str, str]) -> bytes:
    """The answer's body. One framed by neither a length nor chunks runs to the end of the
    connection, so its fields are marked ``Connection: close``."""
    if status in NO_BODY_STATUSES:
        return b""
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return await _chunks(reader)
    length = fields.get("content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    rest = await reader.read()
    fields["connection"] = "close"
    return rest


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    """A chunked body: sized chunks up to the empty one, then the trailer lines (dropped)."""
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("a chunk does not end with CRLF")


def _json(fields: dict[str, str], body: bytes) -> Any:
    """The parsed body when it is JSON; None when it is empty or something else.

    A JSON body that does not parse raises ``ValueError``: the answer was complete, so the
    connection stays usable, and the caller records the error by its name.
    """
    if not body or "json" not in fields.get("content-type", ""):
        return None
    return json.loads(body)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
