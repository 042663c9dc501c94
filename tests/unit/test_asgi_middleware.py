"""The one middleware shape: HTTP requests it applies to are handled, everything else passes
through untouched; ResponseStart sees the answer start and may change its headers."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from kuaidan.core.asgi import Headers, HttpMiddleware, ResponseStart, header


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": [(b"a", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Tagging(HttpMiddleware):
    """Adds a header to the answers of GET requests only."""

    def applies(self, scope: Scope) -> bool:
        return scope.get("method") == "GET"

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        def tag(headers: Headers) -> Headers:
            return [*headers, (b"x-tag", b"yes")]

        await self.app(scope, receive, ResponseStart(send, edit=tag))


async def _run(app: HttpMiddleware, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_handle_runs_only_for_the_http_requests_it_applies_to() -> None:
    app = Tagging(_answer)
    tagged = await _run(app, {"type": "http", "method": "GET", "headers": []})
    assert tagged[0]["headers"] == [(b"a", b"1"), (b"x-tag", b"yes")]
    assert tagged[1] == {"type": "http.response.body", "body": b"ok"}
    untouched = await _run(app, {"type": "http", "method": "POST", "headers": []})
    assert untouched[0]["headers"] == [(b"a", b"1")]
    other = await _run(app, {"type": "websocket", "headers": []})
    assert other[0]["headers"] == [(b"a", b"1")]


async def test_response_start_notes_the_start_and_its_status() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    answer = ResponseStart(send)
    before = (answer.started, answer.status)
    await answer({"type": "http.response.start", "status": 409, "headers": []})
    assert before == (False, None)
    assert (answer.started, answer.status) == (True, 409)
    assert sent == [{"type": "http.response.start", "status": 409, "headers": []}]


def test_header_reads_the_first_value_decoded() -> None:
    scope: Scope = {"headers": [(b"x-k", b"caf\xe9"), (b"x-k", b"second")]}
    assert header(scope, b"x-k") == "café"
    assert header(scope, b"missing") is None
