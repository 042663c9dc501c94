"""Payment behaviour through the ``provider`` driver: the local Alipay gateway over real HTTPS
in a thread, and kuaidan configured for it only by settings. Pay, verified notification,
forged, replayed, mismatched and unknown-order notifications, the query on an early return,
idempotent partial and full refunds, and close.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kuaidan.core.errors import InvalidInput
from kuaidan.payments import service
from kuaidan.payments.domain import PaymentStatus, RefundInfo, RefundStatus
from tests.conftest import eventually
from tests.integration.payments_support import (
    Provider,
    audits,
    events,
    payment,
    start,
    succeeded,
)

AMOUNT = 12345


async def test_paying_at_the_provider_notifies_kuaidan_once(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"N{unique}"
    started = await start(server, reference)
    token = await provider.open_page(started)
    async with provider.client() as client:
        page = await client.get(started.pay_url or "")
        assert "¥123.45" in page.text and "确认付款" in page.text and "<script" not in page.text
        tampered = await client.get((started.pay_url or "").replace("123.45", "0.01"))
        assert tampered.status_code == 400 and "invalid-signature" in tampered.text
        base = provider.url.split("/gateway")[0]
        paid = await client.post(base + provider.pay_form, data={"token": token})
    assert paid.status_code == 303
    return_url = paid.headers["location"]
    assert return_url.startswith(
        f"{server.settings.public_base_url}/payments/return/{provider.name}"
    )
    info = await eventually(lambda: succeeded(server, reference))
    assert info.provider_trade_no and info.paid_at is not None
    notes = (await provider.trade(reference))["notifications"]
    assert [n["delivered"] for n in notes] == [1] and notes[0]["last_result"] == "200 success"
    async with server.client() as client:
        back = await client.get(return_url)
        forged_back = await client.get(return_url.replace("123.45", "1.23"))
    assert back.status_code == 303 and back.headers["location"] == f"/orders/{reference}"
    assert forged_back.status_code == 400
    assert await events(server, "payment.succeeded", reference) == 1


async def test_a_forged_notification_is_refused_audited_and_changes_nothing(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"F{unique}"
    await start(server, reference)
    genuine = provider.signed_notification(out_trade_no=reference)
    forged = {**genuine, "sign": genuine["sign"][:-8] + "AAAAAAA="}
    tampered = {**genuine, "trade_status": "TRADE_FINISHED"}
    for params in (forged, tampered):
        answer = await provider.notify(params)
        assert (answer.status_code, answer.text) == (400, "failure")
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    assert await audits(server, "payments.notification_rejected", reference) == 2
    assert await events(server, "payment.succeeded", reference) == 0
    assert (await provider.notify(genuine)).text == "success"


async def test_a_replayed_notification_changes_nothing(provider: Provider, unique: str) -> None:
    server, reference = provider.server, f"P{unique}"
    await start(server, reference)
    first = provider.signed_notification(out_trade_no=reference)
    assert (await provider.notify(first)).text == "success"
    again = await provider.notify(first)
    assert (again.status_code, again.text) == (200, "success")
    stale = provider.signed_notification(
        out_trade_no=reference, sent_at=datetime.now(UTC) - timedelta(days=3)
    )
    refused = await provider.notify(stale)
    assert (refused.status_code, refused.text) == (400, "failure")
    assert await audits(server, "payments.notification_replayed", reference) == 2
    assert await events(server, "payment.succeeded", reference) == 1


async def test_mismatched_and_unknown_notifications_are_refused(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"M{unique}"
    await start(server, reference)
    wrong_amount = provider.signed_notification(out_trade_no=reference, total_amount="1.00")
    other_app = provider.signed_notification(out_trade_no=reference, app_id="someone-else")
    unknown = provider.signed_notification(out_trade_no=f"X{unique}")
    for params in (wrong_amount, other_app, unknown):
        answer = await provider.notify(params)
        assert (answer.status_code, answer.text) == (400, "failure")
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    assert await audits(server, "payments.notification_mismatch", reference) == 2
    assert await audits(server, "payments.notification_mismatch", f"X{unique}") == 1
    with pytest.raises(InvalidInput):
        await start(server, f"C{unique}", currency="USD")


async def test_a_buyer_back_before_the_notification_is_synced_by_query(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"S{unique}"
    await provider.open_page(await start(server, reference))
    await provider.hook("hooks", suppress_next=1)
    return_url = (await provider.hook("pay", out_trade_no=reference))["return_url"]
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    async with server.client() as client:
        back = await client.get(return_url)
    assert back.status_code == 303
    assert (await payment(server, reference)).status == PaymentStatus.SUCCEEDED
    assert (await provider.trade(reference))["notifications"] == []
    assert await events(server, "payment.succeeded", reference) == 1


async def _refund(provider: Provider, reference: str, amount: int, request_no: str) -> RefundInfo:
    uow = provider.server.uow()
    try:
        return await service.request_refund(
            uow=uow, reference=reference, amount_fen=amount, reason="退货", request_no=request_no
        )
    finally:
        await uow.close()


async def _refund_done(provider: Provider, request_no: str) -> RefundInfo | None:
    uow = provider.server.uow()
    try:
        info = await service.get_refund(uow=uow, request_no=request_no)
    finally:
        await uow.close()
    return info if info and info.status != RefundStatus.REQUESTED else None


async def paid(provider: Provider, reference: str) -> None:
    await provider.open_page(await start(provider.server, reference))
    await provider.hook("pay", out_trade_no=reference)
    await eventually(lambda: succeeded(provider.server, reference))


async def test_partial_and_full_refunds_are_idempotent_per_request_number(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"G{unique}"
    await paid(provider, reference)
    first = await _refund(provider, reference, 2345, f"RA{unique}")
    assert (await _refund(provider, reference, 2345, f"RA{unique}")).refund_id == first.refund_id
    done = await eventually(lambda: _refund_done(provider, f"RA{unique}"))
    assert done.status == RefundStatus.SUCCEEDED
    info = await payment(server, reference)
    assert (info.status, info.refunded_fen) == (PaymentStatus.PARTIALLY_REFUNDED, 2345)
    adapter = service.build_provider(server.settings)
    repeated = await adapter.refund(
        reference=reference, amount_fen=2345, request_no=f"RA{unique}", reason="again"
    )
    assert repeated.succeeded and repeated.refunded_total_fen == 2345, "no second refund"
    await _refund(provider, reference, AMOUNT - 2345, f"RB{unique}")
    await eventually(lambda: _refund_done(provider, f"RB{unique}"))
    assert (await payment(server, reference)).status == PaymentStatus.REFUNDED
    assert (await provider.trade(reference))["refund_amount"] == "123.45"
    check = await adapter.query_refund(reference=reference, request_no=f"RB{unique}")
    assert (check.found, check.amount_fen) == (True, AMOUNT - 2345)
    assert await events(server, "refund.succeeded", reference) == 2


async def test_a_closed_payment_cannot_be_paid(provider: Provider, unique: str) -> None:
    server, reference = provider.server, f"C{unique}"
    started = await start(server, reference)
    token = await provider.open_page(started)
    uow = server.uow()
    try:
        assert (await service.close_payment(uow=uow, reference=reference)).status == "closed"
    finally:
        await uow.close()

    async def closed_at_provider() -> bool:
        return bool((await provider.trade(reference))["trade_status"] == "TRADE_CLOSED")

    await eventually(closed_at_provider)
    base = provider.url.split("/gateway")[0]
    async with provider.client() as client:
        page = await client.get(started.pay_url or "")
        pay = await client.post(base + provider.pay_form, data={"token": token})
    assert page.status_code == 400 and pay.status_code == 400
    assert (await payment(server, reference)).status == PaymentStatus.CLOSED
