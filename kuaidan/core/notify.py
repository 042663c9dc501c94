"""Messages to people (SMS, e-mail) behind one small interface, and the dev inbox.

A use case never sends with its transaction open: it publishes an event, and a handler hands
the message to the configured ``Notifier``. The default ``DevInboxNotifier`` sends nothing
outside: it keeps each message, encrypted, in the ``dev_inbox_messages`` table, which the
``/dev/inbox`` page shows to administrators when ``KUAIDAN_DEV_INBOX_PAGE`` is on (demo, tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from kuaidan.core.db import Base, UnitOfWork
from kuaidan.core.ports import Port

BODY_CONTEXT = "dev_inbox.body"


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one account. ``dedupe_key`` makes a redelivered send a no-op."""

    user_id: int
    channel: str  # "sms" or "email"
    subject: str
    body: str
    dedupe_key: str


@runtime_checkable
class Notifier(Protocol):
    name: str

    async def send(self, uow: UnitOfWork, message: Message) -> None:
        """Deliver ``message``; called with no transaction open, idempotent per dedupe key."""
        ...


# The notifier use cases hand their messages to, bound by the composition root.
NOTIFIER = Port("notifier", Notifier)


class DevInboxMessage(Base):
    __tablename__ = "dev_inbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(100), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(200))
    body_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class InboxMessage:
    id: int
    user_id: int
    channel: str
    subject: str
    body: str
    created_at: datetime


class DevInboxNotifier:
    """Keeps messages in the database instead of sending them (the body encrypted at rest)."""

    name = "dev_inbox"

    async def send(self, uow: UnitOfWork, message: Message) -> None:
        async with uow.atomic():
            seen = await uow.session.scalar(
                select(DevInboxMessage.id).where(DevInboxMessage.dedupe_key == message.dedupe_key)
            )
            if seen is not None:
                return
            uow.session.add(
                DevInboxMessage(
                    dedupe_key=message.dedupe_key[:100],
                    user_id=message.user_id,
                    channel=message.channel[:10],
                    subject=message.subject[:200],
                    body_enc=uow.cipher.encrypt(message.body, context=BODY_CONTEXT),
                    created_at=uow.now(),
                )
            )


async def dev_inbox(
    uow: UnitOfWork, *, user_id: int | None = None, limit: int = 50
) -> list[InboxMessage]:
    """The newest messages in the dev inbox, decrypted (for the admin page and tests)."""
    stmt = select(DevInboxMessage).order_by(DevInboxMessage.id.desc()).limit(limit)
    if user_id is not None:
        stmt = stmt.where(DevInboxMessage.user_id == user_id)
    rows = (await uow.session.scalars(stmt)).all()
    return [
        InboxMessage(
            id=row.id,
            user_id=row.user_id,
            channel=row.channel,
            subject=row.subject,
            body=uow.cipher.decrypt(row.body_enc, context=BODY_CONTEXT),
            created_at=row.created_at,
        )
        for row in rows
    ]
