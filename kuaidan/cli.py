"""The ``kuaidan`` command: serve, worker, db, demo, users, keys, bench."""

from __future__ import annotations

import asyncio
import getpass
import importlib.util
import logging
import logging.config
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from kuaidan.accounts.domain import Role
from kuaidan.bench.cli import bench_app
from kuaidan.config import Settings, load_settings
from kuaidan.core.logs import logging_config

if TYPE_CHECKING:
    from kuaidan.core.db import UnitOfWork

T = TypeVar("T")

app = typer.Typer(
    help="kuaidan (快单): 24/7 online ordering for a live-commerce marketplace.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts of staff, merchants and buyers.", no_args_is_help=True)
keys_app = typer.Typer(help="Data-encryption keys.", no_args_is_help=True)
outbox_app = typer.Typer(help="Event deliveries: backlog and dead letters.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(outbox_app, name="outbox")
payments_app = typer.Typer(help="Payments: reconciliation with the provider.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")
app.add_typer(bench_app, name="bench")
logistics_app = typer.Typer(help="Logistics: the tracking-push inbox.", no_args_is_help=True)
app.add_typer(logistics_app, name="logistics")
console = Console()


def _settings() -> Settings:
    settings = load_settings()
    logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
    return settings


def _run(factory: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory(_settings()))


def _in_uow(work: Callable[[UnitOfWork], Awaitable[T]], settings: Settings | None = None) -> T:
    """Run ``work`` in one unit of work on the configured database, then close it all."""

    async def run(settings: Settings) -> T:
        from kuaidan.bootstrap import build_container

        container = build_container(settings)
        uow = container.unit_of_work()
        try:
            return await work(uow)
        finally:
            await uow.close()
            await container.aclose()

    return asyncio.run(run(settings or _settings()))


async def _upgrade(settings: Settings) -> str | None:
    from kuaidan.core.migrate import current_revision, upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(settings.effective_database_url)
    return await current_revision(settings.effective_database_url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to run again: it changes nothing then)."""
    revision = _run(_upgrade)
    console.print(f"database at revision [bold]{revision}[/bold]")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current migration revision."""
    from kuaidan.core.migrate import current_revision

    revision = _run(lambda s: current_revision(s.effective_database_url))
    console.print(revision or "(empty database)")


@app.command()
def serve(
    workers: Annotated[int, typer.Option(min=1, max=64, help="Web worker processes.")] = 1,
    host: Annotated[str | None, typer.Option(help="Bind address (KUAIDAN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="HTTPS port (KUAIDAN_HTTPS_PORT).")] = None,
    http_port: Annotated[
        int | None, typer.Option(help="Redirecting HTTP port, 0 = off (KUAIDAN_HTTP_PORT).")
    ] = None,
) -> None:
    """Serve the platform over HTTPS; plain HTTP only redirects to it."""
    from kuaidan.server import serve as run_server

    settings = _settings()
    overrides = {"host": host, "https_port": port, "http_port": http_port}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    run_server(settings, workers=workers)


@app.command()
def demo(
    seed_only: Annotated[
        bool, typer.Option("--seed-only", help="Migrate and seed, then exit (tests, CI).")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Delete the demo database and pictures first, then reseed."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --reset.")] = False,
) -> None:
    """Run a ready-made marketplace on SQLite: migrate, seed once, print logins, serve HTTPS."""
    if importlib.util.find_spec("PIL") is None:
        _fail(
            "the demo draws its product pictures with Pillow, which is not installed: "
            "pip install 'kuaidan\\[demo]' (make demo does)"
        )
    from kuaidan.core.errors import DomainError
    from kuaidan.demo import console as demo_console
    from kuaidan.server import serve as run_server
    from kuaidan.server import tls_files

    settings = demo_console.demo_settings(_settings())
    logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines bury the banner
    problem = demo_console.sqlite_problem(settings)
    if problem:
        _fail(problem)
    if reset:
        _reset_demo(settings, ask=not yes)
    _run(_upgrade)
    try:
        summary = _run(lambda s: demo_console.seed_with_progress(s, console))
    except DomainError as exc:
        console.print(f"[red]error while seeding:[/red] {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    console.print(demo_console.summary_line(summary))
    if seed_only:
        return
    cert, _key = tls_files(settings)
    from kuaidan.simulators.alipaygw.server import start_in_thread as start_gateway
    from kuaidan.simulators.carrier.server import start_in_thread as start_carrier

    gateway = start_gateway(settings)  # the local Alipay gateway, for paying demo orders
    carrier = start_carrier(settings)  # the carrier aggregator: books parcels, pushes their scans
    console.print(demo_console.welcome_panel(settings, cert))
    console.print(
        f"local Alipay gateway: {gateway.gateway_url} (its own self-signed certificate)",
        highlight=False,
    )
    console.print(
        f"carrier simulator: {carrier.url} ({settings.sandbox_carrier_time_factor:g}x time;"
        f" pushes scans to {settings.public_base_url})",
        highlight=False,
    )
    try:
        run_server(settings)
    finally:
        carrier.stop()
        gateway.stop()


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)


def _reset_demo(settings: Settings, *, ask: bool) -> None:
    """Delete the demo database and pictures, after asking unless told not to."""
    from kuaidan.demo import console as demo_console

    target = demo_console.database_file(settings)
    if ask and not sys.stdin.isatty():
        _fail(
            f"--reset deletes {target} and the demo pictures, and there is no terminal to ask: "
            "add --yes to go ahead."
        )
    if ask:
        typer.confirm(f"Delete {target} and the demo pictures?", abort=True)
    for path in demo_console.reset_demo(settings):
        console.print(f"removed {path}", highlight=False)


@app.command("sandbox-alipay")
def sandbox_alipay(
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="HTTPS port (KUAIDAN_SANDBOX_ALIPAY_PORT, 8446)."),
    ] = None,
) -> None:
    """Run a local gateway speaking the Alipay open-platform protocol with test keys."""
    from kuaidan.simulators.alipaygw.server import serve as run_gateway

    settings = _settings()
    console.print(
        f"local Alipay gateway on https://{settings.host}:{port or settings.sandbox_alipay_port}"
        f"/gateway.do (files in {settings.sandbox_alipay_dir})",
        highlight=False,
    )
    run_gateway(settings, port=port)


