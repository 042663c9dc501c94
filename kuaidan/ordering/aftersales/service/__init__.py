"""After-sales once an order is delivered: returns (no reason, or for a fault), exchanges for
another colour or size, and refunds for missing items. One module per use case: asking,
reading, deciding, the goods back (returns), the timers, and the page's ask panel.

A case is asked for by the buyer (or an agent on the buyer's behalf, audited), answered by the
merchant within the answer window or escalated to the platform, disputed by the buyer after a
rejection and then ruled on by the platform. Approved, the goods come back in a parcel the
platform books (a pickup) or the buyer sends, tracked by logistics like any parcel; when the
shop receives it the money goes back, or the replacement leaves. A trusted buyer is refunded
as soon as the goods are handed in.

Every step is one conditional update of the case from the status and version it read, one
entry on the case's own timeline and on the order's, one ``order.after_sales_changed`` event
in the outbox and a notice to open pages; a redelivered event or a double click changes
nothing twice.
"""

from __future__ import annotations

from kuaidan.ordering.aftersales.service._case import (
    case_actor,
    exchange_holder,
    policy_from_settings,
    refund_request_no,
)
from kuaidan.ordering.aftersales.service.asking import NewCase, request_case
from kuaidan.ordering.aftersales.service.deciding import (
    ReturnAddressMissing,
    decide_case,
    dispute_case,
    withdraw_case,
)
from kuaidan.ordering.aftersales.service.panel import AskPanel, ask_panel
from kuaidan.ordering.aftersales.service.reading import get_case, list_cases, queue
from kuaidan.ordering.aftersales.service.returns import (
    note_return_booked,
    parcel_delivered,
    receive_return,
    refund_arrived,
    send_back,
)
from kuaidan.ordering.aftersales.service.timers import run_timers

__all__ = [
    "AskPanel",
    "NewCase",
    "ReturnAddressMissing",
    "ask_panel",
    "case_actor",
    "decide_case",
    "dispute_case",
    "exchange_holder",
    "get_case",
    "list_cases",
    "note_return_booked",
    "parcel_delivered",
    "policy_from_settings",
    "queue",
    "receive_return",
    "refund_arrived",
    "refund_request_no",
    "request_case",
    "run_timers",
    "send_back",
    "withdraw_case",
]
