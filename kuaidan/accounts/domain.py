"""Pure account rules: roles, lockout arithmetic, password policy. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    REVIEWER = "reviewer"
    AGENT = "agent"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.REVIEWER, Role.AGENT, Role.ADMIN})


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
