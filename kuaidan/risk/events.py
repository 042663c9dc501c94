"""Events the risk area emits (frozen dataclasses, delivered through the outbox).

A one-time code travels encrypted (``code_enc``), so the outbox never holds it in clear. The
hold events are how risk's decisions reach payments, which calls risk, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class VerificationCodeIssued:
    topic: ClassVar[str] = "risk.code_issued"
    reference: str
    buyer_id: int
    code_enc: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class HoldApproved:
    topic: ClassVar[str] = "risk.hold_approved"
    reference: str
    analyst_id: int
    note: str


@dataclass(frozen=True, slots=True)
class HoldRejected:
    topic: ClassVar[str] = "risk.hold_rejected"
    reference: str
    analyst_id: int
    note: str


@dataclass(frozen=True, slots=True)
class HoldExpired:
    topic: ClassVar[str] = "risk.hold_expired"
    reference: str
