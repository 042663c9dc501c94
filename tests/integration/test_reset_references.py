"""A database reset (``kuaidan demo --reset``) or restored from a backup, while the payment
provider keeps its trades: the next checkouts must never meet the old trades. Their ids start
again at 1 and the reference key survives in ``secrets.json``, so a reference derived from the
id came back, and "paid already? check again" once marked a new order paid from an old trade.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from kuaidan.demo.console import reset_demo
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually, live_server
from tests.integration.ordering_support import (
    new_buyer,
    new_sku,
    open_market,
    order,
    paid_checkout,
    pay,
    place,
)

PRICE_FEN = 5900


async def _one_paid_order(server: LiveServer, sandbox: PaySandbox) -> dict[str, Any]:
    market = await open_market(server)
    sku = await new_sku(server, market, market.shop_a, PRICE_FEN, 10)
    async with server.client() as api:
        return await paid_checkout(api, sandbox, await new_buyer(api), [(sku, 1)])


async def test_after_a_reset_new_checkouts_meet_no_old_trade_and_pay_correctly(
    pay_sandbox: PaySandbox, carrier_sandbox: CarrierSandbox, tmp_path: Path
) -> None:
    data_dir = tmp_path / "demo"
    data_dir.mkdir()
    async with live_server(data_dir, None, pay_sandbox, carrier_sandbox) as before:
        old = await _one_paid_order(before, pay_sandbox)
        settings = before.settings
    assert reset_demo(settings), "the reset removes the database"
    async with live_server(data_dir, None, pay_sandbox, carrier_sandbox) as after:
        market = await open_market(after)
        sku = await new_sku(after, market, market.shop_a, PRICE_FEN, 10)
        async with after.client() as api:
            buyer = await new_buyer(api)
            placed = await place(api, buyer, [(sku, 1)])
            reference = placed["checkout"]["reference"]
            assert placed["checkout"]["total_fen"] == old["checkout"]["total_fen"]
            assert reference != old["checkout"]["reference"]
            number = placed["orders"][0]["number"]

            # Back from the pay page without paying: the provider knows no payment for it.
            refreshed = await api.post(f"/api/v1/checkouts/{reference}/refresh", headers=buyer.auth)
            assert refreshed.status_code == 200, refreshed.text
            assert (await order(api, number, buyer.auth))["status"] == "pending_payment"

            # Paying works as on the first day, and is dated after the checkout.
            await pay(pay_sandbox, placed["checkout"]["pay_url"])

            async def paid() -> dict[str, Any] | None:
                found = await order(api, number, buyer.auth)
                return found if found["status"] == "paid" else None

            found = await eventually(paid)
            # (The provider dates to the second.)
            placed_at = datetime.fromisoformat(found["placed_at"]).replace(microsecond=0)
            assert datetime.fromisoformat(found["paid_at"]) >= placed_at
