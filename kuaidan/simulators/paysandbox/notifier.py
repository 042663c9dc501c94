"""Asynchronous notifications: POST the signed trade status to the merchant until it answers
``success``, on a bounded schedule of delays (0 s, 2 s, 4 s, 8 s … by default).

Deliveries run as background tasks in the sandbox's event loop, over HTTPS, verifying the
merchant's certificate against the configured CA file. Each try is recorded in the store.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from dataclasses import dataclass

import httpx

from kuaidan.core import signing
from kuaidan.core.clock import utcnow
from kuaidan.simulators.paysandbox import protocol
from kuaidan.simulators.paysandbox.protocol import SandboxConfig
from kuaidan.simulators.paysandbox.store import Store, Trade

log = logging.getLogger("kuaidan.sandbox_pay")
TIMEOUT_S = 5.0
MISROUTE_SUFFIX = "-misrouted"


@dataclass
class Hooks:
    """Test-only behaviour, changed through ``/sandbox/hooks`` when test hooks are enabled."""

    misroute_next: int = 0  # this many next tries go to a wrong URL (and so fail)
    duplicate: bool = False  # send every delivered notification once more
    suppress_next: int = 0  # this many next payments send no notification at all


class Notifier:
    def __init__(self, *, config: SandboxConfig, store: Store, hooks: Hooks) -> None:
        self.config, self.store, self.hooks = config, store, hooks
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, trade: Trade) -> None:
        """Start delivering the notification of ``trade``'s current status."""
        if self.hooks.suppress_next > 0:
            self.hooks.suppress_next -= 1
            return
        notify_id = uuid.uuid4().hex
        task = asyncio.create_task(self._deliver(trade, notify_id), name=f"notify-{notify_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(self, trade: Trade, notify_id: str) -> None:
        for delay in self.config.notify_delays_s:
            await asyncio.sleep(delay)
            if await self._try(trade, notify_id):
                if self.hooks.duplicate:
                    await self._try(trade, notify_id)
                return
        log.warning("gave up notifying %s after %d tries", trade.out_trade_no, self._tries)

    @property
    def _tries(self) -> int:
        return len(self.config.notify_delays_s)

    def _target(self, trade: Trade) -> str:
        if self.hooks.misroute_next > 0:
            self.hooks.misroute_next -= 1
            return trade.notify_url + MISROUTE_SUFFIX
        return trade.notify_url

    async def _try(self, trade: Trade, notify_id: str) -> bool:
        params = protocol.notification(trade, self.config, notify_id=notify_id, now=utcnow())
        url = self._target(trade)
        try:
            context = signing.client_context(self.config.notify_ca)
            async with httpx.AsyncClient(verify=context, timeout=TIMEOUT_S) as client:
                answer = await client.post(url, data=params)
            ok = answer.text == "success"
            result = f"{answer.status_code} {answer.text[:100]}"
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            ok, result = False, f"error {exc!r}"
        self.store.note_attempt(notify_id, trade.out_trade_no, result=result, ok=ok)
        return ok
