"""Logistics tables: carriers, shipments, the carrier's pushes and scans (append-only), ETA
predictions, exception cases, delivery ratings and scorecards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")

CARRIER_STATUSES = ("active", "probation", "suspended")
SHIPMENT_STATUSES = (
    "created",
    "picked_up",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "problem",
    "returning",
    "returned",
    "refused",
    "lost",
    "damaged",
    "cancelled",
)
BOOKING_STATES = ("pending", "booked", "failed")
CASE_KINDS = (
    "no_pickup",
    "stale_in_transit",
    "stale_at_destination",
    "problem",
    "returning",
    "refused",
    "lost",
    "damaged",
)
RESOLUTIONS = ("chase", "reship", "refund", "claim")


def _in(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values))


class Carrier(Base):
    __tablename__ = "logistics_carriers"
    __table_args__ = (CheckConstraint(_in("status", CARRIER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    status_changed_at: Mapped[datetime]
    qualifications: Mapped[list[str]] = mapped_column(JSON)
    service_area: Mapped[dict[str, Any]] = mapped_column(JSON)
    price_table: Mapped[dict[str, Any]] = mapped_column(JSON)
    agreement: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


class Shipment(Base):
    __tablename__ = "logistics_shipments"
    __table_args__ = (
        CheckConstraint(_in("status", SHIPMENT_STATUSES), name="status"),
        CheckConstraint(_in("booking", BOOKING_STATES), name="booking"),
        CheckConstraint("weight_g > 0 AND price_fen >= 0", name="positive"),
        UniqueConstraint("carrier_code", "tracking_number"),
        Index("ix_logistics_shipments_open", "status", "last_scan_at"),
        Index(
            "ix_logistics_shipments_lane",
            "carrier_id",
            "origin_province",
            "dest_province",
            "delivered_at",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int | None] = mapped_column(Integer, index=True)
    order_number: Mapped[str | None] = mapped_column(String(32))
    merchant_id: Mapped[int] = mapped_column(Integer, index=True)
    buyer_id: Mapped[int | None] = mapped_column(Integer)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("logistics_carriers.id"))
    carrier_code: Mapped[str] = mapped_column(String(30))
    tracking_number: Mapped[str | None] = mapped_column(String(40))
    label: Mapped[str | None] = mapped_column(Text)
    booking: Mapped[str] = mapped_column(String(10))
    booking_error: Mapped[str | None] = mapped_column(Text)
    recipient_enc: Mapped[str] = mapped_column(Text)
    origin_province: Mapped[str] = mapped_column(String(10))
    origin_city: Mapped[str] = mapped_column(String(50))
    dest_province: Mapped[str] = mapped_column(String(10))
    dest_city: Mapped[str] = mapped_column(String(50))
    zone: Mapped[str] = mapped_column(String(20))
    weight_g: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    promise_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    progress: Mapped[str] = mapped_column(String(20))
    status_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    booked_at: Mapped[datetime | None]
    picked_up_at: Mapped[datetime | None]
    in_city_at: Mapped[datetime | None]
    out_for_delivery_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    damaged_at: Mapped[datetime | None]
    intercepted_at: Mapped[datetime | None]  # asked to stop it; cleared if the carrier can't
    last_scan_at: Mapped[datetime | None]
    eta_earliest: Mapped[datetime | None]
    eta_latest: Mapped[datetime | None]
    eta_stage: Mapped[str | None] = mapped_column(String(30))
    eta_basis: Mapped[str | None] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer, default=1)


class TrackingCallback(Base):
    """Every push received, verified or not, exactly as it came (append-only)."""

    __tablename__ = "logistics_callbacks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    carrier_code: Mapped[str | None] = mapped_column(String(30))
    tracking_number: Mapped[str | None] = mapped_column(String(40))
    shipment_id: Mapped[int | None] = mapped_column(Integer)
    verified: Mapped[bool]
    outcome: Mapped[str] = mapped_column(String(200))
    new_scans: Mapped[int] = mapped_column(Integer, default=0)
    param: Mapped[str] = mapped_column(Text)
    sign: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_logistics_callbacks_parcel", "tracking_number", "carrier_code"),)


class TrackingScan(Base):
    """One scan of a parcel, once: a scan seen again in a later push is not stored again."""

    __tablename__ = "logistics_scans"
    __table_args__ = (UniqueConstraint("shipment_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("logistics_shipments.id"))
    fingerprint: Mapped[str] = mapped_column(String(32))
    scanned_at: Mapped[datetime]
    context: Mapped[str] = mapped_column(String(500))
    location: Mapped[str] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(4))
    sub_code: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str | None] = mapped_column(String(20))
    callback_id: Mapped[int | None] = mapped_column(BigId)
    received_at: Mapped[datetime]


class EtaPrediction(Base):
    __tablename__ = "logistics_eta_predictions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("logistics_shipments.id"), index=True)
    predicted_at: Mapped[datetime]
    stage: Mapped[str] = mapped_column(String(30))
    earliest: Mapped[datetime]
    latest: Mapped[datetime]
    basis: Mapped[str] = mapped_column(String(10))
    samples: Mapped[int] = mapped_column(Integer)


class ExceptionCase(Base):
    __tablename__ = "logistics_exception_cases"
    __table_args__ = (
        CheckConstraint(_in("kind", CASE_KINDS), name="kind"),
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        CheckConstraint(
            "resolution IS NULL OR " + _in("resolution", RESOLUTIONS), name="resolution"
        ),
        CheckConstraint("claim_fen >= 0", name="claim"),
        UniqueConstraint("shipment_id", "kind", "trigger_at"),
        Index("ix_logistics_exception_cases_status", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("logistics_shipments.id"))
    carrier_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    trigger_at: Mapped[datetime]
    opened_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))
    resolution: Mapped[str | None] = mapped_column(String(10))
    claim_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(50))


class DeliveryRating(Base):
    __tablename__ = "logistics_delivery_ratings"
    __table_args__ = (CheckConstraint("stars BETWEEN 1 AND 5", name="stars"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("logistics_shipments.id"), unique=True)
    carrier_id: Mapped[int] = mapped_column(Integer, index=True)
    buyer_id: Mapped[int] = mapped_column(Integer)
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(500), default="")
    rated_at: Mapped[datetime]


class CarrierScorecard(Base):
    __tablename__ = "logistics_scorecards"
    __table_args__ = (UniqueConstraint("carrier_id", "period_start", "period_end"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("logistics_carriers.id"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    shipments: Mapped[int] = mapped_column(Integer)
    finished: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    intact: Mapped[int] = mapped_column(Integer)
    with_exceptions: Mapped[int] = mapped_column(Integer)
    claims_fen: Mapped[int] = mapped_column(BigInteger)
    ratings: Mapped[int] = mapped_column(Integer)
    satisfaction: Mapped[float | None]
    breaches: Mapped[list[str]] = mapped_column(JSON)
    status_after: Mapped[str] = mapped_column(String(20))
    computed_at: Mapped[datetime]


INBOX_STATUSES = ("pending", "applied", "orphan", "dead")


class TrackingInbox(Base):
    """Every verified push, once (keyed by a hash of its content), stored before it is applied.

    ``pending`` → the apply job turns it into scans and status changes (``applied``), keeps it
    for a shipment not known yet (``orphan``, adopted when the shipment appears), or parks it
    with the error when it cannot be applied (``dead``).
    """

    __tablename__ = "logistics_tracking_inbox"
    __table_args__ = (
        CheckConstraint(_in("status", INBOX_STATUSES), name="status"),
        UniqueConstraint("content_hash"),
        Index("ix_logistics_tracking_inbox_due", "status", "id"),
        Index("ix_logistics_tracking_inbox_parcel", "tracking_number", "carrier_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    carrier_code: Mapped[str] = mapped_column(String(30))
    tracking_number: Mapped[str] = mapped_column(String(40))
    param: Mapped[str] = mapped_column(Text)
    sign: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    shipment_id: Mapped[int | None] = mapped_column(Integer)
    new_scans: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None]
