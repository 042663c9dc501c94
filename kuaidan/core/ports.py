"""Typed ports: the keys by which a unit of work reaches the outside parties wired into it.

An area declares a port next to what it exposes (``PAYMENTS = Port("payments",
PaymentsConfig)``), the composition root binds a value to it, and a use case reads
``uow.adapters[PAYMENTS]`` (a ``PaymentsConfig``, or :class:`PortNotBound`) or
``uow.adapters.get(PAYMENTS)`` (or ``None``). A value of the wrong type fails when it is bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
Closer = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Port(Generic[T]):
    """The key of one outside party: its name (for errors) and the type its value must have.

    ``kind`` is a class or a ``runtime_checkable`` protocol; it is typed as a callable only so
    that mypy accepts a protocol there as well as a class.
    """

    name: str
    kind: Callable[..., T]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a port needs a name")
        if not isinstance(self.kind, type):
            raise TypeError(f"port {self.name!r}: its kind must be a class, not {self.kind!r}")
        try:
            isinstance(None, self.kind)
        except TypeError:
            raise TypeError(
                f"port {self.name!r}: {self.kind.__name__} is a protocol isinstance cannot "
                "check; declare it @runtime_checkable"
            ) from None

    @property
    def kind_name(self) -> str:
        return cast(type, self.kind).__name__

    def check(self, value: object) -> T:
        """``value`` itself when it is of this port's type; TypeError naming both otherwise."""
        if not isinstance(value, cast(type, self.kind)):
            raise TypeError(
                f"port {self.name!r} takes a {self.kind_name}, not a {type(value).__name__}"
            )
        return cast(T, value)


class PortNotBound(RuntimeError):
    """A use case needs an outside party that nothing was bound to in its unit of work."""

    def __init__(self, port: Port[Any]) -> None:
        super().__init__(f"no {port.kind_name} is bound to port {port.name!r} in these adapters")
        self.port = port


class Adapters:
    """The values bound to ports, shared by every unit of work of a process. Immutable:
    :meth:`bind` returns new adapters, so nothing can rewire a unit of work mid-flight."""

    __slots__ = ("_closers", "_values")

    def __init__(self) -> None:
        self._values: dict[Port[Any], object] = {}
        self._closers: tuple[Closer, ...] = ()

    def bind(self, port: Port[T], value: T, *, aclose: Closer | None = None) -> Adapters:
        """These adapters and ``value`` at ``port``; ``aclose`` (if given) runs at
        :meth:`aclose`. A value of another type, or a port name bound already, fails here."""
        port.check(value)
        if any(bound.name == port.name for bound in self._values):
            raise ValueError(f"port {port.name!r} is bound already")
        bound = Adapters()
        bound._values = {**self._values, port: value}
        bound._closers = self._closers if aclose is None else (*self._closers, aclose)
        return bound

    def get(self, port: Port[T]) -> T | None:
        """The value bound to ``port``, or None when there is none."""
        # bind() checked the value's type, so it is a T.
        return cast("T | None", self._values.get(port))

    def __getitem__(self, port: Port[T]) -> T:
        """The value bound to ``port``; :class:`PortNotBound` naming it when there is none."""
        if port not in self._values:
            raise PortNotBound(port)
        return cast(T, self._values[port])

    def __contains__(self, port: object) -> bool:
        return port in self._values

    def __iter__(self) -> Iterator[Port[Any]]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Adapters({', '.join(port.name for port in self._values)})"

    async def aclose(self) -> None:
        """Close what was bound with a closer, the last bound first."""
        for close in reversed(self._closers):
            await close()


NO_ADAPTERS = Adapters()
