"""Bulk creation of buyer accounts for load tests: one password hash shared by all of them.

Hashing a password with argon2id takes tens of milliseconds on purpose; thousands of bench
buyers would take minutes. Here the password is hashed once and every account gets the same
hash, an API token and one default address, in one transaction per batch.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher

from kuaidan.accounts.domain import (
    API_TOKEN_PREFIX,
    INITIAL_SESSION_EPOCH,
    Role,
    api_token_display_prefix,
    check_password,
    clean_display_name,
    hash_api_token,
    normalise_email,
)
from kuaidan.accounts.models import Address, ApiToken, User
from kuaidan.core.crypto import normalise_phone
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import InvalidInput

BULK_MAX = 2_000


@dataclass(frozen=True, slots=True)
class BulkBuyer:
    """A buyer made in bulk: its id, the plaintext API token (shown once) and its address."""

    user_id: int
    email: str
    token: str
    address_id: int


@dataclass(frozen=True, slots=True)
class BulkAddress:
    recipient: str
    phone: str
    province: str
    city: str
    line: str


async def create_buyers_in_bulk(
    *,
    uow: UnitOfWork,
    emails: list[str],
    password: str,
    address: BulkAddress,
    label: str = "bench",
) -> list[BulkBuyer]:
    """Create buyers sharing ``password`` (hashed once), with a token and an address each.

    At most :data:`BULK_MAX` per call, all in one transaction; a taken e-mail fails the batch.
    """
    if not 0 < len(emails) <= BULK_MAX:
        raise InvalidInput(f"create 1..{BULK_MAX} buyers per call")
    check_password(password, email=normalise_email(emails[0]))
    password_hash = await asyncio.to_thread(PasswordHasher().hash, password)
    async with uow.atomic():
        now = uow.now()
        users = [
            User(
                email=normalise_email(email),
                role=Role.BUYER.value,
                password_hash=password_hash,
                display_name=clean_display_name(email.split("@")[0][:30]),
                failed_logins=0,
                session_epoch=INITIAL_SESSION_EPOCH,
                created_at=now,
            )
            for email in emails
        ]
        uow.session.add_all(users)
        await uow.session.flush()
        tokens = [API_TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in users]
        uow.session.add_all(
            ApiToken(
                user_id=user.id,
                name=label,
                token_hash=hash_api_token(token),
                prefix=api_token_display_prefix(token),
                created_at=now,
            )
            for user, token in zip(users, tokens, strict=True)
        )
        books = [_address_row(uow, user.id, address) for user in users]
        uow.session.add_all(books)
        await uow.session.flush()
    return [
        BulkBuyer(user.id, user.email, token, book.id)
        for user, token, book in zip(users, tokens, books, strict=True)
    ]


def _address_row(uow: UnitOfWork, user_id: int, address: BulkAddress) -> Address:
    cipher = uow.cipher
    phone = normalise_phone(address.phone)
    return Address(
        user_id=user_id,
        recipient_enc=cipher.encrypt(address.recipient, context="addresses.recipient"),
        phone_enc=cipher.encrypt(phone, context="addresses.phone"),
        phone_index=cipher.blind_index(phone, context="phone"),
        province=address.province,
        city=address.city,
        district_enc=None,
        line_enc=cipher.encrypt(address.line, context="addresses.line"),
        postcode=None,
        is_default=True,
        created_at=uow.now(),
    )
