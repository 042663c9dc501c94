"""The audit log: every area may record what a privileged person or an outsider did.

``record`` joins the caller's transaction (the entry exists exactly when the change does);
called outside one it opens its own. Details must never carry secrets, codes or card data:
callers pass facts such as ids, amounts, outcomes and reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kuaidan.core.db import UnitOfWork
from kuaidan.security import repository
from kuaidan.security.domain import AuditEntry, clean_action, clean_subject
from kuaidan.security.models import AuditLog

log = logging.getLogger(__name__)

MAX_ENTRIES = 500


async def record(
    *,
    uow: UnitOfWork,
    actor_id: int | None,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log (in the caller's transaction, or a new one)."""
    row = AuditLog(
        at=uow.now(),
        actor_id=actor_id,
        action=clean_action(action),
        subject=clean_subject(subject),
        details=dict(details or {}),
    )
    async with uow.atomic():
        await repository.add_entry(uow.session, row)
    log.info("audit: %s %s by %s", row.action, row.subject, actor_id or "-")
    return _entry(row)


async def list_entries(
    *,
    uow: UnitOfWork,
    subject: str | None = None,
    action_prefix: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first, optionally of one subject or of actions starting with a prefix."""
    rows = await repository.entries(
        uow.session,
        subject=subject,
        action_prefix=action_prefix,
        limit=max(1, min(limit, MAX_ENTRIES)),
    )
    return [_entry(row) for row in rows]


def _entry(row: AuditLog) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor_id=row.actor_id,
        action=row.action,
        subject=row.subject,
        details=dict(row.details or {}),
    )
