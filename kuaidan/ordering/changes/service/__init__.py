"""Changes before shipping, one module per concern: asking for a change, applying it and the
merchant's approval (requests), a dearer change's extra payment (payments), and what the
change pages show beside the order (panel)."""

from __future__ import annotations

from kuaidan.ordering.changes.service.panel import ChangePanel, SwapOption, change_panel
from kuaidan.ordering.changes.service.payments import (
    expire_change_payments,
    record_change_payment,
)
from kuaidan.ordering.changes.service.requests import (
    NewAddress,
    auto_approve_changes,
    change_address,
    change_line,
    change_to_new_address,
    decide_change,
    list_changes,
    start_packing,
)

__all__ = [
    "ChangePanel",
    "NewAddress",
    "SwapOption",
    "auto_approve_changes",
    "change_address",
    "change_line",
    "change_panel",
    "change_to_new_address",
    "decide_change",
    "expire_change_payments",
    "list_changes",
    "record_change_payment",
    "start_packing",
]
