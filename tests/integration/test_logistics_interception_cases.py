"""The exception detection job and intercepted parcels, against the carrier simulator: a parcel
coming back because the platform intercepted it opens no `returning` case; one the carrier could
not stop, coming back on its own, does.

Both parcels are held by the simulator and pushed up to their first return scan, so the job
sees them on their way back (not already returned).
"""

from __future__ import annotations

from kuaidan.logistics import service
from kuaidan.logistics.domain import ExceptionKind, ShipmentInfo, ShipmentStatus
from tests.conftest import CarrierSandbox, LiveServer, eventually
from tests.integration.test_logistics import call, events, parcel, reaches, scalar, ship

RETURNING_STATE = "6"


async def played_to_the_end(sandbox: CarrierSandbox, nu: str) -> list[dict[str, str]]:
    async def done() -> list[dict[str, str]] | None:
        found = await parcel(sandbox, nu)
        return found["scans"] if found["status"] == "done" else None

    scans: list[dict[str, str]] = await eventually(done)
    return scans


async def push_until_turned_back(
    server: LiveServer, sandbox: CarrierSandbox, info: ShipmentInfo
) -> None:
    nu = info.tracking_number or ""
    scans = await played_to_the_end(sandbox, nu)
    turn = next(i for i, scan in enumerate(scans) if scan["state"] == RETURNING_STATE)
    async with sandbox.client() as client:
        pushed = await client.post(f"/sandbox/parcels/{nu}/push", json={"upto": turn + 1})
    assert pushed.json() == {"accepted": True}
    await reaches(server, info.reference, ShipmentStatus.RETURNING)


async def kinds(server: LiveServer, reference: str) -> list[ExceptionKind]:
    await call(server, service.detect_exceptions)
    cases = await call(server, service.list_exception_cases, reference=reference)
    return [c.kind for c in cases]


async def intercepted(server: LiveServer, reference: str) -> bool:
    sql = "SELECT intercepted_at FROM logistics_shipments WHERE reference = :r"
    return await scalar(server, sql, r=reference) is not None


async def test_a_parcel_turned_back_by_an_interception_opens_no_returning_case(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    info = await ship(server, carrier_sandbox, fate="delay", delay_hours=100_000, manual=True)

    async def moving() -> bool:
        return bool((await parcel(carrier_sandbox, info.tracking_number or ""))["scans"])

    await eventually(moving)
    await call(server, service.request_interception, reference=info.reference, reason="买家取消")

    async def answered() -> bool:
        return await events(server, "shipment.interception_result", info.reference) == 1

    await eventually(answered)
    await push_until_turned_back(server, carrier_sandbox, info)
    assert await intercepted(server, info.reference)
    assert await kinds(server, info.reference) == []


async def test_a_parcel_the_carrier_could_not_stop_and_that_comes_back_opens_a_case(
    server: LiveServer, carrier_sandbox: CarrierSandbox
) -> None:
    info = await ship(server, carrier_sandbox, fate="refused", manual=True)
    await played_to_the_end(carrier_sandbox, info.tracking_number or "")
    await call(server, service.request_interception, reference=info.reference, reason="买家取消")

    async def refused() -> bool:
        answered = await events(server, "shipment.interception_result", info.reference) == 1
        return answered and not await intercepted(server, info.reference)

    await eventually(refused)
    await push_until_turned_back(server, carrier_sandbox, info)
    assert await kinds(server, info.reference) == [ExceptionKind.RETURNING]
