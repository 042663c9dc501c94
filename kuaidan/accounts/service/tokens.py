"""API tokens: issued once in clear, stored hashed, authenticated with their owner."""

from __future__ import annotations

import secrets
from datetime import timedelta

from kuaidan.accounts import repository
from kuaidan.accounts.domain import (
    API_TOKEN_PREFIX,
    ApiTokenInfo,
    UserInfo,
    api_token_display_prefix,
    clean_text,
    hash_api_token,
    token_is_active,
)
from kuaidan.accounts.models import ApiToken
from kuaidan.accounts.service._common import (
    TOKEN_NAME_MAX_LENGTH,
    TOKEN_TOUCH_INTERVAL,
    require_user,
    token_info,
)
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import InvalidInput, NotFound


async def issue_api_token(
    *, uow: UnitOfWork, user_id: int, name: str, ttl: timedelta | None = None
) -> tuple[str, ApiTokenInfo]:
    """A new API token: the plaintext is returned once; only its SHA-256 is stored."""
    label = clean_text(name, field="name", max_length=TOKEN_NAME_MAX_LENGTH)
    if ttl is not None and ttl <= timedelta(0):
        raise InvalidInput("a token's lifetime must be positive", details={"field": "ttl"})
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with uow.atomic():
        await require_user(uow, user_id)
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
    return token, token_info(row)


async def authenticate_api_token(*, uow: UnitOfWork, token: str) -> UserInfo | None:
    """The owner of an active token, or None for an unknown, expired or revoked one."""
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > 200:
        return None
    found = await repository.token_and_owner(uow.session, token_hash=hash_api_token(token))
    now = uow.now()
    if found is None or not token_is_active(
        expires_at=found.expires_at, revoked_at=found.revoked_at, now=now
    ):
        return None
    if found.last_used_at is None or now - found.last_used_at >= TOKEN_TOUCH_INTERVAL:
        async with uow.atomic():
            await repository.touch_api_token(uow.session, token_id=found.token_id, now=now)
    return found.owner


async def list_api_tokens(*, uow: UnitOfWork, user_id: int) -> list[ApiTokenInfo]:
    rows = await repository.list_api_tokens(uow.session, user_id=user_id)
    return [token_info(row) for row in rows]


async def revoke_api_token(*, uow: UnitOfWork, user_id: int, token_id: int) -> ApiTokenInfo:
    """Revoke one of the user's tokens (again is harmless); NotFound for someone else's."""
    async with uow.atomic():
        row = await repository.get_api_token(uow.session, user_id=user_id, token_id=token_id)
        if row is None:
            raise NotFound("no such API token")
        if row.revoked_at is None:
            row.revoked_at = uow.now()
    return token_info(row)
