"""Create the database named in DATABASE_URL if it does not exist yet (for the native run, and for
`make restore`)."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.engine import make_url

from infra.db import asyncpg_dsn
from infra.settings import DatabaseSettings, get_settings


async def create(database_url: str) -> None:
    url = make_url(database_url)
    # The server's own `postgres` database, on the primary (a multi-host URL keeps its host list).
    admin = DatabaseSettings(url=url.set(database="postgres").render_as_string(hide_password=False))
    connection = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", url.database
        )
        if not exists:
            # Identifiers can't be bound as parameters; quote it the way PostgreSQL does.
            quoted = '"' + str(url.database).replace('"', '""') + '"'
            await connection.execute(f"CREATE DATABASE {quoted}")
    finally:
        await connection.close()


async def main() -> None:
    await create(get_settings().database.url)


if __name__ == "__main__":
    asyncio.run(main())
