"""Users: creating accounts (staff and buyers), finding them, their profile, and the
account facts risk control reads."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from kuaidan.accounts import repository
from kuaidan.accounts.domain import (
    INITIAL_SESSION_EPOCH,
    AccountChangeFacts,
    ProfileInfo,
    Role,
    UserInfo,
    UserSummary,
    check_password,
    clean_display_name,
    normalise_email,
)
from kuaidan.accounts.models import User
from kuaidan.accounts.service._common import (
    blind_phone_index,
    clean_phone,
    hash_password,
    profile_info,
    require_user,
    set_full_name,
    set_user_phone,
    user_info,
)
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import Conflict, InvalidInput
from kuaidan.core.pagination import PageOf, PageRequest


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
    set_user_phone(uow.cipher, row, phone or "")
    set_full_name(uow.cipher, row, full_name or "")
    row.password_hash = await hash_password(password)
    try:
        async with uow.atomic():
            if await repository.email_exists(uow.session, email=address):
                raise Conflict("an account with this e-mail already exists")
            row.created_at = uow.now()
            await repository.add_user(uow.session, row)
    except IntegrityError as exc:  # a concurrent registration won the unique index
        raise Conflict("an account with this e-mail already exists") from exc
    return user_info(row)


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
    return None if row is None else user_info(row)


async def get_user_by_email(*, uow: UnitOfWork, email: str) -> UserInfo | None:
    try:
        address = normalise_email(email)
    except InvalidInput:
        return None
    row = await repository.get_user_by_email(uow.session, email=address)
    return None if row is None else user_info(row)


async def find_users_by_phone(*, uow: UnitOfWork, phone: str) -> list[UserInfo]:
    """Accounts whose phone equals ``phone``, found through the blind index (oldest first)."""
    index = blind_phone_index(uow.cipher, clean_phone(phone))
    rows = await repository.users_by_phone_index(uow.session, phone_index=index)
    return [user_info(row) for row in rows]


async def find_user_by_phone(*, uow: UnitOfWork, phone: str) -> UserInfo | None:
    """The oldest account with this phone (a number may be shared by several accounts)."""
    found = await find_users_by_phone(uow=uow, phone=phone)
    return found[0] if found else None


async def list_users(
    *, uow: UnitOfWork, page: PageRequest, role: Role | None = None, phone: str | None = None
) -> PageOf[UserSummary]:
    """Accounts by id, optionally only one role or those with a given phone (blind index)."""
    phone_index = blind_phone_index(uow.cipher, clean_phone(phone)) if phone else None
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
    return await repository.change_facts(uow.session, user_id=user_id)


async def get_profile(*, uow: UnitOfWork, user_id: int) -> ProfileInfo:
    """The owner's view of their account, with their name and phone decrypted."""
    return profile_info(uow.cipher, await require_user(uow, user_id))


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
        row = await require_user(uow, user_id, for_update=True)
        if display_name is not None:
            row.display_name = clean_display_name(display_name)
        if full_name is not None:
            set_full_name(uow.cipher, row, full_name)
        if phone is not None:
            before = row.phone_index
            set_user_phone(uow.cipher, row, phone)
            if row.phone_index != before:
                row.phone_changed_at = uow.now()
    return profile_info(uow.cipher, row)
