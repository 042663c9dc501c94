"""Return policies' pure rules: a shop's return address, and a category's no-reason return
window inherited down the category tree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.catalog.domain import (
    MAX_NO_REASON_RETURN_DAYS,
    CategoryInfo,
    check_return_days,
    return_window,
)
from kuaidan.core.errors import InvalidInput
from kuaidan.demo.data import MERCHANTS
from kuaidan.demo.seed import DEFAULT_SHIP_FROM, SHIP_FROM, demo_return_address
from kuaidan.merchants.domain import ReturnAddress, check_return_address

GOOD = ReturnAddress(
    recipient="好厨房 售后",
    phone="0571-88881234",
    province="浙江",
    city="杭州",
    line="西湖区文三路 90 号 仓库 2 号门",
)


def with_(**changes: str) -> ReturnAddress:
    fields = {
        "recipient": GOOD.recipient,
        "phone": GOOD.phone,
        "province": GOOD.province,
        "city": GOOD.city,
        "line": GOOD.line,
        **changes,
    }
    return ReturnAddress(**fields)


# --- the return address ------------------------------------------------------------------------


def test_a_good_return_address_is_kept_with_its_whitespace_collapsed() -> None:
    messy = with_(recipient="  好厨房\t售后 ", line=" 西湖区文三路  90 号\n仓库 2 号门 ")
    assert check_return_address(messy) == GOOD
    assert check_return_address(GOOD) == GOOD


def test_one_line_is_province_city_and_line() -> None:
    assert GOOD.one_line() == "浙江 杭州 西湖区文三路 90 号 仓库 2 号门"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recipient", ""),
        ("recipient", "   "),
        ("recipient", "售" * 51),
        ("phone", ""),
        ("phone", "1234"),
        ("phone", "call-me-now"),  # long enough, but fewer than 5 digits
        ("phone", "0571-8888-1234-5678-9"),  # 21 characters
        ("province", ""),
        ("province", "省" * 11),
        ("city", " "),
        ("city", "市" * 51),
        ("line", "文三路"),  # 3 characters
        ("line", "路" * 201),
    ],
)
def test_a_bad_part_is_refused_naming_its_field(field: str, value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_return_address(with_(**{field: value}))
    assert refused.value.details["field"] == field


def test_the_shortest_accepted_parts() -> None:
    short = with_(recipient="王", phone="12345", line="文三路9")
    assert check_return_address(short) == short


# --- the no-reason return window ------------------------------------------------------------


def category(cid: int, parent: int | None, days: int | None) -> CategoryInfo:
    return CategoryInfo(cid, f"c{cid}", "分类", "Category", parent, 0, days)


TREE = {
    c.id: c
    for c in (
        category(1, None, None),  # food: inherits the platform default
        category(2, 1, 0),  # fresh food: no no-reason return
        category(3, 2, None),  # fruit: inherits fresh food's 0
        category(4, 3, 15),  # dried fruit: its own 15 days
        category(5, None, None),  # apparel
        category(6, 5, None),  # T-shirts
        category(7, 8, None),  # a broken tree: 7 → 8 → 7
        category(8, 7, None),
    )
}


@pytest.mark.parametrize(
    ("category_id", "expected"),
    [(2, 0), (3, 0), (4, 15), (1, None), (6, None), (7, None), (99, None)],
)
def test_the_window_is_the_first_one_set_walking_up_to_the_root(
    category_id: int, expected: int | None
) -> None:
    assert return_window(TREE, category_id) == expected


@given(days=st.one_of(st.none(), st.integers(0, MAX_NO_REASON_RETURN_DAYS)))
def test_a_window_of_none_or_0_to_30_days_is_accepted(days: int | None) -> None:
    assert check_return_days(days) == days


@pytest.mark.parametrize("days", [-1, 31, 365, True, 7.0, "7"])
def test_other_windows_are_refused(days: object) -> None:
    with pytest.raises(InvalidInput):
        check_return_days(days)  # type: ignore[arg-type]


# --- the demo shops ----------------------------------------------------------------------------


def test_every_demo_shop_gets_a_valid_return_address_in_its_ship_from_city() -> None:
    phones = set()
    for index, merchant in enumerate(MERCHANTS, start=1):
        province, city, _ = SHIP_FROM.get(merchant.slug, DEFAULT_SHIP_FROM)
        address = demo_return_address(merchant.name, province, city, index)
        assert check_return_address(address) == address
        assert (address.province, address.city) == (province, city)
        assert address.recipient == f"{merchant.name} 售后"
        phones.add(address.phone)
    assert len(phones) == len(MERCHANTS)
