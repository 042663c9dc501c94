"""Payments against the local Alipay gateway over HTTPS and the real kuaidan server.

The gateway runs in a thread on a loopback port and speaks Alipay's signed protocol: the
cashier page, browser returns, asynchronous notifications with retries, and the query, refund
and close API. kuaidan's in-process worker makes the provider calls that use cases record.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from kuaidan.core import signing
from kuaidan.payments import service
from kuaidan.payments.adapters.alipay import raw_response
from kuaidan.payments.domain import (
    PaymentInfo,
    PaymentStart,
    PaymentStatus,
    RefundInfo,
    RefundRefused,
    RefundStatus,
)
from tests.conftest import LiveServer, PaySandbox, eventually
from tests.integration.payments_support import buyer_of

NOTIFY_PATH = "/api/v1/payments/notify/alipay"
AMOUNT = 12345


async def start(server: LiveServer, reference: str, *, amount_fen: int = AMOUNT) -> PaymentStart:
    uow = server.uow()
    try:
        return await service.start_payment(
            uow=uow,
            reference=reference,
            amount_fen=amount_fen,
            currency="CNY",
            subject="双十一 羽绒服 · 黑色 XL",
            buyer_id=buyer_of(reference),
            return_path=f"/orders/{reference}",
        )
    finally:
        await uow.close()


async def payment(server: LiveServer, reference: str) -> PaymentInfo:
    uow = server.uow()
    try:
        info = await service.get_payment(uow=uow, reference=reference)
    finally:
        await uow.close()
    assert info is not None
    return info


async def succeeded(server: LiveServer, reference: str) -> PaymentInfo | None:
    info = await payment(server, reference)
    return info if info.status == PaymentStatus.SUCCEEDED else None


async def events(server: LiveServer, topic: str, reference: str) -> int:
    uow = server.uow()
    try:
        count = await uow.session.scalar(
            text("SELECT count(*) FROM outbox_events WHERE topic = :t AND key = :k"),
            {"t": topic, "k": reference},
        )
    finally:
        await uow.close()
    return int(count or 0)


async def open_gateway(sandbox: PaySandbox, start_result: PaymentStart) -> str:
    """The buyer's browser opens the pay page; returns the page's form token."""
    assert start_result.pay_url is not None
    async with sandbox.client() as client:
        page = await client.get(start_result.pay_url)
    assert page.status_code == 200, page.text
    match = re.search(r'name="token" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


async def hook(sandbox: PaySandbox, path: str, **body: Any) -> dict[str, Any]:
    async with sandbox.client() as client:
        answer = await client.post(f"/sandbox/{path}", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def sandbox_trade(sandbox: PaySandbox, reference: str) -> dict[str, Any]:
    async with sandbox.client() as client:
        answer = await client.get(f"/sandbox/trades/{reference}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def provider_signed(sandbox: PaySandbox, **fields: str) -> dict[str, str]:
    """A notification signed with the provider's own key (as only the provider could)."""
    params = {
        "notify_id": "n" + fields.get("out_trade_no", "x"),
        "notify_time": signing.format_protocol_time(datetime.now(UTC)),
        "notify_type": "trade_status_sync",
        "trade_status": "TRADE_SUCCESS",
        "trade_no": "T" + fields.get("out_trade_no", "x"),
        "total_amount": "123.45",
        "app_id": sandbox.handle.config.app_id,
        "seller_id": sandbox.handle.config.seller_id,
        "charset": "utf-8",
        "version": "1.0",
        "gmt_payment": signing.format_protocol_time(datetime.now(UTC)),
        "sign_type": "RSA2",
        **fields,
    }
    key = sandbox.handle.config.private_key_file.read_bytes()
    params["sign"] = signing.sign_params(params, key, exclude=signing.NOTIFY_EXCLUDE)
    return params


async def notify(server: LiveServer, params: dict[str, str]) -> httpx.Response:
    async with server.client() as client:
        return await client.post(NOTIFY_PATH, data=params)


