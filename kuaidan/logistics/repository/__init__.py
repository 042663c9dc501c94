"""Every SQL statement on the logistics tables. Nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.logistics.models import (
    Carrier,
    CarrierScorecard,
    DeliveryRating,
    EtaPrediction,
    ExceptionCase,
    Shipment,
    TrackingCallback,
    TrackingInbox,
    TrackingScan,
)

FRESH = {"populate_existing": True}
OPEN_STATUSES = ("created", "picked_up", "in_transit", "out_for_delivery", "problem")
TROUBLE_STATUSES = ("problem", "returning", "refused", "lost")
FINISHED_STATUSES = ("delivered", "returned", "lost")


async def add(session: AsyncSession, row: Any) -> None:
    session.add(row)
    await session.flush()


# carriers


async def list_carriers(session: AsyncSession) -> list[Carrier]:
    return list(await session.scalars(select(Carrier).order_by(Carrier.id)))


async def carrier_codes(session: AsyncSession) -> set[str]:
    return set(await session.scalars(select(Carrier.code)))


async def get_carrier(
    session: AsyncSession,
    *,
    code: str | None = None,
    carrier_id: int | None = None,
    for_update: bool = False,
) -> Carrier | None:
    stmt = select(Carrier).execution_options(**FRESH)
    stmt = stmt.where(Carrier.code == code) if code is not None else stmt
    stmt = stmt.where(Carrier.id == carrier_id) if carrier_id is not None else stmt
    return await session.scalar(stmt.with_for_update() if for_update else stmt)


async def set_carrier_status(
    session: AsyncSession, *, carrier_id: int, status: str, reason: str, at: datetime
) -> None:
    await session.execute(
        update(Carrier)
        .where(Carrier.id == carrier_id)
        .values(
            status=status,
            status_reason=reason[:500],
            status_changed_at=at,
            version=Carrier.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


# shipments


async def get_shipment(
    session: AsyncSession,
    *,
    reference: str | None = None,
    shipment_id: int | None = None,
    for_update: bool = False,
) -> Shipment | None:
    stmt = select(Shipment).execution_options(**FRESH)
    stmt = stmt.where(Shipment.reference == reference) if reference is not None else stmt
    stmt = stmt.where(Shipment.id == shipment_id) if shipment_id is not None else stmt
    return await session.scalar(stmt.with_for_update() if for_update else stmt)


async def shipment_by_tracking(
    session: AsyncSession, *, carrier_code: str, tracking_number: str, for_update: bool = False
) -> Shipment | None:
    stmt = (
        select(Shipment)
        .where(Shipment.carrier_code == carrier_code, Shipment.tracking_number == tracking_number)
        .execution_options(**FRESH)
    )
    return await session.scalar(stmt.with_for_update() if for_update else stmt)


async def clear_interception(session: AsyncSession, *, shipment_id: int) -> None:
    """The carrier could not stop the parcel: it no longer counts as intercepted."""
    await session.execute(
        update(Shipment)
        .where(Shipment.id == shipment_id)
        .values(intercepted_at=None)
        .execution_options(synchronize_session=False)
    )


async def shipments_for_order(session: AsyncSession, *, order_id: int) -> list[Shipment]:
    rows = await session.scalars(
        select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
    )
    return list(rows)


async def lane_history(
    session: AsyncSession, *, carrier_id: int, origin: str, destination: str, limit: int
) -> list[tuple[Any, ...]]:
    """Milestones of the lane's most recently delivered shipments."""
    result = await session.execute(
        select(
            Shipment.booked_at,
            Shipment.picked_up_at,
            Shipment.in_city_at,
            Shipment.out_for_delivery_at,
            Shipment.delivered_at,
        )
        .where(
            Shipment.carrier_id == carrier_id,
            Shipment.origin_province == origin,
            Shipment.dest_province == destination,
            Shipment.delivered_at.is_not(None),
        )
        .order_by(Shipment.delivered_at.desc())
        .limit(limit)
    )
    return [tuple(row) for row in result.all()]


