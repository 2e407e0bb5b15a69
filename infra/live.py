"""Live order events between processes: Redis pub/sub, one channel per deployment (REDIS_KEY_PREFIX).

Whoever commits an order event (an API process, the worker) publishes it here after the commit; every
API process listens and hands it to its own live subscribers (edge/live/hub.py). Pub/sub keeps nothing:
what a listener misses (Redis restarting, a publish failing) its subscribers fill in from the
history table, by sequence number, so a dropped message is a delay, never a gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from infra.redis import RedisBreaker

logger = logging.getLogger(__name__)


def _wire(change: BaseModel) -> bytes:
    return change.model_dump_json().encode()


def live_channel(key_prefix: str) -> str:
    return f"{key_prefix}live:order-events"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """A message for live subscribers, to be published after a commit: by `LivePublisher`, or by
    a Redis call that has other work to do after the same commit (the order cache's refresh)."""

    channel: str
    payload: bytes


class LivePublisher:
    def __init__(self, redis: Redis, breaker: RedisBreaker, *, key_prefix: str) -> None:
        self._redis = redis
        self._breaker = breaker
        self.channel = live_channel(key_prefix)

    def message(self, change: BaseModel) -> LiveMessage:
        """`change` (an order event, as every listener reads it) as the message to publish."""
        return LiveMessage(channel=self.channel, payload=_wire(change))

    async def publish(self, payload: bytes) -> None:
        async def send() -> None:
            await self._redis.publish(self.channel, payload)

        await self._breaker.call(send, fallback=None, what="live publish")


def publish_sync(redis: SyncRedis, *, key_prefix: str, change: BaseModel) -> None:
    """The same publish from synchronous code (the worker's task threads); a failure is logged."""
    try:
        redis.publish(live_channel(key_prefix), _wire(change))
    except (RedisError, OSError) as exc:
        logger.warning("live publish failed: %s", exc)
