"""Merchant value types shared with other areas (never ORM rows). No I/O."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from kuaidan.core.errors import InvalidInput
from kuaidan.core.text import one_line

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
    ship_from_province: str | None = None
    ship_from_city: str | None = None
    auto_book_carrier: bool = False

    @property
    def is_active(self) -> bool:
        return self.status is MerchantStatus.ACTIVE

    @property
    def logo_url(self) -> str | None:
        return f"/media/{self.logo_path}" if self.logo_path else None


@dataclass(frozen=True, slots=True)
class ShippingSettings:
    """Where a merchant's parcels leave from, and whether paid orders book a carrier at once.

    The place is kept as the caller (ordering, which knows logistics' names of places) cleaned
    it: a province's short name and a city's, e.g. 浙江 and 杭州.
    """

    province: str | None
    city: str | None
    auto_book_carrier: bool

    @property
    def has_place(self) -> bool:
        return bool(self.province and self.city)


def check_shipping(settings: ShippingSettings) -> ShippingSettings:
    """A province (1-10 characters) and a city (1-50) together or neither; auto-booking
    needs a place to book from."""
    province = one_line(settings.province or "", field="province") or None
    city = one_line(settings.city or "", field="city") or None
    if (province is None) != (city is None):
        raise InvalidInput("a ship-from place is a province and a city", details={"field": "city"})
    if province is not None and not (len(province) <= 10 and city and len(city) <= 50):
        raise InvalidInput("that place name is too long", details={"field": "city"})
    if settings.auto_book_carrier and province is None:
        raise InvalidInput(
            "automatic booking needs a ship-from place", details={"field": "auto_book_carrier"}
        )
    return ShippingSettings(province, city, settings.auto_book_carrier)


@dataclass(frozen=True, slots=True)
class ReturnAddress:
    """Where a shop wants returned parcels sent (退货地址).

    The province and city are logistics' short names, cleaned by the caller as the ship-from
    place is (浙江, 杭州); the recipient, phone and street line are personal data, stored
    encrypted.
    """

    recipient: str
    phone: str
    province: str
    city: str
    line: str

    def one_line(self) -> str:
        parts = [self.province, self.city, self.line]
        return " ".join(part for part in parts if part)


# (shortest, longest) of each part of a return address, in characters.
RETURN_ADDRESS_LIMITS = {
    "recipient": (1, 50),
    "phone": (5, 20),
    "province": (1, 10),
    "city": (1, 50),
    "line": (4, 200),
}
MIN_PHONE_DIGITS = 5


def check_return_address(address: ReturnAddress) -> ReturnAddress:
    """Each part with its whitespace collapsed and within its limits; a phone number has at
    least five digits. The first bad part is an InvalidInput naming its field."""
    clean: dict[str, str] = {}
    for field, (shortest, longest) in RETURN_ADDRESS_LIMITS.items():
        value = one_line(str(getattr(address, field)), field=field)
        if not shortest <= len(value) <= longest:
            raise InvalidInput(
                f"{field} must be {shortest}..{longest} characters", details={"field": field}
            )
        clean[field] = value
    if sum("0" <= char <= "9" for char in clean["phone"]) < MIN_PHONE_DIGITS:
        raise InvalidInput(
            f"a phone number has at least {MIN_PHONE_DIGITS} digits", details={"field": "phone"}
        )
    return ReturnAddress(**clean)


def check_slug(slug: str) -> str:
    """A URL-safe identifier: lower-case letters, digits and inner hyphens, 1..64 characters."""
    if not SLUG_RE.fullmatch(slug):
        raise InvalidInput(
            "a slug uses lower-case letters, digits and hyphens (1..64 characters)",
            details={"slug": slug},
        )
    return slug


def check_name(value: str, *, field: str, max_length: int = 120) -> str:
    """A non-empty display name of at most ``max_length`` characters, whitespace collapsed
    and no control characters."""
    cleaned = one_line(value, field=field)
    if not 1 <= len(cleaned) <= max_length:
        raise InvalidInput(f"{field} must be 1..{max_length} characters", details={"field": field})
    return cleaned


# --- webhooks ------------------------------------------------------------------------------

# The order events a merchant's endpoint can subscribe to, by topic: what the API accepts.
# ``merchants.handlers.WEBHOOK_EVENTS`` subscribes to their classes (this pure module
# imports no events); a test holds the two lists equal.
WEBHOOK_TOPICS = (
    "order.created",
    "order.paid",
    "order.cancelled",
    "order.shipped",
    "order.delivered",
    "order.completed",
    # What a shop must act on: changes before shipping, interceptions, after-sales requests.
    "order.changed",
    "order.interception_changed",
    "order.after_sales_changed",
)
MAX_WEBHOOKS_PER_MERCHANT = 10
SIGNATURE_HEADER = "Kuaidan-Signature"
SIGNATURE_TOLERANCE_S = 300


@dataclass(frozen=True, slots=True)
class WebhookEndpointInfo:
    id: int
    merchant_id: int
    url: str
    topics: tuple[str, ...]
    active: bool
    created_at: datetime


def check_webhook_url(url: str, *, allow_private: bool) -> str:
    """HTTPS only, a host name or public address; loopback/private only when allowed."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput("a webhook URL must be an https:// URL", details={"url": url})
    if parts.username or parts.password or len(url) > 500:
        raise InvalidInput("a webhook URL carries no credentials and is ≤ 500 characters")
    host = parts.hostname
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    private = host == "localhost" or (address is not None and not address.is_global)
    if private and not allow_private:
        raise InvalidInput("a webhook URL must point at a public host", details={"host": host})
    return url.strip()


def check_webhook_topics(topics: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(topics) - set(WEBHOOK_TOPICS))
    if unknown or not topics:
        raise InvalidInput(
            "choose one or more of the order events",
            details={"unknown": unknown, "allowed": list(WEBHOOK_TOPICS)},
        )
    return tuple(t for t in WEBHOOK_TOPICS if t in topics)


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_webhook_signature(
    secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = SIGNATURE_TOLERANCE_S
) -> bool:
    """What a merchant's receiver does: check the MAC and refuse stale (replayed) deliveries."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected, header.strip())
