"""The demo marketplace: `seed_demo` on a fresh SQLite data dir, and `kuaidan demo --seed-only`.

The seed goes through the services, so everything is read back through the services too.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from kuaidan.accounts import service as accounts
from kuaidan.accounts.domain import Role
from kuaidan.app import create_app
from kuaidan.bootstrap import Container, build_container
from kuaidan.catalog import service as catalog
from kuaidan.catalog.domain import ProductDetail, ProductQuery
from kuaidan.cli import app
from kuaidan.config import Settings
from kuaidan.core.migrate import upgrade
from kuaidan.core.pagination import PageRequest
from kuaidan.demo.console import demo_settings, welcome_panel
from kuaidan.demo.data import DEMO_PASSWORD, MERCHANTS, USERS
from kuaidan.demo.seed import DemoSummary, seed_demo
from kuaidan.merchants import service as merchants

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


@dataclass
class Seeded:
    container: Container
    summary: DemoSummary
    products: list[ProductDetail]

    @property
    def media_dir(self) -> Path:
        return self.container.settings.data_dir / "media"


async def listed_products(container: Container) -> list[ProductDetail]:
    """Every listed product with its SKUs, found through search as a buyer would."""
    uow = container.unit_of_work()
    try:
        found, page = [], 1
        while True:
            result = await catalog.search_products(
                uow=uow, query=ProductQuery(), page=PageRequest(page, 100)
            )
            found += result.items
            if not result.has_next:
                break
            page += 1
        return [await catalog.get_product(uow=uow, product_id=item.id) for item in found]
    finally:
        await uow.close()


async def counts(container: Container) -> tuple[int, int, int]:
    uow = container.unit_of_work()
    try:
        shops = await merchants.list_merchants(uow=uow, page=PageRequest(1, 100))
        users = await accounts.list_users(uow=uow, page=PageRequest(1, 100))
        products = await catalog.search_products(
            uow=uow, query=ProductQuery(), page=PageRequest(1, 1)
        )
        return shops.total, users.total, products.total
    finally:
        await uow.close()


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    data_dir = tmp_path_factory.mktemp("demo")
    settings = Settings(data_dir=data_dir, log_level="warning")
    await upgrade(settings.effective_database_url)
    container = build_container(settings)
    try:
        summary = await seed_demo(container=container)
        yield Seeded(container, summary, await listed_products(container))
    finally:
        await container.aclose()


async def test_first_seed_creates_the_whole_marketplace(seeded: Seeded) -> None:
    summary = seeded.summary
    assert not summary.already_seeded
    assert summary.merchants == len(MERCHANTS) >= 5
    assert summary.products >= 60
    assert summary.skus >= 300
    assert summary.users == len(USERS)
    assert summary.images >= 2 * summary.products  # one per colour, two at least


async def test_buyers_find_at_least_sixty_products_with_three_hundred_skus(seeded: Seeded) -> None:
    products = seeded.products
    assert len(products) >= 60
    assert sum(len(p.skus) for p in products) >= 300
    assert {p.merchant.slug for p in products} == {m.slug for m in MERCHANTS}
    for product in products:
        assert CJK.search(product.title) and LATIN.search(product.title), product.title


async def test_stock_and_prices_include_sold_out_skus_and_strike_through_prices(
    seeded: Seeded,
) -> None:
    skus = [sku for product in seeded.products for sku in product.skus]
    assert any(sku.available == 0 for sku in skus)
    assert any(sku.available > 0 for sku in skus)
    assert any(sku.list_price_fen and sku.list_price_fen > sku.price_fen for sku in skus)
    assert any(not product.in_stock for product in seeded.products)


async def test_every_product_has_png_pictures_on_disk(seeded: Seeded) -> None:
    for product in seeded.products:
        assert len(product.images) >= 2
        colours = {sku.attributes.get("颜色 Colour") for sku in product.skus} - {None}
        assert len(product.images) >= len(colours)  # one picture per colour
        for relative in product.images:
            path = seeded.media_dir / relative
            with Image.open(path) as image:
                assert image.format == "PNG"
                assert image.size == (600, 600)
                image.verify()


async def test_every_demo_account_logs_in_with_its_role(seeded: Seeded) -> None:
    uow = seeded.container.unit_of_work()
    try:
        roles = set()
        for user in USERS:
            result = await accounts.login(uow=uow, email=user.email, password=DEMO_PASSWORD)
            assert result.user.role is user.role
            roles.add(result.user.role)
            if user.merchant_slug is not None:
                shop = await merchants.get_merchant_by_slug(uow=uow, slug=user.merchant_slug)
                assert shop is not None and result.user.merchant_id == shop.id
        assert roles == set(Role)
    finally:
        await uow.close()


async def test_the_buyer_has_an_encrypted_phone_and_a_default_address(seeded: Seeded) -> None:
    uow = seeded.container.unit_of_work()
    try:
        buyer = await accounts.get_user_by_email(uow=uow, email=USERS[0].email)
        assert buyer is not None and buyer.role is Role.BUYER
        profile = await accounts.get_profile(uow=uow, user_id=buyer.id)
        assert profile.phone == "13800138000"
        addresses = await accounts.list_addresses(uow=uow, user_id=buyer.id)
        assert [a.is_default for a in addresses] == [True]
    finally:
        await uow.close()


async def test_a_second_seed_is_a_fast_no_op(seeded: Seeded) -> None:
    before = await counts(seeded.container)
    started = time.perf_counter()
    again = await seed_demo(container=seeded.container)
    elapsed = time.perf_counter() - started
    assert again == DemoSummary(already_seeded=True, seconds=again.seconds)
    assert elapsed < 2.0
    assert await counts(seeded.container) == before


async def test_a_missing_picture_is_drawn_again(seeded: Seeded) -> None:
    picture = seeded.media_dir / seeded.products[0].images[0]
    picture.unlink()
    again = await seed_demo(container=seeded.container)
    assert again.already_seeded and again.images == 1
    assert picture.exists()


def test_cli_demo_seed_only_seeds_once_then_reuses(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"KUAIDAN_DATA_DIR": str(tmp_path), "KUAIDAN_LOG_LEVEL": "warning"}
    first = runner.invoke(app, ["demo", "--seed-only"], env=env)
    assert first.exit_code == 0, first.output
    assert "seeded 6 merchants" in first.output
    assert (tmp_path / "kuaidan.db").exists()
    second = runner.invoke(app, ["demo", "--seed-only"], env=env)
    assert second.exit_code == 0, second.output
    assert "already seeded" in second.output
    kept = runner.invoke(app, ["demo", "--seed-only", "--reset"], env=env, input="n\n")
    assert kept.exit_code != 0
    assert (tmp_path / "kuaidan.db").exists()


def test_cli_demo_refuses_a_non_sqlite_database(tmp_path: Path) -> None:
    env = {
        "KUAIDAN_DATA_DIR": str(tmp_path),
        "KUAIDAN_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    }
    result = CliRunner().invoke(app, ["demo", "--seed-only"], env=env)
    assert result.exit_code == 2
    assert "SQLite" in result.output


def test_reset_removes_the_database_and_pictures_but_keeps_secrets(tmp_path: Path) -> None:
    from kuaidan.demo.console import reset_demo

    tmp_path = tmp_path.resolve()
    settings = Settings(data_dir=tmp_path)
    kept = [tmp_path / "secrets.json", tmp_path / "tls-cert.pem"]
    gone = [tmp_path / "kuaidan.db", tmp_path / "kuaidan.db-wal"]
    picture = tmp_path / "media" / "products" / "ta01-tee" / "1.png"
    picture.parent.mkdir(parents=True)
    for path in [*kept, *gone, picture]:
        path.write_text("x")
    removed = reset_demo(settings)
    assert set(removed) == {*gone, tmp_path / "media" / "products"}
    assert all(path.exists() for path in kept)
    assert not any(path.exists() for path in [*gone, picture])


def test_cli_demo_reset_without_a_terminal_says_to_pass_yes(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"KUAIDAN_DATA_DIR": str(tmp_path), "KUAIDAN_LOG_LEVEL": "warning"}
    assert runner.invoke(app, ["demo", "--seed-only"], env=env).exit_code == 0
    refused = runner.invoke(app, ["demo", "--seed-only", "--reset"], env=env)
    assert refused.exit_code == 2, refused.output
    assert "--yes" in refused.output and "Aborted" not in refused.output
    assert (tmp_path / "kuaidan.db").exists()
    reset = runner.invoke(app, ["demo", "--seed-only", "--reset", "--yes"], env=env)
    assert reset.exit_code == 0, reset.output
    assert "removed" in reset.output and "seeded 6 merchants" in reset.output


def test_cli_demo_keeps_migration_logs_out_of_the_way(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KUAIDAN_DATA_DIR": str(tmp_path),
        "KUAIDAN_LOG_LEVEL": "info",
        "COLUMNS": "80",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kuaidan", "demo", "--seed-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "seeded 6 merchants" in done.stdout
    assert "Running upgrade" not in done.stdout + done.stderr
    assert "alembic" not in done.stdout + done.stderr


def banner_at(width: int, settings: Settings) -> list[str]:
    out = io.StringIO()
    shown = Console(file=out, width=width, color_system=None, legacy_windows=False)
    shown.print(welcome_panel(demo_settings(settings), Path("var/tls-cert.pem")))
    return out.getvalue().splitlines()


def test_the_banner_fits_80_columns_and_keeps_every_login_whole(tmp_path: Path) -> None:
    lines = banner_at(80, Settings(data_dir=tmp_path))
    assert all(len(line) <= 80 for line in lines)
    for user in USERS:
        assert any(f" {user.email} " in line for line in lines), user.email
    assert len(lines) <= 60  # a banner, not a scroll: every login on one or two lines
    text = " ".join(" ".join(line.strip("│ ").split()) for line in lines)
    assert f"password {DEMO_PASSWORD}" in text
    assert "One-time codes" in text and "localhost:8443/dev/inbox" in text


def test_the_demo_shows_one_time_codes_on_the_dev_inbox_page_unless_told_not_to(
    tmp_path: Path,
) -> None:
    assert demo_settings(Settings(data_dir=tmp_path)).dev_inbox_page is True
    told = Settings(data_dir=tmp_path, dev_inbox_page=False)
    assert demo_settings(told).dev_inbox_page is False
    lines = banner_at(100, told)
    assert not any("One-time codes" in line for line in lines)


def test_what_the_logins_table_suggests_to_try_exists(tmp_path: Path) -> None:
    def get_paths(routes: list[Any]) -> set[str]:
        found: set[str] = set()
        for route in routes:
            if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                found.add(route.path)
            inner = getattr(route, "original_router", None)  # an included router
            if inner is not None:
                found |= get_paths(inner.routes)
        return found

    paths = get_paths(create_app(Settings(data_dir=tmp_path)).routes)
    assert "/orders" in paths
    for user in USERS:
        assert "comes with" not in user.try_this, user.try_this
        for path in re.findall(r"/[a-z][a-z0-9/_-]*", user.try_this):
            assert path in paths, f"{user.email} is told to try {path}, which is not a page"
