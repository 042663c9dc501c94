"""Account helpers shared by the use cases: password hashing off the event loop, phone
normalising and blind index, row → dataclass converters, the constants."""

from __future__ import annotations

import asyncio
import functools
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kuaidan.accounts import repository
from kuaidan.accounts.domain import (
    AddressInfo,
    ApiTokenInfo,
    ProfileInfo,
    Role,
    UserInfo,
    clean_text,
)
from kuaidan.accounts.models import Address, ApiToken, User
from kuaidan.core.crypto import Cipher, normalise_phone
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import InvalidInput, NotFound

BAD_LOGIN = "the e-mail or password is not right"
# What ``repository.mark_changed`` records (risk reads them through ``get_change_facts``).
PASSWORD, ADDRESS = "password_changed_at", "address_changed_at"
# A token's last use is written at most this often, so API calls stay read-only.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
# One blind-index context for every phone column, so one number matches across tables.
PHONE_INDEX_CONTEXT = "phone"
FULL_NAME_MAX_LENGTH = 100
TOKEN_NAME_MAX_LENGTH = 100

hasher = PasswordHasher()


# --- passwords and small converters -------------------------------------------------------


@functools.cache
def dummy_hash() -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def verify_sync(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, a fresh hash when the stored one uses outdated parameters)."""
    try:
        hasher.verify(password_hash or dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if password_hash is None:
        return False, None
    fresh = hasher.hash(password) if hasher.check_needs_rehash(password_hash) else None
    return True, fresh


async def verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    # With no hash (unknown e-mail) a dummy is verified, so both cases take the same time.
    return await asyncio.to_thread(verify_sync, password_hash, password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


def clean_phone(raw: str, *, field: str = "phone") -> str:
    try:
        return normalise_phone(raw)
    except ValueError as exc:
        raise InvalidInput("enter a valid phone number", details={"field": field}) from exc


def blind_phone_index(cipher: Cipher, phone: str) -> str:
    return cipher.blind_index(phone, context=PHONE_INDEX_CONTEXT)


def user_info(row: User) -> UserInfo:
    return UserInfo(
        id=row.id,
        email=row.email,
        role=Role(row.role),
        display_name=row.display_name,
        merchant_id=row.merchant_id,
    )


def token_info(row: ApiToken) -> ApiTokenInfo:
    return ApiTokenInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def profile_info(cipher: Cipher, row: User) -> ProfileInfo:
    return ProfileInfo(
        id=row.id,
        email=row.email,
        role=Role(row.role),
        display_name=row.display_name,
        full_name=cipher.decrypt_optional(row.name_enc, context="users.name"),
        phone=cipher.decrypt_optional(row.phone_enc, context="users.phone"),
        merchant_id=row.merchant_id,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def address_info(cipher: Cipher, row: Address) -> AddressInfo:
    return AddressInfo(
        id=row.id,
        user_id=row.user_id,
        recipient=cipher.decrypt(row.recipient_enc, context="addresses.recipient"),
        phone=cipher.decrypt(row.phone_enc, context="addresses.phone"),
        province=row.province,
        city=row.city,
        district=cipher.decrypt_optional(row.district_enc, context="addresses.district") or "",
        line=cipher.decrypt(row.line_enc, context="addresses.line"),
        postcode=row.postcode,
        is_default=row.is_default,
        created_at=row.created_at,
    )


def set_full_name(cipher: Cipher, row: User, full_name: str) -> None:
    name = clean_text(full_name, field="full_name", max_length=FULL_NAME_MAX_LENGTH, required=False)
    row.name_enc = cipher.encrypt(name, context="users.name") if name else None


def set_user_phone(cipher: Cipher, row: User, phone: str) -> None:
    if not phone.strip():
        row.phone_enc = row.phone_index = None
        return
    number = clean_phone(phone)
    row.phone_enc = cipher.encrypt(number, context="users.phone")
    row.phone_index = blind_phone_index(cipher, number)


async def require_user(uow: UnitOfWork, user_id: int, *, for_update: bool = False) -> User:
    row = await repository.get_user(uow.session, user_id=user_id, for_update=for_update)
    if row is None:
        raise NotFound("no such user")
    return row
