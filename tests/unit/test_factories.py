"""The test data factories build what the services accept: each default passes the checks the
service makes before it stores anything, and two builds never collide."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from polyfactory.exceptions import MissingBuildKwargException

from kuaidan.accounts.domain import Role, check_password, normalise_email
from kuaidan.accounts.schemas import AddressCreate
from kuaidan.merchants.domain import check_name, check_return_address, check_slug
from tests.factories import (
    PASSWORD,
    AddressFactory,
    CategoryFactory,
    Factory,
    MerchantFactory,
    ProductFactory,
    ReturnAddressFactory,
    SkuFactory,
    UserFactory,
)


def test_a_built_product_has_no_problems_and_prices_in_whole_fen() -> None:
    product = ProductFactory.build(category_slug="goods")
    assert product.problems() == []
    assert [type(sku.price_fen) for sku in product.skus] == [int]


def test_skus_built_for_one_product_are_variants_of_it() -> None:
    product = ProductFactory.build(category_slug="goods", skus=SkuFactory.batch(3))
    assert product.problems() == []


def test_two_builds_get_their_own_codes_slugs_and_e_mails() -> None:
    assert SkuFactory.build().code != SkuFactory.build().code
    assert MerchantFactory.build().slug != MerchantFactory.build().slug
    assert CategoryFactory.build().slug != CategoryFactory.build().slug
    assert UserFactory.build().email != UserFactory.build().email


def test_a_product_names_its_category() -> None:
    with pytest.raises(MissingBuildKwargException):
        ProductFactory.build()


def test_a_built_merchant_passes_the_merchant_checks() -> None:
    merchant = MerchantFactory.build(slug="tea-house")
    assert check_slug(merchant.slug) == "tea-house"
    assert check_name(merchant.name, field="name") == "店铺 tea-house"
    assert check_name(merchant.name_en, field="name_en") == "Shop tea-house"


def test_a_built_user_has_a_valid_e_mail_and_password_for_its_role() -> None:
    user = UserFactory.build(role=Role.MERCHANT, merchant_id=7)
    assert normalise_email(user.email).startswith("merchant-")
    check_password(user.password, email=user.email)
    assert (user.password, user.display_name, user.merchant_id) == (PASSWORD, "merchant", 7)
    assert UserFactory.build().role is Role.BUYER


def test_a_built_address_is_a_valid_request_body_keeping_the_factory_values() -> None:
    body = AddressFactory.body()
    assert AddressCreate.model_validate(body).district == "西湖区"  # not the model's ""
    assert AddressFactory.body(postcode=None)["postcode"] is None


def test_a_built_return_address_is_clean_already() -> None:
    address = ReturnAddressFactory.build()
    assert check_return_address(address) == address


@dataclass(frozen=True)
class _Stamped:
    at: datetime


class _StampedFactory(Factory[_Stamped]):
    pass


def test_a_made_up_datetime_is_aware_and_in_utc() -> None:
    assert _StampedFactory.build().at.tzinfo is UTC
