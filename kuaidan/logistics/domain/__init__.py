"""Logistics rules, pure: places and zones, carriers, selection, tracking statuses, ETA,
exception rules and scorecards. No database, no clock, no network.

Other areas import value types from here (``kuaidan.logistics.domain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kuaidan.core.errors import DomainError
from kuaidan.logistics.domain.carriers import CarrierProfile, CarrierStatus
from kuaidan.logistics.domain.cases import CaseStatus, ExceptionKind, Resolution
from kuaidan.logistics.domain.eta import EtaAccuracy, EtaEstimate, Stage
from kuaidan.logistics.domain.geo import Place, Zone, place_of, zone_between
from kuaidan.logistics.domain.selection import CarrierQuality, CarrierQuote
from kuaidan.logistics.domain.tracking import ShipmentStatus

__all__ = [
    "BookingRefused",
    "BookingState",
    "CarrierError",
    "CarrierProfile",
    "CarrierQuality",
    "CarrierQuote",
    "CarrierStatus",
    "CaseStatus",
    "EtaAccuracy",
    "EtaEstimate",
    "ExceptionCaseInfo",
    "ExceptionKind",
    "NoCarrierAvailable",
    "Place",
    "Recipient",
    "Resolution",
    "ScanInfo",
    "ShipmentInfo",
    "ShipmentStatus",
    "SignatureInvalid",
    "Stage",
    "Zone",
    "place_of",
    "zone_between",
]


class SignatureInvalid(DomainError):
    code = "signature_invalid"
    status = 400


class CarrierError(DomainError):
    """The carrier (or its aggregator) could not be reached or refused what we asked."""

    code = "carrier_error"
    status = 502


class NoCarrierAvailable(DomainError):
    code = "no_carrier_available"
    status = 422


class BookingState:
    """Where a shipment's booking with its carrier stands (plain strings in the database)."""

    PENDING = "pending"
    BOOKED = "booked"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who receives the parcel; stored encrypted, sent only to the carrier."""

    name: str
    phone: str
    address: str


@dataclass(frozen=True, slots=True)
class ScanInfo:
    at: datetime
    context: str
    location: str
    status: ShipmentStatus | None


@dataclass(frozen=True, slots=True)
class ShipmentInfo:
    """A shipment as other areas and pages see it."""

    reference: str
    order_id: int | None
    order_number: str | None
    merchant_id: int
    buyer_id: int | None
    carrier_code: str
    carrier_name: str
    tracking_number: str | None
    booking: str
    status: ShipmentStatus
    status_at: datetime | None
    origin: Place
    destination: Place
    zone: Zone
    weight_g: int
    price_fen: int
    promise_days: int
    created_at: datetime
    booked_at: datetime | None
    picked_up_at: datetime | None
    delivered_at: datetime | None
    eta: EtaEstimate | None
    scans: tuple[ScanInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class ExceptionCaseInfo:
    case_id: int
    shipment_reference: str
    kind: ExceptionKind
    status: CaseStatus
    opened_at: datetime
    trigger_at: datetime
    resolution: Resolution | None
    claim_fen: int
    notes: str
    resolved_at: datetime | None


class BookingRefused(CarrierError):
    """The carrier said no (e.g. an address it does not serve): retrying will not help."""

    code = "booking_refused"
    status = 422
