"""``kuaidan bench eta``: how good the ETA ranges are, measured on the carrier simulator.

The whole real path runs on one simulated clock: shipments are requested through
``logistics.service.request_shipment``, the in-process worker of a kuaidan server (in this
process, over HTTPS) books them at the carrier simulator (over HTTPS, signed calls), the
simulator moves each parcel through its scans and pushes signed callbacks back, and the apply
job stores the scans and predicts the ETA. Both sides read the same
:class:`~kuaidan.core.clock.AcceleratedClock`, so scan times, booking times and the time a
prediction is made are all in one simulated time running ``time_factor`` times faster than
the real clock.

Two phases: a warm-up history, so that every lane (carrier × origin province × destination
province) has deliveries to learn from, then a measured cohort. Every prediction the cohort
got (at booking, pickup, arrival in the destination city, out for delivery) is compared with
its delivery, read back through ``service.eta_predictions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console
from rich.table import Table

from kuaidan.app import create_app
from kuaidan.bench.report import machine_facts
from kuaidan.bootstrap import Container, build_container
from kuaidan.config import Settings
from kuaidan.core.clock import AcceleratedClock
from kuaidan.core.migrate import upgrade
from kuaidan.core.tls import ensure_self_signed
from kuaidan.logistics import service
from kuaidan.logistics.domain import (
    BookingState,
    Place,
    Recipient,
    ShipmentInfo,
    ShipmentStatus,
)
from kuaidan.logistics.domain.eta import EtaOutcome, PredictionRecord, Stage, eta_accuracy
from kuaidan.logistics.domain.tracking import is_terminal
from kuaidan.logistics.service.scorecards import last_complete_period
from kuaidan.simulators._serving import tls_config
from kuaidan.simulators.carrier.server import SimulatorHandle, start_in_thread

Tick = Callable[..., None]
HOUR = timedelta(hours=1)
CARRIERS = ("shunfeng", "jd", "ems", "zhongtong", "yuantong")
HANGZHOU, GUANGZHOU, SHANGHAI = Place("浙江", "杭州"), Place("广东", "广州"), Place("上海", "上海")
# Lanes of every zone; 杭州→杭州 and 杭州→宁波 share the province lane 浙江→浙江, as they do
# for the ETA's history.
LANES: tuple[tuple[Place, Place], ...] = (
    (HANGZHOU, HANGZHOU),
    (HANGZHOU, Place("浙江", "宁波")),
    (HANGZHOU, SHANGHAI),
    (HANGZHOU, Place("四川", "成都")),
    (GUANGZHOU, Place("广东", "深圳")),
    (GUANGZHOU, Place("北京", "北京")),
    (SHANGHAI, Place("江苏", "南京")),
    (SHANGHAI, Place("湖北", "武汉")),
)
POLL_S = 0.5
START_TIMEOUT_S = 30.0


class EtaBenchError(RuntimeError):
    """The bench cannot run as asked (e.g. a database that already tracks parcels)."""


@dataclass(frozen=True, slots=True)
class EtaPlan:
    parcels: int = 200  # the measured cohort
    warmup: int = 400  # the history before it
    time_factor: float = 3600.0  # simulated seconds per real second
    seed: int = 7
    arrival_hours: float = 24.0  # a phase's shipments are requested over this simulated time
    horizon_hours: float = 240.0  # simulated hours after a phase's last request to give up


@dataclass
class Phase:
    name: str
    references: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    started: datetime | None = None  # simulated
    finished: datetime | None = None
    real_seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for status in self.statuses.values():
            found[status] = found.get(status, 0) + 1
        return dict(sorted(found.items()))


# --- figures (pure) ---------------------------------------------------------------------------


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def accuracy_row(records: Sequence[PredictionRecord]) -> dict[str, Any]:
    """Share inside / early / late, mean absolute error to the range's middle and the median
    range width (hours) of predictions whose shipment was delivered."""
    outcomes = [
        EtaOutcome(r.earliest, r.latest, r.milestones.delivered_at)
        for r in records
        if r.milestones.delivered_at is not None
    ]
    found = eta_accuracy(outcomes)
    widths = [hours(o.latest - o.earliest) for o in outcomes]
    return {
        "predictions": found.predictions,
        "inside": round(found.within_range_rate, 4),
        "early": round(found.early_rate, 4),
        "late": round(found.late_rate, 4),
        "mae_h": round(found.mean_abs_error_hours, 2),
        "width_p50_h": round(statistics.median(widths), 2) if widths else None,
    }


def lag_minutes(records: Iterable[PredictionRecord]) -> dict[str, float | None]:
    """Simulated minutes from the scan that started a stage to the prediction made for it:
    the pipeline's delay as the ETA saw it (booking predictions are made at booking)."""
    lags = sorted(
        (r.predicted_at - anchor).total_seconds() / 60
        for r in records
        if r.stage != Stage.BOOKED and (anchor := r.milestones.at(r.stage)) is not None
    )
    if not lags:
        return {"p50": None, "p95": None}
    return {
        "p50": round(statistics.median(lags), 1),
        "p95": round(lags[min(len(lags) - 1, int(len(lags) * 0.95))], 1),
    }


