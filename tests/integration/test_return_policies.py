"""Return policies, over real HTTPS on SQLite and PostgreSQL: a shop's return address (encrypted
at rest, set through the API and the shipping settings page) and the no-reason return window
a category sets or inherits, with the administrators' route and its audit entry.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from kuaidan.accounts.domain import Role
from kuaidan.catalog import service as catalog
from kuaidan.core.errors import InvalidInput, NotFound
from kuaidan.merchants import service as merchants
from kuaidan.security import service as security
from tests.conftest import LiveServer
from tests.factories import (
    PASSWORD,
    CategoryFactory,
    MerchantFactory,
    ProductFactory,
    ReturnAddressFactory,
    UserFactory,
)
from tests.integration.ordering_support import opened, staff

ADDRESS_PATH = "/api/v1/merchant/return-address"
PAGE_PATH = "/merchant/settings/shipping"
HTML = {"accept": "text/html,application/xhtml+xml"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PHONE = "0571-88881234"
GOOD = {
    "recipient": " 好厨房\t售后 ",
    "phone": PHONE,
    "province": "浙江省",
    "city": "杭州市",
    "line": "西湖区文三路 90 号  仓库 2 号门",
}


@dataclass
class Shops:
    token: str
    first: int
    second: int


@pytest.fixture(scope="module")
async def shops(server: LiveServer) -> Shops:
    token = uuid.uuid4().hex[:10]
    async with opened(server) as uow:
        ids = [
            (await MerchantFactory.create(uow, slug=f"{name}-{token}")).id
            for name in ("first", "second")
        ]
    return Shops(token, *ids)


# --- the return address ------------------------------------------------------------------------


async def test_a_return_address_round_trips_and_is_encrypted_at_rest(
    server: LiveServer, shops: Shops
) -> None:
    wanted = ReturnAddressFactory.build(province="上海", city="上海")
    async with opened(server) as uow:
        assert await merchants.get_return_address(uow=uow, merchant_id=shops.second) is None
        saved = await merchants.set_return_address(
            uow=uow, merchant_id=shops.second, address=wanted
        )
    assert saved == wanted
    async with opened(server) as uow:
        assert await merchants.get_return_address(uow=uow, merchant_id=shops.second) == wanted
        row = (
            await uow.session.execute(
                text(
                    "SELECT return_recipient_enc, return_phone_enc, return_line_enc,"
                    " return_province, return_city FROM merchants WHERE id = :id"
                ),
                {"id": shops.second},
            )
        ).one()
        recipient, phone, line, province, city = row
        assert (province, city) == ("上海", "上海")
        for sealed, clear in (
            (recipient, wanted.recipient),
            (phone, wanted.phone),
            (line, wanted.line),
        ):
            assert clear not in sealed


async def test_setting_the_return_address_of_no_merchant_or_a_bad_one_is_refused(
    server: LiveServer, shops: Shops
) -> None:
    good = ReturnAddressFactory.build(phone="021-88881234")
    async with opened(server) as uow:
        with pytest.raises(NotFound):
            await merchants.set_return_address(uow=uow, merchant_id=987_654_321, address=good)
        with pytest.raises(NotFound):
            await merchants.get_return_address(uow=uow, merchant_id=987_654_321)
        with pytest.raises(InvalidInput):
            bad = ReturnAddressFactory.build(phone="no phone")
            await merchants.set_return_address(uow=uow, merchant_id=shops.first, address=bad)
        assert await merchants.get_return_address(uow=uow, merchant_id=shops.first) is None


async def test_merchant_staff_set_and_read_their_return_address_through_the_api(
    server: LiveServer, api: httpx.AsyncClient, shops: Shops
) -> None:
    seller = await staff(server, api, Role.MERCHANT, shops.first)
    rival = await staff(server, api, Role.MERCHANT, shops.second)
    empty = await api.get(ADDRESS_PATH, headers=seller)
    assert empty.status_code == 200 and empty.json() is None
    saved = await api.put(ADDRESS_PATH, json=GOOD, headers=seller)
    assert saved.status_code == 200, saved.text
    expected = {
        "recipient": "好厨房 售后",
        "phone": PHONE,
        "province": "浙江",
        "city": "杭州",
        "line": "西湖区文三路 90 号 仓库 2 号门",
        "one_line": "浙江 杭州 西湖区文三路 90 号 仓库 2 号门",
    }
    assert saved.json() == expected
    assert (await api.get(ADDRESS_PATH, headers=seller)).json() == expected
    # Each shop has its own: the other shop's staff see theirs.
    assert (await api.get(ADDRESS_PATH, headers=rival)).json()["province"] == "上海"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "1234"}, "phone"),
        ({"phone": "call me now"}, "phone"),
        ({"recipient": "  "}, "recipient"),
        ({"line": "文三路"}, "line"),
        ({"province": ""}, "province"),
        ({"city": " "}, "city"),
    ],
)
async def test_a_bad_return_address_is_a_422_naming_the_field_and_changes_nothing(
    server: LiveServer, api: httpx.AsyncClient, shops: Shops, change: dict[str, str], field: str
) -> None:
    seller = await staff(server, api, Role.MERCHANT, shops.first)
    before = (await api.get(ADDRESS_PATH, headers=seller)).json()
    refused = await api.put(ADDRESS_PATH, json={**GOOD, **change}, headers=seller)
    assert refused.status_code == 422, refused.text
    assert field in refused.text
    assert (await api.get(ADDRESS_PATH, headers=seller)).json() == before


async def test_a_place_that_is_not_one_or_a_malformed_body_is_a_422(
    server: LiveServer, api: httpx.AsyncClient, shops: Shops
) -> None:
    seller = await staff(server, api, Role.MERCHANT, shops.first)
    nowhere = await api.put(ADDRESS_PATH, json={**GOOD, "province": "Atlantis"}, headers=seller)
    assert nowhere.status_code == 422
    missing = {k: v for k, v in GOOD.items() if k != "line"}
    assert (await api.put(ADDRESS_PATH, json=missing, headers=seller)).status_code == 422
    extra = {**GOOD, "postcode": "310012"}
    assert (await api.put(ADDRESS_PATH, json=extra, headers=seller)).status_code == 422


async def test_buyers_and_guests_cannot_see_or_set_a_return_address(
    server: LiveServer, api: httpx.AsyncClient
) -> None:
    buyer = await staff(server, api, Role.BUYER)
    assert (await api.get(ADDRESS_PATH, headers=buyer)).status_code == 403
    assert (await api.put(ADDRESS_PATH, json=GOOD, headers=buyer)).status_code == 403
    assert (await api.get(ADDRESS_PATH)).status_code == 401


# --- the shipping settings page ----------------------------------------------------------------


async def csrf(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    match = CSRF_RE.search(page.text)
    assert match is not None, page.text[:500]
    return match.group(1)


async def logged_in(client: httpx.AsyncClient, server: LiveServer, merchant_id: int) -> None:
    async with opened(server) as uow:
        user = await UserFactory.create(
            uow, role=Role.MERCHANT, display_name="售后", merchant_id=merchant_id
        )
    form = {"email": user.email, "password": PASSWORD, "next": "/", "csrf_token": ""}
    form["csrf_token"] = await csrf(client, "/login")
    assert (await client.post("/login", data=form)).status_code == 303


async def test_the_shipping_settings_page_shows_and_saves_the_return_address(
    server: LiveServer,
) -> None:
    async with opened(server) as uow:
        shop = await MerchantFactory.create(uow)
    async with server.client(headers=HTML) as client:
        await logged_in(client, server, shop.id)
        first = await client.get(PAGE_PATH)
        assert first.status_code == 200
        assert 'data-testid="no-return-address"' in first.text
        assert 'data-testid="return-address-form"' in first.text
        token = CSRF_RE.search(first.text)
        assert token is not None
        bad = {**GOOD, "phone": "12", "csrf_token": token.group(1)}
        refused = await client.post(f"{PAGE_PATH}/return-address", data=bad)
        assert refused.status_code == 422
        assert 'data-testid="form-error"' in refused.text and 'value="12"' in refused.text
        form = {**GOOD, "csrf_token": token.group(1)}
        saved = await client.post(f"{PAGE_PATH}/return-address", data=form)
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{PAGE_PATH}?msg=return_address"
        shown = await client.get(saved.headers["location"])
    assert "退货地址已保存" in shown.text
    current = re.search(r'data-testid="current-return-address">([^<]+)<', shown.text)
    assert current is not None
    assert "好厨房 售后" in current.group(1) and "浙江 杭州 西湖区文三路" in current.group(1)
    async with opened(server) as uow:
        stored = await merchants.get_return_address(uow=uow, merchant_id=shop.id)
    assert stored is not None and stored.phone == PHONE


# --- the no-reason return window ---------------------------------------------------------------


async def product_in(server: LiveServer, shops: Shops, category_slug: str) -> int:
    async with opened(server) as uow:
        detail = await ProductFactory.create(
            uow, merchant_id=shops.first, category_slug=category_slug
        )
    return detail.id


async def test_a_category_without_a_window_inherits_its_parents_and_a_child_may_override(
    server: LiveServer, shops: Shops
) -> None:
    t = shops.token
    async with opened(server) as uow:
        fresh = await CategoryFactory.create(uow, slug=f"fresh-{t}", no_reason_return_days=0)
        await CategoryFactory.create(uow, slug=f"fruit-{t}", parent_slug=f"fresh-{t}")
        await CategoryFactory.create(uow, slug=f"dried-{t}", parent_slug=f"fruit-{t}")
        await CategoryFactory.create(uow, slug=f"plain-{t}")
    assert fresh.no_reason_return_days == 0
    fruit = await product_in(server, shops, f"fruit-{t}")
    dried = await product_in(server, shops, f"dried-{t}")
    plain = await product_in(server, shops, f"plain-{t}")
    async with opened(server) as uow:
        windows = await catalog.return_windows(uow=uow, product_ids=[fruit, dried, plain, 987_654])
        assert windows == {fruit: 0, dried: 0, plain: None}
        changed = await catalog.set_return_window(uow=uow, slug=f"dried-{t}", days=15)
        assert changed.no_reason_return_days == 15
        windows = await catalog.return_windows(uow=uow, product_ids=[fruit, dried, plain])
        assert windows == {fruit: 0, dried: 15, plain: None}
        await catalog.set_return_window(uow=uow, slug=f"fresh-{t}", days=None)
        windows = await catalog.return_windows(uow=uow, product_ids=[fruit, dried])
        assert windows == {fruit: None, dried: 15}
        assert await catalog.return_windows(uow=uow, product_ids=[]) == {}


async def test_a_window_out_of_range_is_refused_by_the_service(
    server: LiveServer, shops: Shops
) -> None:
    async with opened(server) as uow:
        with pytest.raises(InvalidInput):
            await catalog.ensure_category(
                uow=uow,
                slug=f"odd-{shops.token}",
                name="怪",
                name_en="Odd",
                no_reason_return_days=31,
            )
        with pytest.raises(InvalidInput):
            await catalog.set_return_window(uow=uow, slug=f"fresh-{shops.token}", days=-1)
        with pytest.raises(NotFound):
            await catalog.set_return_window(uow=uow, slug=f"none-{shops.token}", days=7)


async def test_an_admin_sets_a_window_through_the_api_and_it_is_audited(
    server: LiveServer, api: httpx.AsyncClient, shops: Shops
) -> None:
    slug = f"custom-{shops.token}"
    async with opened(server) as uow:
        await CategoryFactory.create(uow, slug=slug)
    admin = await staff(server, api, Role.ADMIN)
    path = f"/api/v1/admin/categories/{slug}/return-window"
    saved = await api.put(path, json={"no_reason_return_days": 0}, headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["slug"] == slug and saved.json()["no_reason_return_days"] == 0
    listed = {c["slug"]: c for c in (await api.get("/api/v1/categories")).json()}
    assert listed[slug]["no_reason_return_days"] == 0
    again = await api.put(path, json={"no_reason_return_days": None}, headers=admin)
    assert again.status_code == 200 and again.json()["no_reason_return_days"] is None
    async with opened(server) as uow:
        entries = await security.list_entries(uow=uow, subject=f"category:{slug}")
    assert [(e.action, e.details) for e in entries] == [
        ("catalog.return_window_changed", {"before": 0, "after": None}),
        ("catalog.return_window_changed", {"before": None, "after": 0}),
    ]
    assert {e.actor_id for e in entries} != {None}


@pytest.mark.parametrize(
    "body",
    [
        {"no_reason_return_days": 31},
        {"no_reason_return_days": -1},
        {"no_reason_return_days": "7"},
        {"no_reason_return_days": True},
        {"no_reason_return_days": 7.5},
        {},
        {"no_reason_return_days": 7, "extra": 1},
    ],
)
async def test_a_bad_window_is_a_422_and_changes_nothing(
    server: LiveServer, api: httpx.AsyncClient, shops: Shops, body: dict[str, object]
) -> None:
    slug = f"custom-{shops.token}"
    async with opened(server) as uow:
        await CategoryFactory.create(uow, slug=slug)
    admin = await staff(server, api, Role.ADMIN)
    path = f"/api/v1/admin/categories/{slug}/return-window"
    refused = await api.put(path, json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    async with opened(server) as uow:
        assert (await catalog.get_category(uow=uow, slug=slug)).no_reason_return_days is None


async def test_only_admins_set_windows_and_unknown_categories_are_404(
    server: LiveServer, api: httpx.AsyncClient, shops: Shops
) -> None:
    admin = await staff(server, api, Role.ADMIN)
    seller = await staff(server, api, Role.MERCHANT, shops.first)
    buyer = await staff(server, api, Role.BUYER)
    body = {"no_reason_return_days": 7}
    unknown = f"/api/v1/admin/categories/nothing-{shops.token}/return-window"
    assert (await api.put(unknown, json=body, headers=admin)).status_code == 404
    known = f"/api/v1/admin/categories/fresh-{shops.token}/return-window"
    for headers in (seller, buyer):
        assert (await api.put(known, json=body, headers=headers)).status_code == 403
    assert (await api.put(known, json=body)).status_code == 401
