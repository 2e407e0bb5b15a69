"""The order cache: Redis hashes holding exactly the JSON the API returns (edge/order_json.py).

Key `{prefix}order:{id}` → hash {v: version, u: owner's user id, b: JSON body}, TTL `ORDER_CACHE_TTL_SECONDS`.
A hit costs one HMGET and no database round trip; the owner id lets the ownership check run on hits too.

Writes go through a Lua script that refuses to replace a newer version with an older one, so a slow
reader that loaded version 1 can never put it back over the version 2 a status change just stored.

The cache belongs to the interfaces, which own the representation: a hit is answered with the
cached bytes as they are (`read_order`); the domain decides who may read them (`ensure_readable`)
and gives the order on a miss. A change (domain/orders/service.py) first invalidates (before its commit): the hash keeps only the new version number, without
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

from domain.orders import service
from domain.orders.records import OrderRecord
from domain.ratelimit.budget import RateLimitExceeded, spend
from domain.ratelimit.limiter import RateLimiter, RateLimitRule, RateLimitVerdict
from domain.uow import UnitOfWork
from edge.order_json import order_from_json, order_json
from infra.live import LiveMessage
from infra.metrics import ORDER_CACHE
from infra.redis import RedisBreaker
from infra.tracing import annotate

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


class OrderCacheReads(Protocol):
    """What a read needs of the cache: `OrderCache`, or `CountedOrderCache` in front of it."""

    async def get(self, order_id: uuid.UUID) -> CachedOrder | None: ...

    async def put(
        self, *, order_id: uuid.UUID, version: int, user_id: int, body: bytes
    ) -> bool: ...


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
        """The order from its hash's `FIELDS` values, read here or by `CountedOrderCache`; None
        when absent. Counted as a hit or a miss."""
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

    async def store(self, *, order: OrderRecord, then_publish: LiveMessage | None = None) -> bool:
        """`put` for a changed order (the domain's `OrderCacheWrites`): its JSON, as a read gives it."""
        return await self.put(
            order_id=order.id,
            version=order.version,
            user_id=order.user_id,
            body=order_json(order),
            then_publish=then_publish,
        )

    async def invalidate(self, *, order_id: uuid.UUID, version: int) -> bool:
        """Drop the cached body and record `version` as the newest; False if Redis can't be told."""

        async def write() -> bool:
            await self._invalidate(keys=[self.key(order_id)], args=[version, self._ttl])
            return True

        return await self._breaker.call(write, fallback=False, what="order cache invalidation")


class CountedOrderCache:
    """The cached order read that also spends the caller's rate limit, in one Redis round trip.

    The hottest request (`GET /orders/{id}/` of a cached order) needs two things from Redis: a unit
    of the caller's budget and the cached order. Asked separately they cost two round trips; the
    rate limiter's script can read one hash in the same call, so this reader asks it for the
    order's. `get` spends the unit first and raises `RateLimitExceeded` past the limit, before
    anything else is read.
    """

    def __init__(
        self,
        cache: OrderCache | None,
        limiter: RateLimiter | None,
        rule: RateLimitRule,
        *,
        identity: str,
    ) -> None:
        self._cache = cache
        self._limiter = limiter
        self._rule = rule
        self._identity = identity
        # The caller's budget after this request, once `get` ran (None: limits off or Redis silent).
        self.verdict: RateLimitVerdict | None = None

    async def get(self, order_id: uuid.UUID) -> CachedOrder | None:
        limiter, cache = self._limiter, self._cache
        if limiter is None:
            return await cache.get(order_id) if cache is not None else None
        if cache is None:
            self.verdict = await spend(limiter, self._rule, self._identity)
            return None
        verdict, values = await limiter.hit_and_read(
            self._rule, self._identity, read=(cache.key(order_id), OrderCache.FIELDS)
        )
        self.verdict = verdict
        if verdict is not None and not verdict.allowed:
            raise RateLimitExceeded(verdict)
        return cache.decode(values)

    async def put(self, *, order_id: uuid.UUID, version: int, user_id: int, body: bytes) -> bool:
        if self._cache is None:
            return False
        return await self._cache.put(order_id=order_id, version=version, user_id=user_id, body=body)


@dataclass(frozen=True, slots=True)
class OrderRead:
    """An order as read for a caller: `body` is its JSON, the cached bytes as they were on a hit;
    `version` is the order's version that body shows (REST's ETag)."""

    body: bytes
    version: int
    from_cache: bool
    # The order itself when it was read from the database (a hit has only its bytes).
    record: OrderRecord | None = None

    def order(self) -> OrderRecord:
        return self.record if self.record is not None else order_from_json(self.body, self.version)


async def read_order(
    *,
    uow: UnitOfWork,
    cache: OrderCacheReads | None,
    user_id: int,
    order_id: uuid.UUID,
    as_staff: bool = False,
) -> OrderRead:
    """The order for `user_id` (`as_staff`: any order): Redis first, answered with the cached bytes
    if the domain's rules let the caller read it; on a miss, the domain's `get_order`, then the
    cache is filled (under the order's owner, whoever read it)."""
    cached = await cache.get(order_id) if cache is not None else None
    if cached is not None:
        annotate(order_id=order_id, user_id=user_id)
        service.ensure_readable(owner_id=cached.user_id, user_id=user_id, as_staff=as_staff)
        return OrderRead(body=cached.body, version=cached.version, from_cache=True)
    order = await service.get_order(uow=uow, user_id=user_id, order_id=order_id, as_staff=as_staff)
    body = order_json(order)
    if cache is not None:
        # Versioned write: if a newer version was stored meanwhile, this older read is dropped.
        await cache.put(order_id=order.id, version=order.version, user_id=order.user_id, body=body)
    return OrderRead(body=body, version=order.version, from_cache=False, record=order)