def summarise(records: Sequence[PredictionRecord]) -> dict[str, Any]:
    """Overall, per stage, per basis (history, promise) and per basis × stage."""
    per_stage = {s.value: accuracy_row([r for r in records if r.stage == s]) for s in Stage}
    bases = sorted({r.basis for r in records})
    per_basis = {b: accuracy_row([r for r in records if r.basis == b]) for b in bases}
    per_basis_stage = {
        f"{b} · {s.value}": accuracy_row([r for r in records if r.basis == b and r.stage == s])
        for b in bases
        for s in Stage
    }
    pushed = sum(1 for r in records if r.earliest == r.predicted_at)
    return {
        "overall": accuracy_row(records),
        "by_stage": per_stage,
        "by_basis": per_basis,
        "by_basis_and_stage": {k: v for k, v in per_basis_stage.items() if v["predictions"]},
        "pushed_forward_share": round(pushed / len(records), 4) if records else 0.0,
        "prediction_lag_min": lag_minutes(records),
    }


# --- the run ----------------------------------------------------------------------------------


def simulated_start(settings: Settings, real_now: datetime) -> datetime:
    """The start of the next scorecard period: a run inside one period is never judged by the
    carrier review while it runs (periods are laid end to end, see ``review_carriers``)."""
    length = timedelta(days=settings.logistics_scorecard_days)
    _, end = last_complete_period(real_now, length)
    return end + length + HOUR


def bench_settings(
    base: Settings, plan: EtaPlan, data_dir: Path, database_url: str | None
) -> Settings:
    """The run's settings: its own data dir and database; simulator at ``plan``'s seed; the
    worker's lease (simulated time) scaled to mean the same real time."""
    return with_settings(
        base,
        **{
            "data_dir": data_dir,
            "database_url": database_url,
            "db_pool_size": min(base.db_pool_size, 5),
            "run_worker_in_process": True,
            # No backlog to wait out: the worker applies the first booking as it is requested,
            # or the measured journeys would begin with the start-up pause.
            "worker_start_delay_s": 0,
            "sandbox_carrier_seed": plan.seed,
            "sandbox_carrier_time_factor": plan.time_factor,
            "sandbox_carrier_test_hooks": False,
            "outbox_lease_s": int(base.outbox_lease_s * plan.time_factor),
            "log_level": "warning",
        },
    )


def with_settings(settings: Settings, **update: Any) -> Settings:
    """``settings`` with ``update`` applied, validated again (URLs normalised)."""
    return Settings(**{**settings.model_dump(), **update})


@dataclass
class Running:
    """The simulator (a thread) and the kuaidan server (a task of this loop) of one run."""

    simulator: SimulatorHandle
    server: uvicorn.Server
    task: asyncio.Task[None]
    container: Container

    async def stop(self) -> None:
        """The simulator first: its push connections closed, kuaidan's server stops at once."""
        await asyncio.to_thread(self.simulator.stop)
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, timeout=30)
        await self.container.aclose()


async def start(settings: Settings, clock: AcceleratedClock) -> Running:
    """Simulator first (it issues the credentials), then kuaidan on a loopback port."""
    cert, key = ensure_self_signed(settings.data_dir)
    simulator = await asyncio.to_thread(start_in_thread, settings, port=0, clock=clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = with_settings(
        settings,
        public_url=f"https://127.0.0.1:{port}",
        carrier_sandbox_url=simulator.url,
        carrier_sandbox_ca=simulator.cert,
        carrier_sandbox_credentials=simulator.config.credentials_file,
    )
    container = build_container(settings, clock=clock)
    app = create_app(settings, container=container)
    server = uvicorn.Server(
        tls_config(app, host="127.0.0.1", port=port, cert=cert, key=key, log_level="warning")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]), name="eta-bench-server")
    running = Running(simulator, server, task, container)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            await running.stop()
            raise EtaBenchError("the kuaidan server did not start")
        await asyncio.sleep(0.05)
    return running


