"""Create the database named in DATABASE_URL if it does not exist yet (for the native run)."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.engine import make_url

from infra.settings import get_settings


async def main() -> None:
    url = make_url(get_settings().database.url)
    admin = url.set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
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


if __name__ == "__main__":
    asyncio.run(main())
