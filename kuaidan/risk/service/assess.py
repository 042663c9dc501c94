"""Assessing a payment attempt: gather the facts, evaluate the rules, record the attempt.

Runs inside the caller's transaction (``payments.start_payment``) and calls nobody outside:
a one-time code, when one is needed, leaves through the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from kuaidan.accounts import service as accounts
from kuaidan.core.db import UnitOfWork
from kuaidan.risk import repository
from kuaidan.risk.domain import (
    Action,
    Assessment,
    Condition,
    Counts,
    Decision,
    Facts,
    RiskContext,
    Rule,
    build_signals,
    evaluate,
    in_networks,
    ordered,
    status_for,
)
from kuaidan.risk.models import RiskAttempt, RiskRule
from kuaidan.risk.service._config import RiskPolicy, config, count_after_commit
from kuaidan.risk.service.codes import issue_code

HISTORY_WINDOW = timedelta(days=90)
LINK_WINDOW = timedelta(days=30)
COUNT_FIELDS = (
    "buyer_hour",
    "buyer_day",
    "device_hour",
    "device_day",
    "ip_hour",
    "ip_day",
    "failed_day",
)


def effective_context(context: RiskContext | None, policy: RiskPolicy) -> RiskContext:
    """The context as risk uses it: an IP in the ignored networks says nothing, so it is
    dropped (the platform's own proxies, loopback)."""
    ctx = context or RiskContext()
    if ctx.ip is not None and in_networks(ctx.ip, policy.ignore_networks):
        return RiskContext(ip=None, device_id=ctx.device_id, user_agent=ctx.user_agent)
    return ctx


def rule_of(row: RiskRule) -> Rule:
    """A stored rule (checked when it was written) as the pure evaluator takes it."""
    return Rule(
        name=row.name,
        position=row.position,
        description=row.description,
        when=tuple(Condition(c["signal"], c["op"], c["value"]) for c in row.conditions),
        score=row.score,
        action=Action(row.action),
        enabled=row.enabled,
    )


async def gather_facts(
    uow: UnitOfWork,
    ctx: RiskContext,
    *,
    reference: str,
    buyer_id: int,
    amount_fen: int,
    now: datetime,
    networks: Sequence[str],
) -> Facts | None:
    """Everything the rules may ask about this attempt, in two reads (risk's facts, the
    buyer's paid amounts among them, in one; the account's change facts); None when the
    reference was assessed already."""
    found = await repository.attempt_facts(
        uow.session,
        reference=reference,
        buyer_id=buyer_id,
        device_id=ctx.device_id,
        ip=ctx.ip,
        now=now,
        links_since=now - LINK_WINDOW,
        history_since=now - HISTORY_WINDOW,
    )
    if found["existing"] is not None:
        return None
    history = found["paid"]
    account = await accounts.get_change_facts(uow=uow, user_id=buyer_id)
    counts = Counts(**{k: int(found.get(k) or 0) for k in COUNT_FIELDS})
    on_device = 1 + int(found["device_others"] or 0) if ctx.device_id else None
    return Facts(
        amount_fen=amount_fen,
        account_created_at=account.created_at if account else None,
        device_first_seen_at=found.get("device_first_seen"),
        counts=counts,
        history_fen=tuple(history),
        password_changed_at=account.password_changed_at if account else None,
        phone_changed_at=account.phone_changed_at if account else None,
        address_changed_at=account.address_changed_at if account else None,
        accounts_on_device=on_device,
        accounts_on_ip=1 + int(found["ip_others"] or 0) if ctx.ip else None,
        ip_listed=in_networks(ctx.ip, networks),
    )


# Rules and listed networks change rarely and are read on every attempt: each process keeps
# them for RULES_TTL_S (edits made in this process are seen at once, other nodes' within it).
RULES_TTL_S = 5.0
_rules_cache: dict[str, tuple[float, list[Rule], list[str]]] = {}


def forget_rules_after_commit(uow: UnitOfWork) -> None:
    """An edit of the rules or networks: this process reads them afresh once it commits."""
    key = str(uow.db.url)

    async def forget() -> None:
        _rules_cache.pop(key, None)

    uow.after_commit(forget)


async def current_rules(uow: UnitOfWork) -> tuple[list[Rule], list[str]]:
    key = str(uow.db.url)
    cached = _rules_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < RULES_TTL_S:
        return cached[1], cached[2]
    rules = ordered(rule_of(row) for row in await repository.rules(uow.session))
    networks = [row.cidr for row in await repository.networks(uow.session)]
    _rules_cache[key] = (time.monotonic(), rules, networks)
    return rules, networks


async def decide(
    uow: UnitOfWork,
    ctx: RiskContext,
    *,
    reference: str,
    buyer_id: int,
    amount_fen: int,
    now: datetime,
) -> Decision | None:
    """The decision for a new attempt, without recording it; None for a known reference."""
    rules, networks = await current_rules(uow)
    facts = await gather_facts(
        uow,
        ctx,
        reference=reference,
        buyer_id=buyer_id,
        amount_fen=amount_fen,
        now=now,
        networks=networks,
    )
    if facts is None:
        return None
    signals = build_signals(
        facts, now=now, device_known=ctx.device_id is not None, ip_known=ctx.ip is not None
    )
    return evaluate(signals, rules, config(uow).policy.bands)


async def assess(
    *,
    uow: UnitOfWork,
    reference: str,
    buyer_id: int,
    amount_fen: int,
    currency: str,
    context: RiskContext | None = None,
) -> Assessment:
    """Decide on a new payment attempt and record it; the same reference again returns the
    decision already taken. A ``verify`` decision issues a one-time code."""
    cfg = config(uow)
    ctx = effective_context(context, cfg.policy)
    async with uow.atomic():
        now = uow.now()
        decision = await decide(
            uow, ctx, reference=reference, buyer_id=buyer_id, amount_fen=amount_fen, now=now
        )
        if decision is None:
            existing = await repository.get_attempt(uow.session, reference)
            assert existing is not None
            return _assessment(existing)
        attempt = _attempt(reference, buyer_id, amount_fen, currency, ctx, decision, now)
        if decision.action.holds:
            attempt.hold_expires_at = now + cfg.policy.hold_ttl
        await repository.insert_attempt(uow.session, attempt)
        await _remember(uow, ctx, buyer_id=buyer_id, now=now)
        if decision.action is Action.VERIFY:
            await issue_code(uow, attempt)
    count_after_commit(uow, cfg.metrics.decided, decision.action.value)
    return Assessment(reference, decision, attempt.hold_expires_at)


def _attempt(
    reference: str,
    buyer_id: int,
    amount_fen: int,
    currency: str,
    ctx: RiskContext,
    decision: Decision,
    now: datetime,
) -> RiskAttempt:
    return RiskAttempt(
        reference=reference,
        buyer_id=buyer_id,
        amount_fen=amount_fen,
        currency=currency,
        device_id=ctx.device_id,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        score=decision.score,
        action=decision.action.value,
        reasons=decision.reasons_json(),
        status=status_for(decision.action).value,
        created_at=now,
        codes_sent=0,
        wrong_codes=0,
    )


async def _remember(uow: UnitOfWork, ctx: RiskContext, *, buyer_id: int, now: datetime) -> None:
    """The device's first sighting and which accounts use this device and IP."""
    links = []
    if ctx.device_id is not None:
        await repository.see_device(uow.session, device_id=ctx.device_id, now=now)
        links.append(("device", ctx.device_id))
    if ctx.ip is not None:
        links.append(("ip", ctx.ip))
    await repository.see_links(uow.session, links=links, buyer_id=buyer_id, now=now)


def _assessment(attempt: RiskAttempt) -> Assessment:
    decision = Decision(Action(attempt.action), attempt.score, ())
    return Assessment(attempt.reference, decision, attempt.hold_expires_at)
