"""The Alipay adapter's signing and answer parsing, and reconciliation's comparisons: pure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from kuaidan.core import signing
from kuaidan.payments.adapters.alipay import AlipayConfig, AlipayProvider, raw_response
from kuaidan.payments.domain import (
    FindingKind,
    PaymentStatus,
    ProviderError,
    RefundCheck,
    RefundStatus,
    TradeState,
    TradeStatus,
    compare_refund,
    compare_trade,
)

NOW = datetime(2026, 11, 11, 0, 0, 5, tzinfo=UTC)  # 08:00:05 in Beijing


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    folder = tmp_path_factory.mktemp("alipay-keys")
    app = (folder / "app-private.pem", folder / "app-public.pem")
    alipay = (folder / "alipay-private.pem", folder / "alipay-public.pem")
    signing.generate_key_pair(*app)
    signing.generate_key_pair(*alipay)
    return (*app, *alipay)


@pytest.fixture
def adapter(keys: tuple[Path, Path, Path, Path]) -> AlipayProvider:
    return AlipayProvider(
        AlipayConfig(
            gateway_url="https://openapi.alipay.com/gateway.do",
            app_id="2021000117600001",
            app_private_key=keys[0],
            alipay_public_key=keys[3],
            seller_id="2088102177000001",
        )
    )


def test_the_page_pay_url_signs_the_documented_string(
    adapter: AlipayProvider, keys: tuple[Path, Path, Path, Path]
) -> None:
    url = adapter.page_pay_url(
        reference="KD20261111000001",
        amount_fen=1234,
        subject="羽绒服",
        notify_url="https://shop.example.com/api/v1/payments/notify/alipay",
        return_url="https://shop.example.com/payments/return/alipay?next=%2Forders",
        now=NOW,
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://openapi.alipay.com/gateway.do"
    params = dict(parse_qsl(parts.query))
    biz = (
        '{"out_trade_no":"KD20261111000001","product_code":"FAST_INSTANT_TRADE_PAY",'
        '"total_amount":"12.34","subject":"羽绒服","time_expire":"2026-11-11 08:15:05"}'
    )
    expected = (
        "app_id=2021000117600001"
        f"&biz_content={biz}"
        "&charset=utf-8&format=JSON&method=alipay.trade.page.pay"
        "&notify_url=https://shop.example.com/api/v1/payments/notify/alipay"
        "&return_url=https://shop.example.com/payments/return/alipay?next=%2Forders"
        "&sign_type=RSA2&timestamp=2026-11-11 08:00:05&version=1.0"
    )
    assert signing.canonical_string(params) == expected
    public = keys[1].read_bytes()
    assert signing.verify_bytes(expected.encode(), params["sign"], public)
    assert params["sign"] == signing.sign_bytes(expected.encode(), keys[0].read_bytes())
    assert not signing.verify_params(
        {**params, "biz_content": biz.replace("12.34", "0.01")}, public
    )


def test_an_answer_is_verified_over_its_raw_text(
    adapter: AlipayProvider, keys: tuple[Path, Path, Path, Path]
) -> None:
    # Alipay's own spacing and key order: re-serialising would change the signed bytes.
    raw = '{"code":"10000", "msg":"Success","trade_status":"TRADE_SUCCESS","total_amount":"12.34","out_trade_no":"K1","trade_no":"2026"}'  # noqa: E501
    sign = signing.sign_bytes(raw.encode(), keys[2].read_bytes())
    body = f'{{"alipay_trade_query_response" : {raw},"sign":"{sign}"}}'
    assert raw_response(body, "alipay_trade_query_response") == (raw, json.loads(raw))
    assert adapter.verified_response("alipay.trade.query", body)["trade_status"] == "TRADE_SUCCESS"
    with pytest.raises(ProviderError):
        adapter.verified_response("alipay.trade.query", body.replace("12.34", "99.99"))
    unavailable = (
        '{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error"}'
    )
    busy = f'{{"alipay_trade_query_response":{unavailable},"sign":"{signing.sign_bytes(unavailable.encode(), keys[2].read_bytes())}"}}'  # noqa: E501
    with pytest.raises(ProviderError, match="unavailable"):
        adapter.verified_response("alipay.trade.query", busy)


def test_a_notification_is_verified_without_sign_and_sign_type(
    adapter: AlipayProvider, keys: tuple[Path, Path, Path, Path]
) -> None:
    params = {
        "notify_id": "ac05099524730693a8b330c5ecf72da978",
        "notify_time": "2026-11-11 08:01:00",
        "notify_type": "trade_status_sync",
        "app_id": "2021000117600001",
        "seller_id": "2088102177000001",
        "trade_status": "TRADE_SUCCESS",
        "out_trade_no": "K1",
        "trade_no": "2026",
        "total_amount": "12.34",
        "gmt_payment": "2026-11-11 08:00:59",
        "charset": "utf-8",
        "version": "1.0",
    }
    params["sign"] = signing.sign_params(
        params, keys[2].read_bytes(), exclude=signing.NOTIFY_EXCLUDE
    )
    params["sign_type"] = "RSA2"
    note = adapter.verify_notification(params)
    assert (note.amount_fen, note.trade_status) == (1234, TradeState.TRADE_SUCCESS)
    assert note.sent_at == datetime(2026, 11, 11, 0, 1, tzinfo=UTC)
    with pytest.raises(Exception, match="signature"):
        adapter.verify_notification({**params, "total_amount": "0.01"})
    other = {**params, "seller_id": "2088000000000009"}
    other["sign"] = signing.sign_params(other, keys[2].read_bytes(), exclude=signing.NOTIFY_EXCLUDE)
    with pytest.raises(Exception, match="seller_id"):
        adapter.verify_notification(other)


def _trade(state: TradeState, amount: int | None = 100) -> TradeStatus:
    return TradeStatus(reference="K", state=state, trade_no="T", amount_fen=amount)


def test_compare_trade_finds_each_kind() -> None:
    def kind(status: PaymentStatus, trade: TradeStatus) -> FindingKind | None:
        found = compare_trade(reference="K", status=status, amount_fen=100, trade=trade)
        return found.kind if found else None

    paid, created = PaymentStatus.SUCCEEDED, PaymentStatus.CREATED
    assert kind(created, _trade(TradeState.TRADE_SUCCESS)) == FindingKind.PAID_WITHOUT_NOTIFICATION
    assert kind(created, _trade(TradeState.TRADE_SUCCESS, 99)) == FindingKind.AMOUNT_MISMATCH
    assert kind(paid, _trade(TradeState.NOT_EXIST, None)) == FindingKind.STATUS_MISMATCH
    assert kind(paid, _trade(TradeState.WAIT_BUYER_PAY)) == FindingKind.STATUS_MISMATCH
    assert kind(paid, _trade(TradeState.TRADE_SUCCESS)) is None
    assert kind(PaymentStatus.REFUNDED, _trade(TradeState.TRADE_CLOSED)) is None
    assert kind(created, _trade(TradeState.WAIT_BUYER_PAY)) is None
    assert kind(created, _trade(TradeState.NOT_EXIST, None)) is None


def test_compare_refund_finds_a_refund_made_on_one_side_only() -> None:
    def found(status: RefundStatus, check: RefundCheck) -> bool:
        return compare_refund(reference="K", status=status, amount_fen=50, check=check) is not None

    assert found(RefundStatus.SUCCEEDED, RefundCheck("R", found=False))
    assert found(RefundStatus.SUCCEEDED, RefundCheck("R", found=True, amount_fen=40))
    assert found(RefundStatus.FAILED, RefundCheck("R", found=True, amount_fen=50))
    assert not found(RefundStatus.SUCCEEDED, RefundCheck("R", found=True, amount_fen=50))
    assert not found(RefundStatus.FAILED, RefundCheck("R", found=False))
