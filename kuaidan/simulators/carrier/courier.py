"""The simulator's moving parts: a clock that releases each parcel's scans as simulated time
passes, and a pusher that POSTs the parcel's tracking to the merchant until it is accepted.

One pusher task per parcel at most: a push carries every scan so far, so scans released while
a push is retried ride along with the next try. Tries follow the configured delays; the merchant
accepts by answering ``{"result": true, "returnCode": "200", …}``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from kuaidan.core import signing
from kuaidan.core.clock import AcceleratedClock
from kuaidan.simulators.carrier import protocol
from kuaidan.simulators.carrier.protocol import CarrierSimConfig
from kuaidan.simulators.carrier.store import Parcel, Store

log = logging.getLogger("kuaidan.sandbox_carrier")
TIMEOUT_S = 5.0
MISROUTE_SUFFIX = "-misrouted"


@dataclass
class Hooks:
    """Test-only behaviour, changed through ``/sandbox/hooks`` when test hooks are enabled."""

    next_fate: str | None = None  # the fate of the next parcel booked
    delay_hours: float = 80.0  # how long a delayed parcel stays silent
    duplicate: bool = False  # push every accepted push once more
    misroute_next: int = 0  # this many next tries go to a wrong URL (and so fail)
    manual_next: bool = False  # the next parcel is pushed only through /sandbox/…/push
    # The next parcel's scans are dated in simulated time, ahead of the real clock: a journey
    # of days inside a test's seconds, for tests of lateness (scorecards). Never in the demo.
    simulated_stamps_next: bool = False


def released(
    parcel: Parcel, *, factor: float, now: float, clock: AcceleratedClock | None = None
) -> int:
    """How many of the parcel's planned scans are due at real time ``now``."""
    hours = simulated_hours(parcel, factor=factor, now=now, clock=clock)
    return sum(1 for scan in parcel.plan if scan["hours"] <= hours)


def simulated_hours(
    parcel: Parcel, *, factor: float, now: float, clock: AcceleratedClock | None = None
) -> float:
    """Simulated hours since the parcel was booked, at real time ``now``."""
    booked = datetime.fromisoformat(parcel.booked_at)
    if clock is not None:  # booked at the shared clock's time
        return (clock.at(now) - booked).total_seconds() / 3600
    return (now - booked.timestamp()) * factor / 3600


class Courier:
    def __init__(self, *, config: CarrierSimConfig, store: Store, hooks: Hooks) -> None:
        self.config, self.store, self.hooks = config, store, hooks
        self.rng = random.Random(config.seed)  # noqa: S311 (a simulation, not secrets)
        self._dirty: set[str] = set()
        self.manual: set[str] = set()  # parcels pushed only on request (test hooks)
        self.simulated_stamps: set[str] = set()  # parcels dated ahead (test hooks)
        self._pushers: dict[str, asyncio.Task[None]] = {}
        self._clock: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._clock = asyncio.create_task(self._tick_forever(), name="carrier-clock")

    async def aclose(self) -> None:
        tasks = [t for t in [self._clock, *self._pushers.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _tick_forever(self) -> None:
        while True:
            try:
                self.tick(time.time())
            except Exception:
                log.exception("carrier clock tick failed")
            await asyncio.sleep(self.config.tick_s)

    def tick(self, now: float) -> None:
        """Release due scans of every active parcel and push the parcels that moved."""
        for parcel in self.store.active():
            due = released(parcel, factor=self.config.time_factor, now=now, clock=self.config.clock)
            if due > parcel.emitted:
                self.store.set_emitted(parcel.nu, due, done=due >= len(parcel.plan))
                self.mark(parcel.nu)

    def mark(self, nu: str) -> None:
        """The parcel has news: push it (now, or with the next try of a running pusher)."""
        if nu in self.manual:
            return
        self._dirty.add(nu)
        running = self._pushers.get(nu)
        if running is None or running.done():
            self._pushers[nu] = asyncio.create_task(self._push_until_accepted(nu))

    async def _push_until_accepted(self, nu: str) -> None:
        delays = self.config.push_delays_s
        attempt = 0
        while nu in self._dirty:
            self._dirty.discard(nu)
            parcel = self.store.parcel(nu)
            if parcel is None:
                return
            if await self.push(parcel):
                if self.hooks.duplicate:
                    await self.push(parcel)
                attempt = 0
                continue
            attempt += 1
            if attempt >= len(delays):
                log.warning("gave up pushing %s after %d tries", nu, attempt)
                return
            self._dirty.add(nu)
            await asyncio.sleep(delays[attempt])
        self._pushers.pop(nu, None)

    def scan_speed(self, nu: str) -> float:
        """Planned hours per hour of the clock that stamps this parcel's scans."""
        return 1.0 if nu in self.simulated_stamps else self.config.scan_speed

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            context = signing.client_context(self.config.push_ca)
            self._client = httpx.AsyncClient(verify=context, timeout=TIMEOUT_S)
        return self._client

    async def push(self, parcel: Parcel, *, upto: int | None = None) -> bool:
        """One try: POST the tracking (the first ``upto`` scans, for tests) and record it."""
        scans = parcel.scans(upto, speed=self.scan_speed(parcel.nu))
        form = protocol.push_form(parcel.com, parcel.nu, scans, parcel.salt)
        url = parcel.callback_url
        if self.hooks.misroute_next > 0:
            self.hooks.misroute_next -= 1
            url += MISROUTE_SUFFIX
        try:
            answer = await self._http().post(url, data=form)
            body = (
                answer.json()
                if answer.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            ok = isinstance(body, dict) and body.get("result") is True
            ok = ok and body.get("returnCode") == "200"
            result = f"{answer.status_code} {answer.text[:200]}"
        except (httpx.HTTPError, OSError, ssl.SSLError, ValueError) as exc:
            ok, result = False, f"error {exc!r}"
        self.store.note_push(parcel.nu, scans=len(scans), result=result, ok=ok)
        return ok
