"""Request and response models of the risk review console's JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from kuaidan.core.fields import MultilineText, RequestBody, ResponseBody, Text
from kuaidan.risk.domain import BuyerHistory, HoldInfo, ListedNetwork, Rule
from kuaidan.security.domain import AuditEntry


class ReasonRead(ResponseBody):
    rule: str
    description: str
    score: int
    action: str


class HoldRead(ResponseBody):
    reference: str
    buyer_id: int
    amount_fen: int
    currency: str
    score: int
    action: str
    status: str
    reasons: list[ReasonRead]
    device_id: str | None
    ip: str | None
    created_at: datetime
    hold_expires_at: datetime | None
    resolved_at: datetime | None
    note: str | None
    wrong_codes: int

    @classmethod
    def of(cls, hold: HoldInfo) -> HoldRead:
        return cls(
            reference=hold.reference,
            buyer_id=hold.buyer_id,
            amount_fen=hold.amount_fen,
            currency=hold.currency,
            score=hold.score,
            action=hold.action.value,
            status=hold.status.value,
            reasons=[ReasonRead(**reason) for reason in hold.reasons],
            device_id=hold.device_id,
            ip=hold.ip,
            created_at=hold.created_at,
            hold_expires_at=hold.hold_expires_at,
            resolved_at=hold.resolved_at,
            note=hold.note,
            wrong_codes=hold.wrong_codes,
        )


class BuyerHistoryRead(ResponseBody):
    buyer_id: int
    account_created_at: datetime | None
    paid_count_90d: int
    paid_median_fen: int | None
    paid_max_fen: int | None
    attempts: list[HoldRead]

    @classmethod
    def of(cls, history: BuyerHistory) -> BuyerHistoryRead:
        return cls(
            buyer_id=history.buyer_id,
            account_created_at=history.account_created_at,
            paid_count_90d=history.paid_count_90d,
            paid_median_fen=history.paid_median_fen,
            paid_max_fen=history.paid_max_fen,
            attempts=[HoldRead.of(a) for a in history.attempts],
        )


class HoldDetail(ResponseBody):
    hold: HoldRead
    buyer: BuyerHistoryRead


class HoldList(ResponseBody):
    items: list[HoldDetail]


class ReviewRequest(RequestBody):
    note: MultilineText = Field(
        min_length=1, max_length=500, description="Why; kept in the audit log."
    )


class ConditionBody(RequestBody):
    signal: Text = Field(max_length=64)
    op: Literal[">=", ">", "<=", "<", "is"]
    value: float | bool


class RuleBody(RequestBody):
    position: int = Field(ge=0, lt=1_000_000)
    description: MultilineText = Field(default="", max_length=200)
    when: list[ConditionBody] = Field(min_length=1, max_length=4)
    score: int = Field(ge=0, le=100)
    action: Literal["allow", "verify", "hold", "block"] = "allow"
    enabled: bool = True


class RuleRead(ResponseBody):
    name: str
    position: int
    description: str
    when: list[ConditionBody]
    score: int
    action: str
    enabled: bool

    @classmethod
    def of(cls, rule: Rule) -> RuleRead:
        data: dict[str, Any] = rule.to_dict()
        return cls.model_validate(data)


class NetworkBody(RequestBody):
    cidr: Text = Field(max_length=50, description="e.g. 203.0.113.0/24")
    note: MultilineText = Field(default="", max_length=200)


class NetworkRead(ResponseBody):
    cidr: str
    note: str
    created_at: datetime

    @classmethod
    def of(cls, network: ListedNetwork) -> NetworkRead:
        return cls(cidr=network.cidr, note=network.note, created_at=network.created_at)


class AuditRead(ResponseBody):
    id: int
    at: datetime
    actor_id: int | None
    action: str
    subject: str
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditRead:
        return cls(
            id=entry.id,
            at=entry.at,
            actor_id=entry.actor_id,
            action=entry.action,
            subject=entry.subject,
            details=entry.details,
        )
