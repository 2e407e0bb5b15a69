"""PostgreSQL through SQLAlchemy 2 async (asyncpg): the declarative base, engine and session factory."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import orjson
import sqlalchemy
import sqlalchemy.ext.asyncio
from sqlalchemy import Engine, Executable, MetaData, Result
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from infra.settings import DatabaseSettings

# Constraint names come from this convention, so migrations name them the same way on every machine.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


# The engine factories are looked up on their modules at each call, not imported by name: tracing's
# SQLAlchemy instrumentation (infra/tracing.py) wraps them there, and so sees every engine made after it.


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    return sqlalchemy.ext.asyncio.create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.timeout_seconds,
        # No ping per checkout (a round trip on every request): after a PostgreSQL restart the first
        # statement on a stale connection fails (503), which invalidates the whole pool at once.
        pool_pre_ping=False,
        pool_recycle=1800,
        # SQL parameters (emails, password hashes, order contents) never reach logs or error messages.
        hide_parameters=True,
        # JSONB (order items, event payloads) through orjson: several times faster than json's.
        json_deserializer=orjson.loads,
        json_serializer=_json_text,
        connect_args={
            "timeout": settings.timeout_seconds,
            "command_timeout": settings.timeout_seconds,
            # Server-side: no query and no idle transaction may hold a connection forever.
            "server_settings": {
                "idle_in_transaction_session_timeout": "60000",
                "application_name": "orders",
            },
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers shape their answer from objects after the commit.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class Statements(Protocol):
    """What runs a repository's Core statements: an `AsyncSession` (a unit of work's transaction),
    or `AutocommitReads`."""

    async def execute(self, statement: Executable, params: Mapping[str, Any], /) -> Result[Any]: ...


class AutocommitReads:
    """Core statements in autocommit on one pooled connection, checked out at the first statement
    and returned by `close`. For reads: an ORM session's transaction bookkeeping (begin, commit,
    close) cost more CPU than the statement a read runs. `engine` must be in AUTOCOMMIT."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def execute(self, statement: Executable, params: Mapping[str, Any], /) -> Result[Any]:
        if self._connection is None:
            self._connection = await self._engine.connect()
        return await self._connection.execute(statement, params)

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


def create_sync_engine(settings: DatabaseSettings, *, pool_size: int) -> Engine:
    """A blocking engine (psycopg) on the same database, for code that runs in worker threads."""
    url = make_url(settings.url).set(drivername="postgresql+psycopg")
    return sqlalchemy.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=settings.timeout_seconds * 5,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={
            "connect_timeout": max(1, round(settings.timeout_seconds)),
            "application_name": "orders-worker",
            "options": "-c idle_in_transaction_session_timeout=60000",
        },
    )


def create_sync_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def asyncpg_dsn(settings: DatabaseSettings) -> str:
    """The plain libpq-style DSN asyncpg (and libpq: psql, pg_dump) takes: the SQLAlchemy URL without
    its driver suffix. A multi-host URL (`?host=a:5432&host=b:5432`, SQLAlchemy's spelling) becomes
    `a:5432,b:5432` in the address (libpq's and asyncpg's spelling; asyncpg reads only the last of
    several `host` parameters); `target_session_attrs` and every other parameter stay."""
    url = make_url(settings.url).set(drivername="postgresql")
    hosts = url.query.get("host")
    if not isinstance(hosts, tuple):
        return url.render_as_string(hide_password=False)
    user = quote(url.username or "", safe="")
    if url.password is not None:
        user += ":" + quote(str(url.password), safe="")
    query = urlencode([(key, value) for key, value in _query_items(url.query) if key != "host"])
    return (
        f"postgresql://{user}{'@' if user else ''}{','.join(hosts)}/{quote(url.database or '')}"
        + (f"?{query}" if query else "")
    )


def _query_items(query: Mapping[str, str | tuple[str, ...]]) -> list[tuple[str, str]]:
    return [
        (key, item)
        for key, value in query.items()
        for item in (value if isinstance(value, tuple) else (value,))
    ]
