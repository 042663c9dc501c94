"""Merchant value types shared with other areas (never ORM rows). No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kuaidan.core.errors import InvalidInput

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
DEFAULT_CREDIT_SCORE = 100


class MerchantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class MerchantInfo:
    """What the rest of the platform knows about a merchant."""

    id: int
    slug: str
    name: str
    name_en: str
    description: str
    logo_path: str | None
    status: MerchantStatus
    credit_score: int
    created_at: datetime

    @property
    def is_active(self) -> bool:
        return self.status is MerchantStatus.ACTIVE

    @property
    def logo_url(self) -> str | None:
        return f"/media/{self.logo_path}" if self.logo_path else None


def check_slug(slug: str) -> str:
    """A URL-safe identifier: lower-case letters, digits and inner hyphens, 1..64 characters."""
    if not SLUG_RE.fullmatch(slug):
        raise InvalidInput(
            "a slug uses lower-case letters, digits and hyphens (1..64 characters)",
            details={"slug": slug},
        )
    return slug


def check_name(value: str, *, field: str, max_length: int = 120) -> str:
    """A trimmed, non-empty display name of at most ``max_length`` characters."""
    cleaned = value.strip()
    if not 1 <= len(cleaned) <= max_length:
        raise InvalidInput(f"{field} must be 1..{max_length} characters", details={"field": field})
    return cleaned
