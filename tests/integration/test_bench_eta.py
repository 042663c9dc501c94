"""``kuaidan bench eta`` at a tiny scale, on SQLite and on PostgreSQL: the real path (request,
booking over HTTPS, the simulator's signed pushes, the apply job) on one simulated clock. The
figures are not judged here, only the report's invariants: every measured parcel delivered,
every prediction stored and counted once, shares that add up, and the service's own accuracy
report agreeing with the bench's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from kuaidan.config import Settings
from tests.conftest import isolated_database

TIMEOUT_S = 300
PARCELS, WARMUP = 20, 20


def _run(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KUAIDAN_LOG_LEVEL": "warning",
        # Lost parcels never arrive; without them every measured parcel must be delivered.
        "KUAIDAN_SANDBOX_CARRIER_LOSS_PROBABILITY": "0",
    }
    args = ["--parcels", str(PARCELS), "--warmup", str(WARMUP), "--time-factor", "50000"]
    args += ["--seed", "3", "--database-url", database_url, "--json"]
    return subprocess.run(
        [sys.executable, "-m", "kuaidan", "bench", "eta", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _bench_eta(database_url: str) -> dict[str, Any]:
    done = _run(database_url)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def eta_report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, dict[str, Any]]]:
    import asyncio

    manager = isolated_database(request.param, tmp_path_factory)
    loop = asyncio.new_event_loop()
    try:
        settings = loop.run_until_complete(manager.__aenter__())
        yield settings, _bench_eta(settings.effective_database_url)
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


def _shares_add_up(row: dict[str, Any]) -> None:
    if row["predictions"]:
        assert row["inside"] + row["early"] + row["late"] == pytest.approx(1.0, abs=1e-3)
        assert row["mae_h"] >= 0 and row["width_p50_h"] >= 0


def test_every_measured_parcel_is_delivered(eta_report: tuple[Settings, dict[str, Any]]) -> None:
    _, report = eta_report
    assert report["parcels"] == PARCELS
    assert report["deliveries"] == PARCELS
    assert report["phases"]["measured"]["statuses"] == {"delivered": PARCELS}
    assert report["phases"]["warmup"]["statuses"] == {"delivered": WARMUP}
    assert report["lanes"] == 35


def test_every_prediction_is_stored_and_counted_once(
    eta_report: tuple[Settings, dict[str, Any]],
) -> None:
    _, report = eta_report
    accuracy = report["accuracy"]
    stored = report["predictions_stored"]
    # booking, pickup, the destination city and out for delivery at least: each its prediction
    assert report["predictions_per_parcel"]["min"] >= 2
    assert stored >= 2 * PARCELS
    assert accuracy["overall"]["predictions"] == stored
    assert sum(r["predictions"] for r in accuracy["by_stage"].values()) == stored
    assert sum(r["predictions"] for r in accuracy["by_basis"].values()) == stored
    assert sum(r["predictions"] for r in accuracy["by_basis_and_stage"].values()) == stored
    assert accuracy["by_stage"]["booked"]["predictions"] == PARCELS  # once, at booking
    assert set(accuracy["by_basis"]) <= {"history", "promise"}
    # The warm-up's first parcels on each lane have no history: the promise is their basis.
    assert report["warmup_accuracy"]["by_basis"]["promise"]["predictions"] > 0


def test_shares_add_up_and_the_service_report_agrees(
    eta_report: tuple[Settings, dict[str, Any]],
) -> None:
    _, report = eta_report
    accuracy = report["accuracy"]
    warmup = report["warmup_accuracy"]
    for row in [accuracy["overall"], *accuracy["by_stage"].values(), warmup["overall"]]:
        _shares_add_up(row)
    # The cohort was delivered after the whole warm-up: the period report sees exactly it.
    service_report = report["eta_accuracy_report"]
    assert service_report["predictions"] == accuracy["overall"]["predictions"]
    assert service_report["inside"] == pytest.approx(accuracy["overall"]["inside"], abs=1e-3)
    assert 0 <= accuracy["pushed_forward_share"] <= 1
    assert accuracy["prediction_lag_min"]["p50"] is not None
    assert accuracy["prediction_lag_min"]["p50"] >= 0


def test_a_database_that_already_tracks_parcels_is_refused(
    eta_report: tuple[Settings, dict[str, Any]],
) -> None:
    """The run's clock is ahead of the real one: a second run on the same database would find
    the job schedule in its future, so it is refused before anything runs."""
    settings, _ = eta_report
    done = _run(settings.effective_database_url)
    assert done.returncode == 2
    assert "needs a database of its own" in " ".join(done.stderr.split())
