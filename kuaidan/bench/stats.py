"""What a bench run measured: latencies per outcome, percentiles, rates, and the report.

Pure: no I/O. A :class:`Recorder` collects (outcome, seconds) samples as the load runs;
:func:`summarise` turns them into a :class:`Figures` row that the report prints or dumps.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PERCENTILES = (50.0, 95.0, 99.0)


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile of ``samples`` by the nearest-rank method; 0.0 when empty."""
    if not 0 <= pct <= 100:
        raise ValueError("a percentile lies between 0 and 100")
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency figures of one kind of answer, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        ms = [s * 1000 for s in seconds]
        return cls(
            count=len(ms),
            p50_ms=round(percentile(ms, 50), 2),
            p95_ms=round(percentile(ms, 95), 2),
            p99_ms=round(percentile(ms, 99), 2),
            max_ms=round(max(ms, default=0.0), 2),
        )


@dataclass
class Recorder:
    """Samples of one load run: each attempt's outcome (``ok``, ``sold_out``, ...) and time."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    first_ok: float | None = None
    last_ok: float | None = None

    def record(self, outcome: str, seconds: float, *, at: float | None = None) -> None:
        self.samples.setdefault(outcome, []).append(seconds)
        if outcome == "ok" and at is not None:
            self.first_ok = at - seconds if self.first_ok is None else self.first_ok
            self.last_ok = at

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.samples.values())

    def count(self, outcome: str) -> int:
        return len(self.samples.get(outcome, ()))


@dataclass(frozen=True, slots=True)
class Figures:
    """One row of a report: a scenario at a concurrency, and what it achieved."""

    scenario: str
    backend: str
    concurrency: int
    duration_s: float
    attempts: int
    ok: int
    rate_per_s: float
    latency: Latency
    by_outcome: dict[str, Latency]
    errors: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answers_per_s(self) -> float:
        """Every answer per second, whatever it said: with the concurrency, Little's law gives
        the mean latency (concurrency / answers_per_s)."""
        return round(self.attempts / self.duration_s, 1) if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "answers_per_s": self.answers_per_s}


def summarise(
    recorder: Recorder,
    *,
    scenario: str,
    backend: str,
    concurrency: int,
    duration_s: float,
    extra: dict[str, Any] | None = None,
) -> Figures:
    """Figures of a run; ``rate_per_s`` is successful attempts per second of the run."""
    ok = recorder.count("ok")
    every = [s for values in recorder.samples.values() for s in values]
    errors = {k: len(v) for k, v in recorder.samples.items() if k not in ("ok", "sold_out")}
    return Figures(
        scenario=scenario,
        backend=backend,
        concurrency=concurrency,
        duration_s=round(duration_s, 3),
        attempts=recorder.total,
        ok=ok,
        rate_per_s=round(ok / duration_s, 1) if duration_s > 0 else 0.0,
        latency=Latency.of(every),
        by_outcome={k: Latency.of(v) for k, v in sorted(recorder.samples.items())},
        errors=dict(sorted(errors.items())),
        extra=dict(extra or {}),
    )


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator rounded to 3 places; None when the denominator is 0."""
    return round(numerator / denominator, 3) if denominator else None


def count_kinds(kinds: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(kinds).items()))
