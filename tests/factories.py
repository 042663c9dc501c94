"""Test data: valid values the services take, and rows stored through those services.

Each factory (polyfactory) builds what a service is given, with defaults that pass the
service's own checks and do not collide with other tests' data on a shared database: money
in whole fen, slugs, codes and e-mails with a random token, any made-up datetime aware and in
UTC. ``build(**fields)`` gives the value (for a domain test or a request body); ``create(uow,
**fields)`` stores it through its area's service in the caller's unit of work and returns
the service's answer. The service hashes a user's password (argon2id, so the user can log in
with ``PASSWORD``), encrypts personal data, opens a SKU's stock and records the events, as it
does for every caller; no factory writes a table behind a service's back.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from polyfactory import PostGenerated, Require, Use
from polyfactory.factories import DataclassFactory
from polyfactory.factories.base import BaseFactory
from polyfactory.field_meta import FieldMeta

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import AddressInfo, Role, UserInfo
from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import CategoryInfo, NewProduct, NewSku, ProductDetail
from kuaidan.core.db import UnitOfWork
from kuaidan.merchants import service as merchants
from kuaidan.merchants.domain import MerchantInfo, ReturnAddress, ShippingSettings

T = TypeVar("T")

# Every user a factory creates has this password (the policy wants 8+ characters, not digits).
PASSWORD = "correct horse battery"


def token() -> str:
    """A short random token: the same test data on a database shared by runs stays unique."""
    return uuid.uuid4().hex[:10]


def _fields(value: Any) -> dict[str, Any]:
    """A built value's fields as the keyword arguments of the service it mirrors."""
    return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}


class Factory(DataclassFactory[T], Generic[T]):
    """A field keeps the factory's value, else the model's default, else a made-up one;
    made-up datetimes are aware and in UTC."""

    __is_base_factory__ = True
    __use_defaults__ = True
    __allow_none_optionals__ = False

    @classmethod
    def should_use_default_value(cls, field_meta: FieldMeta) -> bool:
        # polyfactory would prefer the model's default to the factory's own value (its own
        # test of "the factory declares this field" is the one below).
        declared = hasattr(cls, field_meta.name) and not hasattr(BaseFactory, field_meta.name)
        return not declared and super().should_use_default_value(field_meta)

    @classmethod
    def get_provider_map(cls) -> dict[Any, Callable[[], Any]]:
        def utc() -> datetime:
            return cls.__faker__.date_time_between("-30d", "now", tzinfo=UTC)

        return {**super().get_provider_map(), datetime: utc}


# --- merchants and catalog --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewMerchant:
    """What ``merchants.create_merchant`` opens a shop with."""

    slug: str
    name: str
    name_en: str
    description: str = ""


class MerchantFactory(Factory[NewMerchant]):
    slug = Use(lambda: f"shop-{token()}")
    name = PostGenerated(lambda _field, values: f"店铺 {values['slug']}")
    name_en = PostGenerated(lambda _field, values: f"Shop {values['slug']}")

    @classmethod
    async def create(
        cls, uow: UnitOfWork, *, ships_from: tuple[str, str] | None = None, **fields: Any
    ) -> MerchantInfo:
        """An active merchant; ``ships_from`` (province, city, as logistics names them) sets
        where its parcels leave from, without booking a carrier by itself."""
        new = cls.build(**fields)
        shop = await merchants.create_merchant(uow=uow, **_fields(new))
        if ships_from is not None:
            place = ShippingSettings(*ships_from, auto_book_carrier=False)
            await merchants.set_shipping_settings(uow=uow, merchant_id=shop.id, settings=place)
        return shop


@dataclass(frozen=True, slots=True)
class NewCategory:
    """What ``catalog.ensure_category`` creates (or brings up to date) a category with."""

    slug: str
    name: str
    name_en: str
    parent_slug: str | None = None
    position: int = 0
    no_reason_return_days: int | None = None


class CategoryFactory(Factory[NewCategory]):
    slug = Use(lambda: f"goods-{token()}")
    name = "百货"
    name_en = "Goods"

    @classmethod
    async def create(cls, uow: UnitOfWork, **fields: Any) -> CategoryInfo:
        new = cls.build(**fields)
        return await catalog.ensure_category(uow=uow, **_fields(new))


_variants = itertools.count(1)


class SkuFactory(Factory[NewSku]):
    """One variant: 19.90 yuan (1990 fen), ten in stock, no list price. Each build is a
    variant of its own (规格 Variant: V1, V2, ...), so SKUs built for one product differ."""

    code = Use(lambda: f"SKU-{token()}")
    attributes = Use(lambda: {"规格 Variant": f"V{next(_variants)}"})
    price_fen = 1990
    stock = 10


class ProductFactory(Factory[NewProduct]):
    """A listing with one SKU from ``SkuFactory``; the category is always the test's own."""

    title = Use(lambda: f"测试商品 Item {token()}")
    description = ""
    category_slug = Require()
    specs = Use(list[tuple[str, str]])
    images = Use(list[str])
    skus = Use(lambda: [SkuFactory.build()])

    @classmethod
    async def create(
        cls, uow: UnitOfWork, *, merchant_id: int, status: str = "listed", **fields: Any
    ) -> ProductDetail:
        """The product listed (or in ``status``) by the merchant, its SKUs' stock opened."""
        return await catalog.create_product(
            uow=uow, merchant_id=merchant_id, product=cls.build(**fields), status=status
        )


class ReturnAddressFactory(Factory[ReturnAddress]):
    recipient = "售后部 Returns"
    phone = "+86 139-0000-1234"
    province = "上海"
    city = "上海"
    line = "漕溪北路 88 号"


# --- accounts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewUser:
    """What ``accounts.create_user`` opens an account with."""

    email: str
    password: str
    role: Role
    display_name: str
    phone: str | None = None
    merchant_id: int | None = None
    full_name: str | None = None


class UserFactory(Factory[NewUser]):
    """A buyer unless a role is given; the e-mail names the role and is unique."""

    role = Role.BUYER
    email = PostGenerated(lambda _field, values: f"{values['role'].value}-{token()}@example.com")
    password = PASSWORD
    display_name = PostGenerated(lambda _field, values: str(values["role"].value))

    @classmethod
    async def create(cls, uow: UnitOfWork, **fields: Any) -> UserInfo:
        """The account, its password hashed as at sign-up, so it can log in with it."""
        new = cls.build(**fields)
        return await accounts.create_user(uow=uow, **_fields(new))


@dataclass(frozen=True, slots=True)
class NewAddress:
    """A delivery address as a buyer enters it (``accounts.add_address``, POST /me/addresses)."""

    recipient: str
    phone: str
    province: str
    city: str
    line: str
    district: str = ""
    postcode: str | None = None
    is_default: bool = False


class AddressFactory(Factory[NewAddress]):
    recipient = "李四"
    phone = "+86 139-1234-5678"
    province = "浙江省"
    city = "杭州市"
    district = "西湖区"
    line = "文三路 90 号 3 幢 501"
    postcode = "310012"

    @classmethod
    def body(cls, **fields: Any) -> dict[str, Any]:
        """The JSON body of POST /api/v1/me/addresses, as a buyer's client sends it."""
        return dataclasses.asdict(cls.build(**fields))

    @classmethod
    async def create(cls, uow: UnitOfWork, *, user_id: int, **fields: Any) -> AddressInfo:
        """The address in the user's book (the first one becomes the default)."""
        new = cls.build(**fields)
        return await accounts.add_address(uow=uow, user_id=user_id, **_fields(new))
