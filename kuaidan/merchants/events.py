"""Events the merchants area emits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class WebhookDue:
    """A webhook delivery is ready to be sent (one per endpoint, retried on its own)."""

    topic: ClassVar[str] = "merchant.webhook_due"
    delivery_id: int
