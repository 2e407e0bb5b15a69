"""The Redis client every process shares, and the breaker that keeps a sick Redis off the hot path.

Redis is an optimisation here (cache, rate limits): when it is down or slow, requests carry on without
it. So the client never retries, every call is bounded by a short timeout, and after a few failures the
breaker skips Redis entirely for a while instead of paying the timeout on every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from infra.metrics import REDIS_FAILURES
from infra.retry import Outage
from infra.settings import RedisSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


def create_redis(settings: RedisSettings, *, max_connections: int = 64) -> Redis:
    return Redis.from_url(
        settings.url,
        socket_timeout=settings.socket_timeout_seconds,
        socket_connect_timeout=settings.socket_timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        max_connections=max_connections,
    )


class RedisBreaker:
    """Closed → open after `failure_threshold` consecutive failures; after `cooldown_seconds` one
    call is let through to probe, and the first success closes it again."""

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        cooldown_seconds: float = 2.0,
    ) -> None:
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._outage = Outage(
            logger, failing="redis unavailable, skipped", recovered="redis is back"
        )
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._outage.failures >= self._threshold and time.monotonic() < self._open_until

    async def call(self, operation: Callable[[], Awaitable[T]], *, fallback: T, what: str) -> T:
        """`await operation()`, or `fallback` if Redis fails, is too slow, or the breaker is open."""
        if self.is_open:
            return fallback
        try:
            # Bounded by the client's socket timeouts (connect and each read), not by a timer of ours.
            result = await operation()
        except (RedisError, OSError, TimeoutError) as exc:
            self._record_failure(exc, what)
            return fallback
        self._outage.recovered()
        return result

    def _record_failure(self, exc: BaseException, what: str) -> None:
        REDIS_FAILURES.labels(what).inc()
        self._outage.failed(exc)
        failures = self._outage.failures
        if failures >= self._threshold:
            self._open_until = time.monotonic() + self._cooldown
            if failures == self._threshold:
                logger.warning("redis failed %d times; skipped for %.1fs", failures, self._cooldown)
