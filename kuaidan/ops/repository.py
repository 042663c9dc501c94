"""SQL on the operations tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.ops.models import Heartbeat


async def touch_heartbeat(session: AsyncSession, *, node: str, now: datetime) -> None:
    result = await session.execute(
        update(Heartbeat).where(Heartbeat.node == node).values(beat_at=now)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(Heartbeat(node=node, beat_at=now))


async def last_heartbeat(session: AsyncSession, *, node: str) -> datetime | None:
    return await session.scalar(select(Heartbeat.beat_at).where(Heartbeat.node == node))
