"""Logistics use cases, one module per concern; this package is the door other areas use.

Functions take keyword arguments and return plain dataclasses from ``logistics.domain``.
The ones that may run in a caller's transaction never call a carrier; the ones that call a
carrier (``perform_*``, ``cancel_shipment``) refuse to run inside a transaction.
"""

from kuaidan.logistics.service._common import (
    CALLBACK_PATH,
    LOGISTICS,
    LogisticsConfig,
    logistics_adapter,
    push_salt,
)
from kuaidan.logistics.service.carriers import (
    add_carrier,
    carrier_quality,
    ensure_default_carriers,
    get_carrier,
    list_carriers,
    quote_carriers,
    set_carrier_status,
)
from kuaidan.logistics.service.cases import (
    add_case_note,
    detect_exceptions,
    list_exception_cases,
    resolve_exception,
)
from kuaidan.logistics.service.eta import eta_accuracy_report, eta_predictions
from kuaidan.logistics.service.scorecards import (
    compute_scorecards,
    rate_delivery,
    review_carriers,
)
from kuaidan.logistics.service.shipments import (
    cancel_shipment,
    delivery_rating,
    get_shipment,
    perform_booking,
    perform_interception,
    request_interception,
    request_shipment,
    reship_shipment,
    shipments_for_order,
    track_shipment,
    tracking_mark,
)
from kuaidan.logistics.service.tracking import (
    ApplyOutcome,
    DeadPush,
    InboxAudit,
    InboxStatus,
    PushReceipt,
    TrackingCounts,
    accept_push,
    apply_pushes,
    inbox_audit,
    inbox_status,
    requeue_orphans,
    retry_dead_pushes,
    tracking_counts,
)

__all__ = [
    "CALLBACK_PATH",
    "LOGISTICS",
    "ApplyOutcome",
    "DeadPush",
    "InboxAudit",
    "InboxStatus",
    "LogisticsConfig",
    "PushReceipt",
    "TrackingCounts",
    "accept_push",
    "add_carrier",
    "add_case_note",
    "apply_pushes",
    "cancel_shipment",
    "carrier_quality",
    "compute_scorecards",
    "delivery_rating",
    "detect_exceptions",
    "ensure_default_carriers",
    "eta_accuracy_report",
    "eta_predictions",
    "get_carrier",
    "get_shipment",
    "inbox_audit",
    "inbox_status",
    "list_carriers",
    "list_exception_cases",
    "logistics_adapter",
    "perform_booking",
    "perform_interception",
    "push_salt",
    "quote_carriers",
    "rate_delivery",
    "request_interception",
    "request_shipment",
    "requeue_orphans",
    "reship_shipment",
    "resolve_exception",
    "retry_dead_pushes",
    "review_carriers",
    "set_carrier_status",
    "shipments_for_order",
    "track_shipment",
    "tracking_counts",
    "tracking_mark",
]
