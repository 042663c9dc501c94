"""merchants tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base


class Merchant(Base):
    """A shop on the marketplace; ``credit_score`` later drives its exposure."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        CheckConstraint("credit_score >= 0", name="credit_score_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    logo_path: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    credit_score: Mapped[int] = mapped_column(default=100, server_default="100")
    created_at: Mapped[datetime]
