"""The ``kuaidan`` command: serve, worker, db, demo, users, keys."""

from __future__ import annotations

import asyncio
import getpass
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from kuaidan.accounts.domain import Role
from kuaidan.config import Settings, load_settings

T = TypeVar("T")

app = typer.Typer(
    help="kuaidan (快单): 24/7 online ordering for a live-commerce marketplace.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts of staff, merchants and buyers.", no_args_is_help=True)
keys_app = typer.Typer(help="Data-encryption keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
console = Console()


def _settings() -> Settings:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return settings


def _run(factory: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory(_settings()))


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
    from kuaidan.bootstrap import build_container

    secret = password or getpass.getpass("Password: ")

    async def create(settings: Settings) -> int:
        container = build_container(settings)
        uow = container.unit_of_work()
        try:
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
        finally:
            await uow.close()
            await container.aclose()

    user_id = _run(create)
    console.print(f"created {role.value} account {email} (id {user_id})")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new data-encryption key active; data under older keys stays readable."""
    from kuaidan.core.secrets import rotate_data_key

    key_id = rotate_data_key(_settings().data_dir)
    console.print(f"new active data key: {key_id}")


def main() -> None:
    app()
