"""Risk use cases, one module per concern: assessing an attempt, one-time codes, holds and
the review console, rules and listed networks. Keyword-only functions; other areas receive
the value types of ``risk.domain``."""

from __future__ import annotations

from kuaidan.risk.service._config import (
    RISK,
    RiskConfig,
    RiskMetrics,
    RiskPolicy,
    config,
    risk_adapter,
)
from kuaidan.risk.service.assess import assess, decide, effective_context
from kuaidan.risk.service.codes import check_code, resend_code, reveal, send_code
from kuaidan.risk.service.holds import (
    approve_hold,
    buyer_history,
    expire_holds,
    get_hold,
    list_holds,
    record_paid,
    reject_hold,
)
from kuaidan.risk.service.rules import (
    add_network,
    default_rule_file,
    delete_rule,
    list_networks,
    list_rules,
    put_rule,
    remove_network,
    reset_rules,
)

__all__ = [
    "RISK",
    "RiskConfig",
    "RiskMetrics",
    "RiskPolicy",
    "add_network",
    "approve_hold",
    "assess",
    "buyer_history",
    "check_code",
    "config",
    "decide",
    "default_rule_file",
    "delete_rule",
    "effective_context",
    "expire_holds",
    "get_hold",
    "list_holds",
    "list_networks",
    "list_rules",
    "put_rule",
    "record_paid",
    "reject_hold",
    "remove_network",
    "resend_code",
    "reset_rules",
    "reveal",
    "risk_adapter",
    "send_code",
]
