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
    PaymentsConfig,
    build_provider,
    close_payment,
    get_payment,
    get_refund,
    handle_notification,
    payments_adapter,
    perform_close,
    perform_refund,
    request_refund,
    start_payment,
    sync_payment,
    verify_return,
)
from kuaidan.payments.service.holds import (
    block_hold,
    expire_hold,
    release_hold,
    resend_code,
    verify_payment,
)

__all__ = [
    "NOTIFY_PATH",
    "REFERENCE_RE",
    "RETURN_PATH",
    "NotificationOutcome",
    "PaymentsConfig",
    "block_hold",
    "build_provider",
    "close_payment",
    "expire_hold",
    "get_payment",
    "get_refund",
    "handle_notification",
    "payments_adapter",
    "perform_close",
    "perform_refund",
    "release_hold",
    "request_refund",
    "resend_code",
    "start_payment",
    "sync_payment",
    "verify_payment",
    "verify_return",
]
