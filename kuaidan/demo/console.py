"""What ``kuaidan demo`` shows and does around the seed: progress, welcome panel, reset."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from kuaidan.bootstrap import build_container
from kuaidan.config import Settings
from kuaidan.demo.data import DEMO_PASSWORD, USERS
from kuaidan.demo.images import MEDIA_SUBDIR
from kuaidan.demo.seed import DemoSummary, seed_demo

LOCAL_HOSTS = {"127.0.0.1", "0.0.0.0", "::", "::1", "localhost"}  # noqa: S104 (names, no bind)


def sqlite_problem(settings: Settings) -> str | None:
    """Why the demo refuses to run here, if it does: it seeds published demo passwords."""
    if settings.is_sqlite:
        return None
    return (
        "the demo runs only on the embedded SQLite database: its accounts share a published "
        "password. Unset KUAIDAN_DATABASE_URL (or point KUAIDAN_DATA_DIR elsewhere) to run it."
    )


def database_file(settings: Settings) -> Path:
    database = make_url(settings.effective_database_url).database
    if not database:
        raise ValueError("the demo needs a file-backed SQLite database")
    return Path(database)


def reset_demo(settings: Settings) -> list[Path]:
    """Delete the SQLite database (with its WAL files) and the demo pictures.

    Secrets and the TLS certificate stay, so a browser that trusts the certificate still does.
    """
    db = database_file(settings)
    removed: list[Path] = []
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            path.unlink()
            removed.append(path)
    pictures = settings.data_dir / "media" / MEDIA_SUBDIR
    if pictures.is_dir():
        shutil.rmtree(pictures)
        removed.append(pictures)
    return removed


async def seed_with_progress(settings: Settings, console: Console) -> DemoSummary:
    """Run the seed with a progress bar on ``console``."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    container = build_container(settings)
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("checking the demo data", total=None)

            def report(description: str, done: int, total: int) -> None:
                progress.update(task, description=description, completed=done, total=total)

            return await seed_demo(container=container, progress=report)
    finally:
        await container.aclose()


def summary_line(summary: DemoSummary) -> str:
    if summary.already_seeded:
        drawn = f", redrew {summary.images} missing pictures" if summary.images else ""
        return f"demo marketplace already seeded (checked in {summary.seconds:.2f} s{drawn})"
    return (
        f"seeded {summary.merchants} merchants, {summary.products} products, {summary.skus} SKUs, "
        f"{summary.users} accounts and {summary.images} pictures in {summary.seconds:.1f} s"
    )


def base_urls(settings: Settings) -> tuple[str, str | None]:
    """The HTTPS address to open, and the plain-HTTP one that redirects to it (if any)."""
    if settings.public_url:
        return settings.public_url.rstrip("/"), None
    host = "localhost" if settings.host in LOCAL_HOSTS else settings.host
    https = f"https://{host}:{settings.https_port}"
    http = f"http://{host}:{settings.http_port}" if settings.http_port else None
    return https, http


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: one-time codes readable at /dev/inbox, and logs as text for the
    terminal it runs in, each unless it was set."""
    defaults = {"dev_inbox_page": True, "log_format": "console"}
    update = {k: v for k, v in defaults.items() if k not in settings.model_fields_set}
    return settings.model_copy(update=update)


def logins_table() -> Table:
    """Role and e-mail never wrap (they are copied); "try" wraps between words."""
    table = Table(
        title=f"demo logins, every one with the password {DEMO_PASSWORD}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        expand=True,
        pad_edge=False,
    )
    table.add_column("role", no_wrap=True)
    table.add_column("e-mail", no_wrap=True)
    table.add_column("try", ratio=1, overflow="fold")
    for user in USERS:
        table.add_row(user.role.value, user.email, user.try_this)
    return table


def inbox_note(settings: Settings, https: str) -> Text:
    if not settings.dev_inbox_page:
        return Text("")
    return Text.assemble(
        ("\nOne-time codes ", "bold"),
        "(a held payment asks for one) are not sent anywhere: log in as admin and open ",
        (f"{https}/dev/inbox", "bold"),
        " (KUAIDAN_DEV_INBOX_PAGE=false hides it).",
    )


def welcome_panel(settings: Settings, cert: Path) -> Panel:
    """URLs, the certificate note and the demo logins, in one panel."""
    https, http = base_urls(settings)
    lines = Text()
    lines.append("Open  ", style="bold").append(https, style="bold green")
    if http:
        lines.append(f"\n      {http} redirects there")
    lines.append("\n\nThe certificate is self-signed: ", style="bold")
    lines.append(
        f"{cert}\nYour browser warns once; accept it, or trust the file: import it as an "
        "authority in the browser's certificate settings, or into the system store "
        "(macOS: Keychain Access → System → Always Trust; Debian/Ubuntu: copy it to "
        "/usr/local/share/ca-certificates/kuaidan.crt and run update-ca-certificates). "
        f"For curl: curl --cacert {cert} {https}/healthz"
    )
    footer = Text(
        f"\nThe demo data lives in {settings.data_dir.resolve()}; running `kuaidan demo` again "
        "reuses it and starts in seconds, `kuaidan demo --reset` starts afresh (`--reset --yes` "
        "without a terminal). Ctrl-C stops.",
        style="dim",
    )
    return Panel(
        Group(lines, inbox_note(settings, https), Text(""), logins_table(), footer),
        title="快单 kuaidan · demo marketplace",
        subtitle="demo passwords are for this demo database only",
        border_style="green",
    )
