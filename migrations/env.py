"""Alembic environment: runs migrations over the app's async engine, one run at a time."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from domain.models import Base
from infra.logs import configure_logging
from infra.settings import get_settings

config = context.config
if config.attributes.get("configure_logger", True):
    configure_logging(get_settings().app)

target_metadata = Base.metadata

# Held for the whole run, so replicas that start together migrate one after another.
MIGRATION_LOCK_KEY = 0x6F72646572730001


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database.url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url(), hide_parameters=True)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
