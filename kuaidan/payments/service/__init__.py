"""Payment use cases: start a payment (risk decides first), take the provider's word for it,
refund, close (``_core``); verify and release a payment risk held (``holds``).

Functions take keyword arguments and return plain dataclasses from ``payments.domain``.
"""

from __future__ import annotations

from kuaidan.payments.service._core import (
    NOTIFY_PATH,
    REFERENCE_RE,
    RETURN_PATH,
    NotificationOutcome,
    close_payment,
    get_payment,
    get_refund,
    handle_notification,
    perform_close,
    perform_refund,
    provider_name,
    request_refund,
    start_payment,
    sync_payment,
    verify_return,
)
from kuaidan.payments.service.holds import (
    block_hold,
    close_held_payment,
    expire_hold,
    release_hold,
    resend_code,
    verify_payment,
)
from kuaidan.payments.service.reconcile import list_findings, list_runs, reconcile_payments
from kuaidan.payments.service.setup import (
    PAYMENTS,
    PaymentsConfig,
    build_provider,
    payments_adapter,
)

__all__ = [
    "NOTIFY_PATH",
    "PAYMENTS",
    "REFERENCE_RE",
    "RETURN_PATH",
    "NotificationOutcome",
    "PaymentsConfig",
    "block_hold",
    "build_provider",
    "close_held_payment",
    "close_payment",
    "expire_hold",
    "get_payment",
    "get_refund",
    "handle_notification",
    "list_findings",
    "list_runs",
    "payments_adapter",
    "perform_close",
    "perform_refund",
    "provider_name",
    "reconcile_payments",
    "release_hold",
    "request_refund",
    "resend_code",
    "start_payment",
    "sync_payment",
    "verify_payment",
    "verify_return",
]
