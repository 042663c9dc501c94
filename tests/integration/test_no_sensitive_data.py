"""No sensitive payment data at rest or in the logs, on SQLite and PostgreSQL.

After real payment flows (a plain payment and a refund, a held payment verified with a wrong
and then the right one-time code, a forged notification), every text value of every table and
every captured log line is scanned for: card-number-like digit runs (13-19 digits, Luhn-valid,
a card network's first digit), private key material, the one-time codes in clear, and the
platform's own secrets.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from kuaidan.core.notify import dev_inbox
from tests.conftest import LiveServer, PaySandbox, eventually
from tests.integration.payments_support import ALIPAY_APP_FILES, start, succeeded
from tests.integration.test_risk import (
    BIG_PRICE,
    CODE_RE,
    SMALL_PRICE,
    Shop,
    code_for,
    new_buyer,
    new_sku,
    opened,
    order_of,
    pay,
    place,
    suspicious_checkout,
    verify,
)

# The risk tests' module fixture, shared here.
from tests.integration.test_risk import shop as shop

CARD_RUN = re.compile(r"(?<![0-9A-Za-z])(?:[0-9][ -]?){12,18}[0-9](?![0-9A-Za-z])")
# A code in clear stands alone: not inside a longer token, a number, a time or base64.
TOKEN_EDGE = r"[0-9A-Za-z+/=_.:-]"


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_numbers(value: str) -> list[str]:
    found = []
    for match in CARD_RUN.finditer(value):
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            found.append(digits)
    return found


def test_the_card_detector_finds_card_numbers_and_ignores_other_numbers() -> None:
    assert card_numbers("paid with 4111 1111 1111 1111 today") == ["4111111111111111"]
    assert card_numbers("card=5500-0000-0000-0004;") == ["5500000000000004"]
    assert card_numbers("order KD20261125000123 at 2026-11-25 12:00:00") == []
    assert card_numbers("4111111111111112") == [], "not Luhn-valid"


def problems_in(value: str, *, codes: set[str], secrets: set[str]) -> Iterator[str]:
    for number in card_numbers(value):
        yield f"card-like number …{number[-4:]}"
    if "PRIVATE KEY" in value:
        yield "private key material"
    for code in codes:
        if re.search(rf"(?<!{TOKEN_EDGE}){code}(?!{TOKEN_EDGE})", value):
            yield "a one-time code in clear"
    for secret in secrets:
        if secret in value:
            yield "an application secret"


def _text_values(connection: Connection) -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-empty text or JSON value in the database."""
    found = []
    for table in inspect(connection).get_table_names():
        rows = connection.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
        for row in rows:
            for column, value in row.items():
                if isinstance(value, str) and value:
                    found.append((table, column, value))
                elif isinstance(value, dict | list):
                    found.append((table, column, json.dumps(value, ensure_ascii=False)))
    return found


def app_secrets(server: LiveServer) -> set[str]:
    secrets = server.container.secrets
    keyring = secrets.keyring
    raw = [*keyring.keys.values(), keyring.index_key]
    found = {secrets.session_key}
    found |= {base64.b64encode(key).decode() for key in raw}
    found |= {base64.urlsafe_b64encode(key).decode().rstrip("=") for key in raw}
    for name in ("alipay-app-private.pem", "tls-key.pem"):
        pem = (server.settings.data_dir / name).read_text()
        found |= {line for line in pem.splitlines() if len(line) >= 40 and "-----" not in line}
    return found


async def run_payment_flows(
    server: LiveServer, api: httpx.AsyncClient, sandbox: PaySandbox, shop: Shop
) -> None:
    small, big = await new_sku(server, shop, SMALL_PRICE), await new_sku(server, shop, BIG_PRICE)
    plain = await new_buyer(api)
    placed = await place(api, plain, small)
    await pay(sandbox, placed["checkout"]["pay_url"])
    number = placed["orders"][0]["number"]

    async def paid() -> bool:
        return bool((await order_of(api, number, plain.auth))["status"] == "paid")

    await eventually(paid)
    cancel = await api.post(
        f"/api/v1/orders/{number}/cancel", json={"reason": "changed my mind"}, headers=plain.auth
    )
    assert cancel.status_code == 200, cancel.text

    held = await new_buyer(api)
    checkout = (await suspicious_checkout(api, held, small, big))["checkout"]
    code = await code_for(server, held)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    assert (await verify(api, held, checkout["reference"], wrong)).status_code == 422
    released = await verify(api, held, checkout["reference"], code)
    assert released.status_code == 200, released.text
    await pay(sandbox, released.json()["pay_url"])
    forged = {"notify_id": uuid.uuid4().hex, "out_trade_no": checkout["reference"], "sign": "x"}
    assert (await api.post("/api/v1/payments/notify/alipay", data=forged)).status_code == 400


