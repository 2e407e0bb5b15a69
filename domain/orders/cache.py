"""The order cache: Redis hashes holding exactly the JSON the API returns.

Key `{prefix}order:{id}` → hash {v: version, u: owner's user id, b: JSON body}, TTL `ORDER_CACHE_TTL_SECONDS`.
A hit costs one HMGET and no database round trip; the owner id lets the ownership check run on hits too.

Writes go through a Lua script that refuses to replace a newer version with an older one, so a slow
reader that loaded version 1 can never put it back over the version 2 a status change just stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from infra.metrics import ORDER_CACHE
from infra.ratelimit import RateLimiter, RateLimitRule, RateLimitVerdict
from infra.redis import RedisBreaker

_PUT_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'u', ARGV[2], 'b', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


@dataclass(frozen=True, slots=True)
class CachedOrder:
    user_id: int
    body: bytes

    def readable_by(self, user_id: int) -> bool:
        """Only the owner may read an order, from the cache as from the database."""
        return self.user_id == user_id


def _cached_order(values: Sequence[object] | None) -> CachedOrder | None:
    """From the hash's (u, b) fields; None when absent."""
    if values is None:
        return None
    user_id, body = values
    if not isinstance(body, bytes) or not isinstance(user_id, bytes | str | int):
        return None
    return CachedOrder(user_id=int(user_id), body=body)


class OrderCache:
    def __init__(
        self, redis: Redis, breaker: RedisBreaker, *, key_prefix: str, ttl_seconds: int
    ) -> None:
        self._redis = redis
        self._breaker = breaker
        self._prefix = f"{key_prefix}order:"
        self._ttl = ttl_seconds
        self._put_if_newer = redis.register_script(_PUT_IF_NEWER)

    def key(self, order_id: uuid.UUID) -> str:
        return f"{self._prefix}{order_id}"

    async def get(self, order_id: uuid.UUID) -> CachedOrder | None:
        """The cached order, or None on a miss or when Redis is unavailable."""

        async def read() -> CachedOrder | None:
            return _cached_order(await self._redis.hmget(self.key(order_id), ["u", "b"]))

        cached = await self._breaker.call(read, fallback=None, what="order cache read")
        ORDER_CACHE.labels("hit" if cached is not None else "miss").inc()
        return cached

    async def get_counting(
        self, order_id: uuid.UUID, *, limiter: RateLimiter, rule: RateLimitRule, identity: str
    ) -> tuple[RateLimitVerdict | None, CachedOrder | None]:
        """The caller's rate-limit verdict and the cached order, in one Redis round trip."""
        verdict, values = await limiter.hit_and_read(
            rule, identity, read=(self.key(order_id), ("u", "b"))
        )
        cached = _cached_order(values)
        ORDER_CACHE.labels("hit" if cached is not None else "miss").inc()
        return verdict, cached

    async def put(self, *, order_id: uuid.UUID, version: int, user_id: int, body: bytes) -> bool:
        """Store `body` as `version` unless a newer version is cached; True if it was stored."""

        async def write() -> bool:
            keys = [self.key(order_id)]
            stored = await self._put_if_newer(keys=keys, args=[version, user_id, body, self._ttl])
            return bool(stored)

        return await self._breaker.call(write, fallback=False, what="order cache write")
