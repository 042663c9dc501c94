"""``kuaidan bench``: prepare data, then load a server (given or spawned) and print figures."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kuaidan.bench.report import Report, render
from kuaidan.config import Settings, load_settings

bench_app = typer.Typer(
    help="Load generators: checkout, flash sale, mixed, the database's own limit, the floor.",
    no_args_is_help=True,
)
console = Console(stderr=True)
out = Console(width=160)


@bench_app.callback()
def _needs_psutil() -> None:
    """Every scenario reads the server's and the database's CPU time through psutil."""
    if importlib.util.find_spec("psutil") is None:
        console.print(
            "[red]error:[/red] the benchmarks read CPU time with psutil, which is not "
            "installed: pip install 'kuaidan\\[bench]' (make env does)",
            highlight=False,
        )
        raise typer.Exit(2)


DatabaseUrl = Annotated[
    str | None, typer.Option(help="Database to use (default KUAIDAN_DATABASE_URL / SQLite).")
]
DataDir = Annotated[Path | None, typer.Option(help="Data dir (default KUAIDAN_DATA_DIR).")]
ServerUrl = Annotated[
    str | None, typer.Option(help="A running server to load; empty = spawn one on loopback.")
]
Workers = Annotated[int, typer.Option(min=1, max=16, help="Worker processes of a spawned server.")]
Ca = Annotated[Path | None, typer.Option(help="CA file for --server-url (default: data dir's).")]
Insecure = Annotated[bool, typer.Option(help="Do not verify the server's certificate.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
Concurrency = Annotated[int, typer.Option(min=1, max=2000, help="Concurrent buyers.")]
Duration = Annotated[float, typer.Option(min=0.5, max=3600, help="Seconds of load.")]


def _settings(database_url: str | None, data_dir: Path | None) -> Settings:
    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if data_dir:
        overrides["data_dir"] = data_dir
    return load_settings(**overrides)


def _options(
    settings: Settings, server_url: str | None, workers: int, ca: Path | None, insecure: bool
) -> Any:
    from kuaidan.bench.runner import RunOptions

    return RunOptions(settings, server_url, workers, ca, insecure)


@contextmanager
def _progress(label: str, total: float | None) -> Iterator[Callable[..., None]]:
    columns = [TextColumn(label), BarColumn(), TextColumn("{task.completed} answers")]
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


def _finish(report: Report, as_json: bool) -> None:
    if as_json:
        out.print_json(report.as_json())
    else:
        render(report, out)
    problems = report.checks.get("flash-sale problems")
    if problems not in (None, "none"):
        raise typer.Exit(1)


def _run(coro: Callable[[], Coroutine[Any, Any, Report]]) -> Report:
    return asyncio.run(coro())


@bench_app.command("prepare")
def prepare_command(
    buyers: Annotated[int, typer.Option(min=1, max=100_000, help="Bench buyers.")] = 1000,
    skus: Annotated[
        int, typer.Option(min=4, max=100_000, help="SKUs to spread orders over.")
    ] = 400,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Migrate, then create bench merchants, SKUs and buyers (tokens, addresses) via services."""
    from kuaidan.bench import prepare as prep
    from kuaidan.bench.runner import container_of
    from kuaidan.core.migrate import upgrade

    settings = _settings(database_url, data_dir)

    async def run() -> prep.Fixture:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await upgrade(settings.effective_database_url)
        async with container_of(settings) as container:
            with _progress("preparing", buyers + skus) as tick:
                return await prep.prepare(
                    container,
                    buyers=buyers,
                    skus=skus,
                    progress=tick,
                )

    started = time.perf_counter()
    fixture = asyncio.run(run())
    fixture.save(prep.fixture_path(settings.data_dir))
    console.print(
        f"{len(fixture.buyers)} buyers, {len(fixture.skus)} SKUs in "
        f"{time.perf_counter() - started:.1f} s → {prep.fixture_path(settings.data_dir)}"
    )


