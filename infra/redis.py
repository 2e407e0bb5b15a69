"""The Redis client every process shares, and the breaker that keeps a sick Redis off the hot path.

Redis is an optimisation here (cache, rate limits): when it is down or slow, requests carry on without
it. So the client never retries, every call is bounded by a short timeout, and after a few failures the
breaker skips Redis entirely for a while instead of paying the timeout on every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from redis import Redis as SyncRedis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.sentinel import Sentinel as SyncSentinel

from infra.metrics import REDIS_FAILURES
from infra.retry import Outage
from infra.settings import RedisSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


def create_redis(settings: RedisSettings, *, max_connections: int = 64) -> Redis:
    """The request path's client: short timeouts, no retries (the breaker decides)."""
    return redis_client(
        settings,
        socket_timeout=settings.socket_timeout_seconds,
        socket_connect_timeout=settings.socket_timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        max_connections=max_connections,
    )


def redis_client(settings: RedisSettings, **options: Any) -> Redis:
    """An asyncio client of the primary: REDIS_URL's node, or the one the Sentinels name (asked again
    at each new connection, so a client follows a failover by itself). `options` are the client's."""
    if not settings.sentinels:
        return Redis.from_url(settings.url, **options)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        settings.sentinel_addresses(),
        sentinel_kwargs=_sentinel_options(settings, options),
        **_node_options(settings),
    )
    client: Redis = sentinel.master_for(settings.sentinel_master, redis_class=Redis, **options)
    return client


def sync_redis_client(settings: RedisSettings, **options: Any) -> SyncRedis:
    """`redis_client`, blocking (for code in worker threads)."""
    if not settings.sentinels:
        return SyncRedis.from_url(settings.url, **options)
    sentinel = SyncSentinel(  # type: ignore[no-untyped-call]
        settings.sentinel_addresses(),
        sentinel_kwargs=_sentinel_options(settings, options),
        **_node_options(settings),
    )
    client: SyncRedis = sentinel.master_for(  # type: ignore[no-untyped-call]
        settings.sentinel_master, redis_class=SyncRedis, **options
    )
    return client


async def accepts_anonymous_clients(settings: RedisSettings) -> bool:
    """Whether the primary (REDIS_URL's node, or the Sentinels' choice) answers a client that sends
    no username or password.

    Production checks it at startup: a password in REDIS_URL proves nothing if Redis never asks for
    one (it then accepts AUTH with any password), and an open Redis holds the rate limits, the cache
    and the task stream. Raises `RedisError` (or `OSError`) when Redis cannot be reached.
    """
    parts = urlsplit(settings.url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    anonymous_settings = settings.model_copy(
        update={"url": urlunsplit(parts._replace(netloc=netloc))}
    )
    timeout = max(settings.socket_timeout_seconds, 2.0)
    anonymous = redis_client(
        anonymous_settings,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        await anonymous.ping()
    except AuthenticationError:
        return False
    except ResponseError as exc:  # NOAUTH, from servers and proxies that answer it as an error
        if "NOAUTH" in str(exc).upper():
            return False
        raise
    finally:
        await anonymous.aclose()
    return True


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (the primary's address asked of the Sentinels) that waits for a free
    connection like the `BlockingConnectionPool` taskiq-redis builds, instead of failing."""


def blocking_pool(
    settings: RedisSettings, *, max_connections: int, **options: Any
) -> BlockingConnectionPool:
    """A waiting connection pool of the primary, for taskiq's broker (infra/taskq.py)."""
    if not settings.sentinels:
        pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
            settings.url, max_connections=max_connections, **options
        )
        return pool
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        settings.sentinel_addresses(), sentinel_kwargs=_sentinel_options(settings, options)
    )
    return BlockingSentinelConnectionPool(  # type: ignore[no-untyped-call]
        settings.sentinel_master,
        sentinel,
        max_connections=max_connections,
        **_node_options(settings),
        **options,
    )


def _node_options(settings: RedisSettings) -> dict[str, Any]:
    """What REDIS_URL says besides the address: user, password, database."""
    parsed = parse_url(settings.url)
    return {key: parsed[key] for key in ("username", "password", "db") if key in parsed}


def _sentinel_options(settings: RedisSettings, options: dict[str, Any]) -> dict[str, Any]:
    # Asking a Sentinel is bounded like a command to the primary.
    sentinel_options: dict[str, Any] = {
        key: options[key] for key in ("socket_timeout", "socket_connect_timeout") if key in options
    }
    if settings.sentinel_password.get_secret_value():
        sentinel_options["password"] = settings.sentinel_password.get_secret_value()
    return sentinel_options


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
