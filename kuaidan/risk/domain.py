"""Pure risk rules: the request's context, the signals, rules as data, and the decision.

No I/O and no clock: ``build_signals`` takes ``now``; ``evaluate(signals, rules)`` adds up the
points of the rules that match and takes the strictest action among them and the score band.
Every signal has a risky direction and a rule may only test it that way, so a riskier picture
never scores lower (the monotonicity the unit tests check with hypothesis).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kuaidan.core.errors import Conflict, DomainError, InvalidInput

MAX_SCORE = 100
RULE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
USER_AGENT_MAX_LENGTH = 200
MAX_CONDITIONS = 4
CODE_DIGITS = 6


class Action(StrEnum):
    """What happens to a payment attempt, from the mildest to the strictest."""

    ALLOW = "allow"
    VERIFY = "verify"  # held until the buyer enters a one-time code
    HOLD = "hold"  # held until a risk analyst approves or rejects it
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def holds(self) -> bool:
        return self in (Action.VERIFY, Action.HOLD)


_SEVERITY = {Action.ALLOW: 0, Action.VERIFY: 1, Action.HOLD: 2, Action.BLOCK: 3}


def stricter(a: Action, b: Action) -> Action:
    return a if a.severity >= b.severity else b


class AttemptStatus(StrEnum):
    """A payment attempt's case: allowed at once, or held and then resolved one way."""

    ALLOWED = "allowed"
    HELD = "held"
    VERIFIED = "verified"  # the buyer entered the right code
    APPROVED = "approved"  # an analyst let it through
    REJECTED = "rejected"  # an analyst stopped it
    EXPIRED = "expired"  # nobody resolved it in time
    BLOCKED = "blocked"  # blocked at once, or after too many wrong codes


FAILED_STATUSES = frozenset({AttemptStatus.REJECTED, AttemptStatus.EXPIRED, AttemptStatus.BLOCKED})


class Risky(StrEnum):
    """Which way a signal is risky: a rule may test it only in that direction."""

    HIGHER = "higher"
    LOWER = "lower"
    TRUE = "true"


SIGNALS: Mapping[str, tuple[Risky, str]] = {
    "amount_fen": (Risky.HIGHER, "the payment's amount, in fen"),
    "account_age_hours": (Risky.LOWER, "hours since the buyer's account was opened"),
    "device_age_minutes": (Risky.LOWER, "minutes since the device was first seen (0: now)"),
    "buyer_attempts_hour": (Risky.HIGHER, "the buyer's earlier attempts in the last hour"),
    "buyer_attempts_day": (Risky.HIGHER, "the buyer's earlier attempts in the last 24 hours"),
    "device_attempts_hour": (Risky.HIGHER, "the device's earlier attempts in the last hour"),
    "device_attempts_day": (Risky.HIGHER, "the device's earlier attempts in the last 24 hours"),
    "ip_attempts_hour": (Risky.HIGHER, "the IP address's earlier attempts in the last hour"),
    "ip_attempts_day": (Risky.HIGHER, "the IP address's earlier attempts in the last 24 hours"),
    "failed_attempts_day": (
        Risky.HIGHER,
        "the buyer's blocked, rejected or expired attempts and wrong codes in the last 24 hours",
    ),
    "history_payments": (Risky.LOWER, "the buyer's successful payments in the last 90 days"),
    "amount_to_median": (
        Risky.HIGHER,
        "the amount over the median of the buyer's successful "
        "payments in the last 90 days (absent without history)",
    ),
    "password_changed_hours": (Risky.LOWER, "hours since the password changed"),
    "phone_changed_hours": (Risky.LOWER, "hours since the phone number changed"),
    "address_changed_hours": (Risky.LOWER, "hours since the address book changed"),
    "accounts_on_device": (Risky.HIGHER, "accounts seen on this device in 30 days"),
    "accounts_on_ip": (Risky.HIGHER, "accounts seen on this IP address in 30 days"),
    "ip_listed": (Risky.TRUE, "the IP address is in a listed-risk range"),
}
OPERATORS: Mapping[Risky, frozenset[str]] = {
    Risky.HIGHER: frozenset({">=", ">"}),
    Risky.LOWER: frozenset({"<=", "<"}),
    Risky.TRUE: frozenset({"is"}),
}


