"""Statements and CPU per idle worker pass, with every registered job (docs/benchmarks.md).

    python scripts/worker_idle_pass.py postgresql://postgres@127.0.0.1:5432/scratch var/idle

Every job runs once first; the passes measured after that find nothing due.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from kuaidan.bootstrap import build_container
from kuaidan.config import Settings
from kuaidan.core.migrate import upgrade

PASSES = 20


async def main(url: str, data_dir: str) -> None:
    settings = Settings(database_url=url, data_dir=Path(data_dir), run_worker_in_process=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.effective_database_url)
    container = build_container(settings)
    worker = container.worker(settings=settings.worker_settings())
    await worker.ensure_jobs()
    await worker.run_once()  # every job runs once
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    engine = container.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    started = time.process_time()
    for _ in range(PASSES):
        await worker.run_once()
    cpu_s = time.process_time() - started
    event.remove(engine, "before_cursor_execute", count)
    sys.stdout.write(
        f"jobs {len(worker.registry.jobs)}, idle passes {PASSES}: "
        f"{statements / PASSES:.1f} statements and {cpu_s * 1000 / PASSES:.2f} ms CPU per pass\n"
    )
    await container.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