async def _call(container: Container, fn: Callable[..., Any], **kwargs: Any) -> Any:
    uow = container.unit_of_work()
    try:
        return await fn(uow=uow, **kwargs)
    finally:
        await uow.close()


async def check_fresh(container: Container) -> None:
    """The run's clock runs ahead of the real one and the job schedule follows it: a database
    that already tracks parcels (an earlier run) would be left behind, so it is refused."""
    counts = await _call(container, service.tracking_counts, tracking_prefix="")
    if counts.scans or counts.callbacks:
        raise EtaBenchError(
            "the ETA bench needs a database of its own that tracks no parcels yet: "
            "give an empty --database-url, or none for a temporary SQLite file"
        )


async def _request(container: Container, index: int, phase: str) -> str:
    origin, destination = LANES[index % len(LANES)]
    carrier = CARRIERS[(index // len(LANES)) % len(CARRIERS)]
    recipient = Recipient("测试收件人", "13800138000", f"{destination.city}市测试路 {index} 号")
    info = await _call(
        container,
        service.request_shipment,
        merchant_id=1,
        origin=origin,
        destination=destination,
        weight_g=1000 + 100 * (index % 20),
        recipient=recipient,
        order_number=f"ETA-{phase}-{index}",
        carrier_code=carrier,
    )
    return str(info.reference)


def _finished(info: ShipmentInfo) -> bool:
    return info.booking == BookingState.FAILED or is_terminal(ShipmentStatus(info.status))


async def run_phase(
    container: Container, clock: AcceleratedClock, plan: EtaPlan, phase: Phase, count: int,
    tick: Tick,
) -> None:  # fmt: skip
    """Request ``count`` shipments spread over ``plan.arrival_hours`` of simulated time, then
    wait until each is finished (delivered, lost, returned, or its booking failed)."""
    began = time.perf_counter()
    phase.started = clock.now()
    step = timedelta(hours=plan.arrival_hours) / max(count, 1)
    for index in range(count):
        due = phase.started + step * index
        wait_s = (due - clock.now()).total_seconds() / plan.time_factor
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        phase.references.append(await _request(container, index, phase.name))
    deadline = clock.now() + timedelta(hours=plan.horizon_hours)
    open_refs = set(phase.references)
    while open_refs and clock.now() < deadline:
        await asyncio.sleep(POLL_S)
        for reference in sorted(open_refs):
            info = await _call(
                container, service.get_shipment, reference=reference, with_scans=False
            )
            phase.statuses[reference] = str(info.status)
            if _finished(info):
                open_refs.discard(reference)
                tick()
    phase.finished = clock.now()
    phase.real_seconds = time.perf_counter() - began


async def measure(
    container: Container, cohort: Phase, warmup: Phase, plan: EtaPlan, backend: str
) -> dict[str, Any]:
    records = await _call(container, service.eta_predictions, references=cohort.references)
    history = await _call(container, service.eta_predictions, references=warmup.references)
    delivered = [r for r in cohort.statuses.values() if r == ShipmentStatus.DELIVERED]
    assert cohort.started is not None and cohort.finished is not None
    report = await _call(
        container,
        service.eta_accuracy_report,
        since=cohort.started,
        until=cohort.finished + timedelta(days=1),
    )
    lanes = {(o.province, d.province, c) for i, (o, d) in enumerate(LANES) for c in CARRIERS}
    return {
        "command": "eta",
        "path": "real: request_shipment → worker → HTTPS booking → simulator → signed pushes",
        "parameters": {
            "parcels": plan.parcels,
            "warmup": plan.warmup,
            "time_factor": plan.time_factor,
            "seed": plan.seed,
            "arrival_hours": plan.arrival_hours,
            "backend": backend,
        },
        "lanes": len(lanes),
        "phases": {p.name: _phase_facts(p) for p in (warmup, cohort)},
        "parcels": len(cohort.references),
        "deliveries": len(delivered),
        "predictions_stored": len(records),
        "predictions_per_parcel": {
            "min": min(_per_parcel(records, cohort.references), default=0),
            "max": max(_per_parcel(records, cohort.references), default=0),
        },
        "accuracy": summarise(records),
        # The warm-up's own predictions: its first parcels on each lane had no history yet, so
        # this is where the promise fallback is measured.
        "warmup_accuracy": summarise(history),
        "eta_accuracy_report": {
            "predictions": report.predictions,
            "inside": round(report.within_range_rate, 4),
            "mae_h": report.mean_abs_error_hours,
        },
        "machine": machine_facts(),
    }


def _per_parcel(records: Sequence[PredictionRecord], references: Sequence[str]) -> list[int]:
    counts = dict.fromkeys(references, 0)
    for record in records:
        counts[record.reference] = counts.get(record.reference, 0) + 1
    return list(counts.values())


def _phase_facts(phase: Phase) -> dict[str, Any]:
    span = hours(phase.finished - phase.started) if phase.started and phase.finished else None
    return {
        "requested": len(phase.references),
        "statuses": phase.counts(),
        "simulated_hours": round(span, 1) if span is not None else None,
        "real_seconds": round(phase.real_seconds, 1),
    }


async def run_eta_bench(
    base: Settings, plan: EtaPlan, *, database_url: str | None = None, tick: Tick | None = None
) -> dict[str, Any]:
    """Run both phases on a fresh data dir (and, without ``database_url``, a fresh SQLite
    file in it); returns the report."""
    progress = tick or (lambda n=1: None)
    with tempfile.TemporaryDirectory(prefix="kuaidan-bench-eta-") as tmp:
        data_dir = Path(tmp)
        settings = bench_settings(base, plan, data_dir, database_url)
        await upgrade(settings.effective_database_url)
        probe = build_container(settings)  # no worker: a refused database is left as it was
        try:
            await check_fresh(probe)
        finally:
            await probe.aclose()
        clock = AcceleratedClock(
            start=simulated_start(settings, datetime.now(UTC)), factor=plan.time_factor
        )
        running = await start(settings, clock)
        try:
            container = running.container
            await _call(container, service.ensure_default_carriers)
            warmup, cohort = Phase("warmup"), Phase("measured")
            await run_phase(container, clock, plan, warmup, plan.warmup, progress)
            await run_phase(container, clock, plan, cohort, plan.parcels, progress)
            url = settings.effective_database_url
            backend = "sqlite" if url.startswith("sqlite") else "postgres"
            return await measure(container, cohort, warmup, plan, backend)
        finally:
            await running.stop()


# --- output -------------------------------------------------------------------------------------


def _share(value: float) -> str:
    return f"{value:.1%}"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(title: str, accuracy: dict[str, Any]) -> Table:
    table = Table(title=f"ETA accuracy: {title}")
    table.add_column("predictions", justify="left")
    for name in ("n", "inside", "early", "late", "MAE h", "width p50 h"):
        table.add_column(name, justify="right")
    rows = [("overall", accuracy["overall"])]
    rows += [(f"stage {k}", v) for k, v in accuracy["by_stage"].items()]
    rows += [(f"basis {k}", v) for k, v in accuracy["by_basis"].items()]
    rows += list(accuracy["by_basis_and_stage"].items())
    for name, row in rows:
        cells = [str(row["predictions"])]
        cells += [_share(row[c]) for c in ("inside", "early", "late")]
        cells += [_hours(row["mae_h"]), _hours(row["width_p50_h"])]
        table.add_row(name, *cells)
    return table


def render(report: dict[str, Any], console: Console) -> None:
    """The report as tables: accuracy overall, per stage, per basis (and both)."""
    params = report["parameters"]
    console.print(
        f"kuaidan bench eta — {report['parcels']} measured parcels after {params['warmup']} of "
        f"warm-up, {report['lanes']} lanes, time factor {params['time_factor']:g}, seed "
        f"{params['seed']}, {params['backend']}",
        highlight=False,
    )
    console.print(_table("measured cohort (every prediction)", report["accuracy"]))
    console.print(_table("warm-up (the promise fallback's figures)", report["warmup_accuracy"]))
    accuracy = report["accuracy"]
    for name, facts in report["phases"].items():
        console.print(f"phase {name}: {facts}", highlight=False, markup=False)
    console.print(
        f"deliveries {report['deliveries']} of {report['parcels']}; predictions stored "
        f"{report['predictions_stored']}; pushed forward {accuracy['pushed_forward_share']:.1%}; "
        f"prediction lag (simulated min) {accuracy['prediction_lag_min']}; "
        f"eta_accuracy_report {report['eta_accuracy_report']}",
        highlight=False,
        markup=False,
    )
    machine = report["machine"]
    console.print(
        f"machine: {machine['cpus']} CPUs, load average {machine['load_average']}",
        highlight=False,
    )
