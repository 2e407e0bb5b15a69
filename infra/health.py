"""Readiness: can this API process serve requests right now, and what is degraded?

Only PostgreSQL decides readiness: without it nothing can be served. Redis (cache, rate limits) and
RabbitMQ (the outbox relay) being down degrades the process but does not stop it: requests are served
from PostgreSQL and events wait in the outbox. An orchestrator must not pull every replica during a
Redis blip, so those are reported as "degraded" and still ready.

PostgreSQL and Redis are each checked with a short timeout, concurrently; RabbitMQ is the state of the
connection the relay already holds (a probe opening a connection per call would load the broker). The
report is reused for `CACHE_SECONDS`, so frequent probes from several sources cost one check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHECK_TIMEOUT_SECONDS = 1.0
CACHE_SECONDS = 1.0
OK = "ok"


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.checks.get("postgres") == OK

    @property
    def status(self) -> str:
        """One of ok, degraded (ready, something else down) or unavailable (not ready)."""
        if not self.ready:
            return "unavailable"
        return OK if all(result == OK for result in self.checks.values()) else "degraded"


async def _run(check: Callable[[], Awaitable[None]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception as exc:  # any failure means "not reachable", reported by name
        return f"unavailable: {type(exc).__name__}"
    return OK


class Readiness:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        redis: Redis,
        rabbitmq_connected: Callable[[], bool] | None,
    ) -> None:
        """`rabbitmq_connected` is None when this process does not use RabbitMQ (relay disabled)."""
        self._engine = engine
        self._redis = redis
        self._rabbitmq_connected = rabbitmq_connected
        self._report: ReadinessReport | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    async def report(self) -> ReadinessReport:
        async with self._lock:
            if self._report is None or time.monotonic() - self._checked_at >= CACHE_SECONDS:
                self._report = await self._check()
                self._checked_at = time.monotonic()
            return self._report

    async def _check(self) -> ReadinessReport:
        postgres, redis = await asyncio.gather(_run(self._postgres), _run(self._ping_redis))
        checks = {"postgres": postgres, "redis": redis}
        if self._rabbitmq_connected is not None:
            checks["rabbitmq"] = OK if self._rabbitmq_connected() else "unavailable: not connected"
        return ReadinessReport(checks=checks)

    async def _postgres(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _ping_redis(self) -> None:
        await self._redis.ping()
