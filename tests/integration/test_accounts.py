"""Accounts over real HTTPS on every backend: sign-up, log-in, sessions, tokens, roles,
lockout, personal data at rest, the address book, and the ``kuaidan users`` command."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from typer.testing import CliRunner

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role
from kuaidan.accounts.models import ApiToken, User
from kuaidan.cli import app as cli_app
from kuaidan.core.errors import NotFound
from tests.factories import PASSWORD, UserFactory

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML = {"accept": "text/html"}


def phone_for(unique: str) -> tuple[str, str]:
    """A phone as a person types it, and its digits as they would leak."""
    digits = f"139{int(unique, 16) % 10**8:08d}"
    return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}", digits


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def register(api, unique: str, *, name: str = "buyer", **extra) -> dict[str, Any]:
    body = {
        "email": f"{name}-{unique}@Example.com",
        "password": PASSWORD,
        "display_name": f"{name} {unique}",
        **extra,
    }
    response = await api.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def token_for(api, email: str, password: str = PASSWORD) -> str:
    response = await api.post("/api/v1/auth/tokens", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def staff_token(server, api, role: Role) -> str:
    uow = server.uow()
    try:
        user = await UserFactory.create(uow, role=role)
    finally:
        await uow.close()
    return await token_for(api, user.email)


async def raw_rows(server, sql: str, **params) -> list[dict[str, Any]]:
    async with server.container.db.engine.connect() as conn:
        result = await conn.execute(text(sql), params)
        return [dict(row) for row in result.mappings().all()]


def csrf_in(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


async def csrf_from(client, path: str = "/login") -> str:
    page = await client.get(path, headers=HTML)
    assert page.status_code == 200, page.text
    return csrf_in(page.text)


async def page_login(client, email: str, password: str = PASSWORD, next_path: str = "/"):
    token = await csrf_from(client)
    form = {"email": email, "password": password, "next": next_path, "csrf_token": token}
    return await client.post("/login", data=form, headers=HTML)


# sign-up and the JSON log-in


async def test_register_then_log_in_for_a_token_and_read_my_profile(api, unique):
    phone, digits = phone_for(unique)
    user = await register(api, unique, phone=phone, full_name="王小明")
    assert user["email"] == f"buyer-{unique}@example.com"
    assert user["role"] == "buyer"
    assert set(user) == {"id", "email", "role", "display_name", "merchant_id"}

    issued = await api.post(
        "/api/v1/auth/tokens", json={"email": user["email"].upper(), "password": PASSWORD}
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["token"].startswith(issued.json()["prefix"])

    me = await api.get("/api/v1/me", headers=bearer(issued.json()["token"]))
    assert me.status_code == 200
    assert me.json()["phone"] == f"+86{digits}"
    assert me.json()["full_name"] == "王小明"
    assert "password_hash" not in me.text and "phone_enc" not in me.text


async def test_an_email_registers_once_whatever_its_case(api, unique):
    await register(api, unique)
    again = await api.post(
        "/api/v1/auth/register",
        json={"email": f"BUYER-{unique}@example.com", "password": PASSWORD, "display_name": "x"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "12345678901"}, "password"),
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
    ],
)
async def test_bad_sign_up_input_is_a_422_in_the_common_shape(api, unique, change, field):
    body = {"email": f"bad-{unique}@example.com", "password": PASSWORD, "display_name": "x"}
    response = await api.post("/api/v1/auth/register", json={**body, **change})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["field"] == field


async def test_unknown_fields_in_a_request_are_refused(api, unique):
    body = {"email": f"x-{unique}@example.com", "password": PASSWORD, "display_name": "x"}
    response = await api.post("/api/v1/auth/register", json={**body, "role": "admin"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


async def test_wrong_password_and_unknown_email_get_the_same_answer(api, unique):
    user = await register(api, unique)
    wrong = await api.post(
        "/api/v1/auth/tokens", json={"email": user["email"], "password": "not the password"}
    )
    unknown = await api.post(
        "/api/v1/auth/tokens", json={"email": f"nobody-{unique}@example.com", "password": "x"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


# page sessions, cookies and CSRF


async def test_page_log_in_sets_a_hardened_cookie_and_log_out_ends_it(server, unique):
    user = await register_via_api(server, unique)
    async with server.client() as client:
        response = await page_login(client, user["email"], next_path="/account")
        assert response.status_code == 303
        assert response.headers["location"] == "/account"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie

        account = await client.get("/account", headers=HTML)
        assert account.status_code == 200
        assert user["email"] in account.text

        token = csrf_in(account.text)
        out = await client.post("/logout", data={"csrf_token": token}, headers=HTML)
        assert out.status_code == 303
        after = await client.get("/account", headers=HTML)
        assert after.status_code == 303
        assert after.headers["location"] == "/login?next=/account"


async def register_via_api(server, unique: str, **extra) -> dict[str, Any]:
    async with server.client() as client:
        return await register(client, unique, **extra)


async def test_a_form_post_without_the_csrf_token_is_refused(server, unique):
    user = await register_via_api(server, unique)
    async with server.client() as client:
        await csrf_from(client)
        form = {"email": user["email"], "password": PASSWORD}
        response = await client.post("/login", data=form)
        assert response.status_code == 403
        forged = await client.post("/login", data={**form, "csrf_token": "forged"})
        assert forged.status_code == 403


async def test_log_in_rotates_the_session_and_its_csrf_token(server, unique):
    user = await register_via_api(server, unique)
    async with server.client() as client:
        before = await csrf_from(client)
        await page_login(client, user["email"])
        after = csrf_in((await client.get("/account", headers=HTML)).text)
        assert after != before


async def test_next_only_leads_to_a_path_on_this_site(server, unique):
    user = await register_via_api(server, unique)
    async with server.client() as client:
        response = await page_login(client, user["email"], next_path="https://evil.example/")
        assert response.status_code == 303
        assert response.headers["location"] == "/"
    async with server.client() as client:
        response = await page_login(client, user["email"], next_path="//evil.example/")
        assert response.headers["location"] == "/"


async def test_a_failed_page_log_in_keeps_the_email_but_never_the_password(server, unique):
    user = await register_via_api(server, unique)
    async with server.client() as client:
        response = await page_login(client, user["email"], password="Wrong-Password-42")
        assert response.status_code == 401
        assert user["email"] in response.text
        assert "Wrong-Password-42" not in response.text
        assert 'data-testid="form-error"' in response.text


async def test_the_register_page_signs_up_logs_in_and_follows_next(server, unique):
    async with server.client() as client:
        token = await csrf_from(client, "/register")
        form = {
            "email": f"page-{unique}@example.com",
            "display_name": f"页面 {unique}",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "next": "/account",
            "csrf_token": token,
        }
        response = await client.post("/register", data=form, headers=HTML)
        assert response.status_code == 303
        assert response.headers["location"] == "/account"
        me = await client.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json()["email"] == f"page-{unique}@example.com"

        stale = await client.post("/register", data=form, headers=HTML)
        assert stale.status_code == 403  # signing in rotated the CSRF token

    async with server.client() as other:
        token = await csrf_from(other, "/register")
        again = await other.post("/register", data={**form, "csrf_token": token}, headers=HTML)
        assert again.status_code == 409
        assert "already exists" in again.text


async def test_a_register_page_mistake_rerenders_the_typed_form(server, unique):
    async with server.client() as client:
        token = await csrf_from(client, "/register")
        form = {
            "email": f"typo-{unique}@example.com",
            "display_name": "Typo",
            "password": PASSWORD,
            "password_again": PASSWORD + "x",
            "csrf_token": token,
        }
        response = await client.post("/register", data=form, headers=HTML)
        assert response.status_code == 422
        assert f"typo-{unique}@example.com" in response.text
        assert PASSWORD not in response.text


async def test_logging_out_other_devices_kills_their_old_cookies(server, unique):
    user = await register_via_api(server, unique)
    async with server.client() as phone, server.client() as laptop:
        await page_login(phone, user["email"])
        await page_login(laptop, user["email"])
        assert (await phone.get("/api/v1/me")).status_code == 200

        token = csrf_in((await laptop.get("/account", headers=HTML)).text)
        ended = await laptop.post("/account/sessions/end", data={"csrf_token": token})
        assert ended.status_code == 303

        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await laptop.get("/api/v1/me")).status_code == 200


# API tokens


async def test_api_tokens_are_stored_only_as_a_hash(server, api, unique):
    user = await register(api, unique)
    token = await token_for(api, user["email"])
    rows = await raw_rows(
        server,
        "select t.* from api_tokens t join users u on u.id = t.user_id where u.email = :email",
        email=user["email"],
    )
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in rows[0].values())


async def test_a_revoked_token_is_refused_with_401(api, unique):
    user = await register(api, unique)
    token = await token_for(api, user["email"])
    listed = await api.get("/api/v1/auth/tokens", headers=bearer(token))
    assert listed.status_code == 200
    [info] = listed.json()
    assert token.startswith(info["prefix"]) and "token" not in info

    revoked = await api.delete(f"/api/v1/auth/tokens/{info['id']}", headers=bearer(token))
    assert revoked.status_code == 204
    refused = await api.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


async def test_an_expired_token_is_refused(server, api, unique):
    user = await register(api, unique)
    token = await token_for(api, user["email"])
    uow = server.uow()
    try:
        async with uow.atomic():
            await uow.session.execute(
                update(ApiToken)
                .where(ApiToken.prefix == token[:11])
                .values(expires_at=uow.now() - timedelta(seconds=1))
            )
    finally:
        await uow.close()
    assert (await api.get("/api/v1/me", headers=bearer(token))).status_code == 401


async def test_nobody_revokes_someone_elses_token(api, unique):
    alice = await register(api, unique, name="alice")
    bob = await register(api, unique, name="bob")
    alice_token = await token_for(api, alice["email"])
    bob_token = await token_for(api, bob["email"])
    [bob_info] = (await api.get("/api/v1/auth/tokens", headers=bearer(bob_token))).json()
    response = await api.delete(
        f"/api/v1/auth/tokens/{bob_info['id']}", headers=bearer(alice_token)
    )
    assert response.status_code == 404
    assert (await api.get("/api/v1/me", headers=bearer(bob_token))).status_code == 200


async def test_a_garbage_bearer_token_is_401(api):
    response = await api.get("/api/v1/me", headers=bearer("kd_not-a-real-token"))
    assert response.status_code == 401


# roles


async def test_a_buyer_may_not_list_accounts_but_an_admin_may(server, api, unique):
    phone, _ = phone_for(unique)
    buyer = await register(api, unique, phone=phone)
    buyer_token = await token_for(api, buyer["email"])
    denied = await api.get("/api/v1/admin/users", headers=bearer(buyer_token))
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    assert (await api.get("/api/v1/admin/users")).status_code == 401

    admin_token = await staff_token(server, api, Role.ADMIN)
    listed = await api.get(
        "/api/v1/admin/users",
        params={"role": "buyer", "page_size": 100},
        headers=bearer(admin_token),
    )
    assert listed.status_code == 200
    assert all(item["role"] == "buyer" for item in listed.json()["items"])
    assert "password_hash" not in listed.text and "phone" not in listed.text

    by_phone = await api.get(
        "/api/v1/admin/users", params={"phone": phone}, headers=bearer(admin_token)
    )
    assert [item["email"] for item in by_phone.json()["items"]] == [buyer["email"]]


async def test_the_address_book_is_for_buyers(server, api, unique):
    token = await staff_token(server, api, Role.AGENT)
    response = await api.get("/api/v1/me/addresses", headers=bearer(token))
    assert response.status_code == 403


# lockout


async def test_ten_failures_lock_the_account_even_against_the_right_password(server, api, unique):
    user = await register(api, unique)
    attempt = {"email": user["email"], "password": "wrong password"}
    for _ in range(9):
        assert (await api.post("/api/v1/auth/tokens", json=attempt)).status_code == 401
    tenth = await api.post("/api/v1/auth/tokens", json=attempt)
    assert tenth.status_code == 423
    assert tenth.json()["error"]["code"] == "account_locked"

    right = {"email": user["email"], "password": PASSWORD}
    assert (await api.post("/api/v1/auth/tokens", json=right)).status_code == 423

    uow = server.uow()  # the clock moves past the lock
    try:
        async with uow.atomic():
            await uow.session.execute(
                update(User)
                .where(User.id == user["id"])
                .values(locked_until=uow.now() - timedelta(seconds=1))
            )
    finally:
        await uow.close()
    assert (await api.post("/api/v1/auth/tokens", json=right)).status_code == 201
    [row] = await raw_rows(server, "select failed_logins from users where id = :id", id=user["id"])
    assert row["failed_logins"] == 0


# personal data at rest


ADDRESS = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "postcode": "310012"}


async def test_phones_names_and_addresses_are_encrypted_at_rest(server, api, unique):
    phone, digits = phone_for(unique)
    recipient, line = f"收件人{unique}", f"文三路 {unique} 号 3 幢"
    user = await register(api, unique, phone=phone, full_name=f"姓名{unique}")
    token = await token_for(api, user["email"])
    added = await api.post(
        "/api/v1/me/addresses",
        json={**ADDRESS, "recipient": recipient, "phone": phone, "line": line},
        headers=bearer(token),
    )
    assert added.status_code == 201, added.text
    assert added.json()["line"] == line and added.json()["recipient"] == recipient

    users = await raw_rows(server, "select * from users where id = :id", id=user["id"])
    addresses = await raw_rows(server, "select * from addresses where user_id = :id", id=user["id"])
    at_rest = " ".join(str(value) for row in users + addresses for value in row.values())
    for secret in (digits, digits[-8:], line, recipient, f"姓名{unique}", "西湖区"):
        assert secret not in at_rest
    assert "浙江省" in at_rest and "杭州市" in at_rest  # kept in clear for carrier coverage

    me = (await api.get("/api/v1/me", headers=bearer(token))).json()
    assert me["phone"] == f"+86{digits}" and me["full_name"] == f"姓名{unique}"


async def test_a_phone_finds_its_account_through_the_blind_index(server, api, unique):
    phone, digits = phone_for(unique)
    user = await register(api, unique, phone=phone)
    uow = server.uow()
    try:
        found = await accounts.find_user_by_phone(uow=uow, phone=f"+86{digits}")
        missing = await accounts.find_user_by_phone(uow=uow, phone="+8613000000000")
    finally:
        await uow.close()
    assert found is not None and found.id == user["id"]
    assert missing is None


# profile and address book


async def test_a_user_changes_and_removes_their_phone(api, unique):
    user = await register(api, unique)
    token = await token_for(api, user["email"])
    phone, digits = phone_for(unique)
    changed = await api.patch(
        "/api/v1/me", json={"display_name": "新名字", "phone": phone}, headers=bearer(token)
    )
    assert changed.status_code == 200
    assert changed.json()["display_name"] == "新名字"
    assert changed.json()["phone"] == f"+86{digits}"
    cleared = await api.patch("/api/v1/me", json={"phone": None}, headers=bearer(token))
    assert cleared.json()["phone"] is None and cleared.json()["display_name"] == "新名字"


async def test_the_address_book_keeps_one_default(server, api, unique):
    user = await register(api, unique)
    token = await token_for(api, user["email"])
    phone, _ = phone_for(unique)

    async def add(line: str) -> dict[str, Any]:
        body = {**ADDRESS, "recipient": "张三", "phone": phone, "line": line}
        response = await api.post("/api/v1/me/addresses", json=body, headers=bearer(token))
        assert response.status_code == 201, response.text
        address: dict[str, Any] = response.json()
        return address

    first, second = await add("一号路 1 号"), await add("二号路 2 号")
    assert first["is_default"] and not second["is_default"]

    patched = await api.patch(
        f"/api/v1/me/addresses/{second['id']}",
        json={"is_default": True, "line": "二号路 22 号", "postcode": None},
        headers=bearer(token),
    )
    assert patched.status_code == 200
    assert patched.json()["line"] == "二号路 22 号" and patched.json()["postcode"] is None
    listed = (await api.get("/api/v1/me/addresses", headers=bearer(token))).json()
    assert [(a["id"], a["is_default"]) for a in listed] == [
        (second["id"], True),
        (first["id"], False),
    ]

    deleted = await api.delete(f"/api/v1/me/addresses/{second['id']}", headers=bearer(token))
    assert deleted.status_code == 204
    [left] = (await api.get("/api/v1/me/addresses", headers=bearer(token))).json()
    assert left["id"] == first["id"] and left["is_default"]

    uow = server.uow()  # checkout reads an address through the service, owner only
    try:
        address = await accounts.get_address(uow=uow, user_id=user["id"], address_id=first["id"])
        assert address.one_line() == "浙江省 杭州市 西湖区 一号路 1 号"
        with pytest.raises(NotFound):
            await accounts.get_address(uow=uow, user_id=user["id"] + 10**6, address_id=first["id"])
    finally:
        await uow.close()


async def test_nobody_reads_or_changes_someone_elses_address(api, unique):
    alice = await register(api, unique, name="alice")
    mallory = await register(api, unique, name="mallory")
    alice_token = await token_for(api, alice["email"])
    mallory_token = await token_for(api, mallory["email"])
    phone, _ = phone_for(unique)
    body = {**ADDRESS, "recipient": "Alice", "phone": phone, "line": "秘密路 1 号"}
    address = (
        await api.post("/api/v1/me/addresses", json=body, headers=bearer(alice_token))
    ).json()
    path = f"/api/v1/me/addresses/{address['id']}"
    assert (await api.get(path, headers=bearer(mallory_token))).status_code == 404
    assert (
        await api.patch(path, json={"line": "x"}, headers=bearer(mallory_token))
    ).status_code == 404
    assert (await api.delete(path, headers=bearer(mallory_token))).status_code == 404
    assert (await api.get(path, headers=bearer(alice_token))).status_code == 200


async def test_the_account_page_adds_an_address_and_shows_a_new_token_once(server, unique):
    user = await register_via_api(server, unique)
    phone, digits = phone_for(unique)
    async with server.client() as client:
        await page_login(client, user["email"])
        token = csrf_in((await client.get("/account", headers=HTML)).text)
        form = {**ADDRESS, "recipient": "李四", "phone": phone, "line": "页面路 8 号"}
        added = await client.post("/account/addresses", data={**form, "csrf_token": token})
        assert added.status_code == 303
        page = await client.get(added.headers["location"], headers=HTML)
        assert "页面路 8 号" in page.text and f"+86{digits}" in page.text

        bad = await client.post(
            "/account/addresses", data={**form, "phone": "12", "csrf_token": token}
        )
        assert bad.status_code == 422 and "页面路 8 号" in bad.text

        created = await client.post("/account/tokens", data={"name": "助手", "csrf_token": token})
        assert created.status_code == 201
        shown = re.search(r'data-testid="new-token">([^<]+)<', created.text)
        assert shown, "the new token is on the page"
        plaintext = shown.group(1)
        assert (await client.get("/api/v1/me", headers=bearer(plaintext))).status_code == 200
        again = await client.get("/account", headers=HTML)
        assert plaintext not in again.text and plaintext[:11] in again.text


# the command line


def test_users_create_makes_an_account_and_explains_a_duplicate(tmp_path, unique):
    runner = CliRunner()
    env = {"KUAIDAN_DATA_DIR": str(tmp_path), "KUAIDAN_DATABASE_URL": ""}
    assert runner.invoke(cli_app, ["db", "upgrade"], env=env).exit_code == 0
    args = ["users", "create", "--email", f"Admin-{unique}@example.com", "--role", "admin"]
    args += ["--password", PASSWORD, "--phone", "+86 139 0000 0000"]

    created = runner.invoke(cli_app, args, env=env)
    assert created.exit_code == 0, created.output
    assert f"admin-{unique}@example.com" in created.output.lower()

    duplicate = runner.invoke(cli_app, args, env=env)
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    assert "Traceback" not in duplicate.output

    weak_args = ["users", "create", "--email", f"w-{unique}@example.com", "--role", "agent"]
    weak = runner.invoke(cli_app, [*weak_args, "--password", "1234"], env=env)
    assert weak.exit_code == 1
    assert "at least 8" in weak.output and "Traceback" not in weak.output

    listed = runner.invoke(cli_app, ["users", "list", "--role", "admin"], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"admin-{unique}@example.com" in listed.output
