"""Every ``kuaidan bench`` command, for a few seconds at tiny scale, against a server it spawns
itself, on SQLite and on PostgreSQL. The figures are not judged here, only that each command
runs, answers in JSON and (for flash sales) finds the database consistent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kuaidan.config import Settings
from tests.conftest import isolated_database

TIMEOUT_S = 180


def _bench(settings: Settings, *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "KUAIDAN_DATA_DIR": str(settings.data_dir),
        "KUAIDAN_DATABASE_URL": settings.effective_database_url,
        "KUAIDAN_LOG_LEVEL": "warning",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kuaidan", "bench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout) if "--json" in args else {}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def bench_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    import asyncio

    manager = isolated_database(request.param, tmp_path_factory)
    loop = asyncio.new_event_loop()
    try:
        settings = loop.run_until_complete(manager.__aenter__())
        _bench(settings, "prepare", "--buyers", "60", "--skus", "8")
        yield settings
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


def test_prepare_writes_a_fixture(bench_db: Settings) -> None:
    fixture = json.loads(Path(bench_db.data_dir / "bench" / "fixture.json").read_text())
    assert len(fixture["buyers"]) == 60 and len(fixture["skus"]) == 8


def test_bench_checkout_places_orders_and_compares_with_the_raw_limit(bench_db: Settings) -> None:
    out = _bench(
        bench_db, "checkout", "--concurrency", "4", "--duration", "2", "--workers", "1", "--json"
    )
    app, limit = out["figures"]
    assert app["scenario"] == "checkout" and app["ok"] > 0
    assert limit["scenario"] == "db-limit spread" and limit["ok"] > 0
    assert out["ratios"]["checkout / db-limit spread"] > 0


def test_bench_flash_sale_sells_exactly_the_units(bench_db: Settings) -> None:
    out = _bench(
        bench_db,
        "flash-sale",
        "--buyers",
        "40",
        "--units",
        "5",
        "--concurrency",
        "20",
        "--workers",
        "1",
        "--json",
    )
    flash = out["figures"][0]
    assert flash["ok"] == 5
    assert out["checks"]["flash-sale problems"] == "none"
    assert out["checks"]["oversold"] == 0


def test_bench_db_limit_runs_spread_and_on_one_sku(bench_db: Settings) -> None:
    out = _bench(
        bench_db, "db-limit", "--concurrency", "4", "--duration", "1", "--skus", "20", "--json"
    )
    assert [f["scenario"] for f in out["figures"]] == ["db-limit spread", "db-limit one-sku"]
    assert all(f["ok"] > 0 for f in out["figures"])


def test_bench_mixed_runs_checkout_beside_a_flash_sale(bench_db: Settings) -> None:
    out = _bench(
        bench_db,
        "mixed",
        "--concurrency",
        "2",
        "--duration",
        "2",
        "--buyers",
        "30",
        "--units",
        "3",
        "--flash-concurrency",
        "10",
        "--workers",
        "1",
        "--json",
    )
    steady, flash = out["figures"]
    assert steady["ok"] > 0 and flash["ok"] == 3


def test_bench_placement_counts_statements_and_cpu_per_order(
    bench_db: Settings, tmp_path: Path
) -> None:
    profile = tmp_path / "placement.txt"
    out = _bench(bench_db, "placement", "--orders", "5", "--profile", str(profile), "--json")
    (figure,) = out["figures"]
    assert figure["ok"] == 5 and figure["errors"] == {}
    # A placement writes at least the checkout, the order, its lines, the reservation, the
    # payment and the outbox event; the count is what the statements listener saw.
    assert figure["extra"]["statements_per_order"] >= 6
    assert figure["extra"]["cpu_ms_per_order"] > 0
    commonest = out["checks"]["statements per order, commonest"]
    assert any(shape.startswith("INSERT INTO orders") for shape in commonest)
    assert "placement" in profile.read_text(encoding="utf-8")
