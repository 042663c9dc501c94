"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kuaidan.config import Settings
from kuaidan.core.db import Base
from kuaidan.core.migrate import alembic_config, current_revision, upgrade
from kuaidan.models import import_all_models
from tests.conftest import isolated_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    async with isolated_database(request.param, tmp_path_factory) as settings:
        yield settings


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(migrated: Settings) -> None:
    import_all_models()
    engine = create_async_engine(migrated.effective_database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    assert diff == [], "models and migrations disagree; write a migration"


async def test_upgrade_is_idempotent_and_reaches_head(migrated: Settings) -> None:
    url = migrated.effective_database_url
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    await upgrade(url)
    await upgrade(url)
    assert await current_revision(url) == head


def test_history_is_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
