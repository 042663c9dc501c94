"""The sold-out edge: a flash sale's losers are answered before the application stack.

Once the flash-sale gate of this process knows a SKU is sold out, every further checkout of it
would cost a token lookup, dependency resolution, body validation and an idempotency read only
to hear "sold out". This pure ASGI middleware answers ``POST /api/v1/checkouts`` for such a SKU
itself: the same 409 ``out_of_stock`` the route gives, once it has made sure no checkout was
ever placed with the request's ``Idempotency-Key`` (a winner's retry goes through and gets its
order). Those reads are batched (while one runs, the keys of the requests arriving meanwhile
wait for the next, which asks for all of them at once) and run on a connection of their own,
so that they never queue behind the sale's winners, who hold the main pool's connections.
Who asks is not checked first: a sold-out answer tells nothing that the product page does not,
and an invalid token still gets its 401 on any request that could buy something.

Anything else (no marks, another route, a cart checkout, a body or header the route would
refuse) goes through untouched, with the body it was sent.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuaidan.core.asgi import HttpMiddleware, header
from kuaidan.core.batching import MicroBatcher
from kuaidan.core.ports import Adapters
from kuaidan.inventory.domain import OutOfStock
from kuaidan.inventory.service import FLASH_SALE, FlashSale
from kuaidan.ordering import service
from kuaidan.ordering.schemas import CheckoutCreate

CHECKOUTS_PATH = "/api/v1/checkouts"
# What the metrics label an edge answer with: the route it answers for.
_ROUTE = SimpleNamespace(path=CHECKOUTS_PATH)


class PlacedKeys:
    """Whether Idempotency-Keys were ever placed, asked for many requests in one read."""

    def __init__(self, container: Any, *, max_batch: int = 500) -> None:
        self.container = container
        self._batches: MicroBatcher[str, bool] = MicroBatcher(self._ask, max_batch=max_batch)

    async def placed(self, key: str) -> bool:
        return await self._batches.submit(key)

    async def _ask(self, keys: list[str]) -> list[bool | Exception]:
        uow = self.container.fast_lane()
        try:
            placed = await service.placed_keys(uow=uow, keys=sorted(set(keys)))
        finally:
            await uow.close()
        return [key in placed for key in keys]


class SoldOutEdge(HttpMiddleware):
    """Answers checkouts of SKUs known sold out here; passes everything else on."""

    def __init__(self, app: ASGIApp, *, path: str = CHECKOUTS_PATH) -> None:
        super().__init__(app)
        self.path = path
        self._keys: PlacedKeys | None = None

    def _placed_keys(self, container: Any) -> PlacedKeys:
        if self._keys is None or self._keys.container is not container:
            self._keys = PlacedKeys(container)
        return self._keys

    def applies(self, scope: Scope) -> bool:
        return scope.get("method") == "POST" and scope.get("path") == self.path

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        container = _container(scope)
        gate = None if container is None else _flash_gate(container)
        if gate is None or not gate.marks:
            await self.app(scope, receive, send)
            return
        body, ended = await _read_body(receive)
        answer = _sold_out(gate, scope, body) if ended else None
        if answer is not None:
            key = header(scope, b"idempotency-key") or ""
            if await self._placed_keys(container).placed(key):
                answer = None
        if answer is None:
            await self.app(scope, _replay(body, ended, receive), send)
            return
        scope["route"] = _ROUTE
        response = JSONResponse({"error": answer.to_dict()}, status_code=answer.status)
        await response(scope, receive, send)


def _container(scope: Scope) -> Any:
    app = scope.get("app")
    return getattr(getattr(app, "state", None), "container", None)


def _flash_gate(container: Any) -> FlashSale | None:
    adapters: Adapters = container.adapters
    return adapters.get(FLASH_SALE)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether it ended (False: the client went away first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, ended: bool, receive: Receive) -> Receive:
    """A receive that gives the application the body already read, then the rest as sent."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not ended}
        return await receive()

    return replay


def _sold_out(gate: FlashSale, scope: Scope, body: bytes) -> OutOfStock | None:
    """The OutOfStock to answer with if the key was never placed, or None for the
    application to answer."""
    authorization = header(scope, b"authorization") or ""
    key = header(scope, b"idempotency-key")
    content_type = header(scope, b"content-type") or ""
    if (
        key is None
        or not authorization.lower().startswith("bearer ")
        or not content_type.startswith("application/json")
    ):
        return None
    try:
        request = CheckoutCreate.model_validate_json(body)
    except ValidationError:
        return None
    if request.items is None:
        return None
    items = [(item.sku_id, item.quantity) for item in request.items]
    return service.known_sold_out(gate=gate, items=items, idempotency_key=key)