async def issued_codes(server: LiveServer) -> set[str]:
    async with opened(server) as uow:
        messages = await dev_inbox(uow, limit=10_000)
    return {m.group(1) for msg in messages if (m := CODE_RE.search(msg.body))}


async def test_no_card_data_keys_codes_or_secrets_in_any_table_or_log(
    server: LiveServer,
    api: httpx.AsyncClient,
    pay_sandbox: PaySandbox,
    shop: Shop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await run_payment_flows(server, api, pay_sandbox, shop)
    codes = await issued_codes(server)
    assert codes, "the flows issued one-time codes"
    secrets = app_secrets(server)
    async with server.container.db.engine.connect() as connection:
        values = await connection.run_sync(_text_values)
    assert len(values) > 100
    found: dict[str, Any] = {}
    for table, column, value in values:
        for problem in problems_in(value, codes=codes, secrets=secrets):
            found.setdefault(f"{table}.{column}", set()).add(problem)
    for record in caplog.records:
        for problem in problems_in(record.getMessage(), codes=codes, secrets=secrets):
            found.setdefault(f"log {record.name}", set()).add(problem)
    assert found == {}


async def test_the_alipay_provider_leaves_no_keys_or_secrets_in_tables_or_logs(
    server: LiveServer,
    pay_sandbox: PaySandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Alipay flows (payment, refund, a forged notification, reconciliation) write nothing
    sensitive: in particular neither the app's private key nor the platform's secrets."""
    from datetime import timedelta

    from kuaidan.payments import service

    caplog.set_level(logging.DEBUG)
    reference = f"SD{uuid.uuid4().hex[:10]}"
    started = await start(server, reference)
    assert started.pay_url is not None
    context = ssl.create_default_context(cafile=str(pay_sandbox.handle.cert))
    async with httpx.AsyncClient(verify=context, timeout=30.0) as client:
        assert (await client.get(started.pay_url)).status_code == 200
        hook = f"{pay_sandbox.url}/sandbox/pay"
        assert (await client.post(hook, json={"out_trade_no": reference})).status_code == 200
    await eventually(lambda: succeeded(server, reference))
    async with opened(server) as uow:
        await service.request_refund(
            uow=uow, reference=reference, amount_fen=100, reason="退货", request_no=f"R{reference}"
        )

    async def refunded() -> bool:
        async with opened(server) as uow:
            refund = await service.get_refund(uow=uow, request_no=f"R{reference}")
        return refund is not None and refund.status.value == "succeeded"

    await eventually(refunded)
    forged = {"notify_id": uuid.uuid4().hex, "out_trade_no": reference, "sign": "x"}
    async with server.client() as api:
        assert (await api.post("/api/v1/payments/notify/alipay", data=forged)).status_code == 400
    async with opened(server) as uow:
        await service.reconcile_payments(uow=uow, window=timedelta(hours=1), trigger="test")
    secrets = app_secrets(server)
    pem = (pay_sandbox.merchant_dir / ALIPAY_APP_FILES[0]).read_text()
    secrets |= {line for line in pem.splitlines() if len(line) >= 40 and "-----" not in line}
    async with server.container.db.engine.connect() as connection:
        values = await connection.run_sync(_text_values)
    found: dict[str, Any] = {}
    for table, column, value in values:
        for problem in problems_in(value, codes=set(), secrets=secrets):
            found.setdefault(f"{table}.{column}", set()).add(problem)
    for record in caplog.records:
        for problem in problems_in(record.getMessage(), codes=set(), secrets=secrets):
            found.setdefault(f"log {record.name}", set()).add(problem)
    assert found == {}
