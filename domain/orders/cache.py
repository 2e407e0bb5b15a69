"""The order cache: Redis hashes holding exactly the JSON the API returns.

Key `{prefix}order:{id}` → hash {v: version, u: owner's user id, b: JSON body}, TTL `ORDER_CACHE_TTL_SECONDS`.
A hit costs one HMGET and no database round trip; the owner id lets the ownership check run on hits too.

Writes go through a Lua script that refuses to replace a newer version with an older one, so a slow
reader that loaded version 1 can never put it back over the version 2 a status change just stored.

A change first invalidates (before its commit): the hash keeps only the new version number, without
a body, so every read misses until the new body is stored, and a reader that loaded the old row
cannot store it (its version is older). The change fails when that is impossible. After the commit
the new body is stored; if that write is lost, the next read that misses stores it (same version).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from redis.asyncio import Redis

from infra.live import LiveMessage
from infra.metrics import ORDER_CACHE
from infra.redis import RedisBreaker

# ARGV: version, owner, body, TTL, and optionally a live channel and message, published whether or
# not the body was stored (a write's refresh and its live event, in one round trip after its commit).
_PUT_IF_NEWER = """
local stored = 0
local current = redis.call('HGET', KEYS[1], 'v')
if not current or tonumber(current) <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'u', ARGV[2], 'b', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  stored = 1
end
if ARGV[5] then
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return stored
"""


_INVALIDATE = """
local current = redis.call('HGET', KEYS[1], 'v')
if not current or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'v', ARGV[1])
end
redis.call('HDEL', KEYS[1], 'b')
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class CachedOrder:
    user_id: int
    body: bytes
    version: int

    def readable_by(self, user_id: int) -> bool:
        """Only the owner may read an order, from the cache as from the database."""
        return self.user_id == user_id


class OrderCacheSource(Protocol):
    """What the order service needs of a cache: `OrderCache`, or an adapter in front of it."""

    async def get(self, order_id: uuid.UUID) -> CachedOrder | None: ...

    async def put(
        self,
        *,
        order_id: uuid.UUID,
        version: int,
        user_id: int,
        body: bytes,
        then_publish: LiveMessage | None = None,
    ) -> bool: ...

    async def invalidate(self, *, order_id: uuid.UUID, version: int) -> bool: ...


class OrderCache:
    # The hash fields a read needs, in the order `decode` takes them: owner, body, version.
    FIELDS: ClassVar[tuple[str, str, str]] = ("u", "b", "v")

    def __init__(
        self, redis: Redis, breaker: RedisBreaker, *, key_prefix: str, ttl_seconds: int
    ) -> None:
        self._redis = redis
        self._breaker = breaker
        self._prefix = f"{key_prefix}order:"
        self._ttl = ttl_seconds
        self._put_if_newer = redis.register_script(_PUT_IF_NEWER)
        self._invalidate = redis.register_script(_INVALIDATE)

    def key(self, order_id: uuid.UUID) -> str:
        return f"{self._prefix}{order_id}"

    async def get(self, order_id: uuid.UUID) -> CachedOrder | None:
        """The cached order, or None on a miss or when Redis is unavailable."""

        async def read() -> list[bytes | str | None]:
            values: list[bytes | str | None] = await self._redis.hmget(
                self.key(order_id), self.FIELDS
            )
            return values

        return self.decode(await self._breaker.call(read, fallback=None, what="order cache read"))

    @staticmethod
    def decode(values: Sequence[object] | None) -> CachedOrder | None:
        """The order from its hash's `FIELDS` values, read here or elsewhere (edge/order_reads.py);
        None when absent. Counted as a hit or a miss."""
        cached = None
        if values is not None:
            user_id, body, version = values
            if (
                isinstance(body, bytes)
                and isinstance(user_id, bytes | str | int)
                and isinstance(version, bytes | str | int)
            ):
                cached = CachedOrder(user_id=int(user_id), body=body, version=int(version))
        ORDER_CACHE.labels("hit" if cached is not None else "miss").inc()
        return cached

    async def put(
        self,
        *,
        order_id: uuid.UUID,
        version: int,
        user_id: int,
        body: bytes,
        then_publish: LiveMessage | None = None,
    ) -> bool:
        """Store `body` as `version` unless a newer version is cached; True if it was stored.

        `then_publish`: a live message published in the same call, stored or not (a write after its
        commit has both to do; one round trip instead of two)."""

        async def write() -> bool:
            keys = [self.key(order_id)]
            args: list[str | int | bytes] = [version, user_id, body, self._ttl]
            if then_publish is not None:
                args += [then_publish.channel, then_publish.payload]
            stored = await self._put_if_newer(keys=keys, args=args)
            return bool(stored)

        return await self._breaker.call(write, fallback=False, what="order cache write")

    async def invalidate(self, *, order_id: uuid.UUID, version: int) -> bool:
        """Drop the cached body and record `version` as the newest; False if Redis can't be told."""

        async def write() -> bool:
            await self._invalidate(keys=[self.key(order_id)], args=[version, self._ttl])
            return True

        return await self._breaker.call(write, fallback=False, what="order cache invalidation")
