"""What the logistics use cases share: the wired-in carrier gateway, the push salt, and row →
value conversions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import NotFound
from kuaidan.core.ports import Port
from kuaidan.logistics import repository
from kuaidan.logistics.adapters.base import CarrierGateway
from kuaidan.logistics.domain import (
    EtaEstimate,
    Place,
    Recipient,
    ScanInfo,
    ShipmentInfo,
    ShipmentStatus,
    Stage,
    Zone,
)
from kuaidan.logistics.domain.carriers import (
    CarrierProfile,
    CarrierStatus,
    agreement_from_json,
    area_from_json,
    prices_from_json,
)
from kuaidan.logistics.domain.cases import ExceptionRules
from kuaidan.logistics.domain.eta import Milestones
from kuaidan.logistics.models import Carrier, Shipment, TrackingScan

if TYPE_CHECKING:
    from kuaidan.config import Settings

CALLBACK_PATH = "/api/v1/logistics/callbacks/kuaidi100"
RECIPIENT_CONTEXT = "logistics.recipient"


@dataclass(frozen=True, slots=True)
class LogisticsConfig:
    """What the composition root binds to ``LOGISTICS`` for every unit of work."""

    gateway: CarrierGateway
    public_base_url: str
    rules: ExceptionRules = field(default_factory=ExceptionRules)
    scorecard_period: timedelta = timedelta(days=30)

    @property
    def callback_url(self) -> str:
        return f"{self.public_base_url}{CALLBACK_PATH}"


LOGISTICS = Port("logistics", LogisticsConfig)


def build_gateway(settings: Settings) -> CarrierGateway:
    """The configured aggregator's adapter (the sandbox's Kuaidi100-style API so far)."""
    from kuaidan.logistics.adapters.kuaidi100 import AggregatorConfig, Kuaidi100Gateway

    return Kuaidi100Gateway(
        AggregatorConfig(
            base_url=settings.carrier_sandbox_url,
            credentials_file=settings.carrier_sandbox_credentials_file,
            ca_file=settings.carrier_sandbox_ca_file,
            http_timeout_s=settings.carrier_http_timeout_s,
        )
    )


def logistics_adapter(settings: Settings) -> LogisticsConfig:
    rules = ExceptionRules(
        no_pickup_after=timedelta(hours=settings.logistics_no_pickup_hours),
        stale_in_transit_after=timedelta(hours=settings.logistics_stale_transit_hours),
        stale_at_destination_after=timedelta(hours=settings.logistics_stale_destination_hours),
    )
    return LogisticsConfig(
        gateway=build_gateway(settings),
        public_base_url=settings.public_base_url,
        rules=rules,
        scorecard_period=timedelta(days=settings.logistics_scorecard_days),
    )


def config_of(uow: UnitOfWork) -> LogisticsConfig:
    """The carrier gateway and rules; PortNotBound when none is bound."""
    return uow.adapters[LOGISTICS]


def push_salt(uow: UnitOfWork) -> str:
    """The secret our carriers sign pushes with: derived from this installation's keys."""
    return uow.cipher.blind_index("kuaidi100 push salt", context="logistics.push_salt")[:32]


async def outside_call_ahead(uow: UnitOfWork) -> None:
    """Refuse to run in a transaction; end the read-only one earlier reads opened."""
    if uow.in_atomic:
        raise RuntimeError("a carrier is never called with a transaction open")
    if uow.session.in_transaction():
        await uow.session.commit()  # read-only: ends the snapshot, writes nothing


def profile_of(row: Carrier) -> CarrierProfile:
    return CarrierProfile(
        code=row.code,
        name=row.name,
        status=CarrierStatus(row.status),
        qualifications=tuple(row.qualifications),
        area=area_from_json(row.service_area),
        prices=prices_from_json(row.price_table),
        agreement=agreement_from_json(row.agreement),
    )


async def require_shipment(uow: UnitOfWork, reference: str, *, lock: bool = False) -> Shipment:
    row = await repository.get_shipment(uow.session, reference=reference, for_update=lock)
    if row is None:
        raise NotFound("no such shipment", details={"reference": reference})
    return row


def encrypt_recipient(uow: UnitOfWork, recipient: Recipient) -> str:
    text = json.dumps(
        {"name": recipient.name, "phone": recipient.phone, "address": recipient.address},
        ensure_ascii=False,
    )
    return uow.cipher.encrypt(text, context=RECIPIENT_CONTEXT)


def decrypt_recipient(uow: UnitOfWork, token: str) -> Recipient:
    data = json.loads(uow.cipher.decrypt(token, context=RECIPIENT_CONTEXT))
    return Recipient(str(data["name"]), str(data["phone"]), str(data["address"]))


def milestones_of(row: Shipment) -> Milestones:
    return Milestones(
        booked_at=row.booked_at,
        picked_up_at=row.picked_up_at,
        in_city_at=row.in_city_at,
        out_for_delivery_at=row.out_for_delivery_at,
        delivered_at=row.delivered_at,
    )


def eta_of(row: Shipment) -> EtaEstimate | None:
    if row.eta_earliest is None or row.eta_latest is None or row.eta_stage is None:
        return None
    stage = Stage(row.eta_stage)
    anchor = milestones_of(row).at(stage) or row.created_at
    basis = row.eta_basis or "promise"
    return EtaEstimate(stage, anchor, row.eta_earliest, row.eta_latest, basis, 0)


def info_of(
    row: Shipment, carrier_name: str, scans: list[TrackingScan] | None = None
) -> ShipmentInfo:
    return ShipmentInfo(
        reference=row.reference,
        order_id=row.order_id,
        order_number=row.order_number,
        merchant_id=row.merchant_id,
        buyer_id=row.buyer_id,
        carrier_code=row.carrier_code,
        carrier_name=carrier_name,
        tracking_number=row.tracking_number,
        booking=row.booking,
        status=ShipmentStatus(row.status),
        status_at=row.status_at,
        origin=Place(row.origin_province, row.origin_city),
        destination=Place(row.dest_province, row.dest_city),
        zone=Zone(row.zone),
        weight_g=row.weight_g,
        price_fen=row.price_fen,
        promise_days=row.promise_days,
        created_at=row.created_at,
        booked_at=row.booked_at,
        picked_up_at=row.picked_up_at,
        delivered_at=row.delivered_at,
        eta=eta_of(row),
        scans=tuple(
            ScanInfo(
                s.scanned_at,
                s.context,
                s.location,
                ShipmentStatus(s.status) if s.status else None,
            )
            for s in scans or []
        ),
    )
