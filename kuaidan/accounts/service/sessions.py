"""Log-in with lockout, page sessions (an epoch ends them all) and password changes."""

from __future__ import annotations

from datetime import datetime

from kuaidan.accounts import repository
from kuaidan.accounts.domain import (
    DEFAULT_LOCKOUT,
    LockoutPolicy,
    LockoutState,
    LoginResult,
    UserInfo,
    check_password,
    normalise_email,
)
from kuaidan.accounts.service._common import (
    BAD_LOGIN,
    PASSWORD,
    hash_password,
    require_user,
    user_info,
    verify_password,
)
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import InvalidInput, Locked, Unauthorized


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
        await verify_password(None, password)
        raise Unauthorized(BAD_LOGIN)
    now = uow.now()
    if policy.is_locked(row.locked_until, now):
        raise _locked(row.locked_until)
    matches, fresh_hash = await verify_password(row.password_hash, password)
    if not matches:
        state = await _record_failure(uow, user_id=row.id, policy=policy, now=now)
        if state.locked_until is not None:
            raise _locked(state.locked_until)
        raise Unauthorized(BAD_LOGIN)
    async with uow.atomic():
        await repository.record_login(
            uow.session, user_id=row.id, now=now, password_hash=fresh_hash
        )
    return LoginResult(user=user_info(row), session_epoch=row.session_epoch)


async def get_session_user(*, uow: UnitOfWork, user_id: int, session_epoch: int) -> UserInfo | None:
    """The user of a page session, or None when the account is gone or the session was ended."""
    row = await repository.get_user(uow.session, user_id=user_id)
    if row is None or row.session_epoch != session_epoch:
        return None
    return user_info(row)


async def logout_everywhere(*, uow: UnitOfWork, user_id: int) -> int:
    """End every page session of the user; returns the new epoch for the current session."""
    async with uow.atomic():
        await require_user(uow, user_id)
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
    row = await require_user(uow, user_id)
    now = uow.now()
    if policy.is_locked(row.locked_until, now):
        raise _locked(row.locked_until)
    matches, _ = await verify_password(row.password_hash, current_password)
    if not matches:
        state = await _record_failure(uow, user_id=user_id, policy=policy, now=now)
        if state.locked_until is not None:
            raise _locked(state.locked_until)
        raise InvalidInput(
            "the current password is not right", details={"field": "current_password"}
        )
    check_password(new_password, email=row.email)
    new_hash = await hash_password(new_password)
    async with uow.atomic():
        await repository.record_login(uow.session, user_id=user_id, now=now, password_hash=new_hash)
        await repository.mark_changed(uow.session, user_id=user_id, field=PASSWORD, now=now)
        return await repository.bump_session_epoch(uow.session, user_id=user_id)
