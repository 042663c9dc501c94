"""Pure account rules: roles, lockout arithmetic, password policy, e-mail, value types. No I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from kuaidan.core.errors import InvalidInput
from kuaidan.core.text import one_line, refuse_controls


class Role(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    REVIEWER = "reviewer"
    AGENT = "agent"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.REVIEWER, Role.AGENT, Role.ADMIN})

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
EMAIL_MAX_LENGTH = 254
DISPLAY_NAME_MAX_LENGTH = 50
INITIAL_SESSION_EPOCH = 0
MAX_ADDRESSES = 20
API_TOKEN_PREFIX = "kd_"  # noqa: S105 (a public marker, not a secret)
API_TOKEN_DISPLAY_LENGTH = 11  # "kd_" and the first eight characters of the secret

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_POSTCODE_RE = re.compile(r"^[0-9A-Za-z -]{3,10}$")


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What other areas and the web layer know about a user (never an ORM row)."""

    id: int
    email: str
    role: Role
    display_name: str
    merchant_id: int | None = None

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles or (self.role is Role.ADMIN and Role.ADMIN in roles)


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful log-in: the user and the session epoch a page session must carry."""

    user: UserInfo
    session_epoch: int


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """The owner's own view of their account, personal data decrypted."""

    id: int
    email: str
    role: Role
    display_name: str
    full_name: str | None
    phone: str | None
    merchant_id: int | None
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserSummary:
    """One line of the administrators' list of accounts (no personal data beyond the e-mail)."""

    id: int
    email: str
    role: Role
    display_name: str
    merchant_id: int | None
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """An API token as its owner sees it: never the secret, only its first characters."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def is_active(self, now: datetime) -> bool:
        return token_is_active(expires_at=self.expires_at, revoked_at=self.revoked_at, now=now)


@dataclass(frozen=True, slots=True)
class AddressInfo:
    """A delivery address from a buyer's address book, decrypted."""

    id: int
    user_id: int
    recipient: str
    phone: str
    province: str
    city: str
    district: str
    line: str
    postcode: str | None
    is_default: bool
    created_at: datetime

    def one_line(self) -> str:
        parts = [self.province, self.city, self.district, self.line]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True, slots=True)
class AccountChangeFacts:
    """When an account was opened and last changed its password, phone or address book
    (None: never since it was opened). Adding the first address is not a change."""

    user_id: int
    created_at: datetime
    password_changed_at: datetime | None
    phone_changed_at: datetime | None
    address_changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class LockoutState:
    failed_logins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After ``max_failures`` wrong passwords in a row the account waits ``lockout``."""

    max_failures: int
    lockout: timedelta

    @classmethod
    def from_settings(cls, *, max_failures: int, lockout_minutes: int) -> LockoutPolicy:
        return cls(max_failures=max_failures, lockout=timedelta(minutes=lockout_minutes))

    def is_locked(self, locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and now < locked_until

    def after_failure(self, failed_logins: int, now: datetime) -> LockoutState:
        """State after a failure, given the count including it; locking restarts the count."""
        if failed_logins >= self.max_failures:
            return LockoutState(failed_logins=0, locked_until=now + self.lockout)
        return LockoutState(failed_logins=failed_logins, locked_until=None)


DEFAULT_LOCKOUT = LockoutPolicy(max_failures=10, lockout=timedelta(minutes=30))


def normalise_email(raw: str) -> str:
    """Trimmed and lower-cased; raises InvalidInput when it is not an address."""
    email = refuse_controls(raw, field="email").strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL_RE.match(email):
        raise InvalidInput("enter a valid e-mail address", details={"field": "email"})
    return email


def check_password(password: str, *, email: str | None = None) -> None:
    """The password policy: 8 to 256 characters, not only digits, not the e-mail itself."""
    problem: str | None = None
    if len(password) < PASSWORD_MIN_LENGTH:
        problem = f"the password needs at least {PASSWORD_MIN_LENGTH} characters"
    elif len(password) > PASSWORD_MAX_LENGTH:
        problem = f"the password may have at most {PASSWORD_MAX_LENGTH} characters"
    elif password.isdigit():
        problem = "the password may not be only digits"
    elif email is not None and password.strip().lower() == email.strip().lower():
        problem = "the password may not be your e-mail address"
    if problem:
        raise InvalidInput(problem, details={"field": "password"})


def clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """Trim, collapse inner whitespace, refuse control characters and over-long values."""
    text = one_line(value, field=field)
    if required and not text:
        raise InvalidInput(f"{field} is required", details={"field": field})
    if len(text) > max_length:
        raise InvalidInput(
            f"{field} may have at most {max_length} characters", details={"field": field}
        )
    return text


def clean_display_name(value: str) -> str:
    return clean_text(value, field="display_name", max_length=DISPLAY_NAME_MAX_LENGTH)


def clean_postcode(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    postcode = value.strip()
    if not _POSTCODE_RE.match(postcode):
        raise InvalidInput("enter a valid postcode", details={"field": "postcode"})
    return postcode


ADDRESS_TEXT_LIMITS = {"recipient": 50, "province": 50, "city": 50, "district": 50, "line": 200}


def clean_address_text(field: str, value: str) -> str:
    """One text field of an address; only the district may be left empty."""
    limit = ADDRESS_TEXT_LIMITS[field]
    return clean_text(value, field=field, max_length=limit, required=field != "district")


def hash_api_token(token: str) -> str:
    """SHA-256 hex of an API token: tokens are long and random, so no salt or stretching."""
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_display_prefix(token: str) -> str:
    return token[:API_TOKEN_DISPLAY_LENGTH]


def token_is_active(
    *, expires_at: datetime | None, revoked_at: datetime | None, now: datetime
) -> bool:
    """Not revoked and not past its expiry (a token without one lasts until revoked). Apart
    from ``ApiTokenInfo`` because authentication reads only these columns of the token."""
    return revoked_at is None and (expires_at is None or now < expires_at)


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target after log-in: only a path on this site, never another origin."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return default
    if target.startswith("//") or "\\" in target or _CONTROL_RE.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
