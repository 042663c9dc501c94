"""Operations tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base


class Heartbeat(Base):
    """One row per node, rewritten by the readiness probe to prove the database takes writes."""

    __tablename__ = "ops_heartbeats"

    node: Mapped[str] = mapped_column(String(200), primary_key=True)
    beat_at: Mapped[datetime]
