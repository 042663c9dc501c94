"""The auto-complete job and interceptions, on SQLite and PostgreSQL: an order whose parcel is
being intercepted is not completed however long ago it shipped; once its case is finished
(the parcel reshipped, or the carrier unable to stop it), the job completes it as any other.

The parcels are held by the carrier simulator (pushed only when the test says), so the case
stays open for as long as the test needs it to.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from kuaidan.ordering import service as ordering
from tests.conftest import CarrierSandbox, LiveServer, PaySandbox, eventually
from tests.integration import ordering_support as support
from tests.integration import test_order_interception as interception_tests
from tests.integration.ordering_support import Buyer, opened, order
from tests.integration.test_order_interception import (
    NEW_ADDRESS,
    Shop,
    ask,
    case_reaches,
    shipped_order,
    sim_parcel,
    support_order_reaches,
)

market = support.market
shop = interception_tests.shop
stock_stays_consistent = support.stock_stays_consistent


async def run_auto_complete(server: LiveServer) -> int:
    """One run of the job as if the whole auto-complete period had passed since now."""
    after = timedelta(days=server.settings.order_auto_complete_days)
    async with opened(server) as uow:
        later = uow.now() + after + timedelta(minutes=1)
        done: int = await ordering.auto_complete_orders(uow=uow, after=after, now=later)
    return done


async def status_of(api: httpx.AsyncClient, number: str, buyer: Buyer) -> str:
    return str((await order(api, number, buyer.auth))["status"])


async def sim_reaches(carrier: CarrierSandbox, nu: str, *, scans: int = 0, done: bool) -> None:
    async def check() -> bool:
        parcel = await sim_parcel(carrier, nu)
        return len(parcel["scans"]) >= scans and (parcel["status"] == "done" or not done)

    await eventually(check)


async def test_an_order_being_intercepted_waits_and_is_completed_once_reshipped(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    # Picked up, then silent a long while: the carrier can stop it, and its return is held.
    number, buyer = await shipped_order(
        server, api, shop, pay_sandbox, carrier_sandbox,
        next_fate="delay", delay_hours=100_000, manual_next=True,
    )  # fmt: skip
    nu = (await order(api, number, buyer.auth))["tracking_number"]
    await sim_reaches(carrier_sandbox, nu, scans=1, done=False)
    asked = await ask(
        api, number, buyer.auth, kind="redirect", reason="搬家了", address=NEW_ADDRESS
    )
    assert asked.status_code == 201, asked.text
    await case_reaches(api, number, buyer, "succeeded")  # open: the parcel is on its way back

    await run_auto_complete(server)
    assert await status_of(api, number, buyer) == "shipped"

    await sim_reaches(carrier_sandbox, nu, done=True)  # back with the shop, as the carrier says
    async with carrier_sandbox.client() as client:
        pushed = await client.post(f"/sandbox/parcels/{nu}/push", json={})
    assert pushed.json() == {"accepted": True}
    await case_reaches(api, number, buyer, "reshipped")
    await support_order_reaches(api, number, buyer, "delivered")

    assert await run_auto_complete(server) >= 1
    found = await order(api, number, buyer.auth)
    assert found["status"] == "completed"
    assert found["timeline"][-1]["action"] == "auto_complete"


async def test_an_order_whose_interception_failed_is_completed_by_the_job(
    server: LiveServer,
    api: httpx.AsyncClient,
    shop: Shop,
    pay_sandbox: PaySandbox,
    carrier_sandbox: CarrierSandbox,
) -> None:
    # Signed for at the carrier before we hear of it: too late to stop.
    number, buyer = await shipped_order(
        server, api, shop, pay_sandbox, carrier_sandbox, manual_next=True
    )
    nu = (await order(api, number, buyer.auth))["tracking_number"]
    await sim_reaches(carrier_sandbox, nu, done=True)
    asked = await ask(api, number, buyer.auth, kind="cancel", reason="不要了")
    assert asked.status_code == 201, asked.text
    await case_reaches(api, number, buyer, "failed")

    assert await run_auto_complete(server) >= 1
    found = await order(api, number, buyer.auth)
    assert found["status"] == "completed"
    assert found["timeline"][-1]["action"] == "auto_complete"
