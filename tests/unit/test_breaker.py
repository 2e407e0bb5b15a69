"""The Redis breaker: skips Redis after repeated failures, probes after the cool-down, closes on success."""

from __future__ import annotations

import asyncio
import time

from redis.exceptions import ConnectionError as RedisConnectionError

from infra.redis import RedisBreaker


class FlakyRedis:
    def __init__(self) -> None:
        self.up = False
        self.calls = 0

    async def ping(self) -> str:
        self.calls += 1
        if not self.up:
            raise RedisConnectionError("down")
        return "PONG"


async def test_failures_return_the_fallback_and_open_the_breaker_after_the_threshold() -> None:
    redis, breaker = FlakyRedis(), RedisBreaker(failure_threshold=3, cooldown_seconds=60)

    results = [await breaker.call(redis.ping, fallback="fallback", what="test") for _ in range(5)]

    assert results == ["fallback"] * 5
    assert redis.calls == 3  # the last two never reached Redis
    assert breaker.is_open


async def test_after_the_cool_down_one_probe_goes_through_and_a_success_closes_it() -> None:
    redis, breaker = FlakyRedis(), RedisBreaker(failure_threshold=2, cooldown_seconds=0.05)
    for _ in range(2):
        await breaker.call(redis.ping, fallback=None, what="test")
    assert breaker.is_open
    redis.up = True

    assert await breaker.call(redis.ping, fallback=None, what="test") is None  # skipped while open
    deadline = time.monotonic() + 5
    # Waiting for the clock itself (the cool-down), so there is no event to wait on.
    while breaker.is_open and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    result = await breaker.call(redis.ping, fallback=None, what="test")

    assert result == "PONG"
    assert not breaker.is_open
    assert redis.calls == 3


async def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    redis, breaker = FlakyRedis(), RedisBreaker(failure_threshold=2, cooldown_seconds=60)

    await breaker.call(redis.ping, fallback=None, what="test")
    redis.up = True
    await breaker.call(redis.ping, fallback=None, what="test")
    redis.up = False
    await breaker.call(redis.ping, fallback=None, what="test")

    assert not breaker.is_open
