"""The cached order read that also spends the caller's rate limit, in one Redis round trip.

The hottest request (`GET /orders/{id}/` of a cached order) needs two things from Redis: a unit of
the caller's budget and the cached order. Asked separately they cost two round trips; the rate
limiter's script can read one hash in the same call, so this adapter asks it for the order's. To the
domain it is just an order cache (`OrderCacheSource`): `get` spends the unit first and raises
`RateLimitExceeded` past the limit, before anything else is read.
"""

from __future__ import annotations

import uuid

from domain.errors import RateLimitExceeded
from domain.limits import spend
from domain.orders.cache import CachedOrder, OrderCache
from edge.resources import Resources
from infra.live import LiveMessage
from infra.ratelimit import RateLimitVerdict


class CountedOrderCache:
    def __init__(self, resources: Resources, *, identity: str) -> None:
        self._resources = resources
        self._identity = identity
        # The caller's budget after this request, once `get` ran (None: limits off or Redis silent).
        self.verdict: RateLimitVerdict | None = None

    async def get(self, order_id: uuid.UUID) -> CachedOrder | None:
        limiter, cache = self._resources.limiter, self._resources.order_cache
        rule = self._resources.rate_limits.default
        if limiter is None:
            return await cache.get(order_id) if cache is not None else None
        if cache is None:
            self.verdict = await spend(limiter, rule, self._identity)
            return None
        verdict, values = await limiter.hit_and_read(
            rule, self._identity, read=(cache.key(order_id), OrderCache.FIELDS)
        )
        self.verdict = verdict
        if verdict is not None and not verdict.allowed:
            raise RateLimitExceeded(verdict)
        return cache.decode(values)

    async def put(
        self,
        *,
        order_id: uuid.UUID,
        version: int,
        user_id: int,
        body: bytes,
        then_publish: LiveMessage | None = None,
    ) -> bool:
        cache = self._resources.order_cache
        if cache is None:
            if then_publish is not None:
                await self._resources.live_publisher.publish(then_publish.payload)
            return False
        return await cache.put(
            order_id=order_id,
            version=version,
            user_id=user_id,
            body=body,
            then_publish=then_publish,
        )

    async def invalidate(self, *, order_id: uuid.UUID, version: int) -> bool:
        cache = self._resources.order_cache
        return cache is None or await cache.invalidate(order_id=order_id, version=version)
