"""``kuaidan bench floor``: the fastest a sold-out answer can be on this machine and harness.

A bare ASGI app (no framework, no database) served by ``kuaidan serve``'s own uvicorn settings
(TLS certificate, workers, event loop, HTTP parser) reads each checkout's body and answers it
with the 409 ``out_of_stock`` body the platform sends. Loaded by the same generator as the
other scenarios, its latency is the floor under any implementation of that route: the rest of
a real answer's time is the application's.

This module is what the floor's worker processes import: it stays free of the application.
"""

from __future__ import annotations

import json
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from kuaidan.config import Settings
from kuaidan.core.errors import InvalidInput, NotFound
from kuaidan.inventory.domain import OutOfStock, Shortage
from kuaidan.server import https_options

CHECKOUTS_PATH = "/api/v1/checkouts"
HEALTH_PATH = "/healthz"
APP = "kuaidan.bench.floor:floor_app"


async def floor_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Checkouts are sold out, ``/healthz`` is healthy, anything else is not found."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    body = await _read_body(receive)
    if scope["method"] == "POST" and scope["path"] == CHECKOUTS_PATH:
        status, answer = _sold_out(body)
    elif scope["path"] == HEALTH_PATH:
        status, answer = 200, {"status": "ok"}
    else:
        status, answer = 404, {"error": NotFound("no such page").to_dict()}
    await _send_json(send, status, answer)


def _sold_out(body: bytes) -> tuple[int, dict[str, Any]]:
    """The route's 409 for every SKU the body asks for (422 when the body is not a checkout)."""
    try:
        items = json.loads(body)["items"]
        shortages = [Shortage(int(i["sku_id"]), int(i["quantity"]), 0) for i in items]
    except (ValueError, KeyError, TypeError):
        return 422, {"error": InvalidInput("the body is not a checkout").to_dict()}
    return 409, {"error": OutOfStock(shortages).to_dict()}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(send: Send, status: int, answer: dict[str, Any]) -> None:
    """What Starlette's ``JSONResponse`` sends: compact UTF-8 JSON with its length."""
    content = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [
        (b"content-length", str(len(content)).encode()),
        (b"content-type", b"application/json"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


async def _lifespan(receive: Receive, send: Send) -> None:
    while (message := await receive())["type"] != "lifespan.shutdown":
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


def serve_floor(settings: Settings, *, workers: int) -> None:
    """Serve the floor app over HTTPS (blocking), configured as ``kuaidan serve`` is."""
    uvicorn.run(APP, **https_options(settings, workers=workers))
