"""Time: always timezone-aware UTC. Domain code receives ``now``; services get it from a clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AcceleratedClock:
    """Simulated time running ``factor`` times faster than the real clock: at the real moment
    ``real_start`` (epoch seconds) it reads ``start``. Benches share one such clock between
    kuaidan and a simulator, so both stamp events in the same simulated time."""

    start: datetime
    factor: float
    real_start: float = field(default_factory=time.time)

    def at(self, real: float) -> datetime:
        """The simulated time at the real moment ``real`` (epoch seconds)."""
        return self.start + timedelta(seconds=(real - self.real_start) * self.factor)

    def now(self) -> datetime:
        return self.at(time.time())


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive value is rejected rather than guessed."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return value.astimezone(UTC)