@payments_app.command("reconcile")
def payments_reconcile(
    hours: Annotated[
        int | None,
        typer.Option(min=1, max=720, help="Window in hours (KUAIDAN_PAY_RECONCILE_WINDOW_HOURS)."),
    ] = None,
) -> None:
    """Compare recent payments and refunds with the provider's records; report discrepancies."""
    from datetime import timedelta

    from kuaidan.payments import service

    settings = _settings()
    window = timedelta(hours=hours or settings.pay_reconcile_window_hours)
    report = _in_uow(
        lambda uow: service.reconcile_payments(uow=uow, window=window, trigger="cli"), settings
    )
    console.print(
        f"run {report.run_id}: {report.payments_checked} payments checked,"
        f" {report.new_findings} new findings, {report.errors} errors",
        highlight=False,
    )
    if report.errors:
        raise typer.Exit(1)


@app.command("sandbox-carrier")
def sandbox_carrier(
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="HTTPS port (KUAIDAN_SANDBOX_CARRIER_PORT, 8445)."),
    ] = None,
) -> None:
    """Run the carrier simulator (Kuaidi100-style bookings, scans over accelerated time, pushes)."""
    from kuaidan.simulators.carrier.server import serve as run_simulator

    settings = _settings()
    console.print(
        f"carrier simulator on https://{settings.host}:{port or settings.sandbox_carrier_port}"
        f" ({settings.sandbox_carrier_time_factor:g}x time; files in"
        f" {settings.sandbox_carrier_dir})",
        highlight=False,
    )
    run_simulator(settings, port=port)


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
) -> None:
    """Deliver outbox events to handlers and run scheduled jobs (run any number of these)."""

    async def run(settings: Settings) -> int:
        import signal

        from kuaidan.bootstrap import build_container

        container = build_container(settings)
        work = container.worker(settings=settings.worker_settings())
        try:
            if once:
                await work.ensure_jobs()
                return await work.run_until_idle()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            console.print("worker running; Ctrl-C stops it after the current pass")
            await work.run_forever(stop)
            return 0
        finally:
            await container.aclose()

    done = _run(run)
    if once:
        console.print(f"delivered/ran {done} item(s)")


@outbox_app.command("status")
def outbox_status() -> None:
    """Events waiting, deliveries pending, and dead letters."""
    from kuaidan.core import outbox

    async def status(uow: UnitOfWork) -> tuple[dict[str, int], list[outbox.DeadLetter]]:
        return await outbox.backlog(uow), await outbox.dead_letters(uow, limit=20)

    counts, dead = _in_uow(status)
    console.print(counts)
    for letter in dead:
        console.print(
            f"dead #{letter.delivery_id} {letter.topic} → {letter.handler} "
            f"after {letter.attempts} tries: {letter.last_error}"
        )


