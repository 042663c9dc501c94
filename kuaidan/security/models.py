"""Security tables: the audit log of privileged actions and security events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base


class AuditLog(Base):
    """Append-only: rows are written by ``security.service.record`` and never changed."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_subject_at", "subject", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
