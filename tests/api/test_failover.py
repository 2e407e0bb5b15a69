"""A request that meets a PostgreSQL failover answers 503 with Retry-After (never 500) and changes
nothing; the next one, on a fresh connection, succeeds."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import ApiProcessSettings
from infra.db import asyncpg_dsn
from tests.conftest import UserFactory, order_body
from tests.support.app import running_app


async def _terminate_app_connections(settings: ApiProcessSettings) -> int:
    """What a primary going down does to every open connection: 57P01, then the socket closes."""
    connection = await asyncpg.connect(asyncpg_dsn(settings.database))
    try:
        terminated = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'orders'"
            " AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return len(terminated)


async def test_a_request_meeting_a_lost_primary_is_503_with_retry_after_then_succeeds(
    settings: ApiProcessSettings, users: UserFactory, db_engine: AsyncEngine
) -> None:
    async with running_app(settings) as (client, _):
        user = await users.create()
        warm = await client.post("/orders/", json=order_body(("5.00", 1)), headers=user.headers)
        assert warm.status_code == 201
        assert await _terminate_app_connections(settings) >= 1

        met = await client.post("/orders/", json=order_body(("5.00", 1)), headers=user.headers)
        assert met.status_code == 503, met.text
        assert met.headers["Retry-After"] == "2"

        again = await client.post("/orders/", json=order_body(("5.00", 1)), headers=user.headers)
        assert again.status_code == 201, again.text

    async with db_engine.connect() as connection:
        count = await connection.execute(
            text("SELECT count(*) FROM orders WHERE user_id = :user"), {"user": user.id}
        )
        assert count.scalar_one() == 2  # the refused request changed nothing


async def test_a_write_reaching_a_read_only_server_is_503_not_500(
    settings: ApiProcessSettings, users: UserFactory, db_engine: AsyncEngine
) -> None:
    """A connection that reached a standby, or a primary demoted under it, refuses writes (25006)."""
    user = await users.create()
    admin = await asyncpg.connect(asyncpg_dsn(settings.database))
    database = await admin.fetchval("SELECT current_database()")
    try:
        await admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        async with running_app(settings) as (client, _):
            refused = await client.post(
                "/orders/", json=order_body(("5.00", 1)), headers=user.headers
            )
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
        await admin.close()
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "2"
