"""Asynchronous notifications: POST the signed trade status to the merchant until it answers
``success``, on a bounded schedule of delays (0 s, 2 s, 4 s, 8 s … by default).

Deliveries run as background tasks in the gateway's event loop, over HTTPS, verifying the
merchant's certificate against the configured CA file. Each try is recorded in the store.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from kuaidan.core import signing
from kuaidan.core.clock import utcnow
from kuaidan.simulators.alipaygw.store import Store, Trade

log = logging.getLogger("kuaidan.sandbox_alipay")
TIMEOUT_S = 5.0
MISROUTE_SUFFIX = "-misrouted"


@dataclass
class Hooks:
    """Test-only behaviour, changed through ``/sandbox/hooks`` when test hooks are enabled."""

    misroute_next: int = 0  # this many next tries go to a wrong URL (and so fail)
    duplicate: bool = False  # send every delivered notification once more
    suppress_next: int = 0  # this many next payments send no notification at all
    drop_refund_of: str = ""  # the next refund of this out_trade_no is acknowledged, not made
    # The refunds acknowledged that way, by (out_trade_no, out_request_no): a repeat of the same
    # request number gets the same answer, as a real provider's idempotent refund would give.
    dropped: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


# Builds a notification's signed form fields: (trade, notify_id, now) -> fields.
SignNotification = Callable[[Trade, str, datetime], dict[str, str]]


class Notifier:
    """Delivers signed notifications; ``sign`` makes the provider's form fields."""

    def __init__(
        self,
        *,
        store: Store,
        hooks: Hooks,
        sign: SignNotification,
        notify_ca: Path,
        delays_s: tuple[float, ...],
    ) -> None:
        self.store, self.hooks, self._sign = store, hooks, sign
        self.notify_ca, self.delays_s = notify_ca, delays_s
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
        for delay in self.delays_s:
            await asyncio.sleep(delay)
            if await self._try(trade, notify_id):
                if self.hooks.duplicate:
                    await self._try(trade, notify_id)
                return
        log.warning("gave up notifying %s after %d tries", trade.out_trade_no, self._tries)

    @property
    def _tries(self) -> int:
        return len(self.delays_s)

    def _target(self, trade: Trade) -> str:
        if self.hooks.misroute_next > 0:
            self.hooks.misroute_next -= 1
            return trade.notify_url + MISROUTE_SUFFIX
        return trade.notify_url

    async def _try(self, trade: Trade, notify_id: str) -> bool:
        params = self._sign(trade, notify_id, utcnow())
        url = self._target(trade)
        try:
            context = signing.client_context(self.notify_ca)
            async with httpx.AsyncClient(verify=context, timeout=TIMEOUT_S) as client:
                answer = await client.post(url, data=params)
            ok = answer.text == "success"
            result = f"{answer.status_code} {answer.text[:100]}"
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            ok, result = False, f"error {exc!r}"
        self.store.note_attempt(notify_id, trade.out_trade_no, result=result, ok=ok)
        return ok
