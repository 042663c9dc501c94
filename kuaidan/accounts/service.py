"""Account use cases: users, log-in and lockout, page sessions, API tokens, the address book.

Every function takes keyword arguments, owns its transaction and returns plain dataclasses
from ``accounts.domain``. Personal data is encrypted and decrypted here and nowhere else.
Password hashing (argon2id) runs in a worker thread so that it never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from kuaidan.accounts import repository
from kuaidan.accounts.domain import (
    API_TOKEN_PREFIX,
    DEFAULT_LOCKOUT,
    INITIAL_SESSION_EPOCH,
    MAX_ADDRESSES,
    AccountChangeFacts,
    AddressInfo,
    ApiTokenInfo,
    LockoutPolicy,
    LockoutState,
    LoginResult,
    ProfileInfo,
    Role,
    UserInfo,
    UserSummary,
    api_token_display_prefix,
    check_password,
    clean_address_text,
    clean_display_name,
    clean_postcode,
    clean_text,
    hash_api_token,
    normalise_email,
)
from kuaidan.accounts.models import Address, ApiToken, User
from kuaidan.core.crypto import Cipher, normalise_phone
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput, Locked, NotFound, Unauthorized
from kuaidan.core.pagination import PageOf, PageRequest

BAD_LOGIN = "the e-mail or password is not right"
# What ``repository.mark_changed`` records (risk reads them through ``get_change_facts``).
PASSWORD, ADDRESS = "password_changed_at", "address_changed_at"
# A token's last use is written at most this often, so API calls stay read-only.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
# One blind-index context for every phone column, so one number matches across tables.
PHONE_INDEX_CONTEXT = "phone"
FULL_NAME_MAX_LENGTH = 100
TOKEN_NAME_MAX_LENGTH = 100

_hasher = PasswordHasher()


# --- passwords and small converters -------------------------------------------------------


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify_sync(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, a fresh hash when the stored one uses outdated parameters)."""
    try:
        _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False, None
    if password_hash is None:
        return False, None
    fresh = _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None
    return True, fresh


