"""Carriers as the platform contracts them: qualifications, service area, price table, service
agreement (promises, targets, penalty terms) and status, plus the default set the platform
starts with. Pure values; the service stores them as JSON beside the carrier's row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kuaidan.core.errors import InvalidInput
from kuaidan.logistics.domain.geo import PROVINCES, Place, Zone

GRAMS_PER_KG = 1000
MAX_WEIGHT_G = 100_000  # parcels, not freight: 100 kg


class CarrierStatus(StrEnum):
    ACTIVE = "active"
    PROBATION = "probation"  # still chosen, but ranked lower; next breach suspends
    SUSPENDED = "suspended"  # never chosen for new shipments


@dataclass(frozen=True, slots=True)
class ZonePrice:
    first_kg_fen: int
    extra_kg_fen: int


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Fen for the first kilogram and for each further (started) kilogram, per zone."""

    zones: dict[Zone, ZonePrice]

    def price_fen(self, zone: Zone, weight_g: int) -> int:
        check_weight(weight_g)
        rate = self.zones[zone]
        extra_kg = max(math.ceil(weight_g / GRAMS_PER_KG) - 1, 0)
        return rate.first_kg_fen + extra_kg * rate.extra_kg_fen


@dataclass(frozen=True, slots=True)
class ServiceArea:
    """Entries are a province (``浙江``) or one city of it (``浙江/杭州``); ``*`` is nationwide."""

    areas: frozenset[str]
    excluded: frozenset[str] = frozenset()

    def covers(self, place: Place) -> bool:
        if place.province in self.excluded or place.key in self.excluded:
            return False
        return "*" in self.areas or place.province in self.areas or place.key in self.areas


@dataclass(frozen=True, slots=True)
class PenaltyTerms:
    """When a period's scorecard breaches the agreement, and what follows.

    Below a target → probation; below a floor, or a breach while on probation → suspension.
    Fewer than ``min_shipments`` in the period judges nothing.
    """

    min_shipments: int = 20
    on_time_floor: float = 0.75
    intact_floor: float = 0.97
    max_exception_rate: float = 0.08
    late_penalty_fen: int = 200  # charged per late parcel
    lost_compensation_cap_fen: int = 200_000  # the most paid out per lost or damaged parcel


# The interception fee when an agreement names none: the usual market rates, in fen.
INTERCEPT_FEES_FEN: dict[Zone, int] = {
    Zone.SAME_CITY: 300,
    Zone.SAME_PROVINCE: 500,
    Zone.NEIGHBOURING: 800,
    Zone.FAR: 1000,
}


@dataclass(frozen=True, slots=True)
class ServiceAgreement:
    promise_days: dict[Zone, int]
    on_time_target: float
    intact_target: float
    satisfaction_target: float  # mean buyer rating, 1-5
    penalties: PenaltyTerms = field(default_factory=PenaltyTerms)
    # What the carrier charges to stop a parcel in transit and send it back, per zone.
    intercept_fee_fen: dict[Zone, int] = field(default_factory=lambda: dict(INTERCEPT_FEES_FEN))

    def promise_for(self, zone: Zone) -> int:
        return self.promise_days[zone]

    def intercept_fee_for(self, zone: Zone) -> int:
        return self.intercept_fee_fen.get(zone, INTERCEPT_FEES_FEN[zone])


@dataclass(frozen=True, slots=True)
class CarrierProfile:
    """A carrier as selection, ETA and scorecards see it."""

    code: str  # the aggregator's company code, e.g. ``shunfeng``
    name: str
    status: CarrierStatus
    qualifications: tuple[str, ...]
    area: ServiceArea
    prices: PriceTable
    agreement: ServiceAgreement

    def covers(self, origin: Place, destination: Place) -> bool:
        return self.area.covers(origin) and self.area.covers(destination)


def check_weight(weight_g: int) -> int:
    if isinstance(weight_g, bool) or not isinstance(weight_g, int):
        raise InvalidInput("a weight is whole grams")
    if not 0 < weight_g <= MAX_WEIGHT_G:
        raise InvalidInput(f"a parcel weighs 1 g to {MAX_WEIGHT_G // 1000} kg")
    return weight_g


# --- JSON forms (stored with the carrier) -------------------------------------------------------


def prices_to_json(table: PriceTable) -> dict[str, list[int]]:
    return {z.value: [p.first_kg_fen, p.extra_kg_fen] for z, p in table.zones.items()}


def prices_from_json(data: dict[str, Any]) -> PriceTable:
    zones = {Zone(z): ZonePrice(int(v[0]), int(v[1])) for z, v in data.items()}
    if set(zones) != set(Zone) or any(
        p.first_kg_fen <= 0 or p.extra_kg_fen < 0 for p in zones.values()
    ):
        raise InvalidInput("a price table names every zone with positive fen")
    return PriceTable(zones)


def agreement_to_json(agreement: ServiceAgreement) -> dict[str, Any]:
    terms = agreement.penalties
    return {
        "promise_days": {z.value: d for z, d in agreement.promise_days.items()},
        "on_time_target": agreement.on_time_target,
        "intact_target": agreement.intact_target,
        "satisfaction_target": agreement.satisfaction_target,
        "penalties": {
            "min_shipments": terms.min_shipments,
            "on_time_floor": terms.on_time_floor,
            "intact_floor": terms.intact_floor,
            "max_exception_rate": terms.max_exception_rate,
            "late_penalty_fen": terms.late_penalty_fen,
            "lost_compensation_cap_fen": terms.lost_compensation_cap_fen,
        },
        "intercept_fee_fen": {z.value: f for z, f in agreement.intercept_fee_fen.items()},
    }


def agreement_from_json(data: dict[str, Any]) -> ServiceAgreement:
    promise = {Zone(z): int(d) for z, d in data["promise_days"].items()}
    if set(promise) != set(Zone) or min(promise.values()) < 1:
        raise InvalidInput("an agreement promises at least a day for every zone")
    return ServiceAgreement(
        promise_days=promise,
        on_time_target=float(data["on_time_target"]),
        intact_target=float(data["intact_target"]),
        satisfaction_target=float(data["satisfaction_target"]),
        penalties=PenaltyTerms(**data.get("penalties", {})),
        intercept_fee_fen=_intercept_fees(data.get("intercept_fee_fen")),
    )


def _intercept_fees(data: dict[str, Any] | None) -> dict[Zone, int]:
    fees = dict(INTERCEPT_FEES_FEN)
    for zone, fen in (data or {}).items():
        if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
            raise InvalidInput("an interception fee is whole fen, not negative")
        fees[Zone(zone)] = fen
    return fees


def area_from_json(data: dict[str, Any]) -> ServiceArea:
    areas = frozenset(str(a) for a in data.get("areas", []))
    excluded = frozenset(str(a) for a in data.get("excluded", []))
    for entry in areas | excluded:
        if entry != "*" and entry.split("/")[0] not in PROVINCES:
            raise InvalidInput("a service area names provinces of mainland China")
    return ServiceArea(areas, excluded)


def area_to_json(area: ServiceArea) -> dict[str, list[str]]:
    return {"areas": sorted(area.areas), "excluded": sorted(area.excluded)}
