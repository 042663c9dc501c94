"""Account use cases (placeholder until the accounts area lands)."""

from __future__ import annotations

from kuaidan.accounts.domain import Role, UserInfo
from kuaidan.core.db import UnitOfWork


async def get_session_user(*, uow: UnitOfWork, user_id: int, session_epoch: int) -> UserInfo | None:
    return None


async def authenticate_api_token(*, uow: UnitOfWork, token: str) -> UserInfo | None:
    return None


async def create_user(
    *,
    uow: UnitOfWork,
    email: str,
    password: str,
    role: Role,
    display_name: str,
    phone: str | None = None,
    merchant_id: int | None = None,
) -> UserInfo:
    raise NotImplementedError
