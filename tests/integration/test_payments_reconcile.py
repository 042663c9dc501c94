"""Reconciliation against both providers: each kind of discrepancy is found once, alerted
(audit log, ``/metrics``), shown to administrators, and a payment the provider reports paid
without a notification is recorded as paid.

The discrepancies are made by driving the provider over HTTPS: a payment whose notification is
suppressed, a provider record of another amount, a notification for no order, and a refund the
provider acknowledges but never makes.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from kuaidan.accounts.domain import Role
from kuaidan.payments import service
from kuaidan.payments.domain import (
    FindingKind,
    PaymentMismatch,
    PaymentStatus,
    ReconciliationReport,
    RefundStatus,
)
from kuaidan.payments.models import Payment
from tests.conftest import LiveServer, eventually
from tests.integration.ordering_support import staff
from tests.integration.payments_support import (
    Provider,
    audits,
    events,
    payment,
    scalar,
    start,
    succeeded,
)

WINDOW = timedelta(hours=1)


async def reconcile(server: LiveServer) -> ReconciliationReport:
    uow = server.uow()
    try:
        return await service.reconcile_payments(uow=uow, window=WINDOW, trigger="test")
    finally:
        await uow.close()


async def findings(server: LiveServer, reference: str) -> list[tuple[str, str]]:
    uow = server.uow()
    try:
        found = await service.list_findings(uow=uow, reference=reference)
    finally:
        await uow.close()
    return [(f.kind.value, f.resolution) for f in found]


async def test_a_payment_paid_without_notification_is_recovered_once(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"RC{unique}"
    await provider.open_page(await start(server, reference))
    await provider.hook("hooks", suppress_next=1)
    await provider.hook("pay", out_trade_no=reference)
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    report = await reconcile(server)
    # (The worker's own scheduled run may get there first: either way it is found once.)
    assert report.errors == 0 and report.payments_checked >= 1
    info = await payment(server, reference)
    assert info.status == PaymentStatus.SUCCEEDED and info.provider_trade_no
    assert await findings(server, reference) == [("paid_without_notification", "recovered")]
    assert await audits(server, "payments.reconciliation.paid_without_notification", reference)
    again = await reconcile(server)
    assert await findings(server, reference) == [("paid_without_notification", "recovered")]
    assert again.run_id != report.run_id
    assert await events(server, "payment.succeeded", reference) == 1


async def test_an_amount_mismatch_is_found_and_nothing_is_paid(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"RA{unique}"
    await provider.open_page(await start(server, reference))
    await provider.hook("amount", out_trade_no=reference, total_fen=99)
    await provider.hook("hooks", suppress_next=1)
    await provider.hook("pay", out_trade_no=reference)
    await reconcile(server)
    await reconcile(server)
    assert await findings(server, reference) == [("amount_mismatch", "open")]
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    assert await audits(server, "payments.reconciliation.amount_mismatch", reference) == 1


async def test_a_notification_without_an_order_is_found(provider: Provider, unique: str) -> None:
    server, reference = provider.server, f"RN{unique}"
    # Signed by the provider's key, as the provider would send it (a gateway-sent one would be
    # retried for seconds and disturb other tests' notification hooks).
    note = provider.signed_notification(out_trade_no=reference, total_amount="5.00")
    answer = await provider.notify(note)
    assert (answer.status_code, answer.text) == (400, "failure")
    await reconcile(server)
    await reconcile(server)
    assert await findings(server, reference) == [("notification_without_order", "open")]
    sql = "SELECT count(*) FROM payments WHERE reference = :r"
    assert await scalar(server, sql, r=reference) == 0


async def test_a_refund_the_provider_never_made_is_found(provider: Provider, unique: str) -> None:
    server, reference = provider.server, f"RR{unique}"
    await provider.open_page(await start(server, reference))
    await provider.hook("pay", out_trade_no=reference)
    await eventually(lambda: succeeded(server, reference))
    await provider.hook("hooks", drop_refund_of=reference)
    uow = server.uow()
    try:
        await service.request_refund(
            uow=uow, reference=reference, amount_fen=1000, reason="退货", request_no=f"Q{unique}"
        )
    finally:
        await uow.close()

    async def refunded() -> bool:
        uow = server.uow()
        try:
            refund = await service.get_refund(uow=uow, request_no=f"Q{unique}")
        finally:
            await uow.close()
        return refund is not None and refund.status == RefundStatus.SUCCEEDED

    await eventually(refunded)
    assert (await provider.trade(reference))["refund_amount"] == "0.00"
    await reconcile(server)
    await reconcile(server)
    assert await findings(server, reference) == [("refund_mismatch", "open")]


async def test_a_settled_payment_is_asked_about_once_per_change(
    provider: Provider, unique: str
) -> None:
    """Unpaid payments are queried on every run; a paid one once, and again after it changes
    (here a partial refund), so an hourly run does not re-ask the provider about a day's trades."""
    server, reference = provider.server, f"RV{unique}"
    await provider.open_page(await start(server, reference))
    versions = "SELECT version, reconciled_version FROM payments WHERE reference = :r"

    async def state() -> tuple[int, int | None]:
        uow = server.uow()
        try:
            row = (await uow.session.execute(text(versions), {"r": reference})).one()
        finally:
            await uow.close()
        return int(row[0]), row[1]

    await reconcile(server)
    first = await state()
    assert first[1] == first[0], "an unpaid payment is compared (and will be again)"
    await provider.hook("pay", out_trade_no=reference)
    await eventually(lambda: succeeded(server, reference))
    paid = await state()
    assert paid[0] > first[0] and paid[1] == first[0], "paying changed it: due for a check"
    await reconcile(server)
    assert await state() == (paid[0], paid[0])
    uow = server.uow()
    try:
        await service.request_refund(
            uow=uow, reference=reference, amount_fen=100, reason="少件", request_no=f"V{unique}"
        )
    finally:
        await uow.close()

    async def refunded() -> bool:
        return (await payment(server, reference)).status == PaymentStatus.PARTIALLY_REFUNDED

    await eventually(refunded)
    changed = await state()
    assert changed[0] > paid[0] and changed[1] == paid[0]
    await reconcile(server)
    assert await state() == (changed[0], changed[0])
    assert await findings(server, reference) == [], "provider and platform agree"


