"""What the composition root binds to the risk area's port, ``RISK``: the policy (from
settings), the notifier that carries one-time codes, and the metrics it counts into."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from kuaidan.core.db import UnitOfWork
from kuaidan.core.notify import DevInboxNotifier, Notifier
from kuaidan.core.ports import Port
from kuaidan.risk.domain import DEFAULT_BANDS, ScoreBands

if TYPE_CHECKING:
    from kuaidan.config import Settings


class RiskMetrics(Protocol):
    """Counters the risk area bumps after each commit (``ops.metrics`` implements them)."""

    def decided(self, action: str) -> None: ...

    def code_checked(self, outcome: str) -> None: ...

    def hold_resolved(self, outcome: str) -> None: ...


class NoMetrics:
    def decided(self, action: str) -> None:
        return None

    def code_checked(self, outcome: str) -> None:
        return None

    def hold_resolved(self, outcome: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    bands: ScoreBands = DEFAULT_BANDS
    hold_ttl: timedelta = timedelta(hours=24)
    code_ttl: timedelta = timedelta(minutes=10)
    code_max_tries: int = 5
    max_codes: int = 5
    code_resend_after: timedelta = timedelta(seconds=60)
    # Addresses that say nothing about the buyer (loopback, the platform's own proxies).
    ignore_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True, slots=True)
class RiskConfig:
    policy: RiskPolicy = field(default_factory=RiskPolicy)
    notifier: Notifier = field(default_factory=DevInboxNotifier)
    metrics: RiskMetrics = field(default_factory=NoMetrics)


DEFAULT_CONFIG = RiskConfig()
RISK = Port("risk", RiskConfig)


def risk_adapter(settings: Settings, *, metrics: RiskMetrics | None = None) -> RiskConfig:
    """The risk configuration bound to ``RISK``, which every unit of work then carries."""
    policy = RiskPolicy(
        bands=ScoreBands(
            verify=settings.risk_verify_score,
            hold=settings.risk_hold_score,
            block=settings.risk_block_score,
        ),
        hold_ttl=timedelta(hours=settings.risk_hold_ttl_hours),
        code_ttl=timedelta(minutes=settings.risk_code_ttl_minutes),
        code_max_tries=settings.risk_code_max_tries,
        ignore_networks=tuple(settings.risk_ignore_networks),
    )
    return RiskConfig(policy=policy, notifier=DevInboxNotifier(), metrics=metrics or NoMetrics())


def config(uow: UnitOfWork) -> RiskConfig:
    found = uow.adapters.get(RISK)
    return DEFAULT_CONFIG if found is None else found


def count_after_commit(uow: UnitOfWork, bump: Callable[[str], None], value: str) -> None:
    """Bump a counter once the transaction commits (never for work that rolled back)."""

    async def _bump() -> None:
        bump(value)

    uow.after_commit(_bump)
