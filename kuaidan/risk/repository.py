"""Every SQL statement on the risk tables. Nothing here commits.

Devices and account links are upserted with ``INSERT … ON CONFLICT`` (SQLite and PostgreSQL
both have it), so two attempts from a new device at once never abort a checkout.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.core.db import insert_new
from kuaidan.risk.models import (
    RiskAttempt,
    RiskDevice,
    RiskLink,
    RiskListedNetwork,
    RiskPaidAmount,
    RiskRule,
)

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
HISTORY_LIMIT = 500
FRESH = {"populate_existing": True}


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT that knows ``on_conflict_do_*``."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# rules and listed networks


async def rules(session: AsyncSession) -> list[RiskRule]:
    return list((await session.scalars(select(RiskRule).order_by(RiskRule.position))).all())


async def get_rule(session: AsyncSession, name: str) -> RiskRule | None:
    return await session.scalar(select(RiskRule).where(RiskRule.name == name))


async def add(session: AsyncSession, *rows: Any) -> None:
    session.add_all(rows)
    await session.flush()


async def delete_rules(session: AsyncSession) -> None:
    await session.execute(delete(RiskRule))


async def delete_rule(session: AsyncSession, name: str) -> bool:
    result = await session.execute(delete(RiskRule).where(RiskRule.name == name))
    return int(getattr(result, "rowcount", 0)) == 1


async def networks(session: AsyncSession) -> list[RiskListedNetwork]:
    stmt = select(RiskListedNetwork).order_by(RiskListedNetwork.cidr)
    return list((await session.scalars(stmt)).all())


async def delete_network(session: AsyncSession, cidr: str) -> bool:
    result = await session.execute(delete(RiskListedNetwork).where(RiskListedNetwork.cidr == cidr))
    return int(getattr(result, "rowcount", 0)) == 1


# facts about an attempt


def _count(*where: ColumnElement[bool]) -> Any:
    return select(func.count()).select_from(RiskAttempt).where(*where).scalar_subquery()


def _others(kind: str, value: str) -> Any:
    """Accounts other than the buyer's seen on this device or IP since ``links_since``."""
    return (
        select(func.count(func.distinct(RiskLink.buyer_id)))
        .where(
            RiskLink.kind == kind,
            RiskLink.value == bindparam(value),
            RiskLink.last_seen_at >= bindparam("links_since"),
            RiskLink.buyer_id != bindparam("buyer_id"),
        )
        .scalar_subquery()
    )


def _paid_amounts_json(dialect: str) -> Any:
    """The buyer's latest paid amounts since ``history_since``, as one JSON array."""
    recent = (
        select(RiskPaidAmount.amount_fen.label("amount"))
        .where(
            RiskPaidAmount.buyer_id == bindparam("buyer_id"),
            RiskPaidAmount.paid_at >= bindparam("history_since"),
        )
        .order_by(RiskPaidAmount.paid_at.desc())
        .limit(HISTORY_LIMIT)
        .subquery()
    )
    aggregate = func.json_agg if dialect == "postgresql" else func.json_group_array
    return select(aggregate(recent.c.amount)).select_from(recent).scalar_subquery()


def _facts_statement(dialect: str, *, device: bool, ip: bool) -> Any:
    """The facts query for one shape (with or without device and IP), built once: building
    a statement of a dozen subqueries costs more than running it."""
    at, buyer = RiskAttempt.created_at, RiskAttempt.buyer_id == bindparam("buyer_id")
    hour, day = at >= bindparam("hour"), at >= bindparam("day")
    failed = or_(
        RiskAttempt.status.in_(("rejected", "expired", "blocked")), RiskAttempt.wrong_codes > 0
    )
    columns: dict[str, Any] = {
        "existing": select(RiskAttempt.id)
        .where(RiskAttempt.reference == bindparam("reference"))
        .scalar_subquery(),
        "buyer_hour": _count(buyer, hour),
        "buyer_day": _count(buyer, day),
        "failed_day": _count(buyer, day, failed),
        "paid": _paid_amounts_json(dialect),
    }
    if device:
        on_device = RiskAttempt.device_id == bindparam("device_id")
        columns["device_hour"] = _count(on_device, hour)
        columns["device_day"] = _count(on_device, day)
        columns["device_first_seen"] = (
            select(RiskDevice.first_seen_at)
            .where(RiskDevice.device_id == bindparam("device_id"))
            .scalar_subquery()
        )
        columns["device_others"] = _others("device", "device_id")
    if ip:
        on_ip = RiskAttempt.ip == bindparam("ip")
        columns["ip_hour"] = _count(on_ip, hour)
        columns["ip_day"] = _count(on_ip, day)
        columns["ip_others"] = _others("ip", "ip")
    return select(*(c.label(k) for k, c in columns.items()))


_FACTS: dict[tuple[str, bool, bool], Any] = {}


def _amounts(value: Any) -> list[int]:
    if value is None:
        return []
    items = json.loads(value) if isinstance(value, str) else value
    return [int(item) for item in items]


async def attempt_facts(
    session: AsyncSession,
    *,
    reference: str,
    buyer_id: int,
    device_id: str | None,
    ip: str | None,
    now: datetime,
    links_since: datetime,
    history_since: datetime,
) -> dict[str, Any]:
    """In one round trip: whether this reference was assessed already (``existing``), earlier
    attempts per buyer, device and IP in the hour and day
    windows, the buyer's failed ones in the day, when the device was first seen, and how many
    other accounts were seen on the device and the IP, and the buyer's paid amounts since
    ``history_since`` (``paid``, newest first)."""
    params: dict[str, Any] = {
        "reference": reference,
        "buyer_id": buyer_id,
        "hour": now - HOUR,
        "day": now - DAY,
        "links_since": links_since,
        "history_since": history_since,
    }
    if device_id is not None:
        params["device_id"] = device_id
    if ip is not None:
        params["ip"] = ip
    shape = (session.get_bind().dialect.name, device_id is not None, ip is not None)
    statement = _FACTS.get(shape)
    if statement is None:
        statement = _FACTS[shape] = _facts_statement(shape[0], device=shape[1], ip=shape[2])
    row = dict((await session.execute(statement, params)).one()._mapping)
    row["paid"] = _amounts(row["paid"])
    return row


