"""Composition root: the one place that wires settings, engine, cipher and adapters together."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from kuaidan.config import Settings
from kuaidan.core.broadcast import BROADCAST, build_broadcast
from kuaidan.core.clock import Clock, SystemClock
from kuaidan.core.crypto import Cipher
from kuaidan.core.db import Database, UnitOfWork
from kuaidan.core.notify import NOTIFIER, DevInboxNotifier
from kuaidan.core.ports import Adapters
from kuaidan.core.secrets import Secrets, load_or_create_secrets
from kuaidan.core.worker import Registry, Worker, WorkerSettings, merge_registries

if TYPE_CHECKING:
    from kuaidan.inventory.service import FlashSale

# Modules that declare an area's handlers (event subscriptions) and jobs: either a ``REGISTRY``
# or, when they need settings (endpoints, keys, timeouts), a ``registry(settings)`` function.
REGISTRY_MODULES = (
    "kuaidan.ops.jobs",
    "kuaidan.inventory.jobs",
    "kuaidan.merchants.handlers",
    "kuaidan.ordering.handlers",
    "kuaidan.ordering.jobs",
    "kuaidan.ordering.aftersales.handlers",
    "kuaidan.ordering.aftersales.jobs",
    "kuaidan.ordering.changes.handlers",
    "kuaidan.ordering.changes.jobs",
    "kuaidan.ordering.interception.handlers",
    "kuaidan.payments.handlers",
    "kuaidan.payments.jobs",
    "kuaidan.risk.handlers",
    "kuaidan.risk.jobs",
    "kuaidan.logistics.handlers",
    "kuaidan.logistics.jobs",
)


@dataclass
class Container:
    settings: Settings
    secrets: Secrets
    db: Database
    cipher: Cipher
    clock: Clock = field(default_factory=SystemClock)
    outbox_signal: Callable[[], None] | None = None
    adapters: Adapters = field(default_factory=Adapters)
    _lane: Database | None = field(default=None, init=False, repr=False)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(
            self.db,
            cipher=self.cipher,
            clock=self.clock,
            outbox_signal=self.outbox_signal,
            adapters=self.adapters,
        )

    def fast_lane(self) -> UnitOfWork:
        """A unit of work on one connection of its own, for short reads that must not queue
        behind the main pool (a flash sale's winners hold its connections for their whole
        placement while thousands of sold-out answers each need one indexed read)."""
        if self._lane is None:
            self._lane = Database(self.db.url.render_as_string(hide_password=False), pool_size=1)
        return UnitOfWork(self._lane, cipher=self.cipher, clock=self.clock, adapters=self.adapters)

    def worker(self, *, settings: WorkerSettings | None = None) -> Worker:
        """A worker over this container's database; commits made here wake it at once."""
        worker = Worker(
            unit_of_work=self.unit_of_work,
            registry=build_registry(self.settings),
            settings=settings,
        )
        self.outbox_signal = worker.wake
        return worker

    async def aclose(self) -> None:
        await self.adapters.aclose()
        if self._lane is not None:
            await self._lane.dispose()
        await self.db.dispose()


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
    secrets = load_or_create_secrets(settings.data_dir)
    db = Database(
        settings.effective_database_url, pool_size=settings.db_pool_size, echo=settings.db_echo
    )
    return Container(
        settings=settings,
        secrets=secrets,
        db=db,
        cipher=Cipher(secrets.keyring),
        clock=clock or SystemClock(),
        adapters=build_adapters(settings),
    )


def build_adapters(settings: Settings) -> Adapters:
    """The outside parties each unit of work may reach, configured from ``settings`` and
    bound to their areas' ports; those that hold connections or tasks close with the
    container."""
    from kuaidan.inventory.service import FLASH_SALE
    from kuaidan.logistics.service import LOGISTICS, logistics_adapter
    from kuaidan.ops.metrics import RiskCounters
    from kuaidan.payments.service import PAYMENTS, payments_adapter
    from kuaidan.risk.service import RISK, risk_adapter

    gate = flash_sale(settings)
    # Live pages' notices: in-process, or LISTEN/NOTIFY across nodes on PostgreSQL.
    broadcast = build_broadcast(settings.effective_database_url)
    return (
        Adapters()
        .bind(PAYMENTS, payments_adapter(settings))
        .bind(RISK, risk_adapter(settings, metrics=RiskCounters()))
        .bind(FLASH_SALE, gate, aclose=gate.aclose)
        .bind(LOGISTICS, logistics_adapter(settings))
        .bind(BROADCAST, broadcast, aclose=broadcast.aclose)
        .bind(NOTIFIER, DevInboxNotifier())
    )


def flash_sale(settings: Settings) -> FlashSale:
    """The process's flash-sale gate, sharing its sold-out marks through Redis if configured."""
    from kuaidan.inventory.service import FlashSale

    redis = None
    if settings.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url, socket_timeout=0.5)
    return FlashSale(
        hot_threshold=settings.flash_hot_inflight,
        sold_out_ttl_s=settings.flash_sold_out_ttl_s,
        max_batch=settings.flash_max_batch,
        max_queue=settings.flash_max_queue,
        hold_ttl=timedelta(seconds=settings.flash_hold_ttl_s),
        lease_ttl_s=settings.flash_lease_ttl_s,
        lease_renew_s=settings.flash_lease_renew_s,
        redis=redis,
    )


def build_registry(settings: Settings) -> Registry:
    """Every area's event subscriptions and scheduled jobs, in one registry."""
    parts = []
    for name in REGISTRY_MODULES:
        module = importlib.import_module(name)
        factory = getattr(module, "registry", None)
        parts.append(factory(settings) if callable(factory) else module.REGISTRY)
    return merge_registries(parts)