# --- errors ---------------------------------------------------------------------------------


class PaymentBlocked(DomainError):
    code = "payment_blocked"
    status = 403


class VerificationFailed(DomainError):
    code = "verification_failed"
    status = 422


class NotAwaitingVerification(Conflict):
    code = "not_awaiting_verification"


# --- the request's context ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Where a payment attempt comes from: client IP, device id (``kd_device`` cookie or
    ``X-Device-Id`` header) and user agent. Anything malformed is dropped, never trusted."""

    ip: str | None = None
    device_id: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, *, ip: str | None, device_id: str | None, user_agent: str | None) -> RiskContext:
        return cls(
            ip=clean_ip(ip), device_id=clean_device_id(device_id), user_agent=_ua(user_agent)
        )


def clean_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def clean_device_id(value: str | None) -> str | None:
    if value and DEVICE_ID_RE.match(value.strip()):
        return value.strip()
    return None


def _ua(value: str | None) -> str | None:
    cleaned = " ".join((value or "").split())[:USER_AGENT_MAX_LENGTH]
    return cleaned or None


def in_networks(ip: str | None, networks: Iterable[str]) -> bool:
    """Whether ``ip`` lies in any of ``networks`` (CIDR strings; bad entries are skipped)."""
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)
    for cidr in networks:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def clean_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise InvalidInput("not an IP network in CIDR form", details={"cidr": value}) from None


# --- facts → signals ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    """Earlier attempts in the windows (0 where the device or IP is unknown)."""

    buyer_hour: int = 0
    buyer_day: int = 0
    device_hour: int = 0
    device_day: int = 0
    ip_hour: int = 0
    ip_day: int = 0
    failed_day: int = 0


@dataclass(frozen=True, slots=True)
class Facts:
    """What the service gathered about one attempt; ``build_signals`` turns it into signals."""

    amount_fen: int
    account_created_at: datetime | None = None
    device_first_seen_at: datetime | None = None
    counts: Counts = field(default_factory=Counts)
    history_fen: tuple[int, ...] = ()
    password_changed_at: datetime | None = None
    phone_changed_at: datetime | None = None
    address_changed_at: datetime | None = None
    accounts_on_device: int | None = None
    accounts_on_ip: int | None = None
    ip_listed: bool = False


@dataclass(frozen=True, slots=True)
class Signals:
    """One value per name in ``SIGNALS``; None means unknown, and an unknown never matches."""

    amount_fen: int
    account_age_hours: float | None = None
    device_age_minutes: float | None = None
    buyer_attempts_hour: int = 0
    buyer_attempts_day: int = 0
    device_attempts_hour: int | None = None
    device_attempts_day: int | None = None
    ip_attempts_hour: int | None = None
    ip_attempts_day: int | None = None
    failed_attempts_day: int = 0
    history_payments: int = 0
    amount_to_median: float | None = None
    password_changed_hours: float | None = None
    phone_changed_hours: float | None = None
    address_changed_hours: float | None = None
    accounts_on_device: int | None = None
    accounts_on_ip: int | None = None
    ip_listed: bool = False

    def value(self, name: str) -> float | int | bool | None:
        result: float | int | bool | None = getattr(self, name)
        return result


def median_fen(amounts: Sequence[int]) -> int | None:
    """The median amount in whole fen (the lower middle of an even count); None when empty."""
    if not amounts:
        return None
    ordered = sorted(amounts)
    return ordered[(len(ordered) - 1) // 2]


def _hours(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else max((now - since).total_seconds(), 0.0) / 3600


def build_signals(facts: Facts, *, now: datetime, device_known: bool, ip_known: bool) -> Signals:
    median = median_fen(facts.history_fen)
    device_minutes = 0.0 if device_known else None
    if device_known and facts.device_first_seen_at is not None:
        device_minutes = max((now - facts.device_first_seen_at).total_seconds(), 0.0) / 60
    c = facts.counts
    return Signals(
        amount_fen=facts.amount_fen,
        account_age_hours=_hours(facts.account_created_at, now),
        device_age_minutes=device_minutes,
        buyer_attempts_hour=c.buyer_hour,
        buyer_attempts_day=c.buyer_day,
        device_attempts_hour=c.device_hour if device_known else None,
        device_attempts_day=c.device_day if device_known else None,
        ip_attempts_hour=c.ip_hour if ip_known else None,
        ip_attempts_day=c.ip_day if ip_known else None,
        failed_attempts_day=c.failed_day,
        history_payments=len(facts.history_fen),
        amount_to_median=facts.amount_fen / median if median else None,
        password_changed_hours=_hours(facts.password_changed_at, now),
        phone_changed_hours=_hours(facts.phone_changed_at, now),
        address_changed_hours=_hours(facts.address_changed_at, now),
        accounts_on_device=facts.accounts_on_device if device_known else None,
        accounts_on_ip=facts.accounts_on_ip if ip_known else None,
        ip_listed=facts.ip_listed,
    )


# --- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    signal: str
    op: str
    value: float | bool

    def matches(self, signals: Signals) -> bool:
        actual = signals.value(self.signal)
        if actual is None:
            return False
        if self.op == "is":
            return bool(actual) is bool(self.value)
        number, limit = float(actual), float(self.value)
        if self.op == ">=":
            return number >= limit
        if self.op == ">":
            return number > limit
        if self.op == "<=":
            return number <= limit
        return number < limit

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "op": self.op, "value": self.value}


@dataclass(frozen=True, slots=True)
class Rule:
    """Matches when every condition holds; adds ``score`` and asks for at least ``action``."""

    name: str
    position: int
    description: str
    when: tuple[Condition, ...]
    score: int
    action: Action
    enabled: bool = True

    def matches(self, signals: Signals) -> bool:
        return all(condition.matches(signals) for condition in self.when)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "position": self.position,
            "description": self.description,
            "when": [c.to_dict() for c in self.when],
            "score": self.score,
            "action": self.action.value,
            "enabled": self.enabled,
        }


def parse_condition(raw: Mapping[str, Any]) -> Condition:
    signal, op, value = raw.get("signal"), raw.get("op"), raw.get("value")
    if not isinstance(signal, str) or signal not in SIGNALS:
        raise InvalidInput("unknown signal", details={"signal": signal, "known": sorted(SIGNALS)})
    risky = SIGNALS[signal][0]
    if op not in OPERATORS[risky]:
        allowed = sorted(OPERATORS[risky])
        raise InvalidInput(
            f"{signal} is risky when {risky.value}; use one of {allowed}",
            details={"signal": signal, "op": op},
        )
    if risky is Risky.TRUE:
        if value is not True:
            raise InvalidInput(f"{signal} is tested with 'is' true", details={"signal": signal})
        return Condition(signal, "is", True)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidInput(f"{signal} needs a number >= 0", details={"signal": signal})
    return Condition(signal, str(op), value)


def parse_rule(raw: Mapping[str, Any]) -> Rule:
    """A rule from its JSON form; refuses anything that could make the score non-monotonic."""
    name = raw.get("name")
    if not isinstance(name, str) or not RULE_NAME_RE.match(name):
        raise InvalidInput("a rule name is 2-64 lowercase letters, digits or '_'")
    when = raw.get("when")
    if not isinstance(when, list) or not 1 <= len(when) <= MAX_CONDITIONS:
        raise InvalidInput(f"a rule has 1 to {MAX_CONDITIONS} conditions", details={"rule": name})
    score, position = raw.get("score", 0), raw.get("position", 1000)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= MAX_SCORE:
        raise InvalidInput("a rule's score is 0-100", details={"rule": name})
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < 10**6:
        raise InvalidInput("a rule's position is 0-999999", details={"rule": name})
    try:
        action = Action(raw.get("action", "allow"))
    except ValueError:
        raise InvalidInput(
            "action is allow, verify, hold or block", details={"rule": name}
        ) from None
    return Rule(
        name=name,
        position=position,
        description=" ".join(str(raw.get("description", "")).split())[:200],
        when=tuple(parse_condition(c if isinstance(c, dict) else {}) for c in when),
        score=score,
        action=action,
        enabled=bool(raw.get("enabled", True)),
    )


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    """The evaluation order: ascending position, then name."""
    return sorted(rules, key=lambda rule: (rule.position, rule.name))


# --- the decision ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreBands:
    """The least score that asks for verification, for a review hold, and for a block."""

    verify: int = 40
    hold: int = 80
    block: int = 95

    def __post_init__(self) -> None:
        if not 1 <= self.verify <= self.hold <= self.block <= MAX_SCORE:
            raise ValueError("score bands need 1 <= verify <= hold <= block <= 100")

    def action_for(self, score: int) -> Action:
        if score >= self.block:
            return Action.BLOCK
        if score >= self.hold:
            return Action.HOLD
        if score >= self.verify:
            return Action.VERIFY
        return Action.ALLOW


DEFAULT_BANDS = ScoreBands()


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str
    description: str
    score: int
    action: Action


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    score: int
    reasons: tuple[Reason, ...]

    def reasons_json(self) -> list[dict[str, Any]]:
        return [
            {"rule": r.rule, "description": r.description, "score": r.score, "action": r.action}
            for r in self.reasons
        ]


def evaluate(
    signals: Signals, rules: Sequence[Rule], bands: ScoreBands = DEFAULT_BANDS
) -> Decision:
    """Every enabled rule, in order: the matching ones add their points (capped at 100) and
    raise the action to at least their own; the score's band may raise it further."""
    total, action, reasons = 0, Action.ALLOW, []
    for rule in ordered(rules):
        if rule.enabled and rule.matches(signals):
            total += rule.score
            action = stricter(action, rule.action)
            reasons.append(Reason(rule.name, rule.description, rule.score, rule.action))
    score = min(total, MAX_SCORE)
    return Decision(stricter(action, bands.action_for(score)), score, tuple(reasons))


