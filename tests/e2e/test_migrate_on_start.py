"""MIGRATE_ON_START: the Procfile's api line migrates before serving, unless a separate step (the Helm
chart's hook Job) has done it. Each test starts the api the way `make run` does (honcho, the Procfile)
on an empty database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from tests.support.databases import alembic_config, create_database, drop_database
from tests.support.processes import Processes, free_port


@pytest.fixture
async def empty_database(database_url: str) -> AsyncIterator[str]:
    url = await create_database(database_url, "orders_migrate")
    yield url
    await drop_database(url)


async def _alembic_version(url: str) -> str | None:
    """The revision recorded in the database; None when Alembic never ran there."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SELECT to_regclass('alembic_version')") is None:
            return None
        version: str = await connection.fetchval("SELECT version_num FROM alembic_version")
        return version
    finally:
        await connection.close()


async def _start_procfile_api(processes: Processes, database_url: str, **env: str) -> None:
    # `-e /dev/null`: a developer's .env must not decide what this test runs.
    args = ["-m", "honcho", "-e", "/dev/null", "start", "--port", str(free_port()), "api"]
    api = processes.start(
        "api", args, "Application startup complete", DATABASE_URL=database_url, **env
    )
    await processes.ready(api)


async def test_api_migrates_before_serving_by_default(
    processes: Processes, empty_database: str
) -> None:
    await _start_procfile_api(processes, empty_database)

    head = ScriptDirectory.from_config(alembic_config(empty_database)).get_current_head()
    assert await _alembic_version(empty_database) == head


async def test_api_leaves_the_schema_alone_when_migrate_on_start_is_false(
    processes: Processes, empty_database: str
) -> None:
    await _start_procfile_api(processes, empty_database, MIGRATE_ON_START="false")

    assert await _alembic_version(empty_database) is None