async def paid_amounts(
    session: AsyncSession, *, buyer_id: int, since: datetime, limit: int = HISTORY_LIMIT
) -> list[int]:
    rows = await session.scalars(
        select(RiskPaidAmount.amount_fen)
        .where(RiskPaidAmount.buyer_id == buyer_id, RiskPaidAmount.paid_at >= since)
        .order_by(RiskPaidAmount.paid_at.desc())
        .limit(limit)
    )
    return list(rows.all())


async def add_paid_amount(session: AsyncSession, row: RiskPaidAmount) -> bool:
    """Once per reference (a redelivered event changes nothing)."""
    stmt = (
        _insert(session)(RiskPaidAmount)
        .values(
            reference=row.reference,
            buyer_id=row.buyer_id,
            amount_fen=row.amount_fen,
            paid_at=row.paid_at,
        )
        .on_conflict_do_nothing(index_elements=["reference"])
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0)) == 1


# recording what was seen


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(session: AsyncSession, what: str) -> Any:
    """The device or link upsert for this dialect, built once."""
    dialect = session.get_bind().dialect.name
    found = _UPSERTS.get((dialect, what))
    if found is None:
        insert = _insert(session)
        if what == "device":
            stmt = insert(RiskDevice).values(
                device_id=bindparam("value"),
                first_seen_at=bindparam("now"),
                last_seen_at=bindparam("now"),
            )
            found = stmt.on_conflict_do_update(
                index_elements=["device_id"], set_={"last_seen_at": stmt.excluded.last_seen_at}
            )
        else:
            stmt = insert(RiskLink).values(
                kind=bindparam("kind"),
                value=bindparam("value"),
                buyer_id=bindparam("buyer_id"),
                first_seen_at=bindparam("now"),
                last_seen_at=bindparam("now"),
            )
            found = stmt.on_conflict_do_update(
                index_elements=["kind", "value", "buyer_id"],
                set_={"last_seen_at": stmt.excluded.last_seen_at},
            )
        _UPSERTS[(dialect, what)] = found
    return found


async def see_device(session: AsyncSession, *, device_id: str, now: datetime) -> None:
    await session.execute(_upsert(session, "device"), {"value": device_id, "now": now})


async def see_links(
    session: AsyncSession, *, links: Sequence[tuple[str, str]], buyer_id: int, now: datetime
) -> None:
    """Record that ``buyer_id`` was seen on these (kind, value) pairs (one statement)."""
    if links:
        params = [{"kind": k, "value": v, "buyer_id": buyer_id, "now": now} for k, v in links]
        await session.execute(_upsert(session, "link"), params)


# attempts and holds

ATTEMPTS: Table = RiskAttempt.__table__  # type: ignore[assignment]
# Every new payment records an attempt: one Core INSERT built once costs a fraction of the
# ORM's flush for the same SQL.
_INSERT_ATTEMPT = insert(ATTEMPTS).returning(ATTEMPTS.c.id)


async def insert_attempt(session: AsyncSession, attempt: RiskAttempt) -> None:
    """Write ``attempt`` and give it its id; it stays out of the session (``insert_new``):
    later changes go through the conditional updates below."""
    await insert_new(session, _INSERT_ATTEMPT, attempt)


async def get_attempt(
    session: AsyncSession, reference: str, *, for_update: bool = False
) -> RiskAttempt | None:
    stmt = select(RiskAttempt).where(RiskAttempt.reference == reference).execution_options(**FRESH)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def resolve(
    session: AsyncSession, *, attempt_id: int, from_status: str, values: dict[str, Any]
) -> bool:
    """One conditional update: True for the one caller that moved the case on."""
    result = await session.execute(
        update(RiskAttempt)
        .where(RiskAttempt.id == attempt_id, RiskAttempt.status == from_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0)) == 1


async def set_attempt_fields(
    session: AsyncSession, attempt_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        update(RiskAttempt)
        .where(RiskAttempt.id == attempt_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def attempts(
    session: AsyncSession,
    *,
    statuses: Collection[str] = (),
    buyer_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RiskAttempt]:
    stmt = select(RiskAttempt).order_by(RiskAttempt.id.desc()).limit(limit).offset(offset)
    if statuses:
        stmt = stmt.where(RiskAttempt.status.in_(list(statuses)))
    if buyer_id is not None:
        stmt = stmt.where(RiskAttempt.buyer_id == buyer_id)
    return list((await session.scalars(stmt)).all())


async def count_attempts(session: AsyncSession, *, statuses: Sequence[str]) -> int:
    total = await session.scalar(
        select(func.count()).select_from(RiskAttempt).where(RiskAttempt.status.in_(statuses))
    )
    return int(total or 0)


async def expired_holds(session: AsyncSession, *, now: datetime, limit: int) -> list[str]:
    rows = await session.scalars(
        select(RiskAttempt.reference)
        .where(RiskAttempt.status == "held", RiskAttempt.hold_expires_at <= now)
        .order_by(RiskAttempt.hold_expires_at)
        .limit(limit)
    )
    return list(rows.all())
