"""RSA2 parameter signing: canonical string, signatures, tampering, key files."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kuaidan.core import signing


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    folder = tmp_path_factory.mktemp("keys")
    signing.generate_key_pair(folder / "private.pem", folder / "public.pem")
    return (folder / "private.pem").read_bytes(), (folder / "public.pem").read_bytes()


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    folder = tmp_path_factory.mktemp("other-keys")
    signing.generate_key_pair(folder / "private.pem", folder / "public.pem")
    return (folder / "private.pem").read_bytes(), (folder / "public.pem").read_bytes()


PARAMS = {
    "app_id": "kuaidan-demo-app",
    "method": "trade.page.pay",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2026-11-11 00:00:00",
    "version": "1.0",
    "biz_content": '{"out_trade_no":"KD1","subject":"双十一 羽绒服","total_amount":"123.45"}',
    "notify_url": "https://localhost:8443/api/v1/payments/notify/sandbox",
}


def test_canonical_string_sorts_drops_empty_and_excludes_sign() -> None:
    params = {"b": "2", "a": "1", "sign": "xyz", "empty": "", "none": None, "c": "x=y&z"}
    assert signing.canonical_string(params) == "a=1&b=2&c=x=y&z"


def test_notifications_also_leave_out_sign_type() -> None:
    params = {"a": "1", "sign_type": "RSA2", "sign": "s"}
    assert signing.canonical_string(params, exclude=signing.NOTIFY_EXCLUDE) == "a=1"
    assert signing.canonical_string(params) == "a=1&sign_type=RSA2"


def test_signed_params_verify(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    signed = {**PARAMS, "sign": signing.sign_params(PARAMS, private)}
    assert signing.verify_params(signed, public)


def test_reordering_the_parameters_changes_nothing(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    signed = {**PARAMS, "sign": signing.sign_params(PARAMS, private)}
    reordered = dict(reversed(list(signed.items())))
    assert signing.verify_params(reordered, public)


def test_unicode_subjects_sign_as_utf8(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    params = {**PARAMS, "subject": "新疆长绒棉 T恤 · 白色 👕"}
    signed = {**params, "sign": signing.sign_params(params, private)}
    assert signing.verify_params(signed, public)
    assert not signing.verify_params({**signed, "subject": "新疆长绒棉 T恤 · 黑色 👕"}, public)


@pytest.mark.parametrize(
    ("key", "value"),
    [("biz_content", '{"total_amount":"0.01"}'), ("notify_url", "https://evil.test/"), ("x", "1")],
)
def test_tampering_breaks_the_signature(keys: tuple[bytes, bytes], key: str, value: str) -> None:
    private, public = keys
    signed = {**PARAMS, "sign": signing.sign_params(PARAMS, private)}
    assert not signing.verify_params({**signed, key: value}, public)


def test_an_empty_value_added_does_not_change_the_signed_string(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    signed = {**PARAMS, "sign": signing.sign_params(PARAMS, private)}
    assert signing.verify_params({**signed, "extra": ""}, public)


@pytest.mark.parametrize("sign", [None, "", "not base64!!", "AAAA"])
def test_missing_or_garbage_signature_does_not_verify(
    keys: tuple[bytes, bytes], sign: str | None
) -> None:
    _private, public = keys
    params = dict(PARAMS)
    if sign is not None:
        params["sign"] = sign
    assert not signing.verify_params(params, public)


def test_a_signature_by_another_key_does_not_verify(
    keys: tuple[bytes, bytes], other_keys: tuple[bytes, bytes]
) -> None:
    _private, public = keys
    forged = {**PARAMS, "sign": signing.sign_params(PARAMS, other_keys[0])}
    assert not signing.verify_params(forged, public)


def test_canonical_json_signature_round_trip(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    response = {"code": "10000", "subject": "羽绒服", "total_amount": "1.00"}
    same = {"total_amount": "1.00", "subject": "羽绒服", "code": "10000"}
    sign = signing.sign_bytes(signing.canonical_json(response).encode(), private)
    assert signing.verify_bytes(signing.canonical_json(same).encode(), sign, public)
    changed = {**response, "total_amount": "2.00"}
    assert not signing.verify_bytes(signing.canonical_json(changed).encode(), sign, public)


def test_private_key_file_is_0600_and_kept_on_second_call(tmp_path: Path) -> None:
    private, public = tmp_path / "k" / "app-private.pem", tmp_path / "k" / "app-public.pem"
    signing.ensure_key_pair(private, public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    first = private.read_bytes()
    public.unlink()
    signing.ensure_key_pair(private, public)
    assert private.read_bytes() == first
    sign = signing.sign_params({"a": "1"}, first)
    assert signing.verify_params({"a": "1", "sign": sign}, public.read_bytes())


def test_protocol_time_is_beijing_text_and_reads_back_as_utc() -> None:
    moment = datetime(2026, 11, 10, 16, 0, 5, tzinfo=UTC)
    assert signing.format_protocol_time(moment) == "2026-11-11 00:00:05"
    assert signing.parse_protocol_time("2026-11-11 00:00:05") == moment
    with pytest.raises(ValueError, match="naive"):
        signing.format_protocol_time(datetime(2026, 1, 1))
