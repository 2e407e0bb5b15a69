"""Migrations: every revision goes up, down and up again, and the models match the schema."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from domain.models import Base
from tests.conftest import BASE_DATABASE_URL
from tests.support.databases import alembic_config, create_database, drop_database, run_alembic


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    url = await create_database(BASE_DATABASE_URL, "orders_migrations")
    yield url
    await drop_database(url)


async def test_stairway_every_revision_upgrades_downgrades_and_upgrades_again(
    empty_database: str,
) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"

    for revision in revisions:
        await run_alembic(empty_database, "upgrade", revision.revision)
        await run_alembic(empty_database, "downgrade", str(revision.down_revision or "base"))
        await run_alembic(empty_database, "upgrade", revision.revision)


async def test_models_match_the_migrated_schema(empty_database: str) -> None:
    await run_alembic(empty_database, "upgrade", "head")
    engine = create_async_engine(empty_database)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()

    assert diff == []


def test_revisions_are_named_by_date_and_slug() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/x"))
    for revision in script.walk_revisions():
        filename = Path(revision.path).name
        assert re.fullmatch(r"\d{4}_\d{2}_\d{2}_[a-z0-9_]+\.py", filename), filename


async def test_the_status_counts_start_from_the_orders_already_there(empty_database: str) -> None:
    await run_alembic(empty_database, "upgrade", "20261206_order_status")
    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as connection:
            user_id = (
                await connection.execute(
                    text(
                        "INSERT INTO users (email, password_hash, created_at)"
                        " VALUES ('counted@example.com', 'not-a-hash', now()) RETURNING id"
                    )
                )
            ).scalar_one()
            await connection.execute(
                text(
                    "INSERT INTO orders (id, user_id, items, total_price, status, created_at,"
                    " updated_at, version) SELECT gen_random_uuid(), :user_id, '[]', 1,"
                    " (ARRAY['PENDING', 'PAID', 'PAID'])[g % 3 + 1]::order_status, now(), now(), 1"
                    " FROM generate_series(1, 30) g"
                ),
                {"user_id": user_id},
            )
        await run_alembic(empty_database, "upgrade", "head")
        async with engine.connect() as connection:
            counts = await connection.execute(
                text("SELECT status, sum(count) FROM order_status_counts GROUP BY status")
            )
            kept = {row[0]: int(row[1]) for row in counts}
    finally:
        await engine.dispose()

    assert kept == {"PENDING": 10, "PAID": 20}