async def detection_candidates(
    session: AsyncSession, *, quiet_since: datetime, after_id: int, limit: int
) -> list[Shipment]:
    """Booked shipments in trouble, or open and quiet since ``quiet_since``, by id."""
    quiet = Shipment.status.in_(OPEN_STATUSES) & (
        func.coalesce(Shipment.last_scan_at, Shipment.booked_at) <= quiet_since
    )
    stmt = (
        select(Shipment)
        .where(
            Shipment.id > after_id,
            Shipment.booked_at.is_not(None),
            quiet | Shipment.status.in_(TROUBLE_STATUSES) | Shipment.damaged_at.is_not(None),
        )
        .order_by(Shipment.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


# callbacks and scans


async def orphan_callbacks(
    session: AsyncSession, *, carrier_code: str, tracking_number: str
) -> list[TrackingCallback]:
    rows = await session.scalars(
        select(TrackingCallback)
        .where(
            TrackingCallback.tracking_number == tracking_number,
            TrackingCallback.carrier_code == carrier_code,
            TrackingCallback.verified.is_(True),
            TrackingCallback.shipment_id.is_(None),
        )
        .order_by(TrackingCallback.id)
    )
    return list(rows)


async def link_callback(session: AsyncSession, *, callback_id: int, shipment_id: int) -> None:
    await session.execute(
        update(TrackingCallback)
        .where(TrackingCallback.id == callback_id)
        .values(shipment_id=shipment_id)
        .execution_options(synchronize_session=False)
    )


async def callbacks_for(session: AsyncSession, *, tracking_number: str) -> list[TrackingCallback]:
    rows = await session.scalars(
        select(TrackingCallback)
        .where(TrackingCallback.tracking_number == tracking_number)
        .order_by(TrackingCallback.id)
    )
    return list(rows)


async def fingerprints(session: AsyncSession, *, shipment_id: int) -> set[str]:
    rows = await session.scalars(
        select(TrackingScan.fingerprint).where(TrackingScan.shipment_id == shipment_id)
    )
    return set(rows)


async def add_scans(session: AsyncSession, scans: Sequence[TrackingScan]) -> None:
    session.add_all(scans)
    await session.flush()


async def scans_for(session: AsyncSession, *, shipment_id: int) -> list[TrackingScan]:
    rows = await session.scalars(
        select(TrackingScan)
        .where(TrackingScan.shipment_id == shipment_id)
        .order_by(TrackingScan.scanned_at.desc(), TrackingScan.id.desc())
    )
    return list(rows)


async def tracking_counts(session: AsyncSession, *, prefix: str) -> tuple[int, int, int]:
    """Scans, delivered shipments and pushes kept for tracking numbers starting ``prefix``."""
    pattern = prefix.replace("%", "").replace("_", "") + "%"
    scans = await session.scalar(
        select(func.count(TrackingScan.id))
        .join(Shipment, Shipment.id == TrackingScan.shipment_id)
        .where(Shipment.tracking_number.like(pattern))
    )
    delivered = await session.scalar(
        select(func.count(Shipment.id)).where(
            Shipment.tracking_number.like(pattern), Shipment.status == "delivered"
        )
    )
    pushes = await session.scalar(
        select(func.count(TrackingInbox.id)).where(TrackingInbox.tracking_number.like(pattern))
    )
    return int(scans or 0), int(delivered or 0), int(pushes or 0)


# ETA predictions


async def predictions_delivered(
    session: AsyncSession, *, since: datetime, until: datetime, carrier_id: int | None
) -> list[tuple[Any, ...]]:
    stmt = (
        select(EtaPrediction.earliest, EtaPrediction.latest, Shipment.delivered_at)
        .join(Shipment, Shipment.id == EtaPrediction.shipment_id)
        .where(Shipment.delivered_at >= since, Shipment.delivered_at < until)
    )
    if carrier_id is not None:
        stmt = stmt.where(Shipment.carrier_id == carrier_id)
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def predictions_of(
    session: AsyncSession, *, references: Sequence[str]
) -> list[tuple[EtaPrediction, Shipment]]:
    """Every stored prediction of these shipments, each with its shipment, oldest first."""
    result = await session.execute(
        select(EtaPrediction, Shipment)
        .join(Shipment, Shipment.id == EtaPrediction.shipment_id)
        .where(Shipment.reference.in_(references))
        .order_by(EtaPrediction.id)
    )
    return [(prediction, shipment) for prediction, shipment in result.all()]


# exception cases


async def case_exists(
    session: AsyncSession, *, shipment_id: int, kind: str, trigger_at: datetime
) -> bool:
    found = await session.scalar(
        select(ExceptionCase.id).where(
            ExceptionCase.shipment_id == shipment_id,
            ExceptionCase.kind == kind,
            ExceptionCase.trigger_at == trigger_at,
        )
    )
    return found is not None


async def get_case(
    session: AsyncSession, *, case_id: int, for_update: bool = False
) -> ExceptionCase | None:
    stmt = select(ExceptionCase).where(ExceptionCase.id == case_id).execution_options(**FRESH)
    return await session.scalar(stmt.with_for_update() if for_update else stmt)


async def list_cases(
    session: AsyncSession, *, status: str | None, shipment_id: int | None, limit: int
) -> list[ExceptionCase]:
    stmt = select(ExceptionCase).order_by(ExceptionCase.id.desc()).limit(limit)
    stmt = stmt.where(ExceptionCase.status == status) if status else stmt
    stmt = stmt.where(ExceptionCase.shipment_id == shipment_id) if shipment_id else stmt
    return list(await session.scalars(stmt))


# ratings and scorecards


async def get_rating(session: AsyncSession, *, shipment_id: int) -> DeliveryRating | None:
    return await session.scalar(
        select(DeliveryRating).where(DeliveryRating.shipment_id == shipment_id)
    )


async def period_shipments(
    session: AsyncSession, *, carrier_id: int, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    """Shipments picked up in [start, end), with their count of exception cases."""
    cases = (
        select(func.count(ExceptionCase.id))
        .where(ExceptionCase.shipment_id == Shipment.id)
        .correlate(Shipment)
        .scalar_subquery()
    )
    stmt = select(
        Shipment.picked_up_at,
        Shipment.promise_days,
        Shipment.delivered_at,
        Shipment.status,
        Shipment.damaged_at,
        cases,
    ).where(
        Shipment.carrier_id == carrier_id,
        Shipment.picked_up_at >= start,
        Shipment.picked_up_at < end,
    )
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def period_claims_fen(
    session: AsyncSession, *, carrier_id: int, start: datetime, end: datetime
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(ExceptionCase.claim_fen), 0)).where(
            ExceptionCase.carrier_id == carrier_id,
            ExceptionCase.resolution == "claim",
            ExceptionCase.resolved_at >= start,
            ExceptionCase.resolved_at < end,
        )
    )
    return int(total or 0)


async def period_ratings(
    session: AsyncSession, *, carrier_id: int, start: datetime, end: datetime
) -> list[int]:
    rows = await session.scalars(
        select(DeliveryRating.stars).where(
            DeliveryRating.carrier_id == carrier_id,
            DeliveryRating.rated_at >= start,
            DeliveryRating.rated_at < end,
        )
    )
    return [int(s) for s in rows]


async def get_scorecard(
    session: AsyncSession, *, carrier_id: int, start: datetime, end: datetime
) -> CarrierScorecard | None:
    return await session.scalar(
        select(CarrierScorecard)
        .where(
            CarrierScorecard.carrier_id == carrier_id,
            CarrierScorecard.period_start == start,
            CarrierScorecard.period_end == end,
        )
        .execution_options(**FRESH)
    )


async def latest_scorecards(session: AsyncSession) -> list[CarrierScorecard]:
    """The most recently computed scorecard of each carrier."""
    newest = (
        select(CarrierScorecard.carrier_id, func.max(CarrierScorecard.id).label("id"))
        .group_by(CarrierScorecard.carrier_id)
        .subquery()
    )
    rows = await session.scalars(
        select(CarrierScorecard).join(newest, newest.c.id == CarrierScorecard.id)
    )
    return list(rows)


# consoles: the case queue, one case with its shipment, a carrier's scorecards


async def search_cases(
    session: AsyncSession,
    *,
    status: str | None = None,
    kind: str | None = None,
    carrier_id: int | None = None,
    merchant_id: int | None = None,
    order_number: str | None = None,
    opened_before: datetime | None = None,
    case_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[tuple[ExceptionCase, Shipment]]:
    """Cases with their shipment: open ones first, oldest first; filters are optional."""
    conditions = []
    if status is not None:
        conditions.append(ExceptionCase.status == status)
    if kind is not None:
        conditions.append(ExceptionCase.kind == kind)
    if carrier_id is not None:
        conditions.append(ExceptionCase.carrier_id == carrier_id)
    if merchant_id is not None:
        conditions.append(Shipment.merchant_id == merchant_id)
    if order_number is not None:
        conditions.append(Shipment.order_number == order_number)
    if opened_before is not None:
        conditions.append(ExceptionCase.opened_at <= opened_before)
    if case_id is not None:
        conditions.append(ExceptionCase.id == case_id)
    stmt = (
        select(ExceptionCase, Shipment)
        .join(Shipment, Shipment.id == ExceptionCase.shipment_id)
        .where(*conditions)
        .order_by(ExceptionCase.status, ExceptionCase.opened_at, ExceptionCase.id)
        .execution_options(**FRESH)
    )
    result = await session.execute(stmt.limit(limit).offset(offset))
    return [(row[0], row[1]) for row in result.all()]


async def scorecards_of(
    session: AsyncSession, *, carrier_id: int, limit: int
) -> list[CarrierScorecard]:
    """The carrier's scorecards of its latest ``limit`` periods, newest period first."""
    rows = await session.scalars(
        select(CarrierScorecard)
        .where(CarrierScorecard.carrier_id == carrier_id)
        .order_by(CarrierScorecard.period_start.desc(), CarrierScorecard.id.desc())
        .limit(limit)
    )
    return list(rows)
