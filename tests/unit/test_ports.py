"""Typed ports: a unit of work reaches each outside party by a key that carries its type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, assert_type, cast, runtime_checkable

import pytest

from kuaidan.core.ports import Adapters, Port, PortNotBound


@dataclass(frozen=True)
class Gateway:
    url: str


@runtime_checkable
class Bell(Protocol):
    async def ring(self) -> str: ...


class Doorbell:
    async def ring(self) -> str:
        return "ding"


class Untyped(Protocol):  # not runtime-checkable: isinstance cannot tell
    def go(self) -> None: ...


GATEWAY = Port("gateway", Gateway)
BELL = Port("bell", Bell)


def test_a_bound_port_gives_back_its_value_typed() -> None:
    gateway, bell = Gateway("https://pay.example"), Doorbell()
    adapters = Adapters().bind(GATEWAY, gateway).bind(BELL, bell)

    assert assert_type(adapters[GATEWAY], Gateway) is gateway
    assert assert_type(adapters.get(GATEWAY), Gateway | None) is gateway
    assert assert_type(adapters[BELL], Bell) is bell
    assert GATEWAY in adapters and BELL in adapters
    assert list(adapters) == [GATEWAY, BELL]


def test_an_unbound_port_is_none_to_get_and_an_error_naming_it_to_index() -> None:
    adapters = Adapters().bind(BELL, Doorbell())

    assert adapters.get(GATEWAY) is None
    assert GATEWAY not in adapters
    with pytest.raises(PortNotBound, match="no Gateway is bound to port 'gateway'") as caught:
        adapters[GATEWAY]
    assert caught.value.port is GATEWAY
    assert isinstance(caught.value, RuntimeError)  # what callers caught before ports


def test_binding_a_value_of_the_wrong_type_fails_at_once_naming_port_and_types() -> None:
    # mypy refuses both; an untyped value (Any) must fail as soon as it is bound.
    with pytest.raises(TypeError, match="'gateway' takes a Gateway, not a str"):
        Adapters().bind(GATEWAY, cast(Any, "https://pay.example"))
    with pytest.raises(TypeError, match="'bell' takes a Bell, not a Gateway"):
        Adapters().bind(BELL, cast(Any, Gateway("x")))


def test_binding_returns_new_adapters_and_leaves_the_old_ones_as_they_were() -> None:
    empty = Adapters()
    bound = empty.bind(GATEWAY, Gateway("x"))

    assert GATEWAY not in empty and len(empty) == 0
    assert len(bound) == 1


def test_a_port_name_is_bound_once() -> None:
    adapters = Adapters().bind(GATEWAY, Gateway("x"))
    with pytest.raises(ValueError, match="'gateway' is bound already"):
        adapters.bind(GATEWAY, Gateway("y"))
    with pytest.raises(ValueError, match="'gateway' is bound already"):
        adapters.bind(Port("gateway", Doorbell), Doorbell())


def test_a_port_needs_a_type_isinstance_can_check() -> None:
    with pytest.raises(TypeError, match=r"'untyped'.*runtime_checkable"):
        Port("untyped", Untyped)
    with pytest.raises(TypeError, match=r"'made'.*class"):
        Port("made", lambda: Gateway("x"))
    with pytest.raises(ValueError, match="name"):
        Port("", Gateway)


async def test_aclose_runs_the_closers_given_at_binding_in_reverse_order() -> None:
    closed: list[str] = []

    def closer(name: str) -> Callable[[], Awaitable[None]]:
        async def close() -> None:
            closed.append(name)

        return close

    adapters = (
        Adapters()
        .bind(GATEWAY, Gateway("x"), aclose=closer("gateway"))
        .bind(BELL, Doorbell(), aclose=closer("bell"))
    )
    await adapters.aclose()
    assert closed == ["bell", "gateway"]
