"""JSON routes of accounts: sign-up, API tokens (the API's log-in), profile, address book."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from starlette.responses import Response

from kuaidan import deps
from kuaidan.accounts import service
from kuaidan.accounts.domain import LockoutPolicy, Role
from kuaidan.accounts.schemas import (
    AddressCreate,
    AddressRead,
    AddressUpdate,
    AdminUserPage,
    AdminUserRead,
    ProfileRead,
    ProfileUpdate,
    RegisterRequest,
    TokenIssued,
    TokenRead,
    TokenRequest,
    UserRead,
)
from kuaidan.core.errors import InvalidInput
from kuaidan.core.fields import Id
from kuaidan.core.pagination import MAX_PAGE_SIZE, PageMeta, PageRequest

# Cookie-authenticated calls that change something need the CSRF token (JSON is exempt).
router = APIRouter(tags=["accounts"], dependencies=[deps.CsrfProtected])
# Deeper pages are refused rather than scanned (use a filter instead).
MAX_PAGE = 10_000


def lockout_policy(request: Request) -> LockoutPolicy:
    settings = deps.container_of(request).settings
    return LockoutPolicy.from_settings(
        max_failures=settings.login_max_failures, lockout_minutes=settings.lockout_minutes
    )


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, summary="Sign up as a buyer")
async def register(body: RegisterRequest, uow: deps.Uow) -> UserRead:
    user = await service.register_buyer(
        uow=uow,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        phone=body.phone,
        full_name=body.full_name,
    )
    return UserRead.model_validate(user)


@router.post(
    "/auth/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Log in: exchange e-mail and password for an API token (shown once)",
)
async def create_token(body: TokenRequest, request: Request, uow: deps.Uow) -> TokenIssued:
    result = await service.login(
        uow=uow, email=body.email, password=body.password, policy=lockout_policy(request)
    )
    ttl = timedelta(days=body.ttl_days) if body.ttl_days else None
    token, info = await service.issue_api_token(
        uow=uow, user_id=result.user.id, name=body.name, ttl=ttl
    )
    return TokenIssued.model_validate({**asdict(info), "token": token})


@router.get("/auth/tokens", summary="My API tokens")
async def list_tokens(user: deps.CurrentUser, uow: deps.Uow) -> list[TokenRead]:
    tokens = await service.list_api_tokens(uow=uow, user_id=user.id)
    return [TokenRead.model_validate(token) for token in tokens]


@router.delete(
    "/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token"
)
async def revoke_token(token_id: Id, user: deps.CurrentUser, uow: deps.Uow) -> Response:
    await service.revoke_api_token(uow=uow, user_id=user.id, token_id=token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="My profile, with my name and phone")
async def get_me(user: deps.CurrentUser, uow: deps.Uow) -> ProfileRead:
    return ProfileRead.model_validate(await service.get_profile(uow=uow, user_id=user.id))


@router.patch("/me", summary="Change my display name, full name or phone")
async def update_me(body: ProfileUpdate, user: deps.CurrentUser, uow: deps.Uow) -> ProfileRead:
    sent = body.model_fields_set
    if "display_name" in sent and body.display_name is None:
        raise InvalidInput("display_name may not be empty", details={"field": "display_name"})
    profile = await service.update_profile(
        uow=uow,
        user_id=user.id,
        display_name=body.display_name,
        full_name=(body.full_name or "") if "full_name" in sent else None,
        phone=(body.phone or "") if "phone" in sent else None,
    )
    return ProfileRead.model_validate(profile)


@router.get("/me/addresses", summary="My address book")
async def list_addresses(user: deps.Buyer, uow: deps.Uow) -> list[AddressRead]:
    addresses = await service.list_addresses(uow=uow, user_id=user.id)
    return [AddressRead.model_validate(address) for address in addresses]


@router.post("/me/addresses", status_code=status.HTTP_201_CREATED, summary="Add an address")
async def add_address(body: AddressCreate, user: deps.Buyer, uow: deps.Uow) -> AddressRead:
    address = await service.add_address(uow=uow, user_id=user.id, **body.model_dump())
    return AddressRead.model_validate(address)


@router.get("/me/addresses/{address_id}", summary="One of my addresses")
async def get_address(address_id: Id, user: deps.Buyer, uow: deps.Uow) -> AddressRead:
    address = await service.get_address(uow=uow, user_id=user.id, address_id=address_id)
    return AddressRead.model_validate(address)


@router.patch("/me/addresses/{address_id}", summary="Change an address or make it the default")
async def update_address(
    address_id: Id, body: AddressUpdate, user: deps.Buyer, uow: deps.Uow
) -> AddressRead:
    changes = body.model_dump(exclude_unset=True)
    required = ("recipient", "phone", "province", "city", "line", "is_default")
    empty = [name for name in required if name in changes and changes[name] is None]
    if empty:
        raise InvalidInput(f"{empty[0]} may not be null", details={"field": empty[0]})
    for name in ("district", "postcode"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    address = await service.update_address(
        uow=uow, user_id=user.id, address_id=address_id, **changes
    )
    return AddressRead.model_validate(address)


@router.delete(
    "/me/addresses/{address_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an address",
)
async def delete_address(address_id: Id, user: deps.Buyer, uow: deps.Uow) -> Response:
    await service.delete_address(uow=uow, user_id=user.id, address_id=address_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/users", summary="Accounts, for administrators (filter by role or phone)")
async def admin_list_users(
    admin: deps.Admin,
    uow: deps.Uow,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    role: Role | None = None,
    phone: Annotated[str | None, Query(max_length=32)] = None,
) -> AdminUserPage:
    result = await service.list_users(
        uow=uow, page=PageRequest(page=page, size=page_size), role=role, phone=phone or None
    )
    return AdminUserPage(
        items=[AdminUserRead.model_validate(item) for item in result.items],
        meta=PageMeta(page=result.page, size=result.size, total=result.total, pages=result.pages),
    )
