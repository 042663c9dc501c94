"""Estimated time of arrival as a range, and how good past estimates were.

A shipment's ETA is anchored at the time it reached its current stage. From the carrier's
history on the same lane (origin province → destination province) we take the time delivered
shipments needed from that same stage to delivery, and give the range [p20, p80] of it
(quantiles at plotting positions, so that the range holds 60 % of deliveries on a young lane
too). With fewer than ``MIN_SAMPLES`` such shipments we fall back to the agreement's promise
for the zone, scaled by the share of the journey still ahead (``PROMISE_SHARE``). A range that the
clock has already passed is pushed forward: an ETA is never in the past.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MIN_SAMPLES = 5
LOW_Q, HIGH_Q = 0.2, 0.8
OVERDUE_MARGIN = timedelta(hours=12)


class Stage(StrEnum):
    BOOKED = "booked"
    PICKED_UP = "picked_up"
    IN_DESTINATION_CITY = "in_destination_city"
    OUT_FOR_DELIVERY = "out_for_delivery"


# Of the promised days, the share still ahead at each stage: (low, high) of the fallback range.
PROMISE_SHARE: dict[Stage, tuple[float, float]] = {
    Stage.BOOKED: (0.6, 1.3),  # includes waiting for the pickup
    Stage.PICKED_UP: (0.5, 1.0),
    Stage.IN_DESTINATION_CITY: (0.1, 0.3),
    Stage.OUT_FOR_DELIVERY: (0.02, 0.12),
}


@dataclass(frozen=True, slots=True)
class Milestones:
    """When a shipment reached each stage (None when it did not, or not yet)."""

    booked_at: datetime | None
    picked_up_at: datetime | None = None
    in_city_at: datetime | None = None
    out_for_delivery_at: datetime | None = None
    delivered_at: datetime | None = None

    def at(self, stage: Stage) -> datetime | None:
        return {
            Stage.BOOKED: self.booked_at,
            Stage.PICKED_UP: self.picked_up_at,
            Stage.IN_DESTINATION_CITY: self.in_city_at,
            Stage.OUT_FOR_DELIVERY: self.out_for_delivery_at,
        }[stage]

    def stage(self) -> tuple[Stage, datetime] | None:
        """The latest stage reached and when."""
        for stage in reversed(Stage):
            when = self.at(stage)
            if when is not None:
                return stage, when
        return None


@dataclass(frozen=True, slots=True)
class EtaEstimate:
    stage: Stage
    anchor: datetime
    earliest: datetime
    latest: datetime
    basis: str  # "history" or "promise"
    samples: int


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def plotting_quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile at rank q·(n+1) of the sorted values (Weibull's plotting position),
    clamped to the sample: on average a share ``q`` of the *next* value falls below it, however
    small the sample. Interpolating between the sample's own quantiles (``quantile``) does not:
    [p20, p80] of five values holds the next one only 40 % of the time, not 60 %."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = min(max(q * (len(ordered) + 1), 1.0), float(len(ordered))) - 1
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def remaining_hours(history: Sequence[Milestones], stage: Stage) -> list[float]:
    """Hours from ``stage`` to delivery in delivered history that recorded that stage."""
    hours = []
    for past in history:
        start = past.at(stage)
        if start is not None and past.delivered_at is not None and past.delivered_at >= start:
            hours.append((past.delivered_at - start).total_seconds() / 3600)
    return hours


def estimate_eta(
    current: Milestones,
    *,
    history: Sequence[Milestones],
    promise_days: int,
    now: datetime,
) -> EtaEstimate | None:
    """The ETA range of an undelivered shipment; None before booking or after delivery."""
    reached = current.stage()
    if reached is None or current.delivered_at is not None:
        return None
    stage, anchor = reached
    samples = remaining_hours(history, stage)
    if len(samples) >= MIN_SAMPLES:
        low_h, high_h = plotting_quantile(samples, LOW_Q), plotting_quantile(samples, HIGH_Q)
        basis = "history"
    else:
        share_low, share_high = PROMISE_SHARE[stage]
        low_h, high_h = promise_days * 24 * share_low, promise_days * 24 * share_high
        basis = "promise"
    earliest = anchor + timedelta(hours=low_h)
    latest = anchor + timedelta(hours=max(high_h, low_h))
    if latest < now:
        earliest, latest = now, now + OVERDUE_MARGIN
    elif earliest < now:
        earliest = now
    return EtaEstimate(stage, anchor, earliest, latest, basis, len(samples))


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """A stored prediction of one shipment, with the shipment's milestones so far (benches
    and audits compare it with the delivery)."""

    reference: str
    carrier_code: str
    status: str  # the shipment's status now
    stage: Stage
    basis: str
    samples: int
    predicted_at: datetime
    earliest: datetime
    latest: datetime
    milestones: Milestones


@dataclass(frozen=True, slots=True)
class EtaOutcome:
    """A stored prediction and what happened."""

    earliest: datetime
    latest: datetime
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class EtaAccuracy:
    predictions: int
    within_range_rate: float  # delivered inside [earliest, latest]
    early_rate: float  # delivered before the range
    late_rate: float  # delivered after the range
    mean_abs_error_hours: float  # from the range's midpoint


def eta_accuracy(outcomes: Sequence[EtaOutcome]) -> EtaAccuracy:
    if not outcomes:
        return EtaAccuracy(0, 0.0, 0.0, 0.0, 0.0)
    within = early = late = 0
    error = 0.0
    for o in outcomes:
        if o.delivered_at < o.earliest:
            early += 1
        elif o.delivered_at > o.latest:
            late += 1
        else:
            within += 1
        middle = o.earliest + (o.latest - o.earliest) / 2
        error += abs((o.delivered_at - middle).total_seconds()) / 3600
    n = len(outcomes)
    return EtaAccuracy(n, within / n, early / n, late / n, round(error / n, 3))
