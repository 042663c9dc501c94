"""Audit log value types: what a privileged or security-relevant action leaves behind. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ACTION_MAX_LENGTH = 64
# The first-party device id every browser gets on its first page view; payment risk reads it.
DEVICE_COOKIE = "kd_device"
SUBJECT_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log. ``actor_id`` is None for the platform itself or an outsider
    (a forged notification has no account behind it)."""

    id: int
    at: datetime
    actor_id: int | None
    action: str
    subject: str
    details: dict[str, Any]


def clean_action(action: str) -> str:
    """Actions are short dotted names (``risk.hold_approved``); longer ones are cut."""
    return " ".join(action.split())[:ACTION_MAX_LENGTH] or "unknown"


def clean_subject(subject: str) -> str:
    return " ".join(subject.split())[:SUBJECT_MAX_LENGTH]
