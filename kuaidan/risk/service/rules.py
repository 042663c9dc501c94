"""Rules and listed networks as data: read, edit (analysts), reset to the default rule file.

Every edit is checked by ``risk.domain.parse_rule`` (so no rule can break the score's
monotonicity) and written to the audit log with the analyst's id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, NotFound
from kuaidan.core.text import one_line
from kuaidan.risk import repository
from kuaidan.risk.domain import (
    ListedNetwork,
    Rule,
    RuleFile,
    clean_cidr,
    ordered,
    parse_rule,
    parse_rule_file,
)
from kuaidan.risk.models import RiskListedNetwork, RiskRule
from kuaidan.risk.service.assess import forget_rules_after_commit, rule_of
from kuaidan.security import service as security

DEFAULT_RULE_FILE = "default_rules.json"


def default_rule_file() -> RuleFile:
    """The rules and networks shipped with kuaidan (``kuaidan/risk/default_rules.json``)."""
    text = resources.files("kuaidan.risk").joinpath(DEFAULT_RULE_FILE).read_text(encoding="utf-8")
    return parse_rule_file(json.loads(text))


def _row(rule: Rule, *, now: Any, actor_id: int | None) -> RiskRule:
    return RiskRule(
        name=rule.name,
        position=rule.position,
        description=rule.description,
        conditions=[c.to_dict() for c in rule.when],
        score=rule.score,
        action=rule.action.value,
        enabled=rule.enabled,
        updated_at=now,
        updated_by=actor_id,
    )


async def list_rules(*, uow: UnitOfWork) -> list[Rule]:
    """Every rule in evaluation order (ascending position, then name)."""
    return ordered(rule_of(row) for row in await repository.rules(uow.session))


async def put_rule(*, uow: UnitOfWork, raw: Mapping[str, Any], actor_id: int) -> Rule:
    """Create the rule, or replace the one with the same name."""
    rule = parse_rule(raw)
    async with uow.atomic():
        forget_rules_after_commit(uow)
        existing = await repository.get_rule(uow.session, rule.name)
        before = rule_of(existing).to_dict() if existing else None
        if existing is not None:
            await repository.delete_rule(uow.session, rule.name)
        await repository.add(uow.session, _row(rule, now=uow.now(), actor_id=actor_id))
        await security.record(
            uow=uow,
            actor_id=actor_id,
            action="risk.rule_changed" if before else "risk.rule_added",
            subject=f"rule:{rule.name}",
            details={"before": before, "after": rule.to_dict()},
        )
    return rule


async def delete_rule(*, uow: UnitOfWork, name: str, actor_id: int) -> None:
    async with uow.atomic():
        forget_rules_after_commit(uow)
        existing = await repository.get_rule(uow.session, name)
        if existing is None:
            raise NotFound("no such rule")
        await repository.delete_rule(uow.session, name)
        await security.record(
            uow=uow,
            actor_id=actor_id,
            action="risk.rule_deleted",
            subject=f"rule:{name}",
            details={"before": rule_of(existing).to_dict()},
        )


async def reset_rules(*, uow: UnitOfWork, actor_id: int | None) -> list[Rule]:
    """Replace every rule with the default rule file's (networks are left alone)."""
    defaults = default_rule_file()
    async with uow.atomic():
        forget_rules_after_commit(uow)
        await repository.delete_rules(uow.session)
        now = uow.now()
        await repository.add(
            uow.session, *[_row(r, now=now, actor_id=actor_id) for r in defaults.rules]
        )
        await security.record(
            uow=uow,
            actor_id=actor_id,
            action="risk.rules_reset",
            subject="rules",
            details={"rules": len(defaults.rules)},
        )
    return ordered(defaults.rules)


async def list_networks(*, uow: UnitOfWork) -> list[ListedNetwork]:
    rows = await repository.networks(uow.session)
    return [ListedNetwork(row.cidr, row.note, row.created_at) for row in rows]


async def add_network(*, uow: UnitOfWork, cidr: str, note: str, actor_id: int) -> ListedNetwork:
    network = clean_cidr(cidr)
    async with uow.atomic():
        forget_rules_after_commit(uow)
        if any(row.cidr == network for row in await repository.networks(uow.session)):
            raise Conflict("this network is listed already")
        row = RiskListedNetwork(
            cidr=network,
            note=one_line(note, field="note")[:200],
            created_at=uow.now(),
            created_by=actor_id,
        )
        await repository.add(uow.session, row)
        await security.record(
            uow=uow, actor_id=actor_id, action="risk.network_listed", subject=f"network:{network}"
        )
    return ListedNetwork(row.cidr, row.note, row.created_at)


async def remove_network(*, uow: UnitOfWork, cidr: str, actor_id: int) -> None:
    network = clean_cidr(cidr)
    async with uow.atomic():
        forget_rules_after_commit(uow)
        if not await repository.delete_network(uow.session, network):
            raise NotFound("this network is not listed")
        await security.record(
            uow=uow, actor_id=actor_id, action="risk.network_unlisted", subject=f"network:{network}"
        )