@bench_app.command("placement")
def placement_command(
    orders: Annotated[int, typer.Option(min=1, max=100_000, help="Orders to place.")] = 300,
    profile: Annotated[
        Path | None, typer.Option(help="Write a pyinstrument text profile of the run here.")
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """CPU and SQL statements per placed order inside the process (no TLS, no other load)."""
    from kuaidan.bench.placement import run_placement

    settings = _settings(database_url, data_dir)
    report, text = asyncio.run(run_placement(settings, orders=orders, profile=profile is not None))
    if profile is not None and text is not None:
        profile.write_text(text, encoding="utf-8")
        console.print(f"profile → {profile}")
    _finish(report, as_json)


@bench_app.command("checkout")
def checkout_command(
    concurrency: Concurrency = 32,
    duration: Duration = 20.0,
    server_url: ServerUrl = None,
    workers: Workers = 2,
    ca: Ca = None,
    insecure: Insecure = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """N buyers place orders over many SKUs for a fixed time; compared with db-limit spread."""
    from kuaidan.bench.runner import run_checkout

    options = _options(_settings(database_url, data_dir), server_url, workers, ca, insecure)
    with _progress("checkout", None) as tick:
        report = _run(
            lambda: run_checkout(options, concurrency=concurrency, duration_s=duration, tick=tick)
        )
    _finish(report, as_json)


@bench_app.command("flash-sale")
def flash_sale_command(
    buyers: Annotated[int, typer.Option(min=1, max=100_000, help="Buyers racing.")] = 5000,
    units: Annotated[int, typer.Option(min=1, help="Units on sale.")] = 100,
    concurrency: Concurrency = 200,
    server_url: ServerUrl = None,
    workers: Workers = 2,
    ca: Ca = None,
    insecure: Insecure = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Buyers race for a fresh SKU's units; the database is checked for oversell after."""
    from kuaidan.bench.runner import FlashPlan, run_flash_sale

    options = _options(_settings(database_url, data_dir), server_url, workers, ca, insecure)
    plan = FlashPlan(buyers=buyers, concurrency=concurrency, units=units)
    with _progress("flash sale", buyers) as tick:
        report = _run(lambda: run_flash_sale(options, plan, tick=tick))
    _finish(report, as_json)


@bench_app.command("flash-kill")
def flash_kill_command(
    buyers: Annotated[int, typer.Option(min=2, max=10_000, help="Buyers racing.")] = 260,
    units: Annotated[int, typer.Option(min=1, max=10_000, help="Units on sale.")] = 100,
    per_buyer: Annotated[int, typer.Option(min=1, help="Units one buyer may buy.")] = 1,
    concurrency: Concurrency = 40,
    kill_after: Annotated[
        int, typer.Option(min=1, help="Orders acknowledged before one node is killed.")
    ] = 30,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Two nodes on one PostgreSQL database sell a fresh SKU; one is SIGKILLed mid-sale while
    it holds units for checkouts in flight. Prints units sold, how soon the dead node's holds
    came back, and the refusals by code; fails on an oversell or a stock audit finding."""
    from kuaidan.bench.flashkill import KillFigures, KillPlan, run_kill_sale
    from kuaidan.core.migrate import upgrade

    settings = _settings(database_url, data_dir)
    if settings.is_sqlite:
        raise typer.BadParameter("two nodes need one PostgreSQL database: --database-url")
    plan = KillPlan(
        units=units,
        buyers=buyers,
        per_buyer=per_buyer,
        concurrency=concurrency,
        kill_after_orders=kill_after,
    )

    async def run() -> KillFigures:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await upgrade(settings.effective_database_url)
        return await run_kill_sale(settings, plan)

    figures = asyncio.run(run())
    for line in figures.lines():
        out.print(line)
    if figures.problems or figures.units_ordered > units or figures.reserved > units:
        raise typer.Exit(1)


@bench_app.command("floor")
def floor_command(
    concurrency: Concurrency = 200,
    duration: Duration = 10.0,
    requests: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many answers (default: none).")
    ] = None,
    workers: Workers = 2,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """The harness's floor: the flash sale's load against a bare app that answers every
    checkout "sold out", served as `kuaidan serve` is (TLS, uvicorn, workers), no database."""
    from kuaidan.bench.runner import FloorPlan, run_floor

    options = _options(_settings(None, data_dir), None, workers, None, False)
    plan = FloorPlan(concurrency=concurrency, duration_s=duration, requests=requests)
    with _progress("floor", requests) as tick:
        report = _run(lambda: run_floor(options, plan, tick=tick))
    _finish(report, as_json)


@bench_app.command("floor-server", hidden=True)
def floor_server_command(workers: Workers = 2) -> None:
    """Serve the floor's bare app on KUAIDAN_HOST:KUAIDAN_HTTPS_PORT (what `floor` spawns)."""
    from kuaidan.bench.floor import serve_floor

    serve_floor(load_settings(), workers=workers)


@bench_app.command("db-limit")
def db_limit_command(
    concurrency: Concurrency = 32,
    duration: Duration = 10.0,
    skus: Annotated[int, typer.Option(min=1, help="SKU rows for the spread case.")] = 400,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """The minimal order transaction straight to the database: spread and one SKU."""
    from kuaidan.bench.runner import run_db_limit_command

    options = _options(_settings(database_url, data_dir), None, 1, None, False)
    report = _run(
        lambda: run_db_limit_command(
            options, concurrency=concurrency, duration_s=duration, skus=skus
        )
    )
    _finish(report, as_json)


@bench_app.command("mixed")
def mixed_command(
    concurrency: Concurrency = 16,
    duration: Duration = 20.0,
    buyers: Annotated[int, typer.Option(min=1, help="Flash-sale buyers.")] = 2000,
    units: Annotated[int, typer.Option(min=1, help="Flash-sale units.")] = 100,
    flash_concurrency: Annotated[int, typer.Option(min=1, max=2000)] = 200,
    server_url: ServerUrl = None,
    workers: Workers = 2,
    ca: Ca = None,
    insecure: Insecure = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Ordinary checkout for other merchants while a flash sale runs: isolation."""
    from kuaidan.bench.runner import FlashPlan, run_mixed

    options = _options(_settings(database_url, data_dir), server_url, workers, ca, insecure)
    plan = FlashPlan(buyers=buyers, concurrency=flash_concurrency, units=units)
    with _progress("mixed", None) as tick:
        report = _run(
            lambda: run_mixed(
                options, plan, concurrency=concurrency, duration_s=duration, tick=tick
            )
        )
    _finish(report, as_json)


@bench_app.command("callbacks")
def callbacks_command(
    parcels: Annotated[int, typer.Option(min=1, max=1_000_000, help="Parcels tracked.")] = 1000,
    duplicates: Annotated[
        float, typer.Option(min=0, max=1, help="Share of pushes sent twice (the copy later).")
    ] = 1.0,
    out_of_order: Annotated[
        float, typer.Option(min=0, max=1, help="Share of parcels whose pushes arrive swapped.")
    ] = 0.2,
    concurrency: Annotated[int, typer.Option(min=1, max=1000, help="Pushes in flight.")] = 32,
    over: Annotated[
        str, typer.Option(help="http: a spawned `serve --workers N`; service: no HTTP.")
    ] = "http",
    workers: Workers = 2,
    appliers: Annotated[
        int, typer.Option(min=1, max=16, help="Concurrent apply loops (--over service).")
    ] = 2,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Tracking pushes: accepted/s and answer latency, then the apply step's rate and lag;
    checks that no push, scan or event was lost or doubled and no status went backwards."""
    from kuaidan.bench.callbacks import CallbackOptions, problems, run_callbacks
    from kuaidan.core.migrate import upgrade
    from kuaidan.logistics.bench import BenchPlan

    if over not in ("http", "service"):
        raise typer.BadParameter("--over is http or service")
    settings = _settings(database_url, data_dir)
    plan = BenchPlan(
        parcels=parcels,
        duplicate_share=duplicates,
        out_of_order_share=out_of_order,
        concurrency=concurrency,
    )
    options = CallbackOptions(over=over, workers=workers, appliers=appliers)

    async def run() -> Report:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await upgrade(settings.effective_database_url)
        return await run_callbacks(settings, plan, options, tick)

    with _progress("callbacks", None) as tick:
        report = _run(run)
    _finish(report, as_json)
    found = problems(report, plan)
    if found:
        console.print(f"[red]problems:[/red] {'; '.join(found)}")
        raise typer.Exit(1)


@bench_app.command("eta")
def eta_command(
    parcels: Annotated[int, typer.Option(min=1, max=100_000, help="Measured parcels.")] = 200,
    warmup: Annotated[
        int, typer.Option(min=0, max=100_000, help="Parcels delivered first, as history.")
    ] = 400,
    time_factor: Annotated[
        float, typer.Option(min=1, max=1_000_000, help="Simulated seconds per real second.")
    ] = 3600.0,
    seed: Annotated[int, typer.Option(help="Seed of the carrier simulator.")] = 7,
    database_url: Annotated[
        str | None,
        typer.Option(help="An empty database for the run (default: a temporary SQLite file)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """ETA accuracy on the carrier simulator's history: a warm-up history, then a measured
    cohort whose every prediction is compared with its delivery (one simulated clock)."""
    from kuaidan.bench.eta import EtaBenchError, EtaPlan, render, run_eta_bench

    plan = EtaPlan(parcels=parcels, warmup=warmup, time_factor=time_factor, seed=seed)
    try:
        with _progress("eta", parcels + warmup) as tick:
            report = asyncio.run(
                run_eta_bench(load_settings(), plan, database_url=database_url, tick=tick)
            )
    except EtaBenchError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        out.print_json(data=report)
    else:
        render(report, out)


@bench_app.command("plot")
def plot_command(
    results: Annotated[Path, typer.Option(help="Folder of --json reports.")],
    out: Annotated[Path, typer.Option(help="PNG to write.")] = Path("docs/benchmarks.png"),
) -> None:
    """Plot throughput and p99 against concurrency from saved --json reports (matplotlib)."""
    from kuaidan.bench.plot import load_reports, plot, points

    series = points(load_reports(results))
    if not series:
        raise typer.BadParameter(f"no bench reports in {results}")
    plot(series, out)
    console.print(f"wrote {out}")
