"""Composition root: the one place that wires settings, engine, cipher and adapters together."""

from __future__ import annotations

from dataclasses import dataclass, field

from kuaidan.config import Settings
from kuaidan.core.clock import Clock, SystemClock
from kuaidan.core.crypto import Cipher
from kuaidan.core.db import Database, UnitOfWork
from kuaidan.core.secrets import Secrets, load_or_create_secrets


@dataclass
class Container:
    settings: Settings
    secrets: Secrets
    db: Database
    cipher: Cipher
    clock: Clock = field(default_factory=SystemClock)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.db, cipher=self.cipher, clock=self.clock)

    async def aclose(self) -> None:
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
    )