async def test_findings_show_on_the_admin_page_and_in_metrics(
    provider: Provider, unique: str
) -> None:
    server, reference = provider.server, f"RP{unique}"
    await provider.open_page(await start(server, reference))
    await provider.hook("hooks", suppress_next=1)
    await provider.hook("pay", out_trade_no=reference)
    await reconcile(server)
    async with server.client() as api:
        admin = await staff(server, api, Role.ADMIN)
        buyer = await staff(server, api, Role.BUYER)
        page = await api.get("/payments/reconciliation", headers=admin)
        refused = await api.get("/payments/reconciliation", headers=buyer)
        metrics = await api.get("/metrics")
    assert page.status_code == 200
    assert f'data-reference="{reference}"' in page.text and 'data-testid="run"' in page.text
    assert refused.status_code in (403, 404)
    kind = FindingKind.PAID_WITHOUT_NOTIFICATION.value
    line = re.search(
        rf'^kuaidan_payment_reconciliation_findings_total\{{kind="{kind}"\}} ([0-9.]+)$',
        metrics.text,
        re.MULTILINE,
    )
    assert line is not None and float(line.group(1)) >= 1
    assert "kuaidan_payment_reconciliation_runs_total" in metrics.text


async def test_a_trade_paid_before_its_payment_existed_is_a_finding_never_a_payment(
    provider: Provider, unique: str
) -> None:
    """The provider's trade for a reference it knew before this payment (a database reset or
    restored while the provider kept its trades): its amount is the same, yet neither its
    notification, nor "paid already? check again", nor reconciliation takes it as paid."""
    server, reference = provider.server, f"RO{unique}"
    started = await start(server, reference)
    # Our payment was made 18 minutes after the trade the provider is about to report paid.
    uow = server.uow()
    try:
        async with uow.atomic():
            row = await uow.session.scalar(select(Payment).where(Payment.reference == reference))
            assert row is not None
            row.created_at += timedelta(minutes=18)
    finally:
        await uow.close()
    await provider.open_page(started)
    await provider.hook("pay", out_trade_no=reference)

    async def refused() -> bool:
        return await audits(server, "payments.notification_mismatch", reference) > 0

    await eventually(refused)
    uow = server.uow()
    try:
        with pytest.raises(PaymentMismatch, match="paid before this payment existed"):
            await service.sync_payment(uow=uow, reference=reference)
    finally:
        await uow.close()
    assert await findings(server, reference) == [("status_mismatch", "open")]
    await reconcile(server)
    assert await findings(server, reference) == [("status_mismatch", "open")]
    assert (await payment(server, reference)).status == PaymentStatus.CREATED
    assert await events(server, "payment.succeeded", reference) == 0