def status_for(action: Action) -> AttemptStatus:
    if action is Action.ALLOW:
        return AttemptStatus.ALLOWED
    if action is Action.BLOCK:
        return AttemptStatus.BLOCKED
    return AttemptStatus.HELD


# --- value types other areas receive --------------------------------------------------------


class CodeOutcome(StrEnum):
    PASSED = "passed"
    WRONG = "wrong"
    BLOCKED = "blocked"  # this wrong code was the last one allowed
    EXPIRED = "expired"  # the code is too old: ask for a new one
    REVIEW = "review"  # the hold waits for an analyst, not for a code


@dataclass(frozen=True, slots=True)
class CodeCheck:
    outcome: CodeOutcome
    tries_left: int


@dataclass(frozen=True, slots=True)
class Assessment:
    """The decision on one payment attempt, and until when a hold waits."""

    reference: str
    decision: Decision
    hold_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class HoldInfo:
    """A held (or once held) attempt as the review console shows it."""

    reference: str
    buyer_id: int
    amount_fen: int
    currency: str
    score: int
    action: Action
    status: AttemptStatus
    reasons: tuple[dict[str, Any], ...]
    device_id: str | None
    ip: str | None
    created_at: datetime
    hold_expires_at: datetime | None
    resolved_at: datetime | None
    note: str | None
    wrong_codes: int


@dataclass(frozen=True, slots=True)
class BuyerHistory:
    """What the review console shows about the buyer behind a hold."""

    buyer_id: int
    account_created_at: datetime | None
    paid_count_90d: int
    paid_median_fen: int | None
    paid_max_fen: int | None
    attempts: tuple[HoldInfo, ...]


@dataclass(frozen=True, slots=True)
class ListedNetwork:
    cidr: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RuleFile:
    rules: tuple[Rule, ...]
    networks: tuple[tuple[str, str], ...]  # (cidr, note)


def parse_rule_file(data: Mapping[str, Any]) -> RuleFile:
    """The default rule file's content, checked like an analyst's edit would be."""
    rules = tuple(parse_rule(raw) for raw in data.get("rules", []))
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise InvalidInput("rule names must be unique")
    networks = tuple(
        (clean_cidr(str(raw["cidr"])), str(raw.get("note", ""))[:200])
        for raw in data.get("listed_networks", [])
    )
    return RuleFile(rules=rules, networks=networks)
