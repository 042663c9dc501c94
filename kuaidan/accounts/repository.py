"""Every SQL statement on the accounts tables. Nothing here commits or decrypts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kuaidan.accounts.domain import AccountChangeFacts, Role, UserInfo
from kuaidan.accounts.models import Address, ApiToken, User

# The tables themselves, for Core statements built once for the hot paths.
API_TOKENS: Table = ApiToken.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]

# users


async def get_user(session: AsyncSession, *, user_id: int, for_update: bool = False) -> User | None:
    stmt = select(User).where(User.id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


_CHANGE_FACTS = select(
    USERS.c.id,
    USERS.c.created_at,
    USERS.c.password_changed_at,
    USERS.c.phone_changed_at,
    USERS.c.address_changed_at,
).where(USERS.c.id == bindparam("user_id"))


async def change_facts(session: AsyncSession, *, user_id: int) -> AccountChangeFacts | None:
    """When the account was opened and last changed its password, phone or addresses. Risk
    asks on every new payment: five columns by a statement built once, no entity loaded."""
    row = (await session.execute(_CHANGE_FACTS, {"user_id": user_id})).first()
    return None if row is None else AccountChangeFacts(*row)


async def get_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def email_exists(session: AsyncSession, *, email: str) -> bool:
    found = await session.scalar(select(User.id).where(User.email == email))
    return found is not None


async def add_user(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def users_by_phone_index(session: AsyncSession, *, phone_index: str) -> list[User]:
    rows = await session.scalars(
        select(User).where(User.phone_index == phone_index).order_by(User.id)
    )
    return list(rows)


async def list_users(
    session: AsyncSession,
    *,
    role: str | None,
    phone_index: str | None,
    offset: int,
    limit: int,
) -> tuple[list[User], int]:
    query = select(User)
    count = select(func.count()).select_from(User)
    if role is not None:
        query = query.where(User.role == role)
        count = count.where(User.role == role)
    if phone_index is not None:
        query = query.where(User.phone_index == phone_index)
        count = count.where(User.phone_index == phone_index)
    rows = await session.scalars(query.order_by(User.id).offset(offset).limit(limit))
    total = await session.scalar(count)
    return list(rows), int(total or 0)


async def increment_failed_logins(session: AsyncSession, *, user_id: int) -> int:
    """Count one more failure in a single statement (safe against concurrent attempts)."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    )
    return int(result.scalar_one())


async def set_lockout(
    session: AsyncSession, *, user_id: int, failed_logins: int, locked_until: datetime | None
) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=failed_logins, locked_until=locked_until)
    )


async def record_login(
    session: AsyncSession, *, user_id: int, now: datetime, password_hash: str | None = None
) -> None:
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if password_hash is not None:
        values["password_hash"] = password_hash
    await session.execute(update(User).where(User.id == user_id).values(**values))


CHANGE_FIELDS = frozenset({"password_changed_at", "phone_changed_at", "address_changed_at"})


async def mark_changed(session: AsyncSession, *, user_id: int, field: str, now: datetime) -> None:
    """Record when the password, phone or address book of an account last changed."""
    if field not in CHANGE_FIELDS:
        raise ValueError(f"not a change field: {field}")
    await session.execute(update(User).where(User.id == user_id).values({field: now}))


async def bump_session_epoch(session: AsyncSession, *, user_id: int) -> int:
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_epoch=User.session_epoch + 1)
        .returning(User.session_epoch)
    )
    return int(result.scalar_one())


# API tokens


async def add_api_token(session: AsyncSession, token: ApiToken) -> ApiToken:
    session.add(token)
    await session.flush()
    return token


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """What authenticating an API call reads: the token's state and who owns it."""

    token_id: int
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    owner: UserInfo


# Every API call runs it, so it is one Core statement built once: only the columns needed,
# no entities to load, and no statement to build and key for the cache on each call.
_TOKEN_AND_OWNER = (
    select(
        API_TOKENS.c.id,
        API_TOKENS.c.last_used_at,
        API_TOKENS.c.expires_at,
        API_TOKENS.c.revoked_at,
        USERS.c.id,
        USERS.c.email,
        USERS.c.role,
        USERS.c.display_name,
        USERS.c.merchant_id,
    )
    .join_from(API_TOKENS, USERS, USERS.c.id == API_TOKENS.c.user_id)
    .where(API_TOKENS.c.token_hash == bindparam("token_hash"))
)


async def token_and_owner(session: AsyncSession, *, token_hash: str) -> TokenOwner | None:
    """The token with this hash and its user, in one round trip (every API call asks)."""
    row = (await session.execute(_TOKEN_AND_OWNER, {"token_hash": token_hash})).first()
    if row is None:
        return None
    token_id, last_used_at, expires_at, revoked_at, user_id, email, role, name, merchant_id = row
    owner = UserInfo(
        id=user_id, email=email, role=Role(role), display_name=name, merchant_id=merchant_id
    )
    return TokenOwner(token_id, last_used_at, expires_at, revoked_at, owner)


async def get_api_token(session: AsyncSession, *, user_id: int, token_id: int) -> ApiToken | None:
    return await session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    )


async def list_api_tokens(session: AsyncSession, *, user_id: int) -> list[ApiToken]:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    )
    return list(rows)


_TOUCH_API_TOKEN = update(API_TOKENS).where(API_TOKENS.c.id == bindparam("token_id"))


async def touch_api_token(session: AsyncSession, *, token_id: int, now: datetime) -> None:
    await session.execute(_TOUCH_API_TOKEN, {"token_id": token_id, "last_used_at": now})


# addresses


async def list_addresses(session: AsyncSession, *, user_id: int) -> list[Address]:
    rows = await session.scalars(
        select(Address)
        .where(Address.user_id == user_id)
        .order_by(Address.is_default.desc(), Address.id.desc())
    )
    return list(rows)


async def count_addresses(session: AsyncSession, *, user_id: int) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Address).where(Address.user_id == user_id)
    )
    return int(total or 0)


# Every placement reads the buyer's delivery address: the read (and its locking twin for
# edits) is built once.
_ADDRESS = select(Address).where(
    Address.id == bindparam("address_id"), Address.user_id == bindparam("user_id")
)
_ADDRESS_FOR_UPDATE = _ADDRESS.with_for_update()


async def get_address(
    session: AsyncSession, *, user_id: int, address_id: int, for_update: bool = False
) -> Address | None:
    stmt = _ADDRESS_FOR_UPDATE if for_update else _ADDRESS
    return await session.scalar(stmt, {"address_id": address_id, "user_id": user_id})


async def add_address(session: AsyncSession, address: Address) -> Address:
    session.add(address)
    await session.flush()
    return address


async def clear_default_address(session: AsyncSession, *, user_id: int) -> None:
    await session.execute(
        update(Address)
        .where(Address.user_id == user_id, Address.is_default.is_(True))
        .values(is_default=False)
    )


async def newest_address(session: AsyncSession, *, user_id: int) -> Address | None:
    return await session.scalar(
        select(Address).where(Address.user_id == user_id).order_by(Address.id.desc()).limit(1)
    )


async def delete_address(session: AsyncSession, address: Address) -> None:
    await session.delete(address)
    await session.flush()
