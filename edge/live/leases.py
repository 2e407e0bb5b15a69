"""Leases in Redis that count what an owner holds open across every API process: each user's live
subscriptions (`LIVE_MAX_SUBSCRIPTIONS_PER_USER`), each client address's WebSockets
(`LIVE_MAX_CONNECTIONS_PER_ADDRESS`). One lease per open thing; a process that dies stops renewing its
leases and they lapse within `LEASE_SECONDS`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from redis.asyncio import Redis

from infra.redis import RedisBreaker

# A lease lapses this long after its process last renewed it (renewed every third of it).
LEASE_SECONDS = 30.0
# Lease acquisitions and releases sent to Redis at once (each takes well under a millisecond).
LEASE_CALLS = 4

_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])))
return 1
"""


class Leases:
    """Each owner's leases: a sorted set of lease ids scored by expiry, at `key_prefix` + owner; an
    owner holds at most `limit` at once."""

    def __init__(self, *, redis: Redis, breaker: RedisBreaker, key_prefix: str, limit: int) -> None:
        self._redis = redis
        self._breaker = breaker
        self._prefix = key_prefix
        self._limit = limit
        self._acquire = redis.register_script(_ACQUIRE)
        # Lease calls in flight at once: a burst of subscriptions must not take every connection of
        # the pool the requests share (it does not wait, it fails, and that would trip the breaker).
        self._calls = asyncio.Semaphore(LEASE_CALLS)

    def _key(self, owner: object) -> str:
        return f"{self._prefix}{owner}"

    async def take(self, owner: object, lease: str) -> bool:
        """Take `lease` for `owner`, unless they hold `limit` already."""

        async def acquire() -> bool:
            taken = await self._acquire(
                keys=[self._key(owner)], args=[time.time(), self._limit, LEASE_SECONDS, lease]
            )
            return bool(taken)

        # Without Redis there is no count to check: the limit fails open, as rate limits do.
        async with self._calls:
            return await self._breaker.call(acquire, fallback=True, what="live lease")

    async def release(self, owner: object, lease: str) -> None:
        async with self._calls:
            await self._breaker.call(
                lambda: self._redis.zrem(self._key(owner), lease),
                fallback=0,
                what="live lease release",
            )

    async def renew(self, held: Iterable[tuple[object, str]]) -> None:
        """Push the expiry of every `(owner, lease)` held by this process `LEASE_SECONDS` ahead."""
        expiry = time.time() + LEASE_SECONDS

        async def renew() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                for owner, lease in held:
                    pipe.zadd(self._key(owner), {lease: expiry}, xx=True)
                    pipe.expire(self._key(owner), int(LEASE_SECONDS) + 1)
                await pipe.execute()

        await self._breaker.call(renew, fallback=None, what="live lease renewal")
