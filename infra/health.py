"""Readiness: can this process reach PostgreSQL, Redis and RabbitMQ right now?

Each check has a short timeout and they run concurrently, so a probe answers within about a second
even when a dependency hangs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aio_pika
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHECK_TIMEOUT_SECONDS = 1.0


async def _postgres(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _redis(redis: Redis) -> None:
    await redis.ping()


async def _rabbitmq(url: str) -> None:
    connection = await aio_pika.connect(url, timeout=CHECK_TIMEOUT_SECONDS)
    await connection.close()


async def _run(check: Callable[[], Awaitable[None]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception as exc:  # any failure means "not reachable", reported by name
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def check_dependencies(
    *, engine: AsyncEngine, redis: Redis, rabbitmq_url: str
) -> dict[str, str]:
    """{"postgres": "ok" | "unavailable: …", "redis": …, "rabbitmq": …}"""
    names = ("postgres", "redis", "rabbitmq")
    results = await asyncio.gather(
        _run(lambda: _postgres(engine)),
        _run(lambda: _redis(redis)),
        _run(lambda: _rabbitmq(rabbitmq_url)),
    )
    return dict(zip(names, results, strict=True))
