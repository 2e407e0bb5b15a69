"""What the API process builds once at startup and every request reads."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.infra.ratelimit import RateLimiter, RateLimitRule
from domain.infra.settings import Settings
from domain.orders.cache import OrderCache
from domain.users.passwords import PasswordHasher
from domain.users.tokens import TokenService


@dataclass(frozen=True, slots=True)
class RateLimitRules:
    default: RateLimitRule
    auth: RateLimitRule

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimitRules:
        return cls(
            default=RateLimitRule.parse("default", settings.rate_limit.default),
            auth=RateLimitRule.parse("auth", settings.rate_limit.auth),
        )


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis
    tokens: TokenService
    hasher: PasswordHasher
    order_cache: OrderCache | None
    limiter: RateLimiter | None
    rate_limits: RateLimitRules
