"""Every SQL statement on the security tables. Nothing here commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.security.models import AuditLog


async def add_entry(session: AsyncSession, row: AuditLog) -> None:
    session.add(row)
    await session.flush()


async def entries(
    session: AsyncSession, *, subject: str | None, action_prefix: str | None, limit: int
) -> list[AuditLog]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if subject is not None:
        stmt = stmt.where(AuditLog.subject == subject)
    if action_prefix is not None:
        stmt = stmt.where(AuditLog.action.startswith(action_prefix, autoescape=True))
    return list((await session.scalars(stmt)).all())