async def test_start_payment_signs_a_url_the_gateway_accepts(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    started = await start(server, f"P{unique}")
    assert started.status == PaymentStatus.CREATED and started.pay_url
    assert started.pay_url.startswith(pay_sandbox.gateway_url + "?")
    async with pay_sandbox.client() as client:
        page = await client.get(started.pay_url)
        assert page.status_code == 200
        assert "双十一 羽绒服" in page.text and "¥123.45" in page.text and "确认付款" in page.text
        assert "<script" not in page.text
        tampered = started.pay_url.replace("123.45", "0.01")
        refused = await client.get(tampered)
    assert refused.status_code == 400 and "isv.invalid-signature" in refused.text
    again = await start(server, f"P{unique}")
    assert again.payment_id == started.payment_id


async def test_paying_notifies_kuaidan_and_publishes_payment_succeeded_once(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"N{unique}"
    token = await open_gateway(pay_sandbox, await start(server, reference))
    async with pay_sandbox.client() as client:
        paid = await client.post("/cashier/pay", data={"token": token})
        assert paid.status_code == 303
        return_url = paid.headers["location"]
        assert return_url.startswith(server.settings.public_base_url + "/payments/return/alipay")
        again = await client.post("/cashier/pay", data={"token": token})
    assert again.status_code == 303, "paying twice is a no-op that returns the buyer again"
    info = await eventually(lambda: succeeded(server, reference))
    assert info.provider_trade_no and info.paid_at is not None
    trade = await sandbox_trade(pay_sandbox, reference)
    assert [n["delivered"] for n in trade["notifications"]] == [1]
    async with server.client() as client:
        back = await client.get(return_url)
    assert back.status_code == 303 and back.headers["location"] == f"/orders/{reference}"
    assert await events(server, "payment.succeeded", reference) == 1


async def test_a_duplicate_notification_is_a_no_op_answered_success(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"D{unique}"
    await open_gateway(pay_sandbox, await start(server, reference))
    await hook(pay_sandbox, "hooks", duplicate=True)
    try:
        await hook(pay_sandbox, "pay", out_trade_no=reference)

        async def twice_delivered() -> bool:
            notes = (await sandbox_trade(pay_sandbox, reference))["notifications"]
            return bool(notes) and notes[0]["attempts"] == 2

        await eventually(twice_delivered)
    finally:
        await hook(pay_sandbox, "hooks", duplicate=False)
    notes = (await sandbox_trade(pay_sandbox, reference))["notifications"]
    assert notes[0]["last_result"] == "200 success"
    replay = await notify(server, provider_signed(pay_sandbox, out_trade_no=reference))
    assert (replay.status_code, replay.text) == (200, "success")
    assert await events(server, "payment.succeeded", reference) == 1


async def test_a_forged_notification_is_refused_and_changes_nothing(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"F{unique}"
    await start(server, reference)
    genuine = provider_signed(pay_sandbox, out_trade_no=reference)
    forged = {**genuine, "sign": signing.sign_params(genuine, _app_key(pay_sandbox))}
    tampered = {**genuine, "total_amount": "0.01"}
    for params in (forged, tampered, {k: v for k, v in genuine.items() if k != "sign"}):
        answer = await notify(server, params)
        assert (answer.status_code, answer.text) == (400, "failure")
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    assert await events(server, "payment.succeeded", reference) == 0
    uow = server.uow()
    try:
        rows = (
            await uow.session.execute(
                text(
                    "SELECT verified, notify_id FROM payment_notifications WHERE out_trade_no = :r"
                ),
                {"r": reference},
            )
        ).all()
    finally:
        await uow.close()
    assert [tuple(r) for r in rows] == [(False, None), (False, None)]
    accepted = await notify(server, genuine)
    assert accepted.text == "success", "a forged copy must not block the genuine notification"


async def test_a_notification_for_another_amount_is_rejected(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"A{unique}"
    await start(server, reference)
    wrong = provider_signed(pay_sandbox, out_trade_no=reference, total_amount="1.00")
    answer = await notify(server, wrong)
    assert (answer.status_code, answer.text) == (400, "failure")
    other_app = provider_signed(pay_sandbox, out_trade_no=reference, app_id="someone-else")
    assert (await notify(server, other_app)).status_code == 400
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    assert await events(server, "payment.succeeded", reference) == 0


async def test_the_notifier_retries_until_kuaidan_answers_success(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"R{unique}"
    await open_gateway(pay_sandbox, await start(server, reference))
    await hook(pay_sandbox, "hooks", misroute_next=2)
    await hook(pay_sandbox, "pay", out_trade_no=reference)
    await eventually(lambda: succeeded(server, reference))
    [note] = (await sandbox_trade(pay_sandbox, reference))["notifications"]
    assert (note["attempts"], note["delivered"]) == (3, 1)
    assert await events(server, "payment.succeeded", reference) == 1


async def test_a_notification_for_a_payment_not_yet_recorded_succeeds_on_a_retry(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"U{unique}"
    base = server.settings.public_base_url
    pay_url = service.build_provider(server.settings).page_pay_url(
        reference=reference,
        amount_fen=AMOUNT,
        subject="late order",
        notify_url=base + NOTIFY_PATH,
        return_url=base + "/payments/return/alipay",
        now=datetime.now(UTC),
    )
    await open_gateway(pay_sandbox, PaymentStart(0, reference, PaymentStatus.CREATED, pay_url))
    await hook(pay_sandbox, "pay", out_trade_no=reference)

    async def refused_once() -> bool:
        notes = (await sandbox_trade(pay_sandbox, reference))["notifications"]
        return bool(notes) and notes[0]["attempts"] >= 1

    await eventually(refused_once)
    assert (await sandbox_trade(pay_sandbox, reference))["notifications"][0]["delivered"] == 0
    await start(server, reference)
    await eventually(lambda: succeeded(server, reference))
    assert await events(server, "payment.succeeded", reference) == 1


async def test_a_buyer_back_before_the_notification_is_synced_by_query(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"S{unique}"
    await open_gateway(pay_sandbox, await start(server, reference))
    await hook(pay_sandbox, "hooks", suppress_next=1)
    return_url = (await hook(pay_sandbox, "pay", out_trade_no=reference))["return_url"]
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    async with server.client() as client:
        tampered = await client.get(return_url.replace("total_amount=123.45", "total_amount=1.00"))
        assert tampered.status_code == 400
        evil = return_url.replace(f"next=%2Forders%2F{reference}", "next=%2F%2Fevil.test%2F")
        assert evil != return_url
        back = await client.get(evil)
    assert back.status_code == 303 and back.headers["location"] == "/", "no open redirect"
    info = await payment(server, reference)
    assert info.status == PaymentStatus.SUCCEEDED
    assert (await sandbox_trade(pay_sandbox, reference))["notifications"] == []
    assert await events(server, "payment.succeeded", reference) == 1


async def _paid(server: LiveServer, sandbox: PaySandbox, reference: str) -> None:
    await open_gateway(sandbox, await start(server, reference))
    await hook(sandbox, "pay", out_trade_no=reference)
    await eventually(lambda: succeeded(server, reference))


async def _refund(
    server: LiveServer, reference: str, amount_fen: int, request_no: str
) -> RefundInfo:
    uow = server.uow()
    try:
        return await service.request_refund(
            uow=uow,
            reference=reference,
            amount_fen=amount_fen,
            reason="退货",
            request_no=request_no,
        )
    finally:
        await uow.close()


async def _refund_done(server: LiveServer, request_no: str) -> RefundInfo | None:
    uow = server.uow()
    try:
        info = await service.get_refund(uow=uow, request_no=request_no)
    finally:
        await uow.close()
    return info if info and info.status != RefundStatus.REQUESTED else None


async def test_a_refund_goes_through_the_provider_via_the_worker(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"G{unique}"
    await _paid(server, pay_sandbox, reference)
    requested = await _refund(server, reference, 2345, f"RF{unique}")
    again = await _refund(server, reference, 2345, f"RF{unique}")
    assert again.refund_id == requested.refund_id, "idempotent per request_no"
    done = await eventually(lambda: _refund_done(server, f"RF{unique}"))
    assert done.status == RefundStatus.SUCCEEDED
    info = await payment(server, reference)
    assert (info.status, info.refunded_fen) == (PaymentStatus.PARTIALLY_REFUNDED, 2345)
    assert (await sandbox_trade(pay_sandbox, reference))["refund_amount"] == "23.45"
    assert await events(server, "refund.succeeded", reference) == 1
    await _refund(server, reference, AMOUNT - 2345, f"RG{unique}")
    await eventually(lambda: _refund_done(server, f"RG{unique}"))
    assert (await payment(server, reference)).status == PaymentStatus.REFUNDED


async def test_a_refund_above_the_paid_amount_is_refused(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"O{unique}"
    await _paid(server, pay_sandbox, reference)
    with pytest.raises(RefundRefused):
        await _refund(server, reference, AMOUNT + 1, f"RO{unique}")
    result = await service.build_provider(server.settings).refund(
        reference=reference, amount_fen=AMOUNT + 1, request_no=f"RX{unique}", reason="too much"
    )
    assert not result.succeeded and "REFUND_AMT" in (result.error or "")
    assert (await sandbox_trade(pay_sandbox, reference))["refund_amount"] == "0.00"


async def test_a_closed_payment_cannot_be_paid_at_the_gateway(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"C{unique}"
    started = await start(server, reference)
    token = await open_gateway(pay_sandbox, started)
    uow = server.uow()
    try:
        closed = await service.close_payment(uow=uow, reference=reference)
    finally:
        await uow.close()
    assert closed.status == PaymentStatus.CLOSED

    async def closed_at_provider() -> bool:
        status = (await sandbox_trade(pay_sandbox, reference))["trade_status"]
        return bool(status == "TRADE_CLOSED")

    await eventually(closed_at_provider)
    async with pay_sandbox.client() as client:
        page = await client.get(started.pay_url or "")
        pay = await client.post("/cashier/pay", data={"token": token})
    assert page.status_code == 400 and "closed" in page.text
    assert pay.status_code == 400
    assert (await payment(server, reference)).status == PaymentStatus.CLOSED


async def test_a_close_that_loses_the_race_to_a_payment_records_the_payment(
    server: LiveServer, pay_sandbox: PaySandbox, unique: str
) -> None:
    reference = f"L{unique}"
    await open_gateway(pay_sandbox, await start(server, reference))
    await hook(pay_sandbox, "hooks", suppress_next=1)
    await hook(pay_sandbox, "pay", out_trade_no=reference)
    uow = server.uow()
    try:
        await service.close_payment(uow=uow, reference=reference)
    finally:
        await uow.close()
    await eventually(lambda: succeeded(server, reference))
    assert await events(server, "payment.succeeded", reference) == 1


async def test_the_provider_api_rejects_a_request_not_signed_by_the_app(
    pay_sandbox: PaySandbox, unique: str
) -> None:
    params = {
        "app_id": pay_sandbox.handle.config.app_id,
        "method": "alipay.trade.query",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2026-11-11 00:00:00",
        "version": "1.0",
        "biz_content": signing.canonical_json({"out_trade_no": f"Q{unique}"}),
    }
    params["sign"] = signing.sign_params(
        params, pay_sandbox.handle.config.private_key_file.read_bytes()
    )
    async with pay_sandbox.client() as client:
        body = (await client.post("/gateway.do", data=params)).text
    found = raw_response(body, "alipay_trade_query_response")
    sign = raw_response(body, "sign")
    assert found is not None and sign is not None
    public = pay_sandbox.handle.config.public_key_file.read_bytes()
    assert signing.verify_bytes(found[0].encode(), sign[1], public)
    assert found[1]["sub_code"] == "isv.invalid-signature"


def _app_key(sandbox: PaySandbox) -> bytes:
    return (sandbox.merchant_dir / "alipay-app-private.pem").read_bytes()
