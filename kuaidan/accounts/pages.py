"""HTML routes of accounts: log in, register, log out, and the account page.

A page session is the signed session cookie holding ``uid`` and ``epoch`` (what
``deps.load_optional_user`` reads). Logging in starts a fresh session (cleared, then set, with
a new CSRF token); bumping the user's epoch ends every session opened before.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts import service
from kuaidan.accounts.domain import (
    INITIAL_SESSION_EPOCH,
    LockoutPolicy,
    Role,
    UserInfo,
    safe_next,
)
from kuaidan.core.db import UnitOfWork
from kuaidan.core.errors import DomainError, InvalidInput
from kuaidan.core.fields import Id
from kuaidan.core.templating import csrf_token, render

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form(max_length=1024)]
NOTICES = {
    "profile": "资料已保存 Profile saved",
    "password": "密码已更改，其他设备已退出 Password changed; other devices were logged out",
    "sessions": "其他设备已退出 Other devices were logged out",
    "token_revoked": "令牌已撤销 The token was revoked",
    "address_added": "地址已添加 Address added",
    "address_deleted": "地址已删除 Address removed",
    "address_default": "默认地址已更新 Default address updated",
}
ADDRESS_FIELDS = ("recipient", "phone", "province", "city", "district", "line", "postcode")


def lockout_policy(request: Request) -> LockoutPolicy:
    settings = deps.container_of(request).settings
    return LockoutPolicy.from_settings(
        max_failures=settings.login_max_failures, lockout_minutes=settings.lockout_minutes
    )


def start_session(request: Request, *, user_id: int, epoch: int) -> None:
    """A fresh session for a fresh log-in: nothing carried over, a new CSRF token."""
    request.session.clear()
    request.session["uid"] = user_id
    request.session["epoch"] = epoch
    csrf_token(request)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- log in, register, log out -------------------------------------------------------------


@router.get("/login")
async def login_page(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    target = safe_next(next_path)
    if getattr(request.state, "user", None) is not None:
        return _see_other(target)
    return render(request, "accounts/login.html", {"next": target, "email": ""})


@router.post("/login", dependencies=[deps.CsrfProtected])
async def login_submit(
    request: Request,
    uow: deps.Uow,
    email: FormText = "",
    password: FormText = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    target = safe_next(next_path)
    try:
        result = await service.login(
            uow=uow, email=email, password=password, policy=lockout_policy(request)
        )
    except DomainError as exc:
        context = {"error": exc.message, "email": email[:254], "next": target}
        return render(request, "accounts/login.html", context, status_code=exc.status)
    start_session(request, user_id=result.user.id, epoch=result.session_epoch)
    return _see_other(target)


@router.get("/register")
async def register_page(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    target = safe_next(next_path)
    if getattr(request.state, "user", None) is not None:
        return _see_other(target)
    return render(request, "accounts/register.html", {"next": target, "form": {}})


@router.post("/register", dependencies=[deps.CsrfProtected])
async def register_submit(
    request: Request,
    uow: deps.Uow,
    email: FormText = "",
    display_name: FormText = "",
    phone: FormText = "",
    password: FormText = "",
    password_again: FormText = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    target = safe_next(next_path)
    try:
        if password != password_again:
            raise InvalidInput("the two passwords differ", details={"field": "password_again"})
        user = await service.register_buyer(
            uow=uow, email=email, password=password, display_name=display_name, phone=phone
        )
    except DomainError as exc:
        typed = {"email": email[:254], "display_name": display_name[:50], "phone": phone[:32]}
        context = {"error": exc.message, "form": typed, "next": target}
        return render(request, "accounts/register.html", context, status_code=exc.status)
    start_session(request, user_id=user.id, epoch=INITIAL_SESSION_EPOCH)
    return _see_other(target)


@router.post("/logout", dependencies=[deps.CsrfProtected])
async def logout(request: Request) -> Response:
    request.session.clear()
    return _see_other("/")


# --- the account page ----------------------------------------------------------------------


async def _account_page(
    request: Request,
    uow: UnitOfWork,
    user: UserInfo,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    profile = await service.get_profile(uow=uow, user_id=user.id)
    is_buyer = user.role is Role.BUYER
    context: dict[str, Any] = {
        "profile": profile,
        "is_buyer": is_buyer,
        "addresses": await service.list_addresses(uow=uow, user_id=user.id) if is_buyer else [],
        "tokens": await service.list_api_tokens(uow=uow, user_id=user.id),
        "now": uow.now(),
        "address_form": {},
        "profile_form": None,
    }
    context.update(extra)
    return render(request, "accounts/account.html", context, status_code=status_code)


@router.get("/account")
async def account_page(
    request: Request, user: deps.CurrentUser, uow: deps.Uow, msg: str | None = None
) -> Response:
    return await _account_page(request, uow, user, notice=NOTICES.get(msg or ""))


@router.post("/account/profile", dependencies=[deps.CsrfProtected])
async def account_profile(
    request: Request,
    user: deps.CurrentUser,
    uow: deps.Uow,
    display_name: FormText = "",
    full_name: FormText = "",
    phone: FormText = "",
) -> Response:
    try:
        await service.update_profile(
            uow=uow, user_id=user.id, display_name=display_name, full_name=full_name, phone=phone
        )
    except DomainError as exc:
        typed = {"display_name": display_name, "full_name": full_name, "phone": phone}
        return await _account_page(
            request, uow, user, status_code=exc.status, error=exc.message, profile_form=typed
        )
    return _see_other("/account?msg=profile")


@router.post("/account/password", dependencies=[deps.CsrfProtected])
async def account_password(
    request: Request,
    user: deps.CurrentUser,
    uow: deps.Uow,
    current_password: FormText = "",
    new_password: FormText = "",
) -> Response:
    try:
        epoch = await service.change_password(
            uow=uow,
            user_id=user.id,
            current_password=current_password,
            new_password=new_password,
            policy=lockout_policy(request),
        )
    except DomainError as exc:
        return await _account_page(request, uow, user, status_code=exc.status, error=exc.message)
    start_session(request, user_id=user.id, epoch=epoch)
    return _see_other("/account?msg=password")


@router.post("/account/sessions/end", dependencies=[deps.CsrfProtected])
async def account_end_sessions(request: Request, user: deps.CurrentUser, uow: deps.Uow) -> Response:
    """Log out every other device; this browser continues in a new session."""
    epoch = await service.logout_everywhere(uow=uow, user_id=user.id)
    start_session(request, user_id=user.id, epoch=epoch)
    return _see_other("/account?msg=sessions")


@router.post("/account/tokens", dependencies=[deps.CsrfProtected])
async def account_create_token(
    request: Request, user: deps.CurrentUser, uow: deps.Uow, name: FormText = ""
) -> Response:
    try:
        token, info = await service.issue_api_token(uow=uow, user_id=user.id, name=name)
    except DomainError as exc:
        return await _account_page(request, uow, user, status_code=exc.status, error=exc.message)
    # Shown in this response only: never stored in the session or in a redirect URL.
    return await _account_page(
        request, uow, user, status_code=201, new_token=token, new_token_info=info
    )


@router.post("/account/tokens/{token_id}/revoke", dependencies=[deps.CsrfProtected])
async def account_revoke_token(token_id: Id, user: deps.CurrentUser, uow: deps.Uow) -> Response:
    await service.revoke_api_token(uow=uow, user_id=user.id, token_id=token_id)
    return _see_other("/account?msg=token_revoked")


@router.post("/account/addresses", dependencies=[deps.CsrfProtected])
async def account_add_address(request: Request, buyer: deps.Buyer, uow: deps.Uow) -> Response:
    form = await request.form()
    typed = {name: str(form.get(name, ""))[:200] for name in ADDRESS_FIELDS}
    try:
        await service.add_address(
            uow=uow,
            user_id=buyer.id,
            recipient=typed["recipient"],
            phone=typed["phone"],
            province=typed["province"],
            city=typed["city"],
            district=typed["district"],
            line=typed["line"],
            postcode=typed["postcode"] or None,
            is_default=form.get("is_default") == "on",
        )
    except DomainError as exc:
        return await _account_page(
            request, uow, buyer, status_code=exc.status, error=exc.message, address_form=typed
        )
    return _see_other("/account?msg=address_added")


@router.post("/account/addresses/{address_id}/delete", dependencies=[deps.CsrfProtected])
async def account_delete_address(address_id: Id, buyer: deps.Buyer, uow: deps.Uow) -> Response:
    await service.delete_address(uow=uow, user_id=buyer.id, address_id=address_id)
    return _see_other("/account?msg=address_deleted")


@router.post("/account/addresses/{address_id}/default", dependencies=[deps.CsrfProtected])
async def account_default_address(address_id: Id, buyer: deps.Buyer, uow: deps.Uow) -> Response:
    await service.update_address(uow=uow, user_id=buyer.id, address_id=address_id, is_default=True)
    return _see_other("/account?msg=address_default")
