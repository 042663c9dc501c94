"""Pure account rules: lockout arithmetic, password policy, e-mail, redirect targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuaidan.accounts.domain import (
    DEFAULT_LOCKOUT,
    ApiTokenInfo,
    LockoutPolicy,
    api_token_display_prefix,
    check_password,
    clean_address_text,
    clean_display_name,
    clean_postcode,
    hash_api_token,
    normalise_email,
    safe_next,
)
from kuaidan.core.errors import InvalidInput

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy.from_settings(max_failures=10, lockout_minutes=30)


# lockout


def test_default_lockout_is_ten_failures_then_thirty_minutes():
    assert DEFAULT_LOCKOUT == POLICY
    assert POLICY.max_failures == 10
    assert POLICY.lockout == timedelta(minutes=30)


def test_nine_failures_count_up_without_locking():
    for failures in range(1, 10):
        state = POLICY.after_failure(failures, NOW)
        assert state.failed_logins == failures
        assert state.locked_until is None


def test_tenth_failure_locks_for_thirty_minutes_and_restarts_the_count():
    state = POLICY.after_failure(10, NOW)
    assert state.locked_until == NOW + timedelta(minutes=30)
    assert state.failed_logins == 0


def test_a_lock_holds_until_its_end_and_not_a_moment_longer():
    until = NOW + timedelta(minutes=30)
    assert POLICY.is_locked(until, NOW)
    assert POLICY.is_locked(until, until - timedelta(microseconds=1))
    assert not POLICY.is_locked(until, until)
    assert not POLICY.is_locked(until, until + timedelta(seconds=1))
    assert not POLICY.is_locked(None, NOW)


def test_lockout_follows_the_configured_numbers():
    strict = LockoutPolicy.from_settings(max_failures=3, lockout_minutes=5)
    assert strict.after_failure(2, NOW).locked_until is None
    assert strict.after_failure(3, NOW).locked_until == NOW + timedelta(minutes=5)


@given(failures=st.integers(min_value=1, max_value=100))
def test_lock_is_set_exactly_when_failures_reach_the_limit(failures):
    state = POLICY.after_failure(failures, NOW)
    assert (state.locked_until is not None) == (failures >= POLICY.max_failures)
    assert 0 <= state.failed_logins < POLICY.max_failures


# password policy


@pytest.mark.parametrize(
    "password", ["abcdefgh", "correct horse", "пароль123", "密码很长很长很长", "x" * 256]
)
def test_acceptable_passwords_pass(password):
    check_password(password)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("", "at least 8"),
        ("short1!", "at least 8"),
        ("x" * 257, "at most 256"),
        ("12345678", "only digits"),
        ("138001380001", "only digits"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, fragment):
    with pytest.raises(InvalidInput, match=fragment) as caught:
        check_password(password)
    assert caught.value.details == {"field": "password"}


def test_the_password_may_not_be_the_email():
    with pytest.raises(InvalidInput, match="e-mail"):
        check_password("Buyer@Example.com", email="buyer@example.com")


# e-mail


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Buyer@Example.COM", "buyer@example.com"),
        ("  a.b+tag@shop.example.cn ", "a.b+tag@shop.example.cn"),
        ("用户@例子.中国", "用户@例子.中国"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@example",
        "a b@example.com",
        "a@@example.com",
        "a@example..com",
        "a@.example.com",
        f"{'x' * 65}@example.com",
        f"a@{'x' * 250}.com",
    ],
)
def test_invalid_emails_are_refused(raw):
    with pytest.raises(InvalidInput):
        normalise_email(raw)


# other values


def test_display_names_are_trimmed_and_bounded():
    assert clean_display_name("  小  红  ") == "小 红"
    with pytest.raises(InvalidInput):
        clean_display_name("   ")
    with pytest.raises(InvalidInput):
        clean_display_name("x" * 51)
    with pytest.raises(InvalidInput):
        clean_display_name("bad\x00name")


def test_address_text_requires_all_but_the_district():
    assert clean_address_text("district", "  ") == ""
    assert clean_address_text("line", " 文三路  90 号 ") == "文三路 90 号"
    with pytest.raises(InvalidInput):
        clean_address_text("line", "")
    with pytest.raises(InvalidInput):
        clean_address_text("line", "x" * 201)


def test_postcodes_are_optional_but_well_formed():
    assert clean_postcode(None) is None
    assert clean_postcode(" ") is None
    assert clean_postcode(" 310012 ") == "310012"
    with pytest.raises(InvalidInput):
        clean_postcode("31<script>")


def test_api_tokens_are_stored_as_sha256_and_shown_by_prefix():
    token = "kd_abcdefghijklmnopqrstuvwxyz"
    assert hash_api_token(token) == hash_api_token(token)
    assert len(hash_api_token(token)) == 64
    assert token not in hash_api_token(token)
    assert api_token_display_prefix(token) == "kd_abcdefgh"


def test_a_token_is_active_until_revoked_or_expired():
    token = ApiTokenInfo(1, "t", "kd_x", NOW, None, NOW + timedelta(days=1), None)
    assert token.is_active(NOW)
    assert not token.is_active(NOW + timedelta(days=1))
    revoked = ApiTokenInfo(1, "t", "kd_x", NOW, None, None, NOW)
    assert not revoked.is_active(NOW)


# redirect after log-in


@pytest.mark.parametrize(
    "target", ["/", "/account", "/p/123?colour=red#reviews", "/search?q=a%2Fb"]
)
def test_local_paths_are_allowed_as_next(target):
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil",
        "javascript:alert(1)",
        "evil.example",
        "/\nLocation: x",
        " /account",
        "http:/x",
    ],
)
def test_other_origins_fall_back_to_the_default(target):
    assert safe_next(target) == "/"
    assert safe_next(target, default="/account") == "/account"