@outbox_app.command("retry")
def outbox_retry(
    delivery: Annotated[
        int | None, typer.Option(help="One dead delivery's id; all dead ones when omitted.")
    ] = None,
) -> None:
    """Put dead deliveries back in the queue."""
    from kuaidan.core import outbox

    async def retry(uow: UnitOfWork) -> int:
        return await outbox.retry_dead(uow, delivery_id=delivery)

    console.print(f"re-queued {_in_uow(retry)} delivery(ies)")


@logistics_app.command("inbox")
def logistics_inbox() -> None:
    """Tracking pushes by status (pending, applied, orphan, dead) and the dead ones' errors."""
    from kuaidan.logistics import service as logistics

    async def status(uow: UnitOfWork) -> Any:
        return await logistics.inbox_status(uow=uow, limit=20)

    found = _in_uow(status)
    console.print(found.counts)
    for push in found.dead:
        console.print(
            f"dead push #{push.push_id} {push.carrier_code} {push.tracking_number} "
            f"received {push.received_at:%Y-%m-%d %H:%M:%S}: {push.error}",
            highlight=False,
        )


@logistics_app.command("inbox-retry")
def logistics_inbox_retry(
    push: Annotated[
        int | None, typer.Option(help="One dead push's id; all dead ones when omitted.")
    ] = None,
) -> None:
    """Put dead tracking pushes back in the queue of the apply job."""
    from kuaidan.logistics import service as logistics

    async def retry(uow: UnitOfWork) -> int:
        return await logistics.retry_dead_pushes(uow=uow, push_id=push)

    console.print(f"re-queued {_in_uow(retry)} push(es)")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    role: Annotated[Role, typer.Option(help="buyer, merchant, reviewer, agent or admin.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    phone: Annotated[str | None, typer.Option(help="Phone number (stored encrypted).")] = None,
    merchant_id: Annotated[
        int | None, typer.Option(help="For merchant staff: the merchant they work for.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password; asked for interactively when omitted.", show_default=False),
    ] = None,
) -> None:
    """Create an account with a role (staff accounts are created only this way)."""
    from kuaidan.accounts import service as accounts
    from kuaidan.core.errors import DomainError

    secret = password or getpass.getpass("Password: ")

    async def create(uow: UnitOfWork) -> int:
        user = await accounts.create_user(
            uow=uow,
            email=email,
            password=secret,
            role=role,
            display_name=name or email.split("@")[0],
            phone=phone,
            merchant_id=merchant_id,
        )
        return user.id

    try:
        user_id = _in_uow(create)
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"created {role.value} account {email} (id {user_id})")


@users_app.command("list")
def users_list(
    role: Annotated[Role | None, typer.Option(help="Only accounts with this role.")] = None,
    page: Annotated[int, typer.Option(min=1, help="Page number (100 a page).")] = 1,
) -> None:
    """List accounts: id, e-mail, role, display name, merchant, last log-in."""
    from kuaidan.accounts import service as accounts
    from kuaidan.accounts.domain import UserSummary
    from kuaidan.core.pagination import PageOf, PageRequest

    async def fetch(uow: UnitOfWork) -> PageOf[UserSummary]:
        return await accounts.list_users(uow=uow, page=PageRequest(page, 100), role=role)

    result = _in_uow(fetch)
    for user in result.items:
        merchant = f" merchant={user.merchant_id}" if user.merchant_id is not None else ""
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
        console.print(
            f"{user.id:>6}  {user.email}  {user.role.value}  {user.display_name}{merchant}"
            f"  last log-in: {last}",
            highlight=False,
            markup=False,
        )
    console.print(f"page {result.page} of {result.pages} ({result.total} accounts)")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new data-encryption key active; data under older keys stays readable."""
    from kuaidan.core.secrets import rotate_data_key

    key_id = rotate_data_key(_settings().data_dir)
    console.print(f"new active data key: {key_id}")


@bench_app.command("risk")
def bench_risk(
    decisions: Annotated[
        int, typer.Option(min=10, max=1_000_000, help="Decisions to time.")
    ] = 3000,
    buyers: Annotated[int, typer.Option(min=10, max=100_000, help="Buyers with history.")] = 300,
    history: Annotated[int, typer.Option(min=0, max=200, help="Paid payments per buyer.")] = 12,
    database_url: Annotated[
        str | None,
        typer.Option(help="A scratch database to migrate and fill (default: a temporary SQLite)."),
    ] = None,
) -> None:
    """Risk decisions in-process: latency p50/p99 of ``assess`` and decisions/s."""
    from kuaidan.bench.risk import run_risk_bench

    normalised = Settings(database_url=database_url).database_url if database_url else None
    result = asyncio.run(
        run_risk_bench(database_url=normalised, decisions=decisions, buyers=buyers, history=history)
    )
    for label, value in result.lines():
        console.print(f"{label:<34} {value}", highlight=False)


def main() -> None:
    app()
