"""asyncpg's prepared statements work through SQLAlchemy: a repeated statement is parsed and planned
once per connection, not once per execution (each costs a round trip and the server's planning)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from domain.uow import UnitOfWork
from infra.db import create_engine, create_session_factory
from infra.settings import DatabaseSettings


async def test_a_repeated_read_is_prepared_once_per_connection(database_url: str) -> None:
    engine = create_engine(DatabaseSettings(url=database_url, pool_size=1))
    sessions = create_session_factory(engine)
    # The order read among the statements prepared on this connection under a name: with the cache
    # off (`prepared_statement_cache_size=0`) it would be an unnamed one-off, not listed.
    prepared = text(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT orders.id%'"
    )
    try:
        counts = []
        for _ in range(3):
            async with UnitOfWork(sessions) as uow:
                for _ in range(5):
                    await uow.orders.get_owned(order_id=uuid.uuid4(), user_id=1)
                counts.append((await uow.session.execute(prepared)).scalar_one())
    finally:
        await engine.dispose()

    # Fifteen reads in three units of work, one prepared statement.
    assert counts == [1, 1, 1]
