"""What the API process (REST and GraphQL alike) builds once at startup, and closes at exit.

Both interfaces read the same objects, so they share the pool, the cache, the rate-limit counters and
the verified-token cache. Nothing here connects at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.orders.permissions import CustomerStatusChanges
from domain.ratelimit.limiter import RateLimiter, RateLimitRule
from domain.uow import UnitOfWork
from domain.users.passwords import PasswordHasher
from domain.users.roles import RoleCache
from domain.users.service import LoginLimits, device_failures_rule
from domain.users.tokens import TokenService
from edge.live import LiveHub
from edge.order_cache import CountedOrderCache, OrderCache
from edge.settings import LiveSettings, OrderRulesSettings
from infra.db import create_engine, create_session_factory
from infra.live import LivePublisher
from infra.redis import RedisBreaker, create_redis
from infra.settings import Settings


@dataclass(frozen=True, slots=True)
class RateLimitRules:
    default: RateLimitRule
    auth: RateLimitRule
    login: LoginLimits

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimitRules:
        return cls(
            default=RateLimitRule.parse("default", settings.rate_limit.default),
            auth=RateLimitRule.parse("auth", settings.rate_limit.auth),
            login=LoginLimits(
                per_address=RateLimitRule.parse(
                    "login_account_ip", settings.rate_limit.login_per_account
                ),
                per_account=RateLimitRule.parse(
                    "login_account", settings.rate_limit.login_per_account_global
                ),
                device_failures=device_failures_rule(
                    max_failures=settings.auth.device_token_max_failures,
                    lifetime_days=settings.auth.device_token_expire_days,
                ),
            ),
        )


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis
    # Every request-path call to `redis` goes through it: it bounds the call and skips a sick Redis.
    redis_breaker: RedisBreaker
    tokens: TokenService
    hasher: PasswordHasher
    order_cache: OrderCache | None
    limiter: RateLimiter | None
    rate_limits: RateLimitRules
    live_publisher: LivePublisher
    # This process's live subscribers (GraphQL subscriptions, SSE); started by the API's lifespan.
    live: LiveHub
    # Users' current roles, as staff-only operations check them (at most 5 s old).
    roles: RoleCache
    # Which status moves customers may make (CUSTOMER_STATUS_CHANGES).
    customer_moves: CustomerStatusChanges

    read_session_factory: async_sessionmaker[AsyncSession]
    # `engine` in AUTOCOMMIT, for read-only units of work.
    read_engine: AsyncEngine

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """The one way to open a transaction. `read_only`: statements run in autocommit, so no
        BEGIN/COMMIT round trips; for reads only, never write through it."""
        if read_only:
            return UnitOfWork(self.read_session_factory, read_engine=self.read_engine)
        return UnitOfWork(self.session_factory, live=self.live_publisher)

    def counted_order_cache(self, identity: str) -> CountedOrderCache:
        """The order cache, read together with a unit of `identity`'s default rate limit."""
        return CountedOrderCache(
            self.order_cache, self.limiter, self.rate_limits.default, identity=identity
        )


@asynccontextmanager
async def open_resources(
    settings: Settings, *, live: LiveSettings, order_rules: OrderRulesSettings
) -> AsyncIterator[Resources]:
    engine = create_engine(settings.database)
    redis = create_redis(settings.redis)
    breaker = RedisBreaker()
    hasher = PasswordHasher(max_waiting=settings.auth.password_hashing_max_waiting)
    cache = (
        OrderCache(
            redis,
            breaker,
            key_prefix=settings.redis.key_prefix,
            ttl_seconds=settings.cache.ttl_seconds,
        )
        if settings.cache.enabled
        else None
    )
    limiter = (
        RateLimiter(redis, breaker, key_prefix=settings.redis.key_prefix)
        if settings.rate_limit.enabled
        else None
    )
    read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield Resources(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            read_session_factory=create_session_factory(read_engine),
            read_engine=read_engine,
            redis=redis,
            redis_breaker=breaker,
            tokens=TokenService.from_settings(settings.auth),
            hasher=hasher,
            order_cache=cache,
            limiter=limiter,
            rate_limits=RateLimitRules.from_settings(settings),
            live_publisher=LivePublisher(redis, breaker, key_prefix=settings.redis.key_prefix),
            live=LiveHub(
                redis=redis, breaker=breaker, redis_settings=settings.redis, settings=live
            ),
            roles=RoleCache(),
            customer_moves=order_rules.customer_status_changes,
        )
    finally:
        hasher.close()
        await redis.aclose()
        await engine.dispose()
