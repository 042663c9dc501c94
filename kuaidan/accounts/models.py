"""Accounts tables: users, API tokens and the buyers' address book.

Personal data (names, phones, addresses) is stored only as ciphertext (``*_enc``, see
``core/crypto``); phones also get a blind index so they can be looked up without decryption.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kuaidan.core.db import Base

ROLE_VALUES = ("buyer", "merchant", "reviewer", "agent", "admin")
ROLE_CHECK = "role IN ({})".format(", ".join(f"'{role}'" for role in ROLE_VALUES))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(ROLE_CHECK, name="role"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    name_enc: Mapped[str | None] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # The merchant a merchant-staff account works for (the merchants area owns that table).
    merchant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    # Page sessions carry the epoch they were opened in; bumping it ends them all.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # When the account's credentials or address book last changed (risk checks these).
    password_changed_at: Mapped[datetime | None]
    phone_changed_at: Mapped[datetime | None]
    address_changed_at: Mapped[datetime | None]

    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", lazy="raise", passive_deletes=True
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="user", lazy="raise", passive_deletes=True
    )


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="api_tokens", lazy="raise")


class Address(Base):
    """A delivery address. Province and city stay in clear (carrier coverage); the rest not."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    recipient_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str] = mapped_column(Text)
    phone_index: Mapped[str] = mapped_column(String(64), index=True)
    province: Mapped[str] = mapped_column(String(50))
    city: Mapped[str] = mapped_column(String(50))
    district_enc: Mapped[str | None] = mapped_column(Text)
    line_enc: Mapped[str] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(10))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="addresses", lazy="raise")
