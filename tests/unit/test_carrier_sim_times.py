"""The carrier simulator stamps each scan with a time no later than the moment it shows it:
running ``time_factor`` times faster must not date scans in the future of the real clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kuaidan.core.clock import AcceleratedClock
from kuaidan.simulators.carrier.app import create_simulator_app
from kuaidan.simulators.carrier.protocol import CarrierSimConfig
from kuaidan.simulators.carrier.store import ACTIVE, Parcel

FACTOR = 3600.0  # one simulated hour per real second


def config(tmp_path: Path, clock: AcceleratedClock | None = None) -> CarrierSimConfig:
    return CarrierSimConfig(
        data_dir=tmp_path,
        push_ca=tmp_path / "ca.pem",
        push_delays_s=(0.0,),
        time_factor=clock.factor if clock else FACTOR,
        delay_probability=0.0,
        loss_probability=0.0,
        damage_probability=0.0,
        seed=1,
        test_hooks=True,
        host="127.0.0.1",
        port=0,
        clock=clock,
    )


def parcel(booked_at: datetime) -> Parcel:
    plan = [
        {"hours": hours, "state": "0", "code": "1002", "context": "到达", "location": "上海"}
        for hours in (1.0, 3.0, 40.0)
    ]
    return Parcel(
        nu="SIM1",
        com="zto",
        order_id="o1",
        task_id="t1",
        callback_url="https://127.0.0.1:9/none",
        salt="s",
        route={},
        fate="normal",
        label="",
        booked_at=booked_at.isoformat(),
        plan=plan,
        emitted=0,
        status=ACTIVE,
    )


async def scans_shown(app: object) -> list[datetime]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        answer = await client.get("/sandbox/parcels/SIM1")
    assert answer.status_code == 200, answer.text
    return [datetime.fromisoformat(scan["at"]) for scan in answer.json()["scans"]]


@pytest.mark.parametrize("shared_clock", [False, True])
async def test_released_scans_are_never_dated_after_the_moment_they_are_shown(
    tmp_path: Path, shared_clock: bool
) -> None:
    clock = AcceleratedClock(start=datetime(2026, 3, 1, tzinfo=UTC), factor=FACTOR)
    cfg = config(tmp_path, clock if shared_clock else None)
    app = create_simulator_app(cfg)
    sim = app.state.simulator
    real_now = time.time()
    booked = clock.at(real_now - 4) if shared_clock else datetime.now(UTC) - timedelta(seconds=4)
    sim.courier.manual.add("SIM1")  # released, but not pushed anywhere
    sim.store.add(parcel(booked))
    sim.courier.tick(time.time())
    shown_at = cfg.clock.now() if cfg.clock else datetime.now(UTC)
    stamps = await scans_shown(app)
    assert len(stamps) == 2  # 1 h and 3 h are due four simulated hours in; 40 h is not
    assert all(booked < at <= shown_at for at in stamps), (booked, stamps, shown_at)
    assert stamps == sorted(stamps)
