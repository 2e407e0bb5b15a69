"""PostgreSQL through SQLAlchemy 2 async (asyncpg): the declarative base, engine and session factory."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from domain.infra.settings import DatabaseSettings

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


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.timeout_seconds,
            "command_timeout": settings.timeout_seconds * 5,
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