async def _verify_password(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    # With no hash (unknown e-mail) a dummy is verified, so both cases take the same time.
    return await asyncio.to_thread(_verify_sync, password_hash, password)


async def _hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _clean_phone(raw: str, *, field: str = "phone") -> str:
    try:
        return normalise_phone(raw)
    except ValueError as exc:
        raise InvalidInput("enter a valid phone number", details={"field": field}) from exc


def _phone_index(cipher: Cipher, phone: str) -> str:
    return cipher.blind_index(phone, context=PHONE_INDEX_CONTEXT)


def _user_info(row: User) -> UserInfo:
    return UserInfo(
        id=row.id,
        email=row.email,
        role=Role(row.role),
        display_name=row.display_name,
        merchant_id=row.merchant_id,
    )


def _token_info(row: ApiToken) -> ApiTokenInfo:
    return ApiTokenInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _profile_info(cipher: Cipher, row: User) -> ProfileInfo:
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


def _address_info(cipher: Cipher, row: Address) -> AddressInfo:
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


def _set_full_name(cipher: Cipher, row: User, full_name: str) -> None:
    name = clean_text(full_name, field="full_name", max_length=FULL_NAME_MAX_LENGTH, required=False)
    row.name_enc = cipher.encrypt(name, context="users.name") if name else None


def _set_user_phone(cipher: Cipher, row: User, phone: str) -> None:
    if not phone.strip():
        row.phone_enc = row.phone_index = None
        return
    number = _clean_phone(phone)
    row.phone_enc = cipher.encrypt(number, context="users.phone")
    row.phone_index = _phone_index(cipher, number)


async def _require_user(uow: UnitOfWork, user_id: int, *, for_update: bool = False) -> User:
    row = await repository.get_user(uow.session, user_id=user_id, for_update=for_update)
    if row is None:
        raise NotFound("no such user")
    return row


# --- users ---------------------------------------------------------------------------------


async def create_user(
    *,
    uow: UnitOfWork,
    email: str,
    password: str,
    role: Role,
    display_name: str,
    phone: str | None = None,
    merchant_id: int | None = None,
    full_name: str | None = None,
) -> UserInfo:
    """Create an account; Conflict when the e-mail is already registered."""
    address = normalise_email(email)
    check_password(password, email=address)
    row = User(
        email=address,
        role=Role(role).value,
        password_hash="",
        display_name=clean_display_name(display_name),
        merchant_id=merchant_id,
        failed_logins=0,
        session_epoch=INITIAL_SESSION_EPOCH,
    )
    _set_user_phone(uow.cipher, row, phone or "")
    _set_full_name(uow.cipher, row, full_name or "")
    row.password_hash = await _hash_password(password)
    try:
        async with uow.atomic():
            if await repository.email_exists(uow.session, email=address):
                raise Conflict("an account with this e-mail already exists")
            row.created_at = uow.now()
            await repository.add_user(uow.session, row)
    except IntegrityError as exc:  # a concurrent registration won the unique index
        raise Conflict("an account with this e-mail already exists") from exc
    return _user_info(row)


async def register_buyer(
    *,
    uow: UnitOfWork,
    email: str,
    password: str,
    display_name: str,
    phone: str | None = None,
    full_name: str | None = None,
) -> UserInfo:
    """Self-service sign-up; only buyers register themselves (staff come from the CLI)."""
    return await create_user(
        uow=uow,
        email=email,
        password=password,
        role=Role.BUYER,
        display_name=display_name,
        phone=phone,
        full_name=full_name,
    )


async def get_user(*, uow: UnitOfWork, user_id: int) -> UserInfo | None:
    row = await repository.get_user(uow.session, user_id=user_id)
    return None if row is None else _user_info(row)


async def get_user_by_email(*, uow: UnitOfWork, email: str) -> UserInfo | None:
    try:
        address = normalise_email(email)
    except InvalidInput:
        return None
    row = await repository.get_user_by_email(uow.session, email=address)
    return None if row is None else _user_info(row)


async def find_users_by_phone(*, uow: UnitOfWork, phone: str) -> list[UserInfo]:
    """Accounts whose phone equals ``phone``, found through the blind index (oldest first)."""
    index = _phone_index(uow.cipher, _clean_phone(phone))
    rows = await repository.users_by_phone_index(uow.session, phone_index=index)
    return [_user_info(row) for row in rows]


async def find_user_by_phone(*, uow: UnitOfWork, phone: str) -> UserInfo | None:
    """The oldest account with this phone (a number may be shared by several accounts)."""
    found = await find_users_by_phone(uow=uow, phone=phone)
    return found[0] if found else None


async def list_users(
    *, uow: UnitOfWork, page: PageRequest, role: Role | None = None, phone: str | None = None
) -> PageOf[UserSummary]:
    """Accounts by id, optionally only one role or those with a given phone (blind index)."""
    phone_index = _phone_index(uow.cipher, _clean_phone(phone)) if phone else None
    rows, total = await repository.list_users(
        uow.session,
        role=role.value if role else None,
        phone_index=phone_index,
        offset=page.offset,
        limit=page.size,
    )
    items = [
        UserSummary(
            id=row.id,
            email=row.email,
            role=Role(row.role),
            display_name=row.display_name,
            merchant_id=row.merchant_id,
            created_at=row.created_at,
            last_login_at=row.last_login_at,
            locked_until=row.locked_until,
        )
        for row in rows
    ]
    return PageOf(items=items, total=total, page=page.page, size=page.size)


async def get_change_facts(*, uow: UnitOfWork, user_id: int) -> AccountChangeFacts | None:
    """When the account was opened and last changed its password, phone or addresses."""
    row = await repository.get_user(uow.session, user_id=user_id)
    if row is None:
        return None
    changed = (row.password_changed_at, row.phone_changed_at, row.address_changed_at)
    return AccountChangeFacts(row.id, row.created_at, *changed)


async def get_profile(*, uow: UnitOfWork, user_id: int) -> ProfileInfo:
    """The owner's view of their account, with their name and phone decrypted."""
    return _profile_info(uow.cipher, await _require_user(uow, user_id))


async def update_profile(
    *,
    uow: UnitOfWork,
    user_id: int,
    display_name: str | None = None,
    full_name: str | None = None,
    phone: str | None = None,
) -> ProfileInfo:
    """Change what is given; ``None`` keeps a field, ``""`` removes the name or the phone."""
    async with uow.atomic():
        row = await _require_user(uow, user_id, for_update=True)
        if display_name is not None:
            row.display_name = clean_display_name(display_name)
        if full_name is not None:
            _set_full_name(uow.cipher, row, full_name)
        if phone is not None:
            before = row.phone_index
            _set_user_phone(uow.cipher, row, phone)
            if row.phone_index != before:
                row.phone_changed_at = uow.now()
    return _profile_info(uow.cipher, row)


# --- log-in, lockout and page sessions -----------------------------------------------------


def _locked(locked_until: datetime | None) -> Locked:
    until = locked_until.isoformat() if locked_until else None
    return Locked(
        "too many failed log-ins: this account is locked for a while, try again later",
        details={"locked_until": until},
    )


async def _record_failure(
    uow: UnitOfWork, *, user_id: int, policy: LockoutPolicy, now: datetime
) -> LockoutState:
    async with uow.atomic():
        failures = await repository.increment_failed_logins(uow.session, user_id=user_id)
        state = policy.after_failure(failures, now)
        if state.locked_until is not None:
            await repository.set_lockout(
                uow.session, user_id=user_id, failed_logins=0, locked_until=state.locked_until
            )
    return state


async def login(
    *, uow: UnitOfWork, email: str, password: str, policy: LockoutPolicy = DEFAULT_LOCKOUT
) -> LoginResult:
    """Check e-mail and password. Unauthorized (one message for both mistakes) or Locked."""
    try:
        row = await repository.get_user_by_email(uow.session, email=normalise_email(email))
    except InvalidInput:
        row = None
    if row is None:
        await _verify_password(None, password)
        raise Unauthorized(BAD_LOGIN)
    now = uow.now()
    if policy.is_locked(row.locked_until, now):
        raise _locked(row.locked_until)
    matches, fresh_hash = await _verify_password(row.password_hash, password)
    if not matches:
        state = await _record_failure(uow, user_id=row.id, policy=policy, now=now)
        if state.locked_until is not None:
            raise _locked(state.locked_until)
        raise Unauthorized(BAD_LOGIN)
    async with uow.atomic():
        await repository.record_login(
            uow.session, user_id=row.id, now=now, password_hash=fresh_hash
        )
    return LoginResult(user=_user_info(row), session_epoch=row.session_epoch)


async def get_session_user(*, uow: UnitOfWork, user_id: int, session_epoch: int) -> UserInfo | None:
    """The user of a page session, or None when the account is gone or the session was ended."""
    row = await repository.get_user(uow.session, user_id=user_id)
    if row is None or row.session_epoch != session_epoch:
        return None
    return _user_info(row)


async def logout_everywhere(*, uow: UnitOfWork, user_id: int) -> int:
    """End every page session of the user; returns the new epoch for the current session."""
    async with uow.atomic():
        await _require_user(uow, user_id)
        return await repository.bump_session_epoch(uow.session, user_id=user_id)


async def change_password(
    *,
    uow: UnitOfWork,
    user_id: int,
    current_password: str,
    new_password: str,
    policy: LockoutPolicy = DEFAULT_LOCKOUT,
) -> int:
    """Set a new password and end other page sessions; returns the new session epoch."""
    row = await _require_user(uow, user_id)
    now = uow.now()
    if policy.is_locked(row.locked_until, now):
        raise _locked(row.locked_until)
    matches, _ = await _verify_password(row.password_hash, current_password)
    if not matches:
        state = await _record_failure(uow, user_id=user_id, policy=policy, now=now)
        if state.locked_until is not None:
            raise _locked(state.locked_until)
        raise InvalidInput(
            "the current password is not right", details={"field": "current_password"}
        )
    check_password(new_password, email=row.email)
    new_hash = await _hash_password(new_password)
    async with uow.atomic():
        await repository.record_login(uow.session, user_id=user_id, now=now, password_hash=new_hash)
        await repository.mark_changed(uow.session, user_id=user_id, field=PASSWORD, now=now)
        return await repository.bump_session_epoch(uow.session, user_id=user_id)


# --- API tokens ----------------------------------------------------------------------------


async def issue_api_token(
    *, uow: UnitOfWork, user_id: int, name: str, ttl: timedelta | None = None
) -> tuple[str, ApiTokenInfo]:
    """A new API token: the plaintext is returned once; only its SHA-256 is stored."""
    label = clean_text(name, field="name", max_length=TOKEN_NAME_MAX_LENGTH)
    if ttl is not None and ttl <= timedelta(0):
        raise InvalidInput("a token's lifetime must be positive", details={"field": "ttl"})
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with uow.atomic():
        await _require_user(uow, user_id)
        now = uow.now()
        row = ApiToken(
            user_id=user_id,
            name=label,
            token_hash=hash_api_token(token),
            prefix=api_token_display_prefix(token),
            created_at=now,
            expires_at=now + ttl if ttl is not None else None,
        )
        await repository.add_api_token(uow.session, row)
    return token, _token_info(row)


async def authenticate_api_token(*, uow: UnitOfWork, token: str) -> UserInfo | None:
    """The owner of an active token, or None for an unknown, expired or revoked one."""
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > 200:
        return None
    found = await repository.token_and_owner(uow.session, token_hash=hash_api_token(token))
    now = uow.now()
    if found is None or not _token_info(found[0]).is_active(now):
        return None
    row, user = found
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_TOUCH_INTERVAL:
        async with uow.atomic():
            await repository.touch_api_token(uow.session, token_id=row.id, now=now)
    return _user_info(user)


async def list_api_tokens(*, uow: UnitOfWork, user_id: int) -> list[ApiTokenInfo]:
    rows = await repository.list_api_tokens(uow.session, user_id=user_id)
    return [_token_info(row) for row in rows]


async def revoke_api_token(*, uow: UnitOfWork, user_id: int, token_id: int) -> ApiTokenInfo:
    """Revoke one of the user's tokens (again is harmless); NotFound for someone else's."""
    async with uow.atomic():
        row = await repository.get_api_token(uow.session, user_id=user_id, token_id=token_id)
        if row is None:
            raise NotFound("no such API token")
        if row.revoked_at is None:
            row.revoked_at = uow.now()
    return _token_info(row)


# --- the address book ----------------------------------------------------------------------


def _apply_address(cipher: Cipher, row: Address, fields: dict[str, str | None]) -> None:
    """Validate and write the given fields (absent keys stay as they are)."""
    if (recipient := fields.get("recipient")) is not None:
        row.recipient_enc = cipher.encrypt(
            clean_address_text("recipient", recipient), context="addresses.recipient"
        )
    if (phone := fields.get("phone")) is not None:
        number = _clean_phone(phone)
        row.phone_enc = cipher.encrypt(number, context="addresses.phone")
        row.phone_index = _phone_index(cipher, number)
    if (province := fields.get("province")) is not None:
        row.province = clean_address_text("province", province)
    if (city := fields.get("city")) is not None:
        row.city = clean_address_text("city", city)
    if (district := fields.get("district")) is not None:
        text = clean_address_text("district", district)
        row.district_enc = cipher.encrypt(text, context="addresses.district") if text else None
    if (line := fields.get("line")) is not None:
        row.line_enc = cipher.encrypt(clean_address_text("line", line), context="addresses.line")
    if "postcode" in fields:
        row.postcode = clean_postcode(fields["postcode"])


async def add_address(
    *,
    uow: UnitOfWork,
    user_id: int,
    recipient: str,
    phone: str,
    province: str,
    city: str,
    line: str,
    district: str = "",
    postcode: str | None = None,
    is_default: bool = False,
) -> AddressInfo:
    """Add an address; the first one, or one marked so, becomes the default."""
    row = Address(user_id=user_id)
    fields: dict[str, str | None] = {
        "recipient": recipient,
        "phone": phone,
        "province": province,
        "city": city,
    }
    fields |= {"district": district, "line": line, "postcode": postcode}
    _apply_address(uow.cipher, row, fields)
    async with uow.atomic():
        user = await _require_user(uow, user_id, for_update=True)
        count = await repository.count_addresses(uow.session, user_id=user_id)
        if count >= MAX_ADDRESSES:
            raise Conflict(f"an address book holds at most {MAX_ADDRESSES} addresses")
        if count:
            user.address_changed_at = uow.now()
        row.is_default = is_default or count == 0
        if row.is_default:
            await repository.clear_default_address(uow.session, user_id=user_id)
        row.created_at = uow.now()
        await repository.add_address(uow.session, row)
    return _address_info(uow.cipher, row)


async def list_addresses(*, uow: UnitOfWork, user_id: int) -> list[AddressInfo]:
    """The user's addresses, the default first, then the newest."""
    rows = await repository.list_addresses(uow.session, user_id=user_id)
    return [_address_info(uow.cipher, row) for row in rows]


async def get_address(*, uow: UnitOfWork, user_id: int, address_id: int) -> AddressInfo:
    """One of the user's addresses (checkout uses this); NotFound for anyone else's."""
    row = await repository.get_address(uow.session, user_id=user_id, address_id=address_id)
    if row is None:
        raise NotFound("no such address")
    return _address_info(uow.cipher, row)


async def update_address(
    *,
    uow: UnitOfWork,
    user_id: int,
    address_id: int,
    recipient: str | None = None,
    phone: str | None = None,
    province: str | None = None,
    city: str | None = None,
    district: str | None = None,
    line: str | None = None,
    postcode: str | None = None,
    is_default: bool | None = None,
) -> AddressInfo:
    """Change what is given; ``None`` keeps a field, ``""`` clears the district or postcode."""
    fields: dict[str, str | None] = {"recipient": recipient, "phone": phone}
    fields |= {"province": province, "city": city, "district": district, "line": line}
    if postcode is not None:
        fields["postcode"] = postcode
    async with uow.atomic():
        row = await repository.get_address(
            uow.session, user_id=user_id, address_id=address_id, for_update=True
        )
        if row is None:
            raise NotFound("no such address")
        _apply_address(uow.cipher, row, fields)
        await repository.mark_changed(uow.session, user_id=user_id, field=ADDRESS, now=uow.now())
        if is_default and not row.is_default:
            await repository.clear_default_address(uow.session, user_id=user_id)
        if is_default is not None:
            row.is_default = is_default
    return _address_info(uow.cipher, row)


async def delete_address(*, uow: UnitOfWork, user_id: int, address_id: int) -> None:
    """Remove an address; if it was the default, the newest remaining one takes its place."""
    async with uow.atomic():
        row = await repository.get_address(
            uow.session, user_id=user_id, address_id=address_id, for_update=True
        )
        if row is None:
            raise NotFound("no such address")
        was_default = row.is_default
        await repository.delete_address(uow.session, row)
        await repository.mark_changed(uow.session, user_id=user_id, field=ADDRESS, now=uow.now())
        if was_default:
            successor = await repository.newest_address(uow.session, user_id=user_id)
            if successor is not None:
                successor.is_default = True


# --- bulk buyers for load tests (one shared password hash) ---------------------------------

from kuaidan.accounts.service_bulk import (  # noqa: E402 (re-exported here, on purpose)
    BulkAddress as BulkAddress,
)
from kuaidan.accounts.service_bulk import (  # noqa: E402
    BulkBuyer as BulkBuyer,
)
from kuaidan.accounts.service_bulk import (  # noqa: E402
    create_buyers_in_bulk as create_buyers_in_bulk,
)
