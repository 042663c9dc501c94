"""Operations use cases: readiness."""

from __future__ import annotations

import os
import socket

from kuaidan.core.db import UnitOfWork
from kuaidan.ops import repository

NODE = f"{socket.gethostname()}:{os.getpid()}"


async def check_ready(*, uow: UnitOfWork) -> None:
    """Prove the database is reachable and takes a committed write; raises if it cannot."""
    async with uow.atomic():
        await repository.touch_heartbeat(uow.session, node=NODE, now=uow.now())
