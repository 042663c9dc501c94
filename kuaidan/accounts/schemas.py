"""Request and response models of the accounts JSON API. No hash or ciphertext ever leaves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kuaidan.accounts.domain import Role
from kuaidan.core.fields import RequestBody, ResponseBody, Text
from kuaidan.core.pagination import PageMeta

# Generous outer bounds; the domain rules give the precise, friendlier messages.
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class _Request(RequestBody):
    model_config = ConfigDict(extra="forbid", str_max_length=1024)


class RegisterRequest(_Request):
    email: Text = Field(max_length=254, examples=["buyer@example.com"])
    password: Password
    display_name: Text = Field(min_length=1, max_length=50)
    full_name: Text | None = Field(default=None, max_length=100)
    phone: Text | None = Field(default=None, max_length=32, examples=["+86 138 0013 8000"])


class TokenRequest(_Request):
    """Log in for the API: e-mail and password in, a bearer token out."""

    email: Text = Field(max_length=254)
    password: Password
    name: Text = Field(default="api", min_length=1, max_length=100)
    ttl_days: int | None = Field(default=None, ge=1, le=3650, description="None = no expiry")


class ProfileUpdate(_Request):
    """Only the fields sent change; ``null`` or ``""`` removes the full name or the phone."""

    display_name: Text | None = Field(default=None, min_length=1, max_length=50)
    full_name: Text | None = Field(default=None, max_length=100)
    phone: Text | None = Field(default=None, max_length=32)


class AddressCreate(_Request):
    recipient: Text = Field(min_length=1, max_length=50)
    phone: Text = Field(min_length=1, max_length=32)
    province: Text = Field(min_length=1, max_length=50, examples=["浙江省"])
    city: Text = Field(min_length=1, max_length=50, examples=["杭州市"])
    district: Text = Field(default="", max_length=50, examples=["西湖区"])
    line: Text = Field(min_length=1, max_length=200, examples=["文三路 90 号 3 幢 501"])
    postcode: Text | None = Field(default=None, max_length=10)
    is_default: bool = False


class AddressUpdate(_Request):
    """Only the fields sent change; ``""`` clears the district or the postcode."""

    recipient: Text | None = Field(default=None, min_length=1, max_length=50)
    phone: Text | None = Field(default=None, min_length=1, max_length=32)
    province: Text | None = Field(default=None, min_length=1, max_length=50)
    city: Text | None = Field(default=None, min_length=1, max_length=50)
    district: Text | None = Field(default=None, max_length=50)
    line: Text | None = Field(default=None, min_length=1, max_length=200)
    postcode: Text | None = Field(default=None, max_length=10)
    is_default: bool | None = None


class UserRead(ResponseBody):
    id: int
    email: str
    role: Role
    display_name: str
    merchant_id: int | None = None


class ProfileRead(UserRead):
    full_name: str | None
    phone: str | None
    created_at: datetime
    last_login_at: datetime | None


class TokenRead(ResponseBody):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it by")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenRead):
    token: str = Field(description="The bearer token; shown this once and never again")


class AddressRead(ResponseBody):
    id: int
    recipient: str
    phone: str
    province: str
    city: str
    district: str
    line: str
    postcode: str | None
    is_default: bool
    created_at: datetime


class AdminUserRead(UserRead):
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None


class AdminUserPage(BaseModel):
    items: list[AdminUserRead]
    meta: PageMeta
